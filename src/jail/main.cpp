// lambent-jail: the launcher every worker is started through. Small, single-threaded, synchronous, and the
// only place where a process is contained (style.md: security boundaries are explicit modules).
//
//   lambent-jail [--sandbox] [--task DIR] [--runtime DIR] [--opt DIR] [--tmp-mb N] [--cwd DIR] [--uid U --gid G]
//                [--cgroup PROCS_FILE]... [--seccomp-fd N] [--control-fd N] [--net none|egress]
//                [--slirp PATH] [--nofile N] [--nproc N] [--env K=V]... [--spare] [--trace] [--userns]
//                [--root-dir DIR] [--memory-mb N] -- PROGRAM ARGS...
//
// Without --sandbox (trusted code, or hosts without the privileges) it only gives the runtime a private
// mount namespace with the code at /var/task. With --sandbox, in this order (docs/sandbox.md):
//   1. die with the server (PDEATHSIG), own process group, close inherited fds, join the worker's cgroups;
//   2. new PID namespace; fork: the child becomes PID 1 of it (the jail stays outside as its parent and relays
//      its exit status);
//   3. child: new mount, network, IPC and UTS namespaces; a fresh root on tmpfs holding read-only binds of
//      /usr and a few /etc entries, the code read-only at /var/task, the runtime at /var/runtime, a private
//      tmpfs /tmp, a fresh /proc and a minimal /dev; pivot_root; the root remounted read-only;
//   4. loopback up; the Runtime API listener 127.0.0.1:9001 is created here, inside the worker's own network
//      namespace, and passed to the server over the control socket (SCM_RIGHTS);
//   5. with --net egress: the jail attaches slirp4netns to the child's namespace and releases the child once
//      the interface is configured;
//   6. drop every capability from the bounding set, setgroups/setgid/setuid to the worker's own uid,
//      no_new_privs, rlimits, close every fd above stderr, install the seccomp filter built by the server,
//      execve.
// With --userns (a server that is not root, docs/sandbox.md "Unprivileged mode"), step 2 is preceded by a new
// user namespace in which the worker's uid/gid are the only ids, mapped to the server's own; the root is built
// under --root-dir (a directory the server owns) instead of /run, supplementary groups cannot be dropped, and
// --memory-mb (given when no cgroup is available) becomes RLIMIT_DATA (private writable memory: heap and anonymous mappings, not reserved address space).
// Any failure is reported as "error <stage> <errno>" on the control socket and exits 127: never a hang.
//
// --spare (with --sandbox) prepares a spare sandbox ahead of any function (docs/adr/0006-spare-sandboxes.md):
// steps 1-5 without the function's own mounts, then the child sends "ok" with the listener once it is in its
// cgroups with its network attached, and waits on the control socket for one assignment message: NUL-separated
// arguments in this same syntax (--task, --runtime, --tmp-mb, --cwd, --env K=V..., -- PROGRAM ARGS). It then
// mounts the function's code, /tmp and the runtime, pivots and continues with step 6.
// --trace writes each stage's time since the jail started to stderr (the function's log).

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <algorithm>
#include <vector>

