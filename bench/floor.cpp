// lambent-bench-floor: the floor Lambent's invoke path is compared with — a minimal two-hop long-poll echo.
//
//   lambent-bench-floor [--listen IP:PORT] [--workers N] [--on-demand] -- WORKER_COMMAND [ARGS...]
//
// A Beast front server (one thread, Asio coroutines, like Lambent) hands every POST it receives to a worker
// process parked in a long poll on the floor's Runtime API listener (GET /2018-06-01/runtime/invocation/next,
// answered with the event and the Lambda-Runtime-* headers Lambent sends), waits for the worker's
// POST /2018-06-01/runtime/invocation/{id}/response and replies 200 with that body. Nothing else: no
// routing, no JSON, no logs, no timers, one Runtime API listener shared by all workers.
//
// --workers N starts N copies of WORKER_COMMAND at start (warm figures); --on-demand starts one whenever an
// invocation waits and fewer workers are starting than invocations are queued (cold figures: the command
// is the bare bootstrap). Workers get AWS_LAMBDA_RUNTIME_API=IP:PORT on top of the floor's environment, die
// with the floor (PR_SET_PDEATHSIG) and are killed on SIGINT/SIGTERM.
//
// Front endpoints besides the echo: GET /_floor/ping (an empty 200: the cost of one HTTP round trip) and
// GET /_floor/stats ({"waiting","starting","alive","spawned","queued"}).
// Prints `listening on http://IP:PORT runtime IP:PORT` on stdout once both listeners accept.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

extern char** environ;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

namespace {

/// A move-only completion handler that always completes by posting (as Lambent's does).
template <class T>
class completion {
public:
    completion() = default;
    template <class H>
    explicit completion(H h) : impl_(std::make_unique<holder<H>>(std::move(h))) {}
    explicit operator bool() const { return impl_ != nullptr; }
    void operator()(T value) {
        if (!impl_) return;
        auto impl = std::move(impl_);
        impl->post(std::move(value));
    }

private:
    struct base {
        virtual ~base() = default;
        virtual void post(T value) = 0;
    };
    template <class H>
    struct holder final : base {
        explicit holder(H h) : handler(std::move(h)) {}
        void post(T value) override {
            auto ex = asio::get_associated_executor(handler);
            asio::post(ex, [h = std::move(handler), v = std::move(value)]() mutable { std::move(h)(std::move(v)); });
        }
        H handler;
    };
    std::unique_ptr<base> impl_;
};

struct invocation {
    std::string id;
    std::string event;
    completion<std::string> done;
};
using invocation_ptr = std::shared_ptr<invocation>;

/// Owned by main() and alive until io.run() returns, so coroutines take it by reference.
struct floor_state {
    asio::io_context& io;
    std::vector<std::string> command;
    std::string runtime_address;
    bool on_demand = false;
    std::deque<invocation_ptr> queue;
    std::deque<completion<invocation_ptr>> waiting;
    std::unordered_map<std::string, invocation_ptr> inflight;
    std::set<pid_t> children;
    long long spawned = 0;
    long long starting = 0;
    unsigned long long next_id = 0;
};

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

response make(http::status s, std::string body, const char* type = "application/json") {
    response res{s, 11};
    res.set(http::field::content_type, type);
    res.body() = std::move(body);
    return res;
}

void spawn_worker(floor_state& st) {
    if (st.command.empty()) return;
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
        if (std::string_view(*e).rfind("AWS_LAMBDA_RUNTIME_API=", 0) != 0) env_strings.emplace_back(*e);
    }
    env_strings.push_back("AWS_LAMBDA_RUNTIME_API=" + st.runtime_address);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<char*> argv;
    for (auto& a : st.command) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();  // the floor is single-threaded: anything goes between fork and exec
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);  // the floor died before the line above
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execvpe(argv[0], argv.data(), envp.data());
        std::fprintf(stderr, "floor: cannot exec %s\n", argv[0]);
        ::_exit(127);
    }
    if (pid < 0) {
        std::perror("floor: fork");
        return;
    }
    st.children.insert(pid);
    ++st.spawned;
    ++st.starting;
}

