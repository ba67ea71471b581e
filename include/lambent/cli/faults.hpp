#pragma once
/// `lambent fault set|clear|ls`: the client side of the fault-injection admin API (docs/faults.md).
/// Request building and output formatting are pure (faults.cpp, unit-tested); run_fault_command does
/// the I/O (client.cpp).

#include "lambent/cli/requests.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace lambent::cli {

struct fault_options {
    std::string function;                    // set: required; clear: optional (none = every function)
    std::string spec;                        // throttle | timeout | oom | init-error | latency=MS
    std::optional<double> rate;              // 0..1
    std::optional<long long> count;          // invocations to affect, then the fault clears itself
    std::optional<std::string> qualifier;    // version or alias
    std::optional<unsigned long long> seed;  // reproducible rate draws
    bool json = false;                       // ls: print the API's JSON
};

/// PUT /_lambent/faults/{function}; errc::validation naming the bad argument.
[[nodiscard]] result<http_request> fault_set_request(const fault_options& o);
/// DELETE /_lambent/faults[/{function}][?Qualifier=Q].
http_request fault_clear_request(const fault_options& o);
/// GET /_lambent/faults.
http_request fault_list_request();
/// One line per fault: FUNCTION QUALIFIER FAULT RATE COUNT INJECTED (header first); "no faults" when empty.
std::string format_fault_list(const nlohmann::json& body);

enum class fault_action { set, clear, ls };
/// Runs one `lambent fault` subcommand against `ep` (client.cpp); returns the exit status (docs/cli.md).
int run_fault_command(const endpoint& ep, fault_action action, const fault_options& o);

}  // namespace lambent::cli
