#include "lambent/api/http_payload.hpp"

#include <gtest/gtest.h>

using lambent::api::http_event_context;
using lambent::api::payload_v1_event;
using lambent::api::payload_v1_response;
using lambent::api::payload_v2_event;
using lambent::api::payload_v2_response;
using nlohmann::json;
namespace bhttp = lambent::http::bhttp;

namespace {
lambent::http::request make(bhttp::verb m, const std::string& target, const std::string& body = {}) {
    lambent::http::request req{m, target, 11};
    req.set(bhttp::field::host, "localhost:3000");
    req.set("X-Multi", "a");
    req.insert("X-Multi", "b");
    req.body() = body;
    return req;
}
}  // namespace

TEST(http_payload, v1_event_follows_the_rest_api_shape) {
    auto req = make(bhttp::verb::get, "/items/7?q=1&q=2");
    http_event_context ctx;
    ctx.request_id = "rid";
    ctx.api_id = "abc123";
    ctx.account_id = "000000000000";
    ctx.stage = "Prod";
    ctx.resource = "/items/{id}";
    ctx.path_parameters = json{{"id", "7"}};
    const auto ev = payload_v1_event(req, lambent::http::parse_target(req.target()), "/items/7", ctx);
    EXPECT_EQ(ev["resource"], "/items/{id}");
    EXPECT_EQ(ev["httpMethod"], "GET");
    EXPECT_EQ(ev["headers"]["X-Multi"], "b");
    EXPECT_EQ(ev["multiValueHeaders"]["X-Multi"], json::array({"a", "b"}));
    EXPECT_EQ(ev["queryStringParameters"]["q"], "2");
    EXPECT_EQ(ev["multiValueQueryStringParameters"]["q"], json::array({"1", "2"}));
    EXPECT_EQ(ev["pathParameters"]["id"], "7");
    EXPECT_TRUE(ev["body"].is_null());
    EXPECT_TRUE(ev["stageVariables"].is_null());
    EXPECT_EQ(ev["requestContext"]["path"], "/Prod/items/7");

    auto bare = make(bhttp::verb::post, "/x", "hi");
    http_event_context none;
    const auto ev2 = payload_v1_event(bare, lambent::http::parse_target(bare.target()), "/x", none);
    EXPECT_TRUE(ev2["queryStringParameters"].is_null());
    EXPECT_TRUE(ev2["pathParameters"].is_null());
    EXPECT_EQ(ev2["body"], "hi");
}

TEST(http_payload, v1_response_mapping) {
    auto ok = payload_v1_response(
        R"({"statusCode": 404, "headers": {"a": "1", "b": "x"}, "multiValueHeaders": {"b": ["y", "z"]}, "body": "nope"})", "r");
    EXPECT_EQ(ok.result_int(), 404);
    EXPECT_EQ(ok.body(), "nope");
    EXPECT_EQ(ok["a"], "1");
    EXPECT_EQ(std::distance(ok.equal_range("b").first, ok.equal_range("b").second), 2);  // multiValueHeaders win
    EXPECT_EQ(ok[bhttp::field::content_type], "application/json");

    auto b64 = payload_v1_response(R"({"statusCode": 200, "body": "aGk=", "isBase64Encoded": true})", "r");
    EXPECT_EQ(b64.body(), "hi");

    for (const char* bad : {R"("just a string")", R"({"body": "no status"})", R"({"statusCode": 200, "body": {"x": 1}})", "not json"}) {
        auto res = payload_v1_response(bad, "r");
        EXPECT_EQ(res.result_int(), 502) << bad;
        EXPECT_EQ(res.body(), R"({"message": "Internal server error"})");
    }
}

TEST(http_payload, v2_event_and_response) {
    auto req = make(bhttp::verb::post, "/v2/a?x=1&x=2", std::string("\x00\x01", 2));
    req.set(bhttp::field::content_type, "application/octet-stream");
    req.set(bhttp::field::cookie, "a=1; b=2");
    http_event_context ctx;
    ctx.request_id = "rid";
    ctx.api_id = "api";
    ctx.route_key = "POST /v2/{proxy+}";
    ctx.path_parameters = json{{"proxy", "a"}};
    const auto ev = payload_v2_event(req, lambent::http::parse_target(req.target()), "/v2/a", ctx);
    EXPECT_EQ(ev["routeKey"], "POST /v2/{proxy+}");
    EXPECT_EQ(ev["headers"]["x-multi"], "a,b");
    EXPECT_EQ(ev["queryStringParameters"]["x"], "1,2");
    EXPECT_EQ(ev["cookies"], json::array({"a=1", "b=2"}));
    EXPECT_EQ(ev["pathParameters"]["proxy"], "a");
    EXPECT_EQ(ev["isBase64Encoded"], true);
    EXPECT_EQ(ev["body"], "AAE=");

    auto plain = payload_v2_response(R"({"hello": "world"})", "r");
    EXPECT_EQ(plain.result_int(), 200);
    EXPECT_EQ(plain.body(), R"({"hello": "world"})");
    auto full = payload_v2_response(R"({"statusCode": 201, "cookies": ["c=1"], "body": "x"})", "r");
    EXPECT_EQ(full.result_int(), 201);
    EXPECT_EQ(full[bhttp::field::set_cookie], "c=1");
    EXPECT_EQ(payload_v2_response(R"("text")", "r").body(), "text");
}
