#include "lambent/http/server.hpp"

#include "lambent/common/codec.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
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

#include <array>
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

/// One open connection, whatever its transport; the server keeps weak references to close them.
struct session_base {
    virtual ~session_base() = default;
    virtual void close() = 0;
    /// Waiting for the first byte of the next request (a keep-alive connection between requests).
    bool idle = false;
    bool evicted = false;  // closed to make room; still counted open until its coroutine ends
    std::chrono::steady_clock::time_point idle_since{};
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
    std::shared_ptr<handler> h;
    server_options options;
    std::optional<tcp::acceptor> acceptor;
    std::list<std::weak_ptr<session_base>> sessions;
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

template <class Stream>
void shutdown_and_close(Stream& stream) {
    beast::error_code ec;
    auto& socket = beast::get_lowest_layer(stream).socket();
    socket.shutdown(tcp::socket::shutdown_send, ec);
    socket.close(ec);
}

template <class Stream>
asio::awaitable<void> write_and_close(Stream& stream, response res) {
    auto& lowest = beast::get_lowest_layer(stream);
    res.keep_alive(false);
    res.prepare_payload();
    lowest.expires_after(std::chrono::seconds(10));
    auto [wec, wn] = co_await bhttp::async_write(stream, res, tuple_awaitable);
    beast::error_code ec;
    lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (wec) co_return;
    // Closing with unread request bytes in the socket makes the kernel send RST, and the client may lose
    // the response we just wrote. Read and discard what the client still sends, for a bounded time.
    std::array<char, 16384> sink;
    std::size_t discarded = 0;
    lowest.expires_after(std::chrono::seconds(5));
    while (discarded < (256u << 20)) {
        auto [rec, rn] = co_await stream.async_read_some(asio::buffer(sink), tuple_awaitable);
        if (rec) break;
        discarded += rn;
    }
}

/// Serves requests on one connection until it closes, fails or times out.
template <class Stream>
asio::awaitable<void> serve_requests(std::shared_ptr<server::state> st, std::shared_ptr<session<Stream>> sess) {
    Stream& stream = sess->stream;
    auto& lowest = beast::get_lowest_layer(stream);
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
            if (st->options.idle_timeout.count() > 0) {
                lowest.expires_after(st->options.idle_timeout);
            } else {
                lowest.expires_never();
            }
            sess->idle = true;
            sess->idle_since = std::chrono::steady_clock::now();
            auto [iec, in] = co_await stream.async_read_some(buffer.prepare(16384), tuple_awaitable);
            sess->idle = false;
            if (iec) break;
            buffer.commit(in);
        }
        // The rest of the header under the (shorter) header timeout: a slow sender cannot hold the
        // connection open.
        if (st->options.header_timeout.count() > 0) {
            lowest.expires_after(st->options.header_timeout);
        } else if (st->options.idle_timeout.count() > 0) {
            lowest.expires_after(st->options.idle_timeout);
        } else {
            lowest.expires_never();
        }
        auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, tuple_awaitable);
        if (ec) {
            if (ec == bhttp::error::header_limit || ec == bhttp::error::bad_target || ec == bhttp::error::bad_method ||
                ec == bhttp::error::bad_version || ec == bhttp::error::bad_field || ec == bhttp::error::bad_value) {
                co_await write_and_close(stream, make_response(bhttp::status::bad_request,
                                                               R"({"message":"Malformed HTTP request"})"));
            }
            break;
        }
        const std::size_t limit = st->h->body_limit(parser.get());
        const auto declared = parser.content_length();
        if (declared && *declared > limit) {
            co_await write_and_close(stream, st->h->too_large(parser.get(), limit));
            break;
        }
        parser.body_limit(limit);
        if (!parser.is_done()) {
            if (beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
                bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
                auto [wec, wn] = co_await bhttp::async_write(stream, cont, tuple_awaitable);
                if (wec) break;
            }
            if (st->options.body_timeout.count() > 0) {
                lowest.expires_after(st->options.body_timeout);
            }
            auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser, tuple_awaitable);
            if (bec == bhttp::error::body_limit) {
                co_await write_and_close(stream, st->h->too_large(parser.get(), limit));
                break;
            }
            if (bec) break;
        }
        lowest.expires_never();
        request req = parser.release();
        const bool keep_alive = req.keep_alive();
        const unsigned version = req.version();
        response res = co_await st->h->handle(std::move(req));
        res.version(version);
        res.keep_alive(keep_alive);
        res.prepare_payload();
        lowest.expires_after(std::chrono::seconds(60));
        auto [wec, wn] = co_await bhttp::async_write(stream, res, tuple_awaitable);
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
    auto& lowest = beast::get_lowest_layer(sess->stream);
    lowest.expires_after(st->options.header_timeout.count() > 0 ? st->options.header_timeout
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
        beast::get_lowest_layer(sess->stream).expires_after(std::chrono::seconds(5));
        auto [hec] = co_await sess->stream.async_handshake(asio::ssl::stream_base::server, tuple_awaitable);
        if (hec) {
            shutdown_and_close(sess->stream);
            co_return;
        }
    }
    response res = st->options.over_limit ? st->options.over_limit()
                                          : make_response(bhttp::status::service_unavailable,
                                                          R"({"message":"Too many open connections"})");
    co_await write_and_close(sess->stream, std::move(res));
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
    if (over) {
        ++st->rejecting;
        asio::co_spawn(executor, reject(st, sess), on_session_done);
        return;
    }
    ++st->open;
    // Forget finished sessions now and then so the list stays small.
    st->sessions.remove_if([](const auto& w) { return w.expired(); });
    st->sessions.push_back(sess);
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
    : io_(io), state_(std::make_shared<state>()) {
    state_->h = std::move(h);
    state_->options = options;
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
    for (auto& w : state_->sessions) {
        if (auto s = w.lock()) s->close();
    }
    state_->sessions.clear();
}

}  // namespace lambent::http
