"""`lambent serve` as a command: help, start-up errors that must be clear and fatal, graceful shutdown."""
import socket
import subprocess

from lambent_testlib import LambentServer, lambent_binary, make_client


def _run(args, timeout=20):
    return subprocess.run([str(lambent_binary()), *args], capture_output=True, text=True, timeout=timeout)


def test_help_lists_the_serve_flags():
    res = _run(["serve", "--help"])
    assert res.returncode == 0
    for flag in ("--listen", "--data-dir", "--concurrency", "--idle-ttl", "--sandbox", "--sandbox-network"):
        assert flag in res.stdout, res.stdout


def test_port_already_taken_is_a_clear_fatal_error(tmp_path):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        res = _run(["serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path / "d")])
    finally:
        holder.close()
    assert res.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in res.stderr, res.stderr
    assert "in use" in res.stderr.lower(), res.stderr
    assert "listening on" not in res.stdout


def test_unusable_data_dir_is_a_clear_fatal_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    res = _run(["serve", "--listen", "127.0.0.1:0", "--data-dir", str(blocker / "data")])
    assert res.returncode != 0
    assert str(blocker / "data") in res.stderr, res.stderr
    assert "listening on" not in res.stdout


def test_bad_listen_address_is_rejected(tmp_path):
    res = _run(["serve", "--listen", "nonsense", "--data-dir", str(tmp_path / "d")])
    assert res.returncode != 0
    assert "--listen" in res.stderr, res.stderr


def test_sigterm_stops_gracefully_and_logs_the_configuration(tmp_path):
    srv = LambentServer(lambent_binary(), tmp_path / "data", tmp_path / "logs").start()
    make_client(srv.url).list_functions()
    assert srv.stop() == 0
    stderr = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.stderr"))
    assert "lambent serving listen=127.0.0.1:" in stderr
    assert "data_dir=" in stderr and "concurrency=" in stderr and "sandbox=" in stderr
    assert "lambent stopped" in stderr
