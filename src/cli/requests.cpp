#include "lambent/cli/requests.hpp"

#include "lambent/common/codec.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

namespace lambent::cli {

namespace {

using json = nlohmann::json;

// Wire names of the Lambda REST API and the Logs API.
constexpr std::string_view functions_path = "/2015-03-31/functions";
constexpr std::string_view logs_target_prefix = "Logs_20140328.";
constexpr std::string_view logs_content_type = "application/x-amz-json-1.1";
constexpr std::string_view lambda_group_prefix = "/aws/lambda/";

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::string find_header(const std::vector<std::pair<std::string, std::string>>& headers, std::string_view name) {
    for (const auto& [k, v] : headers) {
        if (iequals(k, name)) return v;
    }
    return {};
}

std::string function_path(std::string_view name) {
    return fmt::format("{}/{}", functions_path, codec::percent_encode(name));
}

http_request json_request(std::string method, std::string target, const json& body) {
    http_request r{std::move(method), std::move(target), {{"Content-Type", "application/json"}}, body.dump()};
    return r;
}

}  // namespace

std::string endpoint::url() const {
    return fmt::format("{}://{}{}", tls ? "https" : "http", host_header(), base_path);
}

std::string endpoint::host_header() const {
    const bool v6 = host.find(':') != std::string::npos;
    return v6 ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

result<endpoint> parse_endpoint(std::string_view url) {
    const auto bad = [url](std::string_view why) {
        return make_error(errc::validation,
                          fmt::format("invalid endpoint '{}': {} (expected http[s]://HOST:PORT)", url, why));
    };
    const bool tls = url.substr(0, 8) == "https://";
    const std::string_view scheme = tls ? "https://" : "http://";
    if (url.substr(0, scheme.size()) != scheme) return bad("it must start with http:// or https://");
    std::string_view rest = url.substr(scheme.size());
    const auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    endpoint ep;
    ep.tls = tls;
    if (tls) ep.port = 443;
    std::string_view port_text;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return bad("unterminated IPv6 address");
        ep.host = std::string(authority.substr(1, close - 1));
        const auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return bad("unexpected text after the IPv6 address");
            port_text = after.substr(1);
        }
    } else {
        const auto colon = authority.rfind(':');
        ep.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    }
    if (ep.host.empty()) return bad("no host");
    if (authority.find('@') != std::string_view::npos) return bad("user information is not supported");
    if (!port_text.empty() || authority.back() == ':') {
        unsigned v = 0;
        const auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), v);
        if (port_text.empty() || ec != std::errc{} || ptr != port_text.data() + port_text.size() || v == 0 ||
            v > 65535) {
            return bad("bad port");
        }
        ep.port = static_cast<std::uint16_t>(v);
    }
    ep.base_path = std::string(path);
    return ep;
}

std::string http_request::header(std::string_view name) const { return find_header(headers, name); }
std::string http_response::header(std::string_view name) const { return find_header(headers, name); }

result<std::map<std::string, std::string>> parse_env(const std::vector<std::string>& items) {
    std::map<std::string, std::string> out;
    for (const auto& item : items) {
        const auto eq = item.find('=');
        if (eq == std::string::npos || eq == 0) {
            return make_error(errc::validation, fmt::format("--env '{}': expected KEY=VALUE", item));
        }
        out[item.substr(0, eq)] = item.substr(eq + 1);
    }
    return out;
}

result<std::chrono::milliseconds> parse_duration(std::string_view text) {
    const auto bad = [text] {
        return make_error(errc::validation,
                          fmt::format("invalid duration '{}': use a number and a unit (s, m, h, d, w), e.g. 30s, 5m, 1h30m",
                                      text));
    };
    if (text.empty()) return bad();
    std::chrono::milliseconds total{0};
    std::size_t i = 0;
    while (i < text.size()) {
        std::int64_t n = 0;
        const auto [ptr, ec] = std::from_chars(text.data() + i, text.data() + text.size(), n);
        if (ec != std::errc{} || n < 0) return bad();
        i = static_cast<std::size_t>(ptr - text.data());
        std::int64_t unit_s = 1;
        if (i < text.size()) {
            switch (text[i]) {
            case 's': unit_s = 1; break;
            case 'm': unit_s = 60; break;
            case 'h': unit_s = 3600; break;
            case 'd': unit_s = 86400; break;
            case 'w': unit_s = 7 * 86400; break;
            default: return bad();
            }
            ++i;
        } else if (total.count() != 0) {
            return bad();  // "1h30": the last number needs a unit
        }
        if (n > std::numeric_limits<std::int64_t>::max() / 1000 / unit_s) return bad();
        total += std::chrono::milliseconds(n * unit_s * 1000);
    }
    return total;
}

result<std::optional<std::int64_t>> since_epoch_ms(std::string_view since, std::int64_t now_ms) {
    if (since == "all") return std::optional<std::int64_t>{};
    auto d = parse_duration(since);
    if (!d) return d.error();
    return std::optional<std::int64_t>{std::max<std::int64_t>(0, now_ms - d->count())};
}

