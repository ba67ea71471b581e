// Fuzz target: the JSON request decoders of the Lambda API (CreateFunction, UpdateFunctionConfiguration,
// UpdateFunctionCode, TagResource, Create/UpdateAlias) and what is built from their result (wire and
// storage forms), plus Invoke's header and payload checks. Any exception escaping is a bug: a decoder
// answers bad input with an error value.
//
// Input: JSON text. Its first byte also picks the flags passed along (alias create/update).

#include "lambent/model/alias.hpp"
#include "lambent/model/function.hpp"
#include "lambent/model/validation.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string_view>

using nlohmann::json;
namespace model = lambent::model;

namespace {

void round_trip(const model::function_record& f, const model::account_context& acct) {
    for (auto view : {model::fc_view::create, model::fc_view::get, model::fc_view::list, model::fc_view::update}) {
        (void)model::to_wire(f, acct, view).dump();
    }
    const auto back = model::from_storage(model::to_storage(f));
    if (back.name != f.name || back.runtime != f.runtime || back.environment != f.environment) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const model::account_context acct;
    (void)model::check_invoke_payload(text);

    const json body = json::parse(text, nullptr, false);
    if (body.is_discarded()) return 0;

    if (auto created = model::decode_create_function(body, acct)) {
        round_trip(created->record, acct);
    }
    if (auto update = model::decode_update_configuration(body)) {
        model::function_record f;
        f.name = "fuzz";
        model::apply_configuration(f, *update);
        round_trip(f, acct);
    }
    (void)model::decode_update_code(body);
    (void)model::decode_tags(body);
    const bool create = size > 0 && (data[0] & 1) != 0;
    if (auto alias = model::decode_alias_request(body, create)) {
        model::alias_record a;
        a.name = alias->name.value_or("live");
        a.function_version = alias->function_version.value_or("1");
        a.description = alias->description.value_or("");
        if (alias->weights) a.additional_weights = *alias->weights;
        (void)model::to_wire(a, "fuzz", acct).dump();
        (void)model::alias_from_storage(model::to_storage(a));
    }
    // Invoke's headers, taken from string members when the body has them.
    if (body.is_object()) {
        auto member = [&body](const char* key) {
            auto it = body.find(key);
            return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
        };
        (void)model::decode_invoke_options(member("InvocationType"), member("LogType"), member("ClientContext"));
    }
    return 0;
}