namespace {

struct options {
    bool sandbox = false;
    const char* task = nullptr;
    const char* runtime = nullptr;
    const char* opt = nullptr;  // the function's layers, merged: read-only at /opt
    const char* cwd = "/var/task";
    long tmp_mb = 512;
    long uid = -1;
    long gid = -1;
    std::vector<const char*> cgroups;
    int seccomp_fd = -1;
    int control_fd = -1;
    std::string net = "none";
    const char* slirp = "/usr/bin/slirp4netns";
    long nofile = 1024;
    long nproc = 1024;
    bool spare = false;
    bool trace = false;
    std::vector<char*> env;  // --env: the runtime's environment (else the jail's own)
    bool userns = false;
    const char* root_dir = "/run/lambent-jail/root";
    long memory_mb = 0;  // RLIMIT_DATA fallback when no cgroup limits memory
    char** argv = nullptr;
};

int g_control_fd = -1;
bool g_trace = false;
timespec g_t0 {};

/// --trace: one line per stage on stderr, with the time since the jail started.
void trace(const char* stage) {
    if (!g_trace) return;
    timespec now {};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const double ms = static_cast<double>(now.tv_sec - g_t0.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec - g_t0.tv_nsec) / 1e6;
    const double at = static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
    char line[200];
    const int n = std::snprintf(line, sizeof line, "lambent-jail: trace %.3f ms (monotonic %.3f) pid %d %s\n", ms, at,
                                static_cast<int>(::getpid()), stage);
    if (n > 0) (void)!::write(2, line, static_cast<std::size_t>(n));
}

[[noreturn]] void fail(const char* stage) {
    const int err = errno;
    if (g_control_fd >= 0) {
        char msg[160];
        const int n = std::snprintf(msg, sizeof msg, "error %s %d", stage, err);
        if (n > 0) (void)::send(g_control_fd, msg, static_cast<std::size_t>(n), MSG_NOSIGNAL);
    }
    std::fprintf(stderr, "lambent-jail: %s: %s\n", stage, std::strerror(err));
    _exit(127);
}

[[noreturn]] void usage() {
    if (g_control_fd >= 0) {  // a spare sandbox's assignment message
        errno = EINVAL;
        fail("read the assignment");
    }
    std::fprintf(stderr, "usage: lambent-jail [--sandbox] [options] -- PROGRAM ARGS...\n");
    _exit(127);
}

void write_text(const std::string& path, const std::string& text) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail("write config file");
    if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) fail("write config file");
    ::close(fd);
}

void bind_read_only(const std::string& source, const std::string& target, bool is_dir) {
    if (is_dir) {
        ::mkdir(target.c_str(), 0755);
    } else {
        const int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) ::close(fd);
    }
    if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) fail("bind mount");
    if (::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0) {
        fail("remount read-only");
    }
}

bool exists(const std::string& path, bool* is_dir) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return false;
    *is_dir = S_ISDIR(st.st_mode);
    return true;
}

[[noreturn]] void exec_runtime(options& o) {
    if (o.env.empty()) {
        ::execv(o.argv[0], o.argv);
    } else {
        o.env.push_back(nullptr);
        ::execve(o.argv[0], o.argv, o.env.data());
    }
    fail("execv");
}

// ---- legacy mode (no sandbox) ---------------------------------------------------------------------

[[noreturn]] void run_unsandboxed(options& o) {
    if (o.task != nullptr || o.runtime != nullptr || o.opt != nullptr) {
        if (::unshare(CLONE_NEWNS) != 0) fail("unshare(CLONE_NEWNS)");
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail("make mounts private");
        if (o.task != nullptr) {
            ::mkdir("/var/task", 0755);
            bind_read_only(o.task, "/var/task", true);
        }
        if (o.runtime != nullptr) {
            ::mkdir("/var/runtime", 0755);
            bind_read_only(o.runtime, "/var/runtime", true);
        }
        if (o.opt != nullptr) bind_read_only(o.opt, "/opt", true);
        if (o.tmp_mb > 0) {
            const std::string opts = "size=" + std::to_string(o.tmp_mb) + "m,mode=1777";
            if (::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0) fail("mount /tmp");
        }
    }
    if (::chdir(o.cwd) != 0) fail("chdir");
    trace("execve (unsandboxed)");
    exec_runtime(o);
}

// ---- sandbox: the child (PID 1 of the new PID namespace) ------------------------------------------

std::string root = "/run/lambent-jail/root";  // --root-dir

