// lambent: the server (`lambent serve`) and, later, its client commands.

#include "lambent/app/app.hpp"

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
    CLI::App cli{"Lambent: a self-hosted, AWS-Lambda-compatible function server"};
    cli.require_subcommand(1);

    lambent::app::config cfg;
    long long idle_ttl_s = 600;
    auto* serve = cli.add_subcommand("serve", "Serve the Lambda REST API");
    serve->add_option("--listen", cfg.listen, "Address to listen on, HOST:PORT (port 0 picks a free port)")
        ->capture_default_str();
    serve->add_option("--data-dir", cfg.data_dir, "Directory for the database, code and logs")->capture_default_str();
    serve->add_option("--region", cfg.region, "Region in ARNs and the function environment")->capture_default_str();
    serve->add_option("--account-id", cfg.account_id, "Account id in ARNs")->capture_default_str();
    serve->add_option("--concurrency", cfg.concurrency,
                      "Account concurrency limit (0: sized to the machine's memory)")
        ->capture_default_str();
    serve->add_option("--idle-ttl", idle_ttl_s, "Seconds an idle worker is kept warm before it is stopped")
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

    CLI11_PARSE(cli, argc, argv);
    if (serve->parsed()) {
        cfg.idle_ttl = std::chrono::seconds(idle_ttl_s);
        return lambent::app::serve(cfg);
    }
    return 0;
}
