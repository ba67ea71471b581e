// The scheduler, its per-version warm pools, the workers and each worker's Runtime API endpoint.
// Everything here runs on the io_context thread; objects are shared_ptr-owned and reference each
// other weakly where a cycle would otherwise keep a dead worker alive.

#include "lambent/scheduler/scheduler.hpp"
#include "lambent/scheduler/runtime_api.hpp"

#include "lambent/common/codec.hpp"
#include "lambent/common/completion.hpp"
#include "lambent/http/server.hpp"
#include "lambent/logs/log_stream.hpp"
#include "lambent/metrics/metrics.hpp"
#include "lambent/sandbox/sandbox.hpp"
#include "lambent/store/store.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>

extern char** environ;

namespace lambent::scheduler {

namespace asio = boost::asio;
namespace bhttp = http::bhttp;
using nlohmann::json;
using steady = std::chrono::steady_clock;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

namespace {

constexpr std::size_t max_response_bytes = 6291556;  // Runtime API: 6 MiB + 100 (RIE)

/// Completion of detached worker coroutines: a failure is logged, never propagated.
void log_failure(std::exception_ptr e) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        spdlog::error("worker: task failed: {}", ex.what());
    }
}

std::int64_t epoch_ms() { return codec::now_ms().time_since_epoch().count(); }

double ms_between(steady::time_point a, steady::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

/// Peak resident set of a process in MB (VmHWM), 0 when unknown.
long peak_rss_mb(pid_t pid) {
    std::ifstream in(fmt::format("/proc/{}/status", pid));
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmHWM:", 0) == 0) {
            const long kb = std::strtol(line.c_str() + 6, nullptr, 10);
            return (kb + 1023) / 1024;
        }
    }
    return 0;
}

/// A started lambent-jail: its pid and the server's ends of its stdout/stderr pipes and control socket.
struct jail_process {
    pid_t pid = -1;
    int out = -1;
    int err = -1;
    int control = -1;  // sandbox only: the jail's fd 3
};

/// posix_spawns lambent-jail with stdin on /dev/null, stdout/stderr on pipes and, for a sandbox, the control
/// socket as fd 3 and the seccomp program as fd 4.
result<jail_process> launch_jail(const std::vector<std::string>& args, const std::vector<std::string>& env, bool sandboxed,
                                 int seccomp_fd) {
    jail_process j;
    int control[2] = {-1, -1};
    int out_pipe[2] = {-1, -1};
    int err_pipe[2] = {-1, -1};
    auto close_all = [&] {
        for (int fd : {control[0], control[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) {
            if (fd >= 0) ::close(fd);
        }
    };
    if ((sandboxed && ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, control) != 0) ||
        ::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
        close_all();
        return make_error(errc::service, fmt::format("cannot create the worker's pipes: {}", std::strerror(errno)));
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
    if (sandboxed) {
        // Move both through high numbers first: either source may itself be 3 or 4.
        posix_spawn_file_actions_adddup2(&fa, control[1], 200);
        if (seccomp_fd >= 0) posix_spawn_file_actions_adddup2(&fa, seccomp_fd, 201);
        posix_spawn_file_actions_adddup2(&fa, 200, 3);
        if (seccomp_fd >= 0) posix_spawn_file_actions_adddup2(&fa, 201, 4);
    }
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    const int rc = ::posix_spawn(&j.pid, argv[0], &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        close_all();
        return make_error(errc::service, fmt::format("cannot start {}: {}", argv[0], std::strerror(rc)));
    }
    for (int* fd : {&control[1], &out_pipe[1], &err_pipe[1]}) {
        if (*fd >= 0) ::close(*fd);
        *fd = -1;
    }
    ::fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
    ::fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);
    j.out = out_pipe[0];
    j.err = err_pipe[0];
    j.control = control[0];
    return j;
}

/// One message from a jail's control socket: the text and the fd it carried (-1 when none).
/// One message on a jail's control socket, read without blocking (Asio keeps the descriptor non-blocking, and a
/// readiness notification may be spurious: `again` means nothing to read yet, not the end).
struct control_message {
    enum class status { message, again, closed } state = status::closed;
    std::string text;
    int fd = -1;  // a descriptor passed with SCM_RIGHTS (close-on-exec), or -1
};

control_message receive_control(int control) {
    char text[160] = {};
    iovec iov{text, sizeof text - 1};
    alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    const ssize_t n = ::recvmsg(control, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    control_message out;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        out.state = control_message::status::again;
        return out;
    }
    if (n <= 0) return out;
    out.state = control_message::status::message;
    out.text.assign(text, static_cast<std::size_t>(n));
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) std::memcpy(&out.fd, CMSG_DATA(c), sizeof(int));
    }
    return out;
}

/// "<stage> <errno>" of a jail's "error …" message, as "stage: strerror".
std::string setup_error_text(const std::string& rest) {
    const auto space = rest.rfind(' ');
    const int err = space == std::string::npos ? 0 : std::atoi(rest.c_str() + space + 1);
    return fmt::format("{}: {}", rest.substr(0, space), std::strerror(err));
}

}  // namespace

/// A sandbox prepared before any function needs it (ADR 0006): lambent-jail --spare, in its namespaces,
/// cgroups (no memory limit yet) and network, waiting on its control socket for a function.
struct spare {
    explicit spare(asio::io_context& io) : control(io), pidfd(io) {}
    jail_process proc;
    asio::posix::stream_descriptor control;
    asio::posix::stream_descriptor pidfd;
    sandbox::cgroup cgroup;
    int uid_slot = -1;
    int listener = -1;  // the Runtime API listener, made in the spare's network namespace
    bool ready = false;
    bool taken = false;
    steady::time_point started = steady::now();
};

struct invocation {
    invoke_request req;
    completion<invoke_result> handler;
    bool finished = false;
    steady::time_point enqueued = steady::now();
    steady::time_point started;
    std::int64_t deadline_epoch_ms = 0;
    std::string log;  // this invocation's log text, kept for the tail when it was asked for (LogType Tail)
    std::optional<fault_kind> fault;  // injected timeout or oom, applied when a worker takes it
};

class worker;

struct pool {
    std::string key;
    model::function_record function;
    runtime_spec spec;
    std::deque<std::shared_ptr<invocation>> queue;
    std::vector<std::shared_ptr<worker>> workers;
    std::vector<std::shared_ptr<worker>> idle;  // parked in /next, most recent last (may hold stale entries)
    bool retired = false;
    int provisioned = 0;  // provisioned concurrency: workers kept initialised
    bool fail_init = false;  // injected init-error: every worker of this pool fails its init
};

class scheduler_impl : public std::enable_shared_from_this<scheduler_impl> {
public:
    scheduler_impl(asio::io_context& ctx, asio::thread_pool& tp, store::store& st, scheduler_options o)
        : io(ctx), blocking(tp), store(st), options(std::move(o)), reaper(ctx), flusher(ctx), refill_timer(ctx) {}

    result<void> load_registry();
    static asio::awaitable<invoke_result> invoke(std::shared_ptr<scheduler_impl> self, invoke_request req);
    void submit(const std::shared_ptr<pool>& p, const std::shared_ptr<invocation>& inv);
    void worker_ready(const std::shared_ptr<worker>& w);
    void worker_gone(const std::shared_ptr<worker>& w);
    void rebalance(const std::shared_ptr<pool>& p);
    void ensure_provisioned(const std::shared_ptr<pool>& p);
    void finish(const std::shared_ptr<invocation>& inv, invoke_result res);
    void fail_head(const std::shared_ptr<pool>& p, const std::string& type_body_error, bool init_error);
    void fail_head_with(const std::shared_ptr<pool>& p, error e) {
        if (p->queue.empty()) return;
        auto inv = p->queue.front();
        p->queue.pop_front();
        invoke_result res;
        res.failure = std::move(e);
        finish(inv, std::move(res));
    }
    void retire(const std::string& name, const std::string& version);
    void stop();
    void schedule_reaper();
    void reap();
    int acquire_slot() {
        for (std::size_t i = 0; i < uid_slots.size(); ++i) {
            if (!uid_slots[i]) {
                uid_slots[i] = true;
                return static_cast<int>(i);
            }
        }
        uid_slots.push_back(true);
        return static_cast<int>(uid_slots.size() - 1);
    }
    void release_slot(int slot) {
        if (slot >= 0 && static_cast<std::size_t>(slot) < uid_slots.size()) uid_slots[static_cast<std::size_t>(slot)] = false;
    }
    static constexpr int uid_base = 200000;

    /// lambent-jail's sandbox arguments shared by workers and spares (the function's own come after).
    std::vector<std::string> sandbox_args(int uid, const sandbox::cgroup& cg) const;
    // Spare sandboxes (ADR 0006).
    void refill_spares();
    void refill_spares_soon();
    bool refill_pending = false;
    void start_spare();
    std::shared_ptr<spare> take_spare();
    void spare_gone(const std::shared_ptr<spare>& s, bool failed);
    static asio::awaitable<void> spare_ready(std::shared_ptr<scheduler_impl> self, std::shared_ptr<spare> s);
    static asio::awaitable<void> spare_exit(std::shared_ptr<scheduler_impl> self, std::shared_ptr<spare> s);
    std::vector<std::shared_ptr<spare>> spares;
    int spare_failures = 0;  // spares that died before they were ready, in a row
    steady::time_point spare_backoff_until;
    long long spare_assignments = 0;
    long long spare_misses = 0;  // sandboxed cold starts that found no ready spare

