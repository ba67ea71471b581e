#include "lambent/app/app.hpp"

#include "lambent/api/lambda_api.hpp"
#include "lambent/http/server.hpp"
#include "lambent/sandbox/sandbox.hpp"
#include "lambent/scheduler/scheduler.hpp"
#include "lambent/store/store.hpp"

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <signal.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <cstdio>
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
            spdlog::info("sandbox: seccomp deny-list, no capabilities, no_new_privs, own uid per worker{}, rlimits: on",
                         host->userns ? " (inside its user namespace)" : "");
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
        for (const auto& f : rows.functions) referenced.insert(f.code_sha256_hex);
        for (const auto& v : rows.versions) referenced.insert(v.code_sha256_hex);
        st.collect_garbage(referenced);
    }

    // Signals are caught from here on, before anyone can learn the address and send one.
    asio::signal_set signals(io, SIGINT, SIGTERM);
    asio::steady_timer grace(io);

    http::server_options hopts;
    hopts.idle_timeout = std::chrono::seconds(120);
    hopts.body_timeout = std::chrono::seconds(300);
    auto server = std::make_shared<http::server>(io, api, hopts);
    auto bound = server->listen(*endpoint);
    if (!bound) {
        spdlog::critical("{}", bound.error().message);
        return 1;
    }

    api->set_public_url(fmt::format("http://{}:{}", bound->address().to_string(), bound->port()));
    spdlog::info("lambent serving listen={}:{} data_dir={} region={} account={} concurrency={} idle_ttl_ms={} "
                 "runtimes={} sandbox={} network={}",
                 bound->address().to_string(), bound->port(), st.data_dir().string(), cfg.region, cfg.account_id,
                 sopts.concurrency_limit, sopts.idle_ttl.count(), sopts.runtimes_dir.string(),
                 sopts.sandbox ? "on" : "off", sopts.sandbox ? (sopts.egress ? "egress" : "none") : "host");
    if (!sopts.mount_code && !sopts.sandbox) {
        spdlog::warn("not running as root: function code is not mounted at /var/task; LAMBDA_TASK_ROOT points at "
                     "the unpacked code instead");
    }
    std::printf("listening on http://%s:%u\n", bound->address().to_string().c_str(), bound->port());
    std::fflush(stdout);

    signals.async_wait([&](boost::system::error_code ec, int sig) {
        if (ec) return;
        spdlog::info("lambent stopping signal={}", sig);
        server->stop();
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
