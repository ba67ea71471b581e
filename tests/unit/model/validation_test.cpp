#include "lambent/model/validation.hpp"

#include <gtest/gtest.h>

using lambent::errc;
using nlohmann::json;
namespace model = lambent::model;

namespace {
const model::account_context test_account;

json create_body() {
    return json{{"FunctionName", "fn"},
                {"Runtime", "python3.12"},
                {"Handler", "app.handler"},
                {"Role", "arn:aws:iam::000000000000:role/r"},
                {"Code", {{"ZipFile", "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}}}};
}
}  // namespace

struct name_case {
    const char* input;
    const char* name;
    const char* qualifier;  // nullptr: none
};

class parse_name_ok : public ::testing::TestWithParam<name_case> {};

TEST_P(parse_name_ok, accepts_every_documented_form) {
    const auto& c = GetParam();
    auto ref = model::parse_function_name(c.input, model::name_shape::namespaced, test_account);
    ASSERT_TRUE(ref.has_value()) << ref.error().message;
    EXPECT_EQ(ref->name, c.name);
    if (c.qualifier == nullptr) {
        EXPECT_FALSE(ref->qualifier.has_value());
    } else {
        ASSERT_TRUE(ref->qualifier.has_value());
        EXPECT_EQ(*ref->qualifier, c.qualifier);
    }
}

INSTANTIATE_TEST_SUITE_P(table, parse_name_ok,
                         ::testing::Values(name_case{"my-fn", "my-fn", nullptr}, name_case{"my-fn:PROD", "my-fn", "PROD"},
                                           name_case{"my_fn:$LATEST", "my_fn", "$LATEST"},
                                           name_case{"000000000000:function:my-fn", "my-fn", nullptr},
                                           name_case{"000000000000:function:my-fn:7", "my-fn", "7"},
                                           name_case{"arn:aws:lambda:us-east-1:000000000000:function:my-fn", "my-fn", nullptr},
                                           name_case{"arn:aws:lambda:us-east-1:123456789012:function:f:live", "f", "live"}));

TEST(parse_name, rejects_with_aws_messages) {
    const std::string long_name(65, 'a');
    auto r = model::parse_function_name(long_name, model::name_shape::function_name, test_account);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, errc::validation);
    EXPECT_EQ(r.error().message, "1 validation error detected: Value '" + long_name +
                                     "' at 'functionName' failed to satisfy constraint: Member must have length less "
                                     "than or equal to 64");

    // A dot is allowed in a namespaced name (Get, Invoke…), not in a FunctionName (Create).
    EXPECT_TRUE(model::parse_function_name("my.fn", model::name_shape::namespaced, test_account).has_value());
    r = model::parse_function_name("my.fn", model::name_shape::function_name, test_account);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("Member must satisfy regular expression pattern"), std::string::npos);

    r = model::parse_function_name("bad name!", model::name_shape::function_name, test_account);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("Member must satisfy regular expression pattern"), std::string::npos);

    r = model::parse_function_name("arn:aws:lambda:eu-west-1:000000000000:function:f", model::name_shape::namespaced, test_account);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, errc::resource_not_found);
    EXPECT_EQ(r.error().message, "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')");

    r = model::parse_function_name("", model::name_shape::namespaced, test_account);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, errc::validation);
}

TEST(merge_qualifier, name_and_query_must_agree) {
    model::function_ref ref{"f", std::string("1")};
    EXPECT_EQ(**model::merge_qualifier(ref, std::nullopt), "1");
    EXPECT_EQ(**model::merge_qualifier(ref, std::string("1")), "1");
    auto bad = model::merge_qualifier(ref, std::string("2"));
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().message, "The derived qualifier from the function name does not match the specified qualifier.");
}

TEST(decode_create, accepts_a_minimal_body_with_defaults) {
    auto r = model::decode_create_function(create_body(), test_account);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->record.name, "fn");
    EXPECT_EQ(r->record.timeout_s, 3);
    EXPECT_EQ(r->record.memory_mb, 128);
    EXPECT_EQ(r->record.ephemeral_storage_mb, 512);
    EXPECT_EQ(r->record.architecture, "x86_64");
    EXPECT_FALSE(r->zip.empty());
}

struct create_case {
    const char* label;
    json patch;  // merged into the minimal body; null values remove the member
    errc code;
    const char* message;  // exact, or a substring when it starts with '~'
};

class decode_create_rejects : public ::testing::TestWithParam<create_case> {};

TEST_P(decode_create_rejects, with_the_aws_error) {
    const auto& c = GetParam();
    json body = create_body();
    body.merge_patch(c.patch);
    auto r = model::decode_create_function(body, test_account);
    ASSERT_FALSE(r.has_value()) << c.label;
    EXPECT_EQ(r.error().code, c.code) << c.label << ": " << r.error().message;
    const std::string want = c.message;
    if (want.front() == '~') {
        EXPECT_NE(r.error().message.find(want.substr(1)), std::string::npos) << r.error().message;
    } else {
        EXPECT_EQ(r.error().message, want);
    }
}

