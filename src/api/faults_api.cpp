// The fault-injection admin API (docs/faults.md), under /_lambent/faults: a path AWS never uses, so it
// cannot collide with a Lambda operation.
//
//   GET    /_lambent/faults                        → 200 {"Faults": [fault…]}
//   PUT    /_lambent/faults/{FunctionName}         body {"Fault", "LatencyMs"?, "Rate"?, "Count"?, "Qualifier"?, "Seed"?}
//                                                  → 200 fault
//   DELETE /_lambent/faults/{FunctionName}[?Qualifier=Q] → 204
//   DELETE /_lambent/faults                        → 204 (every fault)

#include "lambent/api/errors.hpp"
#include "lambent/api/lambda_api.hpp"
#include "lambent/scheduler/scheduler.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cmath>

namespace lambent::api {

using nlohmann::json;
using status = http::bhttp::status;
namespace bhttp = http::bhttp;

namespace {

json fault_wire(const scheduler::fault& f) {
    json j{{"FunctionName", f.function}, {"Fault", scheduler::to_string(f.kind)}, {"Rate", f.rate},
           {"Injected", f.injected}};
    if (!f.qualifier.empty()) j["Qualifier"] = f.qualifier;
    if (f.kind == scheduler::fault_kind::latency) j["LatencyMs"] = f.latency.count();
    if (f.remaining) j["Count"] = *f.remaining;
    if (f.seed) j["Seed"] = *f.seed;
    return j;
}

result<scheduler::fault> decode_fault(const std::string& function, const std::string& body) {
    auto invalid = [](std::string message) { return make_error(errc::invalid_parameter_value, std::move(message)); };
    const auto j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        return make_error(errc::invalid_request_content, "Could not parse request body into json.");
    }
    scheduler::fault f;
    f.function = function;
    const auto kind = j.find("Fault");
    if (kind == j.end() || !kind->is_string()) {
        return invalid("Fault is required: throttle, timeout, oom, init-error or latency.");
    }
    const auto parsed = scheduler::parse_fault_kind(kind->get<std::string>());
    if (!parsed) {
        return invalid(fmt::format("Unknown Fault '{}': use throttle, timeout, oom, init-error or latency.",
                                   kind->get<std::string>()));
    }
    f.kind = *parsed;
    if (const auto ms = j.find("LatencyMs"); ms != j.end()) {
        if (!ms->is_number_integer() || ms->get<std::int64_t>() < 0 || ms->get<std::int64_t>() > 900000) {
            return invalid("LatencyMs must be an integer from 0 to 900000.");
        }
        f.latency = std::chrono::milliseconds(ms->get<std::int64_t>());
    }
    if (f.kind == scheduler::fault_kind::latency && j.find("LatencyMs") == j.end()) {
        return invalid("LatencyMs is required for a latency fault.");
    }
    if (const auto rate = j.find("Rate"); rate != j.end()) {
        if (!rate->is_number() || !std::isfinite(rate->get<double>()) || rate->get<double>() < 0.0 ||
            rate->get<double>() > 1.0) {
            return invalid("Rate must be a number from 0 to 1.");
        }
        f.rate = rate->get<double>();
    }
    if (const auto count = j.find("Count"); count != j.end()) {
        if (!count->is_number_integer() || count->get<std::int64_t>() < 1) {
            return invalid("Count must be an integer of at least 1.");
        }
        f.remaining = count->get<std::int64_t>();
    }
    if (const auto q = j.find("Qualifier"); q != j.end()) {
        if (!q->is_string() || q->get<std::string>().empty() || q->get<std::string>().size() > 128) {
            return invalid("Qualifier must be a version or alias name.");
        }
        f.qualifier = q->get<std::string>();
    }
    if (const auto seed = j.find("Seed"); seed != j.end()) {
        if (!seed->is_number_unsigned()) return invalid("Seed must be a non-negative integer.");
        f.seed = seed->get<std::uint64_t>();
    }
    return f;
}

}  // namespace

http::response lambda_api::faults_operation(const call& c) {
    const auto& s = c.seg();
    const auto m = c.req.method();
    auto& faults = scheduler_.faults();
    if (s.size() == 2) {
        if (m == bhttp::verb::get) {
            json list = json::array();
            for (const auto& f : faults.list()) list.push_back(fault_wire(f));
            return json_response(status::ok, json{{"Faults", std::move(list)}}, c.request_id);
        }
        if (m == bhttp::verb::delete_) {
            const auto n = faults.clear("", std::nullopt);
            spdlog::info("faults cleared count={}", n);
            return empty_response(status::no_content, c.request_id);
        }
    } else if (s.size() == 3) {
        const std::string& function = s[2];
        if (m == bhttp::verb::put || m == bhttp::verb::post) {
            auto f = decode_fault(function, c.req.body());
            if (!f) return error_response(f.error(), c.request_id);
            auto wire = fault_wire(*f);
            spdlog::info("fault set function={} qualifier={} fault={} rate={} count={}", f->function, f->qualifier,
                         scheduler::to_string(f->kind), f->rate, f->remaining.value_or(0));
            faults.set(std::move(*f));
            return json_response(status::ok, wire, c.request_id);
        }
        if (m == bhttp::verb::delete_) {
            const auto n = faults.clear(function, c.target.param("Qualifier"));
            spdlog::info("faults cleared function={} count={}", function, n);
            return empty_response(status::no_content, c.request_id);
        }
    } else {
        return error_response(make_error(errc::unknown_operation, "No Lambda operation matches this path."),
                              c.request_id);
    }
    return error_response(make_error(errc::method_not_allowed, "The method is not allowed on /_lambent/faults."),
                          c.request_id);
}

}  // namespace lambent::api
