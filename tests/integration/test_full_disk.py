"""A full disk under the data dir (issue #9): the data dir lives on a small tmpfs that the test fills.

- Code that does not fit is refused with CodeStorageExceededException (400), AWS's error for exhausted code
  storage, and leaves nothing behind; any other write that cannot be saved is a ServiceException (500) whose
  message names the data dir;
- nothing acknowledged is lost or corrupted: the store reopens clean and every function stays readable and
  invokable;
- reads and invokes keep being served on a full disk, including functions that print a lot (their log lines
  cannot be stored; the invoke must neither fail nor hang);
- once space returns (a file is deleted), writes work again without a restart.

Mounting needs root: elsewhere the tests skip, saying so.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from lambent_testlib import (create_function, make_client, make_zip, padded_zip, unique_name, wait_updated)
from test_crash_consistency import integrity_check
from test_durability import full_state

DISK_MB = 8
CHATTY = ("import time\n\ndef handler(event, context):\n"
          "    time.sleep(event.get('sleep', 0))\n"
          "    for i in range(event.get('lines', 0)):\n"
          "        print('line %d %s' % (i, 'x' * 1000))\n"
          "    return {'ok': True, 'n': event.get('n')}\n")


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs for the data dir needs root")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(path: Path) -> int:
    """Writes `path` until the file system is full; returns the bytes written."""
    written = 0
    block = random.Random(1).randbytes(64 * 1024)
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                n = f.write(block)
            except OSError:
                break
            if not n:
                break
            written += n
    return written


def error_of(call):
    try:
        call()
    except ClientError as e:
        return e
    return None


def assert_disk_error(e: ClientError, data_dir: Path):
    """Either AWS's code-storage error or a ServiceException that names the data dir."""
    code = e.response["Error"]["Code"]
    status = e.response["ResponseMetadata"]["HTTPStatusCode"]
    message = e.response["Error"]["Message"]
    if code == "CodeStorageExceededException":
        assert status == 400, e.response
        assert "Code storage limit exceeded" in message and str(data_dir) in message, message
    else:
        assert (code, status) == ("ServiceException", 500), e.response
        assert str(data_dir) in message and "no space" in message.lower(), message


def invoke_ok(client, name: str, **event):
    res = client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    body = json.loads(res["Payload"].read())
    assert res["StatusCode"] == 200 and "FunctionError" not in res, body
    return body


def leftovers(data_dir: Path) -> list[str]:
    return [str(p.relative_to(data_dir)) for p in data_dir.rglob("*") if ".tmp-" in p.name]


def test_full_disk_gives_clear_errors_keeps_serving_and_recovers(server_factory, small_disk):
    data_dir = small_disk / "data"
    srv = server_factory.new("fulldisk", data_dir=data_dir, extra_args=["--sandbox-network", "none"])
    client = make_client(srv.url)
    keep = ["keep-a", "keep-b"]
    for name in keep:
        create_function(client, name, make_zip({"app.py": CHATTY}), Environment={"Variables": {"KEY": name}})
        wait_updated(client, name)
        assert invoke_ok(client, name, n=1) == {"ok": True, "n": 1}
    before = full_state(client)

    # 1. code that does not fit: CodeStorageExceededException, and nothing of it stays behind
    acked, refusal = [], None
    for i in range(12):
        name = f"big-{i}"
        e = error_of(lambda: create_function(client, name, padded_zip(name, 1536 * 1024, seed=i)))
        if e is not None:
            refusal = (name, e)
            break
        acked.append(name)
        wait_updated(client, name)
    assert refusal is not None, f"{DISK_MB} MiB never filled up"
    name, e = refusal
    assert e.response["Error"]["Code"] == "CodeStorageExceededException", e.response
    assert_disk_error(e, data_dir)
    assert error_of(lambda: client.get_function(FunctionName=name)).response["Error"]["Code"] == \
        "ResourceNotFoundException"
    assert not leftovers(data_dir)
    e = error_of(lambda: client.update_function_code(FunctionName="keep-a",
                                                     ZipFile=padded_zip("upd", 3 * 1024 * 1024, seed=99)))
    assert e is not None and e.response["Error"]["Code"] == "CodeStorageExceededException", e and e.response
    assert not leftovers(data_dir)

    # 2. the disk completely full: reads, invokes (with log output) and clear errors for writes
    filler = small_disk / "filler"
    assert fill(filler) >= 0
    for name in keep:
        for n in range(5):
            assert invoke_ok(client, name, n=n, lines=200) == {"ok": True, "n": n}
    # concurrent invokes start new workers: cold starts on the full disk
    with ThreadPoolExecutor(3) as pool:
        bodies = list(pool.map(lambda n: invoke_ok(client, "keep-b", n=n, lines=20, sleep=0.5), range(3)))
    assert bodies == [{"ok": True, "n": n} for n in range(3)]
    assert {f["FunctionName"] for f in client.list_functions()["Functions"]} == set(keep + acked)
    client.get_account_settings()
    for name in keep + acked:
        client.get_function(FunctionName=name)
    # writes either succeed (SQLite may still have room in its WAL) or fail with a clear error; a configuration
    # update that succeeds makes the next invoke a cold start on the full disk
    wrote = {}
    for i, call in enumerate([
            lambda: client.update_function_configuration(FunctionName="keep-a", Description="full " * 50,
                                                         Environment={"Variables": {"KEY": "cold"}}),
            lambda: create_function(client, "tiny", make_zip({"app.py": CHATTY})),
            lambda: client.publish_version(FunctionName="keep-a"),
            lambda: client.invoke(FunctionName="keep-a", InvocationType="Event", Payload=b'{"n": 7}')]):
        e = error_of(call)
        if e is not None:
            assert_disk_error(e, data_dir)
        wrote[i] = e is None
    print(f"writes on the full disk that went through: {wrote}")
    for name in keep:
        wait_updated(client, name)
        assert invoke_ok(client, name, n=9, lines=50) == {"ok": True, "n": 9}
    assert not leftovers(data_dir)

    # 3. space returns: writes work again without a restart
    filler.unlink()
    for name in acked:
        client.delete_function(FunctionName=name)
    fresh = unique_name("after")
    create_function(client, fresh, make_zip({"app.py": CHATTY}))
    wait_updated(client, fresh)
    assert invoke_ok(client, fresh, n=3, lines=10) == {"ok": True, "n": 3}
    client.update_function_configuration(FunctionName="keep-b", Description="space is back")
    wait_updated(client, "keep-b")
    assert client.invoke(FunctionName=fresh, InvocationType="Event", Payload=b'{"n": 4}')["StatusCode"] == 202

    # 4. nothing acknowledged was lost or corrupted: a restart opens a clean store with the same functions
    state = full_state(client)
    assert srv.stop() == 0
    integrity_check(data_dir, "after the full disk")
    srv.start()
    client = make_client(srv.url)
    assert full_state(client) == state
    for name in keep:
        cfg_before = before["functions"][name]
        cfg_after = state["functions"][name]
        assert cfg_after["zip"] == cfg_before["zip"]
        assert cfg_after["configuration"]["CodeSha256"] == cfg_before["configuration"]["CodeSha256"]
        assert invoke_ok(client, name, n=5) == {"ok": True, "n": 5}