    asio::io_context& io;
    asio::thread_pool& blocking;
    store::store& store;
    scheduler_options options;
    std::map<std::string, runtime_spec> runtimes;
    std::map<std::string, std::shared_ptr<pool>> pools;
    std::vector<bool> uid_slots;  // each sandboxed worker runs as its own uid: uid_base + slot
    int active = 0;                               // all invocations in flight
    int unreserved_active = 0;                    // those of functions without reserved concurrency
    std::map<std::string, int> function_active;   // per function (all versions)
    std::map<std::string, int> reserved;          // reserved concurrency per function
    int reserved_total = 0;
    metrics::registry stats;
    fault_registry faults;
    bool stopped = false;
    asio::steady_timer reaper;
    asio::steady_timer flusher;
    asio::steady_timer refill_timer;  // spare sandboxes (refill_spares_soon)
    void schedule_flush();
};

// ---- worker -----------------------------------------------------------------------------------

class worker : public std::enable_shared_from_this<worker> {
public:
    enum class state { starting, idle, busy, responded, dead };

    worker(std::shared_ptr<scheduler_impl> s, std::shared_ptr<pool> p, bool provisioned = false)
        : sched_(std::move(s)), pool_(std::move(p)), pidfd_(sched_->io), out_(sched_->io), err_(sched_->io),
          control_(sched_->io), deadline_timer_(sched_->io), provisioned_(provisioned) {}
    bool provisioned() const { return provisioned_; }
    void set_prewarmed() { prewarmed_ = true; }

    /// Starts the worker: in a spare sandbox when `from` is given, else through a new lambent-jail.
    result<void> start(std::shared_ptr<spare> from = nullptr);
    void dispatch(const std::shared_ptr<invocation>& inv);
    void kill();

    state current_state() const { return state_; }
    /// Killed workers take no more work: their exit is on its way (idle eviction, timeouts, retirement).
    bool waiting_for_work() const { return state_ == state::idle && static_cast<bool>(waiter_) && !killed_; }
    bool killed() const { return killed_; }
    steady::time_point idle_since() const { return idle_since_; }
    const std::shared_ptr<pool>& owner() const { return pool_; }
    void flush_log() {
        if (log_) log_->flush();
    }

    // Runtime API (called by the endpoint).
    static asio::awaitable<http::response> on_next(std::shared_ptr<worker> self);
    http::response on_result(const std::string& id, http::request& req, bool is_error);
    http::response on_init_error(http::request& req);
    http::response on_too_large(const std::string& id);

private:
    static asio::awaitable<void> watch_exit(std::shared_ptr<worker> self);
    static asio::awaitable<void> read_control(std::shared_ptr<worker> self);
    enum class control_read { message, again, closed };
    /// Reads one message of the jail from the control socket without blocking.
    control_read read_control_message();
    long max_memory_mb();
    long read_max_memory_mb() const;
    static asio::awaitable<void> read_output(std::shared_ptr<worker> self, int which);
    void on_exit(int wait_status);
    void feed(int which, std::string_view chunk);
    void emit_line(std::string_view line);
    void platform_line(std::string_view line);
    void drain();
    void complete(invoke_result res, const std::string& status_suffix);
    void timed_out(const std::shared_ptr<invocation>& inv);
    void arm_deadline();
    void on_deadline();
    void init_failed(std::string type, std::string body);
    std::string injected_init_error() const;
    http::response render(const invocation& inv) const;
    std::vector<std::string> environment(const std::string& runtime_dir, const std::string& task_root) const;

    std::shared_ptr<scheduler_impl> sched_;
    std::shared_ptr<pool> pool_;
    std::shared_ptr<http::server> runtime_api_;
    std::string runtime_api_address_;
    std::string opt_dir_ = "/opt";  // the function's layers as it sees them (the merged tree without a mount namespace)
    pid_t pid_ = -1;
    asio::posix::stream_descriptor pidfd_;
    asio::posix::stream_descriptor out_;
    asio::posix::stream_descriptor err_;
    asio::posix::stream_descriptor control_;  // sandbox: the jail's control socket
    // The running invocation's timeout. One timer per worker, re-armed lazily (see on_deadline): back-to-back
    // invocations cost no timer operations.
    asio::steady_timer deadline_timer_;
    bool deadline_armed_ = false;
    steady::time_point deadline_;
    bool runtime_api_adopted_ = false;
    bool killed_ = false;
    bool provisioned_ = false;
    bool from_spare_ = false;
    bool prewarmed_ = false;  // started ahead of traffic by a hot reload
    long memory_mb_cache_ = 0;
    steady::time_point memory_read_at_;
    sandbox::cgroup cgroup_;
    int uid_slot_ = -1;
    std::string setup_error_;
    std::string partial_[2];
    std::unique_ptr<logs::log_stream> log_;
    state state_ = state::starting;
    steady::time_point spawned_at_;
    std::optional<double> pending_init_ms_;  // reported on the first invocation's REPORT
    bool init_error_reported_ = false;
    bool injected_oom_ = false;
    std::shared_ptr<invocation> current_;
    std::string last_request_id_;
    completion<std::shared_ptr<invocation>> waiter_;
    steady::time_point idle_since_;
};

/// The per-worker Runtime API (2018-06-01), served on the worker's own listener.
class runtime_endpoint final : public http::handler {
public:
    explicit runtime_endpoint(std::weak_ptr<worker> w) : worker_(std::move(w)) {}

    std::size_t body_limit(const http::request_header&) override { return max_response_bytes; }

    http::response too_large(const http::request_header& header, std::size_t) override {
        const auto t = http::parse_target(header.target());
        auto w = worker_.lock();
        if (w && t.segments.size() == 5) {
            return w->on_too_large(t.segments[3]);
        }
        return status_json(bhttp::status::payload_too_large, "Exceeded maximum allowed payload size (6291556 bytes).",
                           "RequestEntityTooLarge");
    }

    asio::awaitable<http::response> handle(http::request req) override {
        auto w = worker_.lock();
        if (!w) {
            co_return status_json(bhttp::status::internal_server_error, "Internal Server Error", "InternalServerError");
        }
        const auto route = route_runtime_request(req.method(), req.target());
        if (route.op == runtime_op::next) {
            co_return co_await worker::on_next(w);
        }
        if (route.op == runtime_op::response || route.op == runtime_op::error) {
            co_return w->on_result(route.request_id, req, route.op == runtime_op::error);
        }
        if (route.op == runtime_op::init_error) {
            co_return w->on_init_error(req);
        }
        co_return http::make_response(bhttp::status::not_found, "404 page not found\n", "text/plain; charset=utf-8");
    }

    static http::response status_json(bhttp::status s, const std::string& message, const std::string& type) {
        return http::make_response(s, json{{"errorMessage", message}, {"errorType", type}}.dump());
    }

private:
    std::weak_ptr<worker> worker_;
};

std::vector<std::string> worker::environment(const std::string& runtime_dir, const std::string& task_root) const {
    const auto& f = pool_->function;
    std::vector<std::string> env;
    auto set = [&env](std::string_view k, std::string_view v) { env.push_back(fmt::format("{}={}", k, v)); };
    set("_HANDLER", f.handler);
    set("AWS_REGION", sched_->options.account.region);
    set("AWS_DEFAULT_REGION", sched_->options.account.region);
    if (!pool_->spec.execution_env.empty()) set("AWS_EXECUTION_ENV", pool_->spec.execution_env);
    set("AWS_LAMBDA_FUNCTION_NAME", f.name);
    set("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", std::to_string(f.memory_mb));
    set("AWS_LAMBDA_FUNCTION_VERSION", f.version);
    set("AWS_LAMBDA_INITIALIZATION_TYPE", provisioned_ ? "provisioned-concurrency" : "on-demand");
    set("AWS_LAMBDA_LOG_GROUP_NAME", f.log_group());
    set("AWS_LAMBDA_LOG_STREAM_NAME", log_->name());
    // Functions get credentials-shaped values so SDKs inside them work against local endpoints.
    set("AWS_ACCESS_KEY_ID", "AKIALAMBENTLOCAL0000");
    set("AWS_SECRET_ACCESS_KEY", "lambent-local-secret-access-key");
    set("AWS_SESSION_TOKEN", "lambent-local-session-token");
    set("AWS_LAMBDA_RUNTIME_API", runtime_api_address_);
    set("LAMBDA_TASK_ROOT", task_root);
    set("LAMBDA_RUNTIME_DIR", runtime_dir);
    set("TZ", ":UTC");
    set("LANG", "en_US.UTF-8");
    set("LC_CTYPE", "C.UTF-8");
    // Layer paths as on AWS (contract §6.2); opt_dir_ is /opt except without a mount namespace.
    set("PATH", fmt::format("/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:{}/bin", opt_dir_));
    set("LD_LIBRARY_PATH",
        fmt::format("/var/lang/lib:/lib64:/usr/lib64:{0}:{0}/lib:{1}:{1}/lib:{2}/lib", runtime_dir, task_root, opt_dir_));
    if (opt_dir_ != "/opt") set("_LAMBENT_OPT_DIR", opt_dir_);  // the runtimes' /opt/python etc. live here
    if (pool_->spec.family == "python") set("PYTHONPATH", runtime_dir);
    if (pool_->spec.family == "nodejs") {
        // nodejs20.x → /opt/nodejs/node20/node_modules first, as AWS does.
        const std::string major = f.runtime.substr(6, f.runtime.find('.') - 6);
        set("NODE_PATH", fmt::format("{2}/nodejs/node{3}/node_modules:{2}/nodejs/node_modules:{0}/node_modules:{0}:{1}",
                                     runtime_dir, task_root, opt_dir_, major));
    }
    set("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR");
    set("AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129:2000");
    set("_AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129");
    set("_AWS_XRAY_DAEMON_PORT", "2000");
    if (f.logging.log_format == "JSON") {
        set("AWS_LAMBDA_LOG_FORMAT", "JSON");
        set("AWS_LAMBDA_LOG_LEVEL", f.logging.application_log_level.value_or("INFO"));
    }
    if (!sched_->options.endpoint_url.empty()) set("AWS_ENDPOINT_URL_LAMBDA", sched_->options.endpoint_url);
    set("PWD", task_root);
    if (f.environment) {
        for (const auto& [k, v] : *f.environment) {
            std::erase_if(env, [&k](const std::string& e) { return e.compare(0, k.size() + 1, k + "=") == 0; });
            set(k, v);
        }
    }
    return env;
}

