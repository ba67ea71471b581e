#pragma once
/// The one mapping from an errc to HTTP status, `x-amzn-ErrorType` and the JSON body (§3.1).

#include "lambent/common/error.hpp"
#include "lambent/http/server.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace lambent::api {

/// The AWS error type name sent in `x-amzn-ErrorType`.
std::string_view error_type(errc code);
http::bhttp::status error_status(errc code);

/// A complete restJson1 error response with `x-amzn-RequestId`.
http::response error_response(const error& e, const std::string& request_id);

/// A JSON success response with `x-amzn-RequestId` (bytes that are not UTF-8 are replaced, not fatal).
http::response json_response(http::bhttp::status s, const nlohmann::json& body, const std::string& request_id);

/// A bodiless response (204, 202) with `x-amzn-RequestId`.
http::response empty_response(http::bhttp::status s, const std::string& request_id);

}  // namespace lambent::api
