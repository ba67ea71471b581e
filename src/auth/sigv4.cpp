#include "lambent/auth/sigv4.hpp"

#include "lambent/common/codec.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>

namespace lambent::auth {

namespace {

constexpr std::string_view algorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view unsigned_payload = "UNSIGNED-PAYLOAD";

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
    return s;
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
               return std::tolower(x) == std::tolower(y);
           });
}

std::string hmac(std::string_view key, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), out, &len);
    return std::string(reinterpret_cast<const char*>(out), len);
}

/// RFC 3986 encoding of every byte but the unreserved ones (and '/' when `keep_slash`), uppercase hex.
std::string uri_encode(std::string_view s, bool keep_slash) {
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
            out.push_back(static_cast<char>(c));
        } else {
            out += fmt::format("%{:02X}", c);
        }
    }
    return out;
}

/// RFC 3986 section 5.2.4 dot-segment removal, keeping empty segments (as the AWS signers do).
std::string remove_dot_segments(std::string_view path) {
    if (path.empty()) return "/";
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (;;) {
        const auto end = path.find('/', start);
        const auto seg = path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
        if (seg == "..") {
            if (!out.empty()) out.pop_back();
        } else if (seg != ".") {
            out.push_back(seg);
        }
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    if (path.front() == '/' && (out.empty() || !out.front().empty())) out.insert(out.begin(), std::string_view{});
    if (path.ends_with("/.") || path.ends_with("/..")) out.push_back(std::string_view{});
    std::string joined;
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (i > 0) joined.push_back('/');
        joined.append(out[i]);
    }
    return joined.empty() ? "/" : joined;
}

std::vector<std::pair<std::string, std::string>> raw_query_pairs(std::string_view query) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        if (!pair.empty()) {
            const auto eq = pair.find('=');
            out.emplace_back(std::string(pair.substr(0, eq)),
                             eq == std::string_view::npos ? std::string() : std::string(pair.substr(eq + 1)));
        }
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return out;
}

std::string decoded(std::string_view raw) {
    auto d = codec::percent_decode(raw, false);
    return d ? std::move(*d) : std::string(raw);
}

std::string canonical_query(std::string_view query, bool drop_signature) {
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const auto& [k, v] : raw_query_pairs(query)) {
        const std::string key = decoded(k);
        if (drop_signature && key == "X-Amz-Signature") continue;
        pairs.emplace_back(uri_encode(key, false), uri_encode(decoded(v), false));
    }
    std::sort(pairs.begin(), pairs.end());
    std::string out;
    for (const auto& [k, v] : pairs) {
        if (!out.empty()) out.push_back('&');
        out += k + "=" + v;
    }
    return out;
}

/// Trimall: no leading or trailing whitespace, runs of whitespace as one space.
std::string trim_all(std::string_view v) {
    std::string out;
    bool space = false;
    for (unsigned char c : v) {
        if (std::isspace(c) != 0) {
            space = true;
            continue;
        }
        if (space && !out.empty()) out.push_back(' ');
        space = false;
        out.push_back(static_cast<char>(c));
    }
    return out;
}

std::optional<std::string> header_value(const request_view& req, std::string_view name) {
    std::optional<std::string> out;
    for (const auto& [n, v] : req.headers) {
        if (!iequals(n, name)) continue;
        if (out) {
            *out += "," + trim_all(v);
        } else {
            out = trim_all(v);
        }
    }
    return out;
}

std::string signing_key_for(std::string_view secret, std::string_view date, std::string_view region,
                            std::string_view service) {
    const std::string k_date = hmac("AWS4" + std::string(secret), date);
    const std::string k_region = hmac(k_date, region);
    const std::string k_service = hmac(k_region, service);
    return hmac(k_service, "aws4_request");
}

std::string string_to_sign(std::string_view date_time, std::string_view scope, std::string_view canonical) {
    return fmt::format("{}\n{}\n{}\n{}", algorithm, date_time, scope, codec::hex(codec::sha256(canonical)));
}

