// lambent-bench-load: the one load client every target of the benchmark is measured with.
//
//   lambent-bench-load --url http://127.0.0.1:PORT/path [--url ...] [--method POST] [--body TEXT | --body-file F]
//                      [--header 'K: V'] [--connections N] (--requests R | --duration S)
//                      [--warmup S | --warmup-requests K] [--expect STATUS] [--timeout S] [--cpu N]
//
// N keep-alive HTTP/1.1 connections (TCP_NODELAY) on one thread (Asio coroutines), each sending its next
// request as soon as the previous response is complete (closed loop). Connections are opened before the
// clock starts. With several --url, requests take them in turn (round robin over all connections), so
// `--connections 200 --requests 200` with 50 URLs sends 4 simultaneous requests to each.
// Requests started during the warm-up are sent but not recorded. Latency is measured per request from the
// first byte written to the last byte of the response read. Prints one JSON object on stdout:
//   {"connections", "requests", "errors", "duration_s", "rps", "latency_ms": {min, mean, p50, p90, p99, p999, max},
//    "status": {"200": n, ...}, "completed_all": n (warm-up included), "first_error": "..."}
// A response with another status than --expect (default: any 2xx) counts as an error; the exit status is 0
// unless nothing succeeded. --cpu N pins the client to CPU N (bench/run pins 1-connection runs, see there).

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <sched.h>
#include <strings.h>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

namespace {

struct target {
    tcp::endpoint endpoint;
    std::string wire;  // the whole request, serialized once
};

struct options {
    std::vector<std::string> urls;
    std::string method;
    std::optional<std::string> body;
    std::vector<std::string> headers;
    int connections = 1;
    long long requests = 0;
    double duration_s = 0;
    double warmup_s = 0;
    long long warmup_requests = 0;
    int expect = 0;
    double timeout_s = 60;
    int cpu = -1;
};

struct state {
    options opt;
    std::vector<target> targets;
    long long issued = 0;          // requests handed out (warm-up and measured), for round robin and --requests
    clock_type::time_point warmup_end;
    clock_type::time_point measure_end;
    clock_type::time_point first_measured{clock_type::time_point::max()};
    clock_type::time_point last_done{clock_type::time_point::min()};
    std::vector<double> latencies_us;
    long long errors = 0;
    long long completed = 0;  // every response read, warm-up included (for CPU-per-request figures)
    std::map<int, long long> status;
    std::string first_error;
};

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr, "lambent-bench-load: %s\n(see the comment at the top of bench/load.cpp)\n", why);
    std::exit(2);
}

target parse_target(const std::string& url, const options& opt, const std::string& body) {
    const std::string scheme = "http://";
    if (url.rfind(scheme, 0) != 0) usage("only http:// URLs are supported");
    const auto rest = url.substr(scheme.size());
    const auto slash = rest.find('/');
    const std::string hostport = rest.substr(0, slash);
    const std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
    const auto colon = hostport.rfind(':');
    if (colon == std::string::npos) usage("the URL needs an explicit port");
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(hostport.substr(0, colon), ec);
    if (ec) usage("the URL's host must be an IP address");
    target t{tcp::endpoint(addr, static_cast<unsigned short>(std::atoi(hostport.c_str() + colon + 1))), {}};
    std::string method = opt.method.empty() ? (opt.body ? "POST" : "GET") : opt.method;
    std::ostringstream w;
    w << method << ' ' << path << " HTTP/1.1\r\nHost: " << hostport << "\r\n";
    bool has_type = false;
    for (const auto& h : opt.headers) {
        w << h << "\r\n";
        if (h.size() >= 13 && strncasecmp(h.c_str(), "content-type:", 13) == 0) has_type = true;
    }
    if (opt.body) {
        if (!has_type) w << "Content-Type: application/json\r\n";
        w << "Content-Length: " << body.size() << "\r\n";
    }
    w << "\r\n";
    t.wire = w.str();
    if (opt.body) t.wire += body;
    return t;
}

void fail(state& st, const std::string& what) {
    ++st.errors;
    if (st.first_error.empty()) st.first_error = what;
}

// One connection: sends requests back to back until the run is over.
asio::awaitable<void> connection(state& st, std::unique_ptr<beast::tcp_stream> stream) {
    beast::flat_buffer buffer;
    const auto timeout = std::chrono::milliseconds(static_cast<long long>(st.opt.timeout_s * 1000));
    int consecutive_failures = 0;
    const bool timed = st.opt.duration_s > 0;
    const long long total = st.opt.warmup_requests + st.opt.requests;
    for (;;) {
        const auto start = clock_type::now();
        if (timed ? start >= st.measure_end : st.issued >= total) break;
        const long long n = st.issued++;
        const bool measured = timed ? start >= st.warmup_end : n >= st.opt.warmup_requests;
        const target& t = st.targets[static_cast<std::size_t>(n) % st.targets.size()];
        if (!stream) {
            stream = std::make_unique<beast::tcp_stream>(co_await asio::this_coro::executor);
            stream->expires_after(timeout);
            auto [cec] = co_await stream->async_connect(t.endpoint, tuple_awaitable);
            if (cec) {
                fail(st, "connect: " + cec.message());
                stream.reset();
                if (++consecutive_failures > 50) co_return;
                continue;
            }
            stream->socket().set_option(tcp::no_delay(true));
            buffer.clear();
        }
        const auto t0 = clock_type::now();
        stream->expires_after(timeout);
        auto [wec, wn] = co_await asio::async_write(*stream, asio::buffer(t.wire), tuple_awaitable);
        http::response_parser<http::string_body> parser;
        parser.body_limit(256u << 20);
        boost::system::error_code rec;
        if (!wec) {
            auto [ec2, rn] = co_await http::async_read(*stream, buffer, parser, tuple_awaitable);
            rec = ec2;
        }
        const auto t1 = clock_type::now();
        if (wec || rec) {
            fail(st, (wec ? "write: " + wec.message() : "read: " + rec.message()));
            stream.reset();
            if (++consecutive_failures > 50) co_return;
            continue;
        }
        consecutive_failures = 0;
        ++st.completed;
        const auto& res = parser.get();
        const int code = res.result_int();
        const bool ok = st.opt.expect ? code == st.opt.expect : code >= 200 && code < 300;
        if (measured) {
            ++st.status[code];
            if (ok) {
                st.latencies_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
                st.first_measured = std::min(st.first_measured, t0);
                st.last_done = std::max(st.last_done, t1);
            } else {
                std::string body = res.body().substr(0, 200);
                fail(st, "status " + std::to_string(code) + ": " + body);
            }
        }
        if (!res.keep_alive()) stream.reset();
    }
}