/// The function-independent part of the root: everything but /tmp, /var/task, /var/runtime and /opt.
void prepare_root(const options& o) {
    root = o.root_dir;
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail("make mounts private");
    if (::mount("tmpfs", root.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0755") != 0) fail("mount root tmpfs");

    // System files the runtimes need, read-only. Nothing else of the host: no /root, /home, /srv, /var/lib,
    // the server's data dir, or secrets such as /etc/shadow.
    bind_read_only("/usr", root + "/usr", true);
    for (const char* link : {"bin", "lib", "lib64", "sbin"}) {
        const std::string target = std::string("usr/") + link;
        if (::symlink(target.c_str(), (root + "/" + link).c_str()) != 0) fail("symlink");
    }
    ::mkdir((root + "/etc").c_str(), 0755);
    for (const char* entry : {"ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "ssl", "ca-certificates",
                              "ca-certificates.conf", "python3", "python3.11", "mime.types", "protocols", "services",
                              "localtime", "nodejs"}) {
        bool dir = false;
        const std::string source = std::string("/etc/") + entry;
        if (exists(source, &dir)) bind_read_only(source, root + "/etc/" + entry, dir);
    }
    const std::string user = "sbx_user" + std::to_string(o.uid);
    write_text(root + "/etc/passwd", "root:x:0:0:root:/root:/usr/sbin/nologin\n" + user + ":x:" + std::to_string(o.uid) +
                                         ":" + std::to_string(o.gid) + "::/tmp:/usr/sbin/nologin\n");
    write_text(root + "/etc/group", "root:x:0:\n" + user + ":x:" + std::to_string(o.gid) + ":\n");
    write_text(root + "/etc/hosts", "127.0.0.1 localhost\n::1 localhost\n");
    write_text(root + "/etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n");
    // slirp4netns answers DNS on 10.0.2.3.
    write_text(root + "/etc/resolv.conf", o.net == "egress" ? "nameserver 10.0.2.3\n" : "");

    ::mkdir((root + "/dev").c_str(), 0755);
    if (::mount("tmpfs", (root + "/dev").c_str(), "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755") != 0) {
        fail("mount /dev");
    }
    for (const char* dev : {"null", "zero", "full", "random", "urandom"}) {
        const std::string target = root + "/dev/" + dev;
        const int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
        if (fd >= 0) ::close(fd);
        if (::mount((std::string("/dev/") + dev).c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
            fail("bind device");
        }
    }
    for (const auto& [name, target] : {std::pair{"fd", "/proc/self/fd"}, std::pair{"stdin", "/proc/self/fd/0"},
                                       std::pair{"stdout", "/proc/self/fd/1"}, std::pair{"stderr", "/proc/self/fd/2"}}) {
        if (::symlink(target, (root + "/dev/" + name).c_str()) != 0) fail("symlink /dev");
    }
    ::mkdir((root + "/dev/shm").c_str(), 01777);
    if (::mount("tmpfs", (root + "/dev/shm").c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777") != 0) {
        fail("mount /dev/shm");
    }

    ::mkdir((root + "/proc").c_str(), 0555);
    if (::mount("proc", (root + "/proc").c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
        fail("mount /proc");
    }
    ::mkdir((root + "/var").c_str(), 0755);
    trace("generic root built");
}

/// The function's own mounts: its /tmp, its code, the runtime and its layers.
void mount_function(const options& o) {
    ::mkdir((root + "/tmp").c_str(), 01777);
    const std::string tmp_opts = "size=" + std::to_string(o.tmp_mb) + "m,mode=1777";
    if (::mount("tmpfs", (root + "/tmp").c_str(), "tmpfs", MS_NOSUID | MS_NODEV, tmp_opts.c_str()) != 0) {
        fail("mount /tmp");
    }
    bind_read_only(o.task, root + "/var/task", true);
    bind_read_only(o.runtime, root + "/var/runtime", true);
    if (o.opt != nullptr) {
        bind_read_only(o.opt, root + "/opt", true);
    } else {
        ::mkdir((root + "/opt").c_str(), 0755);
    }
    trace("function mounted");
}

void enter_root() {
    ::mkdir((root + "/.old").c_str(), 0700);
    if (::syscall(SYS_pivot_root, root.c_str(), (root + "/.old").c_str()) != 0) fail("pivot_root");
    if (::chdir("/") != 0) fail("chdir /");
    trace("pivot_root");
    if (::umount2("/.old", MNT_DETACH) != 0) fail("detach the old root");
    trace("old root detached");
    ::rmdir("/.old");
    if (::mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0) {
        fail("remount root read-only");
    }
    trace("pivot_root done");
}

int runtime_api_listener() {
    // Loopback of the fresh network namespace is down until we bring it up.
    const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) fail("socket");
    ifreq ifr {};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (::ioctl(s, SIOCGIFFLAGS, &ifr) != 0) fail("get lo flags");
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
    if (::ioctl(s, SIOCSIFFLAGS, &ifr) != 0) fail("bring lo up");
    ::close(s);

    const int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0) fail("socket");
    const int one = 1;
    ::setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(9001);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(l, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) fail("bind 127.0.0.1:9001");
    if (::listen(l, 64) != 0) fail("listen");
    return l;
}

void send_listener(int control, int listener) {
    char payload[] = "ok";
    iovec iov {payload, 2};
    alignas(cmsghdr) char buf[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = buf;
    msg.msg_controllen = sizeof buf;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &listener, sizeof(int));
    if (::sendmsg(control, &msg, MSG_NOSIGNAL) != 2) fail("send the Runtime API listener");
}

std::vector<sock_filter> read_filter(int fd) {
    std::vector<sock_filter> prog;
    if (fd < 0) return prog;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size % static_cast<off_t>(sizeof(sock_filter)) != 0) {
        fail("read seccomp filter");
    }
    prog.resize(static_cast<std::size_t>(st.st_size) / sizeof(sock_filter));
    if (::pread(fd, prog.data(), static_cast<std::size_t>(st.st_size), 0) != st.st_size) fail("read seccomp filter");
    return prog;
}

int parse_options(options& o, int argc, char** argv);

/// A spare sandbox waits here for its function: one message on the control socket, NUL-separated arguments
/// in the jail's own syntax, parsed over the spare's options. The buffer lives until execve.
void receive_assignment(options& o) {
    static std::vector<char> buf(256 * 1024);
    const ssize_t n = ::recv(o.control_fd, buf.data(), buf.size() - 1, MSG_TRUNC);
    if (n == 0) _exit(0);  // the server let the spare go (or is gone)
    if (n < 0) fail("wait for the assignment");
    if (static_cast<std::size_t>(n) >= buf.size()) {
        errno = EMSGSIZE;
        fail("read the assignment");
    }
    buf[static_cast<std::size_t>(n)] = '\0';
    trace("assignment received");
    static std::vector<char*> args;
    args.push_back(const_cast<char*>("lambent-jail"));
    for (std::size_t at = 0; at < static_cast<std::size_t>(n); at += std::strlen(buf.data() + at) + 1) {
        args.push_back(buf.data() + at);
    }
    args.push_back(nullptr);
    const int argc = static_cast<int>(args.size() - 1);
    const int i = parse_options(o, argc, args.data());
    if (i >= argc || o.task == nullptr || o.runtime == nullptr) {
        errno = EINVAL;
        fail("read the assignment");
    }
    o.argv = args.data() + i;
    o.spare = false;
}

[[noreturn]] void child_main(options o, int net_ready_w, int go_r, int status_w) {
    trace("child started");
    if (::unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) != 0) fail("unshare namespaces");
    trace("namespaces created");
    if (o.net == "egress") {
        if (::write(net_ready_w, "n", 1) != 1) fail("signal the network namespace");
    }
    ::close(net_ready_w);
    if (::sethostname("lambent", 7) != 0) fail("sethostname");
    prepare_root(o);
    if (!o.spare) {
        mount_function(o);
        enter_root();
    }
    const int listener = runtime_api_listener();
    if (!o.spare) {
        send_listener(o.control_fd, listener);
        ::close(listener);
    }
    trace("listener created");
    // Wait until the jail has put us into the worker's cgroups (and attached the egress network).
    char go = 0;
    if (::read(go_r, &go, 1) != 1 || go != 'g') {
        errno = ECANCELED;
        fail("wait for the jail");
    }
    ::close(go_r);
    trace("released by the jail");
    if (o.spare) {
        // Ready: in its cgroups, network attached. The server learns it with the listener.
        send_listener(o.control_fd, listener);
        ::close(listener);
        receive_assignment(o);
        mount_function(o);
        enter_root();
    }

    // PID 1 of the namespace stays a minimal init (reaps orphans, reports the runtime's wait status to the
    // jail); the runtime runs as PID 2, as on AWS, where a process can signal itself like anywhere else.
    const pid_t runtime = ::fork();
    if (runtime < 0) fail("fork the runtime");
    if (runtime > 0) {
        g_control_fd = -1;
        for (int fd = 0; fd <= 2; ++fd) {
            const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
            if (devnull >= 0 && devnull != fd) {
                ::dup2(devnull, fd);
                ::close(devnull);
            }
        }
        const unsigned lo = static_cast<unsigned>(status_w) + 1;
        ::syscall(SYS_close_range, 3U, static_cast<unsigned>(status_w) - 1, 0U);
        ::syscall(SYS_close_range, lo, ~0U, 0U);
        if (::setresgid(static_cast<gid_t>(o.gid), static_cast<gid_t>(o.gid), static_cast<gid_t>(o.gid)) != 0 ||
            ::setresuid(static_cast<uid_t>(o.uid), static_cast<uid_t>(o.uid), static_cast<uid_t>(o.uid)) != 0) {
            ::kill(runtime, SIGKILL);
            _exit(127);
        }
        ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        for (;;) {
            int st = 0;
            const pid_t done = ::waitpid(-1, &st, 0);
            if (done == runtime) {
                _exit(::write(status_w, &st, sizeof st) == static_cast<ssize_t>(sizeof st) ? 0 : 127);
            }
            if (done < 0 && errno != EINTR) _exit(127);
        }
    }
    ::close(status_w);
    std::vector<sock_filter> filter = read_filter(o.seccomp_fd);

    // Privileges: empty bounding set, then the worker's own uid/gid (which clears the remaining capabilities).
    for (int cap = 0; cap <= 63; ++cap) {
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) fail("drop capabilities");
    }
    // In a user namespace setgroups is denied (the price of mapping ids without a privileged helper).
    if (!o.userns && ::setgroups(0, nullptr) != 0) fail("setgroups");
    if (::setresgid(static_cast<gid_t>(o.gid), static_cast<gid_t>(o.gid), static_cast<gid_t>(o.gid)) != 0) fail("setgid");
    if (::setresuid(static_cast<uid_t>(o.uid), static_cast<uid_t>(o.uid), static_cast<uid_t>(o.uid)) != 0) fail("setuid");
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("no_new_privs");
    const rlimit nofile {static_cast<rlim_t>(o.nofile), static_cast<rlim_t>(o.nofile)};
    const rlimit nproc {static_cast<rlim_t>(o.nproc), static_cast<rlim_t>(o.nproc)};
    const rlimit core {0, 0};
    if (::setrlimit(RLIMIT_NOFILE, &nofile) != 0 || ::setrlimit(RLIMIT_NPROC, &nproc) != 0 ||
        ::setrlimit(RLIMIT_CORE, &core) != 0) {
        fail("setrlimit");
    }
    if (o.memory_mb > 0) {
        const rlimit data {static_cast<rlim_t>(o.memory_mb) << 20, static_cast<rlim_t>(o.memory_mb) << 20};
        if (::setrlimit(RLIMIT_DATA, &data) != 0) fail("setrlimit(RLIMIT_DATA)");
    }
    if (::chdir(o.cwd) != 0) fail("chdir");
    g_control_fd = -1;
    if (::syscall(SYS_close_range, 3U, ~0U, 0U) != 0) fail("close_range");
    trace("privileges dropped");
    if (!filter.empty()) {
        sock_fprog prog {static_cast<unsigned short>(filter.size()), filter.data()};
        if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) fail("install seccomp filter");
    }
    trace("seccomp installed, execve");
    exec_runtime(o);
}

