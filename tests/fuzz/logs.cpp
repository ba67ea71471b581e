// Fuzz target: the CloudWatch Logs API subset — the filter-pattern parser and matcher, and every operation's
// request decoding (logs_api::handle) against a small real log directory (one function, two streams).
//
// Input: `<operation>\n<JSON body>`; the operation is the suffix of X-Amz-Target (GetLogEvents, …). The
// whole input is also parsed as a filter pattern.

#include "lambent/logs/log_stream.hpp"
#include "lambent/logs/logs_api.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace fs = std::filesystem;
namespace logs = lambent::logs;

namespace {

const logs::logs_api& api() {
    static const std::unique_ptr<logs::logs_api> instance = [] {
        std::string tmpl = (fs::temp_directory_path() / "lambent-fuzz-logs-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
        static const fs::path dir(tmpl);
        std::atexit([] { std::error_code ec; fs::remove_all(dir, ec); });
        const std::int64_t t0 = 1733300000000;  // fixed epoch ms: inputs are reproducible
        {
            logs::log_stream a(dir, "fn", "2024/12/04/[$LATEST]00112233445566778899aabbccddeeff");
            a.write("START RequestId: 1 Version: $LATEST", t0);
            a.write("hello world ERROR something", t0 + 1);
            a.write("END RequestId: 1", t0 + 2);
            a.flush();
            logs::log_stream b(dir, "fn", "2024/12/04/[1]ffeeddccbbaa99887766554433221100");
            b.write("INFO second stream", t0 + 5);
            b.write("\"quoted\" - ? text", t0 + 6);
            b.flush();
        }
        logs::logs_options o;
        o.logs_dir = dir;
        return std::make_unique<logs::logs_api>(o);
    }();
    return *instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (auto p = logs::filter_pattern::parse(text)) {
        (void)p->matches(text);
        (void)p->matches("hello world ERROR something");
    }
    const auto nl = text.find('\n');
    const auto operation = text.substr(0, nl);
    const auto body = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    const auto reply = api().handle(operation, body);
    if (reply.status == 200 && !reply.error_type.empty()) __builtin_trap();
    if (reply.status != 200 && reply.error_type.empty()) __builtin_trap();
    // Every reply is JSON.
    if (nlohmann::json::parse(reply.body, nullptr, false).is_discarded()) __builtin_trap();
    return 0;
}
