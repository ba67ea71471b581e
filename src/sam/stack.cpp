// A running SAM template: deployment through the Lambda API's own handlers, Schedule events, S3 event
// notifications and the --watch hot reload.

#include "stack_impl.hpp"

#include "lambent/cli/zip_folder.hpp"
#include "lambent/common/blocking.hpp"
#include "lambent/common/codec.hpp"
#include "lambent/sam/schedule.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <sys/inotify.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace lambent::sam {

using nlohmann::json;
namespace fs = std::filesystem;
using status = bhttp::status;

namespace {

constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

/// Prints one line on stdout (for people and scripts; the server log is on stderr).
void say(const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
}

json body_json(const http::response& res) {
    auto j = json::parse(res.body(), nullptr, false);
    return j.is_discarded() ? json::object() : j;
}

error api_error(const std::string& what, const http::response& res) {
    const auto j = body_json(res);
    std::string message = j.is_object() ? j.value("Message", j.value("message", res.body())) : res.body();
    std::string type(res["x-amzn-ErrorType"]);
    return make_error(errc::validation, fmt::format("{}: {} {}", what, type.empty() ? std::to_string(res.result_int()) : type, message));
}

/// The deployment package of a function: a folder zipped, a ZIP file read, inline code written as the
/// handler's module and zipped (with a fixed modification time, so an unchanged template gives the same bytes).
result<std::string> build_package(const code_source& code, const std::string& handler, const std::string& runtime,
                                  const fs::path& inline_dir) {
    switch (code.type) {
        case code_source::kind::folder: {
            auto z = cli::zip_folder(code.path);
            if (!z) return z.error();
            return std::move(z->bytes);
        }
        case code_source::kind::zip: {
            std::ifstream in(code.path, std::ios::binary);
            if (!in) return make_error(errc::validation, "cannot read " + code.path.string());
            std::stringstream bytes;
            bytes << in.rdbuf();
            return bytes.str();
        }
        case code_source::kind::inline_code: {
            std::error_code ec;
            fs::remove_all(inline_dir, ec);
            fs::create_directories(inline_dir, ec);
            if (ec) return make_error(errc::service, "cannot create " + inline_dir.string() + ": " + ec.message());
            const auto dot = handler.rfind('.');
            const std::string module = dot == std::string::npos ? "index" : handler.substr(0, dot);
            const std::string ext = runtime.starts_with("python") ? ".py" : runtime.starts_with("nodejs") ? ".js" : "";
            const auto file = inline_dir / (module + ext);
            fs::create_directories(file.parent_path(), ec);
            {
                std::ofstream out(file, std::ios::binary | std::ios::trunc);
                out << code.text;
                if (!out) return make_error(errc::service, "cannot write " + file.string());
            }
            fs::last_write_time(file, fs::file_time_type(std::chrono::seconds(1577836800)), ec);  // 2020-01-01
            auto z = cli::zip_folder(inline_dir);
            if (!z) return z.error();
            return std::move(z->bytes);
        }
    }
    return make_error(errc::service, "unknown code source");
}

std::string fn_path(const std::string& name) { return "/2015-03-31/functions/" + name; }

std::string qualifier_query(const std::string& q) { return q.empty() ? "" : "?Qualifier=" + q; }

}  // namespace

// ---- the Lambda API, in process ---------------------------------------------------------------

asio::awaitable<http::response> stack_impl::call(bhttp::verb method, std::string target, std::string body,
                                                 std::string invocation_type) {
    http::request req{method, target, 11};
    req.set(bhttp::field::host, "localhost");
    req.set(bhttp::field::content_type, "application/json");
    req.set(bhttp::field::user_agent, "lambent-template");
    if (!invocation_type.empty()) req.set("X-Amz-Invocation-Type", invocation_type);
    req.body() = std::move(body);
    req.prepare_payload();
    auto handler = api;
    co_return co_await handler->handle(std::move(req));
}

asio::awaitable<result<std::string>> stack_impl::invoke_async(std::string function, std::string qualifier,
                                                             std::string payload) {
    const std::string target = fn_path(function) + "/invocations" + qualifier_query(qualifier);
    const std::string type = "Event";
    auto res = co_await call(bhttp::verb::post, target, std::move(payload), type);
    if (res.result() != status::accepted) co_return api_error("invoke " + function, res);
    co_return std::string(res["x-amzn-RequestId"]);
}

