#include "lambent/model/layer.hpp"

#include "lambent/common/codec.hpp"
#include "lambent/model/validation.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <regex>
#include <set>

namespace lambent::model {

using nlohmann::json;

namespace {

// Patterns exactly as the model states them: they appear verbatim in messages.
constexpr const char* layer_name_pattern = R"((arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+)";
constexpr const char* layer_version_arn_pattern = R"(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)";
// What CreateFunction's `Layers` member reports (it also admits AWS-managed layers).
constexpr const char* function_layers_constraint =
    R"(Member must satisfy constraint: [Member must have length less than or equal to 140, Member must have length )"
    R"(greater than or equal to 1, Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+), Member must not be null])";

bool matches(std::string_view value, const char* pattern) {
    thread_local std::map<const char*, std::regex> cache;
    auto it = cache.find(pattern);
    if (it == cache.end()) it = cache.emplace(pattern, std::regex(pattern, std::regex::ECMAScript)).first;
    return std::regex_match(value.begin(), value.end(), it->second);
}

std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        const auto pos = s.find(sep, start);
        out.emplace_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
        if (pos == std::string_view::npos) break;
        start = pos + 1;
    }
    return out;
}

std::string list_text(const json& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += ", ";
        out += items[i].is_string() ? items[i].get<std::string>() : items[i].dump();
    }
    return out + "]";
}

error bad_type(std::string_view member, std::string_view expected) {
    return make_error(errc::invalid_request_content,
                      fmt::format("Could not parse request body into json: Could not deserialize value of member '{}': "
                                  "expected {}",
                                  member, expected));
}

}  // namespace

std::string layer_arn(const account_context& acct, const std::string& name) {
    return "arn:" + acct.partition + ":lambda:" + acct.region + ":" + acct.account + ":layer:" + name;
}

std::string layer_version_arn(const account_context& acct, const std::string& name, int version) {
    return layer_arn(acct, name) + ":" + std::to_string(version);
}

json to_list_item(const layer_version_record& l, const account_context& acct) {
    json j{{"LayerVersionArn", layer_version_arn(acct, l.name, l.version)},
           {"Version", l.version},
           {"Description", l.description},
           {"CreatedDate", codec::lambda_timestamp(codec::sys_ms{std::chrono::milliseconds{l.created_ms}})}};
    if (l.compatible_runtimes) j["CompatibleRuntimes"] = *l.compatible_runtimes;
    if (l.license_info) j["LicenseInfo"] = *l.license_info;
    if (l.compatible_architectures) j["CompatibleArchitectures"] = *l.compatible_architectures;
    return j;
}

json to_wire(const layer_version_record& l, const account_context& acct, const std::string& host) {
    json j{{"Content",
            {{"Location", fmt::format("http://{}/_lambent/layers/{}/{}.zip", host, l.name, l.code_sha256_hex)},
             {"CodeSha256", code_sha256_b64(l.code_sha256_hex)},
             {"CodeSize", l.code_size}}},
           {"LayerArn", layer_arn(acct, l.name)}};
    const json item = to_list_item(l, acct);
    j.update(item);
    return j;
}

json to_storage(const layer_version_record& l) {
    json j{{"name", l.name},
           {"version", l.version},
           {"description", l.description},
           {"code_sha256_hex", l.code_sha256_hex},
           {"code_size", l.code_size},
           {"unzipped_bytes", l.unzipped_bytes},
           {"created_ms", l.created_ms}};
    if (l.license_info) j["license_info"] = *l.license_info;
    if (l.compatible_runtimes) j["compatible_runtimes"] = *l.compatible_runtimes;
    if (l.compatible_architectures) j["compatible_architectures"] = *l.compatible_architectures;
    return j;
}

layer_version_record layer_from_storage(const json& j) {
    layer_version_record l;
    l.name = j.at("name").get<std::string>();
    l.version = j.at("version").get<int>();
    l.description = j.value("description", "");
    l.code_sha256_hex = j.at("code_sha256_hex").get<std::string>();
    l.code_size = j.value("code_size", std::int64_t{0});
    l.unzipped_bytes = j.value("unzipped_bytes", std::uint64_t{0});
    l.created_ms = j.value("created_ms", std::int64_t{0});
    if (j.contains("license_info")) l.license_info = j.at("license_info").get<std::string>();
    if (j.contains("compatible_runtimes")) l.compatible_runtimes = j.at("compatible_runtimes").get<std::vector<std::string>>();
    if (j.contains("compatible_architectures")) {
        l.compatible_architectures = j.at("compatible_architectures").get<std::vector<std::string>>();
    }
    return l;
}

