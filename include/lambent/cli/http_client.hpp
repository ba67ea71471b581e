#pragma once
/// A small synchronous HTTP/1.1 client for the client commands (Boost.Beast; the templates stay in
/// http_client.cpp). One connection per request; every phase has a deadline.

#include "lambent/cli/requests.hpp"
#include "lambent/common/error.hpp"

#include <chrono>
#include <cstdint>
#include <functional>

namespace lambent::cli {

struct send_options {
    std::chrono::milliseconds connect_timeout{5000};
    /// From the end of the upload to the end of the response (an Invoke waits for the function).
    std::chrono::milliseconds response_timeout{120'000};
    /// Called while the body is uploaded (bytes sent so far, total), at most every 256 KB.
    std::function<void(std::uint64_t, std::uint64_t)> on_upload_progress;
    std::size_t response_body_limit = 64 * 1024 * 1024;
};

/// Sends `req` to `ep` and returns the whole response, whatever its status. An error (errc::service,
/// message naming the endpoint and the cause) means the server could not be reached or the exchange broke
/// off: nothing usable came back. Blocking; runs its own io_context.
[[nodiscard]] result<http_response> send(const endpoint& ep, const http_request& req, const send_options& opts = {});

}  // namespace lambent::cli
