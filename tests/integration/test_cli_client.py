"""The `lambent` client commands (deploy, invoke, logs, ls, rm, event) run as the real binary against a real
server: what they print, what they change on the server (checked with boto3), and their exit statuses
(0 ok, 1 function error, 2 usage/API error, 3 server unreachable; docs/cli.md).

Run: LAMBENT_BIN=$PWD/build/lambent /usr/bin/python3 -m pytest tests/integration/test_cli_client.py -q
"""

from __future__ import annotations

import json
import os
import re
import selectors
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from lambent_testlib import REPO_ROOT, lambent_binary, make_client, not_found_message, unique_name

LOG_DEADLINE = 5.0

PY_HANDLER = """\
import os

def handler(event, context):
    print("handled", event.get("tag"), "greeting", os.environ.get("GREETING"))
    if event.get("fail"):
        raise ValueError("asked to fail: " + str(event["fail"]))
    return {"version": VERSION, "greeting": os.environ.get("GREETING"), "event": event}

VERSION = "%s"
"""


def cli(server, *args: str, input: str | None = None, endpoint: str | None = None,
        timeout: float = 180) -> subprocess.CompletedProcess:
    """Run `lambent ARGS` with LAMBENT_ENDPOINT pointing at `server` (or `endpoint`)."""
    env = dict(os.environ)
    env["LAMBENT_ENDPOINT"] = endpoint or server.url
    return subprocess.run([str(lambent_binary()), *args], capture_output=True, text=True, input=input,
                          stdin=None if input is not None else subprocess.DEVNULL, env=env, timeout=timeout)