// ---- deployment -------------------------------------------------------------------------------

asio::awaitable<result<void>> stack_impl::deploy_all() {
    for (const auto& w : model.warnings) spdlog::warn("template: {}", w);
    // A code folder that holds the data directory would zip the database and logs, and --watch would
    // reload on every log line.
    const auto data_dir = fs::weakly_canonical(options.work_dir.parent_path());
    for (const auto& f : model.functions) {
        if (f.code.type != code_source::kind::folder) continue;
        const auto rel = data_dir.lexically_relative(f.code.path);
        if (!rel.empty() && *rel.begin() != "..") {
            co_return make_error(errc::validation,
                                 fmt::format("{}: its code folder {} contains the data directory {}; pass a --data-dir "
                                             "outside it",
                                             f.logical_id, f.code.path.string(), data_dir.string()));
        }
    }
    for (const auto& layer : model.layers) {
        auto arn = co_await deploy_layer(layer);
        if (!arn) co_return make_error(arn.error().code, layer.logical_id + ": " + arn.error().message);
        layer_arns[layer.logical_id] = *arn;
    }
    for (const auto& f : model.functions) {
        const auto started = std::chrono::steady_clock::now();
        auto r = co_await deploy_function(f);
        if (!r) co_return make_error(r.error().code, f.logical_id + ": " + r.error().message);
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        say(fmt::format("template: {} {} ({}, {}){}", *r, f.name, f.logical_id, f.runtime,
                        *r == "unchanged" ? "" : fmt::format(" in {} ms", ms.count())));
    }
    if (!model.unknown.empty()) {
        std::string list;
        for (const auto& u : model.unknown) list += (list.empty() ? "" : ", ") + u;
        say("template: not deployed (resource types Lambent does not run): " + list);
    }
    build_routes();
    co_return result<void>{};
}

asio::awaitable<result<std::string>> stack_impl::deploy_layer(const layer_spec& layer) {
    code_source content;
    content.type = fs::is_directory(layer.content) ? code_source::kind::folder : code_source::kind::zip;
    content.path = layer.content;
    auto build = [content]() { return build_package(content, {}, {}, {}); };
    auto package = co_await run_blocking(pool, std::move(build));
    if (!package) co_return package.error();
    const std::string sha = model::code_sha256_b64(codec::hex(codec::sha256(*package)));
    const json runtimes = layer.compatible_runtimes;

    // The newest version, if it is this content already: restarting with an unchanged template publishes nothing.
    const std::string no_body;  // named: no temporaries inside co_await expressions (GCC 12)
    const std::string versions = "/2018-10-31/layers/" + layer.name + "/versions";
    const std::string list_target = versions + "?MaxItems=1";
    auto listed = co_await call(bhttp::verb::get, list_target, no_body);
    const auto newest = body_json(listed).value("LayerVersions", json::array());
    if (listed.result() == status::ok && !newest.empty()) {
        const std::string get_target = versions + "/" + std::to_string(newest[0].value("Version", 0));
        auto got = co_await call(bhttp::verb::get, get_target, no_body);
        const auto j = body_json(got);
        if (got.result() == status::ok && j.value("Content", json::object()).value("CodeSha256", "") == sha &&
            j.value("Description", "") == layer.description &&
            j.value("CompatibleRuntimes", json::array()) == runtimes) {
            say(fmt::format("template: unchanged layer {} ({})", layer.name, layer.logical_id));
            co_return j.value("LayerVersionArn", "");
        }
    }
    json body{{"Content", {{"ZipFile", codec::base64_encode(*package)}}}, {"Description", layer.description}};
    if (!runtimes.empty()) body["CompatibleRuntimes"] = runtimes;
    const std::string payload = body.dump();
    auto published = co_await call(bhttp::verb::post, versions, payload);
    if (published.result() != status::created) co_return api_error("PublishLayerVersion " + layer.name, published);
    const auto j = body_json(published);
    say(fmt::format("template: published layer {} version {} ({})", layer.name, j.value("Version", 0), layer.logical_id));
    co_return j.value("LayerVersionArn", "");
}

