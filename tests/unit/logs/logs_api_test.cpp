#include "lambent/logs/logs_api.hpp"

#include "lambent/logs/log_stream.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <sys/resource.h>
#include <unistd.h>

using lambent::logs::filter_pattern;
using lambent::logs::logs_api;
using lambent::logs::logs_options;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

using event = std::pair<std::int64_t, std::string>;

constexpr std::int64_t t0 = 1'764'806'400'000;  // 2025-12-04T00:00:00Z

class logs_api_test : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = fs::temp_directory_path() /
                ("lambent-logs-test-" + std::to_string(::getpid()) + "-" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(root_);
        fs::create_directories(root_);
    }
    void TearDown() override { fs::remove_all(root_); }

    /// Writes a stream file exactly as log_stream does; `partial` is a trailing line without newline.
    fs::path write_stream(const std::string& function, const std::string& stream, const std::vector<event>& events,
                          const std::string& partial = "") {
        const auto dir = root_ / function;
        fs::create_directories(dir);
        const auto path = dir / lambent::logs::stream_file_name(stream);
        std::ofstream out(path, std::ios::binary | std::ios::app);
        if (fs::file_size(path) == 0) out << "#stream\t" << stream << "\n";
        for (const auto& [ts, msg] : events) out << ts << "\t" << msg << "\n";
        out << partial;
        return path;
    }

    logs_api api(int retention_days = 0) const {
        return logs_api(logs_options{root_, "eu-west-1", "123456789012", retention_days});
    }

    static json ok(const logs_api::reply& r) {
        EXPECT_EQ(r.status, 200u) << r.body;
        EXPECT_EQ(r.error_type, "") << r.body;
        return json::parse(r.body);
    }

    static void expect_error(const logs_api::reply& r, unsigned status, const std::string& type,
                             const std::string& message) {
        EXPECT_EQ(r.status, status) << r.body;
        EXPECT_EQ(r.error_type, type) << r.body;
        const auto body = json::parse(r.body);
        EXPECT_EQ(body.at("__type"), type);
        EXPECT_EQ(body.at("message"), message);
    }

    static std::vector<std::string> messages(const json& events) {
        std::vector<std::string> out;
        for (const auto& e : events) out.push_back(e.at("message"));
        return out;
    }

    fs::path root_;
};

std::string stream_name(char c) { return "2025/12/04/[$LATEST]" + std::string(32, c); }

