"""Test harness for the runtime interface clients in runtimes/python and runtimes/nodejs.

Each test starts a bootstrap as the server would (own process, cwd = task root, the Runtime API address
in AWS_LAMBDA_RUNTIME_API) against a tiny Runtime API written here with http.server, then feeds it
invocations and asserts on the exact bytes it posts back and on what it writes to stdout/stderr.

Synchronisation uses queues, conditions and pipe reads with timeouts; nothing sleeps.
"""

import json
import os
import queue
import select
import shutil
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PYTHON_RUNTIME_DIR = REPO / "runtimes" / "python"
NODE_RUNTIME_DIR = REPO / "runtimes" / "nodejs"
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
NODE = shutil.which("node") or "/usr/bin/node"

TIMEOUT = 10  # seconds; generous upper bound for any single wait, never a synchronisation delay
API = "/2018-06-01/runtime"


# --------------------------------------------------------------------------------------------------
# Runtime API test server
# --------------------------------------------------------------------------------------------------

@dataclass
class Posted:
    """One request the runtime posted to /response, /error or /init/error."""
    kind: str  # "response" | "error" | "init_error"
    request_id: str
    headers: dict
    body: bytes
    trailers: dict = field(default_factory=dict)

    def json(self):
        return json.loads(self.body)


class RuntimeApiServer:
    """A Runtime API (2018-06-01) like the server's: /next long-polls on a queue of invocations."""

    def __init__(self):
        self._invocations = queue.Queue()
        self._posted = queue.Queue()
        self.connections = 0
        self.requests = []  # (method, path) in arrival order
        self.before_reply = None  # optional callable(Posted) run before a POST is answered
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive
            disable_nagle_algorithm = True  # headers and body are separate writes

            def setup(self):
                super().setup()
                with server._lock:
                    server.connections += 1

            def log_message(self, *args):
                pass

            def _reply(self, status, body=b"", headers=None):
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                try:
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the runtime went away (e.g. killed at the end of a test)

            def do_GET(self):
                with server._lock:
                    server.requests.append(("GET", self.path))
                if self.path != API + "/invocation/next":
                    self._reply(404, b"404 page not found")
                    return
                try:
                    item = server._invocations.get(timeout=30)
                except queue.Empty:
                    item = None
                if item is None:  # shutting down
                    self._reply(500, b'{"errorMessage":"Internal Server Error","errorType":"InternalServerError"}',
                                {"Content-Type": "application/json"})
                    return
                headers, body = item
                self._reply(200, body, headers)

            def do_POST(self):
                with server._lock:
                    server.requests.append(("POST", self.path))
                trailers = {}
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body, trailers = self._read_chunked()
                else:
                    body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                parts = self.path[len(API):].strip("/").split("/")
                if parts == ["init", "error"]:
                    posted = Posted("init_error", "", dict(self.headers), body, trailers)
                elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    posted = Posted(parts[2], parts[1], dict(self.headers), body, trailers)
                else:
                    self._reply(404, b"404 page not found")
                    return
                if server.before_reply is not None:
                    server.before_reply(posted)
                server._posted.put(posted)
                self._reply(202, b'{"status":"OK"}', {"Content-Type": "application/json"})

            def _read_chunked(self):
                body = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        break
                    body += self.rfile.read(size)
                    self.rfile.readline()
                trailers = {}
                while True:
                    line = self.rfile.readline().strip()
                    if not line:
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    trailers[name.strip()] = value.strip()
                return body, trailers

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    @property
    def address(self):
        host, port = self._httpd.server_address[:2]
        return "{}:{}".format(host, port)

    def invoke(self, event, request_id=None, deadline_ms=None, client_context=None,
               cognito_identity=None, trace_id="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
               function_arn="arn:aws:lambda:us-east-1:000000000000:function:fn",
               content_type="application/json"):
        """Queue one invocation; event is raw bytes, a str, or any JSON value. Returns the request id."""
        if isinstance(event, bytes):
            body = event
        elif isinstance(event, str):
            body = event.encode("utf-8")
        else:
            body = json.dumps(event).encode("utf-8")
        request_id = request_id or str(uuid.uuid4())
        headers = {
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms or int(time.time() * 1000) + 30000),
            "Lambda-Runtime-Invoked-Function-Arn": function_arn,
        }
        if content_type:
            headers["Content-Type"] = content_type
        if trace_id:
            headers["Lambda-Runtime-Trace-Id"] = trace_id
        if client_context is not None:
            headers["Lambda-Runtime-Client-Context"] = json.dumps(client_context)
        if cognito_identity is not None:
            headers["Lambda-Runtime-Cognito-Identity"] = json.dumps(cognito_identity)
        self._invocations.put((headers, body))
        return request_id

    def posted(self, timeout=TIMEOUT):
        """The next /response, /error or /init/error the runtime posted."""
        try:
            return self._posted.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("the runtime posted nothing within {} s".format(timeout)) from None

    def close(self):
        self._invocations.put(None)  # releases a /next still waiting
        self._httpd.shutdown()
        self._httpd.server_close()


