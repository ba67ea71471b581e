#pragma once
/// The function record (one per function; `$LATEST` for now) and its wire and storage codecs.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lambent::model {

/// Server-wide identity used to build ARNs.
struct account_context {
    std::string region = "us-east-1";
    std::string account = "000000000000";
    std::string partition = "aws";

    std::string function_arn(const std::string& name) const;
    std::string function_arn(const std::string& name, const std::string& qualifier) const;
};

struct logging_config {
    std::string log_format = "Text";
    std::optional<std::string> application_log_level;
    std::optional<std::string> system_log_level;
    std::string log_group;  // empty: /aws/lambda/NAME
};

/// A layer version a function (or version) was configured with, captured when it was set: the function keeps
/// the layer's content even if the layer version is deleted later (as on AWS).
struct function_layer {
    std::string arn;             // the layer version ARN
    std::int64_t code_size = 0;  // the layer ZIP's size
    std::string sha256_hex;      // content address of the layer ZIP
    std::uint64_t unzipped_bytes = 0;

    bool operator==(const function_layer&) const = default;
};

struct function_record {
    std::string name;
    std::string runtime;
    std::string role;
    std::string handler;
    std::string description;
    int timeout_s = 3;
    int memory_mb = 128;
    int ephemeral_storage_mb = 512;
    std::optional<std::map<std::string, std::string>> environment;
    std::string architecture = "x86_64";
    std::string tracing_mode = "PassThrough";
    logging_config logging;
    std::string package_type = "Zip";

    std::string code_sha256_hex;  // content address of the blob
    std::int64_t code_size = 0;
    std::int64_t last_modified_ms = 0;
    std::string revision_id;
    std::string version = "$LATEST";
    std::map<std::string, std::string> tags;
    std::vector<function_layer> layers;  // in order: later layers overwrite earlier files under /opt
    /// Members Lambent stores and echoes but does not act on (VpcConfig, DeadLetterConfig, KMSKeyArn,
    /// FileSystemConfigs, ImageConfig, SnapStart) as their wire JSON.
    nlohmann::json echoed = nlohmann::json::object();

    std::vector<std::string> layer_shas() const {
        std::vector<std::string> out;
        for (const auto& l : layers) out.push_back(l.sha256_hex);
        return out;
    }
    std::string log_group() const { return logging.log_group.empty() ? "/aws/lambda/" + name : logging.log_group; }
};

/// Which response a FunctionConfiguration is written for: the fields AWS includes differ.
enum class fc_view { create, get, list, update };

/// FunctionConfiguration as AWS returns it (§1.2 of the contract).
nlohmann::json to_wire(const function_record& f, const account_context& acct, fc_view view);

/// Lossless storage form (what the store persists) and back.
nlohmann::json to_storage(const function_record& f);
function_record from_storage(const nlohmann::json& j);

/// base64(SHA-256) as AWS shows CodeSha256, from the hex content address.
std::string code_sha256_b64(const std::string& hex);

}  // namespace lambent::model
