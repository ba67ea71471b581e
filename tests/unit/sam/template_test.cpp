#include "lambent/sam/template.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace fs = std::filesystem;
using lambent::sam::load_options;
using lambent::sam::parse;
using lambent::sam::yaml_to_json;

namespace {

struct temp_dir {
    fs::path path;
    temp_dir() {
        char tmpl[] = "/tmp/lambent-sam-XXXXXX";
        path = ::mkdtemp(tmpl);
        fs::create_directories(path / "src");
        std::ofstream(path / "src/app.py") << "def handler(e, c):\n    return e\n";
    }
    ~temp_dir() { fs::remove_all(path); }
};

const char* sample = R"(
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: dev
  Memory:
    Type: Number
    Default: 256
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
Globals:
  Function:
    Runtime: python3.12
    Timeout: 7
    Environment:
      Variables:
        SHARED: from-globals
        STAGE: !Ref Stage
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub 'hello-${Stage}'
      CodeUri: src/
      Handler: app.handler
      MemorySize: !Ref Memory
      Environment:
        Variables:
          REGION: !Ref AWS::Region
          OTHER_ARN: !GetAtt Other.Arn
          JOINED: !Join ['-', [a, !Ref Stage, !Ref AWS::AccountId]]
          MODE: !If [IsProd, fast, slow]
          TABLE: !GetAtt Table.Arn
      Events:
        Tick:
          Type: Schedule
          Properties:
            Schedule: rate(1 minute)
            Input: '{"k": 1}'
        Get:
          Type: Api
          Properties:
            Path: /items/{id}
            Method: get
        Upload:
          Type: S3
          Properties:
            Bucket: !Ref Uploads
            Events: s3:ObjectCreated:*
            Filter:
              S3Key:
                Rules:
                  - Name: prefix
                    Value: in/
        Queue:
          Type: SQS
          Properties:
            Queue: arn:aws:sqs:us-east-1:000000000000:q
  Other:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      Role: arn:aws:iam::000000000000:role/r
      Code:
        ZipFile: |
          exports.handler = async () => 1;
  Uploads:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: uploads-bucket
  Table:
    Type: AWS::DynamoDB::Table
)";

}  // namespace

TEST(sam_yaml, short_tags_become_long_forms) {
    auto j = yaml_to_json("a: !Ref X\nb: !GetAtt F.Arn\nc: !Sub '${X}'\nd: !If [C, 1, 2]\ne: 5\nf: '5'\ng: true\n");
    ASSERT_TRUE(j) << j.error().message;
    EXPECT_EQ((*j)["a"], (nlohmann::json{{"Ref", "X"}}));
    EXPECT_EQ((*j)["b"], (nlohmann::json{{"Fn::GetAtt", {"F", "Arn"}}}));
    EXPECT_EQ((*j)["c"], (nlohmann::json{{"Fn::Sub", "${X}"}}));
    EXPECT_EQ((*j)["d"]["Fn::If"].size(), 3u);
    EXPECT_EQ((*j)["e"], 5);
    EXPECT_EQ((*j)["f"], "5");
    EXPECT_EQ((*j)["g"], true);
}

TEST(sam_yaml, only_canonical_integers_become_numbers) {
    auto j = yaml_to_json("a: 007\nb: 1.10\nc: -5\nd: 0\ne: 12abc\n");
    ASSERT_TRUE(j) << j.error().message;
    EXPECT_EQ((*j)["a"], "007");
    EXPECT_EQ((*j)["b"], "1.10");
    EXPECT_EQ((*j)["c"], -5);
    EXPECT_EQ((*j)["d"], 0);
    EXPECT_EQ((*j)["e"], "12abc");
}

