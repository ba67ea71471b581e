// lambent-jail: the launcher every worker is started through. Single-threaded and synchronous; it
// prepares the process and execs the runtime in place (so the runtime keeps this pid).
//
//   lambent-jail [--task DIR] [--runtime DIR] [--tmp-mb N] --cwd DIR -- PROGRAM ARGS...
//
// With --task/--runtime (needs CAP_SYS_ADMIN), it enters a private mount namespace and bind-mounts the
// function's code read-only at /var/task, the runtime read-only at /var/runtime, and a private tmpfs of
// N MB at /tmp. Namespaces, seccomp and cgroup limits are the sandbox's work (issue #4) and join here.
// On failure it prints `lambent-jail: <stage>: <error>` to stderr and exits 127.

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

[[noreturn]] void fail(const char* stage) {
    std::fprintf(stderr, "lambent-jail: %s: %s\n", stage, std::strerror(errno));
    _exit(127);
}

[[noreturn]] void usage() {
    std::fprintf(stderr,
                 "usage: lambent-jail [--task DIR] [--runtime DIR] [--tmp-mb N] --cwd DIR -- PROGRAM ARGS...\n");
    _exit(127);
}

void bind_read_only(const char* source, const char* target) {
    ::mkdir(target, 0755);  // the mount point may not exist on the host yet
    if (::mount(source, target, nullptr, MS_BIND | MS_REC, nullptr) != 0) fail("bind mount");
    if (::mount(nullptr, target, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0) {
        fail("remount read-only");
    }
}

}  // namespace

int main(int argc, char** argv) {
    const char* task = nullptr;
    const char* runtime = nullptr;
    const char* cwd = nullptr;
    long tmp_mb = 0;
    int i = 1;
    for (; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--") {
            ++i;
            break;
        }
        if (i + 1 >= argc) usage();
        if (a == "--task") task = argv[++i];
        else if (a == "--runtime") runtime = argv[++i];
        else if (a == "--cwd") cwd = argv[++i];
        else if (a == "--tmp-mb") tmp_mb = std::strtol(argv[++i], nullptr, 10);
        else usage();
    }
    if (i >= argc || cwd == nullptr) usage();

    // Die with the server; own a process group so the server can kill everything the runtime forks.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail("prctl(PDEATHSIG)");
    if (::getppid() == 1) _exit(127);  // the server is already gone
    if (::setpgid(0, 0) != 0) fail("setpgid");
    // Nothing of the server's leaks into the function: close every inherited fd above stderr.
    if (::syscall(SYS_close_range, 3U, ~0U, 0U) != 0) fail("close_range");

    if (task != nullptr || runtime != nullptr) {
        if (::unshare(CLONE_NEWNS) != 0) fail("unshare(CLONE_NEWNS)");
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail("make mounts private");
        if (task != nullptr) {
            ::mkdir("/var/task", 0755);
            bind_read_only(task, "/var/task");
        }
        if (runtime != nullptr) {
            ::mkdir("/var/runtime", 0755);
            bind_read_only(runtime, "/var/runtime");
        }
        if (tmp_mb > 0) {
            const std::string opts = "size=" + std::to_string(tmp_mb) + "m,mode=1777";
            if (::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0) fail("mount /tmp");
        }
    }
    if (::chdir(cwd) != 0) fail("chdir");
    ::execv(argv[i], argv + i);
    fail("execv");
}