result<void> worker::start(std::shared_ptr<spare> from) {
    const auto& f = pool_->function;
    auto self = shared_from_this();
    // Runtime API listener first: its address goes into the environment.
    runtime_api_ = std::make_shared<http::server>(sched_->io, std::make_shared<runtime_endpoint>(weak_from_this()));
    const bool sandboxed = sched_->options.sandbox;
    if (sandboxed) {
        // The jail creates the listener inside the worker's own network namespace and hands it over;
        // every worker sees the same address and none can reach another's.
        runtime_api_address_ = "127.0.0.1:9001";
    } else {
        auto ep = runtime_api_->listen(http::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        if (!ep) return ep.error();
        runtime_api_address_ = fmt::format("127.0.0.1:{}", ep->port());
    }

    const auto code_dir = sched_->store.unpacked_path(f.code_sha256_hex);
    std::error_code ec;
    if (!std::filesystem::exists(code_dir, ec)) {
        auto unpacked = sched_->store.ensure_unpacked(f.code_sha256_hex);  // rare: only after manual cleanup
        if (!unpacked) return unpacked.error();
    }
    const auto runtime_host_dir = sched_->options.runtimes_dir / pool_->spec.family;
    const bool mount = sched_->options.mount_code || sandboxed;
    const std::string task_root = mount ? "/var/task" : code_dir.string();
    const std::string runtime_dir = mount ? "/var/runtime" : runtime_host_dir.string();
    std::string opt_host;  // the layers merged in order (normally built when the function was configured)
    if (!f.layers.empty()) {
        auto merged = sched_->store.ensure_opt(f.layer_shas());
        if (!merged) return merged.error();
        opt_host = merged->string();
        opt_dir_ = mount ? "/opt" : opt_host;
    }

    const auto started = codec::now_ms();
    log_ = std::make_unique<logs::log_stream>(
        sched_->options.logs_dir, f.name,
        fmt::format("{}/[{}]{}", codec::date_path(started), f.version, codec::random_hex(16)));

    // The function's part of the jail's arguments: on the command line, or a spare's assignment message.
    std::vector<std::string> function_args;
    if (mount) {
        function_args = {"--task", code_dir.string(), "--runtime", runtime_host_dir.string(), "--tmp-mb",
                         std::to_string(f.ephemeral_storage_mb)};
    }
    // Without a cgroup to limit memory (unprivileged, no delegation), the jail sets RLIMIT_DATA instead.
    if (sandboxed && (!sched_->options.host || sched_->options.host->cgroups == sandbox::cgroup_mode::none)) {
        function_args.insert(function_args.end(), {"--memory-mb", std::to_string(f.memory_mb)});
    }
    if (mount && !opt_host.empty()) function_args.insert(function_args.end(), {"--opt", opt_host});
    function_args.insert(function_args.end(), {"--cwd", task_root, "--"});
    for (const auto& part : pool_->spec.command) {
        std::string a = part;
        if (auto pos = a.find("{runtime_dir}"); pos != std::string::npos) a.replace(pos, 13, runtime_dir);
        if (auto pos = a.find("{task_root}"); pos != std::string::npos) a.replace(pos, 11, task_root);
        // A custom runtime may come from a layer: /opt/bootstrap when the function has none (as on AWS).
        if (a == task_root + "/bootstrap" && !opt_host.empty() && !std::filesystem::exists(code_dir / "bootstrap", ec) &&
            std::filesystem::exists(std::filesystem::path(opt_host) / "bootstrap", ec)) {
            a = opt_dir_ + "/bootstrap";
        }
        function_args.push_back(std::move(a));
    }
    const auto env = environment(runtime_dir, task_root);

    spawned_at_ = steady::now();
    jail_process proc;
    if (from) {
        // A prepared sandbox: set the memory limit on the cgroup it already joined, hand it the function.
        from_spare_ = true;
        proc = from->proc;
        uid_slot_ = from->uid_slot;
        cgroup_ = std::move(from->cgroup);
        const int listener = std::exchange(from->listener, -1);
        const int pidfd = from->pidfd.release();
        control_.assign(from->control.release());
        pid_ = proc.pid;
        pidfd_.assign(pidfd);
        out_.assign(proc.out);
        err_.assign(proc.err);
        // Failures from here on: the spare's processes are ours to reap, its cgroup and uid ours to release.
        auto abandon = [this, listener](error e) -> result<void> {
            if (listener >= 0) ::close(listener);
            ::kill(-pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            state_ = state::dead;
            asio::post(sched_->blocking, [cg = std::move(cgroup_)]() mutable { cg.remove(); });
            sched_->release_slot(std::exchange(uid_slot_, -1));
            return e;
        };
        std::string message;
        for (const auto& e : env) message.append("--env").append(1, '\0').append(e).append(1, '\0');
        for (const auto& a : function_args) message.append(a).append(1, '\0');
        message.pop_back();
        if (!cgroup_.set_memory_limit(f.memory_mb)) {
            return abandon(make_error(errc::service, fmt::format("cannot set the memory limit of a spare sandbox for {}", f.name)));
        }
        if (::send(control_.native_handle(), message.data(), message.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(message.size())) {
            return abandon(make_error(errc::service,
                                      fmt::format("cannot hand a spare sandbox to {}: {}", f.name, std::strerror(errno))));
        }
        if (auto adopted = runtime_api_->adopt(listener); !adopted) return abandon(adopted.error());
        runtime_api_adopted_ = true;
    } else {
        std::vector<std::string> args{sched_->options.jail_path.string()};
        if (sandboxed) {
            uid_slot_ = sched_->acquire_slot();
            if (sched_->options.host) {
                auto cg = sandbox::cgroup::create(*sched_->options.host,
                                                  fmt::format("w{}-{}", uid_slot_, codec::random_hex(4)), f.memory_mb, 1024);
                if (!cg) {
                    sched_->release_slot(std::exchange(uid_slot_, -1));
                    return cg.error();
                }
                cgroup_ = std::move(*cg);
            }
            auto common = sched_->sandbox_args(scheduler_impl::uid_base + uid_slot_, cgroup_);
            args.insert(args.end(), common.begin(), common.end());
        }
        args.insert(args.end(), function_args.begin(), function_args.end());
        auto launched = launch_jail(args, env, sandboxed, sched_->options.seccomp_fd);
        if (!launched) {
            cgroup_.remove();
            sched_->release_slot(std::exchange(uid_slot_, -1));
            return launched.error();
        }
        proc = *launched;
        pid_ = proc.pid;
        out_.assign(proc.out);
        err_.assign(proc.err);
        if (proc.control >= 0) control_.assign(proc.control);
    }
    if (!pidfd_.is_open()) {
        const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
        if (pidfd < 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            return make_error(errc::service, "pidfd_open failed");
        }
        pidfd_.assign(pidfd);
    }
    platform_line(fmt::format("INIT_START Runtime Version: {}:{}.v1\tRuntime Version ARN: arn:aws:lambda:{}::runtime:{}",
                              pool_->spec.family, f.runtime, sched_->options.account.region,
                              codec::hex(codec::sha256(f.runtime))));
    asio::co_spawn(sched_->io, watch_exit(self), log_failure);
    asio::co_spawn(sched_->io, read_output(self, 0), log_failure);
    asio::co_spawn(sched_->io, read_output(self, 1), log_failure);
    if (control_.is_open()) asio::co_spawn(sched_->io, read_control(self), log_failure);
    spdlog::debug("worker spawned function={} pid={} runtime_api={}", f.name, pid_, runtime_api_address_);
    return {};
}

asio::awaitable<void> worker::watch_exit(std::shared_ptr<worker> self) {
    auto [ec] = co_await self->pidfd_.async_wait(asio::posix::descriptor_base::wait_read, tuple_awaitable);
    // The pidfd turns readable when the worker has exited, but a wait can also end without that (an error from
    // the reactor): a blocking waitpid() here would then stop the whole event loop until the worker dies (the
    // soak run saw it). Reap without blocking, and poll on a timer while the worker is still alive.
    int status = 0;
    asio::steady_timer poll(self->sched_->io);
    for (bool warned = false;;) {
        const pid_t reaped = ::waitpid(self->pid_, &status, WNOHANG);
        if (reaped == self->pid_ || (reaped < 0 && errno != EINTR)) break;
        if (!warned) {
            warned = true;
            spdlog::warn("worker pid={} still running after its exit wait ended ({}); polling", self->pid_,
                         ec ? ec.message() : std::string("no error"));
        }
        poll.expires_after(std::chrono::milliseconds(50));
        co_await poll.async_wait(tuple_awaitable);
    }
    self->on_exit(status);
}

asio::awaitable<void> worker::read_control(std::shared_ptr<worker> self) {
    // The jail sends "ok" with the Runtime API listener (SCM_RIGHTS) once the sandbox is up, or
    // "error <stage> <errno>" when a step fails, even after "ok" (e.g. attaching the egress network). The
    // socket closes when the runtime execs. A readiness notification may be spurious (the descriptor is
    // non-blocking): nothing to read is not the end.
    for (;;) {
        auto [ec] = co_await self->control_.async_wait(asio::posix::descriptor_base::wait_read, tuple_awaitable);
        if (ec || !self->control_.is_open()) co_return;
        control_read r = control_read::message;
        while (r == control_read::message) r = self->read_control_message();
        if (r == control_read::closed) break;
    }
    boost::system::error_code ignored;
    self->control_.close(ignored);
}

worker::control_read worker::read_control_message() {
    auto got = receive_control(control_.native_handle());
    if (got.state == control_message::status::again) return control_read::again;
    if (got.state == control_message::status::closed) return control_read::closed;
    const std::string& message = got.text;
    const int fd = got.fd;
    if (message == "ok" && fd >= 0 && !runtime_api_adopted_) {
        runtime_api_adopted_ = true;
        if (auto adopted = runtime_api_->adopt(fd); !adopted) {
            setup_error_ = adopted.error().message;
            kill();
        }
        return control_read::message;
    }
    if (fd >= 0) ::close(fd);
    if (message.rfind("error ", 0) == 0 && setup_error_.empty()) {
        setup_error_ = setup_error_text(message.substr(6));
        spdlog::error("worker sandbox setup failed function={} stage={}", pool_->function.name, setup_error_);
    }
    return control_read::message;
}

long worker::max_memory_mb() {
    // Reading /proc or the cgroup costs more than the rest of a warm invoke: refresh at most every 250 ms.
    const auto now = steady::now();
    if (memory_mb_cache_ > 0 && now - memory_read_at_ < std::chrono::milliseconds(250)) return memory_mb_cache_;
    memory_read_at_ = now;
    memory_mb_cache_ = read_max_memory_mb();
    return memory_mb_cache_;
}

long worker::read_max_memory_mb() const {
    if (!cgroup_.empty()) {
        return static_cast<long>((cgroup_.peak_bytes() + (1u << 20) - 1) >> 20);
    }
    if (sched_->options.sandbox) {
        // The jail's only child is the runtime.
        std::ifstream children(fmt::format("/proc/{0}/task/{0}/children", pid_));
        pid_t child = 0;
        if (children >> child) return peak_rss_mb(child);
    }
    return peak_rss_mb(pid_);
}

asio::awaitable<void> worker::read_output(std::shared_ptr<worker> self, int which) {
    auto& stream = which == 0 ? self->out_ : self->err_;
    std::array<char, 8192> buf;
    for (;;) {
        auto [ec, n] = co_await stream.async_read_some(asio::buffer(buf), tuple_awaitable);
        if (n > 0) self->feed(which, std::string_view(buf.data(), n));
        if (ec) break;
    }
}

void worker::feed(int which, std::string_view chunk) {
    auto& partial = partial_[which];
    std::size_t start = 0;
    for (;;) {
        const auto nl = chunk.find('\n', start);
        if (nl == std::string_view::npos) break;
        if (partial.empty()) {
            emit_line(chunk.substr(start, nl - start));
        } else {
            partial.append(chunk.substr(start, nl - start));
            emit_line(partial);
            partial.clear();
        }
        start = nl + 1;
    }
    partial.append(chunk.substr(start));
    if (partial.size() > 256 * 1024) {  // an endless line is cut into events of at most 256 KB
        emit_line(partial);
        partial.clear();
    }
}

void worker::emit_line(std::string_view line) {
    log_->write(line, epoch_ms());
    if (current_ && !current_->finished && current_->req.want_log_tail) {
        current_->log.append(line);
        current_->log.push_back('\n');
        if (current_->log.size() > 64 * 1024) {  // only the tail is ever returned
            current_->log.erase(0, current_->log.size() - 16 * 1024);
        }
    }
    spdlog::debug("[{}] {}", pool_->function.name, line);
}

void worker::platform_line(std::string_view line) { emit_line(line); }

void worker::drain() {
    // The runtime wrote its output before posting the result: read what the pipes hold now so those
    // lines belong to this invocation.
    // One poll() tells which pipe holds anything (usually neither): cheaper than a read per pipe. A closed
    // pipe is entered as fd -1, which poll() skips.
    std::array<pollfd, 2> fds{};
    for (int which = 0; which < 2; ++which) {
        auto& stream = which == 0 ? out_ : err_;
        fds[which] = pollfd{stream.is_open() ? stream.native_handle() : -1, POLLIN, 0};
    }
    if (::poll(fds.data(), fds.size(), 0) <= 0) return;
    char buf[8192];
    for (int which = 0; which < 2; ++which) {
        if ((fds[which].revents & (POLLIN | POLLHUP)) == 0) continue;
        auto& stream = which == 0 ? out_ : err_;
        for (;;) {
            const ssize_t n = ::read(stream.native_handle(), buf, sizeof buf);
            if (n <= 0) break;
            feed(which, std::string_view(buf, static_cast<std::size_t>(n)));
        }
    }
}

http::response worker::render(const invocation& inv) const {
    auto res = http::make_response(bhttp::status::ok, inv.req.payload);
    res.set("Lambda-Runtime-Aws-Request-Id", inv.req.request_id);
    res.set("Lambda-Runtime-Deadline-Ms", std::to_string(inv.deadline_epoch_ms));
    res.set("Lambda-Runtime-Invoked-Function-Arn", inv.req.invoked_arn);
    res.set("Lambda-Runtime-Trace-Id", inv.req.trace_id);
    if (!inv.req.client_context.empty()) res.set("Lambda-Runtime-Client-Context", inv.req.client_context);
    if (!inv.req.cognito_identity.empty()) res.set("Lambda-Runtime-Cognito-Identity", inv.req.cognito_identity);
    return res;
}

asio::awaitable<http::response> worker::on_next(std::shared_ptr<worker> self) {
    if (self->state_ == state::dead) {
        co_return runtime_endpoint::status_json(bhttp::status::internal_server_error, "Internal Server Error",
                                                "InternalServerError");
    }
    if (self->current_ && !self->current_->finished) {
        co_return self->render(*self->current_);  // a repeated /next re-delivers the outstanding event
    }
    if (self->state_ == state::starting && self->pool_->fail_init && !self->init_error_reported_) {
        // Injected init-error: the environment fails its init as if the runtime had reported it.
        auto body = self->injected_init_error();
        self->platform_line("[ERROR] Runtime.ImportModuleError: " + json::parse(body).value("errorMessage", ""));
        self->init_failed("Runtime.ImportModuleError", std::move(body));
        co_return runtime_endpoint::status_json(bhttp::status::internal_server_error, "Internal Server Error",
                                                "InternalServerError");
    }
    if (self->state_ == state::starting) {
        const double init_ms = ms_between(self->spawned_at_, steady::now());
        self->sched_->stats.function(self->pool_->function.name).init_duration.observe(init_ms / 1000.0);
        // Pre-initialised (provisioned) environments report no Init Duration: no invocation waited for it.
        if (!self->provisioned_ && !self->prewarmed_) self->pending_init_ms_ = init_ms;
        // The spare this worker took is replaced once its runtime is up: off the cold start's path.
        if (self->from_spare_) self->sched_->refill_spares_soon();
        spdlog::debug("worker ready function={} pid={} init_ms={:.2f}", self->pool_->function.name, self->pid_,
                      *self->pending_init_ms_);
    }
    self->state_ = state::idle;
    self->idle_since_ = steady::now();
    // GCC 12: keep capturing lambdas out of co_await full-expressions.
    auto wait_for_work = [self](auto handler) {
        self->waiter_ = completion<std::shared_ptr<invocation>>(std::move(handler));
        self->sched_->worker_ready(self);
    };
    auto inv = co_await asio::async_initiate<const asio::use_awaitable_t<>, void(std::shared_ptr<invocation>)>(
        std::move(wait_for_work), asio::use_awaitable);
    if (!inv) {
        co_return runtime_endpoint::status_json(bhttp::status::internal_server_error, "Internal Server Error",
                                                "InternalServerError");
    }
    co_return self->render(*inv);
}

void worker::dispatch(const std::shared_ptr<invocation>& inv) {
    const auto& f = pool_->function;
    // The runtime's init output is in the pipes already: log it before the first START, not as part of
    // the invocation (and its log tail). Output a warm environment writes between events (after it posted
    // a result) is read as it comes, like AWS, where a frozen environment's late output shows up in the
    // next invocation: no poll() on the warm path for it.
    if (last_request_id_.empty()) drain();
    state_ = state::busy;
    current_ = inv;
    inv->started = steady::now();
    inv->deadline_epoch_ms = epoch_ms() + static_cast<std::int64_t>(f.timeout_s) * 1000;
    fmt::memory_buffer line;
    fmt::format_to(std::back_inserter(line), "START RequestId: {} Version: {}", inv->req.request_id, f.version);
    platform_line(std::string_view(line.data(), line.size()));
    if (inv->req.want_log_tail) inv->log.reserve(256);  // START, END, REPORT and the function's own lines
    deadline_ = inv->started + std::chrono::seconds(f.timeout_s);
    if (!deadline_armed_) arm_deadline();
    waiter_(inv);
    // Injected faults (docs/faults.md) end the invocation through the real paths, before the runtime can answer.
    if (inv->fault == fault_kind::timeout) {
        timed_out(inv);
    } else if (inv->fault == fault_kind::oom) {
        injected_oom_ = true;
        kill();  // on_exit reports it exactly like a cgroup OOM kill
    }
}

void worker::arm_deadline() {
    deadline_armed_ = true;
    deadline_timer_.expires_at(deadline_);
    deadline_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
        auto self = weak.lock();
        if (!self) return;
        self->deadline_armed_ = false;
        if (!ec) self->on_deadline();
    });
}

void worker::on_deadline() {
    // The timer was set for the deadline of the invocation running when it was armed. Since then that one
    // may have finished and others started: wait on for the running one's, or stop until the next dispatch.
    if (!current_ || current_->finished || state_ == state::dead) return;
    if (steady::now() < deadline_) {
        arm_deadline();
        return;
    }
    timed_out(current_);
}

void worker::timed_out(const std::shared_ptr<invocation>& inv) {
    if (inv->finished || current_ != inv) return;
    drain();
    const auto seconds = fmt::format("{:.2f}", static_cast<double>(pool_->function.timeout_s));
    platform_line(fmt::format("{} {} Task timed out after {} seconds", codec::iso_timestamp(codec::now_ms()),
                              inv->req.request_id, seconds));
    invoke_result res;
    res.function_error = "Unhandled";
    res.body = json{{"errorType", "Sandbox.Timedout"},
                    {"errorMessage", fmt::format("RequestId: {} Error: Task timed out after {} seconds",
                                                 inv->req.request_id, seconds)}}
                   .dump();
    complete(std::move(res), "Status: timeout\t");
    kill();  // a timed-out environment is never reused
}

void worker::complete(invoke_result res, const std::string& status_suffix) {
    auto inv = current_;
    const auto& f = pool_->function;
    const double duration = ms_between(inv->started, steady::now());
    fmt::memory_buffer line;  // the platform lines are formatted on the stack: no allocation per invocation
    fmt::format_to(std::back_inserter(line), "END RequestId: {}", inv->req.request_id);
    platform_line(std::string_view(line.data(), line.size()));
    line.clear();
    fmt::format_to(
        std::back_inserter(line),
        "REPORT RequestId: {}\tDuration: {:.2f} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB\t",
        inv->req.request_id, duration, static_cast<long long>(std::ceil(duration)), f.memory_mb, max_memory_mb());
    if (pending_init_ms_) {
        fmt::format_to(std::back_inserter(line), "Init Duration: {:.2f} ms\t", *pending_init_ms_);
        pending_init_ms_.reset();
    }
    line.append(status_suffix);
    platform_line(std::string_view(line.data(), line.size()));
    // One write per invocation: a finished invocation's log survives even a kill -9 of the server.
    log_->flush();
    res.log_tail = std::move(inv->log);
    res.executed_version = f.version;
    last_request_id_ = inv->req.request_id;
    sched_->finish(inv, std::move(res));
    current_.reset();
    state_ = state::responded;
}

http::response worker::on_result(const std::string& id, http::request& req, bool is_error) {
    if (!current_ || current_->req.request_id != id) {
        if (id == last_request_id_) {
            return runtime_endpoint::status_json(
                bhttp::status::forbidden,
                "State transition from ResponseSent to ResponseSent failed for runtime. Error: State transition is not "
                "allowed",
                "InvalidStateTransition");
        }
        return runtime_endpoint::status_json(bhttp::status::bad_request, "Invalid request ID", "InvalidRequestID");
    }
    if (!is_error) {
        if (!valid_response_mode(req["Lambda-Runtime-Function-Response-Mode"])) {
            return runtime_endpoint::status_json(bhttp::status::bad_request, "Invalid function response mode",
                                                 "InvalidFunctionResponseMode");
        }
    }
    drain();
    invoke_result res;
    res.body = std::move(req.body());
    if (is_error) {
        res.function_error = "Unhandled";
        const std::string type = runtime_error_type(req["Lambda-Runtime-Function-Error-Type"]);
        if (res.body.empty()) res.body = function_error_body(type, "");
    }
    // An error the function reports itself ends with a plain REPORT line on AWS; `Status:` and `Error Type:`
    // are only appended when the platform ends the invocation (timeout, exit, out of memory).
    complete(std::move(res), "");
    if (pool_->retired) {
        asio::post(sched_->io, [self = shared_from_this()] { self->kill(); });
    }
    return http::make_response(bhttp::status::accepted, R"({"status":"OK"})");
}

http::response worker::on_too_large(const std::string& id) {
    if (current_ && current_->req.request_id == id) {
        drain();
        invoke_result res;
        res.function_error = "Unhandled";
        res.body = json{{"errorMessage", "Response payload size exceeded maximum allowed payload size (6291556 bytes)."},
                        {"errorType", "Function.ResponseSizeTooLarge"}}
                       .dump();
        complete(std::move(res), "Status: error\tError Type: Function.ResponseSizeTooLarge\t");
    }
    return runtime_endpoint::status_json(bhttp::status::payload_too_large,
                                         "Exceeded maximum allowed payload size (6291556 bytes).", "RequestEntityTooLarge");
}

http::response worker::on_init_error(http::request& req) {
    if (state_ != state::starting || init_error_reported_) {
        return runtime_endpoint::status_json(
            bhttp::status::forbidden,
            "State transition from Ready to InitError failed for runtime. Error: State transition is not allowed",
            "InvalidStateTransition");
    }
    init_failed(runtime_error_type(req["Lambda-Runtime-Function-Error-Type"]), std::move(req.body()));
    return http::make_response(bhttp::status::accepted, R"({"status":"OK"})");
}

void worker::init_failed(std::string type, std::string body) {
    init_error_reported_ = true;
    drain();
    if (type.empty()) type = runtime_error_type(type);
    if (body.empty()) body = function_error_body(type, "");
    platform_line(fmt::format("INIT_REPORT Init Duration: {:.2f} ms\tPhase: init\tStatus: error\tError Type: {}",
                              ms_between(spawned_at_, steady::now()), type));
    sched_->fail_head(pool_, body, true);
    asio::post(sched_->io, [self = shared_from_this()] { self->kill(); });
}

std::string worker::injected_init_error() const {
    // The bytes the stock runtimes (runtimes/) post to /runtime/init/error when the handler's module is
    // missing (contract §4.2): Python's json.dumps layout, Node's JSON.stringify with its key order.
    const auto& handler = pool_->function.handler;
    const auto dot = handler.rfind('.');
    const std::string module = dot == std::string::npos ? handler : handler.substr(0, dot);
    const auto quoted = [](const std::string& text) { return json(text).dump(-1, ' ', true); };
    if (pool_->spec.family == "nodejs") {
        const auto message = fmt::format("Error: Cannot find module '{}'", module);
        const std::string stack = "/var/runtime/bootstrap.mjs";
        nlohmann::ordered_json body;
        body["errorType"] = "Runtime.ImportModuleError";
        body["errorMessage"] = fmt::format("{}\nRequire stack:\n- {}", message, stack);
        body["trace"] = {"Runtime.ImportModuleError: " + message, "Require stack:", "- " + stack};
        return body.dump();
    }
    const std::string missing = module.substr(0, module.find('/'));  // Python imports "a/b" as a.b
    return fmt::format(R"({{"errorMessage": {}, "errorType": "Runtime.ImportModuleError", "requestId": "", )"
                       R"("stackTrace": []}})",
                       quoted(fmt::format("Unable to import module '{}': No module named '{}'", module, missing)));
}

void worker::kill() {
    if (pid_ > 0 && state_ != state::dead) {
        killed_ = true;
        ::kill(-pid_, SIGKILL);  // the whole process group: whatever the runtime forked goes too
        ::kill(pid_, SIGKILL);
    }
}

void worker::on_exit(int wait_status) {
    const state was = state_;
    state_ = state::dead;
    drain();
    // The exit can be seen before the jail's last control message: a setup error explains the exit.
    if (control_.is_open()) {
        while (read_control_message() == control_read::message) {
        }
    }
    memory_mb_cache_ = 0;  // the REPORT of a dying worker shows its real peak (OOM: the limit)
    const bool oom = injected_oom_ || cgroup_.oom_killed();
    if (oom && current_ && !current_->finished) {
        const std::string id = current_->req.request_id;
        invoke_result res;
        res.function_error = "Unhandled";
        res.body = function_error_body("Runtime.OutOfMemory",
                                       fmt::format("RequestId: {} Error: Runtime exited with error: signal: killed", id));
        platform_line(fmt::format("RequestId: {} Error: Runtime exited with error: signal: killed", id));
        complete(std::move(res), "Status: error\tError Type: Runtime.OutOfMemory\t");
        state_ = state::dead;
    } else if (current_ && !current_->finished) {
        std::string reason;
        if (WIFEXITED(wait_status)) {
            reason = WEXITSTATUS(wait_status) == 0 ? "Runtime exited without providing a reason"
                                                   : fmt::format("Runtime exited with error: exit status {}", WEXITSTATUS(wait_status));
        } else if (WIFSIGNALED(wait_status)) {
            const int sig = WTERMSIG(wait_status);
            reason = fmt::format("Runtime exited with error: signal: {}",
                                 sig == SIGKILL ? "killed" : sig == SIGSEGV ? "segmentation fault" : strsignal(sig));
        }
        const std::string id = current_->req.request_id;
        invoke_result res;
        res.function_error = "Unhandled";
        res.body = function_error_body("Runtime.ExitError", fmt::format("RequestId: {} Error: {}", id, reason));
        platform_line(fmt::format("RequestId: {} Error: {}", id, reason));
        complete(std::move(res), "Status: error\tError Type: Runtime.ExitError\t");
        state_ = state::dead;
    } else if (was == state::starting && !setup_error_.empty()) {
        sched_->fail_head_with(pool_, make_error(errc::service, fmt::format("The sandbox for function {} could not be "
                                                                            "set up: {}",
                                                                            pool_->function.name, setup_error_)));
    } else if (was == state::starting && !init_error_reported_) {
        std::string reason = WIFEXITED(wait_status)
                                 ? fmt::format("Runtime exited with error: exit status {}", WEXITSTATUS(wait_status))
                                 : "Runtime exited with error: signal: killed";
        platform_line(fmt::format("INIT_REPORT Init Duration: {:.2f} ms\tPhase: init\tStatus: error\tError Type: Runtime.ExitError",
                                  ms_between(spawned_at_, steady::now())));
        sched_->fail_head(pool_, reason, false);
    }
    waiter_(nullptr);
    if (runtime_api_) runtime_api_->stop();
    boost::system::error_code ec;
    out_.close(ec);
    err_.close(ec);
    pidfd_.close(ec);
    control_.close(ec);
    deadline_timer_.cancel();
    if (!cgroup_.empty()) {
        // rmdir may need a few retries while the kernel releases the tasks: off the event loop.
        asio::post(sched_->blocking, [cg = std::move(cgroup_)]() mutable { cg.remove(); });
    }
    sched_->release_slot(uid_slot_);
    uid_slot_ = -1;
    if (from_spare_ && was == state::starting) sched_->refill_spares_soon();
    log_->flush();
    spdlog::debug("worker exited function={} pid={} status={}", pool_->function.name, pid_, wait_status);
    sched_->worker_gone(shared_from_this());
}

// ---- spare sandboxes (ADR 0006) ---------------------------------------------------------------

std::vector<std::string> scheduler_impl::sandbox_args(int uid, const sandbox::cgroup& cg) const {
    std::vector<std::string> args{"--sandbox", "--uid", std::to_string(uid), "--gid", std::to_string(uid),
                                  "--control-fd", "3", "--net", options.egress ? "egress" : "none"};
    if (options.seccomp_fd >= 0) args.insert(args.end(), {"--seccomp-fd", "4"});
    if (options.egress) args.insert(args.end(), {"--slirp", options.slirp4netns});
    for (const auto& procs : cg.procs_files()) args.insert(args.end(), {"--cgroup", procs});
    if (options.jail_trace) args.emplace_back("--trace");
    if (options.userns) args.insert(args.end(), {"--userns", "--root-dir", options.jail_root.string()});
    return args;
}

void scheduler_impl::refill_spares() {
    if (stopped || !options.sandbox) return;
    if (spare_failures >= 3 && steady::now() < spare_backoff_until) return;
    while (static_cast<int>(spares.size()) < options.spare_sandboxes) {
        const auto before = spares.size();
        start_spare();
        if (spares.size() == before) return;  // could not start one: the reaper tries again
    }
}

void scheduler_impl::refill_spares_soon() {
    // A moment after the worker came up, so its first invocation does not share the CPU with the new
    // spare's set-up (slirp4netns alone takes several ms of CPU).
    if (refill_pending || stopped) return;
    refill_pending = true;
    refill_timer.expires_after(std::chrono::milliseconds(50));
    refill_timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
        auto self = weak.lock();
        if (!self) return;
        self->refill_pending = false;
        if (!ec) self->refill_spares();
    });
}

