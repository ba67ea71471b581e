#include "lambent/api/lambda_api.hpp"

#include "lambent/api/errors.hpp"
#include "lambent/common/blocking.hpp"
#include "lambent/common/codec.hpp"
#include "lambent/model/validation.hpp"
#include "lambent/scheduler/scheduler.hpp"
#include "lambent/store/store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

namespace lambent::api {

using nlohmann::json;
using status = http::bhttp::status;
namespace asio = http::asio;
namespace bhttp = http::bhttp;

namespace {

constexpr std::size_t create_body_limit = 70167211;  // AWS: "Request must be smaller than 70167211 bytes …"
constexpr std::size_t sync_payload_limit = 6291456;  // 6 MB
constexpr std::size_t async_payload_limit = 1048576; // 1 MB (Event)
constexpr std::size_t legacy_async_limit = 262144;   // InvokeAsync: 256 KB
constexpr std::size_t default_body_limit = 1048576;
constexpr std::size_t log_tail_bytes = 4096;

http::response json_response(status s, const json& body, const std::string& request_id) {
    auto res = http::make_response(s, body.dump(-1, ' ', false, json::error_handler_t::replace));
    res.set("x-amzn-RequestId", request_id);
    return res;
}

http::response empty_response(status s, const std::string& request_id) {
    http::response res{s, 11};
    res.set("x-amzn-RequestId", request_id);
    return res;
}

std::string not_found_message(const model::account_context& acct, const std::string& name,
                              const std::optional<std::string>& qualifier) {
    return "Function not found: " + (qualifier ? acct.function_arn(name, *qualifier) : acct.function_arn(name));
}

/// Parses a JSON body; InvalidRequestContentException with the parser's detail otherwise.
result<json> parse_body(const std::string& body) {
    if (body.empty()) {
        return result<json>(boost::system::in_place_value, json::object());
    }
    try {
        return result<json>(boost::system::in_place_value, json::parse(body));
    } catch (const json::parse_error& e) {
        return make_error(errc::invalid_request_content,
                          fmt::format("Could not parse request body into json: {}", e.what()));
    }
}

std::string make_trace_id() {
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
    return fmt::format("Root=1-{:08x}-{};Parent={};Sampled=0", secs, codec::random_hex(12), codec::random_hex(8));
}

void on_async_invoke_done(std::exception_ptr e) {
    if (e) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            spdlog::error("api: asynchronous invocation failed: {}", ex.what());
        }
    }
}

asio::awaitable<void> run_async_invoke(scheduler::scheduler* sched, scheduler::invoke_request req) {
    const std::string id = req.request_id;
    auto res = co_await sched->invoke(std::move(req));
    if (res.failure) {
        spdlog::warn("api: asynchronous invocation {} failed: {}", id, res.failure->message);
    }
}

}  // namespace

struct lambda_api::call {
    http::request req;
    http::target target;
    std::string request_id;

    const std::vector<std::string>& seg() const { return target.segments; }
    std::string_view method() const { return req.method_string(); }
};

lambda_api::lambda_api(asio::io_context& io, asio::thread_pool& pool, store::store& store,
                       scheduler::scheduler& sched, api_options options)
    : io_(io), pool_(pool), store_(store), scheduler_(sched), options_(std::move(options)) {}

void lambda_api::load() {
    for (auto& f : store_.load_functions()) {
        functions_.emplace(f.name, std::move(f));
    }
}

const model::function_record* lambda_api::find(const std::string& name) const {
    auto it = functions_.find(name);
    return it == functions_.end() ? nullptr : &it->second;
}

std::size_t lambda_api::body_limit(const http::request_header& header) {
    const auto t = http::parse_target(header.target());
    const auto& s = t.segments;
    if (s.size() >= 2 && s[0] == "2015-03-31" && s[1] == "functions") {
        if (s.size() == 2 || (s.size() == 4 && s[3] == "code")) {
            return create_body_limit;
        }
        if (s.size() == 4 && s[3] == "invocations") {
            return header["X-Amz-Invocation-Type"] == "Event" ? async_payload_limit : sync_payload_limit;
        }
    }
    if (s.size() == 4 && s[0] == "2014-11-13" && s[3] == "invoke-async") {
        return legacy_async_limit;
    }
    return default_body_limit;
}