/// `YYYYMMDDTHHMMSSZ` → time point; none when malformed.
std::optional<clock::time_point> parse_amz_date(std::string_view s) {
    if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
    for (std::size_t i = 0; i < 15; ++i) {
        if (i != 8 && std::isdigit(static_cast<unsigned char>(s[i])) == 0) return std::nullopt;
    }
    std::tm tm{};
    const std::string text(s);
    if (::strptime(text.c_str(), "%Y%m%dT%H%M%SZ", &tm) == nullptr) return std::nullopt;
    return clock::from_time_t(::timegm(&tm));
}

/// An RFC 1123 `Date` header → time point; none when malformed.
std::optional<clock::time_point> parse_http_date(std::string_view s) {
    std::tm tm{};
    const std::string text(s);
    const char* end = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == nullptr || *end != '\0') return std::nullopt;
    return clock::from_time_t(::timegm(&tm));
}

denial deny(failure kind, std::string message) { return denial{kind, std::move(message)}; }

std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        const auto end = s.find(sep, start);
        out.emplace_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    return out;
}

}  // namespace

// ---- credentials file ----------------------------------------------------------------------------------

result<std::vector<credential>> parse_credentials(std::string_view text) {
    std::vector<credential> out;
    std::optional<credential> current;
    auto flush = [&]() {
        if (current && !current->access_key_id.empty() && !current->secret_access_key.empty()) out.push_back(*current);
        current.reset();
    };
    std::size_t line_no = 0;
    while (!text.empty() || line_no == 0) {
        ++line_no;
        const auto nl = text.find('\n');
        std::string_view line = trim(text.substr(0, nl));
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (line.empty() || line.front() == '#' || line.front() == ';') {
            if (text.empty()) break;
            continue;
        }
        if (line.front() == '[') {
            if (line.back() != ']') {
                return make_error(errc::validation, fmt::format("line {}: a section header must end with ']'", line_no));
            }
            flush();
            current = credential{};
            current->profile = std::string(trim(line.substr(1, line.size() - 2)));
            if (current->profile.starts_with("profile ")) current->profile = std::string(trim(current->profile.substr(8)));
        } else {
            const auto eq = line.find('=');
            if (eq == std::string_view::npos) {
                return make_error(errc::validation, fmt::format("line {}: expected 'key = value'", line_no));
            }
            if (!current) {
                return make_error(errc::validation, fmt::format("line {}: a setting outside any [profile] section", line_no));
            }
            const std::string key = lower(trim(line.substr(0, eq)));
            const std::string value(trim(line.substr(eq + 1)));
            if (key == "aws_access_key_id") current->access_key_id = value;
            if (key == "aws_secret_access_key") current->secret_access_key = value;
            if (key == "aws_session_token") current->session_token = value;
        }
        if (text.empty()) break;
    }
    flush();
    return out;
}

result<std::vector<credential>> load_credentials(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return make_error(errc::validation, fmt::format("cannot read credentials file {}", file.string()));
    std::ostringstream ss;
    ss << in.rdbuf();
    auto parsed = parse_credentials(ss.str());
    if (!parsed) {
        return make_error(errc::validation, fmt::format("credentials file {}: {}", file.string(), parsed.error().message));
    }
    return parsed;
}

// ---- canonical form ------------------------------------------------------------------------------------

std::string amz_date(clock::time_point t) {
    const std::time_t tt = clock::to_time_t(t);
    std::tm tm{};
    ::gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return buf;
}

std::string canonical_request(const request_view& req, const std::vector<std::string>& signed_headers,
                              std::string_view payload_hash, bool drop_signature_param) {
    const auto qpos = req.target.find('?');
    const std::string_view path = req.target.substr(0, qpos);
    const std::string_view query = qpos == std::string_view::npos ? std::string_view{} : req.target.substr(qpos + 1);
    std::string out;
    out += std::string(req.method);
    out += '\n';
    out += uri_encode(remove_dot_segments(path), true);
    out += '\n';
    out += canonical_query(query, drop_signature_param);
    out += '\n';
    std::string names;
    for (const auto& h : signed_headers) {
        out += h + ":" + header_value(req, h).value_or("") + "\n";
        if (!names.empty()) names.push_back(';');
        names += h;
    }
    out += '\n';
    out += names;
    out += '\n';
    out += std::string(payload_hash);
    return out;
}