// ---- sandbox: the jail (parent, stays in the host namespaces) -------------------------------------

/// Forks, before the PID namespace exists, the process that will become slirp4netns: it stays in the host's
/// PID namespace (invisible to the function) and execs once it is told the child's pid.
pid_t prepare_slirp(const options& o, int* pid_w, int* ready_r) {
    int pid_pipe[2];
    int ready[2];
    if (::pipe2(pid_pipe, O_CLOEXEC) != 0 || ::pipe2(ready, O_CLOEXEC) != 0) fail("pipe");
    const pid_t pid = ::fork();
    if (pid < 0) fail("fork slirp4netns");
    if (pid == 0) {
        // slirp4netns needs none of the server's descriptors: holding the control socket would keep the
        // server from seeing it close.
        g_control_fd = -1;
        if (o.control_fd >= 0) ::close(o.control_fd);
        if (o.seccomp_fd >= 0) ::close(o.seccomp_fd);
        ::close(pid_pipe[1]);
        ::close(ready[0]);
        char buf[32] = {};
        if (::read(pid_pipe[0], buf, sizeof buf - 1) <= 0) _exit(0);  // no network namespace to serve
        ::fcntl(ready[1], F_SETFD, 0);
        const std::string ready_fd = "--ready-fd=" + std::to_string(ready[1]);
        const int devnull = ::open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            ::dup2(devnull, 0);
            ::dup2(devnull, 1);
            ::dup2(devnull, 2);  // its chatter must not end up in the function's log
        }
        const char* argv[] = {o.slirp, "--configure", "--mtu=65520", ready_fd.c_str(), buf, "tap0", nullptr};
        ::execv(o.slirp, const_cast<char* const*>(argv));
        _exit(127);
    }
    ::close(pid_pipe[0]);
    ::close(ready[1]);
    *pid_w = pid_pipe[1];
    *ready_r = ready[0];
    return pid;
}