void scheduler_impl::start_spare() {
    auto s = std::make_shared<spare>(io);
    s->uid_slot = acquire_slot();
    auto fail = [this, &s](const std::string& why) {
        spdlog::warn("scheduler: cannot prepare a spare sandbox: {}", why);
        s->cgroup.remove();
        release_slot(s->uid_slot);
        if (++spare_failures >= 3) spare_backoff_until = steady::now() + std::chrono::seconds(10);
    };
    if (options.host) {
        auto cg = sandbox::cgroup::create(*options.host, fmt::format("s{}-{}", s->uid_slot, codec::random_hex(4)), 0, 1024);
        if (!cg) return fail(cg.error().message);
        s->cgroup = std::move(*cg);
    }
    std::vector<std::string> args{options.jail_path.string()};
    auto common = sandbox_args(uid_base + s->uid_slot, s->cgroup);
    args.insert(args.end(), common.begin(), common.end());
    args.emplace_back("--spare");
    auto launched = launch_jail(args, {}, true, options.seccomp_fd);
    if (!launched) return fail(launched.error().message);
    s->proc = *launched;
    s->control.assign(s->proc.control);
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, s->proc.pid, 0));
    if (pidfd < 0) {
        ::kill(-s->proc.pid, SIGKILL);
        ::waitpid(s->proc.pid, nullptr, 0);
        ::close(s->proc.out);
        ::close(s->proc.err);
        return fail("pidfd_open failed");
    }
    s->pidfd.assign(pidfd);
    spares.push_back(s);
    auto self = shared_from_this();
    asio::co_spawn(io, spare_ready(self, s), log_failure);
    asio::co_spawn(io, spare_exit(self, s), log_failure);
}

