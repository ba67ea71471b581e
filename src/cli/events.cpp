#include "lambent/cli/events.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>

namespace lambent::cli {

namespace {

using json = nlohmann::json;

std::tm utc(codec::sys_ms t) {
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    return tm;
}

std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
    return s;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    return s;
}

std::string trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return std::string(s);
}

/// `n` hex digits of the context's randomness starting at `at` (wrapping around).
std::string hex_slice(const event_context& c, std::size_t at, std::size_t n) {
    std::string out;
    const std::string& h = c.random_hex_64.empty() ? std::string(64, '0') : c.random_hex_64;
    for (std::size_t i = 0; i < n; ++i) out.push_back(h[(at + i) % h.size()]);
    return out;
}

bool is_token_char(char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) != 0 || std::string_view("!#$%&'*+-.^_`|~").find(ch) != std::string_view::npos;
}

/// nlohmann::json converts from anything, so a result of it is built explicitly.
result<json> value(json j) { return result<json>(boost::system::in_place_value, std::move(j)); }

/// API Gateway's log-style request time: `01/May/2024:12:34:56 +0000`.
std::string clf_time(codec::sys_ms t) { return fmt::format("{:%d/%b/%Y:%H:%M:%S} +0000", utc(t)); }

}  // namespace

event_context random_event_context() {
    return event_context{codec::now_ms(), codec::random_hex(32), codec::uuid4()};
}

std::string s3_key_encode(std::string_view key) {
    std::string out;
    for (unsigned char ch : key) {
        if (std::isalnum(ch) != 0 || ch == '-' || ch == '_' || ch == '.' || ch == '~' || ch == '/' || ch == '*') {
            out.push_back(static_cast<char>(ch));
        } else if (ch == ' ') {
            out.push_back('+');
        } else {
            out += fmt::format("%{:02X}", ch);
        }
    }
    return out;
}

result<json> s3_put_event(const s3_put_options& o, const event_context& c) {
    const bool bucket_ok = o.bucket.size() >= 3 && o.bucket.size() <= 63 &&
                           std::all_of(o.bucket.begin(), o.bucket.end(), [](char ch) {
                               return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-';
                           });
    if (!bucket_ok) {
        return make_error(errc::validation,
                          fmt::format("--bucket '{}': bucket names are 3-63 lower-case letters, digits, '.' and '-'", o.bucket));
    }
    if (o.key.empty()) return make_error(errc::validation, "--key must not be empty");
    json object = {
        {"key", s3_key_encode(o.key)},
        {"size", o.size},
        {"eTag", hex_slice(c, 0, 32)},
    };
    if (o.version_id) object["versionId"] = *o.version_id;
    object["sequencer"] = upper(hex_slice(c, 32, 18));
    json record = {
        {"eventVersion", "2.1"},
        {"eventSource", "aws:s3"},
        {"awsRegion", o.region},
        {"eventTime", codec::iso_timestamp(c.now)},
        {"eventName", "ObjectCreated:Put"},
        {"userIdentity", {{"principalId", "AWS:AIDAJDPLRKLG7UEXAMPLE"}}},
        {"requestParameters", {{"sourceIPAddress", "127.0.0.1"}}},
        {"responseElements",
         {{"x-amz-request-id", upper(hex_slice(c, 8, 16))},
          {"x-amz-id-2", codec::base64_encode(hex_slice(c, 16, 48)).substr(0, 64)}}},
        {"s3",
         {{"s3SchemaVersion", "1.0"},
          {"configurationId", "lambent-notification"},
          {"bucket",
           {{"name", o.bucket},
            {"ownerIdentity", {{"principalId", "A3NL1KOZZKExample"}}},
            {"arn", "arn:aws:s3:::" + o.bucket}}},
          {"object", std::move(object)}}},
    };
    return value(json{{"Records", json::array({std::move(record)})}});
}

