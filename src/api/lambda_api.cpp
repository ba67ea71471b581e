#include "lambent/api/lambda_api.hpp"

#include "lambent/api/errors.hpp"
#include "lambent/common/blocking.hpp"
#include "lambent/common/codec.hpp"
#include "lambent/model/validation.hpp"
#include "lambent/scheduler/scheduler.hpp"
#include "lambent/store/store.hpp"

#include <functional>
#include <random>

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
    } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 8e888
        return make_error(errc::invalid_request_content,
                          fmt::format("Could not parse request body into json: {}", e.what()));
    }
}

/// ResourceConflictException while another change of the same function is in flight.
error update_in_progress(const model::account_context& acct, const std::string& name) {
    return make_error(errc::resource_conflict,
                      "The operation cannot be performed at this time. An update is in progress for resource: " +
                          acct.function_arn(name));
}

/// PreconditionFailedException for a stale RevisionId (functions and aliases).
error revision_mismatch() {
    return make_error(errc::precondition_failed,
                      "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias "
                      "API to retrieve the latest Revision Id");
}


}  // namespace


lambda_api::lambda_api(asio::io_context& io, asio::thread_pool& pool, store::store& store,
                       scheduler::scheduler& sched, api_options options)
    : io_(io), pool_(pool), store_(store), scheduler_(sched), options_(std::move(options)), queue_timer_(io), retention_timer_(io),
      logs_(std::make_shared<const logs::logs_api>(logs::logs_options{options_.logs_dir, options_.account.region,
                                                                        options_.account.account,
                                                                        options_.log_retention_days})) {}

void lambda_api::load() {
    auto rows = store_.load_catalog();
    for (auto& f : rows.functions) {
        const std::string name = f.name;
        functions_[name].latest = std::move(f);
    }
    for (auto& v : rows.versions) {
        auto it = functions_.find(v.name);
        if (it == functions_.end()) continue;
        const int n = std::stoi(v.version);
        it->second.last_version = std::max(it->second.last_version, n);
        it->second.versions.emplace(n, std::move(v));
    }
    for (auto& [fn, a] : rows.aliases) {
        auto it = functions_.find(fn);
        if (it != functions_.end()) it->second.aliases.emplace(a.name, std::move(a));
    }
    for (auto& l : rows.layers) {
        auto& entry = layers_[l.name];
        entry.last_version = std::max(entry.last_version, l.version);
        entry.versions.emplace(l.version, std::move(l));
    }
    for (const auto& [layer, last] : rows.layer_last_versions) {
        layers_[layer].last_version = std::max(layers_[layer].last_version, last);
    }
    for (const auto& row : rows.settings) {
        auto it = functions_.find(row.function);
        if (it == functions_.end()) continue;
        if (row.kind == "reserved_concurrency") {
            it->second.reserved_concurrency = std::stoi(row.value);
            scheduler_.set_reserved_concurrency(row.function, it->second.reserved_concurrency);
        } else if (row.kind == "provisioned") {
            auto j = json::parse(row.value, nullptr, false);
            if (!j.is_discarded()) {
                it->second.provisioned[row.qualifier] = {j.value("requested", 0), j.value("last_modified_ms", std::int64_t{0})};
            }
        } else if (row.kind == "url") {
            auto j = json::parse(row.value, nullptr, false);
            if (!j.is_discarded() && j.contains("id")) {
                it->second.urls[row.qualifier] = j;
                url_ids_[j["id"].get<std::string>()] = {row.function, row.qualifier};
            }
        } else if (row.kind == "event_invoke_config") {
            auto j = json::parse(row.value, nullptr, false);
            if (!j.is_discarded()) invoke_configs_[{row.function, row.qualifier}] = j;
        } else if (row.kind == "last_version") {
            it->second.last_version = std::max(it->second.last_version, std::stoi(row.value));
        }
    }
}

void lambda_api::start_log_retention() {
    if (options_.log_retention_days <= 0 || stopped_) return;
    auto logs = logs_;
    asio::post(pool_, [logs]() { logs->apply_retention(); });
    retention_timer_.expires_after(std::chrono::hours(1));
    retention_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
        if (ec) return;
        if (auto self = weak.lock()) self->start_log_retention();
    });
}

void lambda_api::restore_provisioned() {
    for (const auto& [name, e] : functions_) {
        for (const auto& [qualifier, value] : e.provisioned) {
            auto target = resolve(e, qualifier, false);
            if (target) scheduler_.set_provisioned(*target->record, value.first);
        }
    }
}

const lambda_api::function_entry* lambda_api::find(const std::string& name) const {
    auto it = functions_.find(name);
    return it == functions_.end() ? nullptr : &it->second;
}

result<const lambda_api::function_entry*> lambda_api::find_existing(const std::string& name) const {
    const auto* e = find(name);
    if (e == nullptr) return make_error(errc::resource_not_found, not_found_message(options_.account, name, std::nullopt));
    return e;
}

namespace {

std::shared_ptr<const model::function_record> snapshot_of(const lambda_api::function_entry& e,
                                                          const model::function_record& r) {
    auto& slot = &r == &e.latest ? e.latest_snapshot : e.version_snapshots[std::stoi(r.version)];
    if (!slot || slot->revision_id != r.revision_id) {
        slot = std::make_shared<const model::function_record>(r);
    }
    return slot;
}

}  // namespace

result<lambda_api::resolved> lambda_api::resolve(const function_entry& e, const std::optional<std::string>& qualifier,
                                                  bool invoking) const {
    auto r = resolve_record(e, qualifier, invoking);
    if (r && invoking) r->snapshot = snapshot_of(e, *r->record);
    return r;
}