std::vector<event> numbered(int n, std::int64_t start = t0, std::int64_t step = 10, const std::string& prefix = "line ") {
    std::vector<event> out;
    for (int i = 0; i < n; ++i) out.emplace_back(start + i * step, prefix + std::to_string(i));
    return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// DescribeLogGroups

TEST_F(logs_api_test, describe_log_groups_lists_function_directories_with_aws_fields) {
    const auto a = write_stream("alpha", stream_name('a'), numbered(3));
    write_stream("beta", stream_name('b'), numbered(1));
    fs::create_directories(root_ / "not a function");  // not a valid function name: not a group
    const auto res = ok(api(7).handle("DescribeLogGroups", "{}"));
    ASSERT_EQ(res.at("logGroups").size(), 2u);
    const auto& g = res["logGroups"][0];
    EXPECT_EQ(g.at("logGroupName"), "/aws/lambda/alpha");
    EXPECT_EQ(g.at("arn"), "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/alpha:*");
    EXPECT_EQ(g.at("logGroupArn"), "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/alpha");
    EXPECT_EQ(g.at("storedBytes"), fs::file_size(a));
    EXPECT_EQ(g.at("retentionInDays"), 7);
    EXPECT_TRUE(g.at("creationTime").is_number_integer());
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    EXPECT_NEAR(g.at("creationTime").get<double>(), static_cast<double>(now), 600'000.0);
    EXPECT_EQ(res["logGroups"][1].at("logGroupName"), "/aws/lambda/beta");
    EXPECT_FALSE(res.contains("nextToken"));
    EXPECT_FALSE(ok(api().handle("DescribeLogGroups", "")).at("logGroups")[0].contains("retentionInDays"));
}

TEST_F(logs_api_test, describe_log_groups_prefix_limit_and_pages) {
    for (const char* f : {"fa", "fb", "fc", "fd", "other"}) write_stream(f, stream_name('a'), numbered(1));
    const auto prefixed = ok(api().handle("DescribeLogGroups", R"({"logGroupNamePrefix":"/aws/lambda/f"})"));
    EXPECT_EQ(prefixed.at("logGroups").size(), 4u);

    std::vector<std::string> seen;
    std::string token;
    for (int page = 0; page < 10; ++page) {
        json req = {{"limit", 2}};
        if (!token.empty()) req["nextToken"] = token;
        const auto res = ok(api().handle("DescribeLogGroups", req.dump()));
        for (const auto& g : res.at("logGroups")) seen.push_back(g.at("logGroupName"));
        if (!res.contains("nextToken")) break;
        token = res["nextToken"];
    }
    EXPECT_EQ(seen, (std::vector<std::string>{"/aws/lambda/fa", "/aws/lambda/fb", "/aws/lambda/fc", "/aws/lambda/fd",
                                              "/aws/lambda/other"}));
}

TEST_F(logs_api_test, describe_log_groups_without_logs_dir_is_empty) {
    fs::remove_all(root_);
    EXPECT_EQ(ok(api().handle("DescribeLogGroups", "{}")).at("logGroups"), json::array());
}

// ---------------------------------------------------------------------------------------------
// DescribeLogStreams

TEST_F(logs_api_test, describe_log_streams_fields_and_orders) {
    write_stream("fn", stream_name('b'), {{t0 + 5, "x"}, {t0 + 50, "y"}});
    write_stream("fn", stream_name('a'), {{t0 + 1, "x"}, {t0 + 100, "y"}});
    write_stream("fn", stream_name('c'), {{t0 + 2, "x"}, {t0 + 10, "y"}});
    const std::string group = R"("logGroupName":"/aws/lambda/fn")";

    const auto by_name = ok(api().handle("DescribeLogStreams", "{" + group + "}"));
    ASSERT_EQ(by_name.at("logStreams").size(), 3u);
    const auto& s = by_name["logStreams"][0];
    EXPECT_EQ(s.at("logStreamName"), stream_name('a'));
    EXPECT_EQ(s.at("firstEventTimestamp"), t0 + 1);
    EXPECT_EQ(s.at("lastEventTimestamp"), t0 + 100);
    EXPECT_GE(s.at("lastIngestionTime").get<std::int64_t>(), t0 + 100);
    EXPECT_EQ(s.at("arn"), "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/fn:log-stream:" + stream_name('a'));
    EXPECT_EQ(s.at("storedBytes"), fs::file_size(root_ / "fn" / lambent::logs::stream_file_name(stream_name('a'))));
    EXPECT_TRUE(s.at("creationTime").is_number_integer());

    const auto desc = ok(api().handle("DescribeLogStreams", "{" + group + R"(,"descending":true})"));
    EXPECT_EQ(desc["logStreams"][0].at("logStreamName"), stream_name('c'));

    const auto by_time = ok(api().handle("DescribeLogStreams", "{" + group + R"(,"orderBy":"LastEventTime"})"));
    std::vector<std::string> order;
    for (const auto& x : by_time.at("logStreams")) order.push_back(x.at("logStreamName"));
    EXPECT_EQ(order, (std::vector<std::string>{stream_name('c'), stream_name('b'), stream_name('a')}));

    const auto by_time_desc =
        ok(api().handle("DescribeLogStreams", "{" + group + R"(,"orderBy":"LastEventTime","descending":true})"));
    EXPECT_EQ(by_time_desc["logStreams"][0].at("logStreamName"), stream_name('a'));
}

TEST_F(logs_api_test, describe_log_streams_pages_prefix_and_skips_unflushed_files) {
    for (char c : std::string("abcde")) write_stream("fn", stream_name(c), numbered(1));
    write_stream("fn", "2025/12/05/[$LATEST]" + std::string(32, 'f'), numbered(1));
    // A stream whose header was not flushed yet is not listed.
    std::ofstream(root_ / "fn" / "2025-12-04-__LATEST_empty.log").flush();

    std::vector<std::string> seen;
    std::string token;
    for (int page = 0; page < 10; ++page) {
        json req = {{"logGroupName", "/aws/lambda/fn"}, {"limit", 4}};
        if (!token.empty()) req["nextToken"] = token;
        const auto res = ok(api().handle("DescribeLogStreams", req.dump()));
        for (const auto& s : res.at("logStreams")) seen.push_back(s.at("logStreamName"));
        if (!res.contains("nextToken")) break;
        token = res["nextToken"];
    }
    ASSERT_EQ(seen.size(), 6u);
    EXPECT_EQ(seen.front(), stream_name('a'));
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 6u);

    const auto prefixed = ok(api().handle(
        "DescribeLogStreams", R"({"logGroupName":"/aws/lambda/fn","logStreamNamePrefix":"2025/12/05/"})"));
    ASSERT_EQ(prefixed.at("logStreams").size(), 1u);
    EXPECT_EQ(prefixed["logStreams"][0].at("logStreamName"), "2025/12/05/[$LATEST]" + std::string(32, 'f'));
}

TEST_F(logs_api_test, describe_log_streams_pages_in_every_order) {
    // Stream x's last event is at t0 + x, names in the opposite order of their times.
    const std::string letters = "abcdefg";
    for (std::size_t i = 0; i < letters.size(); ++i) {
        write_stream("fn", stream_name(letters[i]), {{t0 + 100 - static_cast<std::int64_t>(i), "m"}});
    }
    const auto pages = [&](json req) {
        std::vector<std::string> seen;
        for (int page = 0; page < 20; ++page) {
            const auto res = ok(api().handle("DescribeLogStreams", req.dump()));
            EXPECT_LE(res.at("logStreams").size(), 3u);
            for (const auto& s : res.at("logStreams")) {
                seen.push_back(std::string(1, s.at("logStreamName").get<std::string>().back()));
            }
            if (!res.contains("nextToken")) break;
            req["nextToken"] = res["nextToken"];
        }
        std::string joined;
        for (const auto& s : seen) joined += s;
        return joined;
    };
    const auto with = [](json extra) {
        extra["logGroupName"] = "/aws/lambda/fn";
        extra["limit"] = 3;
        return extra;
    };
    EXPECT_EQ(pages(with(json::object())), "abcdefg");
    EXPECT_EQ(pages(with({{"descending", true}})), "gfedcba");
    EXPECT_EQ(pages(with({{"orderBy", "LastEventTime"}})), "gfedcba");
    EXPECT_EQ(pages(with({{"orderBy", "LastEventTime"}, {"descending", true}})), "abcdefg");
}

TEST_F(logs_api_test, describe_log_streams_errors) {
    write_stream("fn", stream_name('a'), numbered(1));
    expect_error(api().handle("DescribeLogStreams", R"({"logGroupName":"/aws/lambda/nope"})"), 400,
                 "ResourceNotFoundException", "The specified log group does not exist.");
    expect_error(api().handle("DescribeLogStreams", R"({"logGroupName":"/aws/lambda/../fn"})"), 400,
                 "ResourceNotFoundException", "The specified log group does not exist.");
    expect_error(api().handle("DescribeLogStreams", "{}"), 400, "InvalidParameterException",
                 "1 validation error detected: Value null at 'logGroupName' failed to satisfy constraint: Member "
                 "must not be null");
    expect_error(api().handle("DescribeLogStreams", R"({"logGroupName":"/aws/lambda/fn","orderBy":"Size"})"), 400,
                 "InvalidParameterException",
                 "1 validation error detected: Value 'Size' at 'orderBy' failed to satisfy constraint: Member must "
                 "satisfy enum value set: [LogStreamName, LastEventTime]");
    expect_error(api().handle("DescribeLogStreams",
                              R"({"logGroupName":"/aws/lambda/fn","orderBy":"LastEventTime","logStreamNamePrefix":"2"})"),
                 400, "InvalidParameterException", "Cannot order by LastEventTime with a logStreamNamePrefix.");
    expect_error(api().handle("DescribeLogStreams", R"({"logGroupName":"/aws/lambda/fn","limit":51})"), 400,
                 "InvalidParameterException",
                 "1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: Member must have "
                 "value less than or equal to 50");
    expect_error(api().handle("DescribeLogStreams", R"({"logGroupName":"bad name"})"), 400,
                 "InvalidParameterException",
                 "1 validation error detected: Value 'bad name' at 'logGroupName' failed to satisfy constraint: "
                 "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+");
}

// ---------------------------------------------------------------------------------------------
// GetLogEvents

TEST_F(logs_api_test, get_log_events_defaults_to_the_newest_events) {
    write_stream("fn", stream_name('a'), numbered(20));
    const std::string base = R"("logGroupName":"/aws/lambda/fn","logStreamName":")" + stream_name('a') + "\"";
    const auto res = ok(api().handle("GetLogEvents", "{" + base + R"(,"limit":3})"));
    EXPECT_EQ(messages(res.at("events")), (std::vector<std::string>{"line 17", "line 18", "line 19"}));
    const auto& e = res["events"][0];
    EXPECT_EQ(e.at("timestamp"), t0 + 170);
    EXPECT_EQ(e.at("ingestionTime"), t0 + 170);
    EXPECT_EQ(e.size(), 3u);

    // Backward from there: the three before, then the rest, then the same backward token at the start.
    auto back = ok(api().handle("GetLogEvents", "{" + base + R"(,"limit":3,"nextToken":")" +
                                                    res.at("nextBackwardToken").get<std::string>() + "\"}"));
    EXPECT_EQ(messages(back.at("events")), (std::vector<std::string>{"line 14", "line 15", "line 16"}));
    back = ok(api().handle("GetLogEvents", "{" + base + R"(,"limit":100,"nextToken":")" +
                                               back.at("nextBackwardToken").get<std::string>() + "\"}"));
    EXPECT_EQ(back.at("events").size(), 14u);
    const std::string start_token = back.at("nextBackwardToken");
    const auto at_start =
        ok(api().handle("GetLogEvents", "{" + base + R"(,"nextToken":")" + start_token + "\"}"));
    EXPECT_EQ(at_start.at("events").size(), 0u);
    EXPECT_EQ(at_start.at("nextBackwardToken"), start_token);

    // Forward from the tail: nothing new, and the same forward token (the end marker).
    const std::string fwd = res.at("nextForwardToken");
    EXPECT_EQ(fwd.substr(0, 2), "f/");
    const auto at_end = ok(api().handle("GetLogEvents", "{" + base + R"(,"nextToken":")" + fwd + "\"}"));
    EXPECT_EQ(at_end.at("events").size(), 0u);
    EXPECT_EQ(at_end.at("nextForwardToken"), fwd);

    // Events appended later show up through that token.
    write_stream("fn", stream_name('a'), {{t0 + 9999, "late"}});
    const auto later = ok(api().handle("GetLogEvents", "{" + base + R"(,"nextToken":")" + fwd + "\"}"));
    EXPECT_EQ(messages(later.at("events")), std::vector<std::string>{"late"});
    EXPECT_NE(later.at("nextForwardToken"), fwd);
}