http_request get_function_request(std::string_view name) { return {"GET", function_path(name), {}, {}}; }

http_request create_function_request(const deploy_options& o, const std::map<std::string, std::string>& env,
                                     std::string_view zip_bytes) {
    json body = {
        {"FunctionName", o.name},
        {"Runtime", o.runtime},
        {"Handler", o.handler},
        {"Role", o.role},
        {"Code", {{"ZipFile", codec::base64_encode(zip_bytes)}}},
    };
    if (o.memory_mb) body["MemorySize"] = *o.memory_mb;
    if (o.timeout_s) body["Timeout"] = *o.timeout_s;
    if (!env.empty()) body["Environment"] = {{"Variables", env}};
    if (!o.layers.empty()) body["Layers"] = o.layers;
    return json_request("POST", std::string(functions_path), body);
}

http_request update_code_request(std::string_view name, std::string_view zip_bytes) {
    return json_request("PUT", function_path(name) + "/code", json{{"ZipFile", codec::base64_encode(zip_bytes)}});
}

http_request update_configuration_request(const deploy_options& o, const std::map<std::string, std::string>& env) {
    json body = {{"Runtime", o.runtime}, {"Handler", o.handler}, {"Role", o.role}};
    if (o.memory_mb) body["MemorySize"] = *o.memory_mb;
    if (o.timeout_s) body["Timeout"] = *o.timeout_s;
    if (!o.env.empty()) body["Environment"] = {{"Variables", env}};
    if (!o.layers.empty()) body["Layers"] = o.layers;
    return json_request("PUT", function_path(o.name) + "/configuration", body);
}

http_request publish_layer_request(const publish_layer_options& o, std::string_view zip_bytes) {
    json body = {{"Content", {{"ZipFile", codec::base64_encode(zip_bytes)}}}, {"Description", o.description}};
    if (!o.compatible_runtimes.empty()) body["CompatibleRuntimes"] = o.compatible_runtimes;
    if (!o.compatible_architectures.empty()) body["CompatibleArchitectures"] = o.compatible_architectures;
    if (o.license_info) body["LicenseInfo"] = *o.license_info;
    return json_request("POST", "/2018-10-31/layers/" + codec::percent_encode(o.name) + "/versions", body);
}

http_request invoke_request(const invoke_options& o, std::string payload) {
    std::string target = function_path(o.name) + "/invocations";
    if (o.qualifier) target += "?Qualifier=" + codec::percent_encode(*o.qualifier);
    http_request r{"POST", std::move(target), {}, std::move(payload)};
    r.headers.emplace_back("Content-Type", "application/json");
    r.headers.emplace_back("X-Amz-Invocation-Type", o.async ? "Event" : "RequestResponse");
    if (o.log && !o.async) r.headers.emplace_back("X-Amz-Log-Type", "Tail");
    return r;
}

http_request list_functions_request(const std::optional<std::string>& marker) {
    std::string target = std::string(functions_path) + "/?MaxItems=50";
    if (marker) target += "&Marker=" + codec::percent_encode(*marker);
    return {"GET", std::move(target), {}, {}};
}

http_request delete_function_request(std::string_view name) { return {"DELETE", function_path(name), {}, {}}; }

http_request filter_log_events_request(const filter_query& q) {
    json body = {{"logGroupName", std::string(lambda_group_prefix) + q.function}, {"interleaved", true}};
    if (q.start_ms) body["startTime"] = *q.start_ms;
    if (q.pattern) body["filterPattern"] = *q.pattern;
    if (q.next_token) body["nextToken"] = *q.next_token;
    http_request r{"POST", "/", {}, body.dump()};
    r.headers.emplace_back("Content-Type", std::string(logs_content_type));
    r.headers.emplace_back("X-Amz-Target", std::string(logs_target_prefix) + "FilterLogEvents");
    return r;
}

std::optional<api_error> decode_api_error(const http_response& r) {
    if (r.status >= 200 && r.status < 300) return std::nullopt;
    api_error e;
    std::string type = r.header("x-amzn-ErrorType");
    const auto body = json::parse(r.body, nullptr, false);
    if (body.is_object()) {
        for (const char* key : {"message", "Message", "errorMessage"}) {
            if (auto it = body.find(key); it != body.end() && it->is_string()) {
                e.message = it->get<std::string>();
                break;
            }
        }
        if (type.empty()) {
            if (auto it = body.find("__type"); it != body.end() && it->is_string()) type = it->get<std::string>();
        }
    }
    // `Type:http://internal…` (rest-json) and `com.amazonaws.logs#Type` (JSON 1.1) both name the type.
    if (const auto colon = type.find(':'); colon != std::string::npos) type.resize(colon);
    if (const auto hash = type.rfind('#'); hash != std::string::npos) type.erase(0, hash + 1);
    e.type = type.empty() ? fmt::format("HTTP{}", r.status) : type;
    if (e.message.empty()) {
        e.message = r.body.empty() ? "(no message)" : r.body.substr(0, 300);
    }
    return e;
}