asio::awaitable<result<std::string>> stack_impl::deploy_function(const function_spec& f) {
    // The package, built on the blocking pool.
    const auto inline_dir = options.work_dir / "inline" / f.name;
    auto build = [code = f.code, handler = f.handler, runtime = f.runtime, inline_dir]() {
        return build_package(code, handler, runtime, inline_dir);
    };
    auto package = co_await run_blocking(pool, std::move(build));
    if (!package) co_return package.error();
    const std::string sha = model::code_sha256_b64(codec::hex(codec::sha256(*package)));
    const std::string zip_b64 = codec::base64_encode(*package);

    json layers = json::array();
    for (const auto& ref : f.layer_refs) {
        if (auto it = layer_arns.find(ref); it != layer_arns.end()) layers.push_back(it->second);
        else spdlog::warn("template: {}: layer {} is not a layer of the template; not attached", f.logical_id, ref);
    }
    for (const auto& arn : f.layer_arns) layers.push_back(arn);
    json env = json::object();
    for (const auto& [k, v] : f.environment) env[k] = v;
    json config{{"Runtime", f.runtime},
                {"Handler", f.handler},
                {"Role", f.role},
                {"Description", f.description},
                {"Timeout", f.timeout_s},
                {"MemorySize", f.memory_mb},
                {"Environment", {{"Variables", env}}}};
    if (f.ephemeral_storage_mb) config["EphemeralStorage"] = {{"Size", *f.ephemeral_storage_mb}};
    if (!layers.empty()) config["Layers"] = layers;
    const json architectures = f.architectures.empty() ? json::array({"x86_64"}) : json(f.architectures);

    std::string outcome = "unchanged";
    const std::string no_body;  // named: no temporaries inside co_await expressions (GCC 12)
    const std::string path = fn_path(f.name);
    auto got = co_await call(bhttp::verb::get, path, no_body);
    if (got.result() == status::not_found) {
        json create = config;
        create["FunctionName"] = f.name;
        create["Code"] = {{"ZipFile", zip_b64}};
        create["Architectures"] = architectures;
        const std::string target = "/2015-03-31/functions";
        const std::string text = create.dump();
        auto res = co_await call(bhttp::verb::post, target, text);
        if (res.result() != status::created) co_return api_error("CreateFunction " + f.name, res);
        outcome = "created";
    } else if (got.result() != status::ok) {
        co_return api_error("GetFunction " + f.name, got);
    } else {
        const json have = body_json(got).value("Configuration", json::object());
        bool config_changed = false;
        for (const auto& [k, v] : config.items()) {
            json current = have.value(k, json());
            if (k == "Environment") current = json{{"Variables", have.value("Environment", json::object()).value("Variables", json::object())}};
            if (k == "Layers" && current.is_array()) {
                json arns = json::array();
                for (const auto& l : current) arns.push_back(l.value("Arn", ""));
                current = arns;
            }
            if (k == "EphemeralStorage") current = json{{"Size", have.value("EphemeralStorage", json::object()).value("Size", 512)}};
            if (current != v) config_changed = true;
        }
        if (!config.contains("Layers") && have.contains("Layers") && !have.at("Layers").empty()) {
            config["Layers"] = json::array();
            config_changed = true;
        }
        if (config_changed) {
            const std::string target = path + "/configuration";
            const std::string text = config.dump();
            auto res = co_await call(bhttp::verb::put, target, text);
            if (res.result() != status::ok) co_return api_error("UpdateFunctionConfiguration " + f.name, res);
            outcome = "updated";
        }
        if (have.value("CodeSha256", "") != sha || have.value("Architectures", json::array({"x86_64"})) != architectures) {
            const json code{{"ZipFile", zip_b64}, {"Architectures", architectures}};
            const std::string target = path + "/code";
            const std::string text = code.dump();
            auto res = co_await call(bhttp::verb::put, target, text);
            if (res.result() != status::ok) co_return api_error("UpdateFunctionCode " + f.name, res);
            outcome = "updated";
        }
    }

    // AutoPublishAlias: a version when $LATEST changed since the last one (PublishVersion returns the last
    // version otherwise), and the alias pointed at it.
    std::string qualifier;
    if (f.auto_publish_alias) {
        qualifier = *f.auto_publish_alias;
        const std::string vtarget = path + "/versions";
        const std::string empty = "{}";
        auto pub = co_await call(bhttp::verb::post, vtarget, empty);
        if (pub.result() != status::created) co_return api_error("PublishVersion " + f.name, pub);
        const std::string version = body_json(pub).value("Version", "");
        const std::string atarget = path + "/aliases/" + qualifier;
        auto alias = co_await call(bhttp::verb::get, atarget, no_body);
        if (alias.result() == status::not_found) {
            const json body{{"Name", qualifier}, {"FunctionVersion", version}};
            const std::string ctarget = path + "/aliases";
            const std::string text = body.dump();
            auto res = co_await call(bhttp::verb::post, ctarget, text);
            if (res.result() != status::created) co_return api_error("CreateAlias " + f.name, res);
        } else if (body_json(alias).value("FunctionVersion", "") != version) {
            const json body{{"FunctionVersion", version}};
            const std::string text = body.dump();
            auto res = co_await call(bhttp::verb::put, atarget, text);
            if (res.result() != status::ok) co_return api_error("UpdateAlias " + f.name, res);
            if (outcome == "unchanged") outcome = "updated";
        }
    }

    // Reserved concurrency: the template is the truth.
    {
        const std::string get_target = "/2019-09-30/functions/" + f.name + "/concurrency";
        const std::string put_target = "/2017-10-31/functions/" + f.name + "/concurrency";
        auto cur = co_await call(bhttp::verb::get, get_target, no_body);
        const json have = body_json(cur);
        const std::optional<int> current = have.contains("ReservedConcurrentExecutions")
                                               ? std::optional<int>(have.value("ReservedConcurrentExecutions", 0))
                                               : std::nullopt;
        if (f.reserved_concurrency && current != f.reserved_concurrency) {
            const json body{{"ReservedConcurrentExecutions", *f.reserved_concurrency}};
            const std::string text = body.dump();
            auto res = co_await call(bhttp::verb::put, put_target, text);
            if (res.result() != status::ok) co_return api_error("PutFunctionConcurrency " + f.name, res);
        } else if (!f.reserved_concurrency && current) {
            co_await call(bhttp::verb::delete_, put_target, no_body);
        }
    }

    if (f.provisioned_concurrency && !qualifier.empty()) {
        const std::string target = "/2019-09-30/functions/" + f.name + "/provisioned-concurrency?Qualifier=" + qualifier;
        auto cur = co_await call(bhttp::verb::get, target, no_body);
        if (cur.result() != status::ok ||
            body_json(cur).value("RequestedProvisionedConcurrentExecutions", -1) != *f.provisioned_concurrency) {
            const json body{{"ProvisionedConcurrentExecutions", *f.provisioned_concurrency}};
            const std::string text = body.dump();
            auto res = co_await call(bhttp::verb::put, target, text);
            if (res.result() != status::accepted && res.result() != status::ok) {
                co_return api_error("PutProvisionedConcurrencyConfig " + f.name, res);
            }
        }
    }

    if (f.url_config) {
        // SAM attaches the URL to the AutoPublishAlias when there is one.
        const std::string target = "/2021-10-31/functions/" + f.name + "/url" + qualifier_query(qualifier);
        json want = json::object();
        want["AuthType"] = f.url_config->value("AuthType", "NONE");
        if (f.url_config->contains("InvokeMode")) want["InvokeMode"] = f.url_config->at("InvokeMode");
        if (f.url_config->contains("Cors")) want["Cors"] = f.url_config->at("Cors");
        auto cur = co_await call(bhttp::verb::get, target, no_body);
        if (cur.result() == status::not_found) {
            const std::string text = want.dump();
            auto res = co_await call(bhttp::verb::post, target, text);
            if (res.result() != status::created) co_return api_error("CreateFunctionUrlConfig " + f.name, res);
        } else {
            const json have = body_json(cur);
            bool same = true;
            for (const auto& [k, v] : want.items()) same = same && have.value(k, json()) == v;
            if (!same) {
                const std::string text = want.dump();
                auto res = co_await call(bhttp::verb::put, target, text);
                if (res.result() != status::ok) co_return api_error("UpdateFunctionUrlConfig " + f.name, res);
            }
        }
    }

    if (f.event_invoke_config) {
        const std::string target = "/2019-09-25/functions/" + f.name + "/event-invoke-config" + qualifier_query(qualifier);
        auto cur = co_await call(bhttp::verb::get, target, no_body);
        const json have = body_json(cur);
        bool same = cur.result() == status::ok;
        for (const auto& [k, v] : f.event_invoke_config->items()) same = same && have.value(k, json()) == v;
        if (!same) {
            const std::string text = f.event_invoke_config->dump();
            auto res = co_await call(bhttp::verb::put, target, text);
            if (res.result() != status::ok) co_return api_error("PutFunctionEventInvokeConfig " + f.name, res);
        }
    }
    co_return outcome;
}

