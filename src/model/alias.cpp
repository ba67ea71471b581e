#include "lambent/model/alias.hpp"

#include "lambent/model/validation.hpp"

#include <fmt/format.h>

#include <regex>

namespace lambent::model {

using nlohmann::json;

json to_wire(const alias_record& a, const std::string& function_name, const account_context& acct) {
    json j{{"AliasArn", acct.function_arn(function_name, a.name)},
           {"Name", a.name},
           {"FunctionVersion", a.function_version},
           {"Description", a.description},
           {"RevisionId", a.revision_id}};
    if (!a.additional_weights.empty()) {
        j["RoutingConfig"] = json{{"AdditionalVersionWeights", a.additional_weights}};
    }
    return j;
}

json to_storage(const alias_record& a) {
    return json{{"name", a.name},
                {"function_version", a.function_version},
                {"description", a.description},
                {"weights", a.additional_weights},
                {"revision_id", a.revision_id}};
}

alias_record alias_from_storage(const json& j) {
    alias_record a;
    a.name = j.at("name").get<std::string>();
    a.function_version = j.value("function_version", "$LATEST");
    a.description = j.value("description", "");
    a.additional_weights = j.value("weights", std::map<std::string, double>{});
    a.revision_id = j.value("revision_id", "");
    return a;
}

result<void> check_alias_name(const std::string& name, const char* field) {
    static const std::regex pattern("(?!^[0-9]+$)([a-zA-Z0-9-_]+)");
    violations v;
    if (name.empty()) {
        v.add(violations::quote(name), field, "Member must have length greater than or equal to 1");
    } else if (name.size() > 128) {
        v.add(violations::quote(name), field, "Member must have length less than or equal to 128");
    } else if (!std::regex_match(name, pattern)) {
        v.add(violations::quote(name), field,
              "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)");
    }
    if (!v.empty()) return v.as_error();
    return {};
}

result<alias_request> decode_alias_request(const json& body, bool create) {
    if (!body.is_object()) {
        return make_error(errc::invalid_request_content, "Could not parse request body into json: expected an object");
    }
    alias_request r;
    auto str = [&body](const char* key, std::optional<std::string>& out) -> result<void> {
        auto it = body.find(key);
        if (it == body.end() || it->is_null()) return {};
        if (!it->is_string()) {
            return make_error(errc::invalid_request_content,
                              fmt::format("Could not parse request body into json: member '{}' must be a string", key));
        }
        out = it->get<std::string>();
        return {};
    };
    for (auto [key, out] : {std::pair{"Name", &r.name}, std::pair{"FunctionVersion", &r.function_version},
                            std::pair{"Description", &r.description}, std::pair{"RevisionId", &r.revision_id}}) {
        if (auto ok = str(key, *out); !ok) return ok.error();
    }
    violations v;
    if (create && !r.name) v.add("null", "name", "Member must not be null");
    if (create && !r.function_version) v.add("null", "functionVersion", "Member must not be null");
    if (r.function_version) {
        static const std::regex version_pattern(R"((\$LATEST|[0-9]+))");
        if (r.function_version->empty() || r.function_version->size() > 1024 ||
            !std::regex_match(*r.function_version, version_pattern)) {
            v.add(violations::quote(*r.function_version), "functionVersion",
                  "Member must satisfy regular expression pattern: (\\$LATEST|[0-9]+)");
        }
    }
    if (r.description && r.description->size() > 256) {
        v.add(violations::quote(*r.description), "description", "Member must have length less than or equal to 256");
    }
    if (auto rc = body.find("RoutingConfig"); rc != body.end() && !rc->is_null()) {
        if (!rc->is_object()) return make_error(errc::invalid_request_content, "Could not parse request body into json: RoutingConfig must be an object");
        std::map<std::string, double> weights;
        if (auto w = rc->find("AdditionalVersionWeights"); w != rc->end() && !w->is_null()) {
            if (!w->is_object()) {
                return make_error(errc::invalid_request_content,
                                  "Could not parse request body into json: AdditionalVersionWeights must be a map");
            }
            static const std::regex key_pattern("[0-9]+");
            for (const auto& [version, weight] : w->items()) {
                if (!weight.is_number()) {
                    return make_error(errc::invalid_request_content,
                                      "Could not parse request body into json: weights must be numbers");
                }
                const double value = weight.get<double>();
                // Versions are at most 1024 characters; longer keys must not reach std::regex (it recurses
                // once per character).
                if (version.empty() || version.size() > 1024 || !std::regex_match(version, key_pattern)) {
                    v.add(violations::quote(version), "routingConfig.additionalVersionWeights",
                          "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [0-9]+]");
                } else if (value < 0.0 || value > 1.0) {
                    v.add(violations::quote(fmt::format("{{{}={}}}", version, value)), "routingConfig.additionalVersionWeights",
                          value < 0.0 ? "Map value must satisfy constraint: [Member must have value greater than or equal to 0.0]"
                                      : "Map value must satisfy constraint: [Member must have value less than or equal to 1.0]");
                }
                weights[version] = value;
            }
        }
        if (weights.size() > 1) {
            v.add(violations::quote("RoutingConfig"), "routingConfig.additionalVersionWeights",
                  "Member must have length less than or equal to 1");
        }
        r.weights = std::move(weights);
    }
    if (r.name) {
        if (auto ok = check_alias_name(*r.name); !ok) {
            return ok.error();
        }
    }
    if (!v.empty()) return v.as_error();
    return r;
}

bool same_publishable_state(const function_record& a, const function_record& b) {
    json x = to_storage(a);
    json y = to_storage(b);
    for (const char* volatile_field : {"version", "revision_id", "last_modified_ms", "tags", "description"}) {
        x.erase(volatile_field);
        y.erase(volatile_field);
    }
    return x == y;
}

}  // namespace lambent::model