http::response lambda_api::too_large(const http::request_header& header, std::size_t limit) {
    const auto t = http::parse_target(header.target());
    const auto& s = t.segments;
    std::string operation = "the requested";
    if (s.size() == 2 && s[1] == "functions") operation = "CreateFunction";
    else if (s.size() == 4 && s[3] == "code") operation = "UpdateFunctionCode";
    else if (s.size() == 4 && (s[3] == "invocations" || s[3] == "invoke-async")) operation = "InvokeFunction";
    return error_response(make_error(errc::request_too_large,
                                     fmt::format("Request must be smaller than {} bytes for the {} operation", limit,
                                                 operation)),
                          codec::uuid4());
}

asio::awaitable<http::response> lambda_api::handle(http::request req) {
    call c;
    c.target = http::parse_target(req.target());
    c.req = std::move(req);
    c.request_id = codec::uuid4();
    if (!c.target.valid) {
        co_return error_response(make_error(errc::validation, "The request path or query is not validly percent-encoded."),
                                 c.request_id);
    }
    const std::string request_id = c.request_id;
    std::optional<http::response> res;
    try {
        res.emplace(co_await dispatch(std::move(c)));
    } catch (const std::exception& e) {
        // A bug, not bad input: answer like AWS's service error and keep the connection usable.
        spdlog::error("api: request {} failed: {}", request_id, e.what());
    }
    if (!res) {
        co_return error_response(make_error(errc::service, "An internal error occurred."), request_id);
    }
    co_return std::move(*res);
}

asio::awaitable<http::response> lambda_api::dispatch(call c) {
    const auto& s = c.seg();
    const auto m = c.req.method();
    auto wrong_method = [&]() {
        return error_response(make_error(errc::method_not_allowed,
                                         fmt::format("The method {} is not supported on {}", c.method(),
                                                     std::string(c.req.target().substr(0, c.req.target().find('?'))))),
                              c.request_id);
    };
    if (s.size() >= 2 && s[0] == "2015-03-31" && s[1] == "functions") {
        if (s.size() == 2) {
            if (m == bhttp::verb::post) co_return co_await create_function(std::move(c));
            if (m == bhttp::verb::get) co_return list_functions(c);
            co_return wrong_method();
        }
        if (s.size() == 3) {
            if (m == bhttp::verb::get) co_return get_function(c, false);
            if (m == bhttp::verb::delete_) co_return co_await delete_function(std::move(c));
            co_return wrong_method();
        }
        if (s.size() == 4 && s[3] == "configuration") {
            if (m == bhttp::verb::get) co_return get_function(c, true);
            if (m == bhttp::verb::put) co_return co_await update_configuration(std::move(c));
            co_return wrong_method();
        }
        if (s.size() == 4 && s[3] == "code") {
            if (m == bhttp::verb::put) co_return co_await update_code(std::move(c));
            co_return wrong_method();
        }
        if (s.size() == 4 && s[3] == "invocations") {
            if (m == bhttp::verb::post) co_return co_await invoke(std::move(c), false);
            co_return wrong_method();
        }
    }
    if (s.size() == 4 && s[0] == "2014-11-13" && s[1] == "functions" && s[3] == "invoke-async") {
        if (m == bhttp::verb::post) co_return co_await invoke(std::move(c), true);
        co_return wrong_method();
    }
    if (s.size() == 3 && s[0] == "2017-03-31" && s[1] == "tags") {
        if (m == bhttp::verb::get) co_return list_tags(c);
        if (m == bhttp::verb::post) co_return co_await tag_resource(std::move(c), false);
        if (m == bhttp::verb::delete_) co_return co_await tag_resource(std::move(c), true);
        co_return wrong_method();
    }
    if (s.size() == 2 && s[0] == "2016-08-19" && s[1] == "account-settings") {
        if (m == bhttp::verb::get) co_return account_settings(c);
        co_return wrong_method();
    }
    if (s.size() == 4 && s[0] == "_lambent" && s[1] == "code") {
        if (m == bhttp::verb::get) co_return download_code(c);
        co_return wrong_method();
    }
    if (s.size() == 2 && s[0] == "_lambent" && s[1] == "health") {
        co_return json_response(status::ok, json{{"status", "ok"}}, c.request_id);
    }
    co_return error_response(
        make_error(errc::unknown_operation,
                   fmt::format("No Lambda operation matches {} {}", c.method(),
                               std::string(c.req.target().substr(0, c.req.target().find('?'))))),
        c.request_id);
}