// ---- schedules --------------------------------------------------------------------------------

void stack_impl::start_schedules() {
    for (const auto& f : model.functions) {
        for (const auto& ev : f.events) {
            if (ev.type != "Schedule" && ev.type != "ScheduleV2") continue;
            if (!ev.enabled) {
                spdlog::info("template: schedule {} of {} is disabled", ev.name, f.name);
                continue;
            }
            asio::co_spawn(io, run_schedule(shared_from_this(), f.name, f.auto_publish_alias.value_or(""), ev),
                           asio::detached);
        }
    }
}

asio::awaitable<void> stack_impl::run_schedule(std::shared_ptr<stack_impl> self, std::string function,
                                               std::string qualifier, event_source ev) {
    using namespace std::chrono;
    auto parsed = parse_schedule(ev.schedule);
    if (!parsed) {
        spdlog::error("template: {} event {}: {}", function, ev.name, parsed.error().message);
        co_return;
    }
    const double rate = self->options.schedule_clock_rate > 0 ? self->options.schedule_clock_rate : 1.0;
    // The schedule runs on a virtual clock that starts at the wall clock and runs `rate` times faster.
    const auto real0 = steady_clock::now();
    const auto virtual0 = system_clock::now();
    const auto virtual_now = [&]() {
        return virtual0 + duration_cast<system_clock::duration>(duration<double>(steady_clock::now() - real0) * rate);
    };
    auto next = parsed->rate ? std::optional<sys_seconds>(floor<seconds>(virtual0) + duration_cast<seconds>(*parsed->rate))
                             : next_fire(*parsed, floor<seconds>(virtual0));
    auto timer = std::make_shared<asio::steady_timer>(self->io);
    self->schedule_timers.push_back(timer);
    const std::string rule_arn = fmt::format("arn:{}:events:{}:{}:rule/{}", self->options.account.partition,
                                             self->options.account.region, self->options.account.account, ev.rule_name);
    spdlog::info("template: schedule {} ({}) of {} starts; clock rate {}", ev.name, ev.schedule, function, rate);
    while (next && !self->stopped) {
        const auto wait = duration<double>(*next - virtual_now()) / rate;
        timer->expires_after(duration_cast<steady_clock::duration>(std::max(wait, duration<double>(0))));
        auto [ec] = co_await timer->async_wait(tuple_awaitable);
        if (ec || self->stopped) co_return;
        std::string payload;
        if (ev.input) {
            payload = *ev.input;
        } else {
            const json event{{"version", "0"},
                             {"id", codec::uuid4()},
                             {"detail-type", "Scheduled Event"},
                             {"source", "aws.events"},
                             {"account", self->options.account.account},
                             {"time", fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", *next)},
                             {"region", self->options.account.region},
                             {"resources", json::array({rule_arn})},
                             {"detail", json::object()}};
            payload = event.dump();
        }
        auto id = co_await self->invoke_async(function, qualifier, std::move(payload));
        if (id) spdlog::info("template: schedule {} fired {} request_id={}", ev.name, function, *id);
        else spdlog::warn("template: schedule {} could not invoke {}: {}", ev.name, function, id.error().message);
        next = parsed->rate ? std::optional<sys_seconds>(*next + duration_cast<seconds>(*parsed->rate))
                            : next_fire(*parsed, *next);
    }
}

// ---- S3 event notifications -------------------------------------------------------------------

namespace {

bool s3_event_matches(const std::string& pattern_in, const std::string& name) {
    std::string pattern = pattern_in.starts_with("s3:") ? pattern_in.substr(3) : pattern_in;
    if (pattern.ends_with("*")) return name.starts_with(pattern.substr(0, pattern.size() - 1));
    return pattern == name;
}

}  // namespace

asio::awaitable<http::response> stack_impl::s3_notification(http::request req, std::string function) {
    const auto reply = [](status s, const json& body) {
        auto res = http::make_response(s, body.dump());
        return res;
    };
    auto body = json::parse(req.body(), nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("Records") || !body.at("Records").is_array()) {
        co_return reply(status::bad_request,
                        json{{"message", "expected an S3 event notification: {\"Records\": [...]} (AWS) or MinIO's "
                                         "{\"EventName\": ..., \"Key\": ..., \"Records\": [...]}"}});
    }
    if (!function.empty() && api->find(function) == nullptr) {
        co_return reply(status::not_found, json{{"message", "Function not found: " + function}});
    }
    json invoked = json::array();
    for (auto record : body.at("Records")) {
        if (!record.is_object()) continue;
        // MinIO writes eventName with the "s3:" prefix and eventSource "minio:s3"; functions see AWS's form.
        std::string name = record.value("eventName", "");
        if (name.starts_with("s3:")) name = name.substr(3);
        record["eventName"] = name;
        record["eventSource"] = "aws:s3";
        if (record.value("awsRegion", "").empty()) record["awsRegion"] = options.account.region;
        const json s3 = record.value("s3", json::object());
        const std::string bucket = s3.value("bucket", json::object()).value("name", "");
        const std::string raw_key = s3.value("object", json::object()).value("key", "");
        const std::string key = codec::percent_decode(raw_key, true).value_or(raw_key);
        std::vector<std::pair<std::string, std::string>> targets;  // (function, qualifier)
        if (!function.empty()) {
            targets.emplace_back(function, "");
        } else {
            for (const auto& f : model.functions) {
                for (const auto& ev : f.events) {
                    if (ev.type != "S3" || ev.bucket != bucket) continue;
                    bool event_ok = ev.s3_events.empty();
                    for (const auto& p : ev.s3_events) event_ok = event_ok || s3_event_matches(p, name);
                    if (!event_ok || !key.starts_with(ev.prefix) || !key.ends_with(ev.suffix)) continue;
                    targets.emplace_back(f.name, f.auto_publish_alias.value_or(""));
                    break;
                }
            }
        }
        const std::string payload = json{{"Records", json::array({record})}}.dump();
        for (const auto& [fn, q] : targets) {
            auto id = co_await invoke_async(fn, q, payload);
            if (!id) {
                spdlog::warn("template: S3 event for {}/{} could not invoke {}: {}", bucket, key, fn, id.error().message);
                continue;
            }
            spdlog::info("template: S3 {} {}/{} invoked {} request_id={}", name, bucket, key, fn, *id);
            invoked.push_back({{"FunctionName", fn}, {"RequestId", *id}, {"Bucket", bucket}, {"Key", key}, {"EventName", name}});
        }
        if (targets.empty()) spdlog::info("template: S3 {} {}/{} matches no function", name, bucket, key);
    }
    co_return reply(status::ok, json{{"Invocations", invoked}});
}

namespace {

/// The main listener: S3 notifications under /_lambent/s3-events[/FUNCTION], everything else to the API.
class front final : public http::handler {
public:
    front(std::shared_ptr<http::handler> inner, std::shared_ptr<stack_impl> impl)
        : inner_(std::move(inner)), impl_(std::move(impl)) {}

    static bool ours(const http::target& t) {
        return t.segments.size() >= 2 && t.segments.size() <= 3 && t.segments[0] == "_lambent" && t.segments[1] == "s3-events";
    }
    std::size_t body_limit(const http::request_header& header) override {
        if (ours(http::parse_target(header.target()))) return 6 * 1024 * 1024;
        return inner_->body_limit(header);
    }
    http::response too_large(const http::request_header& header, std::size_t limit) override {
        return inner_->too_large(header, limit);
    }
    asio::awaitable<http::response> handle(http::request req) override {
        const auto t = http::parse_target(req.target());
        if (!ours(t)) {
            auto inner = inner_;
            co_return co_await inner->handle(std::move(req));
        }
        if (req.method() != bhttp::verb::post) {
            co_return http::make_response(status::method_not_allowed, R"({"message":"POST an S3 event notification"})");
        }
        const std::string function = t.segments.size() == 3 ? t.segments[2] : "";
        auto impl = impl_;
        co_return co_await impl->s3_notification(std::move(req), function);
    }

private:
    std::shared_ptr<http::handler> inner_;
    std::shared_ptr<stack_impl> impl_;
};

}  // namespace

// ---- --watch ----------------------------------------------------------------------------------

result<void> stack_impl::start_watch() {
    const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return make_error(errc::service, std::string("--watch: inotify: ") + std::strerror(errno));
    inotify.assign(fd);
    for (std::size_t i = 0; i < model.functions.size(); ++i) {
        const auto& code = model.functions[i].code;
        if (code.type == code_source::kind::folder) {
            add_watch_tree(code.path, i);
        } else if (code.type == code_source::kind::zip) {
            add_watch_tree(code.path.parent_path(), i, code.path.filename().string());
        } else {
            continue;
        }
        spdlog::info("template: watching {} for {}", code.path.string(), model.functions[i].name);
    }
    asio::co_spawn(io, read_inotify(shared_from_this()), asio::detached);
    return {};
}

void stack_impl::add_watch_tree(const fs::path& dir, std::size_t index, const std::string& only) {
    constexpr std::uint32_t mask = IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB |
                                   IN_DELETE_SELF | IN_MODIFY;
    const int wd = ::inotify_add_watch(inotify.native_handle(), dir.c_str(), mask);
    if (wd < 0) {
        spdlog::warn("template: cannot watch {}: {}", dir.string(), std::strerror(errno));
        return;
    }
    watch_paths[wd] = dir;
    auto& entries = watches[wd];
    const std::pair<std::size_t, std::string> entry{index, only};
    if (std::find(entries.begin(), entries.end(), entry) == entries.end()) entries.push_back(entry);
    if (!only.empty()) return;
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
        if (it->is_directory(ec) && !it->is_symlink(ec)) add_watch_tree(it->path(), index);
    }
}