bool layer_matches(const layer_version_record& l, const std::optional<std::string>& runtime,
                   const std::optional<std::string>& architecture) {
    auto has = [](const std::optional<std::vector<std::string>>& list, const std::string& v) {
        return list && std::find(list->begin(), list->end(), v) != list->end();
    };
    if (runtime && !has(l.compatible_runtimes, *runtime)) return false;
    if (architecture && !has(l.compatible_architectures, *architecture)) return false;
    return true;
}

result<std::string> parse_layer_name(std::string_view value, const account_context& acct) {
    violations v;
    if (value.empty()) {
        v.add(violations::quote(value), "layerName", "Member must have length greater than or equal to 1");
    } else if (value.size() > 140) {
        v.add(violations::quote(value), "layerName", "Member must have length less than or equal to 140");
    } else if (!matches(value, layer_name_pattern)) {
        v.add(violations::quote(value), "layerName",
              fmt::format("Member must satisfy regular expression pattern: {}", layer_name_pattern));
    }
    if (!v.empty()) return v.as_error();
    if (value.rfind("arn:", 0) != 0) return std::string(value);
    const auto parts = split(value, ':');  // arn:PARTITION:lambda:REGION:ACCOUNT:layer:NAME
    if (parts[3] != acct.region || parts[4] != acct.account) {
        return make_error(errc::resource_not_found,
                          fmt::format("Layer {} is not in this server's account ({}) and region ({}).", value,
                                      acct.account, acct.region));
    }
    return parts[6];
}

result<int> parse_layer_version_number(std::string_view value) {
    const bool digits = !value.empty() && value.size() <= 9 &&
                        std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits) {
        return make_error(errc::invalid_parameter_value,
                          fmt::format("Invalid layer version number: {}. It must be a positive integer.", value));
    }
    return std::stoi(std::string(value));
}

result<layer_version_ref> parse_layer_version_arn(std::string_view arn, std::string_view field) {
    if (arn.empty() || arn.size() > 140 || !matches(arn, layer_version_arn_pattern)) {
        violations v;
        v.add(violations::quote(arn), std::string(field),
              arn.size() > 140 ? std::string("Member must have length less than or equal to 140")
                               : fmt::format("Member must satisfy regular expression pattern: {}", layer_version_arn_pattern));
        return v.as_error();
    }
    const auto parts = split(arn, ':');  // arn:PARTITION:lambda:REGION:ACCOUNT:layer:NAME:VERSION
    layer_version_ref ref;
    ref.region = parts[3];
    ref.account = parts[4];
    ref.name = parts[6];
    if (parts[7].size() > 9) {
        return make_error(errc::invalid_parameter_value, fmt::format("Invalid layer version number in {}", arn));
    }
    ref.version = std::stoi(parts[7]);
    return ref;
}

