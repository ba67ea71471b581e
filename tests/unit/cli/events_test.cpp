// src/cli is compiled into the `lambent` executable only (not lambent_core), so this test compiles the unit
// under test itself. One test file per included source keeps every symbol defined once.
#include "cli/events.cpp"

#include <gtest/gtest.h>

using namespace lambent::cli;
using nlohmann::json;

namespace {

/// 2024-05-01T12:34:56.789Z with fixed "random" ids.
event_context fixed_context() {
    return event_context{lambent::codec::sys_ms{std::chrono::milliseconds(1714566896789)},
                         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                         "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa"};
}

}  // namespace

TEST(events, s3_put_has_the_notification_shape) {
    s3_put_options o;
    o.bucket = "my-bucket";
    o.key = "photos/cat one ä.jpg";
    o.size = 2048;
    auto ev = s3_put_event(o, fixed_context());
    ASSERT_TRUE(ev.has_value()) << ev.error().message;
    ASSERT_EQ(ev->at("Records").size(), 1u);
    const auto& r = (*ev)["Records"][0];
    EXPECT_EQ(r.at("eventVersion"), "2.1");
    EXPECT_EQ(r.at("eventSource"), "aws:s3");
    EXPECT_EQ(r.at("awsRegion"), "us-east-1");
    EXPECT_EQ(r.at("eventTime"), "2024-05-01T12:34:56.789Z");
    EXPECT_EQ(r.at("eventName"), "ObjectCreated:Put");
    EXPECT_EQ(r.at("requestParameters").at("sourceIPAddress"), "127.0.0.1");
    EXPECT_EQ(r.at("responseElements").at("x-amz-request-id"), "89ABCDEF01234567");
    EXPECT_TRUE(r.at("responseElements").at("x-amz-id-2").is_string());
    const auto& s3 = r.at("s3");
    EXPECT_EQ(s3.at("s3SchemaVersion"), "1.0");
    EXPECT_EQ(s3.at("bucket").at("name"), "my-bucket");
    EXPECT_EQ(s3.at("bucket").at("arn"), "arn:aws:s3:::my-bucket");
    EXPECT_TRUE(s3.at("bucket").at("ownerIdentity").at("principalId").is_string());
    EXPECT_EQ(s3.at("object").at("key"), "photos/cat+one+%C3%A4.jpg");
    EXPECT_EQ(s3.at("object").at("size"), 2048);
    EXPECT_EQ(s3.at("object").at("eTag"), "0123456789abcdef0123456789abcdef");
    EXPECT_EQ(s3.at("object").at("sequencer"), "0123456789ABCDEF01");
    EXPECT_FALSE(s3.at("object").contains("versionId"));

    o.version_id = "096fKKXTRTtl3on89fVO.nfljtsv6qko";
    EXPECT_EQ(s3_put_event(o, fixed_context())->at("Records")[0]["s3"]["object"].at("versionId"),
              "096fKKXTRTtl3on89fVO.nfljtsv6qko");
}

TEST(events, s3_put_refuses_bad_buckets_and_empty_keys) {
    for (const char* bucket : {"ab", "Upper", "under_score", ""}) {
        s3_put_options o;
        o.bucket = bucket;
        auto ev = s3_put_event(o, fixed_context());
        ASSERT_FALSE(ev.has_value()) << bucket;
        EXPECT_EQ(ev.error().code, lambent::errc::validation);
    }
    s3_put_options o;
    o.key = "";
    EXPECT_FALSE(s3_put_event(o, fixed_context()).has_value());
}

TEST(events, s3_key_encoding) {
    EXPECT_EQ(s3_key_encode("a/b-c_d.e~f*g"), "a/b-c_d.e~f*g");
    EXPECT_EQ(s3_key_encode("a b+c"), "a+b%2Bc");
    EXPECT_EQ(s3_key_encode("x=1&y"), "x%3D1%26y");
}

