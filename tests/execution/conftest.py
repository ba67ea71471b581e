"""Fixtures for Lambent's execution tests (functions really running through the Runtime API).

Run with Debian's interpreter (it has boto3, botocore and pytest):

    /usr/bin/python3 -m pytest tests/execution -q

The server under test is `build/lambent` (or `$LAMBENT_BIN`); a missing binary fails the run.
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from execlib import (AWS_CLI, LambentServer, create_function, isolate_aws_environment,  # noqa: E402
                     lambent_binary, make_client)

isolate_aws_environment()

_servers: list[LambentServer] = []
_names = itertools.count(1)


def pytest_report_header(config):
    b = lambent_binary()
    return [f"lambent binary: {b} ({'present' if b.exists() else 'MISSING'})"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" or report.failed:
        for srv in list(_servers):
            if (srv.proc is not None and srv.proc.poll() is not None and not srv.stopped_on_purpose
                    and not getattr(srv, "death_reported", False)):
                srv.death_reported = True
                report.outcome = "failed"
                report.longrepr = (f"lambent ({srv.root}) died during this test with exit status "
                                   f"{srv.proc.returncode}\n--- original outcome ---\n{report.longrepr or 'passed'}")
    if report.failed:
        for srv in _servers:
            for what, text in (("stdout", srv.stdout_text()), ("stderr", srv.stderr_text())):
                if text.strip():
                    report.sections.append((f"lambent {what} tail ({srv.name})", text[-4000:]))


class ServerFactory:
    def __init__(self, root: Path):
        self.root = root
        self.servers: list[LambentServer] = []

    def new(self, *extra_args: str, name: str = "srv") -> LambentServer:
        srv = LambentServer(self.root / f"{name}-{len(self.servers)}", extra_args, name=name)
        self.servers.append(srv)
        _servers.append(srv)
        srv.start()
        return srv

    def close(self):
        problems = []
        for srv in self.servers:
            was_alive = srv.alive()
            try:
                rc = srv.stop()
            except AssertionError as e:
                problems.append(str(e))
                rc = None
            if was_alive and rc not in (0, None):
                problems.append(f"lambent {srv.name} exited with status {rc} after SIGTERM")
            if srv in _servers:
                _servers.remove(srv)
        shutil.rmtree(self.root, ignore_errors=True)
        return problems


@pytest.fixture(scope="session")
def lambent_bin() -> Path:
    b = lambent_binary()
    if not b.exists():
        pytest.fail(f"lambent binary {b} is missing (build it, or set LAMBENT_BIN)")
    return b


@pytest.fixture(scope="module")
def module_servers(lambent_bin, tmp_path_factory):
    f = ServerFactory(tmp_path_factory.mktemp("exec-mod"))
    yield f
    problems = f.close()
    assert not problems, problems


@pytest.fixture
def servers(lambent_bin, tmp_path_factory):
    """Function-scoped factory: start servers with special flags; all get SIGTERM at teardown."""
    f = ServerFactory(tmp_path_factory.mktemp("exec-fn"))
    yield f
    problems = f.close()
    assert not problems, problems


@pytest.fixture(scope="module")
def server(module_servers) -> LambentServer:
    """One server shared by a module's tests (each test uses its own function names)."""
    return module_servers.new(name="shared")


@pytest.fixture(scope="module")
def client(server):
    return make_client(server.url)


@pytest.fixture
def fname(request):
    """A unique function name for this test."""
    base = re.sub(r"[^a-zA-Z0-9-]+", "-", request.node.name.removeprefix("test_"))[:40].strip("-")
    return f"x{next(_names)}-{base}"[:56]


@pytest.fixture
def make_fn(client, fname):
    """make_fn(zip_bytes, **create_function kwargs) -> name; creates on the module's server."""
    counter = itertools.count()

    def _make(zip_bytes: bytes, name: str | None = None, **kw) -> str:
        i = next(counter)
        n = name or (fname if i == 0 else f"{fname}-{i}")
        create_function(client, n, zip_bytes, **kw)
        return n
    return _make


@pytest.fixture(scope="session")
def aws_cli_path():
    if not Path(AWS_CLI).exists():
        pytest.fail(f"{AWS_CLI} (Debian's awscli) is missing")
    r = subprocess.run([AWS_CLI, "--version"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return AWS_CLI


@pytest.fixture(scope="session")
def ric_node_modules():
    """Builds (once) the unmodified aws-lambda-ric@3.3.0 into a cache outside the repo; returns the
    node_modules path. A failing build fails the test that needs it, with the script's output."""
    script = Path(__file__).resolve().parent / "build_ric.sh"
    r = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        pytest.fail(f"tests/execution/build_ric.sh failed with status {r.returncode}:\n"
                    f"{r.stderr[-6000:]}\n{r.stdout[-2000:]}", pytrace=False)
    path = Path(r.stdout.strip().splitlines()[-1])
    assert (path / "aws-lambda-ric" / "bin" / "index.mjs").is_file(), path
    return path


def pytest_collection_modifyitems(config, items):
    # Keep the one-time RIC build last so the rest of the suite reports first.
    items.sort(key=lambda it: 1 if it.path.name == "test_exec_ric.py" else 0)