TEST_F(logs_api_test, get_log_events_from_head_pages_through_everything_once) {
    write_stream("fn", stream_name('a'), numbered(25));
    const std::string base = R"("logGroupName":"/aws/lambda/fn","logStreamName":")" + stream_name('a') + "\"";
    std::vector<std::string> seen;
    std::string token;
    int calls = 0;
    while (calls < 20) {
        ++calls;
        std::string req = "{" + base + R"(,"startFromHead":true,"limit":10)";
        if (!token.empty()) req += R"(,"nextToken":")" + token + "\"";
        const auto res = ok(api().handle("GetLogEvents", req + "}"));
        for (const auto& m : messages(res.at("events"))) seen.push_back(m);
        if (res.at("nextForwardToken") == token) break;
        token = res.at("nextForwardToken");
    }
    EXPECT_EQ(calls, 4);  // 10 + 10 + 5 + the empty page with the same token
    ASSERT_EQ(seen.size(), 25u);
    EXPECT_EQ(seen.front(), "line 0");
    EXPECT_EQ(seen.back(), "line 24");
}

TEST_F(logs_api_test, get_log_events_time_window_is_start_inclusive_end_exclusive) {
    write_stream("fn", stream_name('a'), numbered(10));  // t0, t0+10, …, t0+90
    const std::string base = R"("logGroupName":"/aws/lambda/fn","logStreamName":")" + stream_name('a') + "\"";
    const auto res = ok(api().handle(
        "GetLogEvents", "{" + base + ",\"startTime\":" + std::to_string(t0 + 20) + ",\"endTime\":" +
                            std::to_string(t0 + 50) + ",\"startFromHead\":true}"));
    EXPECT_EQ(messages(res.at("events")), (std::vector<std::string>{"line 2", "line 3", "line 4"}));
    const auto tail = ok(api().handle(
        "GetLogEvents", "{" + base + ",\"startTime\":" + std::to_string(t0 + 20) + ",\"endTime\":" +
                            std::to_string(t0 + 50) + ",\"limit\":2}"));
    EXPECT_EQ(messages(tail.at("events")), (std::vector<std::string>{"line 3", "line 4"}));
}

