#include "lambent/model/validation.hpp"

#include "lambent/common/codec.hpp"
#include "lambent/model/layer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <regex>

namespace lambent::model {

using nlohmann::json;

void violations::add(std::string value, std::string field, std::string constraint) {
    // An empty value renders as "Value at …": AWS leaves out values it must not echo (environment maps).
    items_.push_back(value.empty()
                         ? fmt::format("Value at '{}' failed to satisfy constraint: {}", field, constraint)
                         : fmt::format("Value {} at '{}' failed to satisfy constraint: {}", value, field, constraint));
}

std::string violations::message() const {
    std::string out = items_.size() == 1 ? "1 validation error detected: "
                                         : fmt::format("{} validation errors detected: ", items_.size());
    for (std::size_t i = 0; i < items_.size(); ++i) {
        if (i > 0) {
            out += "; ";
        }
        out += items_[i];
    }
    return out;
}

namespace {

// Patterns exactly as the model states them: they appear verbatim in messages.
constexpr std::string_view function_name_pattern =
    R"((arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?)";
constexpr std::string_view namespaced_name_pattern =
    R"((arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?)";
constexpr std::string_view qualifier_pattern = R"((|[a-zA-Z0-9$_-]+))";
constexpr std::string_view role_pattern = R"(arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+)";
constexpr std::string_view handler_pattern = R"([^\s]+)";
constexpr std::string_view env_key_pattern = R"([a-zA-Z]([a-zA-Z0-9_])+)";
constexpr std::string_view log_group_pattern = R"([\.\-_/#A-Za-z0-9]+)";

// libstdc++'s std::regex matches recursively, one stack frame per input character or so: a value of some
// tens of thousands of characters overflows the stack. Longer values than any of these patterns is applied
// to in practice (IAM ARNs end at 2048, environment variables at 4 KB in all) fail the pattern instead.
constexpr std::size_t max_pattern_input = 4096;

bool full_match(std::string_view value, std::string_view pattern) {
    if (value.size() > max_pattern_input) {
        return false;
    }
    // Compiled once per pattern; the patterns are a fixed, small set.
    thread_local std::map<std::string_view, std::regex> cache;
    auto it = cache.find(pattern);
    if (it == cache.end()) {
        it = cache.emplace(pattern, std::regex(std::string(pattern), std::regex::ECMAScript)).first;
    }
    return std::regex_match(value.begin(), value.end(), it->second);
}

// Runtimes the current model lists as creatable; shown in the enum error message.
constexpr std::array creatable_runtimes{
    "nodejs24.x", "nodejs22.x", "nodejs20.x", "nodejs18.x", "python3.14", "python3.13", "python3.12",
    "python3.11", "python3.10", "python3.9",  "java25",     "java21",     "java17",     "java11",
    "java8.al2",  "dotnet10",   "dotnet8",    "ruby3.4",    "ruby3.3",    "ruby3.2",    "provided.al2023",
    "provided.al2"};
constexpr std::array deprecated_runtimes{
    std::pair{"nodejs", "nodejs22.x"},      std::pair{"nodejs4.3", "nodejs22.x"},
    std::pair{"nodejs6.10", "nodejs22.x"},  std::pair{"nodejs8.10", "nodejs22.x"},
    std::pair{"nodejs10.x", "nodejs22.x"},  std::pair{"nodejs12.x", "nodejs22.x"},
    std::pair{"nodejs14.x", "nodejs22.x"},  std::pair{"nodejs16.x", "nodejs22.x"},
    std::pair{"nodejs4.3-edge", "nodejs22.x"}, std::pair{"python2.7", "python3.13"},
    std::pair{"python3.6", "python3.13"},   std::pair{"python3.7", "python3.13"},
    std::pair{"python3.8", "python3.13"},   std::pair{"dotnetcore1.0", "dotnet8"},
    std::pair{"dotnetcore2.0", "dotnet8"},  std::pair{"dotnetcore2.1", "dotnet8"},
    std::pair{"dotnetcore3.1", "dotnet8"},  std::pair{"dotnet6", "dotnet8"},
    std::pair{"go1.x", "provided.al2023"},  std::pair{"ruby2.5", "ruby3.3"},
    std::pair{"ruby2.7", "ruby3.3"},        std::pair{"java8", "java21"},
    std::pair{"provided", "provided.al2023"}};
constexpr std::array supported_runtimes{
    "python3.9",  "python3.10", "python3.11", "python3.12",   "python3.13",     "nodejs18.x",
    "nodejs20.x", "nodejs22.x", "provided.al2", "provided.al2023"};

constexpr std::array reserved_env_keys{
    "_HANDLER",          "_X_AMZN_TRACE_ID",
    "AWS_REGION",        "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",  "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",      "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",  "LAMBDA_RUNTIME_DIR"};

error bad_type(std::string_view member, std::string_view expected) {
    return make_error(errc::invalid_request_content,
                      fmt::format("Could not parse request body into json: Could not deserialize value of "
                                  "member '{}': expected {}",
                                  member, expected));
}

// Typed accessors: nullopt when absent or null; an error when present with the wrong JSON type.
result<std::optional<std::string>> get_string(const json& body, const char* member) {
    auto it = body.find(member);
    if (it == body.end() || it->is_null()) {
        return std::optional<std::string>{};
    }
    if (!it->is_string()) {
        return bad_type(member, "a string");
    }
    return std::optional<std::string>{it->get<std::string>()};
}

result<std::optional<long long>> get_int(const json& body, const char* member) {
    auto it = body.find(member);
    if (it == body.end() || it->is_null()) {
        return std::optional<long long>{};
    }
    if (!it->is_number_integer()) {
        return bad_type(member, "an integer");
    }
    return std::optional<long long>{it->get<long long>()};
}

result<std::optional<bool>> get_bool(const json& body, const char* member) {
    auto it = body.find(member);
    if (it == body.end() || it->is_null()) {
        return std::optional<bool>{};
    }
    if (!it->is_boolean()) {
        return bad_type(member, "a boolean");
    }
    return std::optional<bool>{it->get<bool>()};
}

result<const json*> get_object(const json& body, const char* member) {
    auto it = body.find(member);
    if (it == body.end() || it->is_null()) {
        return static_cast<const json*>(nullptr);
    }
    if (!it->is_object()) {
        return bad_type(member, "an object");
    }
    return &*it;
}

std::string join_quoted_list(const json& arr) {
    std::string out = "[";
    for (std::size_t i = 0; i < arr.size(); ++i) {
        if (i > 0) {
            out += ", ";
        }
        out += arr[i].is_string() ? arr[i].get<std::string>() : arr[i].dump();
    }
    return out + "]";
}

template <std::size_t N>
bool contains(const std::array<const char*, N>& set, std::string_view v) {
    return std::any_of(set.begin(), set.end(), [&](const char* s) { return v == s; });
}

// A string member, or `fallback` when it is absent or null (a null member means "not given").
std::string string_or(const json& object, const char* member, const std::string& fallback) {
    auto it = object.find(member);
    return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

bool has_value(const json& object, const char* member) {
    auto it = object.find(member);
    return it != object.end() && !it->is_null();
}

// Checks the configuration members shared by CreateFunction and UpdateFunctionConfiguration.
// Shape violations go to `v`; semantic errors are returned (first one wins, as AWS reports one).
result<void> check_configuration(const json& body, violations& v) {
    auto runtime = get_string(body, "Runtime");
    if (!runtime) return runtime.error();
    auto handler = get_string(body, "Handler");
    if (!handler) return handler.error();
    auto description = get_string(body, "Description");
    if (!description) return description.error();
    auto role = get_string(body, "Role");
    if (!role) return role.error();
    auto timeout = get_int(body, "Timeout");
    if (!timeout) return timeout.error();
    auto memory = get_int(body, "MemorySize");
    if (!memory) return memory.error();

    if (*handler) {
        if ((*handler)->size() > 128) {
            v.add(violations::quote(**handler), "handler", "Member must have length less than or equal to 128");
        } else if (!full_match(**handler, handler_pattern)) {
            v.add(violations::quote(**handler), "handler",
                  fmt::format("Member must satisfy regular expression pattern: {}", handler_pattern));
        }
    }
    if (*description && (*description)->size() > 256) {
        v.add(violations::quote(**description), "description", "Member must have length less than or equal to 256");
    }
    if (*role && !full_match(**role, role_pattern)) {
        v.add(violations::quote(**role), "role",
              fmt::format("Member must satisfy regular expression pattern: {}", role_pattern));
    }
    if (*timeout && **timeout < 1) {
        v.add(violations::quote(std::to_string(**timeout)), "timeout", "Member must have value greater than or equal to 1");
    }
    if (*memory && **memory < 128) {
        v.add(violations::quote(std::to_string(**memory)), "memorySize",
              "Member must have value greater than or equal to 128");
    }
    if (*memory && **memory > 32768) {
        v.add(violations::quote(std::to_string(**memory)), "memorySize",
              "Member must have value less than or equal to 32768");
    }

    auto eph = get_object(body, "EphemeralStorage");
    if (!eph) return eph.error();
    if (*eph) {
        auto size = get_int(**eph, "Size");
        if (!size) return size.error();
        if (!*size) {
            v.add("null", "ephemeralStorage.size", "Member must not be null");
        } else if (**size < 512) {
            v.add(violations::quote(std::to_string(**size)), "ephemeralStorage.size",
                  "Member must have value greater than or equal to 512");
        } else if (**size > 10240) {
            v.add(violations::quote(std::to_string(**size)), "ephemeralStorage.size",
                  "Member must have value less than or equal to 10240");
        }
    }

    auto tracing = get_object(body, "TracingConfig");
    if (!tracing) return tracing.error();
    if (*tracing) {
        auto mode = get_string(**tracing, "Mode");
        if (!mode) return mode.error();
        if (*mode && **mode != "Active" && **mode != "PassThrough") {
            v.add(violations::quote(**mode), "tracingConfig.mode", "Member must satisfy enum value set: [Active, PassThrough]");
        }
    }

    auto logging = get_object(body, "LoggingConfig");
    if (!logging) return logging.error();
    if (*logging) {
        auto fmt_ = get_string(**logging, "LogFormat");
        if (!fmt_) return fmt_.error();
        if (*fmt_ && **fmt_ != "JSON" && **fmt_ != "Text") {
            v.add(violations::quote(**fmt_), "loggingConfig.logFormat", "Member must satisfy enum value set: [JSON, Text]");
        }
        auto app = get_string(**logging, "ApplicationLogLevel");
        if (!app) return app.error();
        static constexpr std::array app_levels{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};
        if (*app && !contains(app_levels, **app)) {
            v.add(violations::quote(**app), "loggingConfig.applicationLogLevel",
                  "Member must satisfy enum value set: [TRACE, DEBUG, INFO, WARN, ERROR, FATAL]");
        }
        auto sys = get_string(**logging, "SystemLogLevel");
        if (!sys) return sys.error();
        static constexpr std::array sys_levels{"DEBUG", "INFO", "WARN"};
        if (*sys && !contains(sys_levels, **sys)) {
            v.add(violations::quote(**sys), "loggingConfig.systemLogLevel", "Member must satisfy enum value set: [DEBUG, INFO, WARN]");
        }
        auto group = get_string(**logging, "LogGroup");
        if (!group) return group.error();
        if (*group && ((*group)->empty() || (*group)->size() > 512 || !full_match(**group, log_group_pattern))) {
            v.add(violations::quote(**group), "loggingConfig.logGroup",
                  fmt::format("Member must satisfy regular expression pattern: {}", log_group_pattern));
        }
    }

    auto env = get_object(body, "Environment");
    if (!env) return env.error();
    const json* variables = nullptr;
    if (*env) {
        auto vars = get_object(**env, "Variables");
        if (!vars) return vars.error();
        variables = *vars;
        if (variables != nullptr) {
            bool bad_key = false;
            for (const auto& [key, value] : variables->items()) {
                if (!value.is_string()) {
                    return bad_type("Environment.Variables", "string values");
                }
                if (!full_match(key, env_key_pattern)) {
                    bad_key = true;
                }
            }
            if (bad_key) {
                // AWS does not echo environment values (they may be secrets).
                v.add("", "environment.variables",
                      fmt::format("Map keys must satisfy constraint: [Member must satisfy regular expression "
                                  "pattern: {}]",
                                  env_key_pattern));
            }
        }
    }

    if (!v.empty()) {
        return {};
    }

    // Semantic checks: InvalidParameterValueException.
    if (*runtime && !contains(creatable_runtimes, **runtime) && !is_supported_runtime(**runtime)) {
        for (const auto& [old_rt, new_rt] : deprecated_runtimes) {
            if (**runtime == old_rt) {
                return make_error(errc::invalid_parameter_value,
                                  fmt::format("The runtime parameter of {} is no longer supported for creating or "
                                              "updating AWS Lambda functions. We recommend you use the new runtime "
                                              "({}) while creating or updating functions.",
                                              old_rt, new_rt));
            }
        }
        std::string list;
        for (std::size_t i = 0; i < creatable_runtimes.size(); ++i) {
            list += (i > 0 ? ", " : "") + std::string(creatable_runtimes[i]);
        }
        return make_error(errc::invalid_parameter_value,
                          fmt::format("Value {} at 'runtime' failed to satisfy constraint: Member must satisfy enum "
                                      "value set: [{}] or be a valid ARN",
                                      **runtime, list));
    }
    if (*runtime && !is_supported_runtime(**runtime)) {
        std::string list;
        for (std::size_t i = 0; i < supported_runtimes.size(); ++i) {
            list += (i > 0 ? ", " : "") + std::string(supported_runtimes[i]);
        }
        return make_error(errc::invalid_parameter_value,
                          fmt::format("The runtime parameter of {} is not supported by this Lambent server. "
                                      "Supported runtimes: {}.",
                                      **runtime, list));
    }
    if (*memory && **memory > 10240) {
        return make_error(errc::invalid_parameter_value,
                          fmt::format("'MemorySize' value failed to satisfy constraint: Member must have value "
                                      "less than or equal to 10240 (got {})",
                                      **memory));
    }
    if (*timeout && **timeout > 900) {
        return make_error(errc::invalid_parameter_value,
                          fmt::format("'Timeout' value failed to satisfy constraint: Member must have value less "
                                      "than or equal to 900 (got {})",
                                      **timeout));
    }
    if (variables != nullptr) {
        std::vector<std::string> reserved;
        for (const auto& [key, value] : variables->items()) {
            if (contains(reserved_env_keys, key)) {
                reserved.push_back(key);
            }
        }
        if (!reserved.empty()) {
            return make_error(errc::invalid_parameter_value,
                              fmt::format("Lambda was unable to configure your environment variables because the "
                                          "environment variables you have provided contains reserved keys that are "
                                          "currently not supported for modification. Reserved keys used in this "
                                          "request: {}",
                                          fmt::join(reserved, ", ")));
        }
        const std::string measured = variables->dump();
        if (measured.size() > max_env_bytes) {
            return make_error(errc::invalid_parameter_value,
                              "Lambda was unable to configure your environment variables because the environment "
                              "variables you have provided exceeded the 4KB limit. String measured: " +
                                  measured);
        }
    }
    if (*logging) {
        const auto format = string_or(**logging, "LogFormat", "Text");
        if (format == "Text" && (has_value(**logging, "ApplicationLogLevel") || has_value(**logging, "SystemLogLevel"))) {
            return make_error(errc::invalid_parameter_value,
                              "ApplicationLogLevel and SystemLogLevel can only be set when LogFormat is JSON.");
        }
    }
    return {};
}

// Fills the record from the members of a body that check_configuration() accepted.
void fill_configuration(function_record& f, const json& body) {
    if (auto it = body.find("Runtime"); it != body.end() && it->is_string()) f.runtime = *it;
    if (auto it = body.find("Handler"); it != body.end() && it->is_string()) f.handler = *it;
    if (auto it = body.find("Description"); it != body.end() && it->is_string()) f.description = *it;
    if (auto it = body.find("Role"); it != body.end() && it->is_string()) f.role = *it;
    if (auto it = body.find("Timeout"); it != body.end() && it->is_number_integer()) f.timeout_s = *it;
    if (auto it = body.find("MemorySize"); it != body.end() && it->is_number_integer()) f.memory_mb = *it;
    if (auto it = body.find("EphemeralStorage"); it != body.end() && it->is_object()) {
        f.ephemeral_storage_mb = it->value("Size", 512);
    }
    if (auto it = body.find("TracingConfig"); it != body.end() && it->is_object()) {
        f.tracing_mode = string_or(*it, "Mode", f.tracing_mode);
    }
    if (auto it = body.find("LoggingConfig"); it != body.end() && it->is_object()) {
        f.logging.log_format = string_or(*it, "LogFormat", f.logging.log_format);
        f.logging.log_group = string_or(*it, "LogGroup", f.logging.log_group);
        if (f.logging.log_format == "JSON") {
            f.logging.application_log_level = string_or(*it, "ApplicationLogLevel", "INFO");
            f.logging.system_log_level = string_or(*it, "SystemLogLevel", "INFO");
        } else {
            f.logging.application_log_level.reset();
            f.logging.system_log_level.reset();
        }
    }
    if (auto it = body.find("Environment"); it != body.end() && it->is_object()) {
        std::map<std::string, std::string> vars;
        if (auto v = it->find("Variables"); v != it->end() && v->is_object()) {
            vars = v->get<std::map<std::string, std::string>>();
        }
        f.environment = std::move(vars);
    }
    // Stored and echoed only.
    for (const char* member : {"VpcConfig", "DeadLetterConfig", "KMSKeyArn", "FileSystemConfigs", "ImageConfig"}) {
        if (auto it = body.find(member); it != body.end()) {
            if (it->is_null()) {
                f.echoed.erase(member);
            } else {
                f.echoed[member] = *it;
            }
        }
    }
}

result<std::string> decode_zip_file(const json& code_or_body, bool in_code_object) {
    for (const char* member : {"S3Bucket", "S3Key", "S3ObjectVersion"}) {
        if (code_or_body.contains(member)) {
            return make_error(errc::invalid_parameter_value,
                              "Deploying code from S3 (S3Bucket/S3Key) is not supported by this Lambent server yet; "
                              "send the ZIP inline as ZipFile.");
        }
    }
    if (code_or_body.contains("ImageUri")) {
        return make_error(errc::invalid_parameter_value,
                          "Container images (ImageUri, PackageType Image) are not supported by this Lambent server "
                          "yet; deploy a ZIP package.");
    }
    auto zip = get_string(code_or_body, "ZipFile");
    if (!zip) return zip.error();
    if (!*zip) {
        if (in_code_object) {
            return make_error(errc::invalid_parameter_value, "Please provide a source for function code.");
        }
        return make_error(errc::invalid_parameter_value, "Please provide a source for function code.");
    }
    auto bytes = codec::base64_decode(**zip);
    if (!bytes) {
        return make_error(errc::invalid_parameter_value,
                          "Could not unzip uploaded file. Please check your file, then try to upload again.");
    }
    if (bytes->size() > max_zipped_bytes) {
        return make_error(errc::request_too_large, "Zipped size must be smaller than 52428800 bytes");
    }
    return std::move(*bytes);
}

}  // namespace

bool is_supported_runtime(std::string_view runtime) { return contains(supported_runtimes, runtime); }

bool is_model_runtime(std::string_view runtime) {
    if (contains(creatable_runtimes, runtime) || contains(supported_runtimes, runtime)) return true;
    return std::any_of(deprecated_runtimes.begin(), deprecated_runtimes.end(),
                       [runtime](const auto& p) { return runtime == p.first; });
}

result<function_ref> parse_function_name(std::string_view value, name_shape shape, const account_context& acct) {
    const std::size_t max_len = shape == name_shape::function_name ? 140 : 256;
    const auto pattern = shape == name_shape::function_name ? function_name_pattern : namespaced_name_pattern;
    violations v;
    if (value.empty()) {
        v.add(violations::quote(value), "functionName", "Member must have length greater than or equal to 1");
        return v.as_error();
    }
    if (value.size() > max_len) {
        v.add(violations::quote(value), "functionName",
              fmt::format("Member must have length less than or equal to {}", max_len));
        return v.as_error();
    }
    // A plain name (the usual case, on every Invoke) matches the pattern's NAME group alone: no regex needed.
    const bool plain = std::all_of(value.begin(), value.end(), [shape](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
               (c == '.' && shape == name_shape::namespaced);
    });
    if (!plain && !full_match(value, pattern)) {
        v.add(violations::quote(value), "functionName",
              fmt::format("Member must satisfy regular expression pattern: {}", pattern));
        return v.as_error();
    }
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (;;) {
        auto pos = value.find(':', start);
        parts.emplace_back(value.substr(start, pos == std::string_view::npos ? pos : pos - start));
        if (pos == std::string_view::npos) break;
        start = pos + 1;
    }
    function_ref ref;
    std::size_t name_at = 0;
    if (parts[0] == "arn") {
        // arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
        if (parts.size() < 7) {
            v.add(violations::quote(value), "functionName",
                  fmt::format("Member must satisfy regular expression pattern: {}", pattern));
            return v.as_error();
        }
        if (parts[3] != acct.region) {
            return make_error(errc::resource_not_found,
                              fmt::format("Functions from '{}' are not reachable in this region ('{}')", parts[3],
                                          acct.region));
        }
        name_at = 6;
    } else if (parts.size() >= 3 && parts[1] == "function") {
        name_at = 2;  // ACCOUNT:function:NAME[:QUALIFIER]
    }
    ref.name = parts[name_at];
    if (parts.size() > name_at + 1) {
        ref.qualifier = parts[name_at + 1];
    }
    if (ref.name.size() > 64) {
        v.add(violations::quote(value), "functionName", "Member must have length less than or equal to 64");
        return v.as_error();
    }
    return ref;
}

result<std::optional<std::string>> merge_qualifier(const function_ref& ref, const std::optional<std::string>& query) {
    if (query) {
        violations v;
        if (query->size() > 128) {
            v.add(violations::quote(*query), "qualifier", "Member must have length less than or equal to 128");
        } else if (query->empty() || !full_match(*query, qualifier_pattern)) {
            v.add(violations::quote(*query), "qualifier",
                  fmt::format("Member must satisfy regular expression pattern: {}", qualifier_pattern));
        }
        if (!v.empty()) {
            return v.as_error();
        }
        if (ref.qualifier && *ref.qualifier != *query) {
            return make_error(errc::invalid_parameter_value,
                              "The derived qualifier from the function name does not match the specified qualifier.");
        }
        return query;
    }
    return ref.qualifier;
}

result<create_request> decode_create_function(const json& body, const account_context& acct) {
    if (!body.is_object()) {
        return make_error(errc::invalid_request_content, "Could not parse request body into json: expected an object");
    }
    violations v;
    auto name = get_string(body, "FunctionName");
    if (!name) return name.error();
    std::optional<function_ref> ref;
    if (!*name) {
        v.add("null", "functionName", "Member must not be null");
    } else {
        auto parsed = parse_function_name(**name, name_shape::function_name, acct);
        if (!parsed) {
            // CreateFunction reports a malformed plain name as InvalidParameterValueException with the same text.
            auto e = parsed.error();
            if (e.code == errc::validation && e.message.find("length less than or equal to 64") == std::string::npos &&
                (*name)->find(':') == std::string::npos) {
                e.code = errc::invalid_parameter_value;
            }
            return e;
        }
        ref = *parsed;
    }
    if (!body.contains("Role") || body.at("Role").is_null()) {
        v.add("null", "role", "Member must not be null");
    }
    auto code = get_object(body, "Code");
    if (!code) return code.error();
    if (!*code) {
        v.add("null", "code", "Member must not be null");
    }
    if (auto it = body.find("Architectures"); it != body.end() && !it->is_null()) {
        if (!it->is_array()) return bad_type("Architectures", "a list");
        if (it->size() > 1) {
            v.add(violations::quote(join_quoted_list(*it)), "architectures", "Member must have length less than or equal to 1");
        } else if (it->empty()) {
            v.add(violations::quote("[]"), "architectures", "Member must have length greater than or equal to 1");
        } else if (!it->at(0).is_string() || (it->at(0) != "x86_64" && it->at(0) != "arm64")) {
            v.add(violations::quote(join_quoted_list(*it)), "architectures",
                  "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must "
                  "not be null]");
        }
    }
    if (auto it = body.find("PackageType"); it != body.end() && !it->is_null()) {
        if (!it->is_string() || (*it != "Zip" && *it != "Image")) {
            v.add(violations::quote(it->is_string() ? it->get<std::string>() : it->dump()), "packageType",
                  "Member must satisfy enum value set: [Zip, Image]");
        }
    }
    auto publish = get_bool(body, "Publish");
    if (!publish) return publish.error();
    auto checked = check_configuration(body, v);
    if (!checked) return checked.error();
    if (!v.empty()) {
        return v.as_error();
    }
    if (ref->qualifier) {
        return make_error(errc::invalid_parameter_value,
                          "The function name must not include a qualifier when creating a function.");
    }
    if (string_or(body, "PackageType", "Zip") == "Image") {
        return make_error(errc::invalid_parameter_value,
                          "Container images (ImageUri, PackageType Image) are not supported by this Lambent server "
                          "yet; deploy a ZIP package.");
    }
    if (!body.contains("Runtime") || !body.contains("Handler")) {
        return make_error(errc::invalid_parameter_value,
                          "Runtime and Handler are mandatory parameters for functions created with deployment packages.");
    }
    auto layers = decode_function_layers(body);
    if (!layers) return layers.error();
    auto zip = decode_zip_file(**code, true);
    if (!zip) return zip.error();

    create_request req;
    req.record.name = ref->name;
    fill_configuration(req.record, body);
    if (auto it = body.find("Architectures"); it != body.end() && it->is_array() && it->size() == 1) {
        req.record.architecture = it->at(0);
    }
    if (auto tags = body.find("Tags"); tags != body.end() && !tags->is_null()) {
        auto decoded = decode_tags(json{{"Tags", *tags}});
        if (!decoded) return decoded.error();
        req.record.tags = *decoded;
    }
    req.zip = std::move(*zip);
    req.publish = publish->value_or(false);
    req.layer_arns = std::move(*layers);
    return req;
}

result<configuration_update> decode_update_configuration(const json& body) {
    if (!body.is_object()) {
        return make_error(errc::invalid_request_content, "Could not parse request body into json: expected an object");
    }
    violations v;
    auto checked = check_configuration(body, v);
    if (!checked) return checked.error();
    if (!v.empty()) {
        return v.as_error();
    }
    auto layers = decode_function_layers(body);
    if (!layers) return layers.error();
    auto revision = get_string(body, "RevisionId");
    if (!revision) return revision.error();
    configuration_update u;
    u.layer_arns = std::move(*layers);
    u.body = body;
    u.revision_id = *revision;
    return u;
}

void apply_configuration(function_record& f, const configuration_update& u) { fill_configuration(f, u.body); }

result<code_update> decode_update_code(const json& body) {
    if (!body.is_object()) {
        return make_error(errc::invalid_request_content, "Could not parse request body into json: expected an object");
    }
    auto revision = get_string(body, "RevisionId");
    if (!revision) return revision.error();
    auto publish = get_bool(body, "Publish");
    if (!publish) return publish.error();
    auto dry_run = get_bool(body, "DryRun");
    if (!dry_run) return dry_run.error();
    if (body.contains("ImageUri")) {
        return make_error(errc::invalid_parameter_value, "Please don't provide ImageUri when updating a function with packageType Zip.");
    }
    auto zip = decode_zip_file(body, false);
    if (!zip) return zip.error();
    code_update u;
    u.zip = std::move(*zip);
    u.revision_id = *revision;
    u.publish = publish->value_or(false);
    u.dry_run = dry_run->value_or(false);
    return u;
}

result<invoke_options> decode_invoke_options(std::string_view invocation_type, std::string_view log_type,
                                             std::string_view client_context) {
    invoke_options o;
    o.invocation_type = invocation_type.empty() ? "RequestResponse" : std::string(invocation_type);
    o.log_type = log_type.empty() ? "None" : std::string(log_type);
    violations v;
    if (o.invocation_type != "RequestResponse" && o.invocation_type != "Event" && o.invocation_type != "DryRun") {
        v.add(violations::quote(o.invocation_type), "invocationType",
              "Member must satisfy enum value set: [Event, RequestResponse, DryRun]");
    }
    if (o.log_type != "None" && o.log_type != "Tail") {
        v.add(violations::quote(o.log_type), "logType", "Member must satisfy enum value set: [None, Tail]");
    }
    if (!v.empty()) return v.as_error();
    if (!client_context.empty()) {
        auto decoded = codec::base64_decode(client_context);
        if (!decoded || !json::accept(*decoded) || !json::parse(*decoded).is_object()) {
            return make_error(errc::invalid_request_content, "Client context must be a valid Base64-encoded JSON object.");
        }
        o.client_context = std::move(*decoded);
    }
    return o;
}

result<void> check_invoke_payload(std::string_view payload) {
    if (payload.empty() || json::accept(payload)) return {};
    std::string detail;
    try {
        const json ignored = json::parse(payload);
    } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 8e888
        detail = e.what();
    }
    return make_error(errc::invalid_request_content,
                      "Could not parse request body into json: Could not parse payload into json: " + detail);
}

result<std::map<std::string, std::string>> decode_tags(const json& body) {
    auto tags = get_object(body, "Tags");
    if (!tags) return tags.error();
    if (!*tags) {
        violations v;
        v.add("null", "tags", "Member must not be null");
        return v.as_error();
    }
    std::map<std::string, std::string> out;
    for (const auto& [key, value] : (*tags)->items()) {
        if (!value.is_string()) {
            return bad_type("Tags", "string values");
        }
        if (key.empty() || key.size() > 128 || key.rfind("aws:", 0) == 0) {
            return make_error(errc::invalid_parameter_value,
                              fmt::format("Tag key '{}' is invalid: keys are 1-128 characters and must not start "
                                          "with 'aws:'",
                                          key));
        }
        if (value.get<std::string>().size() > 256) {
            return make_error(errc::invalid_parameter_value,
                              fmt::format("Tag value for key '{}' is longer than 256 characters", key));
        }
        out[key] = value.get<std::string>();
    }
    if (out.size() > 50) {
        return make_error(errc::invalid_parameter_value, "A function can have at most 50 tags.");
    }
    return out;
}

}  // namespace lambent::model
