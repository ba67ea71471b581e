#include "lambent/scheduler/runtime_api.hpp"

#include "lambent/http/server.hpp"

#include <nlohmann/json.hpp>

namespace lambent::scheduler {

runtime_route route_runtime_request(boost::beast::http::verb method, std::string_view target) {
    using boost::beast::http::verb;
    const auto t = http::parse_target(target);
    const auto& s = t.segments;
    runtime_route r;
    if (!t.valid || s.size() < 3 || s[0] != "2018-06-01" || s[1] != "runtime") return r;
    if (s.size() == 4 && s[2] == "invocation" && s[3] == "next" && method == verb::get) {
        r.op = runtime_op::next;
    } else if (s.size() == 5 && s[2] == "invocation" && method == verb::post && (s[4] == "response" || s[4] == "error")) {
        r.op = s[4] == "error" ? runtime_op::error : runtime_op::response;
        r.request_id = s[3];
    } else if (s.size() == 4 && s[2] == "init" && s[3] == "error" && method == verb::post) {
        r.op = runtime_op::init_error;
    }
    return r;
}

std::string function_error_body(std::string_view type, std::string_view message) {
    return nlohmann::json{{"errorType", type}, {"errorMessage", message}}.dump(
        -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string runtime_error_type(std::string_view header) {
    return header.empty() ? std::string("Runtime.Unknown") : std::string(header);
}

bool valid_response_mode(std::string_view header) { return header.empty() || header == "streaming"; }

}  // namespace lambent::scheduler
