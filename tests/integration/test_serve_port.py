"""`lambent serve --port 0` / `--listen 127.0.0.1:0` (#8 item 5): the chosen address is printed on the
`listening on` line and is where the server answers."""
import json
import socket
import subprocess
import urllib.request

import pytest

from lambent_testlib import LambentServer, lambent_binary


@pytest.mark.parametrize("flags", [["--port", "0"], ["--listen", "127.0.0.1:0"]])
def test_port_zero_prints_the_chosen_address(tmp_path, flags):
    proc = subprocess.Popen([str(lambent_binary()), "serve", *flags, "--data-dir", str(tmp_path / "d")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        assert port != 0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_lambent/health", timeout=10) as r:
            assert json.loads(r.read()) == {"status": "ok"}
        # The port is really taken by this server.
        s = socket.socket()
        with pytest.raises(OSError):
            s.bind(("127.0.0.1", port))
        s.close()
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0


def test_port_and_listen_together_are_refused(tmp_path):
    res = subprocess.run([str(lambent_binary()), "serve", "--port", "0", "--listen", "127.0.0.1:0",
                          "--data-dir", str(tmp_path / "d")], capture_output=True, text=True, timeout=20)
    assert res.returncode != 0
    assert "excludes" in res.stderr.lower(), res.stderr
    assert "listening on" not in res.stdout


def test_port_out_of_range_is_refused(tmp_path):
    res = subprocess.run([str(lambent_binary()), "serve", "--port", "70000", "--data-dir", str(tmp_path / "d")],
                         capture_output=True, text=True, timeout=20)
    assert res.returncode != 0 and "listening on" not in res.stdout


def test_help_lists_port():
    res = subprocess.run([str(lambent_binary()), "serve", "--help"], capture_output=True, text=True, timeout=20)
    assert "--port" in res.stdout
