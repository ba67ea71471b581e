// SAM / CloudFormation templates: YAML → JSON (yaml-cpp), intrinsic functions resolved locally, and the
// resources Lambent deploys extracted from the result.

#include "lambent/sam/template.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

namespace lambent::sam {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// ---- YAML → JSON ------------------------------------------------------------------------------

json plain_scalar(const std::string& s) {
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    if (s == "null" || s == "Null" || s == "NULL" || s == "~" || s.empty()) return nullptr;
    // Integers in their canonical form only ("007" and "1.10" stay text: CloudFormation values are strings,
    // and an environment variable must keep its leading zeros).
    const char* b = s.data();
    const char* e = s.data() + s.size();
    if (*b == '-') ++b;
    if (b == e || (*b == '0' && e - b > 1)) return s;
    long long i = 0;
    if (auto r = std::from_chars(s.data(), e, i); r.ec == std::errc() && r.ptr == e) return i;
    return s;
}

result<json> convert(const YAML::Node& node);

result<json> ok(json j) { return result<json>(boost::system::in_place_value, std::move(j)); }

json split_getatt(const std::string& s) {
    const auto dot = s.find('.');
    if (dot == std::string::npos) return json::array({s});
    return json::array({s.substr(0, dot), s.substr(dot + 1)});
}

result<json> convert(const YAML::Node& node) {
    json value;
    switch (node.Type()) {
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined:
            value = nullptr;
            break;
        case YAML::NodeType::Scalar:
            value = node.Tag() == "?" ? plain_scalar(node.Scalar()) : json(node.Scalar());
            break;
        case YAML::NodeType::Sequence:
            value = json::array();
            for (const auto& item : node) {
                auto v = convert(item);
                if (!v) return v;
                value.push_back(std::move(*v));
            }
            break;
        case YAML::NodeType::Map:
            value = json::object();
            for (const auto& kv : node) {
                const auto key = kv.first.as<std::string>();
                auto v = convert(kv.second);
                if (!v) return v;
                value[key] = std::move(*v);
            }
            break;
    }
    const std::string& tag = node.Tag();
    if (tag.size() < 2 || tag[0] != '!' || tag == "!") return ok(std::move(value));
    const std::string name = tag.substr(1);
    if (name == "Ref") return ok(json{{"Ref", value}});
    if (name == "Condition") return ok(json{{"Condition", value}});
    if (name == "GetAtt") return ok(json{{"Fn::GetAtt", value.is_string() ? split_getatt(value.get<std::string>()) : value}});
    static const std::set<std::string> known = {"Sub", "Join", "If", "Select", "Split", "Equals", "Not", "And", "Or",
                                                "FindInMap", "Base64", "GetAZs", "ImportValue", "Cidr", "Length",
                                                "ToJsonString", "Transform"};
    if (known.count(name) != 0) return ok(json{{"Fn::" + name, value}});
    return make_error(errc::validation, fmt::format("unknown YAML tag {} (line {})", tag, node.Mark().line + 1));
}

// ---- intrinsic functions ---------------------------------------------------------------------

const json no_value = json{{"__lambent_no_value__", true}};

bool is_no_value(const json& j) { return j.is_object() && j.contains("__lambent_no_value__"); }

std::string text_of(const json& j) {
    if (j.is_string()) return j.get<std::string>();
    if (j.is_boolean()) return j.get<bool>() ? "true" : "false";
    if (j.is_number_integer()) return std::to_string(j.get<long long>());
    if (j.is_number()) return j.dump();
    if (j.is_null()) return "";
    return j.dump();
}

class resolver {
public:
    resolver(const json& doc, const load_options& options, template_model& model)
        : doc_(doc), options_(options), model_(model) {}