asio::awaitable<response> invoke(floor_state& st, request req) {
    auto inv = std::make_shared<invocation>();
    char id[40];
    std::snprintf(id, sizeof id, "00000000-0000-4000-8000-%012llx", ++st.next_id);
    inv->id = id;
    inv->event = std::move(req.body());
    auto hand_over = [&st, inv](auto handler) {
        inv->done = completion<std::string>(std::move(handler));
        if (!st.waiting.empty()) {
            auto w = std::move(st.waiting.front());
            st.waiting.pop_front();
            w(inv);
            return;
        }
        st.queue.push_back(inv);
        if (st.on_demand && st.starting < static_cast<long long>(st.queue.size())) spawn_worker(st);
    };
    std::string result = co_await asio::async_initiate<const asio::use_awaitable_t<>, void(std::string)>(
        std::move(hand_over), asio::use_awaitable);
    co_return make(http::status::ok, std::move(result));
}

asio::awaitable<response> front(floor_state& st, request req) {
    if (req.method() == http::verb::get && req.target() == "/_floor/ping") co_return make(http::status::ok, "{}");
    if (req.method() == http::verb::get && req.target() == "/_floor/stats") {
        char buf[256];
        std::snprintf(buf, sizeof buf,
                      R"({"waiting": %zu, "starting": %lld, "alive": %zu, "spawned": %lld, "queued": %zu})",
                      st.waiting.size(), st.starting, st.children.size(), st.spawned, st.queue.size());
        co_return make(http::status::ok, buf);
    }
    if (req.method() != http::verb::post) co_return make(http::status::method_not_allowed, "{}");
    response res = co_await invoke(st, std::move(req));
    co_return res;
}

constexpr std::string_view next_path = "/2018-06-01/runtime/invocation/next";

asio::awaitable<response> runtime_api(floor_state& st, request req) {
    const std::string target(req.target());
    constexpr std::string_view prefix = "/2018-06-01/runtime/invocation/";
    if (req.method() == http::verb::get && target == next_path) {
        invocation_ptr inv;
        if (!st.queue.empty()) {
            inv = st.queue.front();
            st.queue.pop_front();
        } else {
            auto park = [&st](auto handler) { st.waiting.emplace_back(std::move(handler)); };
            inv = co_await asio::async_initiate<const asio::use_awaitable_t<>, void(invocation_ptr)>(
                std::move(park), asio::use_awaitable);
        }
        if (!inv) co_return make(http::status::internal_server_error, "{}");
        st.inflight.emplace(inv->id, inv);
        auto res = make(http::status::ok, inv->event);
        res.set("Lambda-Runtime-Aws-Request-Id", inv->id);
        const auto deadline = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch() + std::chrono::minutes(15))
                                  .count();
        res.set("Lambda-Runtime-Deadline-Ms", std::to_string(deadline));
        res.set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:floor");
        // A fresh X-Ray trace id per invocation, as Lambent (and AWS) send: runtimes export it to the environment.
        char trace[96];
        std::snprintf(trace, sizeof trace, "Root=1-%08llx-%024llx;Parent=%016llx;Sampled=0",
                      static_cast<unsigned long long>(deadline / 1000), st.next_id * 0x9E3779B97F4A7C15ULL,
                      st.next_id * 0xC2B2AE3D27D4EB4FULL);
        res.set("Lambda-Runtime-Trace-Id", trace);
        co_return res;
    }
    if (req.method() == http::verb::post && target.rfind(prefix, 0) == 0) {
        auto rest = std::string_view(target).substr(prefix.size());
        const auto slash = rest.find('/');
        const std::string id(rest.substr(0, slash));
        auto it = st.inflight.find(id);
        if (it == st.inflight.end()) co_return make(http::status::bad_request, R"({"errorType":"InvalidRequestID"})");
        auto inv = std::move(it->second);
        st.inflight.erase(it);
        inv->done(std::move(req.body()));
        co_return make(http::status::accepted, R"({"status":"OK"})");
    }
    if (req.method() == http::verb::post && target == "/2018-06-01/runtime/init/error") {
        std::fprintf(stderr, "floor: init error: %s\n", req.body().c_str());
        co_return make(http::status::accepted, R"({"status":"OK"})");
    }
    co_return make(http::status::not_found, "{}");
}

