"""Durability across restarts and crash consistency under kill -9 (architecture.md "Storage")."""

from __future__ import annotations

import os
import random
import threading
import time

import pytest
from botocore.exceptions import ClientError

from lambent_testlib import (b64sha256, create_function, download_code, expect_error, fetch,
                             function_arn, list_all_functions, make_client, not_found_message,
                             padded_zip, python_zip, wait_updated)


def full_state(client) -> dict:
    """Everything observable about the store, with the ZIP bytes instead of the (port-bearing) URL."""
    state = {"functions": {}, "list": [], "account": None}
    for item in list_all_functions(client):
        name = item["FunctionName"]
        res = client.get_function(FunctionName=name)
        status, _, body = fetch(res["Code"]["Location"])
        assert status == 200
        state["functions"][name] = {
            "configuration": res["Configuration"],
            "tags": res.get("Tags"),
            "list_tags": client.list_tags(Resource=function_arn(name))["Tags"],
            "repository_type": res["Code"]["RepositoryType"],
            "zip": body,
        }
        state["list"].append(item)
    acct = client.get_account_settings()
    acct.pop("ResponseMetadata")
    state["account"] = acct
    return state


def build_store(client):
    zips = {"alpha": python_zip("alpha"), "beta": python_zip("beta-1"),
            "gamma": python_zip("gamma", extra={"data/blob.txt": "g" * 10000}),
            "doomed": python_zip("doomed")}
    create_function(client, "alpha", zips["alpha"], Environment={"Variables": {"AA": "1"}},
                    Tags={"team": "core"}, Description="first")
    create_function(client, "beta", zips["beta"], Runtime="nodejs20.x", Handler="index.handler")
    create_function(client, "gamma", zips["gamma"], MemorySize=1024, Timeout=120)
    create_function(client, "doomed", zips["doomed"])
    for n in ("alpha", "beta", "gamma", "doomed"):
        wait_updated(client, n)
    zips["beta"] = python_zip("beta-2", extra={"more.js": "exports.x = 1;\n"})
    client.update_function_code(FunctionName="beta", ZipFile=zips["beta"])
    wait_updated(client, "beta")
    client.update_function_configuration(FunctionName="gamma", Environment={"Variables": {"GG": "7"}},
                                         Description="updated")
    wait_updated(client, "gamma")
    client.tag_resource(Resource=function_arn("gamma"), Tags={"x": "y"})
    client.delete_function(FunctionName="doomed")
    return zips


@pytest.mark.parametrize("graceful", [True, False], ids=["sigterm", "sigkill"])
def test_restart_preserves_everything(server_factory, graceful):
    srv = server_factory.new("durable")
    client = make_client(srv.url)
    zips = build_store(client)
    before = full_state(client)
    assert sorted(before["functions"]) == ["alpha", "beta", "gamma"]
    assert before["functions"]["beta"]["zip"] == zips["beta"]

    srv.restart(graceful=graceful)
    client = make_client(srv.url)
    after = full_state(client)
    assert sorted(after["functions"]) == sorted(before["functions"])
    for name, b in before["functions"].items():
        a = after["functions"][name]
        for key in ("CodeSha256", "RevisionId", "LastModified", "CodeSize", "Environment",
                    "Description", "MemorySize", "Timeout", "Runtime", "Handler"):
            assert a["configuration"].get(key) == b["configuration"].get(key), (name, key)
        assert a == b, f"{name} differs after restart"
        assert a["zip"] == zips[name]
        assert b64sha256(a["zip"]) == a["configuration"]["CodeSha256"]
    assert after["list"] == before["list"]
    assert after["account"] == before["account"]
    with expect_error("ResourceNotFoundException", 404, not_found_message("doomed")):
        client.get_function(FunctionName="doomed")

    # the reopened store takes writes, and they survive another restart
    new_zip = python_zip("alpha-2")
    res = client.update_function_code(FunctionName="alpha", ZipFile=new_zip,
                                      RevisionId=before["functions"]["alpha"]["configuration"]["RevisionId"])
    assert res["CodeSha256"] == b64sha256(new_zip)
    wait_updated(client, "alpha")
    create_function(client, "doomed", python_zip("reborn"))
    wait_updated(client, "doomed")
    mid = full_state(client)
    srv.restart(graceful=True)
    client = make_client(srv.url)
    assert full_state(client) == mid
    assert download_code(client, "alpha") == new_zip


def test_restart_empty_store(server_factory):
    srv = server_factory.new("empty")
    srv.restart()
    client = make_client(srv.url)
    assert client.list_functions()["Functions"] == []
    assert client.get_account_settings()["AccountUsage"] == {"TotalCodeSize": 0, "FunctionCount": 0}


# --------------------------------------------------------------------------------- crash loop


