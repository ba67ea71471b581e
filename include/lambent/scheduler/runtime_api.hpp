#pragma once
/// The request-parsing side of the per-worker Runtime API (2018-06-01): which route a request takes and
/// the bodies built from what a runtime sends. Pure functions, shared by the scheduler and tests/fuzz.

#include <ostream>  // boost/beast/http/verb.hpp streams a verb without including it

#include <boost/beast/http/verb.hpp>

#include <string>
#include <string_view>

namespace lambent::scheduler {

enum class runtime_op { next, response, error, init_error, not_found };

struct runtime_route {
    runtime_op op = runtime_op::not_found;
    std::string request_id;  // for response and error: the id the runtime names (not yet checked)
};

/// Routes `GET …/invocation/next`, `POST …/invocation/{id}/response|error` and `POST …/init/error`; any other
/// method, path or a malformed percent escape is not_found.
runtime_route route_runtime_request(boost::beast::http::verb method, std::string_view target);

/// `{"errorType":…,"errorMessage":…}`. Both come from the runtime (headers may hold any bytes): text that
/// is not UTF-8 is replaced, never an exception.
std::string function_error_body(std::string_view type, std::string_view message);

/// The error type named by `Lambda-Runtime-Function-Error-Type`, `Runtime.Unknown` when absent.
std::string runtime_error_type(std::string_view header);

/// `Lambda-Runtime-Function-Response-Mode` values this Runtime API accepts (absent, or `streaming`).
bool valid_response_mode(std::string_view header);

}  // namespace lambent::scheduler