double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    // Nearest rank.
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
    return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

std::string json_escape(const std::string& s) {
    std::string out;
    for (const unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    state st;
    options& opt = st.opt;
    std::optional<std::string> body_file;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(("missing value for " + a).c_str());
            return argv[++i];
        };
        if (a == "--url") opt.urls.push_back(value());
        else if (a == "--method") opt.method = value();
        else if (a == "--body") opt.body = value();
        else if (a == "--body-file") body_file = value();
        else if (a == "--header") opt.headers.push_back(value());
        else if (a == "--connections") opt.connections = std::atoi(value().c_str());
        else if (a == "--requests") opt.requests = std::atoll(value().c_str());
        else if (a == "--duration") opt.duration_s = std::atof(value().c_str());
        else if (a == "--warmup") opt.warmup_s = std::atof(value().c_str());
        else if (a == "--warmup-requests") opt.warmup_requests = std::atoll(value().c_str());
        else if (a == "--expect") opt.expect = std::atoi(value().c_str());
        else if (a == "--timeout") opt.timeout_s = std::atof(value().c_str());
        else if (a == "--cpu") opt.cpu = std::atoi(value().c_str());
        else usage(("unknown option " + a).c_str());
    }
    if (opt.urls.empty()) usage("--url is required");
    if (opt.connections < 1) usage("--connections must be at least 1");
    if ((opt.requests > 0) == (opt.duration_s > 0)) usage("give exactly one of --requests and --duration");
    if (body_file) {
        std::ifstream in(*body_file, std::ios::binary);
        if (!in) usage("cannot read --body-file");
        std::ostringstream s;
        s << in.rdbuf();
        opt.body = s.str();
    }
    if (opt.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(opt.cpu, &set);
        if (::sched_setaffinity(0, sizeof set, &set) != 0) usage("cannot pin to --cpu");
    }
    const std::string body = opt.body.value_or("");
    for (const auto& u : opt.urls) {
        st.targets.push_back(parse_target(u, opt, body));
        if (st.targets.back().endpoint != st.targets.front().endpoint) {
            usage("every --url must name the same host:port");
        }
    }

    asio::io_context io(1);
    // Open every connection before the clock starts (target i % targets for connection i).
    std::vector<std::unique_ptr<beast::tcp_stream>> streams;
    for (int c = 0; c < opt.connections; ++c) {
        auto s = std::make_unique<beast::tcp_stream>(io);
        boost::system::error_code ec;
        s->socket().connect(st.targets[static_cast<std::size_t>(c) % st.targets.size()].endpoint, ec);
        if (ec) {
            fail(st, "connect: " + ec.message());
            s.reset();
        } else {
            s->socket().set_option(tcp::no_delay(true));
        }
        streams.push_back(std::move(s));
    }
    const auto begin = clock_type::now();
    st.warmup_end = begin + std::chrono::microseconds(static_cast<long long>(opt.warmup_s * 1e6));
    st.measure_end = st.warmup_end + std::chrono::microseconds(static_cast<long long>(opt.duration_s * 1e6));
    for (int c = 0; c < opt.connections; ++c) {
        asio::co_spawn(io, connection(st, std::move(streams[static_cast<std::size_t>(c)])), asio::detached);
    }
    io.run();

    auto& lat = st.latencies_us;
    std::sort(lat.begin(), lat.end());
    const double duration =
        lat.empty() ? 0 : std::chrono::duration<double>(st.last_done - st.first_measured).count();
    const double mean =
        lat.empty() ? 0 : std::accumulate(lat.begin(), lat.end(), 0.0) / static_cast<double>(lat.size());
    const double rps = duration > 0 ? static_cast<double>(lat.size()) / duration : 0;
    std::string status;
    for (const auto& [code, n] : st.status) {
        status += (status.empty() ? "" : ", ") + ("\"" + std::to_string(code) + "\": " + std::to_string(n));
    }
    std::printf(
        "{\"connections\": %d, \"requests\": %zu, \"errors\": %lld, \"duration_s\": %.6f, \"rps\": %.1f, "
        "\"latency_ms\": {\"min\": %.4f, \"mean\": %.4f, \"p50\": %.4f, \"p90\": %.4f, \"p99\": %.4f, "
        "\"p999\": %.4f, \"max\": %.4f}, \"status\": {%s}, \"completed_all\": %lld, \"first_error\": \"%s\"}\n",
        opt.connections, lat.size(), st.errors, duration, rps, lat.empty() ? 0 : lat.front() / 1000,
        mean / 1000, percentile(lat, 50) / 1000, percentile(lat, 90) / 1000, percentile(lat, 99) / 1000,
        percentile(lat, 99.9) / 1000, lat.empty() ? 0 : lat.back() / 1000, status.c_str(), st.completed,
        json_escape(st.first_error).c_str());
    return lat.empty() ? 1 : 0;
}
