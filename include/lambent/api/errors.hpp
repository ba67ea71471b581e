#pragma once
/// The one mapping from an errc to HTTP status, `x-amzn-ErrorType` and the JSON body (§3.1).

#include "lambent/common/error.hpp"
#include "lambent/http/server.hpp"

#include <string>

namespace lambent::api {

/// The AWS error type name sent in `x-amzn-ErrorType`.
std::string_view error_type(errc code);
http::bhttp::status error_status(errc code);

/// A complete restJson1 error response with `x-amzn-RequestId`.
http::response error_response(const error& e, const std::string& request_id);

}  // namespace lambent::api
