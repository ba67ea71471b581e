#include "lambent/cli/faults.hpp"

#include "lambent/common/codec.hpp"

#include <fmt/format.h>


namespace lambent::cli {

using json = nlohmann::json;

namespace {

constexpr std::string_view faults_path = "/_lambent/faults";

}  // namespace

result<http_request> fault_set_request(const fault_options& o) {
    json body = json::object();
    const auto eq = o.spec.find('=');
    const std::string kind = o.spec.substr(0, eq);
    if (kind != "throttle" && kind != "timeout" && kind != "oom" && kind != "init-error" && kind != "latency") {
        return make_error(errc::validation,
                          fmt::format("unknown fault '{}': use throttle, timeout, oom, init-error or latency=MS", o.spec));
    }
    body["Fault"] = kind;
    if (kind == "latency") {
        const std::string ms = eq == std::string::npos ? "" : o.spec.substr(eq + 1);
        long long value = -1;
        try {
            std::size_t used = 0;
            value = std::stoll(ms, &used);
            if (used != ms.size()) value = -1;
        } catch (const std::exception&) {
            value = -1;
        }
        if (value < 0) return make_error(errc::validation, "latency needs milliseconds: latency=MS, e.g. latency=250");
        body["LatencyMs"] = value;
    } else if (eq != std::string::npos) {
        return make_error(errc::validation, fmt::format("fault '{}' takes no value", kind));
    }
    if (o.rate) {
        if (!(*o.rate >= 0.0 && *o.rate <= 1.0)) return make_error(errc::validation, "--rate must be from 0 to 1");
        body["Rate"] = *o.rate;
    }
    if (o.count) {
        if (*o.count < 1) return make_error(errc::validation, "--count must be at least 1");
        body["Count"] = *o.count;
    }
    if (o.qualifier) body["Qualifier"] = *o.qualifier;
    if (o.seed) body["Seed"] = *o.seed;
    http_request r{"PUT", fmt::format("{}/{}", faults_path, codec::percent_encode(o.function)), {}, body.dump()};
    r.headers.emplace_back("Content-Type", "application/json");
    return r;
}

http_request fault_clear_request(const fault_options& o) {
    std::string target(faults_path);
    if (!o.function.empty()) target += "/" + codec::percent_encode(o.function);
    if (o.qualifier) target += "?Qualifier=" + codec::percent_encode(*o.qualifier);
    return {"DELETE", target, {}, {}};
}

http_request fault_list_request() { return {"GET", std::string(faults_path), {}, {}}; }

std::string format_fault_list(const json& body) {
    const auto faults = body.value("Faults", json::array());
    if (!faults.is_array() || faults.empty()) return "no faults\n";
    std::string out = fmt::format("{:<32} {:<12} {:<14} {:>6} {:>6} {:>8}\n", "FUNCTION", "QUALIFIER", "FAULT", "RATE",
                                  "COUNT", "INJECTED");
    for (const auto& f : faults) {
        std::string kind = f.value("Fault", "");
        if (kind == "latency") kind += fmt::format("={}", f.value("LatencyMs", 0LL));
        out += fmt::format("{:<32} {:<12} {:<14} {:>6} {:>6} {:>8}\n", f.value("FunctionName", ""),
                           f.value("Qualifier", "*"), kind, fmt::format("{:g}", f.value("Rate", 1.0)),
                           f.contains("Count") ? std::to_string(f.value("Count", 0LL)) : "-", f.value("Injected", 0LL));
    }
    return out;
}

}  // namespace lambent::cli