asio::awaitable<void> session(floor_state& st, tcp::socket socket, bool is_runtime) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    bool first_next = true;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(64u << 20);
        auto [ec, n] = co_await http::async_read(stream, buffer, parser, tuple_awaitable);
        if (ec) break;
        request req = parser.release();
        const bool keep_alive = req.keep_alive();
        if (is_runtime && first_next && req.method() == http::verb::get && req.target() == next_path) {
            first_next = false;  // a new worker's first /next: it is no longer starting
            if (st.starting > 0) --st.starting;
        }
        // (GCC 12 miscompiles co_await inside a conditional expression: keep them in statements.)
        response res;
        if (is_runtime) {
            res = co_await runtime_api(st, std::move(req));
        } else {
            res = co_await front(st, std::move(req));
        }
        res.keep_alive(keep_alive);
        res.prepare_payload();
        auto [wec, wn] = co_await http::async_write(stream, res, tuple_awaitable);
        if (wec || !keep_alive) break;
    }
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
}

void log_failure(std::exception_ptr e) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "floor: session failed: %s\n", ex.what());
    }
}

asio::awaitable<void> accept_loop(floor_state& st, tcp::acceptor& acceptor, bool is_runtime) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(tuple_awaitable);
        if (ec) {
            if (ec == asio::error::operation_aborted) co_return;
            continue;
        }
        socket.set_option(tcp::no_delay(true));
        asio::co_spawn(acceptor.get_executor(), session(st, std::move(socket), is_runtime), log_failure);
    }
}

void reap(floor_state& st, asio::signal_set& sigchld) {
    sigchld.async_wait([&st, &sigchld](boost::system::error_code ec, int) {
        if (ec) return;
        for (;;) {
            int status = 0;
            const pid_t pid = ::waitpid(-1, &status, WNOHANG);
            if (pid <= 0) break;
            st.children.erase(pid);
        }
        reap(st, sigchld);
    });
}

}  // namespace

int main(int argc, char** argv) {
    std::string listen = "127.0.0.1:0";
    int workers = 0;
    bool on_demand = false;
    std::vector<std::string> command;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--") {
            for (++i; i < argc; ++i) command.emplace_back(argv[i]);
            break;
        }
        if (a == "--on-demand") {
            on_demand = true;
            continue;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "floor: missing value for %s\n", a.c_str());
            return 2;
        }
        if (a == "--listen") listen = argv[++i];
        else if (a == "--workers") workers = std::atoi(argv[++i]);
        else {
            std::fprintf(stderr, "floor: unknown option %s\n", a.c_str());
            return 2;
        }
    }
    if ((workers > 0 || on_demand) && command.empty()) {
        std::fprintf(stderr, "floor: --workers/--on-demand need a worker command after --\n");
        return 2;
    }
    const auto colon = listen.rfind(':');
    const auto ip = asio::ip::make_address(listen.substr(0, colon));
    const auto port = static_cast<unsigned short>(std::atoi(listen.c_str() + colon + 1));

    asio::io_context io(1);
    floor_state st{io, command, {}, on_demand, {}, {}, {}, {}, 0, 0, 0};
    tcp::acceptor front_acceptor(io, tcp::endpoint(ip, port));
    tcp::acceptor runtime_acceptor(io, tcp::endpoint(ip, 0));
    front_acceptor.listen(asio::socket_base::max_listen_connections);
    runtime_acceptor.listen(asio::socket_base::max_listen_connections);
    const auto rt = runtime_acceptor.local_endpoint();
    st.runtime_address = rt.address().to_string() + ":" + std::to_string(rt.port());

    asio::signal_set sigchld(io, SIGCHLD);
    reap(st, sigchld);
    asio::signal_set stop(io, SIGINT, SIGTERM);
    stop.async_wait([&](boost::system::error_code, int) {
        for (const pid_t pid : st.children) ::kill(pid, SIGKILL);
        io.stop();
    });

    asio::co_spawn(io, accept_loop(st, front_acceptor, false), asio::detached);
    asio::co_spawn(io, accept_loop(st, runtime_acceptor, true), asio::detached);
    for (int w = 0; w < workers; ++w) spawn_worker(st);
    const auto fe = front_acceptor.local_endpoint();
    std::printf("listening on http://%s:%u runtime %s\n", fe.address().to_string().c_str(), fe.port(),
                st.runtime_address.c_str());
    std::fflush(stdout);
    io.run();
    for (const pid_t pid : st.children) ::kill(pid, SIGKILL);
    return 0;
}
