// lambent: the server (`lambent serve`) and its client commands (deploy, invoke, logs, ls, rm, event).

#include "lambent/app/app.hpp"
#include "lambent/cli/client.hpp"
#include "lambent/cli/commands.hpp"

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

int main(int argc, char** argv) {
    CLI::App cli{"Lambent: a self-hosted, AWS-Lambda-compatible function server"};
    cli.require_subcommand(1);

    lambent::app::config cfg;
    long long idle_ttl_s = 600;
    double async_retry_delay_s = 60;
    auto* serve = cli.add_subcommand("serve", "Serve the Lambda REST API");
    std::optional<int> port;
    auto* listen = serve->add_option("--listen", cfg.listen, "Address to listen on, HOST:PORT (port 0 picks a free port)")
                       ->capture_default_str();
    serve->add_option("--port", port, "Shorthand for --listen 127.0.0.1:PORT (0 picks a free port)")
        ->check(CLI::Range(0, 65535))
        ->excludes(listen);
    serve->add_option("--data-dir", cfg.data_dir, "Directory for the database, code and logs")->capture_default_str();
    serve->add_option("--region", cfg.region, "Region in ARNs and the function environment")->capture_default_str();
    serve->add_option("--account-id", cfg.account_id, "Account id in ARNs")->capture_default_str();
    serve->add_option("--concurrency", cfg.concurrency,
                      "Account concurrency limit (0: sized to the machine's memory)")
        ->capture_default_str();
    serve->add_option("--idle-ttl", idle_ttl_s, "Seconds an idle worker is kept warm before it is stopped")
        ->capture_default_str();
    serve->add_option("--async-retry-delay", async_retry_delay_s,
                      "Seconds before the first retry of a failed asynchronous invocation (AWS: about 60; the second "
                      "retry waits twice as long)")
        ->capture_default_str();
    serve->add_option("--log-retention-days", cfg.log_retention_days,
                      "Days function logs are kept (0: forever); older log streams are deleted")
        ->capture_default_str();
    serve->add_option("--runtimes-dir", cfg.runtimes_dir, "Directory with registry.json and the runtime bootstraps");
    serve->add_option("--log-level", cfg.log_level, "trace, debug, info, warn, error")->capture_default_str();
    serve->add_option("--sandbox", cfg.sandbox, "Contain every worker (namespaces, cgroups, seccomp); off only for trusted code")
        ->check(CLI::IsMember({"on", "off"}))
        ->capture_default_str();
    serve->add_option("--sandbox-network", cfg.sandbox_network,
                      "Network of sandboxed workers: none (loopback only) or egress (outside and host ports)")
        ->check(CLI::IsMember({"none", "egress"}))
        ->capture_default_str();

    lambent::cli::client_commands client;
    lambent::cli::add_client_commands(cli, client);

    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return lambent::cli::exit_for_parse_error(cli, e, client);  // serve: exactly CLI11_PARSE's handling
    }
    if (serve->parsed()) {
        if (port) cfg.listen = "127.0.0.1:" + std::to_string(*port);
        cfg.idle_ttl = std::chrono::seconds(idle_ttl_s);
        cfg.async_retry_delay = std::chrono::milliseconds(static_cast<long long>(async_retry_delay_s * 1000));
        return lambent::app::serve(cfg);
    }
    if (client.selected()) return lambent::cli::run_client_command(client);
    return 0;
}
