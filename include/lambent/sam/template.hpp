#pragma once
/// AWS SAM / CloudFormation templates (YAML or JSON, short intrinsic tags included) read into the functions,
/// layers and event sources Lambent deploys. Intrinsic functions are resolved where the answer is known
/// locally (Parameters, pseudo parameters, Conditions, Mappings, references to functions and buckets);
/// everything else is kept as text and named in a warning.

#include "lambent/common/error.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lambent::sam {

struct load_options {
    std::map<std::string, std::string> parameter_overrides;  // --parameter-overrides K=V
    std::string region = "us-east-1";
    std::string account_id = "000000000000";
    std::string stack_name = "lambent";
    std::string partition = "aws";
};

/// Where a function's code comes from.
struct code_source {
    enum class kind { folder, zip, inline_code };
    kind type = kind::folder;
    std::filesystem::path path;  // folder or ZIP file (absolute)
    std::string text;            // inline code
};

/// One entry of a function's `Events`.
struct event_source {
    std::string name;  // the event's key in `Events`
    std::string type;  // Schedule, ScheduleV2, Api, HttpApi, S3, ...
    // Schedule / ScheduleV2
    std::string schedule;                 // rate(...) or cron(...)
    std::optional<std::string> input;     // Input: the JSON text sent instead of the scheduled event
    bool enabled = true;
    std::string rule_name;                // Name / rule name in the event's `resources`
    // Api / HttpApi
    std::string method;                   // upper case; "ANY" for any
    std::string path;                     // e.g. /items/{id}; HttpApi without Path: "$default"
    std::string api_id;                   // RestApiId / ApiId: the logical id of an AWS::Serverless::(Http)Api
    std::string stage;                    // that API's StageName (empty: Prod for Api, $default for HttpApi)
    // S3
    std::string bucket;
    std::vector<std::string> s3_events;   // e.g. s3:ObjectCreated:*
    std::string prefix, suffix;           // Filter.S3Key.Rules
};

struct function_spec {
    std::string logical_id;
    std::string name;  // FunctionName, or the logical id
    bool serverless = true;  // AWS::Serverless::Function (false: AWS::Lambda::Function)
    code_source code;
    std::string handler, runtime, description, role;
    int memory_mb = 128;
    int timeout_s = 3;
    std::optional<int> ephemeral_storage_mb;
    std::map<std::string, std::string> environment;
    std::vector<std::string> architectures;
    std::optional<std::string> auto_publish_alias;
    std::optional<int> reserved_concurrency;
    std::optional<int> provisioned_concurrency;     // ProvisionedConcurrencyConfig (needs AutoPublishAlias)
    std::optional<nlohmann::json> url_config;       // FunctionUrlConfig: AuthType, Cors, InvokeMode
    std::optional<nlohmann::json> event_invoke_config;  // MaximumRetryAttempts, MaximumEventAgeInSeconds, DestinationConfig
    std::vector<std::string> layer_arns;            // Layers given as ARNs
    std::vector<std::string> layer_refs;            // Layers that are LayerVersion resources of this template
    std::vector<event_source> events;
};

struct layer_spec {
    std::string logical_id;
    std::string name;                          // LayerName, or the logical id
    std::filesystem::path content;             // ContentUri folder or ZIP (absolute)
    std::vector<std::string> compatible_runtimes;
    std::string description;
};

struct template_model {
    std::filesystem::path file;
    std::filesystem::path base_dir;            // relative CodeUri/ContentUri resolve against this
    std::vector<function_spec> functions;
    std::vector<layer_spec> layers;
    std::vector<std::string> unknown;          // "LogicalId (Type)" of resources that are not deployed
    std::vector<std::string> warnings;         // what could not be resolved or is not supported
    std::map<std::string, std::string> buckets;  // AWS::S3::Bucket logical id -> bucket name
};

/// YAML (or JSON) text as JSON, short tags turned into their long forms (`!Ref X` → {"Ref": "X"},
/// `!GetAtt A.B` → {"Fn::GetAtt": ["A", "B"]}, `!Sub s` → {"Fn::Sub": "s"}, ...). Plain scalars that read
/// as integers, decimals, booleans or null become those; quoted scalars stay strings.
[[nodiscard]] result<nlohmann::json> yaml_to_json(std::string_view text);

/// Reads and resolves a template document. errc::validation names what is wrong (file, resource, property).
[[nodiscard]] result<template_model> parse(std::string_view text, const std::filesystem::path& base_dir,
                                           const load_options& options);
[[nodiscard]] result<template_model> load(const std::filesystem::path& file, const load_options& options);

/// `K=V` items of --parameter-overrides (also `ParameterKey=K,ParameterValue=V`, as the AWS CLI writes them).
[[nodiscard]] result<std::map<std::string, std::string>> parse_overrides(const std::vector<std::string>& items);

}  // namespace lambent::sam
