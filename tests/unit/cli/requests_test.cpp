// src/cli is compiled into the `lambent` executable only (not lambent_core), so this test compiles the units
// under test itself: the request mapping and the CLI11 definitions, tested together from argv to request.
// One test file per included source keeps every symbol defined once.
#include "cli/commands.cpp"
#include "cli/requests.cpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include <unistd.h>

using namespace lambent::cli;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

/// Parses a `lambent` command line with the real subcommand definitions (and a stand-in `serve`).
struct parsed_cli {
    CLI::App app{"lambent"};
    client_commands client;
    int parse_status = -1;  // the exit status main() would return for a parse error; -1 = parsed fine

    explicit parsed_cli(std::vector<std::string> args) {
        app.require_subcommand(1);
        app.add_subcommand("serve", "serve")->add_option("--listen", listen_);
        add_client_commands(app, client);
        std::vector<const char*> argv{"lambent"};
        for (const auto& a : args) argv.push_back(a.c_str());
        testing::internal::CaptureStdout();
        testing::internal::CaptureStderr();
        try {
            app.parse(static_cast<int>(argv.size()), argv.data());
        } catch (const CLI::ParseError& e) {
            parse_status = exit_for_parse_error(app, e, client);
        }
        out = testing::internal::GetCapturedStdout();
        err = testing::internal::GetCapturedStderr();
    }

    std::string out;
    std::string err;

private:
    std::string listen_;
};

struct temp_dir {
    fs::path path = fs::temp_directory_path() / ("lambent-cli-req-" + std::to_string(::getpid()));
    temp_dir() { fs::create_directories(path); }
    ~temp_dir() { fs::remove_all(path); }
};