result<publish_layer_request> decode_publish_layer(const json& body) {
    if (!body.is_object()) {
        return make_error(errc::invalid_request_content, "Could not parse request body into json: expected an object");
    }
    violations v;
    auto content = body.find("Content");
    if (content == body.end() || content->is_null()) {
        v.add("null", "content", "Member must not be null");
    } else if (!content->is_object()) {
        return bad_type("Content", "an object");
    }
    publish_layer_request req;
    if (auto it = body.find("Description"); it != body.end() && !it->is_null()) {
        if (!it->is_string()) return bad_type("Description", "a string");
        req.record.description = it->get<std::string>();
        if (req.record.description.size() > 256) {
            v.add(violations::quote(req.record.description), "description", "Member must have length less than or equal to 256");
        }
    }
    if (auto it = body.find("LicenseInfo"); it != body.end() && !it->is_null()) {
        if (!it->is_string()) return bad_type("LicenseInfo", "a string");
        req.record.license_info = it->get<std::string>();
        if (req.record.license_info->size() > 512) {
            v.add(violations::quote(*req.record.license_info), "licenseInfo", "Member must have length less than or equal to 512");
        }
    }
    if (auto it = body.find("CompatibleRuntimes"); it != body.end() && !it->is_null()) {
        if (!it->is_array()) return bad_type("CompatibleRuntimes", "a list");
        std::vector<std::string> runtimes;
        bool valid = true;
        for (const auto& r : *it) {
            if (!r.is_string() || !is_model_runtime(r.get<std::string>())) valid = false;
            else runtimes.push_back(r.get<std::string>());
        }
        if (it->size() > 15) {
            v.add(violations::quote(list_text(*it)), "compatibleRuntimes", "Member must have length less than or equal to 15");
        } else if (!valid) {
            v.add(violations::quote(list_text(*it)), "compatibleRuntimes",
                  "Member must satisfy constraint: [Member must satisfy enum value set: [nodejs24.x, nodejs22.x, "
                  "nodejs20.x, nodejs18.x, python3.14, python3.13, python3.12, python3.11, python3.10, python3.9, "
                  "java25, java21, java17, java11, java8.al2, dotnet10, dotnet8, ruby3.4, ruby3.3, ruby3.2, "
                  "provided.al2023, provided.al2], Member must not be null]");
        }
        req.record.compatible_runtimes = std::move(runtimes);
    }
    if (auto it = body.find("CompatibleArchitectures"); it != body.end() && !it->is_null()) {
        if (!it->is_array()) return bad_type("CompatibleArchitectures", "a list");
        std::vector<std::string> archs;
        bool valid = true;
        for (const auto& a : *it) {
            if (!a.is_string() || (a != "x86_64" && a != "arm64")) valid = false;
            else archs.push_back(a.get<std::string>());
        }
        if (it->size() > 2) {
            v.add(violations::quote(list_text(*it)), "compatibleArchitectures", "Member must have length less than or equal to 2");
        } else if (!valid) {
            v.add(violations::quote(list_text(*it)), "compatibleArchitectures",
                  "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must "
                  "not be null]");
        }
        req.record.compatible_architectures = std::move(archs);
    }
    if (!v.empty()) return v.as_error();
    for (const char* member : {"S3Bucket", "S3Key", "S3ObjectVersion"}) {
        if (content->contains(member)) {
            return make_error(errc::invalid_parameter_value,
                              "Layer content from S3 (Content.S3Bucket/S3Key) is not supported by this Lambent server; "
                              "send the ZIP inline as Content.ZipFile.");
        }
    }
    auto zip = content->find("ZipFile");
    if (zip == content->end() || zip->is_null()) {
        return make_error(errc::invalid_parameter_value, "Please provide a source for the layer content: Content.ZipFile.");
    }
    if (!zip->is_string()) return bad_type("Content.ZipFile", "base64 text");
    auto bytes = codec::base64_decode(zip->get<std::string>());
    if (!bytes) {
        return make_error(errc::invalid_parameter_value,
                          "Could not unzip uploaded file. Please check your file, then try to upload again.");
    }
    if (bytes->size() > max_zipped_bytes) {
        return make_error(errc::request_too_large, "Zipped size must be smaller than 52428800 bytes");
    }
    req.zip = std::move(*bytes);
    return req;
}

result<std::optional<std::vector<std::string>>> decode_function_layers(const json& body) {
    auto it = body.find("Layers");
    if (it == body.end() || it->is_null()) return std::optional<std::vector<std::string>>{};
    if (!it->is_array()) return bad_type("Layers", "a list");
    std::vector<std::string> arns;
    for (const auto& item : *it) {
        if (!item.is_string()) return bad_type("Layers", "a list of strings");
        const std::string arn = item.get<std::string>();
        if (arn.empty() || arn.size() > 140 || !matches(arn, layer_version_arn_pattern)) {
            violations v;
            v.add(violations::quote("[" + arn + "]"), "layers", function_layers_constraint);
            return v.as_error();
        }
        arns.push_back(arn);
    }
    if (arns.size() > max_layers_per_function) {
        return make_error(errc::invalid_parameter_value, "Cannot reference more than 5 layers.");
    }
    std::map<std::string, std::string> seen;  // layer ARN -> the version ARN that named it first
    for (const auto& arn : arns) {
        const std::string layer = arn.substr(0, arn.rfind(':'));
        if (auto s = seen.find(layer); s != seen.end()) {
            return make_error(errc::invalid_parameter_value,
                              fmt::format("Two different versions of the same layer are not allowed to be referenced in "
                                          "the same function. {} and {} are versions of the same layer.",
                                          s->second, arn));
        }
        seen.emplace(layer, arn);
    }
    return std::optional<std::vector<std::string>>{std::move(arns)};
}

}  // namespace lambent::model