TEST(sam_template, json_template_with_long_forms) {
    temp_dir t;
    auto m = parse(R"({
      "Parameters": {"Env": {"Type": "String", "Default": "qa"}, "Names": {"Type": "CommaDelimitedList", "Default": "a, b"}},
      "Mappings": {"Sizes": {"qa": {"Mem": 512}}},
      "Resources": {
        "Fn": {"Type": "AWS::Serverless::Function", "Properties": {
          "CodeUri": "src", "Runtime": "python3.12", "Handler": "app.handler",
          "MemorySize": {"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Mem"]},
          "Environment": {"Variables": {
            "A": {"Fn::Sub": ["${X}-${AWS::StackName}-${!Literal}", {"X": {"Ref": "Env"}}]},
            "B": {"Fn::Select": [1, {"Ref": "Names"}]},
            "C": {"Fn::Join": ["", {"Fn::Split": [",", "x,y"]}]}}}}}}})",
                   t.path, {});
    ASSERT_TRUE(m) << m.error().message;
    const auto& f = m->functions.at(0);
    EXPECT_EQ(f.memory_mb, 512);
    EXPECT_EQ(f.environment.at("A"), "qa-lambent-${Literal}");
    EXPECT_EQ(f.environment.at("B"), "b");
    EXPECT_EQ(f.environment.at("C"), "xy");
}

TEST(sam_yaml, json_templates_parse_too) {
    auto j = yaml_to_json(R"({"Resources": {"F": {"Type": "AWS::Serverless::Function", "Properties": {"MemorySize": 512}}}})");
    ASSERT_TRUE(j) << j.error().message;
    EXPECT_EQ((*j)["Resources"]["F"]["Properties"]["MemorySize"], 512);
}

TEST(sam_yaml, malformed_yaml_is_a_clear_error) {
    auto j = yaml_to_json("a: [1, 2\nb: 3");
    ASSERT_FALSE(j);
    EXPECT_NE(j.error().message.find("YAML"), std::string::npos);
    auto tag = yaml_to_json("a: !Bogus x");
    ASSERT_FALSE(tag);
    EXPECT_NE(tag.error().message.find("!Bogus"), std::string::npos);
}

TEST(sam_template, resolves_parameters_globals_and_intrinsics) {
    temp_dir t;
    load_options o;
    o.region = "eu-west-1";
    auto m = parse(sample, t.path, o);
    ASSERT_TRUE(m) << m.error().message;
    ASSERT_EQ(m->functions.size(), 2u);
    const auto& hello = m->functions[0].logical_id == "Hello" ? m->functions[0] : m->functions[1];
    const auto& other = m->functions[0].logical_id == "Other" ? m->functions[0] : m->functions[1];
    EXPECT_EQ(hello.name, "hello-dev");
    EXPECT_EQ(hello.runtime, "python3.12");
    EXPECT_EQ(hello.memory_mb, 256);
    EXPECT_EQ(hello.timeout_s, 7);
    EXPECT_EQ(hello.environment.at("SHARED"), "from-globals");
    EXPECT_EQ(hello.environment.at("STAGE"), "dev");
    EXPECT_EQ(hello.environment.at("REGION"), "eu-west-1");
    EXPECT_EQ(hello.environment.at("OTHER_ARN"), "arn:aws:lambda:eu-west-1:000000000000:function:Other");
    EXPECT_EQ(hello.environment.at("JOINED"), "a-dev-000000000000");
    EXPECT_EQ(hello.environment.at("MODE"), "slow");
    EXPECT_EQ(hello.code.type, lambent::sam::code_source::kind::folder);
    EXPECT_EQ(other.code.type, lambent::sam::code_source::kind::inline_code);
    EXPECT_EQ(other.timeout_s, 3);  // Globals apply to AWS::Serverless::Function only

    ASSERT_EQ(hello.events.size(), 3u);  // SQS is listed as a warning
    for (const auto& e : hello.events) {
        if (e.type == "Schedule") {
            EXPECT_EQ(e.schedule, "rate(1 minute)");
            EXPECT_EQ(e.input.value_or(""), R"({"k": 1})");
        } else if (e.type == "Api") {
            EXPECT_EQ(e.method, "GET");
            EXPECT_EQ(e.path, "/items/{id}");
        } else {
            EXPECT_EQ(e.type, "S3");
            EXPECT_EQ(e.bucket, "uploads-bucket");
            EXPECT_EQ(e.prefix, "in/");
            ASSERT_EQ(e.s3_events.size(), 1u);
        }
    }
    ASSERT_EQ(m->unknown.size(), 1u);
    EXPECT_EQ(m->unknown[0], "Table (AWS::DynamoDB::Table)");
    bool sqs = false, table_att = false;
    for (const auto& w : m->warnings) {
        sqs = sqs || w.find("SQS") != std::string::npos;
        table_att = table_att || w.find("Table.Arn") != std::string::npos;
    }
    EXPECT_TRUE(sqs);
    EXPECT_TRUE(table_att);
}