asio::awaitable<void> scheduler_impl::spare_ready(std::shared_ptr<scheduler_impl> self, std::shared_ptr<spare> s) {
    control_message got;
    do {
        auto [ec] = co_await s->control.async_wait(asio::posix::descriptor_base::wait_read, tuple_awaitable);
        if (ec || s->taken) co_return;
        got = receive_control(s->control.native_handle());
    } while (got.state == control_message::status::again);
    if (got.text == "ok" && got.fd >= 0) {
        s->listener = got.fd;
        s->ready = true;
        self->spare_failures = 0;
        spdlog::debug("spare sandbox ready pid={} ms={:.2f}", s->proc.pid, ms_between(s->started, steady::now()));
        co_return;
    }
    if (got.fd >= 0) ::close(got.fd);
    spdlog::error("spare sandbox setup failed: {}",
                  got.text.rfind("error ", 0) == 0 ? setup_error_text(got.text.substr(6)) : std::string("no answer"));
    ::kill(-s->proc.pid, SIGKILL);  // spare_exit cleans up
}

asio::awaitable<void> scheduler_impl::spare_exit(std::shared_ptr<scheduler_impl> self, std::shared_ptr<spare> s) {
    co_await s->pidfd.async_wait(asio::posix::descriptor_base::wait_read, tuple_awaitable);
    if (s->taken) co_return;  // a worker owns the processes now
    ::waitpid(s->proc.pid, nullptr, 0);
    self->spare_gone(s, !s->ready);
}