result<lambda_api::resolved> lambda_api::resolve_record(const function_entry& e, const std::optional<std::string>& qualifier,
                                                         bool invoking) const {
    const std::string& name = e.latest.name;
    resolved r;
    if (!qualifier || *qualifier == "$LATEST") {
        r.record = &e.latest;
        r.arn = qualifier ? options_.account.function_arn(name, *qualifier) : options_.account.function_arn(name);
        return r;
    }
    r.arn = options_.account.function_arn(name, *qualifier);
    const bool numeric = std::all_of(qualifier->begin(), qualifier->end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    if (numeric) {
        auto it = e.versions.find(std::stoi(*qualifier));
        if (it == e.versions.end()) {
            return make_error(errc::resource_not_found, not_found_message(options_.account, name, qualifier));
        }
        r.record = &it->second;
        return r;
    }
    auto a = e.aliases.find(*qualifier);
    if (a == e.aliases.end()) {
        return make_error(errc::resource_not_found, not_found_message(options_.account, name, qualifier));
    }
    std::string version = a->second.function_version;
    if (invoking && !a->second.additional_weights.empty()) {
        // Weighted routing: the additional version runs with its weight, the alias's version otherwise.
        thread_local std::mt19937_64 rng{std::random_device{}()};
        const auto& [extra, weight] = *a->second.additional_weights.begin();
        if (std::uniform_real_distribution<double>(0.0, 1.0)(rng) < weight) version = extra;
    }
    if (version == "$LATEST") {
        r.record = &e.latest;
        return r;
    }
    auto it = e.versions.find(std::stoi(version));
    if (it == e.versions.end()) {
        return make_error(errc::resource_not_found, not_found_message(options_.account, name, version));
    }
    r.record = &it->second;
    return r;
}

int lambda_api::unreserved_concurrency() const {
    int reserved = 0;
    for (const auto& [name, e] : functions_) reserved += e.reserved_concurrency.value_or(0);
    return options_.concurrency_limit - reserved;
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
    if (s.size() == 4 && s[0] == "2018-10-31" && s[1] == "layers" && s[3] == "versions") {
        return create_body_limit;  // PublishLayerVersion carries a ZIP like CreateFunction
    }
    if (!s.empty() && s[0] == "lambda-url") {
        return sync_payload_limit;
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
    else if (s.size() == 4 && s[1] == "layers" && s[3] == "versions") operation = "PublishLayerVersion";
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
    if (options_.auth) {
        if (auto denied = authenticate(c)) co_return std::move(*denied);
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
        if (s.size() == 4 && s[3] == "versions") {
            if (m == bhttp::verb::post) co_return co_await publish_version(std::move(c));
            if (m == bhttp::verb::get) co_return list_versions(c);
            co_return wrong_method();
        }
        if (s.size() == 4 && s[3] == "aliases") {
            if (m == bhttp::verb::post) co_return co_await alias_operation(std::move(c));
            if (m == bhttp::verb::get) co_return list_aliases(c);
            co_return wrong_method();
        }
        if (s.size() == 5 && s[3] == "aliases") {
            if (m == bhttp::verb::get || m == bhttp::verb::put || m == bhttp::verb::delete_) {
                co_return co_await alias_operation(std::move(c));
            }
            co_return wrong_method();
        }
    }
    if (s.size() == 4 && s[0] == "2019-09-30" && s[1] == "functions" && s[3] == "provisioned-concurrency") {
        if (m == bhttp::verb::get || m == bhttp::verb::put || m == bhttp::verb::delete_) {
            co_return co_await provisioned_operation(std::move(c));
        }
        co_return wrong_method();
    }
    if (s.size() == 4 && (s[0] == "2017-10-31" || s[0] == "2019-09-30") && s[1] == "functions" && s[3] == "concurrency") {
        // Put/Delete live under 2017-10-31, Get under 2019-09-30 (AWS's model).
        if ((s[0] == "2017-10-31" && (m == bhttp::verb::put || m == bhttp::verb::delete_)) ||
            (s[0] == "2019-09-30" && m == bhttp::verb::get)) {
            co_return co_await concurrency_operation(std::move(c));
        }
        co_return wrong_method();
    }
    if (s.size() == 4 && s[0] == "2014-11-13" && s[1] == "functions" && s[3] == "invoke-async") {
        if (m == bhttp::verb::post) co_return co_await invoke(std::move(c), true);
        co_return wrong_method();
    }
    if (s.size() >= 4 && s[0] == "2019-09-25" && s[1] == "functions" && s[3] == "event-invoke-config") {
        const bool list = s.size() == 5 && s[4] == "list";
        if ((s.size() == 4 && (m == bhttp::verb::get || m == bhttp::verb::put || m == bhttp::verb::post ||
                               m == bhttp::verb::delete_)) ||
            (list && m == bhttp::verb::get)) {
            co_return co_await event_invoke_config_operation(std::move(c));
        }
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
    if (s.size() >= 2 && s[0] == "2018-10-31" && s[1] == "layers") {
        const bool layers = s.size() == 2 && m == bhttp::verb::get;
        const bool versions = s.size() == 4 && s[3] == "versions" && (m == bhttp::verb::get || m == bhttp::verb::post);
        const bool version = s.size() == 5 && s[3] == "versions" && (m == bhttp::verb::get || m == bhttp::verb::delete_);
        if (layers || versions || version) co_return co_await layer_operation(std::move(c));
        co_return wrong_method();
    }
    if (s.size() == 4 && s[0] == "_lambent" && s[1] == "layers") {
        if (m == bhttp::verb::get) co_return download_layer(c);
        co_return wrong_method();
    }
    if (s.size() == 4 && s[0] == "_lambent" && s[1] == "code") {
        if (m == bhttp::verb::get) co_return download_code(c);
        co_return wrong_method();
    }
    // The CloudWatch Logs API (AWS JSON 1.1) shares the listener: POST / with X-Amz-Target (contract §10).
    if (s.empty() && m == bhttp::verb::post && c.req["X-Amz-Target"].starts_with("Logs_20140328.")) {
        co_return co_await logs_operation(std::move(c));
    }
    if (s.size() >= 2 && s[0] == "lambda-url") {
        co_return co_await serve_function_url(std::move(c));
    }
    if (s.size() == 4 && s[0] == "2021-10-31" && s[1] == "functions" && (s[3] == "url" || s[3] == "urls")) {
        if ((s[3] == "urls" && m == bhttp::verb::get) ||
            (s[3] == "url" && (m == bhttp::verb::get || m == bhttp::verb::post || m == bhttp::verb::put ||
                               m == bhttp::verb::delete_))) {
            co_return co_await url_config_operation(std::move(c));
        }
        co_return wrong_method();
    }
    if (s.size() == 1 && s[0] == "metrics" && m == bhttp::verb::get) {
        co_return metrics_response(c);
    }
    if (s.size() >= 2 && s[0] == "_lambent" && s[1] == "faults") {
        co_return faults_operation(c);
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
        functions_[saved->name].latest = *saved;
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
    std::vector<model::function_layer> layers;
    if (parsed->layer_arns) {
        auto resolved_layers = resolve_layers(*parsed->layer_arns);
        if (!resolved_layers) co_return error_response(resolved_layers.error(), c.request_id);
        layers = std::move(*resolved_layers);
    }
    busy_.insert(name);
    store::store* st = &store_;
    auto work = [st, zip = std::move(parsed->zip), layers]() -> result<store::code_blob> {
        auto blob = st->put_code(zip);
        if (!blob) return blob;
        if (auto ready = prepare_layers(st, blob->unzipped_bytes, layers); !ready) return ready.error();
        return blob;
    };
    auto blob = co_await run_blocking(pool_, std::move(work));
    if (!blob) {
        busy_.erase(name);
        co_return error_response(blob.error(), c.request_id);
    }
    model::function_record rec = std::move(parsed->record);
    rec.layers = std::move(layers);
    rec.code_sha256_hex = blob->sha256_hex;
    rec.code_size = blob->size;
    rec.last_modified_ms = codec::now_ms().time_since_epoch().count();
    rec.revision_id = codec::uuid4();
    std::string no_revision;  // insert, not compare-and-swap (named: no temporaries across co_await on GCC 12)
    auto saved = co_await commit(std::move(rec), no_revision);
    if (!saved) {
        busy_.erase(name);
        co_return error_response(saved.error(), c.request_id);
    }
    spdlog::info("api: function created name={} runtime={} code_size={}", name, saved->runtime, saved->code_size);
    if (parsed->publish) {
        std::string no_description;
        auto version = co_await publish(name, no_description);
        busy_.erase(name);
        if (!version) co_return error_response(version.error(), c.request_id);
        co_return json_response(status::created, model::to_wire(*version, options_.account, model::fc_view::create),
                                c.request_id);
    }
    busy_.erase(name);
    co_return json_response(status::created, model::to_wire(*saved, options_.account, model::fc_view::create),
                            c.request_id);
}

http::response lambda_api::get_function(const call& c, bool configuration_only) {
    auto ref = model::parse_function_name(c.seg()[2], model::name_shape::namespaced, options_.account);
    if (!ref) return error_response(ref.error(), c.request_id);
    auto qualifier = model::merge_qualifier(*ref, c.target.param("Qualifier"));
    if (!qualifier) return error_response(qualifier.error(), c.request_id);
    const auto* e = find(ref->name);
    if (e == nullptr) {
        return error_response(make_error(errc::resource_not_found, not_found_message(options_.account, ref->name, *qualifier)),
                              c.request_id);
    }
    auto target = resolve(*e, *qualifier, false);
    if (!target) return error_response(target.error(), c.request_id);
    const auto* f = target->record;
    json config = model::to_wire(*f, options_.account, model::fc_view::get);
    if (*qualifier && **qualifier != "$LATEST" && f->version == "$LATEST") {
        config["FunctionArn"] = target->arn;  // fetched through an alias: the alias's ARN
    } else if (*qualifier && f->version != "$LATEST" && !std::all_of((*qualifier)->begin(), (*qualifier)->end(), ::isdigit)) {
        config["FunctionArn"] = target->arn;
    }
    if (configuration_only) {
        return json_response(status::ok, config, c.request_id);
    }
    std::string host(c.req[bhttp::field::host]);
    if (host.empty()) host = "127.0.0.1";
    json out{{"Configuration", config},
             {"Code",
              {{"RepositoryType", "S3"},
               {"Location", fmt::format("{}://{}/_lambent/code/{}/{}.zip", public_url_.starts_with("https:") ? "https" : "http",
                                        host, f->name, f->code_sha256_hex)}}}};
    if (!e->latest.tags.empty()) {
        out["Tags"] = e->latest.tags;
    }
    if (e->reserved_concurrency) {
        out["Concurrency"] = json{{"ReservedConcurrentExecutions", *e->reserved_concurrency}};
    }
    return json_response(status::ok, out, c.request_id);
}

namespace {

/// MaxItems of a list operation: 1..10000 (ValidationException otherwise), served in pages of at most `cap`.
result<std::size_t> page_size(const http::target& t, std::size_t cap) {
    auto m = t.param("MaxItems");
    if (!m) return cap;
    long long v = 0;
    try {
        v = std::stoll(*m);
    } catch (const std::exception&) {
        return make_error(errc::invalid_parameter_value, "MaxItems must be a number");
    }
    if (v < 1 || v > 10000) {
        model::violations viol;
        viol.add(model::violations::quote(*m), "maxItems",
                 v < 1 ? "Member must have value greater than or equal to 1" : "Member must have value less than or equal to 10000");
        return viol.as_error();
    }
    return std::min<std::size_t>(static_cast<std::size_t>(v), cap);
}

/// One list item: its sort key and how to render it (only the items of the requested page are rendered).
using list_item = std::pair<std::string, std::function<json()>>;

/// Pages through `items` (sorted by key) after the opaque Marker; writes `list_key` and NextMarker.
http::response paged(const http::target& t, const std::vector<list_item>& items, const char* list_key,
                     std::size_t cap, const std::string& request_id) {
    auto size = page_size(t, cap);
    if (!size) return error_response(size.error(), request_id);
    std::size_t start = 0;
    if (auto marker = t.param("Marker"); marker && !marker->empty()) {
        auto after = codec::base64_decode(*marker);
        if (!after) return error_response(make_error(errc::invalid_parameter_value, "The Marker is not valid."), request_id);
        start = static_cast<std::size_t>(
            std::upper_bound(items.begin(), items.end(), *after, [](const std::string& k, const auto& item) { return k < item.first; }) -
            items.begin());
    }
    json page = json::array();
    std::size_t i = start;
    for (; i < items.size() && page.size() < *size; ++i) page.push_back(items[i].second());
    json out{{list_key, page}};
    if (i < items.size()) out["NextMarker"] = codec::base64_encode(items[i - 1].first);
    return json_response(status::ok, out, request_id);
}

std::string version_key(const std::string& name, int version) { return fmt::format("{}\x01{:010d}", name, version); }

}  // namespace

http::response lambda_api::list_functions(const call& c) {
    // ListFunctions returns $LATEST of each function; FunctionVersion=ALL adds every published version.
    const bool all = c.target.param("FunctionVersion").value_or("") == "ALL";
    if (auto fv = c.target.param("FunctionVersion"); fv && !all) {
        model::violations v;
        v.add(model::violations::quote(*fv), "functionVersion", "Member must satisfy enum value set: [ALL]");
        return error_response(v.as_error(), c.request_id);
    }
    std::vector<list_item> items;
    items.reserve(functions_.size());
    const auto& acct = options_.account;
    for (const auto& [name, e] : functions_) {
        const auto* latest = &e.latest;
        items.emplace_back(version_key(name, 0), [latest, &acct]() { return model::to_wire(*latest, acct, model::fc_view::list); });
        if (all) {
            for (const auto& [n, v] : e.versions) {
                const auto* version = &v;
                items.emplace_back(version_key(name, n),
                                   [version, &acct]() { return model::to_wire(*version, acct, model::fc_view::list); });
            }
        }
    }
    return paged(c.target, items, "Functions", 50, c.request_id);
}

http::response lambda_api::list_versions(const call& c) {
    auto ref = model::parse_function_name(c.seg()[2], model::name_shape::namespaced, options_.account);
    if (!ref) return error_response(ref.error(), c.request_id);
    auto found = find_existing(ref->name);
    if (!found) return error_response(found.error(), c.request_id);
    const auto* e = *found;
    std::vector<list_item> items;
    const auto& acct = options_.account;
    const auto* latest = &e->latest;
    items.emplace_back(version_key("", 0), [latest, &acct]() { return model::to_wire(*latest, acct, model::fc_view::list); });
    for (const auto& [n, v] : e->versions) {
        const auto* version = &v;
        items.emplace_back(version_key("", n), [version, &acct]() { return model::to_wire(*version, acct, model::fc_view::list); });
    }
    return paged(c.target, items, "Versions", 50, c.request_id);
}

http::response lambda_api::list_aliases(const call& c) {
    auto ref = model::parse_function_name(c.seg()[2], model::name_shape::namespaced, options_.account);
    if (!ref) return error_response(ref.error(), c.request_id);
    auto found = find_existing(ref->name);
    if (!found) return error_response(found.error(), c.request_id);
    const auto* e = *found;
    const auto only = c.target.param("FunctionVersion");
    std::vector<list_item> items;
    const auto& acct = options_.account;
    const std::string fn = ref->name;
    for (const auto& [name, a] : e->aliases) {
        if (only && a.function_version != *only) continue;
        const auto* alias = &a;
        items.emplace_back(name, [alias, fn, &acct]() { return model::to_wire(*alias, fn, acct); });
    }
    return paged(c.target, items, "Aliases", 50, c.request_id);
}

asio::awaitable<result<model::function_record>> lambda_api::publish(std::string name, std::string description) {
    auto it = functions_.find(name);
    if (it == functions_.end()) {
        co_return make_error(errc::resource_not_found, not_found_message(options_.account, name, std::nullopt));
    }
    // Nothing changed since the last version: return it instead of publishing a copy (AWS behaviour).
    if (!it->second.versions.empty() &&
        model::same_publishable_state(it->second.versions.rbegin()->second, it->second.latest)) {
        co_return it->second.versions.rbegin()->second;
    }
    model::function_record v = it->second.latest;
    const int number = it->second.last_version + 1;
    v.version = std::to_string(number);
    v.revision_id = codec::uuid4();
    v.last_modified_ms = codec::now_ms().time_since_epoch().count();
    v.description = description.empty() ? it->second.latest.description : description;
    v.tags.clear();
    store::store* st = &store_;
    auto work = [st, v, number]() -> result<void> {
        if (auto r = st->insert_version(v); !r) return r;
        return st->put_setting({v.name, "last_version", "", std::to_string(number)});
    };
    auto saved = co_await run_blocking(pool_, std::move(work));
    if (!saved) co_return saved.error();
    it = functions_.find(name);
    if (it == functions_.end()) {
        co_return make_error(errc::resource_not_found, not_found_message(options_.account, name, std::nullopt));
    }
    it->second.last_version = number;
    it->second.versions[number] = v;
    spdlog::info("api: version published name={} version={}", name, number);
    co_return v;
}

asio::awaitable<http::response> lambda_api::publish_version(call c) {
    auto ref = model::parse_function_name(c.seg()[2], model::name_shape::function_name, options_.account);
    if (!ref) co_return error_response(ref.error(), c.request_id);
    auto body = parse_body(c.req.body());
    if (!body) co_return error_response(body.error(), c.request_id);
    auto found = find_existing(ref->name);
    if (!found) co_return error_response(found.error(), c.request_id);
    const auto* e = *found;
    const std::string sha = body->is_object() ? body->value("CodeSha256", "") : "";
    const std::string current_sha = model::code_sha256_b64(e->latest.code_sha256_hex);
    if (!sha.empty() && sha != current_sha) {
        co_return error_response(make_error(errc::invalid_parameter_value,
                                            fmt::format("CodeSHA256 ({}) is different from current CodeSHA256 in $LATEST "
                                                        "({}). Please try again with the CodeSHA256 in $LATEST.",
                                                        sha, current_sha)),
                                 c.request_id);
    }
    const std::string revision = body->is_object() ? body->value("RevisionId", "") : "";
    if (!revision.empty() && revision != e->latest.revision_id) {
        co_return error_response(revision_mismatch(),
                                 c.request_id);
    }
    const std::string name = ref->name;
    if (busy_.count(name) != 0) {
        co_return error_response(update_in_progress(options_.account, name),
                                 c.request_id);
    }
    busy_.insert(name);
    // GCC 12: no temporaries inside a co_await full-expression; name the argument first.
    std::string description = body->is_object() ? body->value("Description", "") : "";
    auto version = co_await publish(name, std::move(description));
    busy_.erase(name);
    if (!version) co_return error_response(version.error(), c.request_id);
    co_return json_response(status::created, model::to_wire(*version, options_.account, model::fc_view::get), c.request_id);
}

asio::awaitable<http::response> lambda_api::update_code(call c) {
    auto ref = model::parse_function_name(c.seg()[2], model::name_shape::function_name, options_.account);
    if (!ref) co_return error_response(ref.error(), c.request_id);
    auto body = parse_body(c.req.body());
    if (!body) co_return error_response(body.error(), c.request_id);
    auto update = model::decode_update_code(*body);
    if (!update) co_return error_response(update.error(), c.request_id);
    const auto* entry = find(ref->name);
    const model::function_record* f = entry == nullptr ? nullptr : &entry->latest;
    if (f == nullptr || (ref->qualifier && *ref->qualifier != "$LATEST")) {
        co_return error_response(make_error(errc::resource_not_found, not_found_message(options_.account, ref->name, ref->qualifier)),
                                 c.request_id);
    }
    if (busy_.count(ref->name) != 0) {
        co_return error_response(update_in_progress(options_.account, ref->name),
                                 c.request_id);
    }
    if (update->revision_id && *update->revision_id != f->revision_id) {
        co_return error_response(revision_mismatch(),
                                 c.request_id);
    }
    const std::string name = ref->name;
    busy_.insert(name);
    store::store* st = &store_;
    auto work = [st, zip = std::move(update->zip), layers = f->layers]() -> result<store::code_blob> {
        auto blob = st->put_code(zip);
        if (!blob) return blob;
        if (auto ready = prepare_layers(st, blob->unzipped_bytes, layers); !ready) return ready.error();
        return blob;
    };
    auto blob = co_await run_blocking(pool_, std::move(work));
    if (!blob) {
        busy_.erase(name);
        co_return error_response(blob.error(), c.request_id);
    }
    entry = find(name);
    f = entry == nullptr ? nullptr : &entry->latest;
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
    if (!saved) {
        busy_.erase(name);
        co_return error_response(saved.error(), c.request_id);
    }
    scheduler_.retire(name, "$LATEST");
    spdlog::info("api: function code updated name={} code_size={}", name, saved->code_size);
    if (update->publish) {
        std::string no_description;
        auto version = co_await publish(name, no_description);
        busy_.erase(name);
        if (!version) co_return error_response(version.error(), c.request_id);
        co_return json_response(status::ok, model::to_wire(*version, options_.account, model::fc_view::update), c.request_id);
    }
    busy_.erase(name);
    co_return json_response(status::ok, model::to_wire(*saved, options_.account, model::fc_view::update), c.request_id);
}

asio::awaitable<http::response> lambda_api::update_configuration(call c) {
    auto ref = model::parse_function_name(c.seg()[2], model::name_shape::function_name, options_.account);
    if (!ref) co_return error_response(ref.error(), c.request_id);
    auto body = parse_body(c.req.body());
    if (!body) co_return error_response(body.error(), c.request_id);
    auto update = model::decode_update_configuration(*body);
    if (!update) co_return error_response(update.error(), c.request_id);
    const auto* entry = find(ref->name);
    const model::function_record* f = entry == nullptr ? nullptr : &entry->latest;
    if (f == nullptr || (ref->qualifier && *ref->qualifier != "$LATEST")) {
        co_return error_response(make_error(errc::resource_not_found, not_found_message(options_.account, ref->name, ref->qualifier)),
                                 c.request_id);
    }
    if (busy_.count(ref->name) != 0) {
        co_return error_response(update_in_progress(options_.account, ref->name),
                                 c.request_id);
    }
    if (update->revision_id && *update->revision_id != f->revision_id) {
        co_return error_response(revision_mismatch(),
                                 c.request_id);
    }
    const std::string name = ref->name;
    model::function_record next = *f;
    const std::string expected = f->revision_id;
    model::apply_configuration(next, *update);
    next.last_modified_ms = codec::now_ms().time_since_epoch().count();
    next.revision_id = codec::uuid4();
    if (update->layer_arns) {
        auto resolved_layers = resolve_layers(*update->layer_arns);
        if (!resolved_layers) co_return error_response(resolved_layers.error(), c.request_id);
        next.layers = std::move(*resolved_layers);
    }
    busy_.insert(name);
    if (update->layer_arns && !next.layers.empty()) {
        store::store* st = &store_;
        auto prepare = [st, sha = next.code_sha256_hex, layers = next.layers]() -> result<void> {
            auto code_bytes = st->unpacked_bytes(sha);
            if (!code_bytes) return code_bytes.error();
            return prepare_layers(st, *code_bytes, layers);
        };
        auto ready = co_await run_blocking(pool_, std::move(prepare));
        if (!ready) {
            busy_.erase(name);
            co_return error_response(ready.error(), c.request_id);
        }
    }
    auto saved = co_await commit(std::move(next), expected);
    busy_.erase(name);
    if (!saved) co_return error_response(saved.error(), c.request_id);
    scheduler_.retire(name, "$LATEST");
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
    const auto* entry = find(ref->name);
    if (entry == nullptr) {
        co_return error_response(make_error(errc::resource_not_found, not_found_message(options_.account, ref->name, *qualifier)),
                                 c.request_id);
    }
    const std::string name = ref->name;
    if (*qualifier) {
        // Deleting one published version (aliases cannot be deleted here, only versions).
        const std::string version = **qualifier;
        const bool numeric = std::all_of(version.begin(), version.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
        if (!numeric || entry->versions.count(std::stoi(version)) == 0) {
            co_return error_response(make_error(errc::resource_not_found, not_found_message(options_.account, name, version)),
                                     c.request_id);
        }
        std::vector<std::string> users;
        for (const auto& [alias, a] : entry->aliases) {
            if (a.function_version == version || a.additional_weights.count(version) != 0) users.push_back(alias);
        }
        if (!users.empty()) {
            co_return error_response(make_error(errc::resource_conflict,
                                                fmt::format("Unable to delete version because the following aliases "
                                                            "reference it: [{}]",
                                                            fmt::join(users, ", "))),
                                     c.request_id);
        }
        store::store* st = &store_;
        auto drop = [st, name, version]() { return st->delete_version(name, version); };
        auto removed = co_await run_blocking(pool_, std::move(drop));
        if (!removed) co_return error_response(removed.error(), c.request_id);
        if (auto it = functions_.find(name); it != functions_.end()) it->second.versions.erase(std::stoi(version));
        scheduler_.retire(name, version);
        co_return empty_response(status::no_content, c.request_id);
    }
    if (busy_.count(name) != 0) {
        co_return error_response(update_in_progress(options_.account, name),
                                 c.request_id);
    }
    busy_.insert(name);
    store::store* st = &store_;
    auto work = [st, name]() { return st->delete_function(name); };
    auto removed = co_await run_blocking(pool_, std::move(work));
    busy_.erase(name);
    if (!removed) co_return error_response(removed.error(), c.request_id);
    for (auto it = url_ids_.begin(); it != url_ids_.end();) {
        it = it->second.first == name ? url_ids_.erase(it) : std::next(it);
    }
    functions_.erase(name);
    for (auto it = invoke_configs_.begin(); it != invoke_configs_.end();) {
        it = it->first.first == name ? invoke_configs_.erase(it) : std::next(it);
    }
    scheduler_.retire(name, "");
    scheduler_.set_reserved_concurrency(name, std::nullopt);
    spdlog::info("api: function deleted name={}", name);
    co_return empty_response(status::no_content, c.request_id);
}

// ---- metrics ----------------------------------------------------------------------------------

http::response lambda_api::metrics_response(const call& c) const {
    std::int64_t oldest = 0;
    const std::int64_t now = codec::now_ms().time_since_epoch().count();
    for (const auto& [id, e] : queue_) oldest = std::max(oldest, now - e.enqueued_ms);
    const std::string extra = fmt::format(
        "# HELP lambent_functions Functions deployed\n# TYPE lambent_functions gauge\nlambent_functions {}\n"
        "# HELP lambent_async_queue_depth Asynchronous events accepted and not finished\n"
        "# TYPE lambent_async_queue_depth gauge\nlambent_async_queue_depth {}\n"
        "# HELP lambent_async_oldest_event_age_seconds Age of the oldest queued asynchronous event\n"
        "# TYPE lambent_async_oldest_event_age_seconds gauge\nlambent_async_oldest_event_age_seconds {}\n",
        functions_.size(), queue_.size(), static_cast<double>(oldest) / 1000.0);
    auto res = http::make_response(status::ok, scheduler_.render_metrics(extra), "text/plain; version=0.0.4");
    res.set("x-amzn-RequestId", c.request_id);
    return res;
}

// ---- CloudWatch Logs ----------------------------------------------------------------------------

asio::awaitable<http::response> lambda_api::logs_operation(call c) {
    std::string operation(c.req["X-Amz-Target"].substr(std::string_view("Logs_20140328.").size()));
    std::string body = std::move(c.req.body());
    auto logs = logs_;
    auto work = [logs, operation, body]() { return logs->handle(operation, body); };
    auto reply = co_await run_blocking(pool_, std::move(work));
    auto res = http::make_response(static_cast<status>(reply.status), std::move(reply.body), logs::logs_api::content_type);
    res.set("x-amzn-RequestId", c.request_id);
    if (!reply.error_type.empty()) res.set("x-amzn-ErrorType", reply.error_type);
    co_return res;
}

// ---- aliases ----------------------------------------------------------------------------------

asio::awaitable<http::response> lambda_api::alias_operation(call c) {
    const bool create = c.seg().size() == 4;
    const auto m = c.req.method();
    auto ref = model::parse_function_name(c.seg()[2], model::name_shape::function_name, options_.account);
    if (!ref) co_return error_response(ref.error(), c.request_id);
    auto found = find_existing(ref->name);
    if (!found) co_return error_response(found.error(), c.request_id);
    const auto* e = *found;
    const std::string fn = ref->name;
    std::string alias_name = create ? "" : c.seg()[4];
    if (!create) {
        if (auto ok = model::check_alias_name(alias_name); !ok) co_return error_response(ok.error(), c.request_id);
    }
    const auto missing = [&]() {
        return error_response(make_error(errc::resource_not_found,
                                         "Cannot find alias arn: " + options_.account.function_arn(fn, alias_name)),
                              c.request_id);
    };
    if (m == bhttp::verb::get) {
        auto it = e->aliases.find(alias_name);
        if (it == e->aliases.end()) co_return missing();
        co_return json_response(status::ok, model::to_wire(it->second, fn, options_.account), c.request_id);
    }
    if (m == bhttp::verb::delete_) {
        if (e->aliases.count(alias_name) == 0) co_return empty_response(status::no_content, c.request_id);
        store::store* st = &store_;
        auto drop = [st, fn, alias_name]() { return st->delete_alias(fn, alias_name); };
        auto removed = co_await run_blocking(pool_, std::move(drop));
        if (!removed) co_return error_response(removed.error(), c.request_id);
        if (auto it = functions_.find(fn); it != functions_.end()) it->second.aliases.erase(alias_name);
        co_return empty_response(status::no_content, c.request_id);
    }
    auto body = parse_body(c.req.body());
    if (!body) co_return error_response(body.error(), c.request_id);
    auto request = model::decode_alias_request(*body, create);
    if (!request) co_return error_response(request.error(), c.request_id);
    model::alias_record next;
    std::string expected;
    if (create) {
        alias_name = *request->name;
        if (e->aliases.count(alias_name) != 0) {
            co_return error_response(make_error(errc::resource_conflict,
                                                "Alias already exists: " + options_.account.function_arn(fn, alias_name)),
                                     c.request_id);
        }
        next.name = alias_name;
    } else {
        auto it = e->aliases.find(alias_name);
        if (it == e->aliases.end()) co_return missing();
        if (request->revision_id && *request->revision_id != it->second.revision_id) {
            co_return error_response(revision_mismatch(),
                                     c.request_id);
        }
        next = it->second;
        expected = it->second.revision_id;
    }
    if (request->function_version) next.function_version = *request->function_version;
    if (request->description) next.description = *request->description;
    if (request->weights) next.additional_weights = *request->weights;
    // Every version the alias routes to must exist; weighted routing needs published versions.
    auto exists = [e](const std::string& v) { return v == "$LATEST" || e->versions.count(std::stoi(v)) != 0; };
    if (!exists(next.function_version)) {
        co_return error_response(make_error(errc::resource_not_found,
                                            not_found_message(options_.account, fn, next.function_version)),
                                 c.request_id);
    }
    for (const auto& [version, weight] : next.additional_weights) {
        if (next.function_version == "$LATEST") {
            co_return error_response(make_error(errc::invalid_parameter_value,
                                                "$LATEST is not supported for an alias pointing to more than 1 version"),
                                     c.request_id);
        }
        if (!exists(version)) {
            co_return error_response(make_error(errc::resource_not_found, not_found_message(options_.account, fn, version)),
                                     c.request_id);
        }
        if (version == next.function_version) {
            co_return error_response(make_error(errc::invalid_parameter_value,
                                                "Invalid function version " + version +
                                                    ". Function version " + version + " is already included in routing configuration."),
                                     c.request_id);
        }
    }
    next.revision_id = codec::uuid4();
    store::store* st = &store_;
    auto save = [st, fn, next, expected]() { return st->put_alias(fn, next, expected); };
    auto saved = co_await run_blocking(pool_, std::move(save));
    if (!saved) {
        auto err = saved.error();
        if (err.code == errc::resource_conflict) err.message = "Alias already exists: " + options_.account.function_arn(fn, alias_name);
        co_return error_response(err, c.request_id);
    }
    if (auto it = functions_.find(fn); it != functions_.end()) it->second.aliases[next.name] = next;
    co_return json_response(create ? status::created : status::ok, model::to_wire(next, fn, options_.account), c.request_id);
}

// ---- concurrency ------------------------------------------------------------------------------

asio::awaitable<http::response> lambda_api::concurrency_operation(call c) {
    auto ref = model::parse_function_name(c.seg()[2], model::name_shape::function_name, options_.account);
    if (!ref) co_return error_response(ref.error(), c.request_id);
    auto found = find_existing(ref->name);
    if (!found) co_return error_response(found.error(), c.request_id);
    const auto* e = *found;
    const std::string fn = ref->name;
    const auto m = c.req.method();
    if (m == bhttp::verb::get) {
        json out = json::object();
        if (e->reserved_concurrency) out["ReservedConcurrentExecutions"] = *e->reserved_concurrency;
        co_return json_response(status::ok, out, c.request_id);
    }
    store::store* st = &store_;
    if (m == bhttp::verb::delete_) {
        auto drop = [st, fn]() { return st->delete_setting(fn, "reserved_concurrency", ""); };
        auto removed = co_await run_blocking(pool_, std::move(drop));
        if (!removed) co_return error_response(removed.error(), c.request_id);
        if (auto it = functions_.find(fn); it != functions_.end()) it->second.reserved_concurrency.reset();
        scheduler_.set_reserved_concurrency(fn, std::nullopt);
        co_return empty_response(status::no_content, c.request_id);
    }
    auto body = parse_body(c.req.body());
    if (!body) co_return error_response(body.error(), c.request_id);
    auto value = body->is_object() ? body->find("ReservedConcurrentExecutions") : body->end();
    if (!body->is_object() || value == body->end() || value->is_null()) {
        model::violations v;
        v.add("null", "reservedConcurrentExecutions", "Member must not be null");
        co_return error_response(v.as_error(), c.request_id);
    }
    if (!value->is_number_integer()) {
        co_return error_response(make_error(errc::invalid_request_content,
                                            "Could not parse request body into json: ReservedConcurrentExecutions must be an integer"),
                                 c.request_id);
    }
    const long long reserved = value->get<long long>();
    if (reserved < 0) {
        model::violations v;
        v.add(model::violations::quote(std::to_string(reserved)), "reservedConcurrentExecutions",
              "Member must have value greater than or equal to 0");
        co_return error_response(v.as_error(), c.request_id);
    }
    // AWS keeps at least 100 of 1000 unreserved: a tenth of the account limit here, at most 100.
    const int minimum_unreserved = std::min(100, options_.concurrency_limit / 10);
    const int unreserved_after = unreserved_concurrency() + e->reserved_concurrency.value_or(0) - static_cast<int>(reserved);
    if (unreserved_after < minimum_unreserved) {
        co_return error_response(make_error(errc::invalid_parameter_value,
                                            fmt::format("Specified ReservedConcurrentExecutions for function decreases "
                                                        "account's UnreservedConcurrentExecution below its minimum value "
                                                        "of [{}].",
                                                        minimum_unreserved)),
                                 c.request_id);
    }
    const int n = static_cast<int>(reserved);
    auto save = [st, fn, n]() { return st->put_setting({fn, "reserved_concurrency", "", std::to_string(n)}); };
    auto saved = co_await run_blocking(pool_, std::move(save));
    if (!saved) co_return error_response(saved.error(), c.request_id);
    if (auto it = functions_.find(fn); it != functions_.end()) it->second.reserved_concurrency = n;
    scheduler_.set_reserved_concurrency(fn, n);
    co_return json_response(status::ok, json{{"ReservedConcurrentExecutions", n}}, c.request_id);
}

// ---- provisioned concurrency --------------------------------------------------------------------

json lambda_api::provisioned_wire(const std::string& function, const std::string& qualifier) const {
    const auto* e = find(function);
    const auto& [requested, modified] = e->provisioned.at(qualifier);
    auto target = resolve(*e, qualifier, false);
    const auto st = target ? scheduler_.provisioned(*target->record) : scheduler::scheduler::provisioned_status{};
    json out{{"RequestedProvisionedConcurrentExecutions", requested},
             {"AvailableProvisionedConcurrentExecutions", st.ready},
             {"AllocatedProvisionedConcurrentExecutions", st.ready},
             {"Status", st.ready >= requested ? "READY" : "IN_PROGRESS"},
             {"LastModified", codec::lambda_timestamp(codec::sys_ms{std::chrono::milliseconds{modified}})}};
    return out;
}

asio::awaitable<http::response> lambda_api::provisioned_operation(call c) {
    auto ref = model::parse_function_name(c.seg()[2], model::name_shape::function_name, options_.account);
    if (!ref) co_return error_response(ref.error(), c.request_id);
    auto found = find_existing(ref->name);
    if (!found) co_return error_response(found.error(), c.request_id);
    const auto* e = *found;
    const std::string fn = ref->name;
    const auto m = c.req.method();
    if (m == bhttp::verb::get && c.target.param("List").value_or("") == "ALL") {
        json items = json::array();
        for (const auto& [qualifier, value] : e->provisioned) {
            json item = provisioned_wire(fn, qualifier);
            item["FunctionArn"] = options_.account.function_arn(fn, qualifier);
            items.push_back(item);
        }
        co_return json_response(status::ok, json{{"ProvisionedConcurrencyConfigs", items}}, c.request_id);
    }
    auto qualifier = model::merge_qualifier(*ref, c.target.param("Qualifier"));
    if (!qualifier) co_return error_response(qualifier.error(), c.request_id);
    if (!*qualifier) {
        model::violations v;
        v.add("null", "qualifier", "Member must not be null");
        co_return error_response(v.as_error(), c.request_id);
    }
    const std::string q = **qualifier;
    if (q == "$LATEST") {
        co_return error_response(make_error(errc::invalid_parameter_value,
                                            "Provisioned Concurrency Configs cannot be applied to unpublished function "
                                            "versions."),
                                 c.request_id);
    }
    auto target = resolve(*e, q, false);
    if (!target) co_return error_response(target.error(), c.request_id);
    const auto not_found = [&]() {
        return error_response(make_error(errc::provisioned_not_found, "No Provisioned Concurrency Config found for this function"),
                              c.request_id);
    };
    if (m == bhttp::verb::get) {
        if (e->provisioned.count(q) == 0) co_return not_found();
        co_return json_response(status::ok, provisioned_wire(fn, q), c.request_id);
    }
    store::store* st = &store_;
    if (m == bhttp::verb::delete_) {
        if (e->provisioned.count(q) == 0) co_return not_found();
        auto drop = [st, fn, q]() { return st->delete_setting(fn, "provisioned", q); };
        auto removed = co_await run_blocking(pool_, std::move(drop));
        if (!removed) co_return error_response(removed.error(), c.request_id);
        scheduler_.set_provisioned(*target->record, 0);
        if (auto it = functions_.find(fn); it != functions_.end()) it->second.provisioned.erase(q);
        co_return empty_response(status::no_content, c.request_id);
    }
    auto body = parse_body(c.req.body());
    if (!body) co_return error_response(body.error(), c.request_id);
    auto value = body->is_object() ? body->find("ProvisionedConcurrentExecutions") : body->end();
    if (!body->is_object() || value == body->end() || !value->is_number_integer()) {
        model::violations v;
        v.add("null", "provisionedConcurrentExecutions", "Member must not be null");
        co_return error_response(v.as_error(), c.request_id);
    }
    const long long requested = value->get<long long>();
    if (requested < 1) {
        model::violations v;
        v.add(model::violations::quote(std::to_string(requested)), "provisionedConcurrentExecutions",
              "Member must have value greater than or equal to 1");
        co_return error_response(v.as_error(), c.request_id);
    }
    int total = static_cast<int>(requested);
    for (const auto& [other, val] : e->provisioned) {
        if (other != q) total += val.first;
    }
    if (e->reserved_concurrency && total > *e->reserved_concurrency) {
        co_return error_response(make_error(errc::invalid_parameter_value,
                                            fmt::format(" ReservedConcurrentExecutions  {} should not be lower than "
                                                        "function's total provisioned concurrency [{}].",
                                                        *e->reserved_concurrency, total)),
                                 c.request_id);
    }
    if (total > unreserved_concurrency() + e->reserved_concurrency.value_or(0)) {
        co_return error_response(make_error(errc::invalid_parameter_value,
                                            "Requested Provisioned Concurrency should not be greater than the "
                                            "account's unreserved concurrency."),
                                 c.request_id);
    }
    const int n = static_cast<int>(requested);
    const std::int64_t now = codec::now_ms().time_since_epoch().count();
    const std::string text = json{{"requested", n}, {"last_modified_ms", now}}.dump();
    auto save = [st, fn, q, text]() { return st->put_setting({fn, "provisioned", q, text}); };
    auto saved = co_await run_blocking(pool_, std::move(save));
    if (!saved) co_return error_response(saved.error(), c.request_id);
    if (auto it = functions_.find(fn); it != functions_.end()) it->second.provisioned[q] = {n, now};
    scheduler_.set_provisioned(*target->record, n);
    co_return json_response(status::accepted, provisioned_wire(fn, q), c.request_id);
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
    const auto* e = find(ref->name);
    if (e == nullptr) {
        co_return error_response(make_error(errc::resource_not_found, not_found_message(options_.account, ref->name, ref->qualifier)),
                                 c.request_id);
    }
    model::function_record next = e->latest;
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
        co_return error_response(update_in_progress(options_.account, ref->name),
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
    const auto* e = find(ref->name);
    if (e == nullptr) {
        return error_response(make_error(errc::resource_not_found, not_found_message(options_.account, ref->name, ref->qualifier)),
                              c.request_id);
    }
    return json_response(status::ok, json{{"Tags", e->latest.tags}}, c.request_id);
}

// ---- account, code ----------------------------------------------------------------------------

http::response lambda_api::account_settings(const call& c) {
    std::int64_t total = 0;
    for (const auto& [name, e] : functions_) {
        total += e.latest.code_size;
        for (const auto& [n, v] : e.versions) total += v.code_size;
    }
    json out{{"AccountLimit",
              {{"TotalCodeSize", 80530636800LL},
               {"CodeSizeUnzipped", 262144000},
               {"CodeSizeZipped", 52428800},
               {"ConcurrentExecutions", options_.concurrency_limit},
               {"UnreservedConcurrentExecutions", unreserved_concurrency()}}},
             {"AccountUsage", {{"TotalCodeSize", total}, {"FunctionCount", functions_.size()}}}};
    return json_response(status::ok, out, c.request_id);
}

http::response lambda_api::download_code(const call& c) {
    const auto* e = find(c.seg()[2]);
    const std::string want = c.seg()[3];
    const model::function_record* f = nullptr;
    if (e != nullptr) {
        if (want == e->latest.code_sha256_hex + ".zip") f = &e->latest;
        for (const auto& [n, v] : e->versions) {
            if (want == v.code_sha256_hex + ".zip") f = &v;
        }
    }
    if (f == nullptr) {
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
    const auto* entry = find(ref->name);
    if (entry == nullptr) {
        co_return error_response(make_error(errc::resource_not_found, not_found_message(options_.account, ref->name, *qualifier)),
                                 c.request_id);
    }
    auto target = resolve(*entry, *qualifier, true);
    if (!target) co_return error_response(target.error(), c.request_id);
    const model::function_record* f = target->record;
    const std::string_view type_header =
        legacy_async ? std::string_view("Event") : std::string_view(c.req["X-Amz-Invocation-Type"]);
    auto options = model::decode_invoke_options(type_header, c.req["X-Amz-Log-Type"], c.req["X-Amz-Client-Context"]);
    if (!options) co_return error_response(options.error(), c.request_id);
    const std::string type = options->invocation_type;
    const std::string log_type = options->log_type;
    std::string payload = std::move(c.req.body());
    if (auto checked = model::check_invoke_payload(payload); !checked) {
        co_return error_response(checked.error(), c.request_id);
    }
    if (payload.empty()) {
        payload = "{}";  // the stock runtimes cannot parse an empty event (contract §10)
    }
    std::string client_context = std::move(options->client_context);
    if (type == "DryRun") {
        co_return empty_response(status::no_content, c.request_id);
    }

    scheduler::invoke_request req;
    req.function = target->snapshot;
    req.invoked_arn = target->arn;
    req.payload = std::move(payload);
    req.request_id = c.request_id;
    req.client_context = std::move(client_context);
    std::string trace(c.req["X-Amzn-Trace-Id"]);
    req.trace_id = trace.empty() ? codec::xray_trace_id(std::chrono::duration_cast<std::chrono::seconds>(
                                                             std::chrono::system_clock::now().time_since_epoch())
                                                             .count())
                                  : trace;
    req.want_log_tail = log_type == "Tail";

    if (type == "Event") {
        // Durable before the 202: the event survives a restart or a crash and runs afterwards.
        store::async_event e;
        e.id = c.request_id;
        e.function = f->name;
        e.qualifier = qualifier->value_or("");
        e.payload = std::move(req.payload);
        e.enqueued_ms = codec::now_ms().time_since_epoch().count();
        e.next_attempt_ms = e.enqueued_ms;
        auto queued = co_await enqueue(std::move(e));
        if (!queued) co_return error_response(queued.error(), c.request_id);
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
