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