/// Unprivileged mode: a user namespace whose only ids are the worker's, mapped to the server's own uid/gid
/// (user_namespaces(7): a process may map its own ids once setgroups is denied). The jail holds every
/// capability inside it, enough for the namespaces, mounts and pivot_root that follow; execve of the runtime
/// (uid not 0 in the namespace) leaves it none.
void enter_user_namespace(const options& o) {
    const std::string uid_map = std::to_string(o.uid) + " " + std::to_string(::getuid()) + " 1\n";
    const std::string gid_map = std::to_string(o.gid) + " " + std::to_string(::getgid()) + " 1\n";
    if (::unshare(CLONE_NEWUSER) != 0) fail("unshare(CLONE_NEWUSER)");
    write_text("/proc/self/setgroups", "deny");
    write_text("/proc/self/uid_map", uid_map);
    write_text("/proc/self/gid_map", gid_map);
}

[[noreturn]] void run_sandboxed(const options& o) {
    g_control_fd = o.control_fd;
    if ((!o.spare && (o.task == nullptr || o.runtime == nullptr)) || o.uid < 0 || o.gid < 0 || o.control_fd < 0) usage();
    if (!o.userns) ::mkdir("/run/lambent-jail", 0755);
    ::mkdir(o.root_dir, 0755);
    int slirp_pid_w = -1;
    int slirp_ready_r = -1;
    pid_t slirp = -1;
    // slirp4netns stays in the server's user namespace; it joins the worker's by pid.
    if (o.net == "egress") slirp = prepare_slirp(o, &slirp_pid_w, &slirp_ready_r);
    if (o.userns) enter_user_namespace(o);
    if (::unshare(CLONE_NEWPID) != 0) fail("unshare(CLONE_NEWPID)");
    trace("pid namespace created");
    int net_ready[2];
    int go[2];
    int status_pipe[2];
    if (::pipe2(net_ready, O_CLOEXEC) != 0 || ::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(status_pipe, O_CLOEXEC) != 0) {
        fail("pipe");
    }
    const pid_t child = ::fork();
    if (child < 0) fail("fork");
    if (child == 0) {
        ::close(net_ready[0]);
        ::close(go[1]);
        ::close(status_pipe[0]);
        child_main(o, net_ready[1], go[0], status_pipe[1]);
    }
    ::close(net_ready[1]);
    ::close(go[0]);
    ::close(status_pipe[1]);
    // Joining a cgroup v1 memory controller waits for an RCU grace period (several ms): do it for the child
    // while it builds its root, instead of before. The child execs nothing before it is released below.
    for (const char* procs : o.cgroups) {
        write_text(procs, std::to_string(child));
    }
    trace("cgroups joined");
    if (o.net == "egress") {
        char c = 0;
        if (::read(net_ready[0], &c, 1) == 1) {
            const std::string pid_text = std::to_string(child);
            char r = 0;
            if (::write(slirp_pid_w, pid_text.c_str(), pid_text.size()) != static_cast<ssize_t>(pid_text.size()) ||
                ::read(slirp_ready_r, &r, 1) != 1) {
                errno = ENETUNREACH;
                fail("attach the egress network");
            }
        }
        ::close(slirp_pid_w);
        ::close(slirp_ready_r);
        trace("egress attached");
    }
    if (::write(go[1], "g", 1) != 1) fail("release the child");
    ::close(net_ready[0]);
    ::close(go[1]);
    // The control socket belongs to the child now; the jail only relays the exit status.
    ::close(o.control_fd);
    g_control_fd = -1;
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    // The runtime's own wait status, as reported by the namespace's init (absent if init itself died).
    int runtime_status = 0;
    if (::read(status_pipe[0], &runtime_status, sizeof runtime_status) == sizeof runtime_status) {
        status = runtime_status;
    }
    if (slirp > 0) {
        ::kill(slirp, SIGKILL);
        ::waitpid(slirp, nullptr, 0);
    }
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        ::signal(sig, SIG_DFL);
        ::prctl(PR_SET_PDEATHSIG, 0);
        ::kill(::getpid(), sig);
        _exit(128 + sig);
    }
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 127);
}


