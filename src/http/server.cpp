#include "lambent/http/server.hpp"

#include "lambent/common/codec.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <list>

#include <unistd.h>

namespace lambent::http {

namespace beast = boost::beast;
using asio::use_awaitable;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

response make_response(bhttp::status status, std::string body, std::string_view content_type) {
    response res{status, 11};
    res.set(bhttp::field::content_type, content_type);
    res.body() = std::move(body);
    return res;
}

namespace {

/// CLOCK_MONOTONIC_COARSE: the connection timeouts are seconds long, and reading this clock costs less than
/// a precise one on every request.
struct coarse_clock {
    using duration = std::chrono::nanoseconds;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::time_point<coarse_clock>;
    static constexpr bool is_steady = true;
    static time_point now() noexcept {
        timespec ts{};
        ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        return time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
    }
};

/// One open connection, whatever its transport; the server keeps weak references to close them.
///
/// Timeouts are deadlines on the session, checked by the server's sweeper (see sweep()), not timers armed
/// and cancelled around every read and write: a request costs a clock read instead of timer operations.
struct session_base {
    virtual ~session_base() = default;
    virtual void close() = 0;
    /// Waiting for the first byte of the next request (a keep-alive connection between requests).
    bool idle = false;
    bool evicted = false;  // closed to make room; still counted open until its coroutine ends
    coarse_clock::time_point idle_since{};
    /// The connection is closed once this passes (max: no deadline).
    coarse_clock::time_point deadline = coarse_clock::time_point::max();
};

template <class Stream>
struct session final : session_base {
    template <class... Args>
    explicit session(Args&&... args) : stream(std::forward<Args>(args)...) {}
    void close() override {
        beast::error_code ec;
        beast::get_lowest_layer(stream).socket().close(ec);
    }
    Stream stream;
};

using plain_stream = beast::tcp_stream;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

}  // namespace

struct server::state {
    explicit state(asio::io_context& io) : sweeper(io) {}
    std::shared_ptr<handler> h;
    server_options options;
    std::optional<tcp::acceptor> acceptor;
    std::list<std::weak_ptr<session_base>> sessions;
    asio::steady_timer sweeper;  // runs while some session has a deadline
    bool sweeping = false;
    std::chrono::milliseconds sweep_period{1000};
    std::size_t open = 0;       // sessions being served
    std::size_t evicting = 0;   // open sessions closed to make room, not finished yet
    std::size_t rejecting = 0;  // connections past the limit being answered
    bool stopped = false;
};

namespace {

/// Releases a count taken when the connection was accepted (so a burst of accepts sees it at once).
struct open_guard {
    explicit open_guard(std::size_t& n) : count(n) {}
    ~open_guard() { --count; }
    open_guard(const open_guard&) = delete;
    open_guard& operator=(const open_guard&) = delete;
    std::size_t& count;
};

void sweep(const std::shared_ptr<server::state>& st);

void arm_sweeper(const std::shared_ptr<server::state>& st) {
    st->sweeper.expires_after(st->sweep_period);
    st->sweeper.async_wait([weak = std::weak_ptr<server::state>(st)](boost::system::error_code ec) {
        auto state = weak.lock();
        if (!state) return;
        if (ec) {
            state->sweeping = false;
            return;
        }
        sweep(state);
    });
}

/// Closes the sessions whose deadline has passed; runs again after sweep_period while any has one.
void sweep(const std::shared_ptr<server::state>& st) {
    const auto now = coarse_clock::now();
    bool pending = false;
    for (auto it = st->sessions.begin(); it != st->sessions.end();) {
        auto s = it->lock();
        if (!s) {
            it = st->sessions.erase(it);
            continue;
        }
        if (s->deadline != coarse_clock::time_point::max()) {
            if (s->deadline <= now) {
                s->deadline = coarse_clock::time_point::max();
                s->close();  // the session's pending read or write ends with operation_aborted
            } else {
                pending = true;
            }
        }
        ++it;
    }
    if (!pending || st->stopped) {
        st->sweeping = false;
        return;
    }
    arm_sweeper(st);
}

/// Gives the session `timeout` from now (no deadline when zero), starting the sweeper if it is not running.
void expires_after(const std::shared_ptr<server::state>& st, session_base& sess, std::chrono::milliseconds timeout) {
    if (timeout.count() <= 0) {
        sess.deadline = coarse_clock::time_point::max();
        return;
    }
    sess.deadline = coarse_clock::now() + timeout;
    if (!st->sweeping && !st->stopped) {
        st->sweeping = true;
        arm_sweeper(st);
    }
}

template <class Stream>
void shutdown_and_close(Stream& stream) {
    beast::error_code ec;
    auto& socket = beast::get_lowest_layer(stream).socket();
    socket.shutdown(tcp::socket::shutdown_send, ec);
    socket.close(ec);
}

/// Writes a prepared response (prepare_payload done) with one gather write: the status line and header fields
/// formatted from Beast's fields into one string, then the body. Beast's serializer walks a chain of buffer
/// views on every write step, which costs more than the rest of a small response's path through the server.
template <class Stream>
asio::awaitable<std::tuple<beast::error_code, std::size_t>> write_response(Stream& stream, const response& res) {
    std::string head;
    head.reserve(192);
    head += res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    fmt::format_to(std::back_inserter(head), "{} ", res.result_int());
    const auto reason = res.reason();
    head.append(reason.data(), reason.size());
    head += "\r\n";
    for (const auto& field : res) {
        const auto name = field.name_string();
        const auto value = field.value();
        head.append(name.data(), name.size());
        head += ": ";
        head.append(value.data(), value.size());
        head += "\r\n";
    }
    head += "\r\n";
    const std::array<asio::const_buffer, 2> buffers{asio::buffer(head), asio::buffer(res.body())};
    co_return co_await asio::async_write(stream, buffers, tuple_awaitable);
}

template <class Stream>
asio::awaitable<void> write_and_close(const std::shared_ptr<server::state>& st, session_base& sess, Stream& stream,
                                      response res) {
    auto& lowest = beast::get_lowest_layer(stream);
    res.keep_alive(false);
    res.prepare_payload();
    expires_after(st, sess, std::chrono::seconds(10));
    auto [wec, wn] = co_await write_response(stream, res);
    beast::error_code ec;
    lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (wec) co_return;
    // Closing with unread request bytes in the socket makes the kernel send RST, and the client may lose
    // the response we just wrote. Read and discard what the client still sends, for a bounded time.
    std::array<char, 16384> sink;
    std::size_t discarded = 0;
    expires_after(st, sess, std::chrono::seconds(5));
    while (discarded < (256u << 20)) {
        auto [rec, rn] = co_await stream.async_read_some(asio::buffer(sink), tuple_awaitable);
        if (rec) break;
        discarded += rn;
    }
}

bool malformed(const beast::error_code& ec) {
    return ec == bhttp::error::header_limit || ec == bhttp::error::bad_target || ec == bhttp::error::bad_method ||
           ec == bhttp::error::bad_version || ec == bhttp::error::bad_field || ec == bhttp::error::bad_value;
}

/// Serves requests on one connection until it closes, fails or times out.
///
/// Requests are parsed straight from the connection's buffer (parser.put), and the socket is only read when
/// the parser needs more bytes. A request that arrived in one read costs one read and no other asynchronous
/// operation, where Beast's composed reads would complete through the event loop once per phase (header,
/// body).
template <class Stream>
asio::awaitable<void> serve_requests(std::shared_ptr<server::state> st, std::shared_ptr<session<Stream>> sess) {
    Stream& stream = sess->stream;
    beast::flat_buffer buffer;
    for (;;) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(st->options.header_limit));
        // Beast checks Content-Length against body_limit while parsing the header; the route's limit is only
        // known after the header, so lift it here and apply the real one below.
        parser.body_limit(boost::none);
        if (buffer.size() == 0) {
            // Between requests: wait for the first byte under the idle timeout. The connection may be closed
            // to make room for a new one meanwhile (max_connections).
            expires_after(st, *sess, st->options.idle_timeout);
            sess->idle = true;
            sess->idle_since = coarse_clock::now();
            auto [iec, in] = co_await stream.async_read_some(buffer.prepare(16384), tuple_awaitable);
            sess->idle = false;
            if (iec) break;
            buffer.commit(in);
        }
        // The rest of the header under the (shorter) header timeout: a slow sender cannot hold the
        // connection open.
        expires_after(st, *sess,
                      st->options.header_timeout.count() > 0 ? st->options.header_timeout : st->options.idle_timeout);
        beast::error_code ec;
        for (;;) {
            buffer.consume(parser.put(buffer.data(), ec));
            if (ec == bhttp::error::need_more) {
                ec = {};
            } else if (ec || parser.is_header_done()) {
                break;
            } else if (buffer.size() > 0) {
                continue;
            }
            auto [rec, rn] = co_await stream.async_read_some(buffer.prepare(16384), tuple_awaitable);
            if (rec) {
                ec = rec;
                break;
            }
            buffer.commit(rn);
        }
        if (ec) {
            if (malformed(ec)) {
                co_await write_and_close(st, *sess, stream,
                                         make_response(bhttp::status::bad_request, R"({"message":"Malformed HTTP request"})"));
            }
            break;
        }
        const std::size_t limit = st->h->body_limit(parser.get());
        const auto declared = parser.content_length();
        if (declared && *declared > limit) {
            co_await write_and_close(st, *sess, stream, st->h->too_large(parser.get(), limit));
            break;
        }
        parser.body_limit(limit);
        parser.eager(true);  // from here on, one put() takes all the body bytes the buffer holds
        if (!parser.is_done()) {
            if (beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
                bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
                auto [wec, wn] = co_await bhttp::async_write(stream, cont, tuple_awaitable);
                if (wec) break;
            }
            if (st->options.body_timeout.count() > 0) expires_after(st, *sess, st->options.body_timeout);
            while (!parser.is_done()) {
                if (buffer.size() > 0) {
                    buffer.consume(parser.put(buffer.data(), ec));
                    if (ec && ec != bhttp::error::need_more) break;
                    ec = {};
                    if (parser.is_done()) break;
                }
                // Large bodies (code ZIPs) are read in large pieces: fewer system calls and wake-ups.
                const auto remaining = parser.content_length_remaining();
                const std::size_t want = remaining ? std::clamp<std::size_t>(*remaining, 16384, 1u << 20) : 65536;
                auto [rec, rn] = co_await stream.async_read_some(buffer.prepare(want), tuple_awaitable);
                if (rec) {
                    ec = rec;
                    break;
                }
                buffer.commit(rn);
            }
            if (ec == bhttp::error::body_limit) {
                co_await write_and_close(st, *sess, stream, st->h->too_large(parser.get(), limit));
                break;
            }
            if (ec) break;
        }
        sess->deadline = coarse_clock::time_point::max();  // the handler may take as long as it needs
        request req = parser.release();
        const bool keep_alive = req.keep_alive();
        const unsigned version = req.version();
        response res = co_await st->h->handle(std::move(req));
        res.version(version);
        res.keep_alive(keep_alive);
        res.prepare_payload();
        expires_after(st, *sess, st->options.write_timeout);
        auto [wec, wn] = co_await write_response(stream, res);
        if (wec || !keep_alive) break;
    }
}