TEST(events, apigw_v2_request_shape) {
    apigw_v2_options o;
    o.method = "post";
    o.path = "/items/42?q=x&q=y&e=a%20b";
    o.headers = {"X-Custom: one", "x-custom=two", "Cookie: a=1; b=2", "User-Agent: curl/8.0"};
    o.body = R"({"a":1})";
    auto ev = apigw_v2_event(o, fixed_context());
    ASSERT_TRUE(ev.has_value()) << ev.error().message;
    const auto& e = *ev;
    EXPECT_EQ(e.at("version"), "2.0");
    EXPECT_EQ(e.at("routeKey"), "$default");
    EXPECT_EQ(e.at("rawPath"), "/items/42");
    EXPECT_EQ(e.at("rawQueryString"), "q=x&q=y&e=a%20b");
    EXPECT_EQ(e.at("cookies"), json::array({"a=1", "b=2"}));
    const auto& h = e.at("headers");
    EXPECT_EQ(h.at("x-custom"), "one,two");
    EXPECT_EQ(h.at("user-agent"), "curl/8.0");
    EXPECT_EQ(h.at("content-type"), "application/json");
    EXPECT_EQ(h.at("content-length"), "7");
    EXPECT_EQ(h.at("host"), "0123456789.execute-api.us-east-1.amazonaws.com");
    EXPECT_EQ(h.at("x-forwarded-proto"), "https");
    EXPECT_FALSE(h.contains("cookie"));
    EXPECT_EQ(e.at("queryStringParameters"), (json{{"q", "x,y"}, {"e", "a b"}}));
    const auto& rc = e.at("requestContext");
    EXPECT_EQ(rc.at("accountId"), "000000000000");
    EXPECT_EQ(rc.at("apiId"), "0123456789");
    EXPECT_EQ(rc.at("domainName"), "0123456789.execute-api.us-east-1.amazonaws.com");
    EXPECT_EQ(rc.at("domainPrefix"), "0123456789");
    EXPECT_EQ(rc.at("http"), (json{{"method", "POST"},
                                   {"path", "/items/42"},
                                   {"protocol", "HTTP/1.1"},
                                   {"sourceIp", "127.0.0.1"},
                                   {"userAgent", "curl/8.0"}}));
    EXPECT_EQ(rc.at("routeKey"), "$default");
    EXPECT_EQ(rc.at("stage"), "$default");
    EXPECT_EQ(rc.at("time"), "01/May/2024:12:34:56 +0000");
    EXPECT_EQ(rc.at("timeEpoch"), 1714566896789);
    EXPECT_TRUE(rc.at("requestId").is_string());
    EXPECT_EQ(e.at("body"), R"({"a":1})");
    EXPECT_EQ(e.at("isBase64Encoded"), false);
    EXPECT_FALSE(e.contains("pathParameters"));
    EXPECT_FALSE(e.contains("stageVariables"));
}

TEST(events, apigw_v2_leaves_out_empty_members_and_base64s_binary_bodies) {
    apigw_v2_options bare;
    auto ev = apigw_v2_event(bare, fixed_context());
    ASSERT_TRUE(ev.has_value());
    EXPECT_FALSE(ev->contains("cookies"));
    EXPECT_FALSE(ev->contains("queryStringParameters"));
    EXPECT_FALSE(ev->contains("body"));
    EXPECT_EQ(ev->at("rawQueryString"), "");
    EXPECT_EQ(ev->at("isBase64Encoded"), false);
    EXPECT_EQ(ev->at("requestContext").at("http").at("method"), "GET");

    apigw_v2_options bin;
    bin.method = "PUT";
    bin.headers = {"Content-Type: application/octet-stream"};
    bin.body = std::string("\x01\x02hi", 4);
    auto b = apigw_v2_event(bin, fixed_context());
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(b->at("body"), "AQJoaQ==");
    EXPECT_EQ(b->at("isBase64Encoded"), true);

    apigw_v2_options text;
    text.body = "plain words";
    auto t = apigw_v2_event(text, fixed_context());
    EXPECT_EQ(t->at("headers").at("content-type"), "text/plain");
    EXPECT_EQ(t->at("body"), "plain words");
}

TEST(events, apigw_v2_refuses_malformed_options) {
    const auto fails = [](apigw_v2_options o) {
        auto ev = apigw_v2_event(o, fixed_context());
        return !ev.has_value() && ev.error().code == lambent::errc::validation;
    };
    apigw_v2_options o;
    o.headers = {"no separator"};
    EXPECT_TRUE(fails(o));
    o.headers = {": empty name"};
    EXPECT_TRUE(fails(o));
    apigw_v2_options m;
    m.method = "GE T";
    EXPECT_TRUE(fails(m));
    apigw_v2_options p;
    p.path = "items";
    EXPECT_TRUE(fails(p));
    apigw_v2_options q;
    q.query = "a=%zz";
    EXPECT_TRUE(fails(q));
}

TEST(events, schedule_is_an_eventbridge_scheduled_event) {
    schedule_options o;
    o.rule = "nightly";
    o.region = "eu-west-1";
    o.account = "123456789012";
    auto ev = schedule_event(o, fixed_context());
    ASSERT_TRUE(ev.has_value());
    EXPECT_EQ(*ev, (json{{"version", "0"},
                         {"id", "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa"},
                         {"detail-type", "Scheduled Event"},
                         {"source", "aws.events"},
                         {"account", "123456789012"},
                         {"time", "2024-05-01T12:34:56Z"},
                         {"region", "eu-west-1"},
                         {"resources", {"arn:aws:events:eu-west-1:123456789012:rule/nightly"}},
                         {"detail", json::object()}}));
    o.rule = "bad rule";
    EXPECT_FALSE(schedule_event(o, fixed_context()).has_value());
}

TEST(events, random_context_differs_between_events) {
    const auto a = random_event_context();
    const auto b = random_event_context();
    EXPECT_EQ(a.random_hex_64.size(), 64u);
    EXPECT_NE(a.random_hex_64, b.random_hex_64);
    EXPECT_NE(a.uuid, b.uuid);
}
