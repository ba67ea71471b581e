// The Api (REST API, payload 1.0) and HttpApi (HTTP API, payload 2.0) routes of a template, served on
// their own listener (--api-listen) like `sam local start-api`.

#include "stack_impl.hpp"

#include "lambent/api/http_payload.hpp"
#include "lambent/common/codec.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <tuple>

namespace lambent::sam {

using nlohmann::json;
using status = bhttp::status;

namespace {

std::vector<std::string> split_path(const std::string& path) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= path.size()) {
        auto end = path.find('/', start);
        if (end == std::string::npos) end = path.size();
        if (end > start) out.push_back(path.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

bool is_param(const std::string& seg) { return seg.size() > 2 && seg.front() == '{' && seg.back() == '}'; }
bool is_greedy(const std::string& seg) { return is_param(seg) && seg[seg.size() - 2] == '+'; }
std::string param_name(const std::string& seg) {
    return seg.substr(1, seg.size() - (is_greedy(seg) ? 3 : 2));
}

/// Matches `segments` against the route; fills the path parameters.
bool match(const route& r, const std::vector<std::string>& segments, json& params) {
    if (r.path == "$default") return true;
    std::size_t i = 0;
    for (; i < r.segments.size(); ++i) {
        const auto& seg = r.segments[i];
        if (is_greedy(seg)) {
            if (i >= segments.size()) return false;  // {proxy+} needs at least one segment
            std::string rest;
            for (std::size_t j = i; j < segments.size(); ++j) rest += (j > i ? "/" : "") + segments[j];
            params[param_name(seg)] = rest;
            return true;
        }
        if (i >= segments.size()) return false;
        if (is_param(seg)) params[param_name(seg)] = segments[i];
        else if (seg != segments[i]) return false;
    }
    return i == segments.size();
}

class gateway final : public http::handler {
public:
    explicit gateway(std::shared_ptr<stack_impl> impl) : impl_(std::move(impl)) {}
    std::size_t body_limit(const http::request_header&) override { return 6 * 1024 * 1024; }
    http::response too_large(const http::request_header&, std::size_t) override {
        return http::make_response(status::payload_too_large, R"({"message":"Request Too Long"})");
    }
    asio::awaitable<http::response> handle(http::request req) override {
        auto impl = impl_;
        co_return co_await impl->serve_route(std::move(req));
    }

private:
    std::shared_ptr<stack_impl> impl_;
};

}  // namespace

void stack_impl::build_routes() {
    routes.clear();
    for (const auto& f : model.functions) {
        for (const auto& ev : f.events) {
            if (ev.type != "Api" && ev.type != "HttpApi") continue;
            route r;
            r.method = ev.method;
            r.path = ev.path;
            r.segments = split_path(ev.path);
            r.v2 = ev.type == "HttpApi";
            r.function = f.name;
            r.qualifier = f.auto_publish_alias.value_or("");
            r.stage = !ev.stage.empty() ? ev.stage : r.v2 ? "$default" : "Prod";
            routes.push_back(std::move(r));
        }
    }
}

asio::awaitable<http::response> stack_impl::serve_route(http::request req) {
    const std::string request_id = codec::uuid4();
    const auto t = http::parse_target(req.target());
    const std::string target_text(req.target());
    const std::string raw_path = target_text.substr(0, target_text.find('?'));
    const std::string method(req.method_string());

    // The most specific route wins: literal segments over parameters, parameters over {proxy+}, a method
    // over ANY, anything over $default.
    const route* best = nullptr;
    json best_params;
    std::tuple<int, int, int, int> best_score{-1, -1, -1, -1};
    for (const auto& r : routes) {
        if (r.method != "ANY" && r.method != method) continue;
        json params = json::object();
        if (!t.valid || !match(r, t.segments, params)) continue;
        int literals = 0, greedy = 0;
        for (const auto& s : r.segments) {
            if (!is_param(s)) ++literals;
            if (is_greedy(s)) greedy = 1;
        }
        const std::tuple<int, int, int, int> score{r.path == "$default" ? 0 : 1, literals, 1 - greedy, r.method == "ANY" ? 0 : 1};
        if (score > best_score) {
            best_score = score;
            best = &r;
            best_params = params;
        }
    }
    if (best == nullptr) {
        const bool rest = std::any_of(routes.begin(), routes.end(), [](const route& r) { return !r.v2; });
        auto res = rest ? http::make_response(status::forbidden, R"({"message":"Missing Authentication Token"})")
                        : http::make_response(status::not_found, R"({"message":"Not Found"})");
        res.set("x-amzn-RequestId", request_id);
        if (rest) res.set("x-amzn-ErrorType", "MissingAuthenticationTokenException");
        co_return res;
    }
    const route r = *best;

    api::http_event_context ctx;
    ctx.request_id = request_id;
    ctx.api_id = api_id;
    ctx.account_id = options.account.account;
    ctx.path_parameters = best_params;
    json event;
    if (r.v2) {
        ctx.route_key = r.path == "$default" ? "$default" : r.method + " " + r.path;
        ctx.stage = r.stage;
        event = api::payload_v2_event(req, t, raw_path, ctx);
    } else {
        ctx.stage = r.stage;
        ctx.resource = r.path;
        event = api::payload_v1_event(req, t, raw_path, ctx);
    }

    const std::string target = "/2015-03-31/functions/" + r.function + "/invocations" +
                               (r.qualifier.empty() ? "" : "?Qualifier=" + r.qualifier);
    const std::string payload = event.dump(-1, ' ', false, json::error_handler_t::replace);
    auto res = co_await call(bhttp::verb::post, target, payload);
    spdlog::debug("template: {} {} -> {} status={}", method, raw_path, r.function, res.result_int());
    if (res.result() == status::too_many_requests) {
        auto out = http::make_response(status::too_many_requests, R"({"message":"Too Many Requests"})");
        out.set("x-amzn-RequestId", request_id);
        co_return out;
    }
    if (res.result() != status::ok || res.count("X-Amz-Function-Error") != 0) {
        auto out = r.v2 ? http::make_response(status::internal_server_error, R"({"message":"Internal Server Error"})")
                        : http::make_response(status::bad_gateway, R"({"message": "Internal server error"})");
        out.set("x-amzn-RequestId", request_id);
        co_return out;
    }
    co_return r.v2 ? api::payload_v2_response(res.body(), request_id) : api::payload_v1_response(res.body(), request_id);
}

std::shared_ptr<http::handler> stack::api_handler() { return std::make_shared<gateway>(impl_); }

}  // namespace lambent::sam
