#pragma once
/// Minimal HTTP/1.1 server on Boost.Beast + Asio coroutines, shared by the Lambda API listener and the
/// per-worker Runtime API listeners. One io_context thread; handlers are coroutines on that thread.

#include "lambent/common/error.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace boost::asio::ssl {
class context;
}

namespace lambent::http {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

using request = bhttp::request<bhttp::string_body>;
using request_header = bhttp::request_header<>;
using response = bhttp::response<bhttp::string_body>;

/// The decoded request target: percent-decoded path segments and query parameters.
struct target {
    std::vector<std::string> segments;                 // "/a/b%3Ac/" → {"a", "b:c"} (trailing slash dropped)
    std::multimap<std::string, std::string> query;
    bool valid = true;                                 // false on a malformed percent escape

    std::optional<std::string> param(const std::string& key) const;
};
target parse_target(std::string_view raw);

/// What a listener asks of its owner.
class handler {
public:
    virtual ~handler() = default;
    /// Largest body accepted for this request (decided from the header alone).
    virtual std::size_t body_limit(const request_header& header) = 0;
    /// The response sent (before closing the connection) when the body exceeds body_limit().
    virtual response too_large(const request_header& header, std::size_t limit) = 0;
    /// Handles a complete request. Runs on the io_context thread.
    virtual asio::awaitable<response> handle(request req) = 0;
};

struct server_options {
    /// Idle time allowed between requests on a keep-alive connection (none when zero).
    std::chrono::milliseconds idle_timeout{0};
    /// Time allowed to receive the rest of a request header once its first byte arrived, and for the TLS
    /// handshake (none when zero): a client trickling a header byte by byte is cut off.
    std::chrono::milliseconds header_timeout{0};
    /// Time allowed to receive a request body once its header arrived (none when zero).
    std::chrono::milliseconds body_timeout{0};
    /// Time allowed to write a response (none when zero): a client that stops reading is cut off.
    std::chrono::milliseconds write_timeout{0};
    std::size_t header_limit = 64 * 1024;
    /// Open connections served at once (0: no limit). Past it, the connection idle the longest between
    /// requests is closed to make room; when none is idle the new one gets `over_limit` and is closed.
    std::size_t max_connections = 0;
    /// The answer to a connection past max_connections (sent before its request is read).
    std::function<response()> over_limit;
    /// Serve HTTPS with this context (certificate and key loaded) instead of plain HTTP.
    std::shared_ptr<asio::ssl::context> tls;
};

/// A TLS server context with the PEM certificate chain and private key (TLS 1.2 and later).
[[nodiscard]] result<std::shared_ptr<asio::ssl::context>> make_tls_context(const std::string& cert_file,
                                                                           const std::string& key_file);

/// Accepts connections on one listening socket and serves each on its own coroutine.
class server : public std::enable_shared_from_this<server> {
public:
    server(asio::io_context& io, std::shared_ptr<handler> h, server_options options = {});
    ~server();

    /// Binds and listens; returns the bound endpoint (port 0 picks a free port).
    [[nodiscard]] result<tcp::endpoint> listen(const tcp::endpoint& endpoint);
    /// Serves on a listening socket created elsewhere (e.g. inside a worker's network namespace); takes
    /// ownership of `fd`.
    [[nodiscard]] result<void> adopt(int fd);
    /// Stops accepting and closes every open connection. Safe to call twice.
    void stop();

    struct state;

private:
    asio::io_context& io_;
    std::shared_ptr<state> state_;
};

/// A JSON (or any) response with the given status and body, version 1.1.
response make_response(bhttp::status status, std::string body, std::string_view content_type = "application/json");

}  // namespace lambent::http
