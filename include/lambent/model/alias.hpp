#pragma once
/// Aliases: a name pointing at a published version, optionally splitting traffic with a second version.

#include "lambent/common/error.hpp"
#include "lambent/model/function.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>

namespace lambent::model {

struct alias_record {
    std::string name;
    std::string function_version;                    // "$LATEST" or "N"
    std::string description;
    std::map<std::string, double> additional_weights;  // version -> weight (at most one entry)
    std::string revision_id;
};

/// AliasConfiguration as AWS returns it.
nlohmann::json to_wire(const alias_record& a, const std::string& function_name, const account_context& acct);
nlohmann::json to_storage(const alias_record& a);
alias_record alias_from_storage(const nlohmann::json& j);

/// Validates an alias name (1-128, `(?!^[0-9]+$)([a-zA-Z0-9-_]+)`) with AWS's message; `field` is the member path.
result<void> check_alias_name(const std::string& name, const char* field = "name");

/// Decodes Create/UpdateAlias bodies. `create` requires Name and FunctionVersion.
struct alias_request {
    std::optional<std::string> name;
    std::optional<std::string> function_version;
    std::optional<std::string> description;
    std::optional<std::map<std::string, double>> weights;  // present when RoutingConfig was given
    std::optional<std::string> revision_id;
};
result<alias_request> decode_alias_request(const nlohmann::json& body, bool create);

/// True when two records would publish as the same version (code and configuration equal).
bool same_publishable_state(const function_record& a, const function_record& b);

}  // namespace lambent::model
