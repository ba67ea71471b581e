#pragma once
/// The scheduler: a warm pool of workers per function version (and configuration revision), reuse,
/// scale-out, the account concurrency limit, idle eviction, deadlines. Lives on the io_context thread;
/// no mutexes. Workers are started through one launcher (lambent-jail).

#include "lambent/model/function.hpp"
#include "lambent/scheduler/faults.hpp"
#include "lambent/scheduler/invocation.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace lambent::store {
class store;
}
namespace lambent::sandbox {
struct host_support;
}

namespace lambent::scheduler {

struct runtime_spec {
    std::string family;                 // python | nodejs | provided
    std::vector<std::string> command;   // with {runtime_dir} and {task_root} placeholders
    std::string execution_env;          // AWS_EXECUTION_ENV, empty for provided
};

struct scheduler_options {
    model::account_context account;
    int concurrency_limit = 64;
    std::chrono::milliseconds idle_ttl{std::chrono::minutes(10)};
    std::chrono::milliseconds init_timeout{std::chrono::seconds(10)};
    std::filesystem::path jail_path;       // lambent-jail
    std::filesystem::path runtimes_dir;    // holds registry.json and one directory per family
    std::filesystem::path logs_dir;
    bool mount_code = true;                // bind-mount code at /var/task (needs CAP_SYS_ADMIN)
    bool sandbox = false;                  // full containment through lambent-jail --sandbox
    bool egress = false;                   // sandboxed workers get slirp4netns egress
    std::string slirp4netns;               // path, when egress
    int seccomp_fd = -1;                   // BPF program (sandbox::compile_seccomp_filter)
    bool userns = false;                   // unprivileged: the jail runs the sandbox in a user namespace
    std::filesystem::path jail_root;       // unprivileged: where the jail builds workers' roots (server-owned)
    std::shared_ptr<const sandbox::host_support> host;  // cgroups etc.
    std::string endpoint_url;              // the server's own URL, for AWS_ENDPOINT_URL inside functions
    int spare_sandboxes = 2;               // sandbox: spare sandboxes kept ready for cold starts (ADR 0006)
    bool jail_trace = false;               // lambent-jail --trace: stage timings in the function's log
};

class scheduler_impl;

class scheduler {
public:
    scheduler(boost::asio::io_context& io, boost::asio::thread_pool& pool, store::store& store, scheduler_options options);
    ~scheduler();

    /// Loads the runtime registry; errors name the file and the problem.
    [[nodiscard]] result<void> start();

    /// Runs one invocation and returns its result (function errors included); `failure` is set when it
    /// could not run (throttled, server-side error).
    boost::asio::awaitable<invoke_result> invoke(invoke_request req);

    /// A function version changed or was deleted: its idle workers are stopped now, busy ones after their
    /// current invocation; new invocations start fresh workers. `version` "" retires every version.
    void retire(const std::string& function_name, const std::string& version);

    /// Reserved concurrency of a function (all its versions together); nullopt: it shares the unreserved pool.
    void set_reserved_concurrency(const std::string& function_name, std::optional<int> reserved);

    /// Provisioned concurrency: keep `count` initialised workers of this published version (started now,
    /// replaced when one dies, never evicted while idle). 0 removes the reservation.
    void set_provisioned(const model::function_record& version, int count);
    struct provisioned_status {
        int requested = 0;
        int ready = 0;  // initialised workers (idle or busy)
    };
    provisioned_status provisioned(const model::function_record& version) const;

    /// Hot reload (`--watch`): the workers of a function alive now, all versions (what a reload re-creates).
    int live_workers(const std::string& function_name) const;
    /// Starts `count` ordinary workers of this version ahead of traffic; no invocation waited for them, so
    /// none reports an Init Duration. Idle eviction applies as usual.
    void prewarm(const model::function_record& version, int count);
    /// Injected faults (docs/faults.md), consulted by every invoke(): sync, async and Function URLs.
    fault_registry& faults();

    /// Kills every worker and fails everything pending (shutdown).
    void stop();

    struct stats {
        int active_invocations = 0;
        int workers = 0;
        int idle_workers = 0;
    };
    stats current_stats() const;

    /// Per-function metrics in the Prometheus text format, followed by `extra`.
    std::string render_metrics(const std::string& extra) const;

private:
    std::shared_ptr<scheduler_impl> impl_;
};

}  // namespace lambent::scheduler