asio::awaitable<void> run_plain(std::shared_ptr<server::state> st, std::shared_ptr<session<plain_stream>> sess) {
    open_guard guard(st->open);
    co_await serve_requests(st, sess);
    shutdown_and_close(sess->stream);
    if (sess->evicted) --st->evicting;
}

asio::awaitable<void> run_tls(std::shared_ptr<server::state> st, std::shared_ptr<session<tls_stream>> sess) {
    open_guard guard(st->open);
    expires_after(st, *sess,
                  st->options.header_timeout.count() > 0 ? st->options.header_timeout
                                                         : std::chrono::milliseconds(std::chrono::seconds(30)));
    auto [hec] = co_await sess->stream.async_handshake(asio::ssl::stream_base::server, tuple_awaitable);
    if (!hec) co_await serve_requests(st, sess);
    shutdown_and_close(sess->stream);
    if (sess->evicted) --st->evicting;
}

/// A connection past max_connections: answer (plain or TLS) and close.
template <class Stream>
asio::awaitable<void> reject(std::shared_ptr<server::state> st, std::shared_ptr<session<Stream>> sess) {
    open_guard guard(st->rejecting);
    if constexpr (std::is_same_v<Stream, tls_stream>) {
        expires_after(st, *sess, std::chrono::seconds(5));
        auto [hec] = co_await sess->stream.async_handshake(asio::ssl::stream_base::server, tuple_awaitable);
        if (hec) {
            shutdown_and_close(sess->stream);
            co_return;
        }
    }
    response res = st->options.over_limit ? st->options.over_limit()
                                          : make_response(bhttp::status::service_unavailable,
                                                          R"({"message":"Too many open connections"})");
    co_await write_and_close(st, *sess, sess->stream, std::move(res));
    shutdown_and_close(sess->stream);
}

