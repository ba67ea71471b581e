"""Unprivileged mode (#8 item 5): `lambent serve` run as an ordinary user (uid 65534 here, through setpriv)
sandboxes its workers in user namespaces. Python, Node.js and provided functions run; from inside, each
sees what the sandbox gives it (uid_map, capabilities, no_new_privs, seccomp) and cannot read the server
user's own files outside its tree."""
import base64
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from lambent_testlib import LambentServer, binary_for_user, make_client  # noqa: E402

PROBE_SOURCE = (Path(__file__).parent / "probe_function.py").read_text()
ROLE = "arn:aws:iam::000000000000:role/probe"
USER = 65534  # nobody

NODE_SOURCE = r"""
const fs = require("fs");
exports.handler = async () => ({
  uid_map: fs.readFileSync("/proc/self/uid_map", "utf8").trim().split(/\s+/),
  status: Object.fromEntries(fs.readFileSync("/proc/self/status", "utf8").split("\n")
    .map((l) => l.split(":\t")).filter((p) => ["Uid", "CapEff", "NoNewPrivs", "Seccomp"].includes(p[0]))
    .map((p) => [p[0], p[1].trim()])),
});
"""

BOOTSTRAP = r"""#!/bin/bash
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while :; do
  RID=$(curl -sS -D - -o /tmp/event "$API/invocation/next" | tr -d '\r' | sed -n 's/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: //p')
  MAP=$(tr -s ' ' < /proc/self/uid_map | sed 's/^ //')
  printf '{"uid_map":"%s","uid":%s}' "$MAP" "$(id -u)" > /tmp/out
  curl -sS -o /dev/null -XPOST "$API/invocation/$RID/response" --data-binary @/tmp/out
done
"""


def _zip(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, (content, mode) in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | mode) << 16
            z.writestr(info, content)
    return buf.getvalue()


def _skip_reason():
    if os.geteuid() != 0:
        return "switching to an unprivileged uid needs root (run the sandbox suite as root)"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    return None


@pytest.fixture(scope="module")
def env():
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    base = Path(tempfile.mkdtemp(prefix="lambent-unpriv-", dir="/tmp"))
    os.chown(base, USER, USER)
    secret = base / "server-secret.txt"
    secret.write_text("the server user's own file")
    os.chown(secret, USER, USER)
    secret.chmod(0o600)
    wrapper = base / "lambent-as-nobody"
    wrapper.write_text(f"#!/bin/sh\nexec setpriv --reuid={USER} --regid={USER} --clear-groups "
                       f"{binary_for_user(USER, base)} \"$@\"\n")
    wrapper.chmod(0o755)
    data = base / "data"
    logs = base / "logs"
    for d in (data, logs):
        d.mkdir()
        os.chown(d, USER, USER)
    srv = LambentServer(wrapper, data, logs, ["--sandbox", "on", "--sandbox-network", "none", "--idle-ttl", "30"])
    srv.start()
    yield {"server": srv, "secret": secret, "client": make_client(srv.url)}
    srv.stop()
    shutil.rmtree(base, ignore_errors=True)


def _invoke(client, name, event):
    res = client.invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail")
    body = json.loads(res["Payload"].read() or b"null")
    assert "FunctionError" not in res, (body, base64.b64decode(res.get("LogResult", "")).decode(errors="replace"))
    return body


@pytest.fixture(scope="module")
def python_probe(env):
    env["client"].create_function(FunctionName="probe", Runtime="python3.12", Handler="probe_function.handler",
                                  Role=ROLE, Code={"ZipFile": _zip({"probe_function.py": (PROBE_SOURCE, 0o644)})},
                                  MemorySize=256)
    return "probe"


def test_server_runs_as_the_unprivileged_user_and_says_what_is_reduced(env):
    srv = env["server"]
    out = subprocess.run(["ps", "-o", "uid=", "-p", str(srv.proc.pid)], capture_output=True, text=True).stdout
    # The wrapper execs setpriv, which execs lambent: the same pid.
    assert out.strip() == str(USER)
    err = srv.stderr_text()
    assert "sandbox: on (unprivileged: user namespaces)" in err
    assert "unprivileged mode: namespaces (user, pid, mount, network, ipc, uts)" in err
    assert "cgroups: " in err  # on with a delegated subtree, else OFF with the rlimit fallback named
    if "cgroups: OFF" in err:
        assert "RLIMIT_DATA" in err


def test_python_function_sees_its_user_namespace(env, python_probe):
    body = _invoke(env["client"], python_probe, {"probe": "status"})
    st = body["status"]
    assert body["uid"] >= 200000 and st["Uid"].split()[0] == str(body["uid"])
    assert st["CapEff"] == "0000000000000000" and st["CapPrm"] == "0000000000000000"
    assert st["CapBnd"] == "0000000000000000"
    assert st["NoNewPrivs"] == "1"
    assert st["Seccomp"] == "2"
    uid_map = _invoke(env["client"], python_probe, {"probe": "read_text", "path": "/proc/self/uid_map"})
    assert uid_map["text"].split() == [str(body["uid"]), str(USER), "1"]


def test_function_cannot_read_the_server_users_files(env, python_probe):
    c = env["client"]
    for path in (str(env["secret"]), str(env["server"].data_dir / "lambent.db"), str(env["server"].data_dir)):
        out = _invoke(c, python_probe, {"probe": "read", "path": path})
        assert out.get("error") in ("ENOENT", "EACCES", "EISDIR") and "read" not in out, (path, out)
    assert _invoke(c, python_probe, {"probe": "listdir", "path": "/"})["entries"] == sorted(
        ["bin", "dev", "etc", "lib", "lib64", "opt", "proc", "sbin", "tmp", "usr", "var"])
    # Privileged operations still fail inside the user namespace.
    assert _invoke(c, python_probe, {"probe": "mount"})["rc"] != 0
    assert _invoke(c, python_probe, {"probe": "write", "path": "/var/task/x"})["error"] in ("EROFS", "EACCES")


def test_memory_is_limited_without_cgroups(env, python_probe):
    if "cgroups: OFF" not in env["server"].stderr_text():
        pytest.skip("a delegated cgroup limits memory here (tested by test_sandbox.py)")
    res = env["client"].invoke(FunctionName=python_probe, Payload=json.dumps({"probe": "allocate", "mb": 600}).encode())
    body = json.loads(res["Payload"].read())
    assert res.get("FunctionError") == "Unhandled"
    assert body["errorType"] == "MemoryError"  # RLIMIT_DATA: the allocation fails inside the function


def test_node_function(env):
    c = env["client"]
    c.create_function(FunctionName="node", Runtime="nodejs20.x", Handler="index.handler", Role=ROLE,
                      Code={"ZipFile": _zip({"index.js": (NODE_SOURCE, 0o644)})})
    body = _invoke(c, "node", {})
    inner = body["status"]["Uid"].split()[0]
    assert body["uid_map"] == [inner, str(USER), "1"]
    assert body["status"]["CapEff"] == "0000000000000000"
    assert body["status"]["NoNewPrivs"] == "1" and body["status"]["Seccomp"] == "2"


def test_provided_function(env):
    if shutil.which("curl") is None:
        pytest.skip("the provided bootstrap uses curl, which is not installed")
    c = env["client"]
    c.create_function(FunctionName="provided", Runtime="provided.al2023", Handler="bootstrap", Role=ROLE,
                      Code={"ZipFile": _zip({"bootstrap": (BOOTSTRAP, 0o755)})})
    body = _invoke(c, "provided", {})
    assert body["uid_map"].split() == [str(body["uid"]), str(USER), "1"]
