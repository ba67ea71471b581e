"""Shared helpers for Lambent's control-plane integration tests.

Everything here drives the real `lambent` binary over real sockets: a process wrapper that starts
`lambent serve` on port 0 and parses its `listening on` line, boto3 client and AWS CLI factories,
in-memory ZIP builders (including hostile archives), raw HTTP helpers for what SDKs cannot send, and
assertion helpers for the error wire format of lambda-contract.md §3.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import io
import json
import os
import re
import selectors
import shutil
import signal
import socket
import stat
import struct
import subprocess
import threading
import time
import urllib.parse
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

REGION = "us-east-1"
ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambda-role"
REPO_ROOT = Path(__file__).resolve().parents[2]
AWS_CLI = "/usr/bin/aws"

# Runtimes the server must accept (brief + architecture.md "Runtimes").
SUPPORTED_RUNTIMES = [
    "python3.9", "python3.10", "python3.11", "python3.12", "python3.13",
    "nodejs18.x", "nodejs20.x", "nodejs22.x",
    "provided.al2", "provided.al2023",
]

LAST_MODIFIED_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
LISTENING_RE = re.compile(r"^listening on (https?://127\.0\.0\.1:(\d+))$")

# Deadlines (seconds). Generous for a loaded 2-core machine; every wait polls and returns early.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
SETTLE_TIMEOUT = 20.0


# --------------------------------------------------------------------------------------------
# naming


def function_arn(name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def not_found_message(name: str) -> str:
    return f"Function not found: {function_arn(name)}"


_name_counter = 0
_name_lock = threading.Lock()


def unique_name(prefix: str = "fn") -> str:
    """A fresh function name (≤64 chars, [a-zA-Z0-9-_])."""
    global _name_counter
    with _name_lock:
        _name_counter += 1
        n = _name_counter
    return f"{prefix}-{n:04d}-{uuid.uuid4().hex[:8]}"[:64]


# --------------------------------------------------------------------------------------------
# the binary and the server process


def lambent_binary() -> Path:
    """Path of the server under test; fails the test run loudly when it does not exist."""
    override = os.environ.get("LAMBENT_BIN")
    path = Path(override) if override else REPO_ROOT / "build" / "lambent"
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(
            f"lambent binary not found or not executable at {path} "
            f"(build it first, or set LAMBENT_BIN); these integration tests need the real server",
            pytrace=False,
        )
    return path


class LambentServer:
    """One `lambent serve` process on 127.0.0.1:0 over a data dir that outlives restarts."""

    def __init__(self, binary: Path, data_dir: Path, log_dir: Path, extra_args: Iterable[str] = ()):
        self.binary = binary
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.extra_args = list(extra_args)
        self.proc: subprocess.Popen | None = None
        self.url: str | None = None
        self.port: int | None = None
        self.generation = 0
        self.death_reported = False
        self._stdout_lines: list[str] = []
        self._drain: threading.Thread | None = None
        self._stderr_file = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> "LambentServer":
        assert self.proc is None, "server already running"
        self.generation += 1
        self.death_reported = False
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        stderr_path = self.log_dir / f"lambent-{self.generation}.stderr"
        self._stderr_file = open(stderr_path, "wb")
        cmd = [str(self.binary), "serve", "--listen", "127.0.0.1:0",
               "--data-dir", str(self.data_dir), *self.extra_args]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._stderr_file, cwd=str(self.data_dir.parent))
        self._stdout_lines = []
        (self.log_dir / f"lambent-{self.generation}.stdout").write_text("")
        line = self._read_listening_line(timeout)
        m = LISTENING_RE.match(line)
        assert m, f"unexpected first stdout line from lambent: {line!r}"
        self.url, self.port = m.group(1), int(m.group(2))
        assert self.port != 0
        self._drain = threading.Thread(target=self._drain_stdout, args=(self.proc,), daemon=True)
        self._drain.start()
        return self

    def _read_listening_line(self, timeout: float) -> str:
        """Read stdout until the `listening on` line; lines before it (logs) are kept."""
        assert self.proc and self.proc.stdout
        fd = self.proc.stdout.fileno()
        sel = selectors.DefaultSelector()
        sel.register(fd, selectors.EVENT_READ)
        buf = b""
        deadline = time.monotonic() + timeout
        try:
            while True:
                while b"\n" in buf:
                    raw, _, buf = buf.partition(b"\n")
                    line = raw.decode(errors="replace").rstrip("\r")
                    if LISTENING_RE.match(line):
                        self._log_stdout(buf.decode(errors="replace"))
                        return line
                    self._log_stdout(line + "\n")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._abort(f"no 'listening on' line within {timeout}s; stdout so far "
                                f"{self.stdout_text()[-2000:]!r} {buf!r}")
                if not sel.select(remaining):
                    continue
                chunk = os.read(fd, 4096)
                if not chunk:
                    self._abort(f"lambent exited before printing 'listening on'; stdout "
                                f"{self.stdout_text()[-2000:]!r} {buf!r}")
                buf += chunk
        finally:
            sel.close()

    def _log_stdout(self, text: str):
        self._stdout_lines.append(text)
        with open(self.log_dir / f"lambent-{self.generation}.stdout", "a") as f:
            f.write(text)

    def stdout_text(self) -> str:
        path = self.log_dir / f"lambent-{self.generation}.stdout"
        return path.read_text(errors="replace") if path.exists() else ""

    def _abort(self, why: str):
        assert self.proc
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()
        rc = self.proc.returncode
        self._close_files()
        self.proc = None
        pytest.fail(f"{why} (exit code {rc}); stderr:\n{self.stderr_text()[-4000:]}",
                    pytrace=False)

    def _drain_stdout(self, proc: subprocess.Popen):
        with contextlib.suppress(Exception):
            for raw in proc.stdout:  # type: ignore[union-attr]
                self._log_stdout(raw.decode(errors="replace"))

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM and wait; returns the exit status. Kills (and fails) if it does not stop in time."""
        if self.proc is None:
            return 0
        proc = self.proc
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self._finish()
            pytest.fail(f"lambent did not exit within {timeout}s of SIGTERM", pytrace=False)
        self._finish()
        return rc

    def kill9(self):
        """SIGKILL: simulate a crash (no chance to flush or clean up)."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self._finish()

    def restart(self, graceful: bool = True) -> "LambentServer":
        if graceful:
            rc = self.stop()
            assert rc == 0, f"lambent exited with {rc} after SIGTERM"
        else:
            self.kill9()
        return self.start()

    def _finish(self):
        if self._drain is not None:
            self._drain.join(5)
        self._close_files()
        self.proc = None
        self.url = None
        self.port = None

    def _close_files(self):
        if self.proc is not None and self.proc.stdout is not None:
            with contextlib.suppress(Exception):
                self.proc.stdout.close()
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self) -> str:
        path = self.log_dir / f"lambent-{self.generation}.stderr"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- clients -----------------------------------------------------------------------------

    def client(self, validate: bool = True):
        assert self.url, "server not running"
        return make_client(self.url, validate=validate)

    def aws(self, *args: str, check: bool = True, timeout: float = 120) -> "CliResult":
        assert self.url, "server not running"
        return run_aws(self.url, *args, check=check, timeout=timeout)

    def raw(self, method: str, path: str, body: bytes | str | None = None,
            headers: Mapping[str, str] | None = None, timeout: float = 60) -> "RawResponse":
        assert self.port, "server not running"
        return raw_request(self.port, method, path, body, headers, timeout)


# --------------------------------------------------------------------------------------------
# clients


def isolate_aws_environment():
    """Make sure no host-level AWS configuration can influence boto3 or the CLI."""
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_LAMBDA", "AWS_CA_BUNDLE", "AWS_ROLE_ARN",
                "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
                "https_proxy", "ALL_PROXY", "all_proxy"):
        os.environ.pop(var, None)
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    })


_session = None
_session_lock = threading.Lock()


def make_client(url: str, validate: bool = True):
    """boto3 Lambda client for `url`, retries off.

    `validate=False` turns off botocore's client-side parameter validation so that out-of-range
    values (MemorySize 64, Timeout 0, …) reach the server and we test the server's answer.
    One session is shared (loading the service model per client is slow); clients are created
    under a lock because session.client() is not thread-safe, the clients themselves are.
    """
    global _session
    with _session_lock:
        if _session is None:
            _session = boto3.session.Session()
        return _make_client_locked(url, validate)


def _make_client_locked(url: str, validate: bool):
    return _session.client(
        "lambda",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 0}, parameter_validation=validate,
                      connect_timeout=10, read_timeout=120),
    )


@dataclass
class CliResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def json(self):
        return json.loads(self.stdout)


def aws_cli_env(home: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_PAGER": "",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CLI_AUTO_PROMPT": "off",
    })
    if home:
        env["HOME"] = home
    return env


def run_aws(url: str, *args: str, check: bool = True, timeout: float = 120) -> CliResult:
    """Run `/usr/bin/aws lambda ARGS --endpoint-url URL --region us-east-1 --output json`."""
    cmd = [AWS_CLI, "lambda", *args, "--endpoint-url", url, "--region", REGION, "--output", "json"]
    home = os.environ.get("LAMBENT_TEST_AWS_HOME")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env=aws_cli_env(home), stdin=subprocess.DEVNULL)
    res = CliResult(cmd, proc.returncode, proc.stdout, proc.stderr)
    if check:
        assert proc.returncode == 0, (
            f"aws {' '.join(args)} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
    return res


# --------------------------------------------------------------------------------------------
# raw HTTP (for what SDKs cannot send: malformed JSON, unknown routes, raw header checks)


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


def raw_request(port: int, method: str, path: str, body: bytes | str | None = None,
                headers: Mapping[str, str] | None = None, timeout: float = 60) -> RawResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if isinstance(body, str):
            body = body.encode()
        hdrs = {"Accept": "application/json"}
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def oversized_request(port: int, method: str, path: str, total_bytes: int,
                      timeout: float = 120) -> tuple[RawResponse | None, int, str]:
    """Send a `total_bytes` body while watching for an early response.

    The server may answer 413 as soon as it sees Content-Length and close the connection; writing
    the rest would then fail with EPIPE/ECONNRESET and could destroy the unread response. So the body
    is streamed in chunks and the socket is polled for readability between chunks; the moment a
    response starts arriving we stop sending and read it.

    Returns (response or None, bytes sent, note about how the exchange ended).
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {total_bytes}\r\n"
            f"Connection: close\r\n\r\n").encode()
    chunk = b'{"FunctionName":"big","Code":{"ZipFile":"' + b"A" * (256 * 1024 - 40)
    sent = 0
    note = "sent whole body"
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    try:
        sock.sendall(head)
        deadline = time.monotonic() + timeout
        while sent < total_bytes:
            if sel.select(0):
                note = f"server answered after {sent} body bytes"
                break
            piece = chunk[: min(len(chunk), total_bytes - sent)]
            if sent > 0:
                piece = b"A" * len(piece)
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError, TimeoutError) as e:
                note = f"send failed after {sent} body bytes: {e!r}"
                break
            sent += len(piece)
            if time.monotonic() > deadline:
                note = "deadline while sending"
                break
        # read whatever response there is
        sock.settimeout(timeout)
        data = b""
        try:
            while True:
                part = sock.recv(65536)
                if not part:
                    break
                data += part
                if _complete_http_response(data):
                    break
        except (ConnectionResetError, TimeoutError) as e:
            note += f"; recv ended with {e!r}"
        return _parse_http_response(data), sent, note
    finally:
        sel.close()
        sock.close()


