#pragma once
/// The pure half of the `lambent` client commands: what each command's options mean as Lambda REST API and
/// CloudWatch Logs API requests, and how responses are read back. No I/O here (see http_client.hpp and
/// commands.hpp), so all of it is unit-tested.

#include "lambent/common/error.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lambent::cli {

/// Exit statuses every client command uses (docs/cli.md).
enum exit_status : int {
    exit_ok = 0,
    exit_function_error = 1,
    exit_usage = 2,  // bad arguments, or the API refused the request
    exit_unreachable = 3,
};

constexpr std::string_view default_endpoint = "http://127.0.0.1:9400";
constexpr std::string_view endpoint_env = "LAMBENT_ENDPOINT";
constexpr std::string_view default_role = "arn:aws:iam::000000000000:role/lambent";

/// Where the server is: `http://HOST[:PORT][/PREFIX]`.
struct endpoint {
    std::string host;
    std::uint16_t port = 80;
    std::string base_path;  // without a trailing slash; usually empty
    bool tls = false;       // https: verified against AWS_CA_BUNDLE, else the system's CA certificates

    /// `http[s]://host:port/prefix`, as given back in messages.
    std::string url() const;
    /// The Host header value.
    std::string host_header() const;
};
/// errc::validation with a message naming the problem; http and https.
[[nodiscard]] result<endpoint> parse_endpoint(std::string_view url);

/// One HTTP request, independent of the transport.
struct http_request {
    std::string method;  // "GET", "POST", "PUT", "DELETE"
    std::string target;  // path and query, percent-encoded, without the endpoint's base path
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    /// The value of header `name` (case-insensitive), empty when absent.
    std::string header(std::string_view name) const;
};

struct http_response {
    unsigned status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    std::string header(std::string_view name) const;
};

// ---------------------------------------------------------------------------------------------
// Command options (filled by the CLI11 parser in commands.cpp)

struct deploy_options {
    std::string dir;
    std::string name;
    std::string runtime;
    std::string handler;
    std::string role{default_role};
    std::vector<std::string> env;  // K=V, repeatable
    std::optional<int> memory_mb;
    std::optional<int> timeout_s;
    std::vector<std::string> layers;  // layer version ARNs, in order (repeatable; replaces the function's layers)
};

struct publish_layer_options {
    std::string dir;
    std::string name;
    std::string description;
    std::vector<std::string> compatible_runtimes;
    std::vector<std::string> compatible_architectures;
    std::optional<std::string> license_info;
};

struct invoke_options {
    std::string name;
    std::optional<std::string> payload;  // JSON text, @file or @- (stdin)
    std::optional<std::string> qualifier;
    bool async = false;
    bool log = false;
};

struct logs_options {
    std::string name;
    bool follow = false;
    std::string since = "10m";  // a duration, or "all"
    std::optional<std::string> filter;
};

struct ls_options {
    bool json = false;
    bool quiet = false;
};

struct rm_options {
    std::vector<std::string> names;
};

// ---------------------------------------------------------------------------------------------
// Argument decoding

/// `K=V` pairs (the value may contain `=`; the key may not be empty). errc::validation naming the bad item.
[[nodiscard]] result<std::map<std::string, std::string>> parse_env(const std::vector<std::string>& items);

/// `90s`, `5m`, `2h`, `1d`, `1w` and sums like `1h30m`; a bare number is seconds.
[[nodiscard]] result<std::chrono::milliseconds> parse_duration(std::string_view text);

/// The start of a `logs --since` window: now - duration, or nullopt for `all`.
[[nodiscard]] result<std::optional<std::int64_t>> since_epoch_ms(std::string_view since, std::int64_t now_ms);

// ---------------------------------------------------------------------------------------------
// Requests (Lambda REST API 2015-03-31, CloudWatch Logs AWS JSON 1.1)

http_request get_function_request(std::string_view name);
/// CreateFunction with the ZIP inline; `env` comes from parse_env().
http_request create_function_request(const deploy_options& o, const std::map<std::string, std::string>& env,
                                     std::string_view zip_bytes);
http_request update_code_request(std::string_view name, std::string_view zip_bytes);
/// UpdateFunctionConfiguration: Runtime, Handler and Role always; MemorySize, Timeout and Environment only
/// when given (an update leaves what was not asked for as it is).
http_request update_configuration_request(const deploy_options& o, const std::map<std::string, std::string>& env);
http_request invoke_request(const invoke_options& o, std::string payload);
/// PublishLayerVersion (`POST /2018-10-31/layers/NAME/versions`) with the ZIP inline as Content.ZipFile.
http_request publish_layer_request(const publish_layer_options& o, std::string_view zip_bytes);
http_request list_functions_request(const std::optional<std::string>& marker);
http_request delete_function_request(std::string_view name);

struct filter_query {
    std::string function;
    std::optional<std::int64_t> start_ms;
    std::optional<std::string> pattern;
    std::optional<std::string> next_token;
};
/// FilterLogEvents on `/aws/lambda/<function>` (`POST /`, X-Amz-Target: Logs_20140328.FilterLogEvents).
http_request filter_log_events_request(const filter_query& q);

// ---------------------------------------------------------------------------------------------
// Responses

struct api_error {
    std::string type;
    std::string message;
};
/// The AWS error of a response (rest-json `x-amzn-ErrorType` + `message`/`Message`, or JSON 1.1 `__type`),
/// or nullopt for a 2xx response.
std::optional<api_error> decode_api_error(const http_response& r);

/// A function error body (`errorType`, `errorMessage`, `stackTrace`/`trace`) as readable lines.
std::string describe_function_error(std::string_view function_error_header, std::string_view body);

/// GetFunction's Configuration: is the function ready to be invoked and updated?
enum class readiness { ready, pending, failed };
struct function_state {
    readiness state = readiness::pending;
    std::string reason;  // StateReason / LastUpdateStatusReason when failed
};
function_state read_function_state(const nlohmann::json& get_function_body);

/// A FilterLogEvents response page.
struct log_event {
    std::int64_t timestamp = 0;
    std::string event_id;
    std::string message;
};
struct filter_page {
    std::vector<log_event> events;
    std::optional<std::string> next_token;
};
/// errc::invalid_request_content when the body is not a FilterLogEvents response.
[[nodiscard]] result<filter_page> decode_filter_page(std::string_view body);

/// A ListFunctions response page; `functions` are the FunctionConfiguration objects as sent.
struct function_page {
    std::vector<nlohmann::json> functions;
    std::optional<std::string> next_marker;
};
/// errc::invalid_request_content when the body is not a ListFunctions response.
[[nodiscard]] result<function_page> decode_function_page(std::string_view body);

/// The members of a FunctionConfiguration the commands print (empty/0 when absent).
struct function_summary {
    std::string name;
    std::string runtime;
    std::string handler;
    int memory_mb = 0;
    int timeout_s = 0;
    std::string last_modified;
    std::string code_sha256;
};
function_summary summarize_function(const nlohmann::json& configuration);

/// One log event line as `lambent logs` prints it: `<ISO-8601 UTC time> <message>`.
std::string format_log_event(std::int64_t timestamp_ms, std::string_view message);

/// `12.3 MB`, `512 KB`, `17 B`.
std::string human_bytes(std::uint64_t n);

}  // namespace lambent::cli
