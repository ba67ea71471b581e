#pragma once
/// Lambda layers: the layer version record, its wire forms (PublishLayerVersion/GetLayerVersion response,
/// list items), request validation with AWS's messages, and layer version ARNs.

#include "lambent/common/error.hpp"
#include "lambent/model/function.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lambent::model {

/// One published layer version. Immutable once stored.
struct layer_version_record {
    std::string name;
    int version = 0;
    std::string description;
    std::optional<std::string> license_info;
    std::optional<std::vector<std::string>> compatible_runtimes;
    std::optional<std::vector<std::string>> compatible_architectures;
    std::string code_sha256_hex;
    std::int64_t code_size = 0;
    std::uint64_t unzipped_bytes = 0;
    std::int64_t created_ms = 0;
};

std::string layer_arn(const account_context& acct, const std::string& name);
std::string layer_version_arn(const account_context& acct, const std::string& name, int version);

/// GetLayerVersion / PublishLayerVersion response; `host` builds Content.Location.
nlohmann::json to_wire(const layer_version_record& l, const account_context& acct, const std::string& host);
/// LayerVersionsListItem (ListLayerVersions, LatestMatchingVersion of ListLayers).
nlohmann::json to_list_item(const layer_version_record& l, const account_context& acct);

nlohmann::json to_storage(const layer_version_record& l);
layer_version_record layer_from_storage(const nlohmann::json& j);

/// Does a layer version match ListLayers/ListLayerVersions' CompatibleRuntime/CompatibleArchitecture filters?
bool layer_matches(const layer_version_record& l, const std::optional<std::string>& runtime,
                   const std::optional<std::string>& architecture);

/// The parsed body of PublishLayerVersion (the record's code fields are filled in by the store).
struct publish_layer_request {
    layer_version_record record;
    std::string zip;
};

/// Validates the LayerName path parameter: a name or a layer ARN of this account and region. Returns the name.
result<std::string> parse_layer_name(std::string_view value, const account_context& acct);
/// Validates a VersionNumber path parameter.
result<int> parse_layer_version_number(std::string_view value);
result<publish_layer_request> decode_publish_layer(const nlohmann::json& body);

/// A layer version ARN split into its parts.
struct layer_version_ref {
    std::string region;
    std::string account;
    std::string name;
    int version = 0;
};
/// Parses a LayerVersionArn (`field` names the member in validation messages).
result<layer_version_ref> parse_layer_version_arn(std::string_view arn, std::string_view field);

/// The `Layers` member of CreateFunction/UpdateFunctionConfiguration: nullopt when absent, otherwise the
/// ARNs in order (shape, count and duplicate checks with AWS's messages; existence is the API's job).
result<std::optional<std::vector<std::string>>> decode_function_layers(const nlohmann::json& body);

constexpr std::size_t max_layers_per_function = 5;

}  // namespace lambent::model