/// Parses the options from argv[1] up to "--" into `o`; returns the index of PROGRAM (argc when absent). The
/// same syntax serves the command line and a spare sandbox's assignment message.
int parse_options(options& o, int argc, char** argv) {
    int i = 1;
    for (; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--") {
            ++i;
            break;
        }
        if (a == "--sandbox") {
            o.sandbox = true;
            continue;
        }
        if (a == "--spare" || a == "--trace" || a == "--userns") {
            (a == "--spare" ? o.spare : a == "--trace" ? o.trace : o.userns) = true;
            continue;
        }
        if (i + 1 >= argc) usage();
        const char* v = argv[++i];
        if (a == "--task") o.task = v;
        else if (a == "--runtime") o.runtime = v;
        else if (a == "--opt") o.opt = v;
        else if (a == "--cwd") o.cwd = v;
        else if (a == "--tmp-mb") o.tmp_mb = std::strtol(v, nullptr, 10);
        else if (a == "--uid") o.uid = std::strtol(v, nullptr, 10);
        else if (a == "--gid") o.gid = std::strtol(v, nullptr, 10);
        else if (a == "--cgroup") o.cgroups.push_back(v);
        else if (a == "--seccomp-fd") o.seccomp_fd = static_cast<int>(std::strtol(v, nullptr, 10));
        else if (a == "--control-fd") o.control_fd = static_cast<int>(std::strtol(v, nullptr, 10));
        else if (a == "--net") o.net = v;
        else if (a == "--slirp") o.slirp = v;
        else if (a == "--nofile") o.nofile = std::strtol(v, nullptr, 10);
        else if (a == "--nproc") o.nproc = std::strtol(v, nullptr, 10);
        else if (a == "--env") o.env.push_back(const_cast<char*>(v));
        else if (a == "--root-dir") o.root_dir = v;
        else if (a == "--memory-mb") o.memory_mb = std::strtol(v, nullptr, 10);
        else usage();
    }
    return i;
}

}  // namespace

int main(int argc, char** argv) {
    ::clock_gettime(CLOCK_MONOTONIC, &g_t0);
    options o;
    const int i = parse_options(o, argc, argv);
    g_trace = o.trace;
    if (o.spare) {
        if (!o.sandbox) usage();
    } else {
        if (i >= argc) usage();
        o.argv = argv + i;
    }

    // Die with the server; own a process group so the server can kill everything at once.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail("prctl(PDEATHSIG)");
    if (::getppid() == 1) _exit(127);  // the server is already gone
    if (::setpgid(0, 0) != 0) fail("setpgid");
    // Nothing of the server's leaks into the function: close every inherited fd we were not given.
    const unsigned keep_above = static_cast<unsigned>(std::max({2, o.seccomp_fd, o.control_fd}));
    if (::syscall(SYS_close_range, keep_above + 1, ~0U, 0U) != 0) fail("close_range");
    if (o.sandbox) run_sandboxed(o);
    run_unsandboxed(o);
}
