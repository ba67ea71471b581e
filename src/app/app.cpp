#include "lambent/app/app.hpp"

#include "lambent/api/lambda_api.hpp"
#include "lambent/auth/sigv4.hpp"
#include "lambent/http/server.hpp"
#include "lambent/sam/stack.hpp"
#include "lambent/sandbox/sandbox.hpp"
#include "lambent/scheduler/scheduler.hpp"
#include "lambent/store/store.hpp"

#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <signal.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <set>

namespace lambent::app {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

fs::path self_dir() {
    std::error_code ec;
    auto exe = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::current_path() : exe.parent_path();
}

fs::path find_runtimes_dir(const fs::path& configured) {
    if (!configured.empty()) return configured;
    const auto dir = self_dir();
    for (const auto& candidate : {dir / "runtimes", dir.parent_path() / "runtimes", dir.parent_path() / "share/lambent/runtimes"}) {
        std::error_code ec;
        if (fs::exists(candidate / "registry.json", ec)) return candidate;
    }
    return dir / "runtimes";
}

/// Concurrency sized to the machine: each environment needs at least 128 MB, keep half the memory free.
int default_concurrency() {
    struct sysinfo si {};
    if (::sysinfo(&si) != 0) return 64;
    const auto total_mb = static_cast<long long>(si.totalram) * si.mem_unit / (1024 * 1024);
    return static_cast<int>(std::clamp<long long>(total_mb / 2 / 128, 8, 1000));
}

result<http::tcp::endpoint> parse_listen(const std::string& listen) {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos) return make_error(errc::service, "--listen must be HOST:PORT");
    boost::system::error_code ec;
    std::string host = listen.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host == "localhost") host = "127.0.0.1";
    auto addr = asio::ip::make_address(host, ec);
    if (ec) return make_error(errc::service, "--listen: '" + host + "' is not an IP address");
    int port = 0;
    try {
        port = std::stoi(listen.substr(colon + 1));
    } catch (const std::exception&) {
        port = -1;
    }
    if (port < 0 || port > 65535) return make_error(errc::service, "--listen: bad port");
    return http::tcp::endpoint(addr, static_cast<unsigned short>(port));
}

struct security_setup {
    std::shared_ptr<const auth::verifier> verifier;
    std::shared_ptr<asio::ssl::context> tls;
    std::string summary;  // logged at start
};

/// Auth and TLS from the flags: auth is off on loopback by default and required elsewhere unless the
/// operator says --allow-unauthenticated (docs/security.md).
result<security_setup> configure_security(const config& cfg, const http::tcp::endpoint& endpoint) {
    security_setup out;
    std::string mode = cfg.auth;
    if (mode.empty()) mode = cfg.credentials.empty() ? "none" : "sigv4";
    if (mode == "none" && !cfg.credentials.empty()) {
        return make_error(errc::service, "--credentials needs --auth sigv4 (it was given with --auth none)");
    }
    const bool loopback = endpoint.address().is_loopback();
    if (mode == "sigv4") {
        if (cfg.credentials.empty()) return make_error(errc::service, "--auth sigv4 needs --credentials FILE");
        auto keys = auth::load_credentials(cfg.credentials);
        if (!keys) return keys.error();
        if (keys->empty()) {
            return make_error(errc::service, fmt::format("--credentials {}: no profile with aws_access_key_id and "
                                                         "aws_secret_access_key",
                                                         cfg.credentials.string()));
        }
        const auto count = keys->size();
        out.verifier = std::make_shared<const auth::verifier>(std::move(*keys), auth::verifier_options{cfg.region});
        out.summary = fmt::format("auth: sigv4 ({} access key{} from {}; region {})", count, count == 1 ? "" : "s",
                                  cfg.credentials.string(), cfg.region);
    } else if (!loopback && !cfg.allow_unauthenticated) {
        return make_error(errc::service,
                          fmt::format("refusing to serve {} without authentication: anyone who can reach it could deploy "
                                      "and run code. Pass --auth sigv4 --credentials FILE, or --allow-unauthenticated "
                                      "to accept that",
                                      endpoint.address().to_string()));
    } else if (!loopback) {
        out.summary = fmt::format("auth: NONE on {} (--allow-unauthenticated): anyone who can reach this address can "
                                  "deploy and run code",
                                  endpoint.address().to_string());
    } else {
        out.summary = "auth: none (loopback listener; pass --auth sigv4 --credentials FILE to require signatures)";
    }
    if (cfg.tls_cert.empty() != cfg.tls_key.empty()) {
        return make_error(errc::service, "--tls-cert and --tls-key go together");
    }
    if (!cfg.tls_cert.empty()) {
        auto ctx = http::make_tls_context(cfg.tls_cert.string(), cfg.tls_key.string());
        if (!ctx) return ctx.error();
        out.tls = std::move(*ctx);
        out.summary += fmt::format("; tls: on ({})", cfg.tls_cert.string());
    } else {
        out.summary += "; tls: off";
    }
    return out;
}

}  // namespace