// ---- functions ----------------------------------------------------------------------------------

asio::awaitable<result<model::function_record>> lambda_api::commit(model::function_record next,
                                                                   std::string expected_revision) {
    store::store* st = &store_;
    // GCC 12: a capturing lambda must not share a full-expression with co_await; name it first.
    auto work = [st, next, expected_revision]() -> result<model::function_record> {
        auto r = expected_revision.empty() ? st->insert_function(next) : st->replace_function(next, expected_revision);
        if (!r) return r.error();
        return next;
    };
    auto saved = co_await run_blocking(pool_, std::move(work));
    if (saved) {
        functions_[saved->name] = *saved;
    }
    co_return saved;
}

asio::awaitable<http::response> lambda_api::create_function(call c) {
    auto body = parse_body(c.req.body());
    if (!body) co_return error_response(body.error(), c.request_id);
    auto parsed = model::decode_create_function(*body, options_.account);
    if (!parsed) co_return error_response(parsed.error(), c.request_id);
    const std::string name = parsed->record.name;
    if (functions_.count(name) != 0 || busy_.count(name) != 0) {
        co_return error_response(make_error(errc::resource_conflict, "Function already exist: " + name), c.request_id);
    }
    busy_.insert(name);
    store::store* st = &store_;
    auto work = [st, zip = std::move(parsed->zip)]() { return st->put_code(zip); };
    auto blob = co_await run_blocking(pool_, std::move(work));
    if (!blob) {
        busy_.erase(name);
        co_return error_response(blob.error(), c.request_id);
    }
    model::function_record rec = std::move(parsed->record);
    rec.code_sha256_hex = blob->sha256_hex;
    rec.code_size = blob->size;
    rec.last_modified_ms = codec::now_ms().time_since_epoch().count();
    rec.revision_id = codec::uuid4();
    auto saved = co_await commit(std::move(rec), "");
    busy_.erase(name);
    if (!saved) co_return error_response(saved.error(), c.request_id);
    spdlog::info("api: function created name={} runtime={} code_size={}", name, saved->runtime, saved->code_size);
    co_return json_response(status::created, model::to_wire(*saved, options_.account, model::fc_view::create),
                            c.request_id);
}

http::response lambda_api::get_function(const call& c, bool configuration_only) {
    auto ref = model::parse_function_name(c.seg()[2], model::name_shape::namespaced, options_.account);
    if (!ref) return error_response(ref.error(), c.request_id);
    auto qualifier = model::merge_qualifier(*ref, c.target.param("Qualifier"));
    if (!qualifier) return error_response(qualifier.error(), c.request_id);
    const auto* f = find(ref->name);
    if (f == nullptr || (*qualifier && **qualifier != "$LATEST")) {
        return error_response(make_error(errc::resource_not_found, not_found_message(options_.account, ref->name, *qualifier)),
                              c.request_id);
    }
    json config = model::to_wire(*f, options_.account, model::fc_view::get);
    if (configuration_only) {
        return json_response(status::ok, config, c.request_id);
    }
    std::string host(c.req[bhttp::field::host]);
    if (host.empty()) host = "127.0.0.1";
    json out{{"Configuration", config},
             {"Code",
              {{"RepositoryType", "S3"},
               {"Location", fmt::format("http://{}/_lambent/code/{}/{}.zip", host, f->name, f->code_sha256_hex)}}}};
    if (!f->tags.empty()) {
        out["Tags"] = f->tags;
    }
    return json_response(status::ok, out, c.request_id);
}

