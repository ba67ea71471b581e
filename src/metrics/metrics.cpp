#include "lambent/metrics/metrics.hpp"

#include <fmt/format.h>

namespace lambent::metrics {

void histogram::observe(double seconds) {
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        if (seconds <= bounds[i]) ++counts[i];
    }
    ++count;
    sum += seconds;
}

namespace {

std::string escape(const std::string& v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out.push_back('\\');
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out.push_back(c);
    }
    return out;
}

void render_histogram(std::string& out, const char* name, const std::string& fn, const histogram& h) {
    for (std::size_t i = 0; i < histogram::bounds.size(); ++i) {
        out += fmt::format("{}_bucket{{function=\"{}\",le=\"{}\"}} {}\n", name, fn, histogram::bounds[i], h.counts[i]);
    }
    out += fmt::format("{}_bucket{{function=\"{}\",le=\"+Inf\"}} {}\n", name, fn, h.count);
    out += fmt::format("{}_sum{{function=\"{}\"}} {}\n", name, fn, h.sum);
    out += fmt::format("{}_count{{function=\"{}\"}} {}\n", name, fn, h.count);
}

}  // namespace

std::string registry::render(const std::string& extra) const {
    std::string out;
    struct counter {
        const char* name;
        const char* help;
        const char* type;
        std::int64_t (*get)(const function_metrics&);
    };
    static constexpr counter counters[] = {
        {"lambent_invocations_total", "Invocations started", "counter",
         [](const function_metrics& m) { return static_cast<std::int64_t>(m.invocations); }},
        {"lambent_errors_total", "Invocations that ended in a function or platform error", "counter",
         [](const function_metrics& m) { return static_cast<std::int64_t>(m.errors); }},
        {"lambent_throttles_total", "Invocations refused with 429 TooManyRequestsException", "counter",
         [](const function_metrics& m) { return static_cast<std::int64_t>(m.throttles); }},
        {"lambent_faults_injected_total", "Invocations affected by an injected fault (docs/faults.md)", "counter",
         [](const function_metrics& m) { return static_cast<std::int64_t>(m.faults_injected); }},
        {"lambent_cold_starts_total", "Invocations that waited for a new worker", "counter",
         [](const function_metrics& m) { return static_cast<std::int64_t>(m.cold_starts); }},
        {"lambent_warm_starts_total", "Invocations served by a warm worker", "counter",
         [](const function_metrics& m) { return static_cast<std::int64_t>(m.warm_starts); }},
        {"lambent_concurrent_executions", "Invocations in flight", "gauge",
         [](const function_metrics& m) { return m.concurrent; }},
    };
    for (const auto& c : counters) {
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", c.name, c.help, c.name, c.type);
        for (const auto& [fn, m] : functions_) {
            out += fmt::format("{}{{function=\"{}\"}} {}\n", c.name, escape(fn), c.get(m));
        }
    }
    out += "# HELP lambent_duration_seconds Invocation duration\n# TYPE lambent_duration_seconds histogram\n";
    for (const auto& [fn, m] : functions_) render_histogram(out, "lambent_duration_seconds", escape(fn), m.duration);
    out += "# HELP lambent_init_duration_seconds Init duration of new workers\n"
           "# TYPE lambent_init_duration_seconds histogram\n";
    for (const auto& [fn, m] : functions_) {
        render_histogram(out, "lambent_init_duration_seconds", escape(fn), m.init_duration);
    }
    out += extra;
    return out;
}

}  // namespace lambent::metrics