result<json> apigw_v2_event(const apigw_v2_options& o, const event_context& c) {
    const std::string method = upper(o.method);
    if (method.empty() || !std::all_of(method.begin(), method.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; })) {
        return make_error(errc::validation, fmt::format("--method '{}': expected an HTTP method such as GET or POST", o.method));
    }
    std::string path = o.path;
    std::string query = o.query;
    if (const auto q = path.find('?'); q != std::string::npos) {
        if (query.empty()) query = path.substr(q + 1);
        path.resize(q);
    }
    if (path.empty() || path.front() != '/') {
        return make_error(errc::validation, fmt::format("--path '{}': must start with '/'", o.path));
    }

    const std::string api_id = hex_slice(c, 0, 10);
    const std::string domain = fmt::format("{}.execute-api.{}.amazonaws.com", api_id, o.region);
    const auto epoch_ms = c.now.time_since_epoch().count();

    // Headers: defaults API Gateway adds, then the user's (lower-cased; repeats joined with ',').
    std::map<std::string, std::string> headers = {
        {"accept", "*/*"},
        {"host", domain},
        {"user-agent", "lambent-cli"},
        {"x-amzn-trace-id", fmt::format("Root=1-{:08x}-{}", epoch_ms / 1000, hex_slice(c, 10, 24))},
        {"x-forwarded-for", "127.0.0.1"},
        {"x-forwarded-port", "443"},
        {"x-forwarded-proto", "https"},
    };
    std::map<std::string, std::string> given;
    for (const auto& h : o.headers) {
        const auto sep = h.find_first_of(":=");
        const std::string name = lower(trim(std::string_view(h).substr(0, sep)));
        if (sep == std::string::npos || name.empty() || !std::all_of(name.begin(), name.end(), is_token_char)) {
            return make_error(errc::validation, fmt::format("--header '{}': expected 'Name: value' or Name=value", h));
        }
        const std::string value = trim(std::string_view(h).substr(sep + 1));
        auto [it, inserted] = given.emplace(name, value);
        if (!inserted) it->second += "," + value;
    }
    for (auto& [k, v] : given) headers[k] = v;

    json event = {{"version", "2.0"}, {"routeKey", o.route_key}, {"rawPath", path}, {"rawQueryString", query}};
    if (auto it = headers.find("cookie"); it != headers.end()) {
        json cookies = json::array();
        std::string_view rest = it->second;
        while (!rest.empty()) {
            const auto semi = rest.find(';');
            const auto piece = trim(rest.substr(0, semi));
            if (!piece.empty()) cookies.push_back(piece);
            if (semi == std::string_view::npos) break;
            rest.remove_prefix(semi + 1);
        }
        headers.erase(it);
        if (!cookies.empty()) event["cookies"] = std::move(cookies);
    }

    std::optional<std::string> body = o.body;
    bool base64 = false;
    if (body) {
        if (headers.find("content-type") == headers.end()) {
            const bool is_json = !json::parse(*body, nullptr, false).is_discarded();
            headers["content-type"] = is_json ? "application/json" : "text/plain";
        }
        headers["content-length"] = std::to_string(body->size());
        const auto& type = headers["content-type"];
        const bool textual = type.find("text") != std::string::npos || type.find("json") != std::string::npos ||
                             type.find("xml") != std::string::npos;
        if (!textual) {
            body = codec::base64_encode(*body);
            base64 = true;
        }
    }
    event["headers"] = headers;

    if (!query.empty()) {
        std::map<std::string, std::string> params;
        std::string_view rest = query;
        while (!rest.empty()) {
            const auto amp = rest.find('&');
            const auto pair = rest.substr(0, amp);
            if (!pair.empty()) {
                const auto eq = pair.find('=');
                auto key = codec::percent_decode(pair.substr(0, eq), true);
                auto value = codec::percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
                if (!key || !value) {
                    return make_error(errc::validation, fmt::format("query '{}': malformed percent escape", query));
                }
                auto [it, inserted] = params.emplace(*key, *value);
                if (!inserted) it->second += "," + *value;
            }
            if (amp == std::string_view::npos) break;
            rest.remove_prefix(amp + 1);
        }
        event["queryStringParameters"] = params;
    }

    event["requestContext"] = {
        {"accountId", o.account},
        {"apiId", api_id},
        {"domainName", domain},
        {"domainPrefix", api_id},
        {"http",
         {{"method", method},
          {"path", path},
          {"protocol", "HTTP/1.1"},
          {"sourceIp", "127.0.0.1"},
          {"userAgent", headers["user-agent"]}}},
        {"requestId", codec::base64_encode(hex_slice(c, 34, 12)).substr(0, 16)},
        {"routeKey", o.route_key},
        {"stage", "$default"},
        {"time", clf_time(c.now)},
        {"timeEpoch", epoch_ms},
    };
    if (body) event["body"] = *body;
    event["isBase64Encoded"] = base64;
    return value(std::move(event));
}

result<json> schedule_event(const schedule_options& o, const event_context& c) {
    const bool rule_ok = !o.rule.empty() && o.rule.size() <= 64 && std::all_of(o.rule.begin(), o.rule.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '.' || ch == '-' || ch == '_';
    });
    if (!rule_ok) {
        return make_error(errc::validation,
                          fmt::format("--rule '{}': rule names are 1-64 letters, digits, '.', '-' and '_'", o.rule));
    }
    return value(json{
        {"version", "0"},
        {"id", c.uuid},
        {"detail-type", "Scheduled Event"},
        {"source", "aws.events"},
        {"account", o.account},
        {"time", fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", utc(c.now))},
        {"region", o.region},
        {"resources", json::array({fmt::format("arn:aws:events:{}:{}:rule/{}", o.region, o.account, o.rule)})},
        {"detail", json::object()},
    });
}

}  // namespace lambent::cli
