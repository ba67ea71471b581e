#pragma once
/// The client subcommands of `lambent` (deploy, publish-layer, invoke, logs, ls, rm, event): their CLI11 definitions and
/// the option values they fill. Running them is client.hpp; `serve` stays in main.cpp.

#include "lambent/cli/events.hpp"
#include "lambent/cli/faults.hpp"
#include "lambent/cli/requests.hpp"

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace lambent::cli {

struct client_commands {
    std::optional<std::string> endpoint_flag;  // --endpoint of whichever command was given

    /// --endpoint, else $LAMBENT_ENDPOINT, else http://127.0.0.1:9400.
    [[nodiscard]] std::string endpoint_url() const;

    deploy_options deploy;
    publish_layer_options publish_layer;
    invoke_options invoke;
    logs_options logs;
    ls_options ls;
    rm_options rm;
    s3_put_options s3_put;
    apigw_v2_options apigw_v2;
    schedule_options schedule;
    fault_options fault;

    CLI::App* deploy_cmd = nullptr;
    CLI::App* publish_layer_cmd = nullptr;
    CLI::App* invoke_cmd = nullptr;
    CLI::App* logs_cmd = nullptr;
    CLI::App* ls_cmd = nullptr;
    CLI::App* rm_cmd = nullptr;
    CLI::App* event_cmd = nullptr;
    CLI::App* s3_put_cmd = nullptr;
    CLI::App* apigw_v2_cmd = nullptr;
    CLI::App* schedule_cmd = nullptr;
    CLI::App* fault_cmd = nullptr;
    CLI::App* fault_set_cmd = nullptr;
    CLI::App* fault_clear_cmd = nullptr;
    CLI::App* fault_ls_cmd = nullptr;

    /// Whether one of these commands was named on the command line (also after a parse error).
    [[nodiscard]] bool selected() const;
};

/// Adds the client subcommands to `app`; `c` receives the values and must outlive parsing and running.
void add_client_commands(CLI::App& app, client_commands& c);

/// The exit status for a parse error: for a client command, `--help` prints help (0) and anything else
/// prints `error: …` and a hint (2); otherwise CLI11's own handling, exactly as `CLI11_PARSE` does.
[[nodiscard]] int exit_for_parse_error(CLI::App& app, const CLI::ParseError& e, const client_commands& c);

}  // namespace lambent::cli
