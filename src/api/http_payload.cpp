// API Gateway's event formats and response mapping, shared by Function URLs (src/api/function_urls.cpp) and
// the routes of SAM templates (src/sam/api_gateway.cpp).

#include "lambent/api/http_payload.hpp"

#include "lambent/common/codec.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace lambent::api {

using nlohmann::json;
using status = http::bhttp::status;
namespace bhttp = http::bhttp;

namespace {

std::string lower(std::string_view v) {
    std::string out(v);
    for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return out;
}

std::string raw_query_of(const http::request& req) {
    const std::string target_text(req.target());
    const auto qpos = target_text.find('?');
    return qpos == std::string::npos ? "" : target_text.substr(qpos + 1);
}

std::string request_time(codec::sys_ms now) {
    return fmt::format("{:%d/%b/%Y:%H:%M:%S} +0000", fmt::gmtime(std::chrono::system_clock::to_time_t(now)));
}

/// The body as the event carries it: text as is, anything else base64 (with the flag).
void put_body(json& event, const http::request& req, const std::string& content_type, bool null_when_empty) {
    if (req.body().empty()) {
        if (null_when_empty) event["body"] = nullptr;
        event["isBase64Encoded"] = false;
        return;
    }
    const bool text = textual_content_type(content_type);
    event["body"] = text ? req.body() : codec::base64_encode(req.body());
    event["isBase64Encoded"] = !text;
}

/// A result's `headers` object onto the response (non-string values as JSON); true when it set Content-Type.
bool set_headers(http::response& out, const json& result) {
    bool has_type = false;
    if (auto h = result.find("headers"); h != result.end() && h->is_object()) {
        for (const auto& [k, val] : h->items()) {
            out.set(k, val.is_string() ? val.get<std::string>() : val.dump());
            if (lower(k) == "content-type") has_type = true;
        }
    }
    return has_type;
}

}  // namespace

bool textual_content_type(std::string_view content_type) {
    return content_type.empty() || content_type.starts_with("text/") || content_type.find("json") != std::string_view::npos ||
           content_type.find("xml") != std::string_view::npos ||
           content_type.find("x-www-form-urlencoded") != std::string_view::npos ||
           content_type.find("javascript") != std::string_view::npos;
}

json payload_v2_event(const http::request& req, const http::target& target, const std::string& raw_path,
                      const http_event_context& ctx) {
    json headers = json::object();
    json cookies = json::array();
    for (const auto& field : req) {
        const std::string name = lower(field.name_string());
        const std::string value(field.value());
        if (name == "cookie") {
            std::size_t start = 0;
            while (start < value.size()) {
                auto end = value.find(';', start);
                std::string cookie = value.substr(start, end == std::string::npos ? std::string::npos : end - start);
                while (!cookie.empty() && cookie.front() == ' ') cookie.erase(0, 1);
                if (!cookie.empty()) cookies.push_back(cookie);
                if (end == std::string::npos) break;
                start = end + 1;
            }
            continue;
        }
        headers[name] = headers.contains(name) ? headers[name].get<std::string>() + "," + value : value;
    }
    json query = json::object();
    for (const auto& [k, val] : target.query) {
        query[k] = query.contains(k) ? query[k].get<std::string>() + "," + val : val;
    }
    const auto now = codec::now_ms();
    const std::string host = headers.value("host", "localhost");
    json event{{"version", "2.0"},
               {"routeKey", ctx.route_key},
               {"rawPath", raw_path},
               {"rawQueryString", raw_query_of(req)},
               {"headers", headers},
               {"requestContext",
                {{"accountId", ctx.account_id},
                 {"apiId", ctx.api_id},
                 {"domainName", host},
                 {"domainPrefix", ctx.api_id},
                 {"http",
                  {{"method", std::string(req.method_string())},
                   {"path", raw_path},
                   {"protocol", "HTTP/1.1"},
                   {"sourceIp", "127.0.0.1"},
                   {"userAgent", headers.value("user-agent", "")}}},
                 {"requestId", ctx.request_id},
                 {"routeKey", ctx.route_key},
                 {"stage", ctx.stage},
                 {"time", request_time(now)},
                 {"timeEpoch", now.time_since_epoch().count()}}},
               {"isBase64Encoded", false}};
    if (!cookies.empty()) event["cookies"] = cookies;
    if (!query.empty()) event["queryStringParameters"] = query;
    if (ctx.path_parameters && !ctx.path_parameters->empty()) event["pathParameters"] = *ctx.path_parameters;
    if (ctx.path_parameters) event["stageVariables"] = nullptr;
    if (!req.body().empty()) put_body(event, req, headers.value("content-type", ""), false);
    return event;
}