asio::awaitable<void> stack_impl::read_inotify(std::shared_ptr<stack_impl> self) {
    std::vector<char> buffer(64 * 1024);
    while (!self->stopped) {
        auto [ec, n] = co_await self->inotify.async_read_some(asio::buffer(buffer), tuple_awaitable);
        if (ec) co_return;
        std::size_t off = 0;
        while (off + sizeof(inotify_event) <= n) {
            const auto* ev = reinterpret_cast<const inotify_event*>(buffer.data() + off);
            off += sizeof(inotify_event) + ev->len;
            const std::string name = ev->len > 0 ? std::string(ev->name) : "";
            if (ev->mask & IN_Q_OVERFLOW) {  // events were lost: reload everything watched
                for (std::size_t i = 0; i < self->model.functions.size(); ++i) self->changed(i);
                continue;
            }
            auto it = self->watches.find(ev->wd);
            if (it == self->watches.end()) continue;
            const auto entries = it->second;
            if (ev->mask & IN_IGNORED) self->watches.erase(it);
            for (const auto& [index, only] : entries) {
                if (!only.empty() && name != only) continue;
                if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)) && only.empty()) {
                    // A new folder: watch it (and what it holds) too.
                    if (auto p = self->watch_paths.find(ev->wd); p != self->watch_paths.end()) {
                        self->add_watch_tree(p->second / name, index);
                    }
                }
                self->changed(index);
            }
        }
    }
}

