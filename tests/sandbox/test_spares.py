"""Spare sandboxes (ADR 0006): prepared lambent-jail processes that take cold starts. They must give a function
exactly the sandbox a fresh jail gives (its memory limit, its code, its environment), be replaced when used or
lost, stay bounded, and leave no process or cgroup behind at shutdown."""
import json
import os
import re
import signal
import time
import urllib.request

import pytest

from test_sandbox import _deploy, _invoke, _ok

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root on this host (namespaces, "
                                "mounts, cgroups); run the suite as root")


def _metrics(srv):
    with urllib.request.urlopen(f"{srv.url}/metrics", timeout=10) as r:
        text = r.read().decode()
    values = {}
    for m in re.finditer(r'^(lambent_spare_\w+)\{(\w+)="(\w+)"\} (\d+)$', text, re.M):
        values[(m.group(1), m.group(3))] = int(m.group(4))
    return values


def _wait(cond, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    return cond()


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def _spare_jails(srv):
    return sorted(p for p in _children(srv.proc.pid) if b"--spare" in _cmdline(p) and not _children_assigned(p))


def _children_assigned(jail_pid):
    # A jail that took a function has the runtime (PID 2 of its namespace) under its init.
    return any(_children(c) for c in _children(jail_pid))


def _cgroup_dirs(pid):
    """The memory and pids cgroup directories a spare jail's init runs in."""
    dirs = []
    for child in _children(pid):
        with open(f"/proc/{child}/cgroup") as f:
            for line in f:
                _, ctrls, path = line.rstrip("\n").split(":", 2)
                for ctrl in ("memory", "pids"):
                    if ctrl in ctrls.split(","):
                        dirs.append(f"/sys/fs/cgroup/{ctrl}{path}")
    return dirs


@pytest.fixture
def spare_server(tmp_path):
    from lambent_testlib import LambentServer, lambent_binary, make_client
    srv = LambentServer(lambent_binary(), tmp_path / "data", tmp_path / "logs",
                        ["--sandbox", "on", "--sandbox-network", "none", "--spare-sandboxes", "2"]).start()
    srv.c = make_client(srv.url)
    yield srv
    if srv.running:
        srv.stop()


def _ready(srv, n=2):
    return _wait(lambda: _metrics(srv).get(("lambent_spare_sandboxes", "ready")) == n)


def test_spares_are_prepared_bounded_and_take_cold_starts(spare_server):
    srv = spare_server
    assert _ready(srv), _metrics(srv)
    assert len(_spare_jails(srv)) == 2
    before = _spare_jails(srv)
    _deploy(srv.c, "spare-a", memory=256)
    body = _ok(srv.c, "spare-a")
    assert body["status"]["NoNewPrivs"] == "1" and body["status"]["Seccomp"] == "2", body
    assert int(body["status"]["CapEff"], 16) == 0, body
    m = _metrics(srv)
    assert m[("lambent_spare_sandbox_cold_starts_total", "hit")] == 1, m
    assert m[("lambent_spare_sandbox_cold_starts_total", "miss")] == 0, m
    # The used spare is replaced, and the pool never grows past its size.
    assert _ready(srv), _metrics(srv)
    after = _spare_jails(srv)
    assert len(after) == 2 and after != before
    # A second cold start (another function) takes the other prepared sandbox.
    _deploy(srv.c, "spare-b")
    _ok(srv.c, "spare-b")
    assert _metrics(srv)[("lambent_spare_sandbox_cold_starts_total", "hit")] == 2


def test_a_spare_gets_the_functions_memory_limit_and_environment(spare_server):
    srv = spare_server
    assert _ready(srv)
    _deploy(srv.c, "spare-mem", memory=128)
    err, body, log = _invoke(srv.c, "spare-mem", {"probe": "allocate", "mb": 400})
    assert err == "Unhandled" and body["errorType"] == "Runtime.OutOfMemory", body
    assert "Max Memory Used: 128 MB" in log or "Max Memory Used: 127 MB" in log, log
    assert "Init Duration:" in log, log
    err, body, _ = _invoke(srv.c, "spare-mem", {"probe": "allocate", "mb": 20})
    assert err is None and body == {"allocated_mb": 20}, body
    err, body, _ = _invoke(srv.c, "spare-mem", {"probe": "status"})
    assert body["env_api"] == "127.0.0.1:9001", body
    assert _metrics(srv)[("lambent_spare_sandbox_cold_starts_total", "hit")] >= 1


def test_a_lost_spare_is_replaced_and_cleaned_up(spare_server):
    srv = spare_server
    assert _ready(srv)
    victim = _spare_jails(srv)[0]
    dirs = _cgroup_dirs(victim)
    assert len(dirs) == 2, dirs
    os.kill(victim, signal.SIGKILL)
    assert _wait(lambda: victim not in _spare_jails(srv) and _metrics(srv).get(("lambent_spare_sandboxes", "ready")) == 2)
    assert _wait(lambda: not any(os.path.exists(d) for d in dirs)), dirs
    _deploy(srv.c, "spare-after-loss")
    _ok(srv.c, "spare-after-loss")


def test_shutdown_leaves_no_spare_process_or_cgroup(spare_server):
    srv = spare_server
    assert _ready(srv)
    _deploy(srv.c, "spare-shutdown")
    _ok(srv.c, "spare-shutdown")
    assert _ready(srv)
    jails = _children(srv.proc.pid)
    inits = [c for j in jails for c in _children(j)]
    dirs = [d for j in jails for d in _cgroup_dirs(j)]
    assert len(jails) == 3 and len(dirs) == 6, (jails, dirs)  # two spares and the worker
    srv.stop()
    assert _wait(lambda: not any(os.path.exists(f"/proc/{p}") for p in jails + inits), 5), (jails, inits)
    assert _wait(lambda: not any(os.path.exists(d) for d in dirs), 5), dirs


def test_no_spares_when_turned_off(tmp_path):
    from lambent_testlib import LambentServer, lambent_binary, make_client
    srv = LambentServer(lambent_binary(), tmp_path / "data", tmp_path / "logs",
                        ["--sandbox", "on", "--sandbox-network", "none", "--spare-sandboxes", "0"]).start()
    try:
        c = make_client(srv.url)
        _deploy(c, "no-spare")
        _ok(c, "no-spare")
        m = _metrics(srv)
        assert m[("lambent_spare_sandboxes", "ready")] == 0 and m[("lambent_spare_sandboxes", "starting")] == 0, m
        assert m[("lambent_spare_sandbox_cold_starts_total", "hit")] == 0, m
        assert not [p for p in _children(srv.proc.pid) if b"--spare" in _cmdline(p)]
    finally:
        srv.stop()


def test_cgroups_of_a_killed_server_are_removed_by_the_next_one(tmp_path):
    """kill -9 gives a server no chance to remove its cgroups; the next server on the host removes them (and only
    them: a live server's directories stay)."""
    from lambent_testlib import LambentServer, lambent_binary, make_client
    args = ["--sandbox", "on", "--sandbox-network", "none", "--spare-sandboxes", "1"]
    dead = LambentServer(lambent_binary(), tmp_path / "d1", tmp_path / "l1", args).start()
    live = LambentServer(lambent_binary(), tmp_path / "d2", tmp_path / "l2", args).start()
    try:
        dead.c = make_client(dead.url)
        _deploy(dead.c, "cg-left")
        _ok(dead.c, "cg-left")
        assert _ready(dead, 1) and _ready(live, 1)
        jails = _children(dead.proc.pid)
        dirs = [d for j in jails for d in _cgroup_dirs(j)]
        live_dirs = [d for j in _children(live.proc.pid) for d in _cgroup_dirs(j)]
        assert len(dirs) == 4 and len(live_dirs) == 2, (dirs, live_dirs)  # the worker and the spare, memory + pids
        assert all(os.path.basename(d).startswith(f"{dead.proc.pid}.") for d in dirs), dirs
        dead.proc.kill()
        dead.proc.wait()
        # The jails die with the server (parent-death signal); their directories stay behind, empty.
        assert _wait(lambda: not any(os.path.exists(f"/proc/{p}") for p in jails), 10), jails
        assert all(os.path.isdir(d) for d in dirs), dirs
        after = LambentServer(lambent_binary(), tmp_path / "d3", tmp_path / "l3", args).start()
        try:
            assert not any(os.path.exists(d) for d in dirs), dirs
            assert all(os.path.isdir(d) for d in live_dirs), live_dirs
            assert "cgroup directories left by servers that are gone" in after.stderr_text()
        finally:
            after.stop()
    finally:
        if dead.running:
            dead.stop()
        live.stop()
