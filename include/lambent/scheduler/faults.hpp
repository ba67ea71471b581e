#pragma once
/// Fault injection: per-function faults that make invocations fail the way AWS fails them (throttle,
/// timeout, out of memory, init error) or slow them down (latency), so callers can test their retry and
/// error handling. Held in memory by the scheduler (they do not survive a restart); set and cleared through
/// the admin API `/_lambent/faults` (docs/faults.md). io_context thread only, like the rest of the scheduler.

#include "lambent/common/error.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lambent::scheduler {

enum class fault_kind { throttle, timeout, oom, init_error, latency };

/// The wire and CLI names: throttle, timeout, oom, init-error, latency.
std::string_view to_string(fault_kind kind);
std::optional<fault_kind> parse_fault_kind(std::string_view name);

struct fault {
    std::string function;
    std::string qualifier;  // a version or alias as invoked; "" = every invocation of the function
    fault_kind kind = fault_kind::throttle;
    std::chrono::milliseconds latency{0};  // latency faults
    double rate = 1.0;                      // probability that one invocation is affected (0..1)
    std::optional<std::int64_t> remaining;  // invocations still to affect; the fault is removed at 0
    std::optional<std::uint64_t> seed;      // fixed seed of the rate's random draws (reproducible runs)
    std::int64_t injected = 0;              // invocations affected so far
};

class fault_registry {
public:
    /// Adds or replaces the fault of (function, qualifier).
    void set(fault f);
    /// Removes the faults of `function` ("" = of every function); with `qualifier`, only that one.
    /// Returns how many were removed.
    std::size_t clear(const std::string& function, const std::optional<std::string>& qualifier);
    std::vector<fault> list() const;
    bool empty() const { return faults_.empty(); }

    /// Decides whether one invocation of `function` (running `version`, called through `qualifier`, "" when
    /// unqualified) is affected. A fault set for that qualifier or version wins over the function-wide one.
    /// Consumes one of the fault's count when it fires.
    std::optional<fault> take(const std::string& function, const std::string& version, const std::string& qualifier);

private:
    struct entry {
        fault f;
        std::mt19937_64 rng;
    };
    std::map<std::pair<std::string, std::string>, entry> faults_;
};

/// The qualifier an invocation was called with, from the ARN as called ("" when unqualified).
std::string qualifier_of_arn(std::string_view arn);

}  // namespace lambent::scheduler