    result<void> init() {
        // Parameters: override, then Default.
        if (auto ps = doc_.find("Parameters"); ps != doc_.end() && ps->is_object()) {
            for (const auto& [key, decl] : ps->items()) {
                std::optional<std::string> val;
                if (auto o = options_.parameter_overrides.find(key); o != options_.parameter_overrides.end()) {
                    val = o->second;
                } else if (decl.is_object() && decl.contains("Default")) {
                    val = text_of(decl.at("Default"));
                }
                if (!val) {
                    return make_error(errc::validation,
                                      fmt::format("parameter {} has no Default; pass --parameter-overrides {}=VALUE",
                                                  key, key));
                }
                const std::string type = decl.is_object() ? decl.value("Type", "String") : "String";
                if (type == "CommaDelimitedList" || type.starts_with("List<")) {
                    json list = json::array();
                    std::stringstream in(*val);
                    for (std::string item; std::getline(in, item, ',');) {
                        while (!item.empty() && item.front() == ' ') item.erase(0, 1);
                        while (!item.empty() && item.back() == ' ') item.pop_back();
                        list.push_back(item);
                    }
                    params_[key] = list;
                } else if (decl.is_object() && decl.contains("AllowedValues") && decl.at("AllowedValues").is_array()) {
                    bool allowed = false;
                    for (const auto& a : decl.at("AllowedValues")) allowed = allowed || text_of(a) == *val;
                    if (!allowed) {
                        return make_error(errc::validation,
                                          fmt::format("parameter {}: '{}' is not one of its AllowedValues", key, *val));
                    }
                    params_[key] = *val;
                } else {
                    params_[key] = *val;
                }
            }
        }
        for (const auto& [key, val] : options_.parameter_overrides) {
            if (params_.count(key) == 0) model_.warnings.push_back("parameter override " + key + " is not a parameter of the template");
        }
        if (auto r = doc_.find("Resources"); r != doc_.end() && r->is_object()) resources_ = *r;
        if (auto m = doc_.find("Mappings"); m != doc_.end() && m->is_object()) mappings_ = *m;
        if (auto c = doc_.find("Conditions"); c != doc_.end() && c->is_object()) conditions_ = *c;
        return {};
    }

    /// The value with every intrinsic function it contains resolved (or kept as text, with a warning).
    json resolve(const json& j, const std::string& where) {
        if (j.is_array()) {
            json out = json::array();
            for (const auto& item : j) {
                auto v = resolve(item, where);
                if (!is_no_value(v)) out.push_back(std::move(v));
            }
            return out;
        }
        if (!j.is_object()) return j;
        if (j.size() == 1) {
            const auto first = j.begin();
            const std::string key = first.key();
            const json& arg = first.value();
            if (key == "Ref") return ref(text_of(resolve(arg, where)), where);
            if (key.starts_with("Fn::")) return function(key.substr(4), arg, where);
        }
        json out = json::object();
        for (const auto& [key, val] : j.items()) {
            auto v = resolve(val, where);
            if (!is_no_value(v)) out[key] = std::move(v);
        }
        return out;
    }

    bool condition(const std::string& name, const std::string& where) {
        if (auto it = evaluated_.find(name); it != evaluated_.end()) return it->second;
        auto c = conditions_.find(name);
        if (c == conditions_.end()) {
            warn(where, "condition " + name + " is not defined; taken as false");
            return evaluated_[name] = false;
        }
        evaluated_[name] = false;  // guards against cycles
        const bool v = truth(*c, where);
        return evaluated_[name] = v;
    }

    const json& params() const { return params_; }

private:
    void warn(const std::string& where, const std::string& what) {
        const auto line = where.empty() ? what : where + ": " + what;
        if (std::find(model_.warnings.begin(), model_.warnings.end(), line) == model_.warnings.end()) {
            model_.warnings.push_back(line);
        }
    }

    std::string resource_type(const std::string& id) const {
        auto r = resources_.find(id);
        if (r == resources_.end() || !r->is_object()) return "";
        return r->value("Type", "");
    }

    /// A function's deployed name: FunctionName when it is a plain string (or resolves to one), else the id.
    std::string function_name(const std::string& id) {
        const auto& res = resources_.at(id);
        if (auto p = res.find("Properties"); p != res.end() && p->is_object() && p->contains("FunctionName")) {
            auto v = resolve(p->at("FunctionName"), id);
            if (v.is_string()) return v.get<std::string>();
        }
        return id;
    }