int serve(const config& cfg) {
    // The server log goes to stderr; stdout carries only the `listening on` line, for scripts.
    spdlog::set_default_logger(spdlog::stderr_color_mt("lambent"));
    spdlog::set_level(spdlog::level::from_str(cfg.log_level));
    ::signal(SIGPIPE, SIG_IGN);

    auto endpoint = parse_listen(cfg.listen);
    if (!endpoint) {
        spdlog::critical("{}", endpoint.error().message);
        return 2;
    }
    auto security = configure_security(cfg, *endpoint);
    if (!security) {
        spdlog::critical("{}", security.error().message);
        return 2;
    }
    auto opened = store::store::open(cfg.data_dir);
    if (!opened) {
        spdlog::critical("{}", opened.error().message);
        return 1;
    }
    auto& st = **opened;

    asio::io_context io(1);
    asio::thread_pool blocking(2);

    scheduler::scheduler_options sopts;
    sopts.account.region = cfg.region;
    sopts.account.account = cfg.account_id;
    sopts.concurrency_limit = cfg.concurrency > 0 ? cfg.concurrency : default_concurrency();
    sopts.idle_ttl = cfg.idle_ttl;
    sopts.jail_path = self_dir() / "lambent-jail";
    sopts.runtimes_dir = fs::absolute(find_runtimes_dir(cfg.runtimes_dir));
    sopts.logs_dir = st.data_dir() / "logs";
    sopts.mount_code = ::geteuid() == 0;
    auto host = std::make_shared<sandbox::host_support>(sandbox::detect(cfg.sandbox_network == "egress"));
    if (cfg.sandbox == "on") {
        if (host->root || host->userns) {
            auto filter = sandbox::compile_seccomp_filter();
            if (!filter) {
                spdlog::critical("sandbox: {}", filter.error().message);
                return 1;
            }
            sopts.sandbox = true;
            sopts.seccomp_fd = *filter;
            sopts.egress = cfg.sandbox_network == "egress" && host->egress_available;
            sopts.slirp4netns = host->slirp4netns;
            sopts.host = host;
            sopts.spare_sandboxes = cfg.spare_sandboxes;
            sopts.jail_trace = std::getenv("LAMBENT_JAIL_TRACE") != nullptr;
            if (host->userns) {
                sopts.userns = true;
                sopts.jail_root = st.data_dir() / "jail-root";
            }
            spdlog::info("sandbox: on{}", host->userns ? " (unprivileged: user namespaces)" : "");
            for (const auto& line : host->report) {
                // Whatever is reduced is said loudly.
                if (line.find("OFF") != std::string::npos || line.find("unprivileged") != std::string::npos) {
                    spdlog::warn("sandbox: {}", line);
                } else {
                    spdlog::info("sandbox: {}", line);
                }
            }
            if (const int stale = sandbox::remove_stale_cgroups(*host); stale > 0) {
                spdlog::info("sandbox: removed {} cgroup directories left by servers that are gone", stale);
            }
            spdlog::info("sandbox: seccomp deny-list, no capabilities, no_new_privs, own uid per worker{}, rlimits: on",
                         host->userns ? " (inside its user namespace)" : "");
            spdlog::info("sandbox: spare sandboxes kept ready for cold starts: {}", sopts.spare_sandboxes);
        } else {
            for (const auto& line : host->report) spdlog::warn("sandbox: {}", line);
            spdlog::warn("sandbox: OFF: this host does not let the server create namespaces (not root, no user "
                         "namespaces). Functions run with the server's privileges. Pass --sandbox off to acknowledge "
                         "running trusted code.");
        }
    } else {
        spdlog::warn("sandbox: off (--sandbox off): functions run with the server's privileges; only for trusted code");
    }
    if (::access(sopts.jail_path.c_str(), X_OK) != 0) {
        spdlog::critical("cannot find the worker launcher {}", sopts.jail_path.string());
        return 1;
    }

    api::api_options aopts;
    aopts.account = sopts.account;
    aopts.concurrency_limit = sopts.concurrency_limit;
    aopts.async_retry_delay = cfg.async_retry_delay;
    aopts.logs_dir = sopts.logs_dir;
    aopts.log_retention_days = cfg.log_retention_days;
    aopts.auth = security->verifier;
    aopts.public_metrics = cfg.public_metrics;

    scheduler::scheduler sched(io, blocking, st, sopts);
    if (auto r = sched.start(); !r) {
        spdlog::critical("{}", r.error().message);
        return 1;
    }
    auto api = std::make_shared<api::lambda_api>(io, blocking, st, sched, aopts);
    api->load();
    api->start_async_queue();
    api->restore_provisioned();
    api->start_log_retention();
    {
        std::set<std::string> referenced;
        const auto rows = st.load_catalog();
        for (const auto* list : {&rows.functions, &rows.versions}) {
            for (const auto& f : *list) {
                referenced.insert(f.code_sha256_hex);
                for (const auto& l : f.layers) referenced.insert(l.sha256_hex);  // kept even if the layer is deleted
                if (!f.layers.empty()) referenced.insert(store::store::opt_id(f.layer_shas()));
            }
        }
        for (const auto& l : rows.layers) referenced.insert(l.code_sha256_hex);
        st.collect_garbage(referenced);
    }

    // Signals are caught from here on, before anyone can learn the address and send one.
    asio::signal_set signals(io, SIGINT, SIGTERM);
    asio::steady_timer grace(io);

    http::server_options hopts;
    hopts.idle_timeout = std::chrono::seconds(120);
    hopts.body_timeout = std::chrono::seconds(300);
    hopts.write_timeout = std::chrono::seconds(60);
    hopts.header_timeout = cfg.header_timeout;
    hopts.max_connections = cfg.max_connections > 0 ? static_cast<std::size_t>(cfg.max_connections) : 0;
    hopts.over_limit = [limit = cfg.max_connections]() {
        // ServiceException with 503: botocore and the JS SDK retry it with backoff (docs/security.md).
        auto res = http::make_response(
            http::bhttp::status::service_unavailable,
            fmt::format(R"({{"Type":"Service","message":"The server has too many open connections (limit {}). Retry later."}})",
                        limit));
        res.set("x-amzn-ErrorType", "ServiceException");
        res.set("Retry-After", "1");
        return res;
    };
    hopts.tls = security->tls;

    // A SAM template: its functions are deployed (through the API's own handlers) before anyone can connect.
    std::unique_ptr<sam::stack> stack;
    std::shared_ptr<http::server> api_server;
    std::shared_ptr<http::handler> main_handler = api;
    if (!cfg.template_file.empty()) {
        auto fail = [&](const std::string& what) {
            spdlog::critical("template: {}", what);
            api->stop();
            sched.stop();
            return 1;
        };
        sam::stack_options so;
        so.template_file = cfg.template_file;
        so.parameter_overrides = cfg.parameter_overrides;
        so.stack_name = cfg.stack_name;
        so.account = aopts.account;
        so.work_dir = st.data_dir() / "template";
        so.schedule_clock_rate = cfg.schedule_clock_rate;
        so.watch = cfg.watch;
        auto deployed = sam::deploy_template(io, blocking, api, sched, std::move(so));
        if (!deployed) return fail(deployed.error().message);
        stack = std::move(*deployed);
        main_handler = stack->front_handler(api);
        if (stack->has_routes()) {
            auto api_endpoint = parse_listen(cfg.api_listen);
            if (!api_endpoint) return fail("--api-listen: " + api_endpoint.error().message);
            api_server = std::make_shared<http::server>(io, stack->api_handler(), hopts);
            auto api_bound = api_server->listen(*api_endpoint);
            if (!api_bound) return fail(api_bound.error().message);
            std::printf("api routes on %s://%s:%u\n", security->tls ? "https" : "http",
                        api_bound->address().to_string().c_str(), api_bound->port());
        }
    }

    auto server = std::make_shared<http::server>(io, main_handler, hopts);
    auto bound = server->listen(*endpoint);
    if (!bound) {
        spdlog::critical("{}", bound.error().message);
        return 1;
    }

    const char* scheme = security->tls ? "https" : "http";
    api->set_public_url(fmt::format("{}://{}:{}", scheme, bound->address().to_string(), bound->port()));
    spdlog::info("lambent serving listen={}:{} data_dir={} region={} account={} concurrency={} idle_ttl_ms={} "
                 "runtimes={} sandbox={} network={}",
                 bound->address().to_string(), bound->port(), st.data_dir().string(), cfg.region, cfg.account_id,
                 sopts.concurrency_limit, sopts.idle_ttl.count(), sopts.runtimes_dir.string(),
                 sopts.sandbox ? "on" : "off", sopts.sandbox ? (sopts.egress ? "egress" : "none") : "host");
    if (!sopts.mount_code && !sopts.sandbox) {
        spdlog::warn("not running as root: function code is not mounted at /var/task; LAMBDA_TASK_ROOT points at "
                     "the unpacked code instead");
    }
    spdlog::info("{}", security->summary);
    std::printf("listening on %s://%s:%u\n", scheme, bound->address().to_string().c_str(), bound->port());
    std::fflush(stdout);
    if (stack) {
        if (auto started = stack->start(); !started) spdlog::error("template: {}", started.error().message);
    }

    signals.async_wait([&](boost::system::error_code ec, int sig) {
        if (ec) return;
        spdlog::info("lambent stopping signal={}", sig);
        server->stop();
        if (stack) stack->stop();
        if (api_server) api_server->stop();
        api->stop();
        sched.stop();
        // Let killed workers be reaped and their logs flushed, then leave.
        grace.expires_after(std::chrono::milliseconds(300));
        grace.async_wait([&](boost::system::error_code) { io.stop(); });
    });
    io.run();
    blocking.join();
    spdlog::info("lambent stopped");
    return 0;
}

}  // namespace lambent::app
