"""Sandbox probes: functions that try forbidden things against a real, sandboxed `lambent serve`."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from lambent_testlib import LambentServer, lambent_binary, make_client  # noqa: E402


def _running_as_root() -> bool:
    import os
    return os.geteuid() == 0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not _running_as_root():
        pytest.skip("the sandbox needs root on this host (namespaces, mounts, cgroups); run the suite as root")
    base = tmp_path_factory.mktemp("sandbox")
    srv = LambentServer(lambent_binary(), base / "data", base / "logs",
                        ["--sandbox", "on", "--sandbox-network", "none", "--idle-ttl", "30"]).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    return make_client(server.url)