void on_session_done(std::exception_ptr e) {
    if (e) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            spdlog::error("http: session failed: {}", ex.what());
        }
    }
}

/// At the connection limit: closes the session idle the longest; false when every session is busy.
bool evict_idle(server::state& st) {
    std::shared_ptr<session_base> oldest;
    for (const auto& w : st.sessions) {
        auto s = w.lock();
        if (s && s->idle && (!oldest || s->idle_since < oldest->idle_since)) oldest = s;
    }
    if (!oldest) return false;
    oldest->idle = false;
    oldest->evicted = true;
    ++st.evicting;
    oldest->close();
    return true;
}

template <class Stream, class... Args>
void start_session(const std::shared_ptr<server::state>& st, bool over, Args&&... args) {
    auto sess = std::make_shared<session<Stream>>(std::forward<Args>(args)...);
    const auto executor = st->acceptor->get_executor();
    // Forget finished sessions now and then so the list stays small.
    st->sessions.remove_if([](const auto& w) { return w.expired(); });
    st->sessions.push_back(sess);
    if (over) {
        ++st->rejecting;
        asio::co_spawn(executor, reject(st, sess), on_session_done);
        return;
    }
    ++st->open;
    if constexpr (std::is_same_v<Stream, tls_stream>) {
        asio::co_spawn(executor, run_tls(st, sess), on_session_done);
    } else {
        asio::co_spawn(executor, run_plain(st, sess), on_session_done);
    }
}