def write_python_function(folder: Path, version: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text(PY_HANDLER % version)
    (folder / "lib").mkdir(exist_ok=True)
    (folder / "lib" / "data.txt").write_text("data\n")
    return folder


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def poll_logs(server, name: str, needle: str) -> str:
    """`lambent logs NAME` until its output contains `needle` (function logs flush about once a second)."""
    deadline = time.monotonic() + LOG_DEADLINE
    while True:
        res = cli(server, "logs", name, "--since", "1h")
        if res.returncode == 0 and needle in res.stdout:
            return res.stdout
        if time.monotonic() > deadline:
            pytest.fail(f"`lambent logs {name}` did not show {needle!r} within {LOG_DEADLINE}s: "
                        f"rc={res.returncode} stdout={res.stdout[-2000:]!r} stderr={res.stderr[-2000:]!r}")
        time.sleep(0.1)


# --------------------------------------------------------------------------------------------
# the whole flow


def test_deploy_invoke_ls_logs_update_rm(server, tmp_path):
    name = unique_name("clif")
    lam = make_client(server.url)
    folder = write_python_function(tmp_path / "fn", "v1")

    res = cli(server, "deploy", str(folder), "--name", name, "--runtime", "python3.12",
              "--handler", "app.handler", "--env", "GREETING=hello", "--memory", "256", "--timeout", "7")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"created {name} (python3.12, app.handler, 2 files, "), res.stdout
    cfg = lam.get_function(FunctionName=name)["Configuration"]
    assert (cfg["Runtime"], cfg["Handler"], cfg["MemorySize"], cfg["Timeout"]) == ("python3.12", "app.handler", 256, 7)
    assert cfg["Environment"] == {"Variables": {"GREETING": "hello"}}
    assert (cfg["State"], cfg["LastUpdateStatus"]) == ("Active", "Successful")
    assert cfg["CodeSha256"] in res.stdout

    # invoke: the result on stdout, the log tail on stderr
    res = cli(server, "invoke", name, "--payload", '{"tag": "one"}', "--log")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"version": "v1", "greeting": "hello", "event": {"tag": "one"}}
    assert re.search(r"^START RequestId: [0-9a-f-]{36} Version: \$LATEST$", res.stderr, re.M), res.stderr
    assert "handled one greeting hello" in res.stderr
    assert re.search(r"^REPORT RequestId: .*\tDuration: ", res.stderr, re.M), res.stderr

    # ls: table, names, JSON
    res = cli(server, "ls")
    assert res.returncode == 0, res.stderr
    header, *rows = res.stdout.splitlines()
    assert header.split() == ["NAME", "RUNTIME", "HANDLER", "MEMORY", "TIMEOUT", "LAST", "MODIFIED"]
    mine = [r for r in rows if r.split()[0] == name]
    assert len(mine) == 1 and mine[0].split()[1:6] == ["python3.12", "app.handler", "256", "MB", "7"], mine
    assert name in cli(server, "ls", "-q").stdout.splitlines()
    listed = {f["FunctionName"]: f for f in json.loads(cli(server, "ls", "--json").stdout)}
    assert listed[name]["MemorySize"] == 256

    # logs: what the function printed, with timestamps
    out = poll_logs(server, name, "handled one greeting hello")
    line = next(line for line in out.splitlines() if "handled one" in line)
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z handled one greeting hello$", line), line

    # deploy again: update code and configuration; what was not given stays
    write_python_function(folder, "v2")
    res = cli(server, "deploy", str(folder), "-n", name, "-r", "python3.11", "--handler", "app.handler",
              "--env", "GREETING=bonjour", "--env", "EXTRA=1")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"updated {name} (python3.11, app.handler, "), res.stdout
    cfg = lam.get_function(FunctionName=name)["Configuration"]
    assert (cfg["Runtime"], cfg["MemorySize"], cfg["Timeout"]) == ("python3.11", 256, 7)
    assert cfg["Environment"] == {"Variables": {"GREETING": "bonjour", "EXTRA": "1"}}
    res = cli(server, "invoke", name, "--payload", '{"tag": "two"}')
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["version"] == "v2"
    assert json.loads(res.stdout)["greeting"] == "bonjour"
    assert res.stderr == ""

    # rm, then the function is gone and a second rm is an API error
    res = cli(server, "rm", name)
    assert (res.returncode, res.stdout) == (0, f"deleted {name}\n"), res.stderr
    assert name not in [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    res = cli(server, "rm", name)
    assert res.returncode == 2
    assert res.stderr == f"error: ResourceNotFoundException: {not_found_message(name)}\n"


def test_provided_runtime_bootstrap_stays_executable(server, tmp_path):
    """The folder is zipped with its file modes: a provided runtime's `bootstrap` runs."""
    folder = tmp_path / "bash"
    shutil.copytree(REPO_ROOT / "examples" / "provided-bash", folder)
    assert os.access(folder / "bootstrap", os.X_OK)
    name = unique_name("clibash")
    res = cli(server, "deploy", str(folder), "--name", name, "--runtime", "provided.al2023", "--handler", "bootstrap")
    assert res.returncode == 0, res.stderr
    res = cli(server, "invoke", name, "--payload", '{"x": 42}')
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["echo"] == {"x": 42} and out["shell"] == "bash"


# --------------------------------------------------------------------------------------------
# invoke


@pytest.fixture(scope="module")
def py_function(server, tmp_path_factory) -> str:
    name = unique_name("clipy")
    folder = write_python_function(tmp_path_factory.mktemp("py") / "fn", "fixed")
    res = cli(server, "deploy", str(folder), "--name", name, "--runtime", "python3.12", "--handler", "app.handler",
              "--env", "GREETING=hi")
    assert res.returncode == 0, res.stderr
    return name


def test_function_error_exits_1_with_type_and_message(server, py_function):
    res = cli(server, "invoke", py_function, "--payload", '{"fail": "boom"}')
    assert res.returncode == 1
    body = json.loads(res.stdout)
    assert (body["errorType"], body["errorMessage"]) == ("ValueError", "asked to fail: boom")
    first, *trace = res.stderr.splitlines()
    assert first == "error: function error (Unhandled): ValueError: asked to fail: boom"
    assert any('File "/var/task/app.py"' in line or "app.py" in line for line in trace), res.stderr


def test_payload_from_file_and_from_a_piped_event(server, py_function, tmp_path):
    (tmp_path / "event.json").write_text('{"tag": "from-file"}')
    res = cli(server, "invoke", py_function, "--payload", f"@{tmp_path / 'event.json'}")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["event"] == {"tag": "from-file"}

    event = cli(server, "event", "s3-put", "--bucket", "photos", "--key", "cats/tom cat.jpg", "--size", "77")
    assert event.returncode == 0, event.stderr
    res = cli(server, "invoke", py_function, "--payload", "@-", input=event.stdout)
    assert res.returncode == 0, res.stderr
    record = json.loads(res.stdout)["event"]["Records"][0]
    assert record["s3"]["bucket"]["name"] == "photos"
    assert record["s3"]["object"]["key"] == "cats/tom+cat.jpg"
    assert record["s3"]["object"]["size"] == 77

    res = cli(server, "invoke", py_function)  # no payload: the function gets {}
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["event"] == {}


def test_async_invoke_returns_at_once_and_runs(server, py_function):
    tag = f"async-{uuid.uuid4().hex[:8]}"
    res = cli(server, "invoke", py_function, "--async", "--payload", json.dumps({"tag": tag}))
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""
    assert re.match(r"^accepted \(request id [0-9a-f-]{36}\)$", res.stderr.strip()), res.stderr
    poll_logs(server, py_function, f"handled {tag} greeting hi")


# --------------------------------------------------------------------------------------------
# logs


def test_logs_follow_prints_new_lines(server, py_function):
    proc = subprocess.Popen([str(lambent_binary()), "logs", py_function, "--follow", "--endpoint", server.url],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        tag = f"follow-{uuid.uuid4().hex[:8]}"
        res = cli(server, "invoke", py_function, "--payload", json.dumps({"tag": tag}))
        assert res.returncode == 0, res.stderr
        line = read_line_matching(proc, f"handled {tag} greeting hi", timeout=15)
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z handled ", line), line
        assert proc.poll() is None  # still following
    finally:
        proc.kill()
        proc.wait(10)
        proc.stdout.close()


def test_logs_filter_and_since(server, py_function):
    tag = f"filter-{uuid.uuid4().hex[:8]}"
    assert cli(server, "invoke", py_function, "--payload", json.dumps({"tag": tag})).returncode == 0
    poll_logs(server, py_function, tag)
    res = cli(server, "logs", py_function, "--since", "1h", "--filter", f'"{tag}"')
    assert res.returncode == 0, res.stderr
    assert [line.split(" ", 1)[1] for line in res.stdout.splitlines()] == [f"handled {tag} greeting hi"]
    res = cli(server, "logs", py_function, "--since", "all", "--filter", '"START RequestId"')
    assert res.returncode == 0 and res.stdout.count("START RequestId: ") >= 1, res.stdout
    assert all(" START RequestId: " in line for line in res.stdout.splitlines()), res.stdout


def test_logs_of_a_function_that_never_logged(server, tmp_path):
    res = cli(server, "logs", unique_name("silent"))
    assert res.returncode == 2
    assert res.stderr.startswith("error: ResourceNotFoundException: The specified log group does not exist.\n")


# --------------------------------------------------------------------------------------------
# deploy details


def test_deploy_over_1_mb_prints_progress(server, tmp_path):
    folder = write_python_function(tmp_path / "big", "big")
    (folder / "blob.bin").write_bytes(os.urandom(1_500_000))  # incompressible
    name = unique_name("clibig")
    res = cli(server, "deploy", str(folder), "--name", name, "--runtime", "python3.12", "--handler", "app.handler")
    assert res.returncode == 0, res.stderr
    assert re.search(r"^uploading \d+\.\d MB$", res.stderr, re.M), res.stderr
    assert re.search(r"^uploaded \d+\.\d MB in \d+\.\d s$", res.stderr, re.M), res.stderr
    assert make_client(server.url).get_function(FunctionName=name)["Configuration"]["CodeSize"] > 1_500_000
    small = cli(server, "deploy", str(write_python_function(tmp_path / "small", "s")), "--name", unique_name("clism"),
                "--runtime", "python3.12", "--handler", "app.handler")
    assert small.returncode == 0 and "upload" not in small.stderr, small.stderr


def test_deploy_errors(server, tmp_path):
    folder = write_python_function(tmp_path / "fn", "x")
    res = cli(server, "deploy", str(folder), "--name", unique_name("clibad"), "--runtime", "python2.7",
              "--handler", "app.handler")
    assert res.returncode == 2
    assert res.stderr.startswith("error: InvalidParameterValueException: "), res.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    res = cli(server, "deploy", str(empty), "--name", "x", "--runtime", "python3.12", "--handler", "a.b")
    assert (res.returncode, res.stderr) == (2, f"error: {empty} is empty: there is nothing to deploy\n")
    res = cli(server, "deploy", str(folder), "--name", "x", "--runtime", "python3.12", "--handler", "a.b",
              "--env", "NOEQUALS")
    assert (res.returncode, res.stderr) == (2, "error: --env 'NOEQUALS': expected KEY=VALUE\n")


# --------------------------------------------------------------------------------------------
# exit statuses scripts rely on


def test_usage_errors_exit_2_and_help_exits_0(server, tmp_path):
    res = cli(server, "invoke")
    assert res.returncode == 2 and res.stderr.startswith("error: NAME is required"), res.stderr
    res = cli(server, "invoke", "f", "--bogus")
    assert res.returncode == 2 and "--bogus" in res.stderr
    res = cli(server, "deploy", str(tmp_path / "missing"), "-n", "f", "-r", "python3.12", "--handler", "a.b")
    assert res.returncode == 2 and "Directory does not exist" in res.stderr, res.stderr
    res = cli(server, "ls", endpoint="ftp://127.0.0.1:9400")
    assert res.returncode == 2
    assert res.stderr == ("error: invalid endpoint 'ftp://127.0.0.1:9400': it must start with http:// or https:// "
                          "(expected http[s]://HOST:PORT)\n")
    for args in (["--help"], ["deploy", "--help"], ["invoke", "--help"], ["logs", "--help"], ["ls", "--help"],
                 ["rm", "--help"], ["event", "--help"], ["event", "apigw-v2", "--help"]):
        res = cli(server, *args)
        assert res.returncode == 0, (args, res.stderr)
        assert "Usage" in res.stdout or "usage" in res.stdout.lower(), (args, res.stdout)
    assert "Exit status: 0 ok, 1 the function failed, 2 usage or API error, 3 cannot reach the server." in \
        cli(server, "invoke", "--help").stdout


def test_api_errors_exit_2(server):
    missing = unique_name("nope")
    res = cli(server, "invoke", missing)
    assert res.returncode == 2
    assert res.stderr == f"error: ResourceNotFoundException: {not_found_message(missing)}\n"
    assert res.stdout == ""


def test_unreachable_server_exits_3(server):
    port = closed_port()
    for args in (["ls"], ["invoke", "f"], ["logs", "f"], ["rm", "f"]):
        res = cli(server, *args, endpoint=f"http://127.0.0.1:{port}")
        assert res.returncode == 3, (args, res.stderr)
        assert res.stderr == (f"error: cannot reach the Lambent server at http://127.0.0.1:{port}: "
                              f"Connection refused\n"), res.stderr
    # --endpoint wins over LAMBENT_ENDPOINT
    res = cli(server, "ls", "--endpoint", server.url, endpoint=f"http://127.0.0.1:{port}")
    assert res.returncode == 0, res.stderr


# --------------------------------------------------------------------------------------------
# event generators


def test_event_generators(server):
    res = cli(server, "event", "apigw-v2", "-X", "POST", "--path", "/items/7?q=a&q=b", "-H", "X-Trace: t1",
              "-H", "Cookie: a=1; b=2", "--body", '{"n": 1}')
    assert res.returncode == 0, res.stderr
    ev = json.loads(res.stdout)
    assert (ev["version"], ev["routeKey"], ev["rawPath"], ev["rawQueryString"]) == ("2.0", "$default", "/items/7", "q=a&q=b")
    assert ev["queryStringParameters"] == {"q": "a,b"}
    assert ev["cookies"] == ["a=1", "b=2"]
    assert ev["headers"]["x-trace"] == "t1" and ev["headers"]["content-type"] == "application/json"
    assert ev["requestContext"]["http"]["method"] == "POST"
    assert (ev["body"], ev["isBase64Encoded"]) == ('{"n": 1}', False)

    res = cli(server, "event", "schedule", "--rule", "nightly")
    sched = json.loads(res.stdout)
    assert (sched["detail-type"], sched["source"]) == ("Scheduled Event", "aws.events")
    assert sched["resources"] == ["arn:aws:events:us-east-1:000000000000:rule/nightly"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", sched["time"])

    a = json.loads(cli(server, "event", "s3-put").stdout)
    b = json.loads(cli(server, "event", "s3-put").stdout)
    assert a["Records"][0]["eventName"] == "ObjectCreated:Put"
    assert a["Records"][0]["s3"]["object"]["eTag"] != b["Records"][0]["s3"]["object"]["eTag"]

    res = cli(server, "event", "s3-put", "--bucket", "Bad_Bucket")
    assert res.returncode == 2 and res.stderr.startswith("error: --bucket 'Bad_Bucket'"), res.stderr
    res = cli(server, "event")
    assert res.returncode == 2


# --------------------------------------------------------------------------------------------
# helpers


def read_line_matching(proc: subprocess.Popen, needle: str, timeout: float) -> str:
    """Read `proc`'s stdout (unbuffered) until a line contains `needle`; fail after `timeout`."""
    fd = proc.stdout.fileno()
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    buffer, seen = b"", []
    deadline = time.monotonic() + timeout
    try:
        while True:
            while b"\n" in buffer:
                raw, _, buffer = buffer.partition(b"\n")
                line = raw.decode(errors="replace")
                seen.append(line)
                if needle in line:
                    return line
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"no line with {needle!r} within {timeout}s; read {seen!r}")
            if not sel.select(remaining):
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                pytest.fail(f"`lambent logs --follow` exited ({proc.poll()}); read {seen!r}")
            buffer += chunk
    finally:
        sel.close()