http::response lambda_api::list_functions(const call& c) {
    std::size_t max_items = 50;
    if (auto m = c.target.param("MaxItems")) {
        long long v = 0;
        try {
            v = std::stoll(*m);
        } catch (const std::exception&) {
            return error_response(make_error(errc::invalid_parameter_value, "MaxItems must be a number"), c.request_id);
        }
        if (v < 1 || v > 10000) {
            model::violations viol;
            viol.add(model::violations::quote(*m), "maxItems",
                     v < 1 ? "Member must have value greater than or equal to 1"
                           : "Member must have value less than or equal to 10000");
            return error_response(viol.as_error(), c.request_id);
        }
        // AWS returns at most 50 functions per page whatever MaxItems says.
        max_items = std::min<std::size_t>(static_cast<std::size_t>(v), 50);
    }
    auto it = functions_.begin();
    if (auto marker = c.target.param("Marker"); marker && !marker->empty()) {
        auto after = codec::base64_decode(*marker);
        if (!after) {
            return error_response(make_error(errc::invalid_parameter_value, "The Marker is not valid."), c.request_id);
        }
        it = functions_.upper_bound(*after);
    }
    json items = json::array();
    std::string last;
    for (; it != functions_.end() && items.size() < max_items; ++it) {
        items.push_back(model::to_wire(it->second, options_.account, model::fc_view::list));
        last = it->first;
    }
    json out{{"Functions", items}};
    if (it != functions_.end()) {
        out["NextMarker"] = codec::base64_encode(last);
    }
    return json_response(status::ok, out, c.request_id);
}

asio::awaitable<http::response> lambda_api::update_code(call c) {
    auto ref = model::parse_function_name(c.seg()[2], model::name_shape::function_name, options_.account);
    if (!ref) co_return error_response(ref.error(), c.request_id);
    auto body = parse_body(c.req.body());
    if (!body) co_return error_response(body.error(), c.request_id);
    auto update = model::decode_update_code(*body);
    if (!update) co_return error_response(update.error(), c.request_id);
    const auto* f = find(ref->name);
    if (f == nullptr || (ref->qualifier && *ref->qualifier != "$LATEST")) {
        co_return error_response(make_error(errc::resource_not_found, not_found_message(options_.account, ref->name, ref->qualifier)),
                                 c.request_id);
    }
    if (busy_.count(ref->name) != 0) {
        co_return error_response(make_error(errc::resource_conflict,
                                            "The operation cannot be performed at this time. An update is in progress "
                                            "for resource: " + options_.account.function_arn(ref->name)),
                                 c.request_id);
    }
    if (update->revision_id && *update->revision_id != f->revision_id) {
        co_return error_response(make_error(errc::precondition_failed,
                                            "The Revision Id provided does not match the latest Revision Id. Call the "
                                            "GetFunction/GetAlias API to retrieve the latest Revision Id"),
                                 c.request_id);
    }
    const std::string name = ref->name;
    busy_.insert(name);
    store::store* st = &store_;
    auto work = [st, zip = std::move(update->zip)]() { return st->put_code(zip); };
    auto blob = co_await run_blocking(pool_, std::move(work));
    if (!blob) {
        busy_.erase(name);
        co_return error_response(blob.error(), c.request_id);
    }
    f = find(name);
    if (f == nullptr) {
        busy_.erase(name);
        co_return error_response(make_error(errc::resource_not_found, not_found_message(options_.account, name, std::nullopt)),
                                 c.request_id);
    }
    if (update->dry_run) {
        busy_.erase(name);
        model::function_record preview = *f;
        preview.code_sha256_hex = blob->sha256_hex;
        preview.code_size = blob->size;
        co_return json_response(status::ok, model::to_wire(preview, options_.account, model::fc_view::get), c.request_id);
    }
    model::function_record next = *f;
    const std::string expected = f->revision_id;
    next.code_sha256_hex = blob->sha256_hex;
    next.code_size = blob->size;
    next.last_modified_ms = codec::now_ms().time_since_epoch().count();
    next.revision_id = codec::uuid4();
    auto saved = co_await commit(std::move(next), expected);
    busy_.erase(name);
    if (!saved) co_return error_response(saved.error(), c.request_id);
    scheduler_.retire(name);
    spdlog::info("api: function code updated name={} code_size={}", name, saved->code_size);
    co_return json_response(status::ok, model::to_wire(*saved, options_.account, model::fc_view::update), c.request_id);
}