void stack_impl::changed(std::size_t index) {
    auto& timer = debounce[index];
    if (!timer) timer = std::make_shared<asio::steady_timer>(io);
    timer->expires_after(std::chrono::milliseconds(200));
    auto self = shared_from_this();
    timer->async_wait([self, index](boost::system::error_code ec) {
        if (ec || self->stopped) return;
        asio::co_spawn(self->io, reload(self, index), asio::detached);
    });
}

asio::awaitable<void> stack_impl::reload(std::shared_ptr<stack_impl> self, std::size_t index) {
    if (self->reloading[index]) {
        self->reload_again[index] = true;
        co_return;
    }
    self->reloading[index] = true;
    const auto& f = self->model.functions[index];
    const auto started = std::chrono::steady_clock::now();
    const int warm = self->sched.live_workers(f.name);
    std::string old_version;
    if (const auto* e = self->api->find(f.name); e != nullptr && f.auto_publish_alias) {
        if (auto a = e->aliases.find(*f.auto_publish_alias); a != e->aliases.end()) old_version = a->second.function_version;
    }
    auto r = co_await self->deploy_function(f);
    if (!r) {
        say(fmt::format("reload of {} failed: {}", f.name, r.error().message));
    } else if (*r != "unchanged") {
        // UpdateFunctionCode retired $LATEST's workers; an alias moved off its old version retires that one.
        const model::function_record* target = nullptr;
        if (const auto* e = self->api->find(f.name); e != nullptr) {
            target = &e->latest;
            if (f.auto_publish_alias) {
                if (auto a = e->aliases.find(*f.auto_publish_alias); a != e->aliases.end()) {
                    const auto& v = a->second.function_version;
                    if (!old_version.empty() && old_version != v) self->sched.retire(f.name, old_version);
                    if (v != "$LATEST") {
                        if (auto it = e->versions.find(std::stoi(v)); it != e->versions.end()) target = &it->second;
                    }
                }
            }
        }
        const int count = std::max(warm, 1);
        if (target != nullptr) self->sched.prewarm(*target, count);
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        say(fmt::format("reloaded {} in {} ms: {} warm worker{} restarted with the new code", f.name, ms.count(), count,
                        count == 1 ? "" : "s"));
    }
    self->reloading[index] = false;
    if (self->reload_again[index]) {
        self->reload_again[index] = false;
        co_await reload(self, index);
    }
}

