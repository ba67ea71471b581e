#pragma once
/// Composition root: configuration, the io_context, the blocking pool, wiring, signals, shutdown.

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace lambent::app {

struct config {
    std::string listen = "127.0.0.1:9400";
    std::filesystem::path data_dir = ".lambent";
    std::string region = "us-east-1";
    std::string account_id = "000000000000";
    int concurrency = 0;  // 0: sized to the machine
    std::chrono::milliseconds idle_ttl{std::chrono::minutes(10)};
    std::filesystem::path runtimes_dir;  // empty: next to the binary
    std::string log_level = "info";
    std::chrono::milliseconds async_retry_delay{std::chrono::minutes(1)};
    int log_retention_days = 0;             // 0: keep function logs forever
    std::string sandbox = "on";             // on | off
    std::string sandbox_network = "egress"; // none | egress
    int spare_sandboxes = 2;                // sandboxes prepared ahead of cold starts (0: none)
    // Security (docs/security.md).
    std::string auth;                       // "" (sigv4 with --credentials, else none) | none | sigv4
    std::filesystem::path credentials;      // AWS shared-credentials file of the accepted keys
    bool allow_unauthenticated = false;     // serve a non-loopback address without auth
    bool public_metrics = false;            // GET /metrics without a signature when auth is on
    std::filesystem::path tls_cert;         // PEM certificate chain: serve HTTPS
    std::filesystem::path tls_key;          // PEM private key
    int max_connections = 512;              // open connections served at once (0: no limit)
    std::chrono::milliseconds header_timeout{std::chrono::seconds(15)};
    // SAM template (docs/templates.md)
    std::filesystem::path template_file;            // empty: no template
    std::vector<std::string> parameter_overrides;   // K=V
    bool watch = false;
    std::string api_listen = "127.0.0.1:3000";      // Api/HttpApi routes
    double schedule_clock_rate = 1.0;
    std::string stack_name = "lambent";
};

/// Runs the server until SIGINT/SIGTERM. Returns the process exit code.
int serve(const config& cfg);

}  // namespace lambent::app