# --------------------------------------------------------------------------------------------------
# Runtime process with captured output
# --------------------------------------------------------------------------------------------------

class Capture:
    """Collects everything a pipe delivers. sync() takes whatever the child has written so far, so a
    check made when a POST arrives sees exactly the output written before that POST."""

    def __init__(self, pipe):
        self._fd = pipe.fileno()
        self._pipe = pipe
        os.set_blocking(self._fd, False)
        self._data = b""
        self._eof = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _read_available(self):  # caller holds the lock
        while not self._eof:
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                return
            if not chunk:
                self._eof = True
            self._data += chunk
        self._cond.notify_all()

    def _pump(self):
        while not self._eof:
            select.select([self._fd], [], [])
            with self._cond:
                self._read_available()
                self._cond.notify_all()

    def sync(self):
        with self._cond:
            self._read_available()
            return self._data

    @property
    def bytes(self):
        return self.sync()

    @property
    def text(self):
        return self.sync().decode("utf-8")

    def wait_for(self, needle, timeout=TIMEOUT):
        needle = needle.encode("utf-8") if isinstance(needle, str) else needle
        deadline = time.monotonic() + timeout
        with self._cond:
            while needle not in self._data:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._eof:
                    self._read_available()
                    if needle in self._data:
                        break
                    raise AssertionError("{!r} not in output: {!r}".format(needle, self._data))
                self._cond.wait(remaining)
            return self._data.decode("utf-8")

    def wait_eof(self, timeout=TIMEOUT):
        self._thread.join(timeout)
        return self.text


class RuntimeProcess:
    def __init__(self, argv, cwd, env, pass_fds=()):
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     pass_fds=pass_fds)
        self.stdout = Capture(self.proc.stdout)
        self.stderr = Capture(self.proc.stderr)

    def wait_exit(self, timeout=TIMEOUT):
        return self.proc.wait(timeout)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(TIMEOUT)
        self.stdout.wait_eof()
        self.stderr.wait_eof()
        self.proc.stdout.close()
        self.proc.stderr.close()


# --------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------

BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "TZ": ":UTC",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "fn",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
    "AWS_LAMBDA_LOG_STREAM_NAME": "2024/05/01/[$LATEST]8f2b1c0d4e5f47a6b7c8d9e0f1a2b3c4",
    "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "secret",
    "AWS_SESSION_TOKEN": "token",
}


@pytest.fixture
def api():
    server = RuntimeApiServer()
    yield server
    server.close()


def write_files(root, files):
    for name, content in files.items():
        target = Path(root) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")


class Launcher:
    """Writes a task root and starts one runtime bootstrap against the test Runtime API."""

    def __init__(self, api, tmp_path, argv_prefix, runtime_dir, execution_env):
        self.api = api
        self.task_root = tmp_path / "task"
        self.task_root.mkdir()
        self._argv_prefix = argv_prefix
        self._runtime_dir = runtime_dir
        self._execution_env = execution_env
        self._processes = []

    def __call__(self, files, handler, env=None, pass_fds=()):
        write_files(self.task_root, files)
        full_env = dict(BASE_ENV)
        full_env.update({
            "AWS_EXECUTION_ENV": self._execution_env,
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "_HANDLER": handler,
            "LAMBDA_TASK_ROOT": str(self.task_root),
            "LAMBDA_RUNTIME_DIR": str(self._runtime_dir),
        })
        full_env.update(env or {})
        process = RuntimeProcess(self._argv_prefix, str(self.task_root), full_env, pass_fds)
        self._processes.append(process)
        return process

    def close(self):
        for process in self._processes:
            process.close()


@pytest.fixture
def start_python(api, tmp_path):
    launcher = Launcher(api, tmp_path, [PYTHON, str(PYTHON_RUNTIME_DIR / "bootstrap.py")],
                        PYTHON_RUNTIME_DIR, "AWS_Lambda_python3.12")
    yield launcher
    launcher.close()


@pytest.fixture
def start_node(api, tmp_path):
    if not os.path.exists(NODE):
        pytest.skip("node is not installed")
    launcher = Launcher(api, tmp_path, [NODE, str(NODE_RUNTIME_DIR / "bootstrap.mjs")],
                        NODE_RUNTIME_DIR, "AWS_Lambda_nodejs20.x")
    yield launcher
    launcher.close()


def read_frames(fd):
    """Parse every telemetry frame available on fd (non-blocking): (type, timestamp_us, text)."""
    os.set_blocking(fd, False)
    data = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        data += chunk
    frames = []
    while data:
        assert len(data) >= 16, "truncated frame header"
        frame_type = int.from_bytes(data[0:4], "big")
        length = int.from_bytes(data[4:8], "big")
        stamp = int.from_bytes(data[8:16], "big")
        frames.append((frame_type, stamp, data[16:16 + length].decode("utf-8")))
        data = data[16 + length:]
    return frames