json body_of(const http_request& r) { return json::parse(r.body); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// argv → options → request

TEST(cli_requests, deploy_arguments_become_create_and_update_requests) {
    temp_dir dir;
    parsed_cli p({"deploy", dir.path.string(), "--name", "hello", "--runtime", "python3.12", "--handler",
                  "app.handler", "--env", "A=1", "-e", "B=x=y", "--memory", "256", "--timeout", "10"});
    ASSERT_EQ(p.parse_status, -1) << p.err;
    ASSERT_TRUE(p.client.selected());
    ASSERT_TRUE(p.client.deploy_cmd->parsed());
    const auto& o = p.client.deploy;
    EXPECT_EQ(o.dir, dir.path.string());
    auto env = parse_env(o.env);
    ASSERT_TRUE(env.has_value());
    EXPECT_EQ(*env, (std::map<std::string, std::string>{{"A", "1"}, {"B", "x=y"}}));

    const auto create = create_function_request(o, *env, "PK-zip-bytes");
    EXPECT_EQ(create.method, "POST");
    EXPECT_EQ(create.target, "/2015-03-31/functions");
    EXPECT_EQ(create.header("content-type"), "application/json");
    EXPECT_EQ(body_of(create), (json{{"FunctionName", "hello"},
                                     {"Runtime", "python3.12"},
                                     {"Handler", "app.handler"},
                                     {"Role", "arn:aws:iam::000000000000:role/lambent"},
                                     {"Code", {{"ZipFile", "UEstemlwLWJ5dGVz"}}},
                                     {"MemorySize", 256},
                                     {"Timeout", 10},
                                     {"Environment", {{"Variables", {{"A", "1"}, {"B", "x=y"}}}}}}));

    const auto code = update_code_request(o.name, "PK-zip-bytes");
    EXPECT_EQ(code.method, "PUT");
    EXPECT_EQ(code.target, "/2015-03-31/functions/hello/code");
    EXPECT_EQ(body_of(code), (json{{"ZipFile", "UEstemlwLWJ5dGVz"}}));

    const auto cfg = update_configuration_request(o, *env);
    EXPECT_EQ(cfg.method, "PUT");
    EXPECT_EQ(cfg.target, "/2015-03-31/functions/hello/configuration");
    EXPECT_EQ(body_of(cfg), (json{{"Runtime", "python3.12"},
                                  {"Handler", "app.handler"},
                                  {"Role", "arn:aws:iam::000000000000:role/lambent"},
                                  {"MemorySize", 256},
                                  {"Timeout", 10},
                                  {"Environment", {{"Variables", {{"A", "1"}, {"B", "x=y"}}}}}}));
}

TEST(cli_requests, deploy_update_leaves_out_what_was_not_asked_for) {
    temp_dir dir;
    parsed_cli p({"deploy", dir.path.string(), "-n", "f", "-r", "provided.al2023", "--handler", "bootstrap"});
    ASSERT_EQ(p.parse_status, -1) << p.err;
    const auto cfg = update_configuration_request(p.client.deploy, {});
    EXPECT_EQ(body_of(cfg), (json{{"Runtime", "provided.al2023"},
                                  {"Handler", "bootstrap"},
                                  {"Role", "arn:aws:iam::000000000000:role/lambent"}}));
    const auto create = create_function_request(p.client.deploy, {}, "z");
    EXPECT_FALSE(body_of(create).contains("Environment"));
    EXPECT_FALSE(body_of(create).contains("MemorySize"));
}

TEST(cli_requests, layers_on_deploy_and_publish_layer) {
    temp_dir dir;
    const std::string a = "arn:aws:lambda:us-east-1:000000000000:layer:a:1";
    const std::string b = "arn:aws:lambda:us-east-1:000000000000:layer:b:3";
    parsed_cli p({"deploy", dir.path.string(), "-n", "f", "-r", "python3.12", "--handler", "app.handler", "--layer", a,
                  "--layer", b});
    ASSERT_EQ(p.parse_status, -1) << p.err;
    EXPECT_EQ(body_of(create_function_request(p.client.deploy, {}, "z"))["Layers"], (json{a, b}));
    EXPECT_EQ(body_of(update_configuration_request(p.client.deploy, {}))["Layers"], (json{a, b}));

    parsed_cli l({"publish-layer", dir.path.string(), "--name", "pillow", "--compatible-runtime", "python3.11",
                  "--compatible-runtime", "python3.12", "--license", "HPND", "--description", "imaging"});
    ASSERT_EQ(l.parse_status, -1) << l.err;
    ASSERT_TRUE(l.client.publish_layer_cmd->parsed());
    ASSERT_TRUE(l.client.selected());
    const auto req = publish_layer_request(l.client.publish_layer, "PK-zip-bytes");
    EXPECT_EQ(req.method, "POST");
    EXPECT_EQ(req.target, "/2018-10-31/layers/pillow/versions");
    EXPECT_EQ(body_of(req), (json{{"Content", {{"ZipFile", "UEstemlwLWJ5dGVz"}}},
                                  {"Description", "imaging"},
                                  {"CompatibleRuntimes", {"python3.11", "python3.12"}},
                                  {"LicenseInfo", "HPND"}}));
    parsed_cli missing({"publish-layer", dir.path.string()});
    EXPECT_EQ(missing.parse_status, 2);
}

TEST(cli_requests, invoke_arguments_become_headers_and_qualifier) {
    parsed_cli sync({"invoke", "fn", "--payload", R"({"a":1})", "--log", "-q", "live"});
    ASSERT_EQ(sync.parse_status, -1) << sync.err;
    const auto& o = sync.client.invoke;
    EXPECT_EQ(*o.payload, R"({"a":1})");
    const auto r = invoke_request(o, *o.payload);
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/2015-03-31/functions/fn/invocations?Qualifier=live");
    EXPECT_EQ(r.header("X-Amz-Invocation-Type"), "RequestResponse");
    EXPECT_EQ(r.header("x-amz-log-type"), "Tail");
    EXPECT_EQ(r.body, R"({"a":1})");

    parsed_cli async({"invoke", "arn:aws:lambda:us-east-1:000000000000:function:fn", "--async", "--log"});
    ASSERT_EQ(async.parse_status, -1) << async.err;
    const auto a = invoke_request(async.client.invoke, "");
    EXPECT_EQ(a.target, "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Afn/invocations");
    EXPECT_EQ(a.header("X-Amz-Invocation-Type"), "Event");
    EXPECT_EQ(a.header("X-Amz-Log-Type"), "");  // no log tail for Event invocations
    EXPECT_EQ(a.body, "");
}

TEST(cli_requests, logs_ls_rm_requests) {
    parsed_cli logs({"logs", "fn", "--follow", "--since", "1h", "--filter", "ERROR -retry"});
    ASSERT_EQ(logs.parse_status, -1) << logs.err;
    EXPECT_TRUE(logs.client.logs.follow);
    const auto start = since_epoch_ms(logs.client.logs.since, 10'000'000);
    ASSERT_TRUE(start.has_value());
    EXPECT_EQ(*start, std::optional<std::int64_t>{10'000'000 - 3'600'000});
    const auto f = filter_log_events_request({"fn", *start, logs.client.logs.filter, std::string("tok")});
    EXPECT_EQ(f.method, "POST");
    EXPECT_EQ(f.target, "/");
    EXPECT_EQ(f.header("X-Amz-Target"), "Logs_20140328.FilterLogEvents");
    EXPECT_EQ(f.header("Content-Type"), "application/x-amz-json-1.1");
    EXPECT_EQ(body_of(f), (json{{"logGroupName", "/aws/lambda/fn"},
                                {"interleaved", true},
                                {"startTime", 6'400'000},
                                {"filterPattern", "ERROR -retry"},
                                {"nextToken", "tok"}}));
    parsed_cli defaults({"logs", "fn"});
    EXPECT_EQ(defaults.client.logs.since, "10m");
    EXPECT_FALSE(defaults.client.logs.follow);

    EXPECT_EQ(list_functions_request(std::nullopt).target, "/2015-03-31/functions/?MaxItems=50");
    EXPECT_EQ(list_functions_request(std::string("a b/c")).target, "/2015-03-31/functions/?MaxItems=50&Marker=a%20b%2Fc");

    parsed_cli rm({"rm", "a", "b"});
    ASSERT_EQ(rm.parse_status, -1) << rm.err;
    EXPECT_EQ(rm.client.rm.names, (std::vector<std::string>{"a", "b"}));
    const auto d = delete_function_request("a");
    EXPECT_EQ(d.method, "DELETE");
    EXPECT_EQ(d.target, "/2015-03-31/functions/a");
}

TEST(cli_requests, usage_errors_exit_2_help_exits_0_and_serve_is_untouched) {
    parsed_cli unknown({"invoke", "fn", "--bogus"});
    EXPECT_EQ(unknown.parse_status, exit_usage);
    EXPECT_NE(unknown.err.find("error: The following argument was not expected: --bogus"), std::string::npos)
        << unknown.err;
    EXPECT_NE(unknown.err.find("Run with --help"), std::string::npos);

    EXPECT_EQ(parsed_cli({"deploy"}).parse_status, exit_usage);
    EXPECT_EQ(parsed_cli({"deploy", "/nonexistent-dir-xyz", "-n", "f", "-r", "r", "--handler", "h"}).parse_status,
              exit_usage);
    EXPECT_EQ(parsed_cli({"event"}).parse_status, exit_usage);
    EXPECT_EQ(parsed_cli({"ls", "--memory", "5"}).parse_status, exit_usage);

    parsed_cli help({"invoke", "--help"});
    EXPECT_EQ(help.parse_status, 0);
    EXPECT_NE(help.out.find("--payload"), std::string::npos) << help.out;
    EXPECT_NE(help.out.find("Exit status: 0 ok, 1 the function failed, 2 usage or API error, 3 cannot reach"),
              std::string::npos);

    // `serve` keeps CLI11's own exit codes (not the client's 2).
    parsed_cli serve({"serve", "--bogus"});
    EXPECT_EQ(serve.parse_status, static_cast<int>(CLI::ExitCodes::ExtrasError));
    EXPECT_FALSE(serve.client.selected());
}

TEST(cli_requests, endpoint_comes_from_the_flag_then_the_environment_then_the_default) {
    ::unsetenv("LAMBENT_ENDPOINT");
    EXPECT_EQ(parsed_cli({"ls"}).client.endpoint_url(), "http://127.0.0.1:9400");
    ::setenv("LAMBENT_ENDPOINT", "http://10.0.0.1:1234", 1);
    EXPECT_EQ(parsed_cli({"ls"}).client.endpoint_url(), "http://10.0.0.1:1234");
    EXPECT_EQ(parsed_cli({"ls", "--endpoint", "http://h:1"}).client.endpoint_url(), "http://h:1");
    EXPECT_EQ(parsed_cli({"rm", "x", "--endpoint", "http://h:2"}).client.endpoint_url(), "http://h:2");
    ::unsetenv("LAMBENT_ENDPOINT");
}

// ---------------------------------------------------------------------------------------------
// Argument decoding (table-driven)

TEST(cli_requests, parse_endpoint_table) {
    struct row {
        const char* url;
        const char* host;
        unsigned port;
        const char* base;
        const char* round_trip;
    };
    for (const row& r : {row{"http://127.0.0.1:9400", "127.0.0.1", 9400, "", "http://127.0.0.1:9400"},
                         row{"http://localhost", "localhost", 80, "", "http://localhost:80"},
                         row{"http://localhost/", "localhost", 80, "", "http://localhost:80"},
                         row{"http://[::1]:9400/", "::1", 9400, "", "http://[::1]:9400"},
                         row{"http://h:1/prefix/", "h", 1, "/prefix", "http://h:1/prefix"},
                         row{"https://h", "h", 443, "", "https://h:443"},
                         row{"https://127.0.0.1:9443/", "127.0.0.1", 9443, "", "https://127.0.0.1:9443"}}) {
        auto ep = parse_endpoint(r.url);
        ASSERT_TRUE(ep.has_value()) << r.url << ": " << ep.error().message;
        EXPECT_EQ(ep->host, r.host) << r.url;
        EXPECT_EQ(ep->port, r.port) << r.url;
        EXPECT_EQ(ep->base_path, r.base) << r.url;
        EXPECT_EQ(ep->url(), r.round_trip) << r.url;
    }
    for (const char* bad : {"https://", "ftp://x", "http://", "http://h:0", "http://h:99999", "http://h:abc",
                            "http://h:", "127.0.0.1:9400", "http://[::1", "http://u@h:1"}) {
        auto ep = parse_endpoint(bad);
        ASSERT_FALSE(ep.has_value()) << bad;
        EXPECT_EQ(ep.error().code, lambent::errc::validation);
        EXPECT_NE(ep.error().message.find(bad), std::string::npos) << ep.error().message;
    }
    EXPECT_EQ(parse_endpoint("ftp://x").error().message,
              "invalid endpoint 'ftp://x': it must start with http:// or https:// (expected http[s]://HOST:PORT)");
    EXPECT_TRUE(parse_endpoint("https://x")->tls);
    EXPECT_FALSE(parse_endpoint("http://x")->tls);
}

TEST(cli_requests, parse_env_table) {
    EXPECT_EQ(*parse_env({"A=1", "B=", "C=a=b"}),
              (std::map<std::string, std::string>{{"A", "1"}, {"B", ""}, {"C", "a=b"}}));
    for (const char* bad : {"A", "=1", ""}) {
        auto e = parse_env({bad});
        ASSERT_FALSE(e.has_value()) << bad;
        EXPECT_EQ(e.error().message, fmt::format("--env '{}': expected KEY=VALUE", bad));
    }
}

TEST(cli_requests, parse_duration_table) {
    using std::chrono::milliseconds;
    const std::vector<std::pair<const char*, long long>> good = {
        {"0", 0}, {"45", 45'000}, {"30s", 30'000}, {"5m", 300'000}, {"2h", 7'200'000},
        {"1d", 86'400'000}, {"1w", 604'800'000}, {"1h30m", 5'400'000}, {"1m30s", 90'000}};
    for (const auto& [text, ms] : good) {
        auto d = parse_duration(text);
        ASSERT_TRUE(d.has_value()) << text;
        EXPECT_EQ(d->count(), ms) << text;
    }
    for (const char* bad : {"", "m", "5x", "-5m", "1h30", "5 m", "99999999999999999999s"}) {
        EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
    }
    EXPECT_EQ(*since_epoch_ms("all", 1000), std::nullopt);
    EXPECT_EQ(*since_epoch_ms("2s", 1000), std::optional<std::int64_t>{0});
    EXPECT_FALSE(since_epoch_ms("soon", 1000).has_value());
}

// ---------------------------------------------------------------------------------------------
// Responses

TEST(cli_requests, decode_api_error_reads_both_protocols) {
    EXPECT_FALSE(decode_api_error({200, {}, "{}"}).has_value());
    EXPECT_FALSE(decode_api_error({204, {}, ""}).has_value());

    const auto rest = decode_api_error(
        {404, {{"X-Amzn-ErrorType", "ResourceNotFoundException:http://internal.amazon.com/coral/"}},
         R"({"Type":"User","Message":"Function not found: arn:aws:lambda:us-east-1:000000000000:function:x"})"});
    ASSERT_TRUE(rest.has_value());
    EXPECT_EQ(rest->type, "ResourceNotFoundException");
    EXPECT_EQ(rest->message, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:x");

    const auto logs = decode_api_error(
        {400, {}, R"({"__type":"com.amazonaws.logs#ResourceNotFoundException","message":"The specified log group does not exist."})"});
    ASSERT_TRUE(logs.has_value());
    EXPECT_EQ(logs->type, "ResourceNotFoundException");
    EXPECT_EQ(logs->message, "The specified log group does not exist.");

    const auto plain = decode_api_error({502, {}, "Bad Gateway"});
    EXPECT_EQ(plain->type, "HTTP502");
    EXPECT_EQ(plain->message, "Bad Gateway");
}

TEST(cli_requests, describe_function_error_python_and_node) {
    const std::string py = R"js({"errorMessage": "asked to fail", "errorType": "ValueError", "requestId": "r",
        "stackTrace": ["  File \"/var/task/app.py\", line 5, in handler\n    raise ValueError(\"asked to fail\")\n"]})js";
    EXPECT_EQ(describe_function_error("Unhandled", py),
              "function error (Unhandled): ValueError: asked to fail\n"
              "      File \"/var/task/app.py\", line 5, in handler\n"
              "        raise ValueError(\"asked to fail\")\n");
    const std::string node = R"js({"errorType":"TypeError","errorMessage":"x is not a function",
        "trace":["TypeError: x is not a function","    at Runtime.handler (/var/task/index.js:2:3)"]})js";
    EXPECT_EQ(describe_function_error("Unhandled", node),
              "function error (Unhandled): TypeError: x is not a function\n"
              "    TypeError: x is not a function\n"
              "        at Runtime.handler (/var/task/index.js:2:3)\n");
    EXPECT_EQ(describe_function_error("", "not json"), "function error (Unhandled): not json\n");
}

TEST(cli_requests, read_function_state_table) {
    const auto state = [](json cfg) { return read_function_state(json{{"Configuration", std::move(cfg)}}); };
    EXPECT_EQ(state({{"State", "Active"}, {"LastUpdateStatus", "Successful"}}).state, readiness::ready);
    EXPECT_EQ(state({{"State", "Active"}}).state, readiness::ready);
    EXPECT_EQ(state({{"State", "Pending"}}).state, readiness::pending);
    EXPECT_EQ(state({{"State", "Active"}, {"LastUpdateStatus", "InProgress"}}).state, readiness::pending);
    const auto failed = state({{"State", "Failed"}, {"StateReason", "bad zip"}});
    EXPECT_EQ(failed.state, readiness::failed);
    EXPECT_EQ(failed.reason, "bad zip");
    const auto update_failed =
        state({{"State", "Active"}, {"LastUpdateStatus", "Failed"}, {"LastUpdateStatusReason", "no space"}});
    EXPECT_EQ(update_failed.state, readiness::failed);
    EXPECT_EQ(update_failed.reason, "no space");
    EXPECT_EQ(read_function_state(json::object()).state, readiness::pending);
}

TEST(cli_requests, decode_pages_and_summaries) {
    auto page = decode_filter_page(
        R"({"events":[{"logStreamName":"s","timestamp":5,"message":"m","ingestionTime":5,"eventId":"e1"}],)"
        R"("searchedLogStreams":[],"nextToken":"t"})");
    ASSERT_TRUE(page.has_value());
    ASSERT_EQ(page->events.size(), 1u);
    EXPECT_EQ(page->events[0].timestamp, 5);
    EXPECT_EQ(page->events[0].event_id, "e1");
    EXPECT_EQ(page->events[0].message, "m");
    EXPECT_EQ(page->next_token, std::optional<std::string>("t"));
    EXPECT_EQ(decode_filter_page(R"({"events":[]})")->next_token, std::nullopt);
    for (const char* bad : {"", "[]", "{}", R"({"events":{}})"}) {
        auto r = decode_filter_page(bad);
        ASSERT_FALSE(r.has_value()) << bad;
        EXPECT_EQ(r.error().message, "the server's FilterLogEvents response has no events list");
    }

    auto fns = decode_function_page(
        R"({"Functions":[{"FunctionName":"a","Runtime":"python3.12","Handler":"app.h","MemorySize":256,)"
        R"("Timeout":9,"LastModified":"2024-05-01T12:34:56.789+0000","CodeSha256":"abc="}],"NextMarker":"a"})");
    ASSERT_TRUE(fns.has_value());
    ASSERT_EQ(fns->functions.size(), 1u);
    EXPECT_EQ(fns->next_marker, std::optional<std::string>("a"));
    const auto f = summarize_function(fns->functions[0]);
    EXPECT_EQ(f.name, "a");
    EXPECT_EQ(f.runtime, "python3.12");
    EXPECT_EQ(f.handler, "app.h");
    EXPECT_EQ(f.memory_mb, 256);
    EXPECT_EQ(f.timeout_s, 9);
    EXPECT_EQ(f.last_modified, "2024-05-01T12:34:56.789+0000");
    EXPECT_EQ(f.code_sha256, "abc=");
    EXPECT_EQ(decode_function_page(R"({"Functions":[],"NextMarker":""})")->next_marker, std::nullopt);
    EXPECT_FALSE(decode_function_page("{}").has_value());
    EXPECT_EQ(summarize_function(json("not an object")).name, "");
}

TEST(cli_requests, formatting) {
    EXPECT_EQ(format_log_event(1714566896789, "hello"), "2024-05-01T12:34:56.789Z hello");
    EXPECT_EQ(human_bytes(17), "17 B");
    EXPECT_EQ(human_bytes(2048), "2 KB");
    EXPECT_EQ(human_bytes(5 * 1024 * 1024 + 300 * 1024), "5.3 MB");
}