void scheduler_impl::spare_gone(const std::shared_ptr<spare>& s, bool failed) {
    std::erase(spares, s);
    boost::system::error_code ec;
    s->control.close(ec);
    s->pidfd.close(ec);
    for (int fd : {s->proc.out, s->proc.err, s->listener}) {
        if (fd >= 0) ::close(fd);
    }
    s->listener = -1;
    if (!s->cgroup.empty()) {
        asio::post(blocking, [cg = std::move(s->cgroup)]() mutable { cg.remove(); });
    }
    release_slot(std::exchange(s->uid_slot, -1));
    if (failed && !stopped) {
        if (++spare_failures >= 3) {
            spare_backoff_until = steady::now() + std::chrono::seconds(10);
            spdlog::warn("scheduler: spare sandboxes keep failing; trying again in 10 s");
        }
    }
    refill_spares();
}

std::shared_ptr<spare> scheduler_impl::take_spare() {
    if (!options.sandbox || options.spare_sandboxes <= 0) return nullptr;
    for (auto it = spares.begin(); it != spares.end(); ++it) {
        if ((*it)->ready) {
            auto s = *it;
            spares.erase(it);
            s->taken = true;
            ++spare_assignments;
            return s;
        }
    }
    ++spare_misses;
    return nullptr;
}

