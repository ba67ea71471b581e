// Which requests need a SigV4 signature when auth is on, and AWS's error for each refusal (docs/security.md).

#include "lambent/api/lambda_api.hpp"

#include <nlohmann/json.hpp>

namespace lambent::api {

namespace {

bool is_logs_call(const http::request& req, const std::vector<std::string>& seg) {
    return seg.empty() && req.method() == http::bhttp::verb::post && req["X-Amz-Target"].starts_with("Logs_20140328.");
}

}  // namespace

std::optional<http::response> lambda_api::authenticate(call& c) const {
    const auto& s = c.seg();
    // Liveness needs no identity and tells nothing.
    if (s.size() == 2 && s[0] == "_lambent" && s[1] == "health") return std::nullopt;
    // GetFunction's Code.Location, fetched unsigned like AWS's presigned S3 URL: the SHA-256 of the ZIP in
    // the path is the capability (whoever can compute it already has the bytes).
    if (s.size() == 4 && s[0] == "_lambent" && s[1] == "code") return std::nullopt;
    if (s.size() == 1 && s[0] == "metrics" && options_.public_metrics) return std::nullopt;
    const bool url_call = s.size() >= 2 && s[0] == "lambda-url";
    if (url_call) {
        // AuthType NONE stays public; an unknown URL is answered (404) by the handler.
        const auto id = url_ids_.find(s[1]);
        if (id == url_ids_.end()) return std::nullopt;
        const auto* e = find(id->second.first);
        if (e == nullptr) return std::nullopt;
        const auto cfg = e->urls.find(id->second.second);
        if (cfg == e->urls.end() || cfg->second.value("AuthType", "NONE") != "AWS_IAM") return std::nullopt;
    }
    const bool logs = is_logs_call(c.req, s);

    auth::request_view view;
    view.method = c.req.method_string();
    view.target = c.req.target();
    for (const auto& field : c.req) view.headers.emplace_back(field.name_string(), field.value());
    view.body = c.req.body();
    auto checked = options_.auth->verify(view, logs ? "logs" : "lambda", auth::clock::now());
    if (checked) {
        c.caller = std::move(*checked);
        return std::nullopt;
    }
    const auto& d = checked.error();
    http::response res;
    if (url_call && d.kind == auth::failure::missing) {
        // AWS's answer to an unsigned call of an AWS_IAM Function URL.
        res = http::make_response(http::bhttp::status::forbidden, R"({"Message":"Forbidden"})");
        res.set("x-amzn-ErrorType", "AccessDeniedException");
    } else if (logs) {
        // AWS JSON 1.1: the type travels in the body.
        nlohmann::json body{{"__type", d.type()}, {"message", d.message}};
        res = http::make_response(static_cast<http::bhttp::status>(d.status()), body.dump(), "application/x-amz-json-1.1");
        res.set("x-amzn-ErrorType", d.type());
    } else {
        nlohmann::json body{{"message", d.message}};
        res = http::make_response(static_cast<http::bhttp::status>(d.status()),
                                  body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        res.set("x-amzn-ErrorType", d.type());
    }
    res.set("x-amzn-RequestId", c.request_id);
    return res;
}

}  // namespace lambent::api