asio::awaitable<http::response> lambda_api::update_configuration(call c) {
    auto ref = model::parse_function_name(c.seg()[2], model::name_shape::function_name, options_.account);
    if (!ref) co_return error_response(ref.error(), c.request_id);
    auto body = parse_body(c.req.body());
    if (!body) co_return error_response(body.error(), c.request_id);
    auto update = model::decode_update_configuration(*body);
    if (!update) co_return error_response(update.error(), c.request_id);
    const auto* f = find(ref->name);
    if (f == nullptr || (ref->qualifier && *ref->qualifier != "$LATEST")) {
        co_return error_response(make_error(errc::resource_not_found, not_found_message(options_.account, ref->name, ref->qualifier)),
                                 c.request_id);
    }
    if (busy_.count(ref->name) != 0) {
        co_return error_response(make_error(errc::resource_conflict,
                                            "The operation cannot be performed at this time. An update is in progress "
                                            "for resource: " + options_.account.function_arn(ref->name)),
                                 c.request_id);
    }
    if (update->revision_id && *update->revision_id != f->revision_id) {
        co_return error_response(make_error(errc::precondition_failed,
                                            "The Revision Id provided does not match the latest Revision Id. Call the "
                                            "GetFunction/GetAlias API to retrieve the latest Revision Id"),
                                 c.request_id);
    }
    const std::string name = ref->name;
    model::function_record next = *f;
    const std::string expected = f->revision_id;
    model::apply_configuration(next, *update);
    next.last_modified_ms = codec::now_ms().time_since_epoch().count();
    next.revision_id = codec::uuid4();
    busy_.insert(name);
    auto saved = co_await commit(std::move(next), expected);
    busy_.erase(name);
    if (!saved) co_return error_response(saved.error(), c.request_id);
    scheduler_.retire(name);
    spdlog::info("api: function configuration updated name={}", name);
    co_return json_response(status::ok, model::to_wire(*saved, options_.account, model::fc_view::update), c.request_id);
}

asio::awaitable<http::response> lambda_api::delete_function(call c) {
    auto ref = model::parse_function_name(c.seg()[2], model::name_shape::namespaced, options_.account);
    if (!ref) co_return error_response(ref.error(), c.request_id);
    auto qualifier = model::merge_qualifier(*ref, c.target.param("Qualifier"));
    if (!qualifier) co_return error_response(qualifier.error(), c.request_id);
    if (*qualifier && **qualifier == "$LATEST") {
        co_return error_response(make_error(errc::invalid_parameter_value,
                                            "$LATEST version cannot be deleted without deleting the function."),
                                 c.request_id);
    }
    if (find(ref->name) == nullptr || *qualifier) {
        co_return error_response(make_error(errc::resource_not_found, not_found_message(options_.account, ref->name, *qualifier)),
                                 c.request_id);
    }
    const std::string name = ref->name;
    if (busy_.count(name) != 0) {
        co_return error_response(make_error(errc::resource_conflict,
                                            "The operation cannot be performed at this time. An update is in progress "
                                            "for resource: " + options_.account.function_arn(name)),
                                 c.request_id);
    }
    busy_.insert(name);
    store::store* st = &store_;
    auto work = [st, name]() { return st->delete_function(name); };
    auto removed = co_await run_blocking(pool_, std::move(work));
    busy_.erase(name);
    if (!removed) co_return error_response(removed.error(), c.request_id);
    functions_.erase(name);
    scheduler_.retire(name);
    spdlog::info("api: function deleted name={}", name);
    co_return empty_response(status::no_content, c.request_id);
}

// ---- tags -------------------------------------------------------------------------------------

