#include "lambent/model/layer.hpp"

#include <gtest/gtest.h>

using lambent::errc;
using nlohmann::json;
using namespace lambent::model;

namespace {
const std::string a1 = "arn:aws:lambda:us-east-1:000000000000:layer:a:1";
const std::string a2 = "arn:aws:lambda:us-east-1:000000000000:layer:a:2";
const std::string b1 = "arn:aws:lambda:us-east-1:000000000000:layer:b:1";
}  // namespace

TEST(layers, function_layers_table) {
    auto absent = decode_function_layers(json::object());
    ASSERT_TRUE(absent.has_value());
    EXPECT_FALSE(absent->has_value());
    auto empty = decode_function_layers(json{{"Layers", json::array()}});
    ASSERT_TRUE(empty.has_value() && empty->has_value());
    EXPECT_TRUE((*empty)->empty());
    auto two = decode_function_layers(json{{"Layers", {a1, b1}}});
    ASSERT_TRUE(two.has_value());
    EXPECT_EQ(**two, (std::vector<std::string>{a1, b1}));

    auto bad = decode_function_layers(json{{"Layers", {"arn:aws:lambda:us-east-1:000000000000:layer:a"}}});
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().code, errc::validation);
    EXPECT_NE(bad.error().message.find("at 'layers' failed to satisfy constraint"), std::string::npos);

    std::vector<std::string> six;
    for (int i = 0; i < 6; ++i) six.push_back("arn:aws:lambda:us-east-1:000000000000:layer:l" + std::to_string(i) + ":1");
    auto many = decode_function_layers(json{{"Layers", six}});
    ASSERT_FALSE(many.has_value());
    EXPECT_EQ(many.error().code, errc::invalid_parameter_value);
    EXPECT_EQ(many.error().message, "Cannot reference more than 5 layers.");

    auto twice = decode_function_layers(json{{"Layers", {a1, b1, a2}}});
    ASSERT_FALSE(twice.has_value());
    EXPECT_EQ(twice.error().message,
              "Two different versions of the same layer are not allowed to be referenced in the same function. " + a1 +
                  " and " + a2 + " are versions of the same layer.");

    auto not_strings = decode_function_layers(json{{"Layers", {1}}});
    ASSERT_FALSE(not_strings.has_value());
    EXPECT_EQ(not_strings.error().code, errc::invalid_request_content);
}

TEST(layers, names_arns_and_version_numbers) {
    account_context acct;
    EXPECT_EQ(*parse_layer_name("deps", acct), "deps");
    EXPECT_EQ(*parse_layer_name("arn:aws:lambda:us-east-1:000000000000:layer:deps", acct), "deps");
    EXPECT_EQ(parse_layer_name("arn:aws:lambda:eu-west-1:000000000000:layer:deps", acct).error().code,
              errc::resource_not_found);
    EXPECT_EQ(parse_layer_name("bad name", acct).error().code, errc::validation);
    EXPECT_EQ(parse_layer_name(std::string(141, 'a'), acct).error().code, errc::validation);
    EXPECT_EQ(*parse_layer_version_number("12"), 12);
    EXPECT_FALSE(parse_layer_version_number("x").has_value());
    EXPECT_FALSE(parse_layer_version_number("").has_value());
    auto ref = parse_layer_version_arn(b1, "arn");
    ASSERT_TRUE(ref.has_value());
    EXPECT_EQ(ref->name, "b");
    EXPECT_EQ(ref->version, 1);
    EXPECT_EQ(layer_version_arn(acct, "b", 1), b1);
}

TEST(layers, publish_request_and_wire_shapes) {
    auto req = decode_publish_layer(json{{"Content", {{"ZipFile", "UEs="}}},
                                         {"CompatibleRuntimes", {"python3.12"}},
                                         {"CompatibleArchitectures", {"arm64"}},
                                         {"LicenseInfo", "MIT"}});
    ASSERT_TRUE(req.has_value()) << req.error().message;
    EXPECT_EQ(req->zip, "PK");
    EXPECT_EQ(decode_publish_layer(json{{"Content", {{"S3Bucket", "b"}, {"S3Key", "k"}}}}).error().code,
              errc::invalid_parameter_value);
    EXPECT_EQ(decode_publish_layer(json::object()).error().message,
              "1 validation error detected: Value null at 'content' failed to satisfy constraint: Member must not be null");
    EXPECT_EQ(decode_publish_layer(json{{"Content", {{"ZipFile", "UEs="}}}, {"CompatibleRuntimes", {"cobol"}}})
                  .error()
                  .code,
              errc::validation);
    EXPECT_EQ(decode_publish_layer(json{{"Content", {{"ZipFile", "UEs="}}}, {"CompatibleArchitectures", {"a", "b", "c"}}})
                  .error()
                  .code,
              errc::validation);

    layer_version_record l = req->record;
    l.name = "deps";
    l.version = 3;
    l.code_sha256_hex = std::string(64, '0');
    l.code_size = 2;
    account_context acct;
    const json wire = to_wire(l, acct, "127.0.0.1:9400");
    EXPECT_EQ(wire["LayerArn"], "arn:aws:lambda:us-east-1:000000000000:layer:deps");
    EXPECT_EQ(wire["LayerVersionArn"], "arn:aws:lambda:us-east-1:000000000000:layer:deps:3");
    EXPECT_EQ(wire["Version"], 3);
    EXPECT_EQ(wire["Content"]["CodeSize"], 2);
    EXPECT_EQ(wire["CompatibleArchitectures"], json({"arm64"}));
    EXPECT_FALSE(to_list_item(l, acct).contains("Content"));
    EXPECT_TRUE(layer_matches(l, std::string("python3.12"), std::string("arm64")));
    EXPECT_FALSE(layer_matches(l, std::string("python3.11"), std::nullopt));
    EXPECT_FALSE(layer_matches(l, std::nullopt, std::string("x86_64")));
    const auto back = layer_from_storage(to_storage(l));
    EXPECT_EQ(to_wire(back, acct, "h"), to_wire(l, acct, "h"));
}
