#pragma once
/// `lambent event …`: realistic event payloads of AWS's event sources (lambda-contract.md §8) to pipe into
/// `lambent invoke NAME --payload @-`. Pure functions: the time and the random ids come in through
/// `event_context`, so tests get fixed output.

#include "lambent/common/codec.hpp"
#include "lambent/common/error.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lambent::cli {

/// What varies between two generated events.
struct event_context {
    codec::sys_ms now;
    /// Source of the ids in the event (request ids, api id, …); random_event_context() uses random hex.
    std::string random_hex_64;  // 64 lowercase hex digits
    std::string uuid;           // a UUID v4
};
event_context random_event_context();

struct s3_put_options {
    std::string bucket = "example-bucket";
    std::string key = "test/key.txt";
    std::uint64_t size = 1024;
    std::string region = "us-east-1";
    std::optional<std::string> version_id;
};
/// S3 ObjectCreated:Put notification (§8.1). The key is URL-encoded as S3 does (space → `+`).
[[nodiscard]] result<nlohmann::json> s3_put_event(const s3_put_options& o, const event_context& c);

struct apigw_v2_options {
    std::string method = "GET";
    std::string path = "/";
    std::string query;                 // raw query string, e.g. "q=x&q=y"
    std::vector<std::string> headers;  // "Name: value" or "Name=value", repeatable
    std::optional<std::string> body;
    std::string route_key = "$default";
    std::string region = "us-east-1";
    std::string account = "000000000000";
};
/// HTTP API payload format 2.0 (§8.3): lower-cased, comma-joined headers, cookies split out of `cookie`,
/// comma-joined query parameters, members absent when empty, the body base64-encoded unless its content
/// type is textual (contains text, json or xml). errc::validation for a malformed header or method.
[[nodiscard]] result<nlohmann::json> apigw_v2_event(const apigw_v2_options& o, const event_context& c);

struct schedule_options {
    std::string rule = "lambent-schedule";
    std::string region = "us-east-1";
    std::string account = "000000000000";
};
/// EventBridge "Scheduled Event" (§8.4); `time` without milliseconds.
[[nodiscard]] result<nlohmann::json> schedule_event(const schedule_options& o, const event_context& c);

/// S3's key encoding in notifications: unreserved characters and `/` kept, space as `+`, the rest %XX.
std::string s3_key_encode(std::string_view key);

}  // namespace lambent::cli
