#pragma once
/// Parsing and validation of Lambda requests with AWS's error types and message wording (§2, §3.2).
/// Pure functions: no I/O, table-tested in tests/unit/model.

#include "lambent/common/error.hpp"
#include "lambent/model/function.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lambent::model {

/// Collects shape-constraint violations and renders AWS's
/// "N validation error(s) detected: Value '…' at '…' failed to satisfy constraint: …" message.
class violations {
public:
    /// `value` is rendered as given: pass it already quoted (quote()) or `null`.
    void add(std::string value, std::string field, std::string constraint);
    bool empty() const { return items_.empty(); }
    std::string message() const;
    error as_error(errc code = errc::validation) const { return make_error(code, message()); }

    static std::string quote(std::string_view v) { return "'" + std::string(v) + "'"; }

private:
    std::vector<std::string> items_;
};

/// A function named by a request: bare name plus the qualifier embedded in the name, if any.
struct function_ref {
    std::string name;
    std::optional<std::string> qualifier;
};

/// Which model shape names the function: `FunctionName` (≤140, Create/Update) or
/// `NamespacedFunctionName` (≤256, Get/Invoke/Delete…).
enum class name_shape { function_name, namespaced };

/// Accepts `name`, `name:qualifier`, `ACCOUNT:function:name[:q]`, `arn:aws:lambda:REGION:ACCOUNT:function:name[:q]`.
result<function_ref> parse_function_name(std::string_view value, name_shape shape, const account_context& acct);

/// Combines a qualifier embedded in the name with `?Qualifier=` (they must agree) and validates it.
result<std::optional<std::string>> merge_qualifier(const function_ref& ref, const std::optional<std::string>& query);

/// The parsed body of CreateFunction.
struct create_request {
    function_record record;  // code fields (sha, size) are filled in by the store
    std::string zip;         // decoded ZipFile bytes
    bool publish = false;
    std::optional<std::vector<std::string>> layer_arns;  // `Layers`, shape-checked; resolved by the API
};

/// Validates and decodes a CreateFunction body. `name` checks use the Create rules.
result<create_request> decode_create_function(const nlohmann::json& body, const account_context& acct);

/// The parsed body of UpdateFunctionConfiguration: only the members that were present.
struct configuration_update {
    nlohmann::json body;  // the validated request body, applied by apply_configuration()
    std::optional<std::string> revision_id;
    std::optional<std::vector<std::string>> layer_arns;  // `Layers` when present ([] removes them)
};
result<configuration_update> decode_update_configuration(const nlohmann::json& body);
/// Applies a validated update to a record (does not touch revision or timestamps).
void apply_configuration(function_record& f, const configuration_update& u);

struct code_update {
    std::string zip;
    std::optional<std::string> revision_id;
    bool publish = false;
    bool dry_run = false;
};
result<code_update> decode_update_code(const nlohmann::json& body);

/// Tags for TagResource (`Tags` map of strings).
result<std::map<std::string, std::string>> decode_tags(const nlohmann::json& body);

/// Invoke's request headers and payload, validated.
struct invoke_options {
    std::string invocation_type;  // RequestResponse, Event or DryRun
    std::string log_type;         // None or Tail
    std::string client_context;   // the decoded X-Amz-Client-Context JSON object, empty when absent
};
/// Checks X-Amz-Invocation-Type, X-Amz-Log-Type (empty = default) and X-Amz-Client-Context (base64 JSON object).
result<invoke_options> decode_invoke_options(std::string_view invocation_type, std::string_view log_type,
                                             std::string_view client_context);
/// Checks an Invoke payload (empty, or JSON); InvalidRequestContentException with the parser's detail.
result<void> check_invoke_payload(std::string_view payload);

/// Runtimes this server can run (python3.9…3.13, nodejs18.x…22.x, provided.al2/al2023).
bool is_supported_runtime(std::string_view runtime);
/// Any value of the model's Runtime enum (creatable or deprecated), e.g. for a layer's CompatibleRuntimes.
bool is_model_runtime(std::string_view runtime);

constexpr std::size_t max_zipped_bytes = 52428800;       // 50 MB
constexpr std::size_t max_unzipped_bytes = 262144000;    // 250 MB
constexpr std::size_t max_env_bytes = 4096;

}  // namespace lambent::model
