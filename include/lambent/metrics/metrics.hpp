#pragma once
/// Counters, gauges and histograms per function, rendered in the Prometheus text format on GET /metrics.
/// Owned and updated by the io_context thread only (no locks).

#include <array>
#include <cstdint>
#include <map>
#include <string>

namespace lambent::metrics {

/// Fixed-bucket histogram (seconds).
struct histogram {
    static constexpr std::array<double, 14> bounds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                   0.1,    0.25,  0.5,    1,     2.5,   5,    10};
    std::array<std::uint64_t, bounds.size()> counts{};
    std::uint64_t count = 0;
    double sum = 0;
    void observe(double seconds);
};

struct function_metrics {
    std::uint64_t invocations = 0;
    std::uint64_t errors = 0;        // function and platform errors (X-Amz-Function-Error)
    std::uint64_t throttles = 0;     // 429s
    std::uint64_t faults_injected = 0;  // invocations affected by an injected fault (also counted above)
    std::uint64_t cold_starts = 0;
    std::uint64_t warm_starts = 0;
    std::int64_t concurrent = 0;     // in flight now
    histogram duration;
    histogram init_duration;
};

class registry {
public:
    function_metrics& function(const std::string& name) { return functions_[name]; }
    void forget(const std::string& name) { functions_.erase(name); }
    /// The Prometheus text exposition (version 0.0.4). `extra` is appended as is (server-wide gauges).
    std::string render(const std::string& extra) const;

private:
    std::map<std::string, function_metrics> functions_;
};

}  // namespace lambent::metrics
