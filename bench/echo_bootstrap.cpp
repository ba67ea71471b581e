// lambent-bench-echo-bootstrap: the smallest useful Lambda Runtime API client, in C++ with Beast.
//
// It is both the C++ worker of the floor (bench/floor.cpp) and the `bootstrap` of the `provided.al2023`
// echo function deployed to Lambent, so the two are compared with the very same binary:
//
//   loop: GET  http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next   (long poll)
//         POST http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/{id}/response  (the event, echoed)
//
// One keep-alive connection with TCP_NODELAY, blocking I/O (a worker handles one event at a time).
// The event bytes are echoed unchanged; no JSON parsing (an event containing "sleep_ms": N is held N ms
// first). Linked statically so it runs in any sandbox.

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

int main() {
    const char* api = std::getenv("AWS_LAMBDA_RUNTIME_API");
    if (api == nullptr) {
        std::fprintf(stderr, "echo-bootstrap: AWS_LAMBDA_RUNTIME_API is not set\n");
        return 1;
    }
    const std::string address(api);
    const auto colon = address.rfind(':');
    if (colon == std::string::npos) {
        std::fprintf(stderr, "echo-bootstrap: bad AWS_LAMBDA_RUNTIME_API %s\n", api);
        return 1;
    }
    boost::system::error_code ec;
    const auto ip = asio::ip::make_address(address.substr(0, colon), ec);
    if (ec) {
        std::fprintf(stderr, "echo-bootstrap: AWS_LAMBDA_RUNTIME_API must be IP:PORT, got %s\n", api);
        return 1;
    }
    const tcp::endpoint endpoint(ip, static_cast<unsigned short>(std::atoi(address.c_str() + colon + 1)));
    const std::string prefix = "/2018-06-01/runtime/invocation/";

    asio::io_context io;
    std::optional<tcp::socket> sock;
    beast::flat_buffer buffer;
    int failures = 0;

    http::request<http::empty_body> next{http::verb::get, prefix + "next", 11};
    next.set(http::field::host, address);
    next.keep_alive(true);

    for (;;) {
        try {
            if (!sock) {
                sock.emplace(io);
                sock->connect(endpoint);
                sock->set_option(tcp::no_delay(true));
                buffer.clear();
            }
            http::write(*sock, next);
            http::response_parser<http::string_body> parser;
            parser.body_limit(6u << 20);
            parser.eager(true);
            http::read(*sock, buffer, parser);
            auto event = parser.release();
            if (event.result() != http::status::ok) {
                std::fprintf(stderr, "echo-bootstrap: /next returned %u\n", event.result_int());
                return 1;
            }
            const std::string id(event["Lambda-Runtime-Aws-Request-Id"]);
            // {"sleep_ms": N} holds the worker for N ms first (bench/run uses it to scale pools out exactly).
            if (const auto at = event.body().find("\"sleep_ms\":"); at != std::string::npos) {
                const int ms = std::atoi(event.body().c_str() + at + 11);
                if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
            }
            http::request<http::string_body> post{http::verb::post, prefix + id + "/response", 11};
            post.set(http::field::host, address);
            post.set(http::field::content_type, "application/json");
            post.keep_alive(true);
            post.body() = std::move(event.body());
            post.prepare_payload();
            http::write(*sock, post);
            http::response<http::string_body> ack;
            http::read(*sock, buffer, ack);
            if (!ack.keep_alive()) sock.reset();
            failures = 0;
        } catch (const std::exception& e) {
            // The server closed the keep-alive connection (or is gone): reconnect a few times, then give up.
            sock.reset();
            if (++failures > 20) {
                std::fprintf(stderr, "echo-bootstrap: %s\n", e.what());
                return 1;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5 * failures));
        }
    }
}