TEST_F(logs_api_test, get_log_events_hides_a_line_still_being_written) {
    write_stream("fn", stream_name('a'), numbered(2), std::to_string(t0 + 500) + "\thalf a li");
    const std::string base = R"("logGroupName":"/aws/lambda/fn","logStreamName":")" + stream_name('a') + "\"";
    const auto res = ok(api().handle("GetLogEvents", "{" + base + "}"));
    EXPECT_EQ(messages(res.at("events")), (std::vector<std::string>{"line 0", "line 1"}));
    // Once the writer finishes the line, the forward token picks it up whole.
    {
        std::ofstream out(root_ / "fn" / lambent::logs::stream_file_name(stream_name('a')), std::ios::app);
        out << "ne\n";
    }
    const auto next = ok(api().handle(
        "GetLogEvents", "{" + base + R"(,"nextToken":")" + res.at("nextForwardToken").get<std::string>() + "\"}"));
    EXPECT_EQ(messages(next.at("events")), std::vector<std::string>{"half a line"});
}

TEST_F(logs_api_test, get_log_events_errors) {
    write_stream("fn", stream_name('a'), numbered(3));
    const std::string base = R"("logGroupName":"/aws/lambda/fn","logStreamName":")" + stream_name('a') + "\"";
    expect_error(api().handle("GetLogEvents", R"({"logGroupName":"/aws/lambda/fn","logStreamName":"nope"})"), 400,
                 "ResourceNotFoundException", "The specified log stream does not exist.");
    expect_error(api().handle("GetLogEvents", R"({"logGroupName":"/aws/lambda/x","logStreamName":"nope"})"), 400,
                 "ResourceNotFoundException", "The specified log group does not exist.");
    expect_error(api().handle("GetLogEvents", R"({"logGroupName":"/aws/lambda/fn"})"), 400,
                 "InvalidParameterException",
                 "1 validation error detected: Value null at 'logStreamName' failed to satisfy constraint: Member "
                 "must not be null");
    for (const char* bad : {"f/3", "x/10", "f/", "f/99999999", "b/-1", "garbage"}) {
        expect_error(api().handle("GetLogEvents", "{" + base + R"(,"nextToken":")" + bad + "\"}"), 400,
                     "InvalidParameterException", "The specified nextToken is invalid.");
    }
    expect_error(api().handle("GetLogEvents", "{" + base + R"(,"limit":"5"})"), 400, "SerializationException",
                 "Value of 'limit' must be an integer");
    expect_error(api().handle("GetLogEvents", "{" + base + R"(,"limit":10001})"), 400, "InvalidParameterException",
                 "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: Member must "
                 "have value less than or equal to 10000");
    expect_error(api().handle("GetLogEvents", "{" + base + R"(,"startTime":-1})"), 400, "InvalidParameterException",
                 "1 validation error detected: Value '-1' at 'startTime' failed to satisfy constraint: Member must "
                 "have value greater than or equal to 0");
}

