#include "lambent/model/function.hpp"

#include "lambent/common/codec.hpp"

namespace lambent::model {

using nlohmann::json;

std::string account_context::function_arn(const std::string& name) const {
    return "arn:" + partition + ":lambda:" + region + ":" + account + ":function:" + name;
}

std::string account_context::function_arn(const std::string& name, const std::string& qualifier) const {
    return function_arn(name) + ":" + qualifier;
}

std::string code_sha256_b64(const std::string& hex) {
    std::string raw;
    raw.reserve(hex.size() / 2);
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        raw.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    return codec::base64_encode(raw);
}

json to_wire(const function_record& f, const account_context& acct, fc_view view) {
    json j;
    j["FunctionName"] = f.name;
    j["FunctionArn"] = f.version == "$LATEST" ? acct.function_arn(f.name) : acct.function_arn(f.name, f.version);
    if (f.package_type == "Zip") {
        j["Runtime"] = f.runtime;
    }
    j["Role"] = f.role;
    if (f.package_type == "Zip") {
        j["Handler"] = f.handler;
    }
    j["CodeSize"] = f.code_size;
    j["Description"] = f.description;
    j["Timeout"] = f.timeout_s;
    j["MemorySize"] = f.memory_mb;
    j["LastModified"] = codec::lambda_timestamp(codec::sys_ms{std::chrono::milliseconds{f.last_modified_ms}});
    j["CodeSha256"] = code_sha256_b64(f.code_sha256_hex);
    j["Version"] = f.version;
    if (f.environment) {
        j["Environment"] = json{{"Variables", *f.environment}};
    }
    j["TracingConfig"] = json{{"Mode", f.tracing_mode}};
    if (!f.layers.empty()) {
        json layers = json::array();
        for (const auto& l : f.layers) layers.push_back(json{{"Arn", l.arn}, {"CodeSize", l.code_size}});
        j["Layers"] = layers;
    }
    j["RevisionId"] = f.revision_id;
    switch (view) {
    case fc_view::create:
        // AWS-recorded: State Pending right after Create, no LastUpdateStatus.
        j["State"] = "Pending";
        j["StateReason"] = "The function is being created.";
        j["StateReasonCode"] = "Creating";
        break;
    case fc_view::get:
        j["State"] = "Active";
        j["LastUpdateStatus"] = "Successful";
        break;
    case fc_view::update:
        // The update itself completes at once, but clients (and the SDK waiters) expect InProgress here.
        j["State"] = "Active";
        j["LastUpdateStatus"] = "InProgress";
        j["LastUpdateStatusReason"] = "The function is being created.";
        j["LastUpdateStatusReasonCode"] = "Creating";
        break;
    case fc_view::list:
        break;  // List items omit State and LastUpdateStatus (AWS-recorded).
    }
    j["PackageType"] = f.package_type;
    j["Architectures"] = json::array({f.architecture});
    j["EphemeralStorage"] = json{{"Size", f.ephemeral_storage_mb}};
    j["SnapStart"] = json{{"ApplyOn", "None"}, {"OptimizationStatus", "Off"}};
    json logging{{"LogFormat", f.logging.log_format}, {"LogGroup", f.log_group()}};
    if (f.logging.application_log_level) {
        logging["ApplicationLogLevel"] = *f.logging.application_log_level;
    }
    if (f.logging.system_log_level) {
        logging["SystemLogLevel"] = *f.logging.system_log_level;
    }
    j["LoggingConfig"] = logging;
    for (const auto& [key, value] : f.echoed.items()) {
        j[key] = value;
    }
    return j;
}

json to_storage(const function_record& f) {
    json j{
        {"name", f.name},
        {"runtime", f.runtime},
        {"role", f.role},
        {"handler", f.handler},
        {"description", f.description},
        {"timeout_s", f.timeout_s},
        {"memory_mb", f.memory_mb},
        {"ephemeral_storage_mb", f.ephemeral_storage_mb},
        {"architecture", f.architecture},
        {"tracing_mode", f.tracing_mode},
        {"log_format", f.logging.log_format},
        {"log_group", f.logging.log_group},
        {"package_type", f.package_type},
        {"code_sha256_hex", f.code_sha256_hex},
        {"code_size", f.code_size},
        {"last_modified_ms", f.last_modified_ms},
        {"revision_id", f.revision_id},
        {"version", f.version},
        {"tags", f.tags},
        {"echoed", f.echoed},
    };
    if (f.environment) {
        j["environment"] = *f.environment;
    }
    if (!f.layers.empty()) {
        json layers = json::array();
        for (const auto& l : f.layers) {
            layers.push_back(json{{"arn", l.arn}, {"code_size", l.code_size}, {"sha256_hex", l.sha256_hex},
                                  {"unzipped_bytes", l.unzipped_bytes}});
        }
        j["layers"] = layers;
    }
    if (f.logging.application_log_level) {
        j["application_log_level"] = *f.logging.application_log_level;
    }
    if (f.logging.system_log_level) {
        j["system_log_level"] = *f.logging.system_log_level;
    }
    return j;
}

function_record from_storage(const json& j) {
    function_record f;
    f.name = j.at("name").get<std::string>();
    f.runtime = j.value("runtime", "");
    f.role = j.value("role", "");
    f.handler = j.value("handler", "");
    f.description = j.value("description", "");
    f.timeout_s = j.value("timeout_s", 3);
    f.memory_mb = j.value("memory_mb", 128);
    f.ephemeral_storage_mb = j.value("ephemeral_storage_mb", 512);
    if (j.contains("environment")) {
        f.environment = j.at("environment").get<std::map<std::string, std::string>>();
    }
    f.architecture = j.value("architecture", "x86_64");
    f.tracing_mode = j.value("tracing_mode", "PassThrough");
    f.logging.log_format = j.value("log_format", "Text");
    f.logging.log_group = j.value("log_group", "");
    if (j.contains("application_log_level")) {
        f.logging.application_log_level = j.at("application_log_level").get<std::string>();
    }
    if (j.contains("system_log_level")) {
        f.logging.system_log_level = j.at("system_log_level").get<std::string>();
    }
    f.package_type = j.value("package_type", "Zip");
    f.code_sha256_hex = j.at("code_sha256_hex").get<std::string>();
    f.code_size = j.value("code_size", std::int64_t{0});
    f.last_modified_ms = j.value("last_modified_ms", std::int64_t{0});
    f.revision_id = j.value("revision_id", "");
    f.version = j.value("version", "$LATEST");
    f.tags = j.value("tags", std::map<std::string, std::string>{});
    f.echoed = j.value("echoed", json::object());
    if (auto it = j.find("layers"); it != j.end() && it->is_array()) {
        for (const auto& l : *it) {
            f.layers.push_back({l.value("arn", ""), l.value("code_size", std::int64_t{0}), l.value("sha256_hex", ""),
                                l.value("unzipped_bytes", std::uint64_t{0})});
        }
    }
    return f;
}

}  // namespace lambent::model