// ---- scheduler --------------------------------------------------------------------------------

result<void> scheduler_impl::load_registry() {
    const auto path = options.runtimes_dir / "registry.json";
    std::ifstream in(path);
    if (!in) return make_error(errc::service, fmt::format("cannot read the runtime registry {}", path.string()));
    std::stringstream text;
    text << in.rdbuf();
    auto j = json::parse(text.str(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        return make_error(errc::service, fmt::format("{} is not valid JSON", path.string()));
    }
    for (const auto& [id, entry] : j.items()) {
        if (id.front() == '_') continue;
        runtime_spec spec;
        spec.family = entry.value("family", "");
        spec.command = entry.value("command", std::vector<std::string>{});
        spec.execution_env = entry.value("execution_env", "");
        if (spec.command.empty()) continue;
        // Interpreters named without a path are looked up on the server's PATH once, here.
        if (spec.command[0].find('/') == std::string::npos && spec.command[0].find('{') == std::string::npos) {
            std::string found;
            std::stringstream dirs(std::getenv("PATH") != nullptr ? std::getenv("PATH") : "/usr/bin:/bin");
            for (std::string dir; std::getline(dirs, dir, ':');) {
                const auto candidate = std::filesystem::path(dir) / spec.command[0];
                if (::access(candidate.c_str(), X_OK) == 0) {
                    found = candidate.string();
                    break;
                }
            }
            if (found.empty()) {
                spdlog::warn("runtime {}: '{}' is not on PATH; invocations of {} functions will fail", id,
                             spec.command[0], id);
            } else {
                spec.command[0] = found;
            }
        }
        runtimes.emplace(id, std::move(spec));
    }
    return {};
}

asio::awaitable<invoke_result> scheduler_impl::invoke(std::shared_ptr<scheduler_impl> self, invoke_request req) {
    invoke_result throttled;
    if (self->stopped) {
        throttled.failure = make_error(errc::service, "The server is shutting down.");
        co_return throttled;
    }
    // Concurrency: a function with reserved concurrency R runs at most R at once; the others share what is
    // left of the account limit (contract §9.1).
    const std::string fn = req.function->name;
    auto full = [&self, &fn]() -> const char* {
        auto r = self->reserved.find(fn);
        if (r != self->reserved.end()) {
            return self->function_active[fn] >= r->second ? "ReservedFunctionConcurrentInvocationLimitExceeded" : nullptr;
        }
        return self->unreserved_active >= self->options.concurrency_limit - self->reserved_total
                   ? "ConcurrentInvocationLimitExceeded"
                   : nullptr;
    };
    // Injected faults (docs/faults.md) take the same paths as the real failures they stand for.
    std::optional<fault> injected;
    if (!self->faults.empty()) {
        injected = self->faults.take(fn, req.function->version, qualifier_of_arn(req.invoked_arn));
    }
    const auto injected_kind = injected ? std::optional<fault_kind>(injected->kind) : std::nullopt;
    if (injected) ++self->stats.function(fn).faults_injected;
    if (injected_kind == fault_kind::latency) {
        asio::steady_timer delay(self->io, injected->latency);
        co_await delay.async_wait(tuple_awaitable);
    }
    const char* injected_reason = nullptr;
    if (injected_kind == fault_kind::throttle) {
        injected_reason = self->reserved.count(fn) != 0 ? "ReservedFunctionConcurrentInvocationLimitExceeded"
                                                         : "ConcurrentInvocationLimitExceeded";
    }
    if (const char* reason = injected_reason != nullptr ? injected_reason : full()) {
        // An injected throttle fails asynchronous events too, so the queue's throttle back-off is exercised.
        if (!req.asynchronous || injected_reason != nullptr) {
            ++self->stats.function(fn).throttles;
            throttled.failure = error{errc::too_many_requests, "Rate Exceeded.", reason};
            co_return throttled;
        }
        // Asynchronous events wait for a free slot instead of being rejected.
        asio::steady_timer wait(self->io);
        while (full() != nullptr && !self->stopped) {
            wait.expires_after(std::chrono::milliseconds(20));
            co_await wait.async_wait(tuple_awaitable);
        }
    }
    auto rt = self->runtimes.find(req.function->runtime);
    if (rt == self->runtimes.end() || rt->second.command.empty() ||
        (rt->second.command[0].front() != '/' && rt->second.command[0].front() != '{')) {
        throttled.failure = make_error(errc::invalid_runtime,
                                       fmt::format("The runtime {} is not available on this host.", req.function->runtime));
        co_return throttled;
    }
    // An injected init error needs an environment of its own that fails its init: a separate pool.
    const bool fail_init = injected_kind == fault_kind::init_error;
    const std::string key = req.function->name + "\n" + req.function->revision_id + (fail_init ? "\ninit-error" : "");
    auto& p = self->pools[key];
    if (!p) {
        p = std::make_shared<pool>();
        p->key = key;
        p->function = *req.function;
        p->spec = rt->second;
        p->fail_init = fail_init;
    }
    auto the_pool = p;
    auto inv = std::make_shared<invocation>();
    inv->req = std::move(req);
    if (injected_kind == fault_kind::timeout || injected_kind == fault_kind::oom) inv->fault = injected_kind;
    const bool counted_unreserved = self->reserved.count(fn) == 0;
    ++self->active;
    ++self->function_active[fn];
    auto& fm = self->stats.function(fn);
    ++fm.invocations;
    ++fm.concurrent;
    const auto started = steady::now();
    if (counted_unreserved) ++self->unreserved_active;
    auto enqueue = [self, the_pool, inv](auto handler) {
        inv->handler = completion<invoke_result>(std::move(handler));
        self->submit(the_pool, inv);
    };
    invoke_result res = co_await asio::async_initiate<const asio::use_awaitable_t<>, void(invoke_result)>(
        std::move(enqueue), asio::use_awaitable);
    --self->active;
    if (counted_unreserved) --self->unreserved_active;
    {
        auto& done = self->stats.function(fn);
        --done.concurrent;
        done.duration.observe(std::chrono::duration<double>(steady::now() - started).count());
        if (res.failure || res.function_error) ++done.errors;
    }
    if (--self->function_active[fn] <= 0) self->function_active.erase(fn);
    co_return res;
}

void scheduler_impl::submit(const std::shared_ptr<pool>& p, const std::shared_ptr<invocation>& inv) {
    // The worker parked last first: its memory is the likeliest to be in cache. Entries of workers that
    // were killed or taken since they parked are dropped on the way.
    while (!p->idle.empty()) {
        auto w = std::move(p->idle.back());
        p->idle.pop_back();
        if (w->waiting_for_work()) {
            ++stats.function(p->function.name).warm_starts;
            w->dispatch(inv);
            return;
        }
    }
    ++stats.function(p->function.name).cold_starts;
    p->queue.push_back(inv);
    rebalance(p);
}

void scheduler_impl::rebalance(const std::shared_ptr<pool>& p) {
    if (stopped) return;
    // Workers that are starting, or that just answered and are on their way back to /next, will take
    // queued invocations soon: start new workers only for the rest.
    std::size_t coming = 0;
    for (auto& w : p->workers) {
        if (w->killed()) continue;
        if (w->current_state() == worker::state::starting || w->current_state() == worker::state::responded) ++coming;
    }
    while (coming < p->queue.size()) {
        auto w = std::make_shared<worker>(shared_from_this(), p);
        auto started = w->start(take_spare());
        if (!started) {
            spdlog::error("scheduler: cannot start a worker for {}: {}", p->function.name, started.error().message);
            auto inv = p->queue.front();
            p->queue.pop_front();
            invoke_result res;
            res.failure = started.error();
            finish(inv, std::move(res));
            continue;
        }
        p->workers.push_back(std::move(w));
        ++coming;
    }
}

void scheduler_impl::ensure_provisioned(const std::shared_ptr<pool>& p) {
    if (stopped || p->retired) return;
    int alive = 0;
    for (auto& w : p->workers) {
        if (w->provisioned() && w->current_state() != worker::state::dead) ++alive;
    }
    while (alive < p->provisioned) {
        auto w = std::make_shared<worker>(shared_from_this(), p, true);
        if (auto started = w->start(take_spare()); !started) {
            spdlog::error("scheduler: cannot start a provisioned worker for {}: {}", p->function.name,
                          started.error().message);
            return;
        }
        p->workers.push_back(std::move(w));
        ++alive;
    }
}

void scheduler_impl::worker_ready(const std::shared_ptr<worker>& w) {
    const auto& p = w->owner();
    if (w->killed()) return;  // it asked for work just before it was killed: its exit is on its way
    if (!p->queue.empty()) {
        auto inv = p->queue.front();
        p->queue.pop_front();
        w->dispatch(inv);
        return;
    }
    if (p->retired || stopped) {
        w->kill();
        return;
    }
    p->idle.push_back(w);
}

void scheduler_impl::fail_head(const std::shared_ptr<pool>& p, const std::string& body_or_reason, bool init_error) {
    if (p->queue.empty()) return;
    auto inv = p->queue.front();
    p->queue.pop_front();
    invoke_result res;
    res.function_error = "Unhandled";
    res.body = init_error ? body_or_reason
                          : function_error_body("Runtime.ExitError",
                                                fmt::format("RequestId: {} Error: {}", inv->req.request_id, body_or_reason));
    res.executed_version = p->function.version;
    finish(inv, std::move(res));
}

void scheduler_impl::finish(const std::shared_ptr<invocation>& inv, invoke_result res) {
    if (inv->finished) return;
    inv->finished = true;
    inv->handler(std::move(res));
}

void scheduler_impl::worker_gone(const std::shared_ptr<worker>& w) {
    auto p = w->owner();
    std::erase(p->workers, w);
    std::erase(p->idle, w);
    rebalance(p);  // queued invocations still need workers
    if (w->provisioned()) ensure_provisioned(p);  // a crashed provisioned worker is replaced
    if (p->workers.empty() && p->queue.empty() && p->provisioned == 0) {
        auto it = pools.find(p->key);
        if (it != pools.end() && it->second == p) pools.erase(it);
    }
}

void scheduler_impl::retire(const std::string& name, const std::string& version) {
    for (auto it = pools.begin(); it != pools.end();) {
        if (it->second->function.name != name || (!version.empty() && it->second->function.version != version)) {
            ++it;
            continue;
        }
        auto p = it->second;
        p->retired = true;
        it = pools.erase(it);
        for (auto& w : std::vector<std::shared_ptr<worker>>(p->workers)) {
            if (w->current_state() == worker::state::idle) w->kill();
        }
    }
}

void scheduler_impl::schedule_reaper() {
    const auto period = std::max(std::chrono::milliseconds(100), std::min(options.idle_ttl / 4, std::chrono::milliseconds(5000)));
    reaper.expires_after(period);
    reaper.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
        auto self = weak.lock();
        if (ec || !self || self->stopped) return;
        self->reap();
        self->schedule_reaper();
    });
}

