// Fuzz target: request targets and the names in them — http::parse_target (path segments and query, with
// percent-decoding), function names/ARNs/qualifiers (model::parse_function_name + merge_qualifier) and
// alias names.
//
// Input: a request target (`/2015-03-31/functions/NAME/invocations?Qualifier=Q`); its third path segment,
// when present, is parsed as a function name, else the whole input is.

#include "lambent/http/server.hpp"
#include "lambent/model/alias.hpp"
#include "lambent/model/validation.hpp"

#include <cstdint>
#include <string_view>

namespace model = lambent::model;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view raw(reinterpret_cast<const char*>(data), size);
    const model::account_context acct;
    const auto t = lambent::http::parse_target(raw);
    for (const auto& [k, v] : t.query) {
        if (t.param(k) == std::nullopt) __builtin_trap();  // every decoded key is found again
    }
    const std::string name = t.valid && t.segments.size() >= 3 ? t.segments[2] : std::string(raw);
    for (auto shape : {model::name_shape::function_name, model::name_shape::namespaced}) {
        auto ref = model::parse_function_name(name, shape, acct);
        if (!ref) continue;
        if (ref->name.empty() || ref->name.size() > 64) __builtin_trap();
        (void)acct.function_arn(ref->name);
        if (auto q = model::merge_qualifier(*ref, t.param("Qualifier")); q && *q) {
            (void)acct.function_arn(ref->name, **q);
        }
    }
    (void)model::check_alias_name(name);
    return 0;
}