// ---- verification --------------------------------------------------------------------------------------

std::string_view denial::type() const {
    switch (kind) {
    case failure::missing: return "MissingAuthenticationTokenException";
    case failure::incomplete: return "IncompleteSignatureException";
    case failure::unknown_key: return "UnrecognizedClientException";
    case failure::bad_signature: return "InvalidSignatureException";
    }
    return "AccessDeniedException";
}

unsigned denial::status() const { return kind == failure::incomplete ? 400 : 403; }

verifier::verifier(std::vector<credential> keys, verifier_options options) : options_(std::move(options)) {
    for (auto& k : keys) {
        const std::string id = k.access_key_id;
        keys_.emplace(id, std::move(k));
    }
}

boost::system::result<identity, denial> verifier::verify(const request_view& req, std::string_view service,
                                                         clock::time_point now) const {
    // Gather the signature's parts from the Authorization header or, for a presigned request, the query.
    std::string credential_text, signed_headers_text, signature, date_text, token;
    std::optional<long long> expires;
    bool presigned = false;
    const auto authorization = header_value(req, "authorization");
    const auto qpos = req.target.find('?');
    std::map<std::string, std::string> query;
    if (qpos != std::string_view::npos) {
        for (const auto& [k, v] : raw_query_pairs(req.target.substr(qpos + 1))) query.emplace(decoded(k), decoded(v));
    }
    if (authorization) {
        const auto space = authorization->find(' ');
        const std::string alg = authorization->substr(0, space);
        if (alg != algorithm) {
            return deny(failure::incomplete, fmt::format("Unsupported AWS 'algorithm': '{}'", alg));
        }
        const std::string rest = space == std::string::npos ? std::string() : authorization->substr(space + 1);
        for (const auto& part : split(rest, ',')) {
            const auto p = trim(part);
            const auto eq = p.find('=');
            if (eq == std::string_view::npos) continue;
            const auto key = trim(p.substr(0, eq));
            const std::string value(trim(p.substr(eq + 1)));
            if (key == "Credential") credential_text = value;
            if (key == "SignedHeaders") signed_headers_text = value;
            if (key == "Signature") signature = value;
        }
        std::string missing;
        if (credential_text.empty()) missing += "Authorization header requires 'Credential' parameter. ";
        if (signature.empty()) missing += "Authorization header requires 'Signature' parameter. ";
        if (signed_headers_text.empty()) missing += "Authorization header requires 'SignedHeaders' parameter. ";
        if (!missing.empty()) {
            return deny(failure::incomplete, missing + "Authorization=" + *authorization);
        }
        if (auto d = header_value(req, "x-amz-date")) {
            date_text = *d;
        } else if (auto h = header_value(req, "date")) {
            auto t = parse_http_date(*h);
            if (!t) return deny(failure::incomplete, fmt::format("Date must be in ISO-8601 'basic format'. Got '{}'.", *h));
            date_text = amz_date(*t);
        } else {
            return deny(failure::incomplete,
                        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
                        "Authorization=" + *authorization);
        }
        token = header_value(req, "x-amz-security-token").value_or("");
    } else if (query.contains("X-Amz-Algorithm")) {
        presigned = true;
        if (query["X-Amz-Algorithm"] != algorithm) {
            return deny(failure::incomplete, fmt::format("Unsupported AWS 'algorithm': '{}'", query["X-Amz-Algorithm"]));
        }
        std::string missing;
        for (const char* p : {"X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"}) {
            if (!query.contains(p)) missing += fmt::format("AWS query-string parameters must include '{}'. ", p);
        }
        if (!missing.empty()) return deny(failure::incomplete, missing + "Re-examine the query-string parameters.");
        credential_text = query["X-Amz-Credential"];
        signed_headers_text = query["X-Amz-SignedHeaders"];
        signature = query["X-Amz-Signature"];
        date_text = query["X-Amz-Date"];
        token = query.contains("X-Amz-Security-Token") ? query["X-Amz-Security-Token"] : "";
        if (query.contains("X-Amz-Expires")) {
            char* end = nullptr;
            const std::string& e = query["X-Amz-Expires"];
            expires = std::strtoll(e.c_str(), &end, 10);
            if (e.empty() || *end != '\0' || *expires < 0 || *expires > 604800) {
                return deny(failure::incomplete, "X-Amz-Expires must be a number of seconds from 0 to 604800.");
            }
        }
    } else {
        return deny(failure::missing, "Missing Authentication Token");
    }

    // Credential=AKID/YYYYMMDD/region/service/aws4_request
    const auto scope_parts = split(credential_text, '/');
    if (scope_parts.size() != 5) {
        return deny(failure::incomplete,
                    fmt::format("Credential should be scoped to a valid region, not '{}'. ",
                                scope_parts.size() > 2 ? scope_parts[2] : std::string()) +
                        fmt::format("Authorization credential '{}' is malformed: expected "
                                    "'<access key>/<date>/<region>/<service>/aws4_request'.",
                                    credential_text));
    }
    const std::string& key_id = scope_parts[0];
    const auto key = keys_.find(key_id);
    if (key == keys_.end()) return deny(failure::unknown_key, "The security token included in the request is invalid.");
    if (!token.empty() && token != key->second.session_token) {
        return deny(failure::unknown_key, "The security token included in the request is invalid.");
    }
    if (token.empty() && !key->second.session_token.empty()) {
        return deny(failure::unknown_key, "The security token included in the request is invalid.");
    }

    const auto when = parse_amz_date(date_text);
    if (!when) {
        return deny(failure::incomplete, fmt::format("Date must be in ISO-8601 'basic format'. Got '{}'. See "
                                                     "http://en.wikipedia.org/wiki/ISO_8601",
                                                     date_text));
    }
    const auto skew = options_.max_skew;
    const long long skew_min = std::chrono::duration_cast<std::chrono::minutes>(skew).count();
    if (presigned && expires) {
        if (now > *when + std::chrono::seconds(*expires) + skew) {
            return deny(failure::bad_signature,
                        fmt::format("Signature expired: {} is now earlier than {} ({} - {} sec.)", amz_date(*when),
                                    amz_date(now - std::chrono::seconds(*expires)), amz_date(now), *expires));
        }
    } else if (*when < now - skew) {
        return deny(failure::bad_signature, fmt::format("Signature expired: {} is now earlier than {} ({} - {} min.)",
                                                        date_text, amz_date(now - skew), amz_date(now), skew_min));
    }
    if (*when > now + skew) {
        return deny(failure::bad_signature, fmt::format("Signature not yet current: {} is still later than {} ({} + {} min.)",
                                                        date_text, amz_date(now + skew), amz_date(now), skew_min));
    }
    if (scope_parts[1] != date_text.substr(0, 8)) {
        return deny(failure::bad_signature,
                    fmt::format("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
                                "HTTP: '{}' != '{}', from '{}'.",
                                scope_parts[1], date_text.substr(0, 8), date_text));
    }
    if (scope_parts[2] != options_.region) {
        return deny(failure::bad_signature,
                    fmt::format("Credential should be scoped to a valid region, not '{}'. ", scope_parts[2]));
    }
    if (scope_parts[3] != service) {
        return deny(failure::bad_signature, fmt::format("Credential should be scoped to correct service: '{}'. ", service));
    }
    if (scope_parts[4] != "aws4_request") {
        return deny(failure::bad_signature,
                    fmt::format("Credential should be scoped with a valid terminator: 'aws4_request', not '{}'. ",
                                scope_parts[4]));
    }

    std::vector<std::string> signed_headers;
    for (const auto& h : split(signed_headers_text, ';')) signed_headers.push_back(lower(h));
    if (std::find(signed_headers.begin(), signed_headers.end(), "host") == signed_headers.end()) {
        return deny(failure::bad_signature, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
    }

    std::string payload_hash;
    if (auto sent = header_value(req, "x-amz-content-sha256")) {
        payload_hash = *sent;
        if (payload_hash != unsigned_payload) {
            if (payload_hash != codec::hex(codec::sha256(req.body))) {
                return deny(failure::bad_signature,
                            "The provided 'x-amz-content-sha256' header does not match what was computed.");
            }
        }
    } else {
        payload_hash = codec::hex(codec::sha256(req.body));
    }

    const std::string canonical = canonical_request(req, signed_headers, payload_hash, presigned);
    const std::string scope = fmt::format("{}/{}/{}/aws4_request", scope_parts[1], scope_parts[2], scope_parts[3]);
    const std::string to_sign = string_to_sign(date_text, scope, canonical);
    const std::string expected =
        codec::hex(hmac(signing_key_for(key->second.secret_access_key, scope_parts[1], scope_parts[2], scope_parts[3]), to_sign));
    if (expected.size() != signature.size() || CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) != 0) {
        return deny(failure::bad_signature,
                    fmt::format("The request signature we calculated does not match the signature you provided. Check "
                                "your AWS Secret Access Key and signing method. Consult the service documentation for "
                                "details.\n\nThe Canonical String for this request should have been\n'{}'\n\nThe "
                                "String-to-Sign should have been\n'{}'\n",
                                canonical, to_sign));
    }
    return identity{key_id, key->second.profile};
}