http::response payload_v2_response(const std::string& body_text, const std::string& request_id) {
    // An object with statusCode is a full response; anything else is a 200 JSON body.
    auto result = json::parse(body_text, nullptr, false);
    if (!result.is_discarded() && result.is_object() && result.contains("statusCode")) {
        const int code = result.value("statusCode", 200);
        std::string body;
        if (auto b = result.find("body"); b != result.end() && !b->is_null()) body = b->is_string() ? b->get<std::string>() : b->dump();
        if (result.value("isBase64Encoded", false)) body = codec::base64_decode(body).value_or("");
        http::response out{static_cast<status>(code), 11};
        out.body() = std::move(body);
        const bool has_type = set_headers(out, result);
        if (auto ck = result.find("cookies"); ck != result.end() && ck->is_array()) {
            for (const auto& cookie : *ck) {
                if (cookie.is_string()) out.insert(bhttp::field::set_cookie, cookie.get<std::string>());
            }
        }
        if (!has_type) out.set(bhttp::field::content_type, "application/json");
        out.set("x-amzn-RequestId", request_id);
        out.prepare_payload();
        return out;
    }
    // Not a response object: the value itself is the body (a JSON string is returned unquoted).
    std::string body = !result.is_discarded() && result.is_string() ? result.get<std::string>() : body_text;
    auto out = http::make_response(status::ok, std::move(body), "application/json");
    out.set("x-amzn-RequestId", request_id);
    return out;
}

json payload_v1_event(const http::request& req, const http::target& target, const std::string& path,
                      const http_event_context& ctx) {
    json headers = json::object();
    json multi_headers = json::object();
    for (const auto& field : req) {
        const std::string name(field.name_string());
        const std::string value(field.value());
        headers[name] = value;  // the last value wins
        multi_headers[name].push_back(value);
    }
    json query = nullptr;
    json multi_query = nullptr;
    for (const auto& [k, val] : target.query) {
        if (query.is_null()) {
            query = json::object();
            multi_query = json::object();
        }
        query[k] = val;
        multi_query[k].push_back(val);
    }
    json path_params = nullptr;
    if (ctx.path_parameters && !ctx.path_parameters->empty()) path_params = *ctx.path_parameters;
    const auto now = codec::now_ms();
    const std::string host = headers.contains("Host") ? headers["Host"].get<std::string>()
                                                      : headers.value("host", std::string("localhost"));
    const std::string method(req.method_string());
    json event{{"resource", ctx.resource},
               {"path", path},
               {"httpMethod", method},
               {"headers", headers},
               {"multiValueHeaders", multi_headers},
               {"queryStringParameters", query},
               {"multiValueQueryStringParameters", multi_query},
               {"pathParameters", path_params},
               {"stageVariables", nullptr},
               {"requestContext",
                {{"resourceId", ctx.api_id.substr(0, 6)},
                 {"resourcePath", ctx.resource},
                 {"httpMethod", method},
                 {"extendedRequestId", ctx.request_id},
                 {"requestTime", request_time(now)},
                 {"path", "/" + ctx.stage + path},
                 {"accountId", ctx.account_id},
                 {"protocol", "HTTP/1.1"},
                 {"stage", ctx.stage},
                 {"domainPrefix", ctx.api_id},
                 {"requestTimeEpoch", now.time_since_epoch().count()},
                 {"requestId", ctx.request_id},
                 {"identity",
                  {{"sourceIp", "127.0.0.1"},
                   {"userAgent", req.count(bhttp::field::user_agent) ? std::string(req[bhttp::field::user_agent]) : ""},
                   {"accessKey", nullptr},
                   {"caller", nullptr},
                   {"user", nullptr},
                   {"userArn", nullptr}}},
                 {"domainName", host},
                 {"apiId", ctx.api_id}}}};
    const std::string content_type =
        req.count(bhttp::field::content_type) ? std::string(req[bhttp::field::content_type]) : "";
    put_body(event, req, content_type, true);
    return event;
}

http::response payload_v1_response(const std::string& body_text, const std::string& request_id) {
    auto result = json::parse(body_text, nullptr, false);
    const auto bad = [&]() {
        auto out = http::make_response(status::bad_gateway, R"({"message": "Internal server error"})");
        out.set("x-amzn-RequestId", request_id);
        out.set("x-amzn-ErrorType", "InternalServerErrorException");
        return out;
    };
    if (result.is_discarded() || !result.is_object() || !result.contains("statusCode")) return bad();
    const auto& sc = result.at("statusCode");
    int code = 0;
    if (sc.is_number_integer()) code = sc.get<int>();
    else if (sc.is_string()) code = std::atoi(sc.get<std::string>().c_str());
    if (code < 100 || code > 599) return bad();
    std::string body;
    if (auto b = result.find("body"); b != result.end() && !b->is_null()) {
        if (!b->is_string()) return bad();  // REST APIs want a string body
        body = b->get<std::string>();
    }
    if (result.value("isBase64Encoded", false)) body = codec::base64_decode(body).value_or("");
    http::response out{static_cast<status>(code), 11};
    out.body() = std::move(body);
    bool has_type = set_headers(out, result);
    if (auto mh = result.find("multiValueHeaders"); mh != result.end() && mh->is_object()) {
        for (const auto& [k, vals] : mh->items()) {
            if (!vals.is_array()) continue;
            out.erase(k);  // multiValueHeaders win over headers
            for (const auto& v : vals) out.insert(k, v.is_string() ? v.get<std::string>() : v.dump());
            if (lower(k) == "content-type") has_type = true;
        }
    }
    if (!has_type) out.set(bhttp::field::content_type, "application/json");
    out.set("x-amzn-RequestId", request_id);
    out.prepare_payload();
    return out;
}

}  // namespace lambent::api