void scheduler_impl::schedule_flush() {
    // Function logs are buffered in memory on the warm path and written out once a second.
    flusher.expires_after(std::chrono::seconds(1));
    flusher.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
        auto self = weak.lock();
        if (ec || !self || self->stopped) return;
        for (auto& [key, p] : self->pools) {
            for (auto& w : p->workers) w->flush_log();
        }
        self->schedule_flush();
    });
}

void scheduler_impl::reap() {
    refill_spares();  // after failures, or when a worker that took a spare never came up
    const auto now = steady::now();
    for (auto& [key, p] : pools) {
        for (auto& w : p->workers) {
            if (w->current_state() == worker::state::idle && !w->killed() && now - w->idle_since() >= options.idle_ttl &&
                !(w->provisioned() && p->provisioned > 0)) {
                spdlog::debug("scheduler: evicting idle worker of {}", p->function.name);
                w->kill();
            }
        }
    }
}

void scheduler_impl::stop() {
    if (stopped) return;
    stopped = true;
    reaper.cancel();
    flusher.cancel();
    refill_timer.cancel();
    for (auto& [key, p] : pools) {
        for (auto& inv : p->queue) {
            invoke_result res;
            res.failure = make_error(errc::service, "The server is shutting down.");
            finish(inv, std::move(res));
        }
        p->queue.clear();
        for (auto& w : p->workers) w->kill();
    }
    // Spare sandboxes go too; spare_exit removes their cgroups as they exit.
    for (auto& s : spares) ::kill(-s->proc.pid, SIGKILL);
}

// ---- facade -----------------------------------------------------------------------------------

scheduler::scheduler(asio::io_context& io, asio::thread_pool& pool, store::store& store, scheduler_options options)
    : impl_(std::make_shared<scheduler_impl>(io, pool, store, std::move(options))) {}

scheduler::~scheduler() { impl_->stop(); }

result<void> scheduler::start() {
    auto r = impl_->load_registry();
    if (!r) return r;
    impl_->schedule_reaper();
    impl_->schedule_flush();
    impl_->refill_spares();
    return {};
}

asio::awaitable<invoke_result> scheduler::invoke(invoke_request req) {
    return scheduler_impl::invoke(impl_, std::move(req));
}

void scheduler::retire(const std::string& function_name, const std::string& version) {
    impl_->retire(function_name, version);
}

void scheduler::set_reserved_concurrency(const std::string& function_name, std::optional<int> reserved) {
    auto& r = impl_->reserved;
    if (auto it = r.find(function_name); it != r.end()) {
        impl_->reserved_total -= it->second;
        r.erase(it);
    }
    if (reserved) {
        r[function_name] = *reserved;
        impl_->reserved_total += *reserved;
    }
}
void scheduler::stop() { impl_->stop(); }

fault_registry& scheduler::faults() { return impl_->faults; }

std::string scheduler::render_metrics(const std::string& extra) const {
    const auto s = current_stats();
    std::string server = fmt::format(
        "# HELP lambent_workers Workers alive\n# TYPE lambent_workers gauge\nlambent_workers {}\n"
        "# HELP lambent_idle_workers Workers waiting in /next\n# TYPE lambent_idle_workers gauge\nlambent_idle_workers {}\n"
        "# HELP lambent_active_invocations Invocations in flight\n# TYPE lambent_active_invocations gauge\n"
        "lambent_active_invocations {}\n"
        "# HELP lambent_concurrency_limit Account concurrency limit\n# TYPE lambent_concurrency_limit gauge\n"
        "lambent_concurrency_limit {}\n",
        s.workers, s.idle_workers, s.active_invocations, impl_->options.concurrency_limit);
    if (impl_->options.sandbox) {
        int ready = 0;
        for (const auto& sp : impl_->spares) ready += sp->ready ? 1 : 0;
        server += fmt::format(
            "# HELP lambent_spare_sandboxes Spare sandboxes prepared for cold starts, by state\n"
            "# TYPE lambent_spare_sandboxes gauge\nlambent_spare_sandboxes{{state=\"ready\"}} {}\n"
            "lambent_spare_sandboxes{{state=\"starting\"}} {}\n"
            "# HELP lambent_spare_sandbox_cold_starts_total Sandboxed cold starts, by whether a ready spare took them\n"
            "# TYPE lambent_spare_sandbox_cold_starts_total counter\n"
            "lambent_spare_sandbox_cold_starts_total{{spare=\"hit\"}} {}\n"
            "lambent_spare_sandbox_cold_starts_total{{spare=\"miss\"}} {}\n",
            ready, static_cast<int>(impl_->spares.size()) - ready, impl_->spare_assignments, impl_->spare_misses);
    }
    return impl_->stats.render(server + extra);
}

void scheduler::set_provisioned(const model::function_record& version, int count) {
    auto& impl = *impl_;
    const std::string key = version.name + "\n" + version.revision_id;
    auto& p = impl.pools[key];
    if (!p) {
        auto rt = impl.runtimes.find(version.runtime);
        if (rt == impl.runtimes.end()) return;
        p = std::make_shared<pool>();
        p->key = key;
        p->function = version;
        p->spec = rt->second;
    }
    p->provisioned = count;
    if (count == 0) {
        // Former provisioned workers become ordinary ones: idle eviction takes them as usual.
        return;
    }
    impl.ensure_provisioned(p);
}

int scheduler::live_workers(const std::string& function_name) const {
    int n = 0;
    for (const auto& [key, p] : impl_->pools) {
        if (p->function.name != function_name) continue;
        for (const auto& w : p->workers) {
            if (w->current_state() != worker::state::dead) ++n;
        }
    }
    return n;
}

void scheduler::prewarm(const model::function_record& version, int count) {
    auto& impl = *impl_;
    if (impl.stopped || count <= 0) return;
    const std::string key = version.name + "\n" + version.revision_id;
    auto& p = impl.pools[key];
    if (!p) {
        auto rt = impl.runtimes.find(version.runtime);
        if (rt == impl.runtimes.end()) {
            impl.pools.erase(key);
            return;
        }
        p = std::make_shared<pool>();
        p->key = key;
        p->function = version;
        p->spec = rt->second;
    }
    for (int i = 0; i < count; ++i) {
        auto w = std::make_shared<worker>(impl.shared_from_this(), p);
        w->set_prewarmed();
        if (auto started = w->start(); !started) {
            spdlog::error("scheduler: cannot pre-warm a worker for {}: {}", version.name, started.error().message);
            return;
        }
        p->workers.push_back(std::move(w));
    }
}

scheduler::provisioned_status scheduler::provisioned(const model::function_record& version) const {
    provisioned_status st;
    auto it = impl_->pools.find(version.name + "\n" + version.revision_id);
    if (it == impl_->pools.end()) return st;
    st.requested = it->second->provisioned;
    for (const auto& w : it->second->workers) {
        const auto state = w->current_state();
        if (w->provisioned() && state != worker::state::starting && state != worker::state::dead) ++st.ready;
    }
    st.ready = std::min(st.ready, st.requested);
    return st;
}

scheduler::stats scheduler::current_stats() const {
    stats s;
    s.active_invocations = impl_->active;
    for (const auto& [key, p] : impl_->pools) {
        for (const auto& w : p->workers) {
            ++s.workers;
            if (w->current_state() == worker::state::idle) ++s.idle_workers;
        }
    }
    return s;
}

}  // namespace lambent::scheduler