// ---- stack ------------------------------------------------------------------------------------

stack::stack(asio::io_context& io, asio::thread_pool& pool, std::shared_ptr<api::lambda_api> api,
             scheduler::scheduler& sched, template_model model, stack_options options)
    : impl_(std::make_shared<stack_impl>(io, pool, std::move(api), sched, std::move(model), std::move(options))) {}

stack::~stack() = default;

result<std::unique_ptr<stack>> deploy_template(asio::io_context& io, asio::thread_pool& pool,
                                               std::shared_ptr<api::lambda_api> api, scheduler::scheduler& sched,
                                               stack_options options) {
    auto overrides = parse_overrides(options.parameter_overrides);
    if (!overrides) return overrides.error();
    load_options lo;
    lo.parameter_overrides = *overrides;
    lo.region = options.account.region;
    lo.account_id = options.account.account;
    lo.partition = options.account.partition;
    lo.stack_name = options.stack_name;
    auto model = load(options.template_file, lo);
    if (!model) return model.error();
    auto s = std::make_unique<stack>(io, pool, std::move(api), sched, std::move(*model), std::move(options));
    std::optional<result<void>> deployed;
    asio::co_spawn(io, s->deploy(), [&](std::exception_ptr e, result<void> r) {
        deployed = e ? result<void>(make_error(errc::service, "deployment failed")) : std::move(r);
    });
    while (!deployed && io.run_one() > 0) {
    }
    if (!deployed) return make_error(errc::service, "deployment did not finish");
    if (!*deployed) return deployed->error();
    return s;
}

asio::awaitable<result<void>> stack::deploy() {
    auto impl = impl_;
    co_return co_await impl->deploy_all();
}

bool stack::has_routes() const { return !impl_->routes.empty(); }

std::shared_ptr<http::handler> stack::front_handler(std::shared_ptr<http::handler> inner) {
    return std::make_shared<front>(std::move(inner), impl_);
}

result<void> stack::start() {
    impl_->start_schedules();
    if (impl_->options.watch) return impl_->start_watch();
    return {};
}

void stack::stop() {
    impl_->stopped = true;
    for (auto& t : impl_->schedule_timers) t->cancel();
    for (auto& [i, t] : impl_->debounce) t->cancel();
    boost::system::error_code ec;
    impl_->inotify.close(ec);
}

}  // namespace lambent::sam
