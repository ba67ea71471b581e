#include "lambent/cli/http_client.hpp"

#include "lambent/auth/sigv4.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include <optional>

namespace lambent::cli {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

constexpr std::size_t upload_chunk_bytes = 256 * 1024;
constexpr std::chrono::seconds upload_chunk_timeout{60};
constexpr std::uint32_t response_header_limit = 64 * 1024;  // X-Amz-Log-Result alone is up to ~5.5 KB
constexpr std::string_view user_agent = "lambent-cli/0.1";

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

error unreachable(const endpoint& ep, std::string_view what, const boost::system::error_code& ec) {
    const std::string cause = ec == beast::error::timeout ? std::string("timed out") : ec.message();
    return make_error(errc::service, fmt::format("cannot reach the Lambent server at {}: {}{}", ep.url(), what, cause));
}

template <class Stream>
asio::awaitable<result<http_response>> read_response(Stream* stream, endpoint ep, send_options opts) {
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(opts.response_body_limit);
    parser.header_limit(response_header_limit);
    beast::get_lowest_layer(*stream).expires_after(opts.response_timeout);
    auto [ec, n] = co_await bhttp::async_read(*stream, buffer, parser, use_tuple);
    (void)n;
    if (ec) co_return unreachable(ep, "no complete response: ", ec);
    auto& msg = parser.get();
    http_response out;
    out.status = msg.result_int();
    for (const auto& field : msg) out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    out.body = std::move(msg.body());
    co_return out;
}

template <class Stream>
asio::awaitable<result<http_response>> exchange(Stream* stream, endpoint ep, http_request req,
                                                send_options opts) {
    const auto executor = co_await asio::this_coro::executor;
    tcp::resolver resolver(executor);
    auto [rec, results] = co_await resolver.async_resolve(ep.host, std::to_string(ep.port), use_tuple);
    if (rec) co_return unreachable(ep, "cannot resolve the host: ", rec);
    auto& lowest = beast::get_lowest_layer(*stream);
    lowest.expires_after(opts.connect_timeout);
    auto [cec, connected] = co_await lowest.async_connect(results, use_tuple);
    (void)connected;
    if (cec) co_return unreachable(ep, "", cec);
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
        // SNI for names (not addresses), and the certificate must name the host (or its IP address).
        boost::system::error_code aec;
        (void)asio::ip::make_address(ep.host, aec);
        if (aec) SSL_set_tlsext_host_name(stream->native_handle(), ep.host.c_str());
        stream->set_verify_callback(asio::ssl::host_name_verification(ep.host));
        auto [hec] = co_await stream->async_handshake(asio::ssl::stream_base::client, use_tuple);
        if (hec) co_return unreachable(ep, "TLS handshake failed: ", hec);
    }

    bhttp::request<bhttp::string_body> msg{bhttp::string_to_verb(req.method), ep.base_path + req.target, 11};
    msg.set(bhttp::field::host, ep.host_header());
    msg.set(bhttp::field::user_agent, user_agent);
    for (const auto& [name, value] : req.headers) msg.set(name, value);
    msg.body() = std::move(req.body);
    // Signed (SigV4) when credentials are configured the way the AWS CLI finds them, so the commands work
    // against a server running with --auth sigv4.
    if (auto creds = auth::client_credentials()) {
        std::vector<std::pair<std::string, std::string>> fields;
        for (const auto& field : msg) fields.emplace_back(std::string(field.name_string()), std::string(field.value()));
        auth::request_view view{msg.method_string(), msg.target(), {}, msg.body()};
        for (const auto& [n, v] : fields) view.headers.emplace_back(n, v);
        const bool logs = std::string_view(msg["X-Amz-Target"]).starts_with("Logs_");
        const auth::signing_key key{creds->access_key_id, creds->secret_access_key, creds->session_token,
                                    auth::client_region(), logs ? "logs" : "lambda"};
        for (const auto& [n, v] : auth::sign(view, key, auth::clock::now())) msg.set(n, v);
    }
    msg.prepare_payload();

    // The header through Beast, then the body in chunks so a large upload can report progress. A server
    // that refuses the body (413) may close early: its response is still read and returned.
    bhttp::request_serializer<bhttp::string_body> serializer{msg};
    lowest.expires_after(upload_chunk_timeout);
    auto [hec, hn] = co_await bhttp::async_write_header(*stream, serializer, use_tuple);
    (void)hn;
    if (hec) co_return unreachable(ep, "sending the request failed: ", hec);
    const std::string& body = msg.body();
    std::size_t sent = 0;
    while (sent < body.size()) {
        const std::size_t chunk = std::min(upload_chunk_bytes, body.size() - sent);
        lowest.expires_after(upload_chunk_timeout);
        auto [wec, wn] = co_await asio::async_write(*stream, asio::buffer(body.data() + sent, chunk), use_tuple);
        sent += wn;
        if (wec) {
            auto early = co_await read_response(stream, ep, opts);
            if (early) co_return early;
            co_return unreachable(ep, "sending the request failed: ", wec);
        }
        if (opts.on_upload_progress) opts.on_upload_progress(sent, body.size());
    }
    auto res = co_await read_response(stream, ep, opts);
    boost::system::error_code ignored;
    lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
    co_return res;
}


/// The client TLS context: AWS_CA_BUNDLE (as the AWS CLI reads it) when set, else the system's CAs.
result<std::unique_ptr<asio::ssl::context>> client_tls(const endpoint& ep) {
    auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    boost::system::error_code ec;
    ctx->set_verify_mode(asio::ssl::verify_peer, ec);
    if (const char* bundle = std::getenv("AWS_CA_BUNDLE"); bundle != nullptr && *bundle != '\0') {
        ctx->load_verify_file(bundle, ec);
        if (ec) {
            return make_error(errc::service,
                              fmt::format("cannot reach the Lambent server at {}: AWS_CA_BUNDLE {}: {}", ep.url(), bundle,
                                          ec.message()));
        }
    } else {
        ctx->set_default_verify_paths(ec);
    }
    return ctx;
}

}  // namespace

result<http_response> send(const endpoint& ep, const http_request& req, const send_options& opts) {
    asio::io_context io;
    std::optional<result<http_response>> out;
    auto done = [&out, &ep](std::exception_ptr e, result<http_response> r) {
        if (!e) {
            out = std::move(r);
            return;
        }
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            out = make_error(errc::service, fmt::format("request to {} failed: {}", ep.url(), ex.what()));
        }
    };
    if (ep.tls) {
        auto ctx = client_tls(ep);
        if (!ctx) return ctx.error();
        beast::ssl_stream<beast::tcp_stream> stream(io, **ctx);
        asio::co_spawn(io, exchange(&stream, ep, req, opts), done);
        io.run();
    } else {
        beast::tcp_stream stream(io);
        asio::co_spawn(io, exchange(&stream, ep, req, opts), done);
        io.run();
    }
    if (!out) return make_error(errc::service, fmt::format("request to {} did not complete", ep.url()));
    return std::move(*out);
}

}  // namespace lambent::cli