    json ref(const std::string& name, const std::string& where) {
        if (auto p = params_.find(name); p != params_.end()) return *p;
        if (name == "AWS::Region") return options_.region;
        if (name == "AWS::AccountId") return options_.account_id;
        if (name == "AWS::StackName") return options_.stack_name;
        if (name == "AWS::Partition") return options_.partition;
        if (name == "AWS::URLSuffix") return "amazonaws.com";
        if (name == "AWS::StackId") {
            return fmt::format("arn:{}:cloudformation:{}:{}:stack/{}/00000000-0000-0000-0000-000000000000",
                               options_.partition, options_.region, options_.account_id, options_.stack_name);
        }
        if (name == "AWS::NoValue") return no_value;
        if (name == "AWS::NotificationARNs") return json::array();
        const auto type = resource_type(name);
        if (type == "AWS::Serverless::Function" || type == "AWS::Lambda::Function") return function_name(name);
        if (type == "AWS::S3::Bucket") return bucket_name(name);
        if (type == "AWS::Serverless::Api" || type == "AWS::Serverless::HttpApi") return name;  // routes name their API
        if (type == "AWS::Serverless::LayerVersion" || type == "AWS::Lambda::LayerVersion") {
            return "lambent-layer:" + name;  // replaced by the layer version ARN when layers are deployed
        }
        if (!type.empty()) {
            warn(where, fmt::format("!Ref {} ({}) cannot be resolved locally; its logical id is used", name, type));
            return name;
        }
        warn(where, "!Ref " + name + " names no parameter or resource; left as text");
        return name;
    }

    std::string function_arn(const std::string& name) const {
        return fmt::format("arn:{}:lambda:{}:{}:function:{}", options_.partition, options_.region, options_.account_id,
                           name);
    }

    json get_att(const std::string& id, const std::string& attr, const std::string& where) {
        const auto type = resource_type(id);
        if ((type == "AWS::Serverless::Function" || type == "AWS::Lambda::Function") && attr == "Arn") {
            return function_arn(function_name(id));
        }
        if (type == "AWS::S3::Bucket") {
            const auto bucket = bucket_name(id);
            if (attr == "Arn") return fmt::format("arn:{}:s3:::{}", options_.partition, bucket);
            if (attr == "DomainName") return bucket + ".s3.amazonaws.com";
        }
        warn(where, fmt::format("!GetAtt {}.{} cannot be resolved locally; left as text", id, attr));
        return fmt::format("{}.{}", id, attr);
    }