class Updater(threading.Thread):
    """Alternates UpdateFunctionCode(zip v) and UpdateFunctionConfiguration(CODE_VERSION=v)."""

    def __init__(self, url: str, name: str, code_v: int, env_v: int, zip_for):
        super().__init__(daemon=True)
        self.url, self.name, self.zip_for = url, name, zip_for
        self.acked_code = self.attempted_code = code_v
        self.acked_env = self.attempted_env = env_v
        self.killed = threading.Event()
        self.unexpected: BaseException | None = None
        self.completed_calls = 0

    def _call(self, fn):
        deadline = time.monotonic() + 15
        while True:
            try:
                return fn()
            except ClientError as e:
                # an update still InProgress is refused with ResourceConflictException; retry
                if (e.response["Error"]["Code"] == "ResourceConflictException"
                        and time.monotonic() < deadline and not self.killed.is_set()):
                    time.sleep(0.02)
                    continue
                raise

    def run(self):
        client = make_client(self.url)
        try:
            if self.acked_env < self.acked_code:  # finish the pair a crash interrupted
                v = self.acked_code
                self.attempted_env = v
                self._call(lambda: client.update_function_configuration(
                    FunctionName=self.name, Environment={"Variables": {"CODE_VERSION": str(v)}}))
                self.acked_env = v
                self.completed_calls += 1
            v = self.acked_code
            while not self.killed.is_set():
                v += 1
                data = self.zip_for(v)
                self.attempted_code = v
                self._call(lambda: client.update_function_code(FunctionName=self.name, ZipFile=data))
                self.acked_code = v
                self.completed_calls += 1
                self.attempted_env = v
                self._call(lambda: client.update_function_configuration(
                    FunctionName=self.name, Environment={"Variables": {"CODE_VERSION": str(v)}}))
                self.acked_env = v
                self.completed_calls += 1
        except BaseException as e:  # noqa: BLE001 - connection errors are expected after the kill
            if not self.killed.is_set():
                self.unexpected = e


@pytest.mark.slow
def test_crash_consistency_under_kill9(server_factory):
    rounds = int(os.environ.get("LAMBENT_CRASH_ROUNDS", "15"))
    seed = int(os.environ.get("LAMBENT_CRASH_SEED", str(random.randrange(1 << 30))))
    print(f"crash loop: rounds={rounds} seed={seed} (set LAMBENT_CRASH_SEED to replay)")
    rnd = random.Random(seed)
    sha_to_version: dict[str, int] = {}
    zip_cache: dict[int, bytes] = {}

    def zip_for(v: int) -> bytes:
        if v not in zip_cache:
            # 16 KiB .. 1.5 MiB of incompressible padding: slow enough to be interrupted mid-write
            pad = random.Random(v).randrange(16 * 1024, 1536 * 1024)
            zip_cache[v] = padded_zip(f"version-{v}", pad, seed=v)
            sha_to_version[b64sha256(zip_cache[v])] = v
        return zip_cache[v]

    name = "crashy"
    srv = server_factory.new("crash")
    client = make_client(srv.url)
    create_function(client, name, zip_for(0), Environment={"Variables": {"CODE_VERSION": "0"}})
    wait_updated(client, name)
    code_v = env_v = 0
    total_calls = 0

    for rnd_i in range(rounds):
        upd = Updater(srv.url, name, code_v, env_v, zip_for)
        upd.start()
        time.sleep(rnd.uniform(0.02, 0.6))  # a random moment, not synchronisation
        upd.killed.set()
        srv.kill9()
        upd.join(30)
        assert not upd.is_alive(), "updater thread hung after the server was killed"
        assert upd.unexpected is None, f"round {rnd_i}: update failed before the kill: {upd.unexpected!r}"
        total_calls += upd.completed_calls

        srv.start()
        client = make_client(srv.url)
        ctx = f"round {rnd_i} seed {seed}"
        items = list_all_functions(client)
        assert [f["FunctionName"] for f in items] == [name], ctx
        cfg = wait_updated(client, name)
        res = client.get_function(FunctionName=name)
        status, _, body = fetch(res["Code"]["Location"])
        assert status == 200, ctx
        sha = res["Configuration"]["CodeSha256"]
        assert b64sha256(body) == sha, f"{ctx}: CodeSha256 does not match the served ZIP"
        assert len(body) == res["Configuration"]["CodeSize"], ctx
        assert sha in sha_to_version, f"{ctx}: served ZIP is none of the ZIPs that were sent"
        new_code_v = sha_to_version[sha]
        assert zip_cache[new_code_v] == body, ctx
        new_env_v = int(cfg["Environment"]["Variables"]["CODE_VERSION"])
        # each pair is code v then config v: the config never runs ahead, lags by at most one
        assert new_code_v - new_env_v in (0, 1), f"{ctx}: code v{new_code_v}, env v{new_env_v}"
        # acknowledged updates survive a crash; unsent ones cannot appear
        assert upd.acked_code <= new_code_v <= upd.attempted_code, (
            f"{ctx}: code v{new_code_v}, acked v{upd.acked_code}, attempted v{upd.attempted_code}")
        assert upd.acked_env <= new_env_v <= upd.attempted_env, (
            f"{ctx}: env v{new_env_v}, acked v{upd.acked_env}, attempted v{upd.attempted_env}")
        acct = client.get_account_settings()["AccountUsage"]
        assert acct == {"FunctionCount": 1, "TotalCodeSize": len(body)}, ctx
        code_v, env_v = new_code_v, new_env_v

    print(f"crash loop: {total_calls} acknowledged updates, final code v{code_v} env v{env_v}")
    assert total_calls > rounds, f"the updater barely ran ({total_calls} calls in {rounds} rounds)"
    # after all that, a graceful restart still opens the same state
    before = client.get_function(FunctionName=name)["Configuration"]
    srv.restart(graceful=True)
    after = make_client(srv.url).get_function(FunctionName=name)["Configuration"]
    assert after == before
