// Fuzz target: the parsing side of the per-worker Runtime API — request routing (method + target, request
// ids), the error type and response mode headers a runtime sends, and the error bodies built from them.
//
// Input: `<method byte><target>\n<Lambda-Runtime-Function-Error-Type>\n<Lambda-Runtime-Function-Response-Mode>`.

#include "lambent/scheduler/runtime_api.hpp"

#include <cstdint>
#include <string_view>

namespace sch = lambent::scheduler;
namespace bhttp = boost::beast::http;

namespace {
std::string_view next_line(std::string_view& rest) {
    const auto nl = rest.find('\n');
    const auto line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    return line;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    static constexpr bhttp::verb methods[] = {bhttp::verb::get, bhttp::verb::post, bhttp::verb::put, bhttp::verb::delete_};
    const auto method = methods[data[0] % 4];
    std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    const auto target = next_line(rest);
    const auto error_type = next_line(rest);
    const auto mode = next_line(rest);

    const auto route = sch::route_runtime_request(method, target);
    const bool names_id = route.op == sch::runtime_op::response || route.op == sch::runtime_op::error;
    if (!names_id && !route.request_id.empty()) __builtin_trap();
    const auto type = sch::runtime_error_type(error_type);
    if (type.empty()) __builtin_trap();
    (void)sch::function_error_body(type, route.request_id);
    (void)sch::valid_response_mode(mode);
    return 0;
}