std::string describe_function_error(std::string_view function_error_header, std::string_view body) {
    const auto j = json::parse(body, nullptr, false);
    std::string type;
    std::string message;
    std::vector<std::string> trace;
    if (j.is_object()) {
        if (auto it = j.find("errorType"); it != j.end() && it->is_string()) type = it->get<std::string>();
        if (auto it = j.find("errorMessage"); it != j.end() && it->is_string()) message = it->get<std::string>();
        for (const char* key : {"stackTrace", "trace"}) {
            auto it = j.find(key);
            if (it == j.end() || !it->is_array()) continue;
            for (const auto& line : *it) {
                if (line.is_string()) trace.push_back(line.get<std::string>());
            }
        }
    }
    std::string out = fmt::format("function error ({}): ", function_error_header.empty() ? "Unhandled" : function_error_header);
    if (type.empty() && message.empty()) {
        out += body.empty() ? std::string("(empty error body)") : std::string(body.substr(0, 1000));
    } else {
        out += type.empty() ? message : fmt::format("{}: {}", type, message);
    }
    out += '\n';
    for (const auto& line : trace) {
        // Python frames are "  File …\n    code\n"; print each physical line indented once.
        std::string_view rest = line;
        while (!rest.empty()) {
            const auto nl = rest.find('\n');
            std::string_view piece = rest.substr(0, nl);
            while (!piece.empty() && piece.back() == ' ') piece.remove_suffix(1);
            if (!piece.empty()) out += fmt::format("    {}\n", piece);
            if (nl == std::string_view::npos) break;
            rest.remove_prefix(nl + 1);
        }
    }
    return out;
}

function_state read_function_state(const nlohmann::json& body) {
    function_state s;
    const auto cfg = body.find("Configuration");
    if (cfg == body.end() || !cfg->is_object()) return s;
    const auto text = [&cfg](const char* key) {
        auto it = cfg->find(key);
        return it != cfg->end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    const auto state = text("State");
    const auto update = text("LastUpdateStatus");
    if (state == "Failed") {
        s.state = readiness::failed;
        s.reason = text("StateReason");
    } else if (update == "Failed") {
        s.state = readiness::failed;
        s.reason = text("LastUpdateStatusReason");
    } else if ((state.empty() || state == "Active") && (update.empty() || update == "Successful")) {
        s.state = readiness::ready;
    }
    return s;
}

namespace {

std::string string_member(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int int_member(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_number_integer() ? it->get<int>() : 0;
}

std::optional<std::string> token_member(const json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string() || it->get<std::string>().empty()) return std::nullopt;
    return it->get<std::string>();
}

}  // namespace

result<filter_page> decode_filter_page(std::string_view body) {
    const auto j = json::parse(body, nullptr, false);
    const auto events = j.is_object() ? j.find("events") : j.end();
    if (!j.is_object() || events == j.end() || !events->is_array()) {
        return make_error(errc::invalid_request_content, "the server's FilterLogEvents response has no events list");
    }
    filter_page page;
    for (const auto& e : *events) {
        if (!e.is_object()) continue;
        auto ts = e.find("timestamp");
        page.events.push_back(log_event{ts != e.end() && ts->is_number_integer() ? ts->get<std::int64_t>() : 0,
                                        string_member(e, "eventId"), string_member(e, "message")});
    }
    page.next_token = token_member(j, "nextToken");
    return page;
}

result<function_page> decode_function_page(std::string_view body) {
    const auto j = json::parse(body, nullptr, false);
    const auto functions = j.is_object() ? j.find("Functions") : j.end();
    if (!j.is_object() || functions == j.end() || !functions->is_array()) {
        return make_error(errc::invalid_request_content, "the server's ListFunctions response has no Functions list");
    }
    function_page page;
    for (const auto& f : *functions) {
        if (f.is_object()) page.functions.push_back(f);
    }
    page.next_marker = token_member(j, "NextMarker");
    return page;
}

function_summary summarize_function(const nlohmann::json& cfg) {
    if (!cfg.is_object()) return {};
    return function_summary{string_member(cfg, "FunctionName"), string_member(cfg, "Runtime"),
                            string_member(cfg, "Handler"),      int_member(cfg, "MemorySize"),
                            int_member(cfg, "Timeout"),         string_member(cfg, "LastModified"),
                            string_member(cfg, "CodeSha256")};
}

std::string format_log_event(std::int64_t timestamp_ms, std::string_view message) {
    const codec::sys_ms t{std::chrono::milliseconds(timestamp_ms)};
    return fmt::format("{} {}", codec::iso_timestamp(t), message);
}

std::string human_bytes(std::uint64_t n) {
    if (n >= 1024 * 1024) return fmt::format("{:.1f} MB", static_cast<double>(n) / (1024.0 * 1024.0));
    if (n >= 1024) return fmt::format("{} KB", (n + 512) / 1024);
    return fmt::format("{} B", n);
}

}  // namespace lambent::cli