asio::awaitable<http::response> lambda_api::tag_resource(call c, bool remove) {
    const std::string arn = c.seg()[2];
    auto ref = model::parse_function_name(arn, model::name_shape::namespaced, options_.account);
    if (!ref || arn.rfind("arn:", 0) != 0) {
        model::violations v;
        v.add(model::violations::quote(arn), "resource",
              "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:function:[a-zA-Z0-9-_]+(:(\\$LATEST|[a-zA-Z0-9-_]+))?");
        co_return error_response(ref ? v.as_error() : ref.error(), c.request_id);
    }
    const auto* f = find(ref->name);
    if (f == nullptr) {
        co_return error_response(make_error(errc::resource_not_found, not_found_message(options_.account, ref->name, ref->qualifier)),
                                 c.request_id);
    }
    model::function_record next = *f;
    if (remove) {
        auto range = c.target.query.equal_range("tagKeys");
        if (range.first == range.second) {
            model::violations v;
            v.add("null", "tagKeys", "Member must not be null");
            co_return error_response(v.as_error(), c.request_id);
        }
        for (auto it = range.first; it != range.second; ++it) {
            next.tags.erase(it->second);
        }
    } else {
        auto body = parse_body(c.req.body());
        if (!body) co_return error_response(body.error(), c.request_id);
        auto tags = model::decode_tags(*body);
        if (!tags) co_return error_response(tags.error(), c.request_id);
        for (auto& [k, v] : *tags) next.tags[k] = v;
        if (next.tags.size() > 50) {
            co_return error_response(make_error(errc::invalid_parameter_value, "A function can have at most 50 tags."),
                                     c.request_id);
        }
    }
    if (busy_.count(ref->name) != 0) {
        co_return error_response(make_error(errc::resource_conflict,
                                            "The operation cannot be performed at this time. An update is in progress "
                                            "for resource: " + options_.account.function_arn(ref->name)),
                                 c.request_id);
    }
    const std::string name = ref->name;
    busy_.insert(name);
    // Tags do not change the function's RevisionId: compare-and-swap on the same id.
    auto saved = co_await commit(next, next.revision_id);
    busy_.erase(name);
    if (!saved) co_return error_response(saved.error(), c.request_id);
    co_return empty_response(status::no_content, c.request_id);
}

http::response lambda_api::list_tags(const call& c) {
    auto ref = model::parse_function_name(c.seg()[2], model::name_shape::namespaced, options_.account);
    if (!ref) return error_response(ref.error(), c.request_id);
    const auto* f = find(ref->name);
    if (f == nullptr) {
        return error_response(make_error(errc::resource_not_found, not_found_message(options_.account, ref->name, ref->qualifier)),
                              c.request_id);
    }
    return json_response(status::ok, json{{"Tags", f->tags}}, c.request_id);
}

// ---- account, code ----------------------------------------------------------------------------

http::response lambda_api::account_settings(const call& c) {
    std::int64_t total = 0;
    for (const auto& [name, f] : functions_) total += f.code_size;
    json out{{"AccountLimit",
              {{"TotalCodeSize", 80530636800LL},
               {"CodeSizeUnzipped", 262144000},
               {"CodeSizeZipped", 52428800},
               {"ConcurrentExecutions", options_.concurrency_limit},
               {"UnreservedConcurrentExecutions", options_.concurrency_limit}}},
             {"AccountUsage", {{"TotalCodeSize", total}, {"FunctionCount", functions_.size()}}}};
    return json_response(status::ok, out, c.request_id);
}

http::response lambda_api::download_code(const call& c) {
    const auto* f = find(c.seg()[2]);
    const std::string want = c.seg()[3];
    if (f == nullptr || want != f->code_sha256_hex + ".zip") {
        return error_response(make_error(errc::resource_not_found, "The requested code package does not exist."),
                              c.request_id);
    }
    std::ifstream in(store_.code_path(f->code_sha256_hex), std::ios::binary);
    if (!in) {
        return error_response(make_error(errc::service, "The code package cannot be read."), c.request_id);
    }
    std::ostringstream bytes;
    bytes << in.rdbuf();
    auto res = http::make_response(status::ok, bytes.str(), "application/zip");
    res.set("x-amzn-RequestId", c.request_id);
    return res;
}

// ---- invoke -----------------------------------------------------------------------------------