    json function(const std::string& fn, const json& arg, const std::string& where) {
        if (fn == "GetAtt") {
            json a = arg.is_string() ? split_getatt(arg.get<std::string>()) : resolve(arg, where);
            if (!a.is_array() || a.size() != 2) {
                warn(where, "malformed Fn::GetAtt " + arg.dump());
                return arg.dump();
            }
            return get_att(text_of(a[0]), text_of(a[1]), where);
        }
        if (fn == "Sub") {
            std::string text;
            std::map<std::string, json> vars;
            if (arg.is_string()) {
                text = arg.get<std::string>();
            } else if (arg.is_array() && !arg.empty() && arg[0].is_string()) {
                text = arg[0].get<std::string>();
                if (arg.size() > 1 && arg[1].is_object()) {
                    for (const auto& [k, v] : arg[1].items()) vars[k] = resolve(v, where);
                }
            } else {
                warn(where, "malformed Fn::Sub " + arg.dump());
                return arg.dump();
            }
            return substitute(text, vars, where);
        }
        if (fn == "Join") {
            if (!arg.is_array() || arg.size() != 2) {
                warn(where, "malformed Fn::Join " + arg.dump());
                return arg.dump();
            }
            const auto delim = text_of(resolve(arg[0], where));
            const auto items = resolve(arg[1], where);
            std::string out;
            if (items.is_array()) {
                for (std::size_t i = 0; i < items.size(); ++i) out += (i ? delim : "") + text_of(items[i]);
            }
            return out;
        }
        if (fn == "If") {
            if (!arg.is_array() || arg.size() != 3) {
                warn(where, "malformed Fn::If " + arg.dump());
                return no_value;
            }
            return resolve(condition(text_of(arg[0]), where) ? arg[1] : arg[2], where);
        }
        if (fn == "Select") {
            const auto a = resolve(arg, where);
            if (a.is_array() && a.size() == 2 && a[1].is_array()) {
                const auto idx = static_cast<std::size_t>(std::stoul(text_of(a[0])));
                if (idx < a[1].size()) return a[1][idx];
            }
            warn(where, "Fn::Select out of range: " + arg.dump());
            return "";
        }
        if (fn == "Split") {
            const auto a = resolve(arg, where);
            json out = json::array();
            if (a.is_array() && a.size() == 2) {
                const auto delim = text_of(a[0]);
                const auto text = text_of(a[1]);
                std::size_t start = 0;
                while (!delim.empty()) {
                    const auto pos = text.find(delim, start);
                    out.push_back(text.substr(start, pos == std::string::npos ? std::string::npos : pos - start));
                    if (pos == std::string::npos) break;
                    start = pos + delim.size();
                }
            }
            return out;
        }
        if (fn == "FindInMap") {
            const auto a = resolve(arg, where);
            if (a.is_array() && a.size() == 3) {
                const auto m = mappings_.find(text_of(a[0]));
                if (m != mappings_.end() && m->contains(text_of(a[1])) && m->at(text_of(a[1])).contains(text_of(a[2]))) {
                    return m->at(text_of(a[1])).at(text_of(a[2]));
                }
            }
            warn(where, "Fn::FindInMap found nothing for " + arg.dump());
            return "";
        }
        if (fn == "Base64") return resolve(arg, where);  // the function sees the decoded value anyway
        if (fn == "Equals" || fn == "Not" || fn == "And" || fn == "Or") return truth(json{{"Fn::" + fn, arg}}, where);
        if (fn == "ToJsonString") return resolve(arg, where).dump();
        if (fn == "Length") {
            const auto a = resolve(arg, where);
            return a.is_array() ? static_cast<long long>(a.size()) : 0LL;
        }
        warn(where, "Fn::" + fn + " cannot be resolved locally; left as text");
        return arg.dump();
    }

    std::string substitute(const std::string& text, const std::map<std::string, json>& vars, const std::string& where) {
        std::string out;
        std::size_t i = 0;
        while (i < text.size()) {
            const auto open = text.find("${", i);
            if (open == std::string::npos) {
                out += text.substr(i);
                break;
            }
            out += text.substr(i, open - i);
            const auto close = text.find('}', open);
            if (close == std::string::npos) {
                out += text.substr(open);
                break;
            }
            const std::string name = text.substr(open + 2, close - open - 2);
            i = close + 1;
            if (!name.empty() && name[0] == '!') {  // ${!Literal} is written as ${Literal}
                out += "${" + name.substr(1) + "}";
                continue;
            }
            if (auto v = vars.find(name); v != vars.end()) {
                out += text_of(v->second);
            } else if (const auto dot = name.find('.'); dot != std::string::npos && resources_.contains(name.substr(0, dot))) {
                out += text_of(get_att(name.substr(0, dot), name.substr(dot + 1), where));
            } else {
                out += text_of(ref(name, where));
            }
        }
        return out;
    }