INSTANTIATE_TEST_SUITE_P(
    table, decode_create_rejects,
    ::testing::Values(
        create_case{"memory low", {{"MemorySize", 64}}, errc::validation,
                    "1 validation error detected: Value '64' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128"},
        create_case{"memory high", {{"MemorySize", 10241}}, errc::invalid_parameter_value, "~less than or equal to 10240"},
        create_case{"timeout zero", {{"Timeout", 0}}, errc::validation,
                    "1 validation error detected: Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1"},
        create_case{"timeout high", {{"Timeout", 901}}, errc::invalid_parameter_value, "~less than or equal to 900"},
        create_case{"two errors", {{"Timeout", 0}, {"MemorySize", 1}}, errc::validation, "~2 validation errors detected: "},
        create_case{"architectures", {{"Architectures", {"x86_64", "arm64"}}}, errc::validation,
                    "1 validation error detected: Value '[x86_64, arm64]' at 'architectures' failed to satisfy constraint: Member must have length less than or equal to 1"},
        create_case{"unknown runtime", {{"Runtime", "PYTHON3.9"}}, errc::invalid_parameter_value,
                    "~Value PYTHON3.9 at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: ["},
        create_case{"deprecated runtime", {{"Runtime", "python3.7"}}, errc::invalid_parameter_value,
                    "~The runtime parameter of python3.7 is no longer supported"},
        create_case{"reserved env", {{"Environment", {{"Variables", {{"AWS_REGION", "x"}}}}}}, errc::invalid_parameter_value,
                    "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: AWS_REGION"},
        create_case{"env too big", {{"Environment", {{"Variables", {{"BIG", std::string(5000, 'x')}}}}}}, errc::invalid_parameter_value,
                    "~exceeded the 4KB limit"},
        create_case{"bad env key", {{"Environment", {{"Variables", {{"1x", "v"}}}}}}, errc::validation, "~'environment.variables'"},
        create_case{"missing role", {{"Role", nullptr}}, errc::validation,
                    "1 validation error detected: Value null at 'role' failed to satisfy constraint: Member must not be null"},
        create_case{"bad role", {{"Role", "not-a-role"}}, errc::validation, "~at 'role' failed to satisfy constraint"},
        create_case{"missing handler", {{"Handler", nullptr}}, errc::invalid_parameter_value,
                    "Runtime and Handler are mandatory parameters for functions created with deployment packages."},
        create_case{"s3 code", {{"Code", {{"S3Bucket", "b"}, {"S3Key", "k"}}}}, errc::invalid_parameter_value, "~not supported"},
        create_case{"image", {{"Code", {{"ImageUri", "x"}}}}, errc::invalid_parameter_value, "~not supported"},
        create_case{"not base64", {{"Code", {{"ZipFile", "***"}}}}, errc::invalid_parameter_value, "~Could not unzip uploaded file"},
        create_case{"wrong type", {{"MemorySize", "lots"}}, errc::invalid_request_content, "~MemorySize"},
        create_case{"bad name", {{"FunctionName", "no spaces"}}, errc::invalid_parameter_value, "~regular expression pattern"}),
    [](const auto& p) {
        std::string name = p.param.label;
        for (auto& ch : name) if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
        return name;
    });

TEST(decode_update_configuration, applies_only_present_members) {
    model::function_record f;
    f.handler = "a.b";
    f.memory_mb = 256;
    auto u = model::decode_update_configuration(json{{"Timeout", 30}, {"Environment", {{"Variables", {{"KEY", "v"}}}}}});
    ASSERT_TRUE(u.has_value()) << u.error().message;
    model::apply_configuration(f, *u);
    EXPECT_EQ(f.timeout_s, 30);
    EXPECT_EQ(f.memory_mb, 256);
    EXPECT_EQ(f.handler, "a.b");
    ASSERT_TRUE(f.environment.has_value());
    EXPECT_EQ(f.environment->at("KEY"), "v");
}

TEST(to_wire, function_configuration_has_every_always_field) {
    model::function_record f;
    f.name = "fn";
    f.runtime = "python3.12";
    f.handler = "app.handler";
    f.role = "arn:aws:iam::000000000000:role/r";
    f.code_sha256_hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    f.last_modified_ms = 1714566896789;
    f.revision_id = "r1";
    const auto j = model::to_wire(f, test_account, model::fc_view::get);
    for (const char* key : {"FunctionName", "FunctionArn", "Runtime", "Role", "Handler", "CodeSize", "Description",
                            "Timeout", "MemorySize", "LastModified", "CodeSha256", "Version", "TracingConfig",
                            "RevisionId", "State", "LastUpdateStatus", "PackageType", "Architectures",
                            "EphemeralStorage", "SnapStart", "LoggingConfig"}) {
        EXPECT_TRUE(j.contains(key)) << key;
    }
    EXPECT_EQ(j["LastModified"], "2024-05-01T12:34:56.789+0000");
    EXPECT_EQ(j["CodeSha256"], "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
    EXPECT_EQ(j["FunctionArn"], "arn:aws:lambda:us-east-1:000000000000:function:fn");
    EXPECT_EQ(j["LoggingConfig"]["LogGroup"], "/aws/lambda/fn");
    EXPECT_FALSE(j.contains("Environment"));
    const auto listed = model::to_wire(f, test_account, model::fc_view::list);
    EXPECT_FALSE(listed.contains("State"));
    EXPECT_FALSE(listed.contains("LastUpdateStatus"));
    const auto created = model::to_wire(f, test_account, model::fc_view::create);
    EXPECT_EQ(created["State"], "Pending");
    EXPECT_FALSE(created.contains("LastUpdateStatus"));
}

TEST(storage, round_trips_a_record) {
    model::function_record f;
    f.name = "fn";
    f.runtime = "nodejs20.x";
    f.environment = std::map<std::string, std::string>{{"A", "1"}};
    f.tags = {{"team", "x"}};
    f.code_sha256_hex = "00";
    f.logging.log_format = "JSON";
    f.logging.application_log_level = "DEBUG";
    f.echoed["KMSKeyArn"] = "arn:aws:kms:us-east-1:000000000000:key/k";
    const auto back = model::from_storage(model::to_storage(f));
    EXPECT_EQ(model::to_storage(back), model::to_storage(f));
}
