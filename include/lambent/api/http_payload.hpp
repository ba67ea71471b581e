#pragma once
/// HTTP requests as Lambda events and Lambda results as HTTP responses, by API Gateway's rules:
/// payload format 2.0 (Function URLs, HTTP APIs) and 1.0 (REST APIs). Contract §8.2, §8.3.

#include "lambent/http/server.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>

namespace lambent::api {

/// Who is asking and through what: the requestContext fields that differ between front ends.
struct http_event_context {
    std::string request_id;
    std::string api_id;                 // also the domain prefix
    std::string account_id = "anonymous";
    std::string route_key = "$default";  // 2.0: "GET /items/{id}"; 1.0: unused
    std::string stage = "$default";
    std::string resource;               // 1.0: the route's path template, e.g. /items/{id}
    std::optional<nlohmann::json> path_parameters;  // HTTP APIs and REST APIs (absent for Function URLs)
};

/// The payload format 2.0 event for `req` (raw_path: the path the function sees).
nlohmann::json payload_v2_event(const http::request& req, const http::target& target, const std::string& raw_path,
                                const http_event_context& ctx);
/// The HTTP response for a function's (successful) result in payload format 2.0.
http::response payload_v2_response(const std::string& result, const std::string& request_id);

/// The payload format 1.0 (REST API proxy) event.
nlohmann::json payload_v1_event(const http::request& req, const http::target& target, const std::string& path,
                                const http_event_context& ctx);
/// The HTTP response for a function's result in payload format 1.0 (502 when it is not a response object).
http::response payload_v1_response(const std::string& result, const std::string& request_id);

/// Whether a body with this content type is passed as text (else base64).
bool textual_content_type(std::string_view content_type);

}  // namespace lambent::api
