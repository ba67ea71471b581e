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
    serve->add_option("--spare-sandboxes", cfg.spare_sandboxes,
                      "Sandboxes kept prepared (namespaces, cgroup, network) for cold starts; 0 turns the pool off")
        ->check(CLI::Range(0, 64))
        ->capture_default_str();
    double header_timeout_s = 15;
    serve->add_option("--auth", cfg.auth,
                      "Request authentication: sigv4 (AWS Signature Version 4, keys from --credentials) or none. "
                      "Default: sigv4 when --credentials is given, else none (loopback only)")
        ->check(CLI::IsMember({"none", "sigv4"}));
    serve->add_option("--credentials", cfg.credentials,
                      "AWS shared-credentials file ([profile] aws_access_key_id/aws_secret_access_key) of the keys "
                      "allowed to call the API");
    serve->add_flag("--allow-unauthenticated", cfg.allow_unauthenticated,
                    "Serve a non-loopback address without authentication (anyone who reaches it can run code)");
    serve->add_flag("--public-metrics", cfg.public_metrics, "With --auth sigv4, serve GET /metrics without a signature");
    serve->add_option("--tls-cert", cfg.tls_cert, "PEM certificate chain: serve HTTPS (with --tls-key)");
    serve->add_option("--tls-key", cfg.tls_key, "PEM private key of --tls-cert");
    serve->add_option("--max-connections", cfg.max_connections,
                      "Open client connections served at once (0: no limit); past it idle keep-alive connections "
                      "are closed, then new ones get 503")
        ->capture_default_str();
    serve->add_option("--header-timeout", header_timeout_s,
                      "Seconds a client has to send a whole request header (and finish the TLS handshake)")
        ->capture_default_str();

    serve->add_option("--template", cfg.template_file,
                      "Deploy the functions of this AWS SAM / CloudFormation template (YAML or JSON) at start");
    serve->add_option("--parameter-overrides", cfg.parameter_overrides, "Template parameters, KEY=VALUE ...");
    serve->add_flag("--watch", cfg.watch, "Redeploy a template function when its CodeUri folder changes");
    serve->add_option("--api-listen", cfg.api_listen, "Address of the template's Api/HttpApi routes, HOST:PORT")
        ->capture_default_str();
    serve->add_option("--schedule-clock-rate", cfg.schedule_clock_rate,
                      "Run template schedules this many times faster than the wall clock (tests)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    serve->add_option("--stack-name", cfg.stack_name, "AWS::StackName of the template")->capture_default_str();

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
        cfg.header_timeout = std::chrono::milliseconds(static_cast<long long>(header_timeout_s * 1000));
        cfg.async_retry_delay = std::chrono::milliseconds(static_cast<long long>(async_retry_delay_s * 1000));
        return lambent::app::serve(cfg);
    }
    if (client.selected()) return lambent::cli::run_client_command(client);
    return 0;
}
