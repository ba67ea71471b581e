// The layer hook of template deployment. Layers are published by the Layers API (PublishLayerVersion),
// which this server does not have yet: template layers are parsed (AWS::Serverless::LayerVersion,
// AWS::Lambda::LayerVersion, `Layers` of functions) but not deployed, and functions are deployed without them.

#include "stack_impl.hpp"

#include <spdlog/spdlog.h>

namespace lambent::sam {

// HOOK (layers): true once CreateFunction/UpdateFunctionConfiguration accept `Layers`.
const bool layers_api_available = false;

// HOOK (layers): publish `layer.content` (a folder: zip it with cli::zip_folder; or a ZIP file) through
// `call(bhttp::verb::post, "/2018-10-31/layers/" + layer.name + "/versions", body)` with
// {"Content": {"ZipFile": base64}, "CompatibleRuntimes": ..., "Description": ...}, skip the publish when
// the newest version's CodeSha256 already matches, and return its LayerVersionArn.
asio::awaitable<std::optional<std::string>> stack_impl::deploy_layer(const layer_spec& layer) {
    spdlog::warn("template: layer {} ({}): layers: not deployed yet", layer.logical_id, layer.content.string());
    co_return std::nullopt;
}

}  // namespace lambent::sam
