"""Fixtures for Lambent's control-plane integration tests.

Run with Debian's interpreter (it has boto3, botocore and pytest):

    /usr/bin/python3 -m pytest tests/integration -q

The server under test is `build/lambent` (or `$LAMBENT_BIN`). A missing binary fails the run; it is
never skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lambent_testlib import (LambentServer, isolate_aws_environment, lambent_binary, make_client,
                             rmtree_quiet)

isolate_aws_environment()

_live_servers: list[LambentServer] = []


def pytest_report_header(config):
    override = os.environ.get("LAMBENT_BIN")
    from lambent_testlib import REPO_ROOT
    path = Path(override) if override else REPO_ROOT / "build" / "lambent"
    return [f"lambent binary: {path} ({'present' if path.exists() else 'MISSING'})"]


_shutdown_problems: list[str] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    # A server that died while the test ran fails that test, with its exit status and output.
    for srv in _live_servers:
        if srv.proc is not None and srv.proc.poll() is not None and not srv.death_reported:
            srv.death_reported = True
            if report.when == "call" or report.failed:
                report.outcome = "failed"
                report.longrepr = (f"lambent ({srv.data_dir}) died during this test with exit "
                                   f"status {srv.proc.returncode}\n--- original outcome ---\n"
                                   f"{report.longrepr or 'passed'}")
    if report.failed:
        for srv in _live_servers:
            for what, text in (("stdout", srv.stdout_text()), ("stderr", srv.stderr_text())):
                if text.strip():
                    report.sections.append((f"lambent {what} tail ({srv.data_dir})", text[-3000:]))


def pytest_terminal_summary(terminalreporter):
    if _shutdown_problems:
        terminalreporter.section("lambent shutdown problems", red=True)
        for p in _shutdown_problems:
            terminalreporter.line(p)


def pytest_sessionfinish(session, exitstatus):
    if _shutdown_problems and exitstatus == 0:
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def _revive_shared_server(request):
    """If an earlier test crashed the module's server, restart it on the same data dir so the
    remaining tests report their own results instead of connection errors."""
    if "server" in request.fixturenames:
        srv = request.getfixturevalue("server")
        if srv.proc is not None and srv.proc.poll() is not None:
            srv.death_reported = True
            srv._finish()
        if srv.proc is None:
            srv.start()
    yield


@pytest.fixture(scope="session")
def lambent_bin() -> Path:
    return lambent_binary()


class ServerFactory:
    """Starts servers under one temp root; each can be restarted on its own data dir."""

    def __init__(self, binary: Path, root: Path):
        self.binary = binary
        self.root = root
        self.servers: list[LambentServer] = []

    def new(self, name: str = "srv", data_dir: Path | None = None, start: bool = True,
            extra_args=()) -> LambentServer:
        idx = len(self.servers)
        data_dir = data_dir or self.root / f"{name}-{idx}" / "data"
        srv = LambentServer(self.binary, data_dir, data_dir.parent / "logs", extra_args)
        self.servers.append(srv)
        _live_servers.append(srv)
        if start:
            srv.start()
        return srv

    def close(self):
        failures = []
        for srv in self.servers:
            if srv.proc is not None:
                alive = srv.running
                rc = srv.stop()
                if rc != 0 and (alive or not srv.death_reported):
                    how = "after SIGTERM" if alive else "(it died during the tests)"
                    failures.append(f"{srv.data_dir}: exit status {rc} {how}")
            if srv in _live_servers:
                _live_servers.remove(srv)
        # Reported in the terminal summary and the exit status; raising here would break -x runs.
        _shutdown_problems.extend(failures)


@pytest.fixture(scope="module")
def module_factory(lambent_bin, tmp_path_factory):
    f = ServerFactory(lambent_bin, tmp_path_factory.mktemp("lambent-mod"))
    yield f
    f.close()
    rmtree_quiet(f.root)


@pytest.fixture
def server_factory(lambent_bin, tmp_path):
    """Function-scoped: start any number of servers; all are stopped (SIGTERM) at teardown."""
    f = ServerFactory(lambent_bin, tmp_path)
    yield f
    f.close()
    rmtree_quiet(tmp_path)


@pytest.fixture(scope="module")
def server(module_factory) -> LambentServer:
    """One server shared by the tests of a module (tests use unique function names)."""
    return module_factory.new("shared")


@pytest.fixture
def fresh_server(server_factory) -> LambentServer:
    """A server of its own for tests that need an empty store or restarts."""
    return server_factory.new("fresh")


@pytest.fixture
def client(server):
    return make_client(server.url)


@pytest.fixture
def lax_client(server):
    """Client with botocore's parameter validation off, so bad values reach the server."""
    return make_client(server.url, validate=False)


@pytest.fixture
def fresh_client(fresh_server):
    return make_client(fresh_server.url)


@pytest.fixture(scope="session", autouse=True)
def aws_cli_home(tmp_path_factory):
    """A private HOME for the AWS CLI so ~/.aws of the host cannot interfere."""
    home = tmp_path_factory.mktemp("aws-home")
    os.environ["LAMBENT_TEST_AWS_HOME"] = str(home)
    return home