TEST(sam_template, overrides_and_conditions) {
    temp_dir t;
    load_options o;
    o.parameter_overrides = {{"Stage", "prod"}, {"Memory", "1024"}};
    auto m = parse(sample, t.path, o);
    ASSERT_TRUE(m) << m.error().message;
    for (const auto& f : m->functions) {
        if (f.logical_id != "Hello") continue;
        EXPECT_EQ(f.name, "hello-prod");
        EXPECT_EQ(f.memory_mb, 1024);
        EXPECT_EQ(f.environment.at("MODE"), "fast");
    }
}

TEST(sam_template, missing_parameter_and_missing_code_are_errors) {
    temp_dir t;
    auto m = parse("Parameters:\n  P:\n    Type: String\nResources:\n  F:\n    Type: AWS::Serverless::Function\n", t.path, {});
    ASSERT_FALSE(m);
    EXPECT_NE(m.error().message.find("--parameter-overrides P="), std::string::npos);
    auto code = parse("Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: nope/\n"
                      "      Runtime: python3.12\n      Handler: a.b\n",
                      t.path, {});
    ASSERT_FALSE(code);
    EXPECT_NE(code.error().message.find("does not exist"), std::string::npos);
}

TEST(sam_template, no_value_drops_the_property_and_layers_are_listed) {
    temp_dir t;
    fs::create_directories(t.path / "layer/python");
    auto m = parse(R"(
Resources:
  Lib:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layer/
      CompatibleRuntimes: [python3.12]
  F:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Runtime: python3.12
      Handler: app.handler
      Layers: [!Ref Lib, arn:aws:lambda:us-east-1:000000000000:layer:x:1]
      Description: !Ref AWS::NoValue
      AutoPublishAlias: live
      ProvisionedConcurrencyConfig:
        ProvisionedConcurrentExecutions: 1
      FunctionUrlConfig:
        AuthType: NONE
)",
                   t.path, {});
    ASSERT_TRUE(m) << m.error().message;
    ASSERT_EQ(m->functions.size(), 1u);
    const auto& f = m->functions[0];
    EXPECT_EQ(f.description, "");
    ASSERT_EQ(f.layer_refs.size(), 1u);
    EXPECT_EQ(f.layer_refs[0], "Lib");
    ASSERT_EQ(f.layer_arns.size(), 1u);
    ASSERT_EQ(m->layers.size(), 1u);
    EXPECT_EQ(m->layers[0].content, fs::weakly_canonical(t.path / "layer/"));
    EXPECT_EQ(f.auto_publish_alias.value_or(""), "live");
    EXPECT_EQ(f.provisioned_concurrency.value_or(0), 1);
    ASSERT_TRUE(f.url_config.has_value());
}

TEST(sam_template, parameter_overrides_forms) {
    auto o = lambent::sam::parse_overrides({"A=1", "ParameterKey=B,ParameterValue=x=y"});
    ASSERT_TRUE(o);
    EXPECT_EQ(o->at("A"), "1");
    EXPECT_EQ(o->at("B"), "x=y");
    EXPECT_FALSE(lambent::sam::parse_overrides({"novalue"}));
}

TEST(sam_template, api_resources_give_their_stage_and_are_not_unknown) {
    temp_dir t;
    auto m = parse(R"(
Resources:
  MyApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
  F:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Runtime: python3.12
      Handler: app.handler
      Events:
        Get:
          Type: Api
          Properties: {Path: /x, Method: get, RestApiId: !Ref MyApi}
        Any:
          Type: HttpApi
)",
                   t.path, {});
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_TRUE(m->unknown.empty());
    const auto& evs = m->functions.at(0).events;
    ASSERT_EQ(evs.size(), 2u);
    for (const auto& e : evs) {
        if (e.type == "Api") {
            EXPECT_EQ(e.api_id, "MyApi");
            EXPECT_EQ(e.stage, "v1");
        } else {
            EXPECT_EQ(e.path, "$default");
            EXPECT_EQ(e.method, "ANY");
        }
    }
    for (const auto& w : m->warnings) EXPECT_EQ(w.find("cannot be resolved"), std::string::npos) << w;
}