asio::awaitable<void> accept_loop(std::shared_ptr<server::state> st) {
    while (!st->stopped && st->acceptor) {
        auto [ec, socket] = co_await st->acceptor->async_accept(tuple_awaitable);
        if (ec) {
            if (ec == asio::error::operation_aborted || st->stopped) break;
            if (ec == asio::error::no_descriptors) {
                spdlog::warn("http: out of file descriptors; pausing accept");
                asio::steady_timer t(socket.get_executor(), std::chrono::milliseconds(50));
                co_await t.async_wait(tuple_awaitable);
            }
            continue;
        }
        socket.set_option(tcp::no_delay(true));
        const std::size_t max = st->options.max_connections;
        bool over = false;
        if (max > 0 && st->open - st->evicting >= max && !evict_idle(*st)) {
            over = true;
            // Answering costs a socket too: past twice the limit, just close.
            if (st->rejecting >= max) {
                beast::error_code cec;
                socket.close(cec);
                continue;
            }
        }
        if (st->options.tls) {
            start_session<tls_stream>(st, over, std::move(socket), *st->options.tls);
        } else {
            start_session<plain_stream>(st, over, std::move(socket));
        }
    }
}

}  // namespace

result<std::shared_ptr<asio::ssl::context>> make_tls_context(const std::string& cert_file, const std::string& key_file) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    boost::system::error_code ec;
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                         asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                         asio::ssl::context::single_dh_use,
                     ec);
    if (!ec) ctx->use_certificate_chain_file(cert_file, ec);
    if (ec) return make_error(errc::service, fmt::format("--tls-cert {}: {}", cert_file, ec.message()));
    ctx->use_private_key_file(key_file, asio::ssl::context::pem, ec);
    if (ec) return make_error(errc::service, fmt::format("--tls-key {}: {}", key_file, ec.message()));
    return ctx;
}

server::server(asio::io_context& io, std::shared_ptr<handler> h, server_options options)
    : io_(io), state_(std::make_shared<state>(io)) {
    state_->h = std::move(h);
    state_->options = options;
    // Deadlines are checked a few times per shortest timeout: a session overstays by at most a quarter of it.
    std::chrono::milliseconds shortest{1000 * 4};
    for (auto t : {options.idle_timeout, options.header_timeout, options.body_timeout, options.write_timeout}) {
        if (t.count() > 0) shortest = std::min(shortest, t);
    }
    state_->sweep_period = std::max(std::chrono::milliseconds(20), shortest / 4);
}

server::~server() { stop(); }

result<tcp::endpoint> server::listen(const tcp::endpoint& endpoint) {
    boost::system::error_code ec;
    tcp::acceptor acc(io_);
    acc.open(endpoint.protocol(), ec);
    if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acc.bind(endpoint, ec);
    if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        return make_error(errc::service, fmt::format("cannot listen on {}:{}: {}", endpoint.address().to_string(),
                                                     endpoint.port(), ec.message()));
    }
    auto bound = acc.local_endpoint();
    state_->acceptor.emplace(std::move(acc));
    asio::co_spawn(io_, accept_loop(state_), on_session_done);
    return bound;
}

result<void> server::adopt(int fd) {
    boost::system::error_code ec;
    tcp::acceptor acc(io_);
    acc.assign(tcp::v4(), fd, ec);
    if (ec) {
        ::close(fd);
        return make_error(errc::service, fmt::format("cannot adopt listener: {}", ec.message()));
    }
    state_->acceptor.emplace(std::move(acc));
    asio::co_spawn(io_, accept_loop(state_), on_session_done);
    return {};
}

void server::stop() {
    if (state_->stopped) return;
    state_->stopped = true;
    boost::system::error_code ec;
    if (state_->acceptor) state_->acceptor->close(ec);
    state_->sweeper.cancel();
    for (auto& w : state_->sessions) {
        if (auto s = w.lock()) s->close();
    }
    state_->sessions.clear();
}

}  // namespace lambent::http
