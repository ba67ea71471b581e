#include "lambent/http/server.hpp"

#include "lambent/common/codec.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
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

struct server::state {
    std::shared_ptr<handler> h;
    server_options options;
    std::optional<tcp::acceptor> acceptor;
    std::list<std::weak_ptr<beast::tcp_stream>> sessions;
    bool stopped = false;
};

namespace {

asio::awaitable<void> write_and_close(std::shared_ptr<beast::tcp_stream> stream, response res) {
    res.keep_alive(false);
    res.prepare_payload();
    stream->expires_after(std::chrono::seconds(10));
    auto [wec, wn] = co_await bhttp::async_write(*stream, res, tuple_awaitable);
    beast::error_code ec;
    stream->socket().shutdown(tcp::socket::shutdown_send, ec);
    if (wec) co_return;
    // Closing with unread request bytes in the socket makes the kernel send RST, and the client may lose
    // the response we just wrote. Read and discard what the client still sends, for a bounded time.
    std::array<char, 16384> sink;
    std::size_t discarded = 0;
    stream->expires_after(std::chrono::seconds(5));
    while (discarded < (256u << 20)) {
        auto [rec, rn] = co_await stream->async_read_some(asio::buffer(sink), tuple_awaitable);
        if (rec) break;
        discarded += rn;
    }
}

asio::awaitable<void> run_session(std::shared_ptr<server::state> st, std::shared_ptr<beast::tcp_stream> stream) {
    beast::flat_buffer buffer;
    for (;;) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(st->options.header_limit));
        // Beast checks Content-Length against body_limit while parsing the header; the route's limit is only
        // known after the header, so lift it here and apply the real one below.
        parser.body_limit(boost::none);
        if (st->options.idle_timeout.count() > 0) {
            stream->expires_after(st->options.idle_timeout);
        } else {
            stream->expires_never();
        }
        auto [ec, n] = co_await bhttp::async_read_header(*stream, buffer, parser, tuple_awaitable);
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
                auto [wec, wn] = co_await bhttp::async_write(*stream, cont, tuple_awaitable);
                if (wec) break;
            }
            if (st->options.body_timeout.count() > 0) {
                stream->expires_after(st->options.body_timeout);
            }
            auto [bec, bn] = co_await bhttp::async_read(*stream, buffer, parser, tuple_awaitable);
            if (bec == bhttp::error::body_limit) {
                co_await write_and_close(stream, st->h->too_large(parser.get(), limit));
                break;
            }
            if (bec) break;
        }
        stream->expires_never();
        request req = parser.release();
        const bool keep_alive = req.keep_alive();
        const unsigned version = req.version();
        response res = co_await st->h->handle(std::move(req));
        res.version(version);
        res.keep_alive(keep_alive);
        res.prepare_payload();
        stream->expires_after(std::chrono::seconds(60));
        auto [wec, wn] = co_await bhttp::async_write(*stream, res, tuple_awaitable);
        if (wec || !keep_alive) break;
    }
    beast::error_code ec;
    stream->socket().shutdown(tcp::socket::shutdown_send, ec);
    stream->socket().close(ec);
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
        auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
        // Forget finished sessions now and then so the list stays small.
        st->sessions.remove_if([](const auto& w) { return w.expired(); });
        st->sessions.push_back(stream);
        asio::co_spawn(st->acceptor->get_executor(), run_session(st, stream), on_session_done);
    }
}

}  // namespace

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
        if (auto s = w.lock()) {
            s->socket().close(ec);
        }
    }
    state_->sessions.clear();
}

}  // namespace lambent::http