    bool truth(const json& c, const std::string& where) {
        if (c.is_boolean()) return c.get<bool>();
        if (c.is_string()) return c == "true";
        if (!c.is_object() || c.size() != 1) return false;
        const auto first = c.begin();
        const std::string key = first.key();
        const json& arg = first.value();
        if (key == "Condition") return condition(text_of(arg), where);
        if (key == "Fn::Equals" && arg.is_array() && arg.size() == 2) {
            return text_of(resolve(arg[0], where)) == text_of(resolve(arg[1], where));
        }
        if (key == "Fn::Not" && arg.is_array() && arg.size() == 1) return !truth(arg[0], where);
        if (key == "Fn::And" && arg.is_array()) {
            bool all = true;
            for (const auto& x : arg) all = truth(x, where) && all;
            return all;
        }
        if (key == "Fn::Or" && arg.is_array()) {
            bool any = false;
            for (const auto& x : arg) any = truth(x, where) || any;
            return any;
        }
        warn(where, "condition " + c.dump() + " cannot be evaluated; taken as false");
        return false;
    }

public:
    std::string bucket_name(const std::string& id) {
        const auto& res = resources_.at(id);
        if (auto p = res.find("Properties"); p != res.end() && p->is_object() && p->contains("BucketName")) {
            auto v = resolve(p->at("BucketName"), id);
            if (v.is_string()) return v.get<std::string>();
        }
        return id;  // without a BucketName, the bucket is known locally by its logical id
    }

private:
    const json& doc_;
    const load_options& options_;
    template_model& model_;
    json params_ = json::object();
    json resources_ = json::object();
    json mappings_ = json::object();
    json conditions_ = json::object();
    std::map<std::string, bool> evaluated_;
};

/// Globals merged under a resource's properties the SAM way: maps merge (the resource wins), lists
/// concatenate (globals first), anything else is the resource's own value.
json merge_globals(const json& global, const json& local) {
    if (global.is_object() && local.is_object()) {
        json out = global;
        for (const auto& [k, v] : local.items()) out[k] = out.contains(k) ? merge_globals(out[k], v) : v;
        return out;
    }
    if (global.is_array() && local.is_array()) {
        json out = global;
        for (const auto& v : local) out.push_back(v);
        return out;
    }
    return local;
}

std::optional<int> int_of(const json& j) {
    if (j.is_number_integer()) return j.get<int>();
    if (j.is_string()) {
        int v = 0;
        const auto& s = j.get_ref<const std::string&>();
        if (auto r = std::from_chars(s.data(), s.data() + s.size(), v); r.ec == std::errc() && r.ptr == s.data() + s.size()) {
            return v;
        }
    }
    return std::nullopt;
}

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

result<void> read_int(const json& props, const char* key, const std::string& id, int& out) {
    auto it = props.find(key);
    if (it == props.end() || it->is_null()) return {};
    auto v = int_of(*it);
    if (!v) return make_error(errc::validation, fmt::format("{}: {} must be a number, not {}", id, key, it->dump()));
    out = *v;
    return {};
}

result<void> read_events(const std::string& id, const json& events, function_spec& f, template_model& model) {
    if (!events.is_object()) return {};
    for (const auto& [name, ev] : events.items()) {
        event_source e;
        e.name = name;
        e.type = ev.value("Type", "");
        const json props = ev.contains("Properties") && ev.at("Properties").is_object() ? ev.at("Properties") : json::object();
        if (e.type == "Schedule" || e.type == "ScheduleV2") {
            e.schedule = text_of(props.value(e.type == "Schedule" ? "Schedule" : "ScheduleExpression", json("")));
            if (auto in = props.find("Input"); in != props.end() && !in->is_null()) e.input = in->is_string() ? in->get<std::string>() : in->dump();
            if (e.type == "Schedule") {
                if (auto en = props.find("Enabled"); en != props.end() && en->is_boolean()) e.enabled = en->get<bool>();
                if (auto st = props.find("State"); st != props.end() && st->is_string()) e.enabled = *st != "DISABLED";
            } else if (auto st = props.find("State"); st != props.end() && st->is_string()) {
                e.enabled = *st != "DISABLED";
            }
            e.rule_name = props.contains("Name") && props.at("Name").is_string() ? props.at("Name").get<std::string>()
                                                                                  : f.name + "-" + name;
            if (e.schedule.empty()) return make_error(errc::validation, fmt::format("{}: event {} has no schedule expression", id, name));
        } else if (e.type == "Api" || e.type == "HttpApi") {
            e.method = upper(text_of(props.value("Method", json("ANY"))));
            if (e.method == "X-AMAZON-APIGATEWAY-ANY-METHOD" || e.method == "*") e.method = "ANY";
            e.path = text_of(props.value("Path", json(e.type == "HttpApi" ? "$default" : "")));
            if (e.path.empty()) return make_error(errc::validation, fmt::format("{}: Api event {} has no Path", id, name));
            if (e.type == "HttpApi" && !props.contains("Path")) e.method = "ANY";
            const char* api_key = e.type == "Api" ? "RestApiId" : "ApiId";
            if (auto a = props.find(api_key); a != props.end() && a->is_string()) e.api_id = a->get<std::string>();
        } else if (e.type == "S3") {
            e.bucket = text_of(props.value("Bucket", json("")));
            if (auto evs = props.find("Events"); evs != props.end()) {
                if (evs->is_array()) {
                    for (const auto& x : *evs) e.s3_events.push_back(text_of(x));
                } else {
                    e.s3_events.push_back(text_of(*evs));
                }
            }
            if (auto rules = props.find("Filter"); rules != props.end() && rules->is_object()) {
                const auto key = rules->value("S3Key", json::object());
                for (const auto& rule : key.value("Rules", json::array())) {
                    const auto rn = upper(text_of(rule.value("Name", json(""))));
                    if (rn == "PREFIX") e.prefix = text_of(rule.value("Value", json("")));
                    if (rn == "SUFFIX") e.suffix = text_of(rule.value("Value", json("")));
                }
            }
        } else {
            model.warnings.push_back(fmt::format("{}: event {} of type {} is not supported yet; it is ignored", id, name,
                                                 e.type.empty() ? "(none)" : e.type));
            continue;
        }
        f.events.push_back(std::move(e));
    }
    return {};
}

result<code_source> code_from_path(const fs::path& base, const std::string& uri, const std::string& id) {
    if (uri.starts_with("s3://")) {
        return make_error(errc::validation, fmt::format("{}: code in S3 ({}) cannot be deployed locally; point it at a folder or ZIP", id, uri));
    }
    code_source c;
    c.path = fs::weakly_canonical(base / uri);
    std::error_code ec;
    if (fs::is_directory(c.path, ec)) {
        c.type = code_source::kind::folder;
    } else if (fs::is_regular_file(c.path, ec)) {
        c.type = code_source::kind::zip;
    } else {
        return make_error(errc::validation, fmt::format("{}: code {} does not exist", id, c.path.string()));
    }
    return c;
}

}  // namespace

