"""Helpers for Lambent's execution test-suite (tests/execution).

Everything here drives the real `build/lambent` (or `$LAMBENT_BIN`) with the real clients: boto3,
the AWS CLI (`/usr/bin/aws`) and curl.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import signal
import subprocess
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambent-exec-tests"
AWS_CLI = "/usr/bin/aws"
CURL = "/usr/bin/curl"

PY_BOOTSTRAP = REPO_ROOT / "runtimes" / "python" / "bootstrap.py"
NODE_BOOTSTRAP = REPO_ROOT / "runtimes" / "nodejs" / "bootstrap.mjs"

UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
STREAM_RE = r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}"
START_RE = re.compile(rf"^START RequestId: ({UUID_RE}) Version: \$LATEST$")
END_RE = re.compile(rf"^END RequestId: ({UUID_RE})$")
REPORT_RE = re.compile(
    rf"^REPORT RequestId: ({UUID_RE})\tDuration: (\d+\.\d\d) ms\tBilled Duration: (\d+) ms\t"
    r"Memory Size: (\d+) MB\tMax Memory Used: (\d+) MB\t(?:Init Duration: (\d+\.\d\d) ms\t)?"
    r"(?:Status: (timeout|error)\t(?:Error Type: ([A-Za-z.]+)\t)?)?$")
# groups: 1 id, 2 duration, 3 billed, 4 memory size, 5 max used, 6 init duration, 7 status, 8 error type


def lambent_binary() -> Path:
    return Path(os.environ.get("LAMBENT_BIN") or REPO_ROOT / "build" / "lambent")


def isolate_aws_environment():
    """No host-level AWS configuration may influence boto3 or the CLI."""
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_LAMBDA", "AWS_CA_BUNDLE", "AWS_ROLE_ARN",
                "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
                "https_proxy", "ALL_PROXY", "all_proxy"):
        os.environ.pop(var, None)
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "AKIAEXECTESTS0000000",
        "AWS_SECRET_ACCESS_KEY": "exec-tests-secret",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    })


# --------------------------------------------------------------------------------------------------
# /proc helpers


def direct_children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def cmdline(pid: int) -> list[bytes]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def _runs_a_runtime(jail: int) -> bool:
    """Whether a lambent-jail has anything under it besides its own copies (its namespace's init) and
    slirp4netns: i.e. a runtime."""
    own = cmdline(jail)
    return any(cmdline(p) != own and b"slirp4netns" not in b" ".join(cmdline(p)) for p in child_pids(jail))


def child_pids(pid: int) -> list[int]:
    """All descendants of pid (recursively, via /proc/<pid>/task/*/children)."""
    out: list[int] = []
    todo = [pid]
    seen = set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                with open(f"/proc/{p}/task/{t}/children") as f:
                    kids = [int(x) for x in f.read().split()]
            except OSError:
                continue
            for k in kids:
                if k not in seen:
                    out.append(k)
                    todo.append(k)
    return out


def open_fds(pid: int) -> list[str]:
    """Targets of /proc/<pid>/fd/* (socket:[…], pipe:[…], paths)."""
    fds = []
    base = f"/proc/{pid}/fd"
    for fd in os.listdir(base):
        try:
            fds.append(os.readlink(f"{base}/{fd}"))
        except OSError:
            pass  # closed meanwhile
    return fds


def env_pids(server_pid: int, stream: str) -> list[int]:
    """Host pids of the server's descendants that belong to the execution environment whose
    AWS_LAMBDA_LOG_STREAM_NAME is `stream` (read from /proc/<pid>/environ)."""
    needle = f"AWS_LAMBDA_LOG_STREAM_NAME={stream}".encode()
    out = []
    for p in child_pids(server_pid):
        try:
            with open(f"/proc/{p}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    out.append(p)
        except OSError:
            pass
    return sorted(out)


def wait_bash_worker_idle(server_pid: int, stream: str, timeout: float = 5):
    """Waits until the bash bootstrap of environment `stream` is back in GET /runtime/invocation/next (a curl
    child with that URL). Tests that need "the next invoke goes to this warm worker" use it so that they do
    not depend on how the server treats a request arriving between a worker's /response and its next /next."""
    def idle():
        for p in env_pids(server_pid, stream):
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    if b"/runtime/invocation/next" in f.read():
                        return True
            except OSError:
                pass
        return False
    poll(idle, timeout, interval=0.01, what=f"environment {stream} to wait in /runtime/invocation/next")


def poll(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Calls predicate() until it returns a truthy value; returns it, or raises after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what} (last value: {last!r})")
        time.sleep(interval)


# --------------------------------------------------------------------------------------------------
# The server


class LambentServer:
    def __init__(self, root: Path, extra_args=(), name: str = "srv"):
        self.root = Path(root)
        self.data_dir = self.root / "data"
        self.stdout_path = self.root / "stdout.log"
        self.stderr_path = self.root / "stderr.log"
        self.extra_args = list(extra_args)
        self.name = name
        self.proc: subprocess.Popen | None = None
        self.stopped_on_purpose = False
        self.url = ""
        self.port = 0

    def start(self, timeout: float = 20.0):
        binary = lambent_binary()
        if not binary.exists():
            raise AssertionError(f"lambent binary {binary} is missing (build it, or set LAMBENT_BIN)")
        self.root.mkdir(parents=True, exist_ok=True)
        self._out = open(self.stdout_path, "ab")
        self._err = open(self.stderr_path, "ab")
        cmd = [str(binary), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(self.data_dir),
               "--log-level", "debug", *self.extra_args]
        self.proc = subprocess.Popen(cmd, stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(r"^listening on (http://127\.0\.0\.1:(\d+))\s*$", self.stdout_text(), re.M)
            if m:
                self.url, self.port = m.group(1), int(m.group(2))
                return self
            if self.proc.poll() is not None:
                raise AssertionError(f"lambent exited with status {self.proc.returncode} before listening:\n"
                                     f"{self.stdout_text()[-3000:]}\n{self.stderr_text()[-3000:]}")
            time.sleep(0.02)
        self.stop()
        raise AssertionError(f"lambent did not print 'listening on' within {timeout} s")

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc is None:
            return None
        self.stopped_on_purpose = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = "killed after SIGTERM timeout"
                self._close()
                raise AssertionError(f"lambent did not exit within {timeout} s of SIGTERM ({rc})")
        self._close()
        return self.proc.returncode

    def _close(self):
        for f in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if f and not f.closed:
                f.close()

    def stdout_text(self) -> str:
        try:
            return self.stdout_path.read_text(errors="replace")
        except OSError:
            return ""

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    # Function logs: DATA_DIR/logs/<function>/<stream>.log, lines `<epoch ms>\t<line>`.
    def log_files(self, function: str) -> list[Path]:
        d = self.data_dir / "logs" / function
        return sorted(d.glob("*.log")) if d.is_dir() else []

    def log_lines(self, function: str) -> list[str]:
        lines = []
        for p in self.log_files(function):
            for raw in p.read_text(errors="replace").splitlines():
                ts, sep, rest = raw.partition("\t")
                if sep and ts.isdigit():
                    lines.append(rest)
        return lines

    def children(self) -> list[int]:
        """The server's descendants, except its spare sandboxes that no function has taken yet (ADR 0006):
        those are the server's, kept ready, not a function's."""
        spares = set()
        for jail in direct_children(self.pid):
            if b"--spare" in cmdline(jail) and not _runs_a_runtime(jail):
                spares.add(jail)
                spares.update(child_pids(jail))
        return [p for p in child_pids(self.pid) if p not in spares]

    def spares_settled(self) -> bool:
        """No spare sandbox is being prepared right now (every spare is ready): fd counts are stable."""
        import urllib.request
        try:
            with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return False
        m = re.search(r'^lambent_spare_sandboxes\{state="starting"\} (\d+)$', text, re.M)
        return m is None or m.group(1) == "0"

    def env_pids(self, stream: str) -> list[int]:
        return env_pids(self.pid, stream)

    def output(self) -> str:
        """The server's stdout + stderr (with --log-level debug it echoes function lines as `[name] line`)."""
        return self.stdout_text() + self.stderr_text()

    def fds(self) -> list[str]:
        return open_fds(self.pid)


# --------------------------------------------------------------------------------------------------
# Clients


def make_client(url: str, read_timeout: int = 60):
    return boto3.session.Session().client(
        "lambda", endpoint_url=url, region_name=REGION,
        aws_access_key_id="AKIAEXECTESTS0000000", aws_secret_access_key="exec-tests-secret",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=read_timeout,
                      connect_timeout=5, max_pool_connections=64, tcp_keepalive=True))


def aws_cli(url: str, *args: str, cwd: Path | None = None, timeout: float = 90) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update({"AWS_ACCESS_KEY_ID": "AKIAEXECTESTS0000000", "AWS_SECRET_ACCESS_KEY": "exec-tests-secret",
                "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": "/dev/null",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_PAGER": ""})
    return subprocess.run([AWS_CLI, "--endpoint-url", url, "--cli-read-timeout", "60", *args],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


@dataclass
class CurlResult:
    status: int
    headers: dict[str, str]
    body: bytes


def curl_invoke(server: LambentServer, name: str, data: bytes | str | None, extra=(),
                timeout: float = 60) -> CurlResult:
    """`curl -s -XPOST http://HOST/2015-03-31/functions/NAME/invocations -d '…'` (headers dumped too)."""
    cmd = [CURL, "-s", "-S", "-D", "-", "-XPOST", f"http://{server.host}/2015-03-31/functions/{name}/invocations",
           "--max-time", str(int(timeout)), *extra]
    inp = None
    if data is not None:
        inp = data.encode() if isinstance(data, str) else data
        cmd += ["--data-binary", "@-"]
    r = subprocess.run(cmd, input=inp, capture_output=True, timeout=timeout + 10)
    assert r.returncode == 0, f"curl failed ({r.returncode}): {r.stderr.decode(errors='replace')}"
    raw = r.stdout
    # Skip any interim 100-continue blocks.
    while True:
        head, _, rest = raw.partition(b"\r\n\r\n")
        if head.startswith(b"HTTP/1.1 100"):
            raw = rest
            continue
        break
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    return CurlResult(status, headers, rest)


@dataclass
class Invocation:
    status: int
    payload: bytes
    headers: dict[str, str]  # lower-case names
    function_error: str | None
    log: str | None = None
    raw: dict = field(default_factory=dict)

    @property
    def request_id(self) -> str:
        return self.headers.get("x-amzn-requestid", "")

    def json(self):
        return json.loads(self.payload)


def invoke(client, name: str, payload=None, *, raw: bytes | None = None, tail: bool = True,
           invocation_type: str = "RequestResponse", **kw) -> Invocation:
    args = {"FunctionName": name, "InvocationType": invocation_type}
    if tail:
        args["LogType"] = "Tail"
    if raw is not None:
        args["Payload"] = raw
    elif payload is not None:
        args["Payload"] = json.dumps(payload).encode()
    args.update(kw)
    r = client.invoke(**args)
    body = r["Payload"].read()
    headers = {k.lower(): v for k, v in r["ResponseMetadata"]["HTTPHeaders"].items()}
    log = base64.b64decode(r["LogResult"]).decode("utf-8", errors="replace") if "LogResult" in r else None
    return Invocation(r["StatusCode"], body, headers, r.get("FunctionError"), log, r)


def log_lines(tail: str) -> list[str]:
    assert tail is not None, "no X-Amz-Log-Result in the response"
    return tail.rstrip("\n").split("\n")


def parse_report(tail: str, request_id: str):
    """The REPORT line of request_id in a tail log, as a regex match (asserts it exists and is well-formed)."""
    reports = [ln for ln in log_lines(tail) if ln.startswith("REPORT ")]
    assert reports, f"no REPORT line in the tail log:\n{tail}"
    m = REPORT_RE.match(reports[-1])
    assert m, f"REPORT line does not match the AWS format: {reports[-1]!r}"
    assert m.group(1) == request_id, f"REPORT is for {m.group(1)}, expected {request_id}"
    return m


def check_tail_frame(tail: str, request_id: str, memory: int = 128):
    """START first, END then REPORT last, all for request_id; returns (inner lines, REPORT match)."""
    lines = log_lines(tail)
    assert len(lines) >= 3, f"tail log too short:\n{tail}"
    m = START_RE.match(lines[0])
    assert m and m.group(1) == request_id, f"first tail line is not START for {request_id}: {lines[0]!r}"
    m = END_RE.match(lines[-2])
    assert m and m.group(1) == request_id, f"second-to-last tail line is not END for {request_id}: {lines[-2]!r}"
    rep = parse_report(tail, request_id)
    assert lines[-1].startswith("REPORT "), f"last tail line is not REPORT: {lines[-1]!r}"
    assert int(rep.group(4)) == memory
    dur, billed = float(rep.group(2)), int(rep.group(3))
    assert billed >= 1 and billed >= int(dur) and billed <= int(dur) + 1, (dur, billed)
    return lines[1:-2], rep


# --------------------------------------------------------------------------------------------------
# Code packages


def make_zip(files: dict[str, str | bytes | tuple]) -> bytes:
    """files: name -> content or (content, unix mode). Unix modes are stored (create_system=3)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, spec in files.items():
            content, mode = (spec if isinstance(spec, tuple) else (spec, 0o644))
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, content.encode() if isinstance(content, str) else content)
    return buf.getvalue()


# A custom runtime in bash + curl. It sources handler.sh (which defines `handle`), then loops:
# GET /next, parse the headers into variables, run `handle < event > out`; exit status 0 -> /response,
# otherwise /error. stdout of `handle` is the response; stderr of everything goes to the log.
BASH_BOOTSTRAP = r"""#!/bin/bash
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
H=/tmp/.hdr.$$ B=/tmp/.event.$$ O=/tmp/.out.$$
cd "$LAMBDA_TASK_ROOT" || exit 90
source ./handler.sh
while :; do
  curl -sS -D "$H" -o "$B" "$API/invocation/next" || exit 91
  RID= DEADLINE= ARN= TRACE= CLIENT_CONTEXT= COGNITO=
  while IFS= read -r line; do
    line=${line%$'\r'}; k=${line%%:*}; v=${line#*: }
    case "${k,,}" in
      lambda-runtime-aws-request-id) RID=$v ;;
      lambda-runtime-deadline-ms) DEADLINE=$v ;;
      lambda-runtime-invoked-function-arn) ARN=$v ;;
      lambda-runtime-trace-id) TRACE=$v ;;
      lambda-runtime-client-context) CLIENT_CONTEXT=$v ;;
      lambda-runtime-cognito-identity) COGNITO=$v ;;
    esac
  done < "$H"
  export _X_AMZN_TRACE_ID="$TRACE"
  if handle < "$B" > "$O"; then
    curl -sS -o /dev/null -XPOST "$API/invocation/$RID/response" --data-binary @"$O" || exit 92
  else
    curl -sS -o /dev/null -XPOST "$API/invocation/$RID/error" \
      -H "Lambda-Runtime-Function-Error-Type: Function.ShellError" --data-binary @"$O" || exit 93
  fi
done
"""

# The handler for most provided-runtime tests. The event selects the action:
#   {"action":"echo"} / anything else     -> the event bytes back
#   {"action":"inspect"}                  -> JSON with what the function sees (headers, env, fs, pid)
#   {"action":"counter"}                  -> {"count":N,"pid":P,"stream":S} (N counts in /tmp)
#   {"action":"sleep","seconds":S}        -> sleeps, then {"slept":S,"pid":P,"stream":S,"version":V}
#   {"action":"fail"}                     -> function error via /error
#   {"action":"exit","code":N}            -> the runtime exits with N mid-invoke
#   {"action":"kill"}                     -> kill -9 $$ mid-invoke
#   {"action":"big","bytes":N}            -> a JSON string of N 'a's (N+2 bytes)
#   {"action":"log"}                      -> writes LOG-LINE-1 / LOG-LINE-2 to stderr
#   {"action":"spam","lines":N}           -> writes N ~110-byte lines to stderr
#   {"action":"version"}                  -> {"version":TAG,"pid":P,"stream":S}
#   {"action":"mark"}                     -> logs "EVENT-RAN <request id> <event>"
# pid is $$ as the function sees it (1 inside a PID namespace); the environment's identity is its log
# stream name (AWS_LAMBDA_LOG_STREAM_NAME, one per environment), mapped to host pids by env_pids().
BASH_HANDLER = r"""
VERSION_TAG="${VERSION_TAG:-v1}"
INIT_PID=$$
echo "init pid=$$ version=$VERSION_TAG" >&2
js() { local s=$1; s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/\\n}; s=${s//$'\r'/\\r}; s=${s//$'\t'/\\t}; printf '"%s"' "$s"; }
field() { local re='"'"$1"'"[[:space:]]*:[[:space:]]*"?([^",}]*)'; [[ $EVENT =~ $re ]] && printf '%s' "${BASH_REMATCH[1]}"; }
handle() {
  EVENT=
  IFS= read -r -d '' EVENT
  local action; action=$(field action)
  case "$action" in
    inspect)
      local now=${EPOCHREALTIME/./}; now=${now:0:13}
      local tw=false tmpok=false code=false
      if ( : > /var/task/.probe ) 2>/dev/null; then tw=true; fi
      if echo probe > /tmp/probe.txt && [[ $(< /tmp/probe.txt) == probe ]]; then tmpok=true; fi
      [[ -f /var/task/handler.sh && -x /var/task/bootstrap ]] && code=true
      printf '{"request_id":%s,"deadline_ms":%s,"arn":%s,"trace":%s,"client_context":%s,"cognito":%s,' \
        "$(js "$RID")" "$(js "$DEADLINE")" "$(js "$ARN")" "$(js "$TRACE")" "$(js "$CLIENT_CONTEXT")" "$(js "$COGNITO")"
      printf '"now_ms":%s,"pid":%s,"cwd":%s,"task_writable":%s,"tmp_writable":%s,"code_present":%s,"event":%s,"env":{' \
        "$now" "$$" "$(js "$PWD")" "$tw" "$tmpok" "$code" "$(js "$EVENT")"
      local first=1 k
      for k in $(compgen -e); do
        [[ $first == 1 ]] || printf ','; first=0
        printf '%s:%s' "$(js "$k")" "$(js "${!k}")"
      done
      printf '}}'
      ;;
    counter)
      local n=0; [[ -f /tmp/counter ]] && n=$(< /tmp/counter); n=$((n + 1)); echo "$n" > /tmp/counter
      printf '{"count":%s,"pid":%s,"stream":%s}' "$n" "$$" "$(js "$AWS_LAMBDA_LOG_STREAM_NAME")"
      ;;
    sleep)
      local s; s=$(field seconds)
      echo "sleeping $s in $AWS_LAMBDA_LOG_STREAM_NAME" >&2
      sleep "$s"
      printf '{"slept":%s,"pid":%s,"stream":%s,"version":"%s"}' "$s" "$$" "$(js "$AWS_LAMBDA_LOG_STREAM_NAME")" "$VERSION_TAG"
      ;;
    fail)
      echo "failing on purpose" >&2
      printf '{"errorType":"ShellError","errorMessage":"failed on purpose"}'
      return 1
      ;;
    exit)
      echo "exiting with $(field code)" >&2
      exit "$(field code)"
      ;;
    kill)
      echo "killing myself" >&2
      kill -9 $$
      ;;
    big)
      printf '"'; head -c "$(field bytes)" /dev/zero | tr '\0' a; printf '"'
      ;;
    log)
      echo "LOG-LINE-1 to stderr" >&2
      echo "LOG-LINE-2 to stderr ✓" >&2
      printf '{"logged":true,"version":"%s"}' "$VERSION_TAG"
      ;;
    spam)
      local i n; n=$(field lines)
      for ((i = 0; i < n; i++)); do printf 'spam %05d %s\n' "$i" "................................................................................................" >&2; done
      printf '{"spammed":%s}' "$n"
      ;;
    mark)
      # Side effect visible to the tests through the function log: "EVENT-RAN <request id> <event>".
      echo "EVENT-RAN $RID $EVENT" >&2
      printf '{"marked":true}'
      ;;
    version)
      printf '{"version":"%s","pid":%s,"stream":%s}' "$VERSION_TAG" "$$" "$(js "$AWS_LAMBDA_LOG_STREAM_NAME")"
      ;;
    *)
      printf '%s' "$EVENT"
      ;;
  esac
}
"""


def provided_zip(version_tag: str = "v1", extra_files: dict | None = None,
                 bootstrap: str | None = BASH_BOOTSTRAP, bootstrap_mode: int = 0o755) -> bytes:
    files: dict = {"handler.sh": (BASH_HANDLER.replace('${VERSION_TAG:-v1}', '${VERSION_TAG:-' + version_tag + '}'), 0o644)}
    if bootstrap is not None:
        files["bootstrap"] = (bootstrap, bootstrap_mode)
    files.update(extra_files or {})
    return make_zip(files)


def wait_function_ready(client, name: str, timeout: float = 30):
    def ready():
        c = client.get_function_configuration(FunctionName=name)
        if c.get("State", "Active") == "Active" and c.get("LastUpdateStatus", "Successful") == "Successful":
            return c
        assert c.get("State") != "Failed" and c.get("LastUpdateStatus") != "Failed", c
        return None
    return poll(ready, timeout, what=f"function {name} to become Active/Successful")


def create_function(client, name: str, zip_bytes: bytes, runtime: str = "provided.al2023",
                    handler: str = "handler.handle", timeout: int = 10, memory: int = 128,
                    env: dict | None = None):
    args = dict(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
                Code={"ZipFile": zip_bytes}, Timeout=timeout, MemorySize=memory)
    if env:
        args["Environment"] = {"Variables": env}
    client.create_function(**args)
    return wait_function_ready(client, name)


def update_code(client, name: str, zip_bytes: bytes):
    client.update_function_code(FunctionName=name, ZipFile=zip_bytes)
    return wait_function_ready(client, name)
