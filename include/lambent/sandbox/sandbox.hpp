#pragma once
/// Parent-side sandbox pieces: detecting what the host supports, per-worker cgroups (v1 or v2), and the
/// seccomp filter compiled once to BPF. The containment itself runs in lambent-jail (src/jail).

#include "lambent/common/error.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace lambent::sandbox {

enum class cgroup_mode { none, v1, v2 };

/// What this host lets the sandbox do, detected once at start.
struct host_support {
    bool root = false;             // namespaces, mounts, uid switch need CAP_SYS_ADMIN here
    /// Not root, but unprivileged user namespaces work: the sandbox runs inside one (docs/sandbox.md,
    /// "Unprivileged mode"), with what that reduces listed in `report`.
    bool userns = false;
    cgroup_mode cgroups = cgroup_mode::none;
    std::filesystem::path memory_root;   // v1: .../memory/<our cgroup>/lambent; v2: <unified>/<our cgroup>/lambent
    std::filesystem::path pids_root;     // v1 only (v2 uses memory_root for both)
    bool egress_available = false; // slirp4netns found
    std::string slirp4netns;
    /// One line per protection, for the start-up log ("… on" / "… OFF: reason").
    std::vector<std::string> report;
};

host_support detect(bool want_egress);

/// One worker's cgroup(s). Removes itself (after its processes are gone) in remove().
class cgroup {
public:
    cgroup() = default;
    /// Creates the worker's cgroup(s), named `<server pid>.<name>`, with memory = `memory_mb` (no swap; 0: no memory limit yet, as for a
    /// spare sandbox) and at most `pids_max` tasks.
    [[nodiscard]] static result<cgroup> create(const host_support& host, const std::string& name, int memory_mb,
                                               int pids_max);
    /// Sets the memory limit (no swap) of an existing cgroup and restarts its peak from the current usage:
    /// a spare sandbox's cgroup when a function takes it.
    [[nodiscard]] bool set_memory_limit(int memory_mb);
    /// `cgroup.procs` files the launcher joins before it creates the sandbox.
    const std::vector<std::string>& procs_files() const { return procs_; }
    /// Peak memory of the cgroup in bytes (0 when unknown).
    std::uint64_t peak_bytes() const;
    /// True when the kernel OOM-killed something in this cgroup.
    bool oom_killed() const;
    /// Removes the directories (bounded retries while the kernel finishes tearing down tasks).
    void remove();
    bool empty() const { return dirs_.empty(); }

private:
    cgroup_mode mode_ = cgroup_mode::none;
    std::vector<std::filesystem::path> dirs_;  // memory first
    std::vector<std::string> procs_;
};

/// Removes the cgroup directories a server left behind when it died without cleaning up (kill -9, power loss):
/// directories named `<pid>.…` whose server process no longer exists, and empty directories of the older
/// unprefixed naming that are over ten minutes old. A live server's directories are never touched, and a
/// directory that still holds processes cannot be removed (the kernel refuses). Returns how many went.
int remove_stale_cgroups(const host_support& host);

/// Compiles the seccomp deny-list to a BPF program in a sealed memfd (once per server). The launcher
/// installs it as the last step before execve. Returns the fd (close-on-exec).
[[nodiscard]] result<int> compile_seccomp_filter();

}  // namespace lambent::sandbox