result<json> yaml_to_json(std::string_view text) {
    try {
        const auto root = YAML::Load(std::string(text));
        return convert(root);
    } catch (const YAML::Exception& e) {
        return make_error(errc::validation, std::string("not a valid YAML or JSON template: ") + e.what());
    }
}

result<std::map<std::string, std::string>> parse_overrides(const std::vector<std::string>& items) {
    std::map<std::string, std::string> out;
    for (const auto& raw : items) {
        // The AWS CLI's long form: ParameterKey=K,ParameterValue=V
        if (raw.starts_with("ParameterKey=")) {
            const auto comma = raw.find(",ParameterValue=");
            if (comma == std::string::npos) return make_error(errc::validation, "--parameter-overrides: malformed " + raw);
            out[raw.substr(13, comma - 13)] = raw.substr(comma + 16);
            continue;
        }
        const auto eq = raw.find('=');
        if (eq == std::string::npos || eq == 0) {
            return make_error(errc::validation, "--parameter-overrides: '" + raw + "' is not KEY=VALUE");
        }
        out[raw.substr(0, eq)] = raw.substr(eq + 1);
    }
    return out;
}

result<template_model> parse(std::string_view text, const fs::path& base_dir, const load_options& options) {
    auto doc = yaml_to_json(text);
    if (!doc) return doc.error();
    if (!doc->is_object() || !doc->contains("Resources") || !doc->at("Resources").is_object()) {
        return make_error(errc::validation, "the template has no Resources section");
    }
    template_model model;
    model.base_dir = base_dir;
    resolver r(*doc, options, model);
    if (auto ok = r.init(); !ok) return ok.error();

    const json globals = doc->contains("Globals") && doc->at("Globals").is_object()
                             ? doc->at("Globals").value("Function", json::object())
                             : json::object();
    std::map<std::string, std::string> layer_ids;
    const auto& resources = doc->at("Resources");
    for (const auto& [id, res] : resources.items()) {
        const std::string type = res.is_object() ? res.value("Type", "") : "";
        if (res.is_object() && res.contains("Condition") && !r.condition(text_of(res.at("Condition")), id)) continue;
        if (type == "AWS::S3::Bucket") model.buckets[id] = r.bucket_name(id);
    }
    for (const auto& [id, res] : resources.items()) {
        const std::string type = res.is_object() ? res.value("Type", "") : "";
        if (res.is_object() && res.contains("Condition") && !r.condition(text_of(res.at("Condition")), id)) continue;
        const json raw_props = res.is_object() && res.contains("Properties") ? res.at("Properties") : json::object();
        if (type == "AWS::Serverless::LayerVersion" || type == "AWS::Lambda::LayerVersion") {
            const json props = r.resolve(raw_props, id);
            layer_spec l;
            l.logical_id = id;
            l.name = props.contains("LayerName") ? text_of(props.at("LayerName")) : id;
            l.description = props.contains("Description") ? text_of(props.at("Description")) : "";
            const json content = props.contains("ContentUri") ? props.at("ContentUri") : props.value("Content", json());
            if (content.is_string()) l.content = fs::weakly_canonical(base_dir / content.get<std::string>());
            for (const auto& rt : props.value("CompatibleRuntimes", json::array())) l.compatible_runtimes.push_back(text_of(rt));
            if (l.content.empty()) model.warnings.push_back(id + ": layer content is not a local folder or ZIP; skipped");
            else model.layers.push_back(std::move(l));
            continue;
        }
        if (type != "AWS::Serverless::Function" && type != "AWS::Lambda::Function") {
            if (type == "AWS::Serverless::Api" || type == "AWS::Serverless::HttpApi") {
                model.warnings.push_back(id + " (" + type + "): its routes are served on --api-listen; its own settings "
                                         "(authorizers, CORS, domains, models) are not applied");
            } else if (type != "AWS::S3::Bucket") {
                model.unknown.push_back(id + " (" + (type.empty() ? "no Type" : type) + ")");
            }
            continue;
        }
        function_spec f;
        f.logical_id = id;
        f.serverless = type == "AWS::Serverless::Function";
        const json props = r.resolve(f.serverless ? merge_globals(globals, raw_props) : raw_props, id);
        if (!props.is_object()) return make_error(errc::validation, id + ": Properties must be a map");
        f.name = props.contains("FunctionName") ? text_of(props.at("FunctionName")) : id;
        if (props.value("PackageType", "Zip") == "Image") {
            model.warnings.push_back(id + ": container image functions are not supported; skipped");
            continue;
        }
        f.handler = text_of(props.value("Handler", json("")));
        f.runtime = text_of(props.value("Runtime", json("")));
        f.description = text_of(props.value("Description", json("")));
        f.role = props.contains("Role") ? text_of(props.at("Role")) : "";
        if (f.role.empty() || !f.role.starts_with("arn:")) {
            f.role = fmt::format("arn:{}:iam::{}:role/{}-role", options.partition, options.account_id, id);
        }
        if (auto ok = read_int(props, "MemorySize", id, f.memory_mb); !ok) return ok.error();
        if (auto ok = read_int(props, "Timeout", id, f.timeout_s); !ok) return ok.error();
        if (auto es = props.find("EphemeralStorage"); es != props.end() && es->is_object()) {
            f.ephemeral_storage_mb = int_of(es->value("Size", json()));
        }
        if (auto env = props.find("Environment"); env != props.end() && env->is_object()) {
            const json vars = env->value("Variables", json::object());
            for (const auto& [k, v] : vars.items()) f.environment[k] = text_of(v);
        }
        for (const auto& a : props.value("Architectures", json::array())) f.architectures.push_back(text_of(a));
        if (auto a = props.find("AutoPublishAlias"); a != props.end() && a->is_string()) f.auto_publish_alias = a->get<std::string>();
        if (auto rc = props.find("ReservedConcurrentExecutions"); rc != props.end()) f.reserved_concurrency = int_of(*rc);
        if (auto pc = props.find("ProvisionedConcurrencyConfig"); pc != props.end() && pc->is_object()) {
            f.provisioned_concurrency = int_of(pc->value("ProvisionedConcurrentExecutions", json()));
            if (!f.auto_publish_alias) {
                model.warnings.push_back(id + ": ProvisionedConcurrencyConfig needs AutoPublishAlias; ignored");
                f.provisioned_concurrency.reset();
            }
        }
        if (auto u = props.find("FunctionUrlConfig"); u != props.end() && u->is_object()) f.url_config = *u;
        if (auto ei = props.find("EventInvokeConfig"); ei != props.end() && ei->is_object()) {
            json cfg = json::object();
            if (ei->contains("MaximumRetryAttempts")) cfg["MaximumRetryAttempts"] = int_of(ei->at("MaximumRetryAttempts")).value_or(2);
            if (ei->contains("MaximumEventAgeInSeconds")) cfg["MaximumEventAgeInSeconds"] = int_of(ei->at("MaximumEventAgeInSeconds")).value_or(21600);
            if (auto d = ei->find("DestinationConfig"); d != ei->end() && d->is_object()) {
                json dest = json::object();
                for (const char* k : {"OnSuccess", "OnFailure"}) {
                    if (auto x = d->find(k); x != d->end() && x->is_object() && x->contains("Destination")) {
                        dest[k] = json{{"Destination", text_of(x->at("Destination"))}};
                    }
                }
                if (!dest.empty()) cfg["DestinationConfig"] = dest;
            }
            f.event_invoke_config = cfg;
        }
        for (const auto& l : props.value("Layers", json::array())) {
            const auto s = text_of(l);
            if (s.starts_with("lambent-layer:")) f.layer_refs.push_back(s.substr(14));
            else f.layer_arns.push_back(s);
        }
        // Code
        if (f.serverless) {
            if (auto ic = props.find("InlineCode"); ic != props.end() && ic->is_string()) {
                f.code.type = code_source::kind::inline_code;
                f.code.text = ic->get<std::string>();
            } else {
                const json uri = props.value("CodeUri", json("."));
                if (!uri.is_string()) {
                    return make_error(errc::validation, id + ": CodeUri must be a local folder or ZIP (S3 locations cannot be deployed locally)");
                }
                auto c = code_from_path(base_dir, uri.get<std::string>(), id);
                if (!c) return c.error();
                f.code = std::move(*c);
            }
            if (auto ok = read_events(id, props.value("Events", json::object()), f, model); !ok) return ok.error();
            for (auto& e : f.events) {
                if (e.api_id.empty() || !resources.contains(e.api_id)) continue;
                const auto& api = resources.at(e.api_id);
                if (!api.is_object() || !api.contains("Properties")) continue;
                const json api_props = r.resolve(api.at("Properties"), e.api_id);
                if (api_props.is_object() && api_props.contains("StageName")) e.stage = text_of(api_props.at("StageName"));
            }
        } else {
            const json code = props.value("Code", json());
            if (code.is_string()) {
                auto c = code_from_path(base_dir, code.get<std::string>(), id);
                if (!c) return c.error();
                f.code = std::move(*c);
            } else if (code.is_object() && code.contains("ZipFile")) {
                f.code.type = code_source::kind::inline_code;
                f.code.text = text_of(code.at("ZipFile"));
            } else {
                return make_error(errc::validation, id + ": Code must be ZipFile (inline) or a local path; S3 and image code cannot be deployed locally");
            }
        }
        if (f.runtime.empty() || f.handler.empty()) {
            return make_error(errc::validation, id + ": Runtime and Handler are required (directly or in Globals)");
        }
        model.functions.push_back(std::move(f));
    }
    // Layer names and ARNs referenced but not in the template stay as they are; unknown logical ids are reported.
    for (const auto& f : model.functions) {
        for (const auto& ref : f.layer_refs) {
            const bool found = std::any_of(model.layers.begin(), model.layers.end(), [&](const layer_spec& l) { return l.logical_id == ref; });
            if (!found) model.warnings.push_back(f.logical_id + ": layer " + ref + " is not a deployable layer of the template");
        }
    }
    return model;
}

result<template_model> load(const fs::path& file, const load_options& options) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return make_error(errc::validation, "cannot read template " + file.string());
    std::stringstream text;
    text << in.rdbuf();
    const auto abs = fs::absolute(file);
    auto model = parse(text.str(), abs.parent_path(), options);
    if (!model) return make_error(errc::validation, file.string() + ": " + model.error().message);
    model->file = abs;
    return model;
}

}  // namespace lambent::sam
