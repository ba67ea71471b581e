#pragma once
/// AWS Signature Version 4: the verifier the server checks every request with (`serve --auth sigv4`), the
/// signer the `lambent` client commands use, and the shared-credentials file reader. HMAC-SHA256 and SHA-256
/// come from OpenSSL. See docs/security.md.

#include "lambent/common/error.hpp"

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lambent::auth {

/// One access key from a shared-credentials file.
struct credential {
    std::string profile;
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;  // optional; when set, requests must carry it in X-Amz-Security-Token
};

/// Parses the AWS shared-credentials format (`[profile]` sections of `key = value` lines, `#`/`;` comments).
/// Profiles without both aws_access_key_id and aws_secret_access_key are skipped. errc::validation with the
/// line number on a syntax error.
[[nodiscard]] result<std::vector<credential>> parse_credentials(std::string_view text);
[[nodiscard]] result<std::vector<credential>> load_credentials(const std::filesystem::path& file);

/// A request as the verifier and the signer see it: the target exactly as sent (path and query still
/// percent-encoded) and the header fields as sent (names in any case, repeated names allowed).
struct request_view {
    std::string_view method;
    std::string_view target;
    std::vector<std::pair<std::string_view, std::string_view>> headers;
    std::string_view body;
};

using clock = std::chrono::system_clock;

/// The canonical request (method, canonical URI, canonical query, canonical headers, signed headers, payload
/// hash) for the given signed header names (lowercase). Exposed for tests and error messages.
std::string canonical_request(const request_view& req, const std::vector<std::string>& signed_headers,
                              std::string_view payload_hash, bool drop_signature_param);
/// `YYYYMMDDTHHMMSSZ`.
std::string amz_date(clock::time_point t);

/// Why a request was refused. Each maps to one AWS error (type, status, message).
enum class failure {
    missing,          // MissingAuthenticationTokenException 403
    incomplete,       // IncompleteSignatureException 400
    unknown_key,      // UnrecognizedClientException 403
    bad_signature,    // InvalidSignatureException 403 (also wrong scope, expired, payload hash mismatch)
};

struct denial {
    failure kind = failure::missing;
    std::string message;

    std::string_view type() const;
    unsigned status() const;
};

struct identity {
    std::string access_key_id;
    std::string profile;
};

struct verifier_options {
    std::string region = "us-east-1";
    /// Largest difference between the request's date and the server clock.
    std::chrono::seconds max_skew{std::chrono::minutes(15)};
};

/// Checks requests signed with SigV4 (Authorization header or presigned query) against a fixed set of keys.
class verifier {
public:
    verifier(std::vector<credential> keys, verifier_options options);

    /// Verifies `req` for `service` ("lambda", "logs") at time `now`.
    [[nodiscard]] boost::system::result<identity, denial> verify(const request_view& req, std::string_view service,
                                                                 clock::time_point now) const;
    std::size_t key_count() const { return keys_.size(); }

private:
    std::map<std::string, credential, std::less<>> keys_;  // access key id -> credential
    verifier_options options_;
};

/// What a signer needs besides the request.
struct signing_key {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;
    std::string region;
    std::string service;
};

/// The header fields to add to `req` (which must already carry Host) so that it is signed: X-Amz-Date,
/// X-Amz-Security-Token when there is a session token, and Authorization. Every header of `req` but
/// User-Agent and Expect is signed, and so is the body (its SHA-256), as botocore does.
std::vector<std::pair<std::string, std::string>> sign(const request_view& req, const signing_key& key,
                                                      clock::time_point now);

/// The credentials the client commands sign with, found like the AWS SDKs do: AWS_ACCESS_KEY_ID and
/// AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), else the AWS_PROFILE (default "default") profile of
/// AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials). None when nothing is configured.
std::optional<credential> client_credentials();
/// AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1.
std::string client_region();

}  // namespace lambent::auth