def _complete_http_response(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    m = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    return bool(m) and len(body) >= int(m.group(1))


def _parse_http_response(data: bytes) -> RawResponse | None:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return RawResponse(status, headers, body)


def quote_path(name_or_arn: str) -> str:
    return urllib.parse.quote(name_or_arn, safe="")


# --------------------------------------------------------------------------------------------
# ZIP builders (all in memory)


def b64sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def make_zip(files: Mapping[str, bytes | str], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, content in files.items():
            zi = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            zi.compress_type = compression
            zi.create_system = 3
            zi.external_attr = (stat.S_IFREG | 0o644) << 16
            zf.writestr(zi, content)
    return buf.getvalue()


def python_zip(marker: str = "v1", extra: Mapping[str, bytes | str] | None = None) -> bytes:
    """A tiny python handler package whose bytes depend on `marker`."""
    files: dict[str, bytes | str] = {
        "app.py": f"MARKER = {marker!r}\n\ndef handler(event, context):\n    return {{'marker': MARKER}}\n",
    }
    files.update(extra or {})
    return make_zip(files)


def padded_zip(marker: str, pad_bytes: int, seed: int = 0) -> bytes:
    """A handler zip plus `pad_bytes` of incompressible data (slower to write = wider crash window)."""
    import random
    rnd = random.Random(f"{marker}-{seed}")
    return make_zip({
        "app.py": f"MARKER = {marker!r}\n\ndef handler(event, context):\n    return MARKER\n",
        "pad.bin": rnd.randbytes(pad_bytes),
    }, compression=zipfile.ZIP_STORED)


def zip_with_raw_entry(entry_name: str, content: bytes = b"pwned\n") -> bytes:
    """A zip whose single hostile entry name is written verbatim (no normalisation)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(make_zipinfo("app.py"), "def handler(e, c):\n    return 1\n")
        zf.writestr(make_zipinfo(entry_name), content)
    data = buf.getvalue()
    assert entry_name in zipfile.ZipFile(io.BytesIO(data)).namelist(), "zipfile normalised the name"
    return data


def make_zipinfo(name: str, mode: int = stat.S_IFREG | 0o644) -> zipfile.ZipInfo:
    zi = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    zi.create_system = 3
    zi.external_attr = mode << 16
    zi.compress_type = zipfile.ZIP_DEFLATED
    return zi


def zip_with_symlink(link_name: str, target: str) -> bytes:
    return zip_with_symlinks([(link_name, target)])


def zip_with_symlinks(links: list[tuple[str, str]], dirs: Iterable[str] = ()) -> bytes:
    """app.py plus the given (name, target) symlink entries, Unix mode S_IFLNK."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(make_zipinfo("app.py"), "def handler(e, c):\n    return 1\n")
        for d in dirs:
            zf.writestr(make_zipinfo(d.rstrip("/") + "/", stat.S_IFDIR | 0o755), b"")
        for link_name, target in links:
            zi = make_zipinfo(link_name, stat.S_IFLNK | 0o777)
            zi.compress_type = zipfile.ZIP_STORED
            zf.writestr(zi, target)
    return buf.getvalue()


def zip_repetitive(uncompressed_bytes: int, block: int = 4096, seed: int = 3) -> bytes:
    """One entry of a repeated random block: ~100:1 deflate ratio, unlike a run of zeros (~1000:1)."""
    import random
    unit = random.Random(seed).randbytes(block)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        zf.writestr(make_zipinfo("app.py"), "def handler(e, c):\n    return 1\n")
        with zf.open(make_zipinfo("big.bin"), "w") as w:
            chunk = unit * max(1, (1024 * 1024) // block)
            left = uncompressed_bytes
            while left > 0:
                n = min(left, len(chunk))
                w.write(chunk[:n])
                left -= n
    return buf.getvalue()


_bomb_cache: dict[tuple[int, bool], bytes] = {}


def zip_bomb(uncompressed_bytes: int = 300 * 1024 * 1024, lie_about_size: bool = False) -> bytes:
    """One entry of `uncompressed_bytes` zeros, deflated (≈1000:1).

    With `lie_about_size` the local and central headers claim 1 KiB uncompressed, so a server that
    trusts the headers instead of counting what it inflates gets fooled.
    """
    key = (uncompressed_bytes, lie_about_size)
    if key in _bomb_cache:
        return _bomb_cache[key]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr(make_zipinfo("app.py"), "def handler(e, c):\n    return 1\n")
        zi = make_zipinfo("zeros.bin")
        with zf.open(zi, "w", force_zip64=False) as w:
            block = bytes(1024 * 1024)
            left = uncompressed_bytes
            while left > 0:
                n = min(left, len(block))
                w.write(block[:n])
                left -= n
    data = bytearray(buf.getvalue())
    if lie_about_size:
        data = bytearray(_patch_uncompressed_size(bytes(data), "zeros.bin", 1024))
    _bomb_cache[key] = bytes(data)
    return bytes(data)


def _patch_uncompressed_size(data: bytes, name: str, fake: int) -> bytes:
    out = bytearray(data)
    bname = name.encode()
    # local file header: sig PK\3\4, uncompressed size at offset 22, name length at 26
    pos = 0
    while True:
        pos = out.find(b"PK\x03\x04", pos)
        if pos < 0:
            break
        nlen = struct.unpack_from("<H", out, pos + 26)[0]
        if bytes(out[pos + 30: pos + 30 + nlen]) == bname:
            struct.pack_into("<I", out, pos + 22, fake)
        pos += 4
    # central directory header: sig PK\1\2, uncompressed size at offset 24, name length at 28
    pos = 0
    while True:
        pos = out.find(b"PK\x01\x02", pos)
        if pos < 0:
            break
        nlen = struct.unpack_from("<H", out, pos + 28)[0]
        if bytes(out[pos + 46: pos + 46 + nlen]) == bname:
            struct.pack_into("<I", out, pos + 24, fake)
        pos += 4
    return bytes(out)


def zip_many_entries(count: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(make_zipinfo("app.py"), "def handler(e, c):\n    return 1\n")
        for i in range(count):
            zi = zipfile.ZipInfo(f"d/{i:07d}", date_time=(2024, 1, 1, 0, 0, 0))
            zf.writestr(zi, b"")
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# function helpers


def create_function(client, name: str | None = None, zip_bytes: bytes | None = None, **kw) -> dict:
    """CreateFunction with sensible defaults; returns the response (ResponseMetadata kept)."""
    params = dict(FunctionName=name or unique_name(), Runtime="python3.12", Role=ROLE,
                  Handler="app.handler", Code={"ZipFile": zip_bytes or python_zip()})
    params.update(kw)
    return client.create_function(**params)


def binary_for_user(uid: int, workdir: Path) -> Path:
    """The lambent binary as `uid` can run it. A checkout in a directory only root can enter (mktemp -d makes
    them 0700) is out of that user's reach: then lambent, lambent-jail and runtimes/ are copied into
    workdir, which `uid` must be able to read."""
    binary = lambent_binary()
    parts = (binary, binary.parent / "lambent-jail", binary.parent / "runtimes")
    reachable = all(subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "test", "-r",
                                    str(p)], capture_output=True).returncode == 0 for p in parts)
    if reachable:
        return binary
    dest = Path(workdir) / "bin"
    dest.mkdir(mode=0o755)
    for p in parts:
        if p.is_dir():
            shutil.copytree(p, dest / p.name)
        else:
            shutil.copy2(p, dest / p.name)
    return dest / binary.name


def log_lines(data_dir: Path, function: str) -> list[str]:
    """The messages of every log line a function's streams hold in data_dir (the epoch-ms column dropped)."""
    out = []
    for f in sorted((Path(data_dir) / "logs" / function).glob("*.log")):
        for line in f.read_text(errors="replace").splitlines():
            if re.match(r"^\d{13}\t", line):
                out.append(line.split("\t", 1)[1])
    return out


def sink_records(data_dir: Path, sink: str) -> list:
    """What a destination function printed as `EVENT <json>` (the tests' sink functions do)."""
    return [json.loads(line[len("EVENT "):]) for line in log_lines(data_dir, sink) if line.startswith("EVENT ")]


def wait_until(predicate: Callable[[], object], timeout: float = SETTLE_TIMEOUT,
               interval: float = 0.05, what: str = "condition"):
    """Poll `predicate` until it returns a truthy value; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what} (last value {last!r})")
        time.sleep(interval)
        interval = min(interval * 1.5, 0.5)


def wait_active(client, name: str, timeout: float = SETTLE_TIMEOUT) -> dict:
    def check():
        cfg = client.get_function(FunctionName=name)["Configuration"]
        assert cfg.get("State") != "Failed", f"function {name} failed: {cfg}"
        return cfg if cfg.get("State") == "Active" else None
    return wait_until(check, timeout, what=f"{name} State=Active")


def wait_updated(client, name: str, timeout: float = SETTLE_TIMEOUT) -> dict:
    """Wait for State=Active and LastUpdateStatus=Successful (so the next update is not refused)."""
    def check():
        cfg = client.get_function(FunctionName=name)["Configuration"]
        assert cfg.get("LastUpdateStatus") != "Failed", f"update of {name} failed: {cfg}"
        ok = cfg.get("State") == "Active" and cfg.get("LastUpdateStatus") == "Successful"
        return cfg if ok else None
    return wait_until(check, timeout, what=f"{name} LastUpdateStatus=Successful")


def list_all_functions(client) -> list[dict]:
    out, marker = [], None
    for _ in range(10000):
        kw = {"Marker": marker} if marker else {}
        page = client.list_functions(**kw)
        out.extend(page["Functions"])
        marker = page.get("NextMarker")
        if not marker:
            return out
    pytest.fail("ListFunctions never stopped returning NextMarker")


def list_names(client) -> list[str]:
    return [f["FunctionName"] for f in list_all_functions(client)]


def fetch(url: str, timeout: float = 60) -> tuple[int, dict[str, str], bytes]:
    """GET an absolute http URL (Code.Location) with http.client; returns status, headers, body."""
    u = urllib.parse.urlsplit(url)
    assert u.scheme == "http", f"Code.Location is not an http URL: {url}"
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    try:
        target = u.path + (f"?{u.query}" if u.query else "")
        conn.request("GET", target)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def download_code(client, name: str) -> bytes:
    res = client.get_function(FunctionName=name)
    status, _, body = fetch(res["Code"]["Location"])
    assert status == 200, f"Code.Location answered {status}"
    return body


# --------------------------------------------------------------------------------------------
# error assertions


def assert_error(exc: ClientError, code: str, status: int, message: str | None = None,
                 message_re: str | None = None) -> dict:
    """Check one decoded error: code (from x-amzn-ErrorType), HTTP status, headers, message."""
    resp = exc.response
    err = resp.get("Error", {})
    meta = resp.get("ResponseMetadata", {})
    headers = meta.get("HTTPHeaders", {})
    got = (err.get("Code"), meta.get("HTTPStatusCode"))
    assert got == (code, status), f"expected {code}/{status}, got {got}; error {err}"
    assert "x-amzn-errortype" in headers, f"no x-amzn-ErrorType header: {headers}"
    assert headers["x-amzn-errortype"].split(":")[0] == code, headers["x-amzn-errortype"]
    assert UUID_RE.match(headers.get("x-amzn-requestid", "")), f"bad x-amzn-RequestId: {headers}"
    msg = err.get("Message")
    assert msg, f"error without a message: {err}"
    if message is not None:
        assert msg == message
    if message_re is not None:
        assert re.fullmatch(message_re, msg), f"message {msg!r} does not match {message_re!r}"
    return err


@contextlib.contextmanager
def expect_error(code: str, status: int, message: str | None = None, message_re: str | None = None):
    """`with expect_error("ResourceNotFoundException", 404, msg): client.get_function(...)`"""
    with pytest.raises(ClientError) as ei:
        yield ei
    assert_error(ei.value, code, status, message, message_re)


def assert_raw_error(resp: RawResponse, status: int | None = None, code: str | None = None):
    """Raw-HTTP error response: status, x-amzn-ErrorType, x-amzn-RequestId, a JSON body."""
    if status is not None:
        assert resp.status == status, f"status {resp.status}, body {resp.body[:500]!r}"
    assert resp.status >= 400, f"not an error: {resp.status}"
    assert resp.headers.get("x-amzn-errortype"), f"no x-amzn-ErrorType: {resp.headers}"
    if code is not None:
        assert resp.headers["x-amzn-errortype"].split(":")[0] == code, resp.headers
    assert UUID_RE.match(resp.headers.get("x-amzn-requestid", "")), resp.headers
    if resp.body:
        body = resp.json
        assert isinstance(body, dict)
        assert body.get("message") or body.get("Message"), body


# --------------------------------------------------------------------------------------------
# white-box data-dir snapshots


def data_dir_files(data_dir: Path) -> set[str]:
    """Every regular file (and symlink) in the data dir except the database and logs."""
    out = set()
    for root, dirs, files in os.walk(data_dir):
        rel_root = Path(root).relative_to(data_dir)
        if rel_root.parts[:1] == ("logs",):
            continue
        for f in files:
            rel = str(rel_root / f)
            if re.search(r"\.(db|sqlite3?)(-wal|-shm|-journal)?$", f) or f.endswith(".log"):
                continue
            out.add(rel)
        for d in dirs:  # symlinked dirs appear here, not in files
            p = Path(root) / d
            if p.is_symlink():
                out.add(str(rel_root / d))
    return out


@dataclass
class Snapshot:
    names: list[str]
    files: set[str]


def snapshot(client, data_dir: Path) -> Snapshot:
    return Snapshot(sorted(list_names(client)), data_dir_files(data_dir))


def assert_nothing_left_behind(client, data_dir: Path, before: Snapshot, name: str | None):
    if name is not None:
        with expect_error("ResourceNotFoundException", 404, not_found_message(name)):
            client.get_function(FunctionName=name)
    assert sorted(list_names(client)) == before.names, "ListFunctions changed"
    new_files = data_dir_files(data_dir) - before.files
    assert not new_files, f"files left behind in the data dir: {sorted(new_files)[:20]}"


def rmtree_quiet(path: Path):
    # unpacked trees may be read-only; make them writable first
    def onerror(func, p, _exc):
        with contextlib.suppress(Exception):
            os.chmod(p, 0o700)
            os.chmod(os.path.dirname(p), 0o700)
            func(p)
    shutil.rmtree(path, onerror=onerror)