TEST_F(logs_api_test, reads_what_the_real_log_stream_writer_wrote) {
    {
        lambent::logs::log_stream w(root_, "writer", stream_name('w'));
        w.write("START RequestId: 1 Version: $LATEST", t0);
        w.write("hello\tworld", t0 + 1);
        w.write("END RequestId: 1", t0 + 2);
        w.flush();
    }
    const auto res = ok(api().handle("GetLogEvents", R"({"logGroupName":"/aws/lambda/writer","logStreamName":")" +
                                                         stream_name('w') + R"(","startFromHead":true})"));
    EXPECT_EQ(messages(res.at("events")),
              (std::vector<std::string>{"START RequestId: 1 Version: $LATEST", "hello\tworld", "END RequestId: 1"}));
}

// ---------------------------------------------------------------------------------------------
// FilterLogEvents

TEST_F(logs_api_test, filter_log_events_merges_streams_by_timestamp) {
    write_stream("fn", stream_name('a'), {{t0 + 1, "a1"}, {t0 + 4, "a4"}, {t0 + 6, "a6"}});
    write_stream("fn", stream_name('b'), {{t0 + 2, "b2"}, {t0 + 3, "b3"}, {t0 + 6, "b6"}, {t0 + 9, "b9"}});
    const auto res = ok(api().handle("FilterLogEvents", R"({"logGroupName":"/aws/lambda/fn"})"));
    EXPECT_EQ(messages(res.at("events")), (std::vector<std::string>{"a1", "b2", "b3", "a4", "a6", "b6", "b9"}));
    const auto& e = res["events"][1];
    EXPECT_EQ(e.at("logStreamName"), stream_name('b'));
    EXPECT_EQ(e.at("timestamp"), t0 + 2);
    EXPECT_EQ(e.at("ingestionTime"), t0 + 2);
    EXPECT_TRUE(e.at("eventId").is_string());
    std::set<std::string> ids;
    for (const auto& x : res["events"]) ids.insert(x.at("eventId"));
    EXPECT_EQ(ids.size(), 7u);
    // Event ids are stable across calls (aws logs tail --follow de-duplicates by them).
    const auto again = ok(api().handle("FilterLogEvents", R"({"logGroupName":"/aws/lambda/fn"})"));
    EXPECT_EQ(again["events"][1].at("eventId"), e.at("eventId"));
    ASSERT_EQ(res.at("searchedLogStreams").size(), 2u);
    EXPECT_EQ(res["searchedLogStreams"][0].at("searchedCompletely"), true);
    EXPECT_FALSE(res.contains("nextToken"));
}

TEST_F(logs_api_test, filter_log_events_pages_return_each_event_once_in_order) {
    write_stream("fn", stream_name('a'), numbered(37, t0, 3, "a"));
    write_stream("fn", stream_name('b'), numbered(23, t0 + 1, 5, "b"));
    write_stream("fn", stream_name('c'), numbered(11, t0 + 2, 7, "c"));
    std::vector<std::pair<std::int64_t, std::string>> seen;
    std::string token;
    int pages = 0;
    while (pages < 100) {
        ++pages;
        json req = {{"logGroupName", "/aws/lambda/fn"}, {"limit", 8}, {"interleaved", true}};
        if (!token.empty()) req["nextToken"] = token;
        const auto res = ok(api().handle("FilterLogEvents", req.dump()));
        EXPECT_LE(res.at("events").size(), 8u);
        for (const auto& e : res.at("events")) seen.emplace_back(e.at("timestamp"), e.at("message"));
        if (!res.contains("nextToken")) break;
        EXPECT_NE(res.at("nextToken"), token);
        token = res["nextToken"];
    }
    ASSERT_EQ(seen.size(), 71u);
    EXPECT_EQ(pages, 9);
    EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end(),
                               [](const auto& x, const auto& y) { return x.first < y.first; }));
    std::set<std::string> unique;
    for (const auto& [ts, m] : seen) unique.insert(m);
    EXPECT_EQ(unique.size(), 71u);
}