asio::awaitable<http::response> lambda_api::invoke(call c, bool legacy_async) {
    auto ref = model::parse_function_name(c.seg()[2], model::name_shape::namespaced, options_.account);
    if (!ref) co_return error_response(ref.error(), c.request_id);
    auto qualifier = model::merge_qualifier(*ref, c.target.param("Qualifier"));
    if (!qualifier) co_return error_response(qualifier.error(), c.request_id);
    const auto* f = find(ref->name);
    if (f == nullptr || (*qualifier && **qualifier != "$LATEST")) {
        co_return error_response(make_error(errc::resource_not_found, not_found_message(options_.account, ref->name, *qualifier)),
                                 c.request_id);
    }
    std::string type = legacy_async ? "Event" : std::string(c.req["X-Amz-Invocation-Type"]);
    if (type.empty()) type = "RequestResponse";
    std::string log_type(c.req["X-Amz-Log-Type"]);
    if (log_type.empty()) log_type = "None";
    model::violations v;
    if (type != "RequestResponse" && type != "Event" && type != "DryRun") {
        v.add(model::violations::quote(type), "invocationType",
              "Member must satisfy enum value set: [Event, RequestResponse, DryRun]");
    }
    if (log_type != "None" && log_type != "Tail") {
        v.add(model::violations::quote(log_type), "logType", "Member must satisfy enum value set: [None, Tail]");
    }
    if (!v.empty()) co_return error_response(v.as_error(), c.request_id);

    std::string payload = std::move(c.req.body());
    if (payload.empty()) {
        payload = "{}";  // the stock runtimes cannot parse an empty event (contract §10)
    } else if (!json::accept(payload)) {
        std::string detail;
        try {
            const json ignored = json::parse(payload);
        } catch (const json::parse_error& e) {
            detail = e.what();
        }
        co_return error_response(make_error(errc::invalid_request_content,
                                            "Could not parse request body into json: Could not parse payload into json: " + detail),
                                 c.request_id);
    }
    std::string client_context;
    if (auto cc = c.req["X-Amz-Client-Context"]; !cc.empty()) {
        auto decoded = codec::base64_decode(cc);
        if (!decoded || !json::accept(*decoded) || !json::parse(*decoded).is_object()) {
            co_return error_response(make_error(errc::invalid_request_content,
                                                "Client context must be a valid Base64-encoded JSON object."),
                                     c.request_id);
        }
        client_context = std::move(*decoded);
    }
    if (type == "DryRun") {
        co_return empty_response(status::no_content, c.request_id);
    }

    scheduler::invoke_request req;
    req.function = *f;
    req.invoked_arn = c.seg()[2].rfind("arn:", 0) == 0 || *qualifier
                          ? (*qualifier ? options_.account.function_arn(f->name, **qualifier) : options_.account.function_arn(f->name))
                          : options_.account.function_arn(f->name);
    req.payload = std::move(payload);
    req.request_id = c.request_id;
    req.client_context = std::move(client_context);
    std::string trace(c.req["X-Amzn-Trace-Id"]);
    req.trace_id = trace.empty() ? make_trace_id() : trace;
    req.want_log_tail = log_type == "Tail";

    if (type == "Event") {
        req.asynchronous = true;
        req.want_log_tail = false;
        asio::co_spawn(io_, run_async_invoke(&scheduler_, std::move(req)), on_async_invoke_done);
        co_return empty_response(status::accepted, c.request_id);
    }

    scheduler::invoke_result res = co_await scheduler_.invoke(std::move(req));
    if (res.failure) {
        co_return error_response(*res.failure, c.request_id);
    }
    auto out = http::make_response(status::ok, std::move(res.body), res.content_type);
    out.set("x-amzn-RequestId", c.request_id);
    out.set("X-Amz-Executed-Version", res.executed_version);
    if (res.function_error) {
        out.set("X-Amz-Function-Error", *res.function_error);
    }
    if (log_type == "Tail") {
        std::string_view tail(res.log_tail);
        if (tail.size() > log_tail_bytes) tail.remove_prefix(tail.size() - log_tail_bytes);
        out.set("X-Amz-Log-Result", codec::base64_encode(tail));
    }
    co_return out;
}

}  // namespace lambent::api
