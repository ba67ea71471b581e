#include "lambent/cli/commands.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>

namespace lambent::cli {

namespace {

// Every command binds the same variable; CLI11's envname() is not used because the environment of one
// command's option would then be applied over another command's flag.
void add_endpoint(CLI::App* cmd, client_commands& c) {
    cmd->add_option("--endpoint", c.endpoint_flag,
                    fmt::format("Lambent server URL (default: ${} or {})", endpoint_env, default_endpoint));
}

constexpr const char* exit_codes_footer =
    "Exit status: 0 ok, 1 the function failed, 2 usage or API error, 3 cannot reach the server.";

}  // namespace

std::string client_commands::endpoint_url() const {
    if (endpoint_flag) return *endpoint_flag;
    if (const char* env = std::getenv(std::string(endpoint_env).c_str()); env != nullptr && *env != '\0') return env;
    return std::string(default_endpoint);
}

bool client_commands::selected() const {
    for (const CLI::App* cmd : {deploy_cmd, publish_layer_cmd, invoke_cmd, logs_cmd, ls_cmd, rm_cmd, event_cmd, fault_cmd}) {
        if (cmd != nullptr && cmd->parsed()) return true;
    }
    return false;
}

void add_client_commands(CLI::App& app, client_commands& c) {
    // deploy
    auto* deploy = app.add_subcommand("deploy", "Create or update a function from a folder (zipped with file modes)");
    deploy->add_option("DIR", c.deploy.dir, "Folder with the function code (its contents become the ZIP root)")
        ->required()
        ->check(CLI::ExistingDirectory);
    deploy->add_option("--name,-n", c.deploy.name, "Function name")->required();
    deploy->add_option("--runtime,-r", c.deploy.runtime, "Runtime, e.g. python3.12, nodejs20.x, provided.al2023")
        ->required();
    deploy->add_option("--handler", c.deploy.handler, "Handler, e.g. app.handler (bootstrap for provided runtimes)")
        ->required();
    deploy->add_option("--env,-e", c.deploy.env, "Environment variable KEY=VALUE (repeatable; replaces all variables)")
        ->allow_extra_args(false);
    deploy->add_option("--memory", c.deploy.memory_mb, "Memory in MB (128-10240)");
    deploy->add_option("--timeout", c.deploy.timeout_s, "Timeout in seconds (1-900)");
    deploy->add_option("--role", c.deploy.role, "Execution role ARN (not used by Lambent, required by the API)")
        ->capture_default_str();
    deploy->add_option("--layer", c.deploy.layers,
                       "Layer version ARN (repeatable, in order; replaces the function's layers)")
        ->allow_extra_args(false);
    add_endpoint(deploy, c);
    deploy->footer(exit_codes_footer);
    c.deploy_cmd = deploy;

    // publish-layer
    auto* layer = app.add_subcommand("publish-layer", "Publish a folder as a new layer version; prints its ARN");
    layer->add_option("DIR", c.publish_layer.dir, "Folder with the layer content (python/, nodejs/node_modules/, bin/, …)")
        ->required()
        ->check(CLI::ExistingDirectory);
    layer->add_option("--name,-n", c.publish_layer.name, "Layer name")->required();
    layer->add_option("--description", c.publish_layer.description, "Description of this version");
    layer->add_option("--compatible-runtime", c.publish_layer.compatible_runtimes, "Runtime (repeatable)")
        ->allow_extra_args(false);
    layer->add_option("--compatible-architecture", c.publish_layer.compatible_architectures,
                      "x86_64 or arm64 (repeatable)")
        ->allow_extra_args(false);
    layer->add_option("--license", c.publish_layer.license_info, "License information");
    add_endpoint(layer, c);
    layer->footer(exit_codes_footer);
    c.publish_layer_cmd = layer;

    // invoke
    auto* invoke = app.add_subcommand("invoke", "Invoke a function and print its result on stdout");
    invoke->add_option("NAME", c.invoke.name, "Function name or ARN")->required();
    invoke->add_option("--payload,-p", c.invoke.payload, "Event JSON, @FILE, or @- to read stdin (default: {})");
    invoke->add_option("--qualifier,-q", c.invoke.qualifier, "Version or alias");
    invoke->add_flag("--async", c.invoke.async, "Invoke asynchronously (InvocationType Event) and return at once");
    invoke->add_flag("--log,-l", c.invoke.log, "Print the invocation's log tail on stderr");
    add_endpoint(invoke, c);
    invoke->footer(exit_codes_footer);
    c.invoke_cmd = invoke;

    // logs
    auto* logs = app.add_subcommand("logs", "Print a function's log events (/aws/lambda/NAME)");
    logs->add_option("NAME", c.logs.name, "Function name")->required();
    logs->add_flag("--follow,-f", c.logs.follow, "Keep printing new events until interrupted");
    logs->add_option("--since,-s", c.logs.since, "Start that long ago (30s, 5m, 2h, 1d, 1h30m) or 'all'")
        ->capture_default_str();
    logs->add_option("--filter", c.logs.filter, "CloudWatch Logs filter pattern (terms, \"phrases\", ?any, -not)");
    add_endpoint(logs, c);
    logs->footer(exit_codes_footer);
    c.logs_cmd = logs;

    // ls
    auto* ls = app.add_subcommand("ls", "List functions");
    ls->add_flag("--json", c.ls.json, "Print the FunctionConfiguration list as JSON");
    ls->add_flag("--quiet,-q", c.ls.quiet, "Print names only");
    add_endpoint(ls, c);
    ls->footer(exit_codes_footer);
    c.ls_cmd = ls;

    // rm
    auto* rm = app.add_subcommand("rm", "Delete functions");
    rm->add_option("NAME", c.rm.names, "Function names")->required();
    add_endpoint(rm, c);
    rm->footer(exit_codes_footer);
    c.rm_cmd = rm;

    // event
    auto* event = app.add_subcommand("event", "Print a sample event to pipe into `lambent invoke NAME --payload @-`");
    event->require_subcommand(1);
    c.event_cmd = event;

    auto* s3 = event->add_subcommand("s3-put", "S3 ObjectCreated:Put notification");
    s3->add_option("--bucket", c.s3_put.bucket, "Bucket name")->capture_default_str();
    s3->add_option("--key", c.s3_put.key, "Object key (URL-encoded in the event, as S3 does)")->capture_default_str();
    s3->add_option("--size", c.s3_put.size, "Object size in bytes")->capture_default_str();
    s3->add_option("--region", c.s3_put.region, "Region")->capture_default_str();
    s3->add_option("--version-id", c.s3_put.version_id, "Object version id (versioned buckets)");
    c.s3_put_cmd = s3;

    auto* apigw = event->add_subcommand("apigw-v2", "HTTP API / function URL request (payload format 2.0)");
    apigw->add_option("--method,-X", c.apigw_v2.method, "HTTP method")->capture_default_str();
    apigw->add_option("--path", c.apigw_v2.path, "Request path, may include ?query")->capture_default_str();
    apigw->add_option("--query", c.apigw_v2.query, "Raw query string, e.g. 'q=x&q=y'");
    apigw->add_option("--header,-H", c.apigw_v2.headers, "Header 'Name: value' (repeatable)")->allow_extra_args(false);
    apigw->add_option("--body,-d", c.apigw_v2.body, "Request body, or @FILE");
    apigw->add_option("--route-key", c.apigw_v2.route_key, "Route key")->capture_default_str();
    apigw->add_option("--region", c.apigw_v2.region, "Region")->capture_default_str();
    apigw->add_option("--account", c.apigw_v2.account, "Account id")->capture_default_str();
    c.apigw_v2_cmd = apigw;

    auto* sched = event->add_subcommand("schedule", "EventBridge scheduled event");
    sched->add_option("--rule", c.schedule.rule, "Rule name")->capture_default_str();
    sched->add_option("--region", c.schedule.region, "Region")->capture_default_str();
    sched->add_option("--account", c.schedule.account, "Account id")->capture_default_str();
    c.schedule_cmd = sched;

    // fault (docs/faults.md)
    auto* fault = app.add_subcommand("fault", "Inject faults into a function's invocations (held in server memory)");
    fault->require_subcommand(1);
    c.fault_cmd = fault;
    auto* fault_set = fault->add_subcommand("set", "Make invocations of FUNCTION fail as AWS would, or slow them");
    fault_set->add_option("FUNCTION", c.fault.function, "Function name")->required();
    fault_set->add_option("FAULT", c.fault.spec, "throttle, timeout, oom, init-error or latency=MS")->required();
    fault_set->add_option("--rate", c.fault.rate, "Probability that one invocation is affected, 0..1 (default 1)");
    fault_set->add_option("--count", c.fault.count, "Affect this many invocations, then clear the fault");
    fault_set->add_option("--qualifier,-q", c.fault.qualifier, "Only invocations of this version or alias");
    fault_set->add_option("--seed", c.fault.seed, "Seed of the --rate draws, for reproducible runs");
    add_endpoint(fault_set, c);
    fault_set->footer(exit_codes_footer);
    c.fault_set_cmd = fault_set;
    auto* fault_clear = fault->add_subcommand("clear", "Remove the faults of FUNCTION (of every function without one)");
    fault_clear->add_option("FUNCTION", c.fault.function, "Function name");
    fault_clear->add_option("--qualifier,-q", c.fault.qualifier, "Only the fault set for this version or alias");
    add_endpoint(fault_clear, c);
    fault_clear->footer(exit_codes_footer);
    c.fault_clear_cmd = fault_clear;
    auto* fault_ls = fault->add_subcommand("ls", "List the faults in force");
    fault_ls->add_flag("--json", c.fault.json, "Print the admin API's JSON");
    add_endpoint(fault_ls, c);
    fault_ls->footer(exit_codes_footer);
    c.fault_ls_cmd = fault_ls;
}

int exit_for_parse_error(CLI::App& app, const CLI::ParseError& e, const client_commands& c) {
    if (!c.selected()) return app.exit(e);
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
        return app.exit(e);  // --help, --help-all: printed, status 0
    }
    std::fprintf(stderr, "error: %s\nRun with --help for usage.\n", e.what());
    return exit_usage;
}

}  // namespace lambent::cli
