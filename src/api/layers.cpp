// Lambda layers: PublishLayerVersion, GetLayerVersion(ByArn), ListLayers, ListLayerVersions,
// DeleteLayerVersion, the layer ZIP download, and resolving a function's `Layers`.

#include "lambent/api/errors.hpp"
#include "lambent/api/lambda_api.hpp"
#include "lambent/common/blocking.hpp"
#include "lambent/common/codec.hpp"
#include "lambent/model/validation.hpp"
#include "lambent/store/store.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

namespace lambent::api {

using nlohmann::json;
using status = http::bhttp::status;
namespace asio = http::asio;
namespace bhttp = http::bhttp;

namespace {

constexpr std::uint64_t max_unzipped_total = 262144000;  // function + layers (contract §2.3)

error layer_not_found(const model::account_context& acct, const std::string& name, int version) {
    return make_error(errc::resource_not_found,
                      fmt::format("Layer version {} does not exist.", model::layer_version_arn(acct, name, version)));
}

std::string request_host(const http::request& req) {
    std::string host(req[bhttp::field::host]);
    return host.empty() ? "127.0.0.1" : host;
}

/// The CompatibleRuntime / CompatibleArchitecture filters of the list operations, validated.
struct list_filters {
    std::optional<std::string> runtime;
    std::optional<std::string> architecture;
    std::size_t max_items = 50;
    std::optional<std::string> marker;
};

result<list_filters> decode_filters(const http::target& t) {
    list_filters f;
    model::violations v;
    f.runtime = t.param("CompatibleRuntime");
    if (f.runtime && !model::is_model_runtime(*f.runtime)) {
        v.add(model::violations::quote(*f.runtime), "compatibleRuntime",
              "Member must satisfy enum value set: [nodejs24.x, nodejs22.x, nodejs20.x, nodejs18.x, python3.14, "
              "python3.13, python3.12, python3.11, python3.10, python3.9, java25, java21, java17, java11, java8.al2, "
              "dotnet10, dotnet8, ruby3.4, ruby3.3, ruby3.2, provided.al2023, provided.al2]");
    }
    f.architecture = t.param("CompatibleArchitecture");
    if (f.architecture && *f.architecture != "x86_64" && *f.architecture != "arm64") {
        v.add(model::violations::quote(*f.architecture), "compatibleArchitecture",
              "Member must satisfy enum value set: [x86_64, arm64]");
    }
    if (auto m = t.param("MaxItems")) {
        long long n = 0;
        try {
            n = std::stoll(*m);
        } catch (const std::exception&) {
            return make_error(errc::invalid_parameter_value, "MaxItems must be a number");
        }
        if (n < 1) v.add(model::violations::quote(*m), "maxItems", "Member must have value greater than or equal to 1");
        else if (n > 50) v.add(model::violations::quote(*m), "maxItems", "Member must have value less than or equal to 50");
        else f.max_items = static_cast<std::size_t>(n);
    }
    if (!v.empty()) return v.as_error();
    if (auto marker = t.param("Marker"); marker && !marker->empty()) {
        auto decoded = codec::base64_decode(*marker);
        if (!decoded) return make_error(errc::invalid_parameter_value, "The Marker is not valid.");
        f.marker = *decoded;
    }
    return f;
}

}  // namespace

asio::awaitable<http::response> lambda_api::layer_operation(call c) {
    const auto& s = c.seg();
    const auto m = c.req.method();
    if (s.size() == 2) {
        if (auto find = c.target.param("find")) {
            if (*find != "LayerVersion") {
                co_return error_response(make_error(errc::unknown_operation, "No Lambda operation matches find=" + *find),
                                         c.request_id);
            }
            const auto arn = c.target.param("Arn");
            if (!arn) {
                model::violations v;
                v.add("null", "arn", "Member must not be null");
                co_return error_response(v.as_error(), c.request_id);
            }
            auto ref = model::parse_layer_version_arn(*arn, "arn");
            if (!ref) co_return error_response(ref.error(), c.request_id);
            if (ref->region != options_.account.region || ref->account != options_.account.account) {
                co_return error_response(make_error(errc::resource_not_found,
                                                    fmt::format("Layer version {} does not exist.", *arn)),
                                         c.request_id);
            }
            co_return get_layer_version(c, ref->name, ref->version);
        }
        co_return list_layers(c);
    }
    auto name = model::parse_layer_name(s[2], options_.account);
    if (!name) co_return error_response(name.error(), c.request_id);
    if (s.size() == 4) {
        if (m == bhttp::verb::post) co_return co_await publish_layer_version(std::move(c));
        co_return list_layer_versions(c);
    }
    auto version = model::parse_layer_version_number(s[4]);
    if (!version) co_return error_response(version.error(), c.request_id);
    if (m == bhttp::verb::get) co_return get_layer_version(c, *name, *version);
    // DeleteLayerVersion: a missing version is not an error; the number is never given out again.
    auto it = layers_.find(*name);
    if (it == layers_.end() || it->second.versions.count(*version) == 0) {
        co_return empty_response(status::no_content, c.request_id);
    }
    store::store* st = &store_;
    const std::string layer = *name;
    const int number = *version;
    auto drop = [st, layer, number]() { return st->delete_layer_version(layer, number); };
    auto removed = co_await run_blocking(pool_, std::move(drop));
    if (!removed) co_return error_response(removed.error(), c.request_id);
    if (auto again = layers_.find(layer); again != layers_.end()) again->second.versions.erase(number);
    spdlog::info("api: layer version deleted name={} version={}", layer, number);
    co_return empty_response(status::no_content, c.request_id);
}

asio::awaitable<http::response> lambda_api::publish_layer_version(call c) {
    auto name = model::parse_layer_name(c.seg()[2], options_.account);
    if (!name) co_return error_response(name.error(), c.request_id);
    json body = json::object();
    if (!c.req.body().empty()) {
        body = json::parse(c.req.body(), nullptr, false);
        if (body.is_discarded()) {
            co_return error_response(make_error(errc::invalid_request_content,
                                                "Could not parse request body into json: the body is not valid JSON"),
                                     c.request_id);
        }
    }
    auto parsed = model::decode_publish_layer(body);
    if (!parsed) co_return error_response(parsed.error(), c.request_id);
    // The same intake as function code: ZIP safety checks, content-addressed and durable before the answer.
    store::store* st = &store_;
    auto work = [st, zip = std::move(parsed->zip)]() { return st->put_code(zip); };
    auto blob = co_await run_blocking(pool_, std::move(work));
    if (!blob) co_return error_response(blob.error(), c.request_id);
    model::layer_version_record rec = std::move(parsed->record);
    rec.name = *name;
    rec.code_sha256_hex = blob->sha256_hex;
    rec.code_size = blob->size;
    rec.unzipped_bytes = blob->unzipped_bytes;
    rec.created_ms = codec::now_ms().time_since_epoch().count();
    rec.version = ++layers_[rec.name].last_version;  // reserved now: concurrent publishes get distinct numbers
    auto save = [st, rec]() { return st->insert_layer_version(rec); };
    auto saved = co_await run_blocking(pool_, std::move(save));
    if (!saved) co_return error_response(saved.error(), c.request_id);
    layers_[rec.name].versions[rec.version] = rec;
    spdlog::info("api: layer version published name={} version={} code_size={}", rec.name, rec.version, rec.code_size);
    co_return json_response(status::created, model::to_wire(rec, options_.account, request_host(c.req)), c.request_id);
}

http::response lambda_api::get_layer_version(const call& c, const std::string& name, int version) const {
    auto it = layers_.find(name);
    if (it == layers_.end()) return error_response(layer_not_found(options_.account, name, version), c.request_id);
    auto v = it->second.versions.find(version);
    if (v == it->second.versions.end()) {
        return error_response(layer_not_found(options_.account, name, version), c.request_id);
    }
    return json_response(status::ok, model::to_wire(v->second, options_.account, request_host(c.req)), c.request_id);
}

http::response lambda_api::list_layers(const call& c) const {
    auto filters = decode_filters(c.target);
    if (!filters) return error_response(filters.error(), c.request_id);
    json page = json::array();
    std::optional<std::string> next;
    for (auto it = filters->marker ? layers_.upper_bound(*filters->marker) : layers_.begin(); it != layers_.end(); ++it) {
        // LatestMatchingVersion: the newest version that passes the filters; layers without one are left out.
        const model::layer_version_record* latest = nullptr;
        for (auto v = it->second.versions.rbegin(); v != it->second.versions.rend() && latest == nullptr; ++v) {
            if (model::layer_matches(v->second, filters->runtime, filters->architecture)) latest = &v->second;
        }
        if (latest == nullptr) continue;
        if (page.size() == filters->max_items) {
            next = page.back()["LayerName"].get<std::string>();
            break;
        }
        page.push_back(json{{"LayerName", it->first},
                            {"LayerArn", model::layer_arn(options_.account, it->first)},
                            {"LatestMatchingVersion", model::to_list_item(*latest, options_.account)}});
    }
    json out{{"Layers", page}};
    if (next) out["NextMarker"] = codec::base64_encode(*next);
    return json_response(status::ok, out, c.request_id);
}

http::response lambda_api::list_layer_versions(const call& c) const {
    auto name = model::parse_layer_name(c.seg()[2], options_.account);
    if (!name) return error_response(name.error(), c.request_id);
    auto filters = decode_filters(c.target);
    if (!filters) return error_response(filters.error(), c.request_id);
    int below = std::numeric_limits<int>::max();  // newest first; the marker is the last version returned
    if (filters->marker) {
        try {
            below = std::stoi(*filters->marker);
        } catch (const std::exception&) {
            return error_response(make_error(errc::invalid_parameter_value, "The Marker is not valid."), c.request_id);
        }
    }
    json page = json::array();
    std::optional<int> next;
    if (auto it = layers_.find(*name); it != layers_.end()) {
        for (auto v = it->second.versions.rbegin(); v != it->second.versions.rend(); ++v) {
            if (v->first >= below || !model::layer_matches(v->second, filters->runtime, filters->architecture)) continue;
            if (page.size() == filters->max_items) {
                next = page.back()["Version"].get<int>();
                break;
            }
            page.push_back(model::to_list_item(v->second, options_.account));
        }
    }
    json out{{"LayerVersions", page}};
    if (next) out["NextMarker"] = codec::base64_encode(std::to_string(*next));
    return json_response(status::ok, out, c.request_id);
}

http::response lambda_api::download_layer(const call& c) const {
    // /_lambent/layers/NAME/SHA.zip: Content.Location of a layer version.
    const auto& s = c.seg();
    const model::layer_version_record* found = nullptr;
    if (auto it = layers_.find(s[2]); it != layers_.end()) {
        for (const auto& [n, v] : it->second.versions) {
            if (s[3] == v.code_sha256_hex + ".zip") found = &v;
        }
    }
    if (found == nullptr) {
        return error_response(make_error(errc::resource_not_found, "The requested layer archive does not exist."),
                              c.request_id);
    }
    std::ifstream in(store_.code_path(found->code_sha256_hex), std::ios::binary);
    if (!in) return error_response(make_error(errc::service, "The layer archive cannot be read."), c.request_id);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    auto res = http::make_response(status::ok, bytes.str(), "application/zip");
    res.set("x-amzn-RequestId", c.request_id);
    return res;
}

result<std::vector<model::function_layer>> lambda_api::resolve_layers(const std::vector<std::string>& arns) const {
    std::vector<model::function_layer> out;
    for (const auto& arn : arns) {
        auto ref = model::parse_layer_version_arn(arn, "layers");
        if (!ref) return ref.error();
        if (ref->region != options_.account.region) {
            return make_error(errc::invalid_parameter_value,
                              fmt::format("Layers are not in the same region as the function. Layers are expected to be "
                                          "in region {}.",
                                          options_.account.region));
        }
        const model::layer_version_record* found = nullptr;
        if (ref->account == options_.account.account) {
            if (auto it = layers_.find(ref->name); it != layers_.end()) {
                if (auto v = it->second.versions.find(ref->version); v != it->second.versions.end()) found = &v->second;
            }
        }
        if (found == nullptr) {
            return make_error(errc::invalid_parameter_value, fmt::format("Layer version {} does not exist.", arn));
        }
        out.push_back({arn, found->code_size, found->code_sha256_hex, found->unzipped_bytes});
    }
    return out;
}

result<void> lambda_api::prepare_layers(store::store* st, std::uint64_t code_unzipped_bytes,
                                        const std::vector<model::function_layer>& layers) {
    if (layers.empty()) return {};
    std::uint64_t total = code_unzipped_bytes;
    for (const auto& l : layers) total += l.unzipped_bytes;
    if (total > max_unzipped_total) {
        return make_error(errc::invalid_parameter_value, "Unzipped size must be smaller than 262144000 bytes");
    }
    std::vector<std::string> shas;
    for (const auto& l : layers) shas.push_back(l.sha256_hex);
    auto merged = st->ensure_opt(shas);
    if (!merged) return merged.error();
    return {};
}

}  // namespace lambent::api
