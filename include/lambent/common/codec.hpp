#pragma once
/// Byte codecs backed by OpenSSL and Boost: base64, SHA-256, hex, random ids, Lambda time formats.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lambent::codec {

/// Standard-alphabet base64 with padding.
std::string base64_encode(std::string_view bytes);
/// Decodes standard base64 (whitespace tolerated); nullopt when the input is not base64.
std::optional<std::string> base64_decode(std::string_view text);

/// Raw 32-byte SHA-256 digest.
std::string sha256(std::string_view bytes);
std::string hex(std::string_view bytes);

/// Random UUID v4, lowercase, 36 characters.
std::string uuid4();
/// `n` random bytes as lowercase hex (2n characters).
std::string random_hex(std::size_t n);

/// An X-Ray trace header `Root=1-<8 hex epoch s>-<24 hex>;Parent=<16 hex>;Sampled=0`. Ids only need to be
/// unique, not secret: a seeded PRNG, cheap enough for the invoke path.
std::string xray_trace_id(std::int64_t epoch_seconds);

using sys_ms = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;
sys_ms now_ms();
/// Lambda's `LastModified` form: `2024-05-01T12:34:56.789+0000`.
std::string lambda_timestamp(sys_ms t);
/// ISO-8601 UTC with milliseconds and `Z`: `2024-05-01T12:34:56.789Z`.
std::string iso_timestamp(sys_ms t);
/// `YYYY/MM/DD` in UTC (log stream names).
std::string date_path(sys_ms t);

/// Percent-decodes a URI component; nullopt on a malformed escape. `plus_is_space` for query strings.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = false);
std::string percent_encode(std::string_view s);

}  // namespace lambent::codec
