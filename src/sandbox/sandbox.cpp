#include "lambent/sandbox/sandbox.hpp"

#include <fmt/format.h>
#include <seccomp.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <signal.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace lambent::sandbox {
namespace fs = std::filesystem;

namespace {

bool write_file(const fs::path& path, const std::string& value) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
    ::close(fd);
    return ok;
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

/// Our own cgroup path for a v1 controller (or "" for the v2 hierarchy), from /proc/self/cgroup.
std::optional<std::string> own_cgroup(const std::string& controller) {
    std::ifstream in("/proc/self/cgroup");
    for (std::string line; std::getline(in, line);) {
        // hierarchy-id:controller-list:path
        const auto a = line.find(':');
        const auto b = line.find(':', a + 1);
        if (a == std::string::npos || b == std::string::npos) continue;
        const std::string list = line.substr(a + 1, b - a - 1);
        const std::string path = line.substr(b + 1);
        if (controller.empty() ? list.empty() : (("," + list + ",").find("," + controller + ",") != std::string::npos)) {
            return path;
        }
    }
    return std::nullopt;
}

/// Whether this (non-root) process may create a user namespace and hold capabilities in it: checked by
/// doing it in a short-lived child, since sysctls (Debian's kernel.unprivileged_userns_clone,
/// user.max_user_namespaces) and LSM policies (AppArmor's restrict_unprivileged_userns) can each forbid it.
bool user_namespaces_work(std::string& why_not) {
    const std::string clone_sysctl = read_file("/proc/sys/kernel/unprivileged_userns_clone");
    if (!clone_sysctl.empty() && clone_sysctl[0] == '0') {
        why_not = "sysctl kernel.unprivileged_userns_clone=0";
        return false;
    }
    const std::string max_ns = read_file("/proc/sys/user/max_user_namespaces");
    if (!max_ns.empty() && std::strtol(max_ns.c_str(), nullptr, 10) == 0) {
        why_not = "sysctl user.max_user_namespaces=0";
        return false;
    }
    const pid_t child = ::fork();
    if (child < 0) {
        why_not = fmt::format("fork: {}", std::strerror(errno));
        return false;
    }
    if (child == 0) {
        // CHILD-SAFE: only system calls until _exit.
        if (::unshare(CLONE_NEWUSER) != 0) _exit(1);
        if (::unshare(CLONE_NEWNS) != 0) _exit(2);  // needs the capabilities the namespace should grant
        _exit(0);
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
    why_not = WIFEXITED(status) && WEXITSTATUS(status) == 2
                  ? "a user namespace is created without capabilities (an LSM policy such as AppArmor's "
                    "kernel.apparmor_restrict_unprivileged_userns restricts it)"
                  : "unshare(CLONE_NEWUSER) is refused for this user";
    return false;
}

bool usable_dir(const fs::path& p) {
    std::error_code ec;
    fs::create_directories(p, ec);
    return !ec && ::access(p.c_str(), W_OK) == 0;
}

}  // namespace

host_support detect(bool want_egress) {
    host_support h;
    h.root = ::geteuid() == 0;
    std::string why_not;
    h.userns = !h.root && user_namespaces_work(why_not);
    if (h.root) {
        h.report.push_back("namespaces (pid, mount, network, ipc, uts) + pivot_root: on");
    } else if (h.userns) {
        h.report.push_back(fmt::format(
            "unprivileged mode: namespaces (user, pid, mount, network, ipc, uts) + pivot_root: on; every worker "
            "is uid {} outside its namespaces (workers are apart by namespaces, not by uid); supplementary groups "
            "are kept (setgroups is denied in a user namespace)",
            ::getuid()));
    } else {
        h.report.push_back(fmt::format("namespaces: OFF (not root, and no user namespaces: {})", why_not));
    }
    if (h.root || h.userns) {
        const fs::path v1_mem = "/sys/fs/cgroup/memory";
        const fs::path v1_pids = "/sys/fs/cgroup/pids";
        auto mem_path = own_cgroup("memory");
        auto pids_path = own_cgroup("pids");
        if (fs::exists(v1_mem / "memory.limit_in_bytes") || (mem_path && fs::exists(v1_mem / "cgroup.procs"))) {
            h.memory_root = v1_mem / fs::path(mem_path.value_or("/")).relative_path() / "lambent";
            h.pids_root = v1_pids / fs::path(pids_path.value_or("/")).relative_path() / "lambent";
            if (usable_dir(h.memory_root) && usable_dir(h.pids_root)) {
                h.cgroups = cgroup_mode::v1;
                h.report.push_back(fmt::format("cgroups v1: memory and pids limits on ({}, {})", h.memory_root.string(),
                                               h.pids_root.string()));
            }
        } else if (fs::exists("/sys/fs/cgroup/cgroup.controllers")) {
            auto unified = own_cgroup("");
            const fs::path base = fs::path("/sys/fs/cgroup") / fs::path(unified.value_or("/")).relative_path();
            const std::string controllers = read_file(base / "cgroup.controllers");
            if (controllers.find("memory") != std::string::npos && controllers.find("pids") != std::string::npos) {
                h.memory_root = base / "lambent";
                if (usable_dir(h.memory_root)) {
                    write_file(base / "cgroup.subtree_control", "+memory +pids");
                    write_file(h.memory_root / "cgroup.subtree_control", "+memory +pids");
                    h.cgroups = cgroup_mode::v2;
                    h.report.push_back(fmt::format("cgroups v2: memory and pids limits on ({})", h.memory_root.string()));
                }
            }
        }
        if (h.cgroups == cgroup_mode::none) {
            h.report.push_back(
                h.root ? "cgroups: OFF (no writable memory+pids controllers): memory limited by RLIMIT_DATA "
                         "instead, no Runtime.OutOfMemory reporting"
                       : "cgroups: OFF (no delegated, writable cgroup v2 subtree with memory+pids for this user): "
                         "memory limited by RLIMIT_DATA (an allocation fails inside the function instead of "
                         "Runtime.OutOfMemory), processes by RLIMIT_NPROC (counted for the server's uid, across "
                         "all workers), no CPU weighting, Max Memory Used from the runtime's VmHWM");
        }
    } else {
        h.report.push_back("cgroups: OFF (no sandbox)");
    }
    for (const char* dir : {"/usr/bin", "/usr/sbin", "/bin"}) {
        const fs::path candidate = fs::path(dir) / "slirp4netns";
        if (::access(candidate.c_str(), X_OK) == 0) {
            h.slirp4netns = candidate.string();
            h.egress_available = ::access("/dev/net/tun", R_OK | W_OK) == 0;
            break;
        }
    }
    if (want_egress && (h.root || h.userns)) {
        h.report.push_back(h.egress_available
                               ? "network: egress through slirp4netns (functions reach the host's ports at 10.0.2.2 "
                                 "and the outside; never another worker)"
                               : "network: egress OFF (slirp4netns missing, or /dev/net/tun not read-writable "
                                 "for this user): loopback only");
    }
    return h;
}

result<cgroup> cgroup::create(const host_support& host, const std::string& name, int memory_mb, int pids_max) {
    cgroup cg;
    cg.mode_ = host.cgroups;
    if (host.cgroups == cgroup_mode::none) return cg;
    const auto bytes = memory_mb > 0 ? std::to_string(static_cast<std::uint64_t>(memory_mb) << 20)
                                     : std::string(host.cgroups == cgroup_mode::v1 ? "-1" : "max");
    // The server's pid in the name lets a later server tell what a dead one left behind (remove_stale_cgroups).
    const std::string owned = fmt::format("{}.{}", ::getpid(), name);
    auto make = [&cg](const fs::path& dir) -> bool {
        std::error_code ec;
        fs::create_directory(dir, ec);
        if (ec) return false;
        cg.dirs_.push_back(dir);
        cg.procs_.push_back((dir / "cgroup.procs").string());
        return true;
    };
    if (host.cgroups == cgroup_mode::v1) {
        const auto mem = host.memory_root / owned;
        const auto pids = host.pids_root / owned;
        if (!make(mem) || !make(pids)) {
            cg.remove();
            return make_error(errc::service, fmt::format("cannot create cgroup {}", name));
        }
        const bool ok = write_file(mem / "memory.limit_in_bytes", bytes) &&
                        (!fs::exists(mem / "memory.memsw.limit_in_bytes") ||
                         write_file(mem / "memory.memsw.limit_in_bytes", bytes)) &&
                        write_file(pids / "pids.max", std::to_string(pids_max));
        if (!ok) {
            cg.remove();
            return make_error(errc::service, fmt::format("cannot set the limits of cgroup {}", name));
        }
    } else {
        const auto dir = host.memory_root / owned;
        if (!make(dir)) return make_error(errc::service, fmt::format("cannot create cgroup {}", name));
        const bool ok = write_file(dir / "memory.max", bytes) &&
                        (!fs::exists(dir / "memory.swap.max") || write_file(dir / "memory.swap.max", "0")) &&
                        write_file(dir / "pids.max", std::to_string(pids_max));
        if (!ok) {
            cg.remove();
            return make_error(errc::service, fmt::format("cannot set the limits of cgroup {}", name));
        }
    }
    return cg;
}

bool cgroup::set_memory_limit(int memory_mb) {
    if (dirs_.empty()) return true;
    const auto bytes = std::to_string(static_cast<std::uint64_t>(memory_mb) << 20);
    const auto& mem = dirs_[0];
    if (mode_ == cgroup_mode::v1) {
        // memory before memsw: the kernel keeps memsw >= memory at every step.
        const bool ok = write_file(mem / "memory.limit_in_bytes", bytes) &&
                        (!fs::exists(mem / "memory.memsw.limit_in_bytes") ||
                         write_file(mem / "memory.memsw.limit_in_bytes", bytes));
        write_file(mem / "memory.max_usage_in_bytes", "0");  // the peak restarts from the current usage
        return ok;
    }
    const bool ok = write_file(mem / "memory.max", bytes) &&
                    (!fs::exists(mem / "memory.swap.max") || write_file(mem / "memory.swap.max", "0"));
    return ok;
}

std::uint64_t cgroup::peak_bytes() const {
    if (dirs_.empty()) return 0;
    const auto file = mode_ == cgroup_mode::v1 ? dirs_[0] / "memory.max_usage_in_bytes" : dirs_[0] / "memory.peak";
    const std::string text = read_file(file);
    return text.empty() ? 0 : std::strtoull(text.c_str(), nullptr, 10);
}

bool cgroup::oom_killed() const {
    if (dirs_.empty()) return false;
    const std::string text =
        read_file(mode_ == cgroup_mode::v1 ? dirs_[0] / "memory.oom_control" : dirs_[0] / "memory.events");
    const auto pos = text.find("oom_kill ");
    return pos != std::string::npos && std::strtoull(text.c_str() + pos + 9, nullptr, 10) > 0;
}

void cgroup::remove() {
    for (const auto& dir : dirs_) {
        // rmdir fails with EBUSY until the kernel has released every task; retry briefly.
        for (int attempt = 0; attempt < 50; ++attempt) {
            if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }
    dirs_.clear();
    procs_.clear();
}

namespace {

/// True when `name` belongs to a server that is gone, or is an old unprefixed directory.
bool stale_cgroup(const fs::directory_entry& entry) {
    const std::string name = entry.path().filename().string();
    const auto dot = name.find('.');
    if (dot != std::string::npos && dot > 0 &&
        std::all_of(name.begin(), name.begin() + static_cast<std::ptrdiff_t>(dot), [](char c) { return c >= '0' && c <= '9'; })) {
        const auto pid = static_cast<pid_t>(std::stol(name.substr(0, dot)));
        return !(::kill(pid, 0) == 0 || errno == EPERM);
    }
    std::error_code ec;
    const auto written = fs::last_write_time(entry.path(), ec);
    return !ec && fs::file_time_type::clock::now() - written > std::chrono::minutes(10);
}

}  // namespace

int remove_stale_cgroups(const host_support& host) {
    if (host.cgroups == cgroup_mode::none) return 0;
    std::vector<fs::path> roots{host.memory_root};
    if (host.cgroups == cgroup_mode::v1) roots.push_back(host.pids_root);
    int removed = 0;
    for (const auto& root : roots) {
        std::error_code ec;
        for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
            std::error_code dir_ec;
            if (!it->is_directory(dir_ec) || !stale_cgroup(*it)) continue;
            if (::rmdir(it->path().c_str()) == 0) ++removed;  // EBUSY: it still holds processes; leave it
        }
    }
    return removed;
}

result<int> compile_seccomp_filter() {
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (ctx == nullptr) return make_error(errc::service, "seccomp_init failed");
    // Deny-list: what a function never needs and what breaks out of or tampers with the sandbox.
    static constexpr const char* denied[] = {
        "mount", "umount2", "pivot_root", "chroot", "ptrace", "process_vm_readv", "process_vm_writev",
        "kexec_load", "kexec_file_load", "bpf", "keyctl", "add_key", "request_key", "unshare", "setns",
        "init_module", "finit_module", "delete_module", "clock_settime", "clock_adjtime", "settimeofday",
        "adjtimex", "swapon", "swapoff", "reboot", "acct", "perf_event_open", "open_by_handle_at",
        "name_to_handle_at", "userfaultfd", "quotactl", "lookup_dcookie", "iopl", "ioperm", "fanotify_init",
        "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "syslog",
        "vhangup", "sethostname", "setdomainname", "nfsservctl", "uselib", "kcmp", "pidfd_getfd"};
    int rc = 0;
    for (const char* name : denied) {
        const int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
        if (rc != 0) break;
    }
    // clone/clone3 may not create namespaces (clone3's flags are in memory: deny it; libcs fall back to clone).
    constexpr std::uint64_t ns_flags = 0x00020000 /*NEWNS*/ | 0x02000000 /*NEWCGROUP*/ | 0x04000000 /*NEWUTS*/ |
                                       0x08000000 /*NEWIPC*/ | 0x10000000 /*NEWUSER*/ | 0x20000000 /*NEWPID*/ |
                                       0x40000000 /*NEWNET*/ | 0x00000080 /*NEWTIME*/;
    // libseccomp compares masked values for equality only: one rule per namespace flag.
    for (std::uint64_t bit = 1; bit != 0 && rc == 0; bit <<= 1) {
        if ((ns_flags & bit) == 0) continue;
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, bit, bit));
    }
    if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    if (rc != 0) {
        seccomp_release(ctx);
        return make_error(errc::service, fmt::format("seccomp rule failed: {}", std::strerror(-rc)));
    }
    const int fd = ::memfd_create("lambent-seccomp", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        seccomp_release(ctx);
        return make_error(errc::service, "memfd_create failed");
    }
    rc = seccomp_export_bpf(ctx, fd);
    seccomp_release(ctx);
    if (rc != 0) {
        ::close(fd);
        return make_error(errc::service, "seccomp_export_bpf failed");
    }
    ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    return fd;
}

}  // namespace lambent::sandbox
