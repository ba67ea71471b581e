#include "lambent/common/codec.hpp"

#include <boost/uuid/uuid.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <random>
#include <cctype>
#include <cstring>
#include <ctime>

namespace lambent::codec {

std::string base64_encode(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3), '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()),
                                  static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    // EVP_DecodeUpdate handles padding and line breaks correctly (EVP_DecodeBlock does not strip
    // the bytes that padding stands for).
    std::string out(3 * (text.size() / 4) + 3, '\0');
    EVP_ENCODE_CTX* ctx = EVP_ENCODE_CTX_new();
    if (ctx == nullptr) {
        return std::nullopt;
    }
    EVP_DecodeInit(ctx);
    int len = 0;
    int total = 0;
    bool ok = true;
    // EVP_DecodeUpdate takes an int length: feed large inputs in chunks.
    constexpr std::size_t chunk = 1 << 24;
    for (std::size_t off = 0; off < text.size() && ok; off += chunk) {
        const auto piece = text.substr(off, chunk);
        if (EVP_DecodeUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()) + total, &len,
                             reinterpret_cast<const unsigned char*>(piece.data()),
                             static_cast<int>(piece.size())) < 0) {
            ok = false;
        }
        total += len;
    }
    if (ok && EVP_DecodeFinal(ctx, reinterpret_cast<unsigned char*>(out.data()) + total, &len) < 0) {
        ok = false;
    }
    EVP_ENCODE_CTX_free(ctx);
    if (!ok) {
        return std::nullopt;
    }
    out.resize(static_cast<std::size_t>(total + len));
    return out;
}

std::string sha256(std::string_view bytes) {
    std::string out(32, '\0');
    unsigned int len = 0;
    EVP_Digest(bytes.data(), bytes.size(), reinterpret_cast<unsigned char*>(out.data()), &len,
               EVP_sha256(), nullptr);
    return out;
}

std::string hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 0xf]);
    }
    return out;
}

std::string uuid4() {
    // OpenSSL's DRBG, like random_hex, taken 4 KiB at a time: Boost's generator makes a getrandom call per
    // id, and RAND_bytes a getpid (its fork check) per call. The server's children exec at once, so none
    // hands out ids from a copy of the block.
    thread_local std::array<unsigned char, 4096> pool{};
    thread_local std::size_t used = pool.size();
    boost::uuids::uuid id{};
    if (used + id.size() > pool.size()) {
        RAND_bytes(pool.data(), static_cast<int>(pool.size()));
        used = 0;
    }
    std::memcpy(id.data, pool.data() + used, id.size());
    std::memset(pool.data() + used, 0, id.size());  // each id is handed out once
    used += id.size();
    id.data[6] = static_cast<std::uint8_t>((id.data[6] & 0x0F) | 0x40);  // version 4
    id.data[8] = static_cast<std::uint8_t>((id.data[8] & 0x3F) | 0x80);  // RFC 4122 variant
    return boost::uuids::to_string(id);
}

std::string random_hex(std::size_t n) {
    std::string bytes(n, '\0');
    RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(n));
    return hex(bytes);
}

std::string xray_trace_id(std::int64_t epoch_seconds) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return fmt::format("Root=1-{:08x}-{:016x}{:08x};Parent={:016x};Sampled=0", epoch_seconds, rng(),
                       static_cast<std::uint32_t>(rng()), rng());
}

sys_ms now_ms() {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

namespace {
std::tm utc(sys_ms t) {
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    return tm;
}
long long millis_part(sys_ms t) {
    return static_cast<long long>(t.time_since_epoch().count() % 1000 + 1000) % 1000;
}
}  // namespace

std::string lambda_timestamp(sys_ms t) {
    return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}+0000", utc(t), millis_part(t));
}

std::string iso_timestamp(sys_ms t) {
    return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z", utc(t), millis_part(t));
}

std::string date_path(sys_ms t) { return fmt::format("{:%Y/%m/%d}", utc(t)); }

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
    if (s.find('%') == std::string_view::npos && (!plus_is_space || s.find('+') == std::string_view::npos)) {
        return std::string(s);  // nothing to decode (most paths)
    }
    std::string out;
    out.reserve(s.size());
    auto val = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%') {
            if (i + 2 >= s.size()) {
                return std::nullopt;
            }
            const int hi = val(s[i + 1]);
            const int lo = val(s[i + 2]);
            if (hi < 0 || lo < 0) {
                return std::nullopt;
            }
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else if (plus_is_space && s[i] == '+') {
            out.push_back(' ');
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

std::string percent_encode(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out += fmt::format("%{:02X}", c);
        }
    }
    return out;
}

}  // namespace lambent::codec