TEST_F(logs_api_test, filter_log_events_time_bounds_are_inclusive_and_streams_selectable) {
    write_stream("fn", stream_name('a'), numbered(10, t0, 10, "a"));
    write_stream("fn", "2025/12/05/[$LATEST]" + std::string(32, 'b'), numbered(10, t0, 10, "b"));
    const auto window = ok(api().handle(
        "FilterLogEvents", json{{"logGroupName", "/aws/lambda/fn"}, {"startTime", t0 + 20}, {"endTime", t0 + 40},
                                {"logStreamNames", {stream_name('a')}}}
                               .dump()));
    EXPECT_EQ(messages(window.at("events")), (std::vector<std::string>{"a2", "a3", "a4"}));
    const auto by_prefix = ok(api().handle(
        "FilterLogEvents",
        json{{"logGroupName", "/aws/lambda/fn"}, {"logStreamNamePrefix", "2025/12/05"}, {"startTime", t0 + 85}}.dump()));
    EXPECT_EQ(messages(by_prefix.at("events")), (std::vector<std::string>{"b9"}));
    // Streams last written before startTime are not read at all but still reported as searched.
    const auto future = ok(api().handle(
        "FilterLogEvents", json{{"logGroupName", "/aws/lambda/fn"}, {"startTime", t0 + 10'000'000'000}}.dump()));
    EXPECT_EQ(future.at("events").size(), 0u);
    EXPECT_EQ(future.at("searchedLogStreams").size(), 2u);
}

TEST_F(logs_api_test, filter_log_events_patterns) {
    write_stream("fn", stream_name('a'),
                 {{t0 + 1, "START RequestId: 1 Version: $LATEST"},
                  {t0 + 2, "[ERROR] boom: HARNESS-STDERR detail"},
                  {t0 + 3, "WARN disk low"},
                  {t0 + 4, "all good here"},
                  {t0 + 5, "ERROR again but Exiting"},
                  {t0 + 6, "END RequestId: 1"}});
    const auto run = [&](const std::string& pattern) {
        return messages(ok(api().handle("FilterLogEvents",
                                        json{{"logGroupName", "/aws/lambda/fn"}, {"filterPattern", pattern}}.dump()))
                            .at("events"));
    };
    EXPECT_EQ(run("").size(), 6u);
    EXPECT_EQ(run("RequestId"), (std::vector<std::string>{"START RequestId: 1 Version: $LATEST", "END RequestId: 1"}));
    EXPECT_EQ(run("ERROR boom"), std::vector<std::string>{"[ERROR] boom: HARNESS-STDERR detail"});
    EXPECT_EQ(run("\"HARNESS-STDERR\""), std::vector<std::string>{"[ERROR] boom: HARNESS-STDERR detail"});
    EXPECT_EQ(run("\"disk low\""), std::vector<std::string>{"WARN disk low"});
    EXPECT_EQ(run("?WARN ?good"), (std::vector<std::string>{"WARN disk low", "all good here"}));
    EXPECT_EQ(run("ERROR -Exiting"), std::vector<std::string>{"[ERROR] boom: HARNESS-STDERR detail"});
    EXPECT_EQ(run("error"), std::vector<std::string>{});  // case-sensitive
    expect_error(api().handle("FilterLogEvents", R"({"logGroupName":"/aws/lambda/fn","filterPattern":"\"open"})"),
                 400, "InvalidParameterException", "Invalid filter pattern: unterminated quoted phrase in '\"open'");
}

TEST_F(logs_api_test, filter_log_events_start_time_search_in_a_large_stream) {
    // ~6 MB: the start is found by binary search over line starts; the answer must be exact.
    std::vector<event> events;
    const std::string pad(40, 'x');
    for (int i = 0; i < 120'000; ++i) events.emplace_back(t0 + i / 3, "event " + std::to_string(i) + " " + pad);
    write_stream("fn", stream_name('a'), events);
    for (const std::int64_t start : {t0, t0 + 1, t0 + 12'345, t0 + 39'999}) {
        const auto res = ok(api().handle(
            "FilterLogEvents", json{{"logGroupName", "/aws/lambda/fn"}, {"startTime", start}, {"limit", 2}}.dump()));
        ASSERT_EQ(res.at("events").size(), 2u);
        const auto first = (start - t0) * 3;
        EXPECT_EQ(res["events"][0].at("message"), "event " + std::to_string(first) + " " + pad) << start;
        EXPECT_EQ(res["events"][0].at("timestamp"), start);
    }
    const auto gle = ok(api().handle("GetLogEvents", json{{"logGroupName", "/aws/lambda/fn"},
                                                          {"logStreamName", stream_name('a')},
                                                          {"startTime", t0 + 20'000},
                                                          {"endTime", t0 + 20'001}}
                                                         .dump()));
    EXPECT_EQ(messages(gle.at("events")),
              (std::vector<std::string>{"event 60000 " + pad, "event 60001 " + pad, "event 60002 " + pad}));
}

TEST_F(logs_api_test, filter_log_events_page_stops_at_one_megabyte) {
    const std::string big(300'000, 'm');
    write_stream("fn", stream_name('a'), {{t0, big}, {t0 + 1, big}, {t0 + 2, big}, {t0 + 3, big}, {t0 + 4, "tail"}});
    const auto first = ok(api().handle("FilterLogEvents", R"({"logGroupName":"/aws/lambda/fn"})"));
    EXPECT_EQ(first.at("events").size(), 3u);
    ASSERT_TRUE(first.contains("nextToken"));
    const auto second = ok(api().handle(
        "FilterLogEvents", json{{"logGroupName", "/aws/lambda/fn"}, {"nextToken", first["nextToken"]}}.dump()));
    ASSERT_EQ(second.at("events").size(), 2u);
    EXPECT_EQ(second["events"][1].at("message"), "tail");
}

TEST_F(logs_api_test, filter_log_events_reads_more_streams_than_open_files_allowed) {
    constexpr int streams = 300;
    for (int i = 0; i < streams; ++i) {
        write_stream("fn", "2025/12/04/[$LATEST]" + fmt::format("{:032x}", i), {{t0 + i, "e" + std::to_string(i)}});
    }
    struct rlimit old {};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
    struct rlimit low = old;
    low.rlim_cur = 64;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
    const auto res = api().handle("FilterLogEvents", R"({"logGroupName":"/aws/lambda/fn","startTime":1})");
    const auto streams_res = api().handle("DescribeLogStreams", R"({"logGroupName":"/aws/lambda/fn"})");
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
    const auto events = ok(res).at("events");
    ASSERT_EQ(events.size(), static_cast<std::size_t>(streams));
    EXPECT_EQ(events[0].at("message"), "e0");
    EXPECT_EQ(events[streams - 1].at("message"), "e" + std::to_string(streams - 1));
    EXPECT_EQ(ok(streams_res).at("logStreams").size(), 50u);
}

TEST_F(logs_api_test, filter_log_events_errors) {
    write_stream("fn", stream_name('a'), numbered(1));
    expect_error(api().handle("FilterLogEvents", R"({"logGroupName":"/aws/lambda/none"})"), 400,
                 "ResourceNotFoundException", "The specified log group does not exist.");
    expect_error(api().handle("FilterLogEvents",
                              R"({"logGroupName":"/aws/lambda/fn","logStreamNames":["a"],"logStreamNamePrefix":"b"})"),
                 400, "InvalidParameterException",
                 "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.");
    expect_error(api().handle("FilterLogEvents", R"({"logGroupName":"/aws/lambda/fn","nextToken":"%%%"})"), 400,
                 "InvalidParameterException", "The specified nextToken is invalid.");
    expect_error(api().handle("FilterLogEvents", R"({"logGroupName":"/aws/lambda/fn","filterPattern":"{ $.a = 1 }"})"),
                 400, "InvalidParameterException",
                 "Invalid filter pattern: JSON, space-delimited and regular-expression patterns are not supported by "
                 "Lambent; use terms, \"quoted phrases\", ?alternatives and -exclusions");
}

TEST_F(logs_api_test, log_group_identifier_accepts_names_and_arns) {
    write_stream("fn", stream_name('a'), numbered(2));
    for (const char* id : {"/aws/lambda/fn", "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/fn:*",
                           "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/fn"}) {
        const auto res = ok(api().handle("FilterLogEvents", json{{"logGroupIdentifier", id}}.dump()));
        EXPECT_EQ(res.at("events").size(), 2u) << id;
    }
}

// ---------------------------------------------------------------------------------------------
// Protocol errors, retention

TEST_F(logs_api_test, protocol_errors) {
    expect_error(api().handle("DescribeLogGroups", "not json"), 400, "SerializationException",
                 "Start of structure or map found where not expected.");
    expect_error(api().handle("DescribeLogGroups", "[1]"), 400, "SerializationException",
                 "Start of structure or map found where not expected.");
    expect_error(api().handle("PutLogEvents", "{}"), 400, "UnknownOperationException", "Unknown operation PutLogEvents");
    expect_error(api().handle("DescribeLogGroups", R"({"limit":0})"), 400, "InvalidParameterException",
                 "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have "
                 "value greater than or equal to 1");
}

TEST_F(logs_api_test, non_utf8_messages_are_served_as_valid_json) {
    write_stream("fn", stream_name('a'), {{t0, std::string("bad \xff\xfe bytes")}});
    const auto r = api().handle("FilterLogEvents", R"({"logGroupName":"/aws/lambda/fn"})");
    const auto res = ok(r);
    EXPECT_EQ(res["events"][0].at("message"), "bad \xef\xbf\xbd\xef\xbf\xbd bytes");
}

TEST_F(logs_api_test, retention_removes_expired_streams_and_hides_expired_events) {
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    const std::int64_t day = 86'400'000;
    const auto old_path = write_stream("fn", stream_name('o'), {{now - 5 * day, "ancient"}});
    fs::last_write_time(old_path, fs::file_time_type::clock::now() - std::chrono::hours(24 * 5));
    write_stream("fn", stream_name('n'), {{now - 3 * day, "expired"}, {now - 1000, "fresh"}});

    EXPECT_EQ(messages(ok(api(2).handle("FilterLogEvents", R"({"logGroupName":"/aws/lambda/fn"})")).at("events")),
              std::vector<std::string>{"fresh"});
    api(0).apply_retention();  // keep forever: nothing happens
    EXPECT_TRUE(fs::exists(old_path));
    api(2).apply_retention();
    EXPECT_FALSE(fs::exists(old_path));
    EXPECT_TRUE(fs::exists(root_ / "fn" / lambent::logs::stream_file_name(stream_name('n'))));
    const auto streams = ok(api(2).handle("DescribeLogStreams", R"({"logGroupName":"/aws/lambda/fn"})"));
    ASSERT_EQ(streams.at("logStreams").size(), 1u);
    EXPECT_EQ(streams["logStreams"][0].at("logStreamName"), stream_name('n'));
}

// ---------------------------------------------------------------------------------------------
// filter_pattern (table-driven)

TEST(filter_pattern, parses_terms_phrases_alternatives_and_exclusions) {
    struct row {
        const char* pattern;
        std::vector<std::string> required, any_of, excluded;
    };
    const std::vector<row> rows = {
        {"", {}, {}, {}},
        {"   ", {}, {}, {}},
        {"ERROR", {"ERROR"}, {}, {}},
        {"ERROR  Exception", {"ERROR", "Exception"}, {}, {}},
        {"\"two words\" x", {"two words", "x"}, {}, {}},
        {"\"say \\\"hi\\\"\"", {"say \"hi\""}, {}, {}},
        {"?ERROR ?WARN", {}, {"ERROR", "WARN"}, {}},
        {"ERROR -Exiting -\"shut down\"", {"ERROR"}, {}, {"Exiting", "shut down"}},
        {"?\"a b\" - x", {"-", "x"}, {"a b"}, {}},
        {"HARNESS-STDERR", {"HARNESS-STDERR"}, {}, {}},
    };
    for (const auto& r : rows) {
        auto p = filter_pattern::parse(r.pattern);
        ASSERT_TRUE(p.has_value()) << r.pattern;
        EXPECT_EQ(p->required, r.required) << r.pattern;
        EXPECT_EQ(p->any_of, r.any_of) << r.pattern;
        EXPECT_EQ(p->excluded, r.excluded) << r.pattern;
    }
    for (const char* bad : {"\"open", "{ $.level = \"ERROR\" }", "[ip, user]", "%ERROR%"}) {
        auto p = filter_pattern::parse(bad);
        ASSERT_FALSE(p.has_value()) << bad;
        EXPECT_EQ(p.error().code, lambent::errc::validation) << bad;
    }
}

TEST(filter_pattern, matching) {
    const auto m = [](const char* pattern, const char* message) {
        auto p = filter_pattern::parse(pattern);
        EXPECT_TRUE(p.has_value());
        return p->matches(message);
    };
    EXPECT_TRUE(m("", "anything"));
    EXPECT_TRUE(m("a b", "b then a"));
    EXPECT_FALSE(m("a b", "only a"));
    EXPECT_TRUE(m("?x ?y", "has y"));
    EXPECT_FALSE(m("?x ?y", "neither"));
    EXPECT_FALSE(m("ok -bad", "ok but bad"));
    EXPECT_TRUE(m("ok -bad", "ok fine"));
    EXPECT_TRUE(m("req ?x ?y", "req x"));
    EXPECT_FALSE(m("req ?x ?y", "x y"));
}
