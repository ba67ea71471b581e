// Function URLs: Create/Get/Update/Delete/ListFunctionUrlConfig(s) and the HTTP endpoint that turns a request
// into the payload format 2.0 event and the function's result into the HTTP response, by AWS's rules.
//
// URLs are served on the main listener under a path: http://HOST:PORT/lambda-url/<url id>/<path>.
// AuthType AWS_IAM URLs need a SigV4 signature (service `lambda`) when the server runs with --auth sigv4
// (src/api/authenticate.cpp); without auth every URL is public (docs/security.md).

#include "lambent/api/errors.hpp"
#include "lambent/api/http_payload.hpp"
#include "lambent/api/lambda_api.hpp"
#include "lambent/common/blocking.hpp"
#include "lambent/common/codec.hpp"
#include "lambent/model/validation.hpp"
#include "lambent/scheduler/scheduler.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <regex>

namespace lambent::api {

using nlohmann::json;
using status = http::bhttp::status;
namespace asio = http::asio;
namespace bhttp = http::bhttp;


json lambda_api::url_wire(const std::string& function, const std::string& qualifier, bool with_modified) const {
    const auto& cfg = find(function)->urls.at(qualifier);
    json out{{"FunctionUrl", fmt::format("{}/lambda-url/{}/", public_url_, cfg.at("id").get<std::string>())},
             {"FunctionArn", qualifier.empty() ? options_.account.function_arn(function)
                                               : options_.account.function_arn(function, qualifier)},
             {"AuthType", cfg.at("AuthType")},
             {"CreationTime", cfg.at("CreationTime")},
             {"InvokeMode", cfg.value("InvokeMode", "BUFFERED")}};
    if (cfg.contains("Cors")) out["Cors"] = cfg.at("Cors");
    if (with_modified) out["LastModifiedTime"] = cfg.at("LastModifiedTime");
    return out;
}

asio::awaitable<http::response> lambda_api::url_config_operation(call c) {
    auto ref = model::parse_function_name(c.seg()[2], model::name_shape::function_name, options_.account);
    if (!ref) co_return error_response(ref.error(), c.request_id);
    auto found = find_existing(ref->name);
    if (!found) co_return error_response(found.error(), c.request_id);
    const auto* e = *found;
    const std::string fn = ref->name;
    if (c.seg()[3] == "urls") {
        json items = json::array();
        for (const auto& [q, cfg] : e->urls) items.push_back(url_wire(fn, q, true));
        co_return json_response(status::ok, json{{"FunctionUrlConfigs", items}}, c.request_id);
    }
    auto qualifier = model::merge_qualifier(*ref, c.target.param("Qualifier"));
    if (!qualifier) co_return error_response(qualifier.error(), c.request_id);
    const std::string q = qualifier->value_or("");
    if (!q.empty()) {
        // Function URLs attach to the function or to an alias, never to $LATEST or a version number.
        static const std::regex alias_only("((?!^\\d+$)^[0-9a-zA-Z-_]+$)");
        if (!std::regex_match(q, alias_only)) {
            model::violations v;
            v.add(model::violations::quote(q), "qualifier",
                  "Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)");
            co_return error_response(v.as_error(), c.request_id);
        }
        if (e->aliases.count(q) == 0) {
            co_return error_response(make_error(errc::resource_not_found, "The resource you requested does not exist."),
                                     c.request_id);
        }
    }
    const auto m = c.req.method();
    const bool exists = e->urls.count(q) != 0;
    const auto missing = [&]() {
        return error_response(make_error(errc::resource_not_found, "The resource you requested does not exist."),
                              c.request_id);
    };
    store::store* st = &store_;
    if (m == bhttp::verb::get) {
        if (!exists) co_return missing();
        co_return json_response(status::ok, url_wire(fn, q, true), c.request_id);
    }
    if (m == bhttp::verb::delete_) {
        if (!exists) co_return missing();
        const std::string id = e->urls.at(q).at("id");
        auto drop = [st, fn, q]() { return st->delete_setting(fn, "url", q); };
        auto removed = co_await run_blocking(pool_, std::move(drop));
        if (!removed) co_return error_response(removed.error(), c.request_id);
        url_ids_.erase(id);
        if (auto it = functions_.find(fn); it != functions_.end()) it->second.urls.erase(q);
        co_return empty_response(status::no_content, c.request_id);
    }
    const bool create = m == bhttp::verb::post;
    if (create && exists) {
        co_return error_response(make_error(errc::resource_conflict,
                                            fmt::format("Failed to create function url config for [functionArn = {}]. "
                                                        "Error message:  FunctionUrlConfig exists for this Lambda "
                                                        "function",
                                                        q.empty() ? options_.account.function_arn(fn)
                                                                  : options_.account.function_arn(fn, q))),
                                 c.request_id);
    }
    if (!create && !exists) co_return missing();
    auto body = json::parse(c.req.body().empty() ? std::string("{}") : c.req.body(), nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
        co_return error_response(make_error(errc::invalid_request_content, "Could not parse request body into json"),
                                 c.request_id);
    }
    json cfg = exists ? e->urls.at(q) : json::object();
    model::violations v;
    if (auto a = body.find("AuthType"); a != body.end() && !a->is_null()) {
        if (!a->is_string() || (*a != "NONE" && *a != "AWS_IAM")) {
            v.add(model::violations::quote(a->is_string() ? a->get<std::string>() : a->dump()), "authType",
                  "Member must satisfy enum value set: [NONE, AWS_IAM]");
        } else {
            cfg["AuthType"] = *a;
        }
    } else if (create) {
        v.add("null", "authType", "Member must not be null");
    }
    if (auto i = body.find("InvokeMode"); i != body.end() && !i->is_null()) {
        if (*i != "BUFFERED" && *i != "RESPONSE_STREAM") {
            v.add(model::violations::quote(i->is_string() ? i->get<std::string>() : i->dump()), "invokeMode",
                  "Member must satisfy enum value set: [BUFFERED, RESPONSE_STREAM]");
        } else {
            cfg["InvokeMode"] = *i;
        }
    }
    if (!v.empty()) co_return error_response(v.as_error(), c.request_id);
    if (auto cors = body.find("Cors"); cors != body.end() && cors->is_object()) cfg["Cors"] = *cors;
    const std::string now = codec::iso_timestamp(codec::now_ms());
    if (create) {
        cfg["id"] = codec::random_hex(16);
        cfg["CreationTime"] = now;
        if (!cfg.contains("InvokeMode")) cfg["InvokeMode"] = "BUFFERED";
    }
    cfg["LastModifiedTime"] = now;
    const std::string text = cfg.dump();
    auto save = [st, fn, q, text]() { return st->put_setting({fn, "url", q, text}); };
    auto saved = co_await run_blocking(pool_, std::move(save));
    if (!saved) co_return error_response(saved.error(), c.request_id);
    if (auto it = functions_.find(fn); it != functions_.end()) it->second.urls[q] = cfg;
    url_ids_[cfg.at("id").get<std::string>()] = {fn, q};
    co_return json_response(create ? status::created : status::ok, url_wire(fn, q, !create), c.request_id);
}

asio::awaitable<http::response> lambda_api::serve_function_url(call c) {
    const auto not_found = [&]() {
        auto res = http::make_response(status::not_found, R"({"Message":null})");
        res.set("x-amzn-RequestId", c.request_id);
        res.set("x-amzn-ErrorType", "AccessDeniedException");
        return res;
    };
    auto target_it = url_ids_.find(c.seg()[1]);
    if (target_it == url_ids_.end()) co_return not_found();
    const auto [fn, q] = target_it->second;
    const auto* e = find(fn);
    if (e == nullptr) co_return not_found();
    std::optional<std::string> qualifier;
    if (!q.empty()) qualifier = q;
    auto target = resolve(*e, qualifier, true);
    if (!target) co_return not_found();

    // The request as AWS's payload format 2.0 event.
    std::string raw_path = "/";
    for (std::size_t i = 2; i < c.seg().size(); ++i) raw_path += (i > 2 ? "/" : "") + c.seg()[i];
    http_event_context ctx;
    ctx.request_id = c.request_id;
    ctx.api_id = c.seg()[1];
    json event = payload_v2_event(c.req, c.target, raw_path, ctx);
    const auto now = codec::now_ms();
    if (c.caller) {  // a SigV4-signed request to an AWS_IAM URL: who signed it, as AWS's event carries it
        const std::string& account = options_.account.account;
        event["requestContext"]["accountId"] = account;
        event["requestContext"]["authorizer"] = {
            {"iam",
             {{"accessKey", c.caller->access_key_id},
              {"accountId", account},
              {"callerId", c.caller->access_key_id},
              {"cognitoIdentity", nullptr},
              {"principalOrgId", nullptr},
              {"userArn", fmt::format("arn:aws:iam::{}:user/{}", account, c.caller->profile)},
              {"userId", c.caller->access_key_id}}}};
    }

    scheduler::invoke_request req;
    req.function = target->snapshot;
    req.invoked_arn = target->arn;
    req.payload = event.dump(-1, ' ', false, json::error_handler_t::replace);
    req.request_id = c.request_id;
    req.trace_id = codec::xray_trace_id(now.time_since_epoch().count() / 1000);
    auto res = co_await scheduler_.invoke(std::move(req));
    if (res.failure) {
        auto out = http::make_response(res.failure->code == errc::too_many_requests ? status::too_many_requests
                                                                                    : status::bad_gateway,
                                       R"({"Message":"Internal Server Error"})");
        out.set("x-amzn-RequestId", c.request_id);
        co_return out;
    }
    if (res.function_error) {
        auto out = http::make_response(status::bad_gateway, "Internal Server Error", "text/plain");
        out.set("x-amzn-RequestId", c.request_id);
        out.set("x-amzn-ErrorType", "Unhandled");
        co_return out;
    }
    co_return payload_v2_response(res.body, c.request_id);
}

}  // namespace lambent::api