// ---- signing -------------------------------------------------------------------------------------------

std::vector<std::pair<std::string, std::string>> sign(const request_view& req, const signing_key& key,
                                                      clock::time_point now) {
    const std::string date_time = amz_date(now);
    const std::string payload_hash = codec::hex(codec::sha256(req.body));
    std::vector<std::pair<std::string, std::string>> added{{"X-Amz-Date", date_time}};
    if (!key.session_token.empty()) added.emplace_back("X-Amz-Security-Token", key.session_token);

    request_view full = req;
    for (const auto& [n, v] : added) full.headers.emplace_back(n, v);
    std::vector<std::string> names;
    for (const auto& [n, v] : full.headers) {
        std::string l = lower(n);
        if (l == "authorization" || l == "user-agent" || l == "expect") continue;
        if (std::find(names.begin(), names.end(), l) == names.end()) names.push_back(std::move(l));
    }
    std::sort(names.begin(), names.end());
    const std::string canonical = canonical_request(full, names, payload_hash, false);
    const std::string date = date_time.substr(0, 8);
    const std::string scope = fmt::format("{}/{}/{}/aws4_request", date, key.region, key.service);
    const std::string signature =
        codec::hex(hmac(signing_key_for(key.secret_access_key, date, key.region, key.service),
                        string_to_sign(date_time, scope, canonical)));
    std::string signed_names;
    for (const auto& n : names) signed_names += (signed_names.empty() ? "" : ";") + n;
    added.emplace_back("Authorization", fmt::format("{} Credential={}/{}, SignedHeaders={}, Signature={}", algorithm,
                                                    key.access_key_id, scope, signed_names, signature));
    return added;
}

std::optional<credential> client_credentials() {
    const char* id = std::getenv("AWS_ACCESS_KEY_ID");
    const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
    if (id != nullptr && secret != nullptr && *id != '\0' && *secret != '\0') {
        const char* token = std::getenv("AWS_SESSION_TOKEN");
        return credential{"env", id, secret, token != nullptr ? token : ""};
    }
    std::filesystem::path file;
    if (const char* f = std::getenv("AWS_SHARED_CREDENTIALS_FILE"); f != nullptr && *f != '\0') {
        file = f;
    } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
        file = std::filesystem::path(home) / ".aws" / "credentials";
    } else {
        return std::nullopt;
    }
    const char* p = std::getenv("AWS_PROFILE");
    const std::string profile = p != nullptr && *p != '\0' ? p : "default";
    auto creds = load_credentials(file);
    if (!creds) return std::nullopt;
    for (auto& c : *creds) {
        if (c.profile == profile) return c;
    }
    return std::nullopt;
}

std::string client_region() {
    for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
        if (const char* v = std::getenv(name); v != nullptr && *v != '\0') return v;
    }
    return "us-east-1";
}

}  // namespace lambent::auth
