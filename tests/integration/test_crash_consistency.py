"""Crash consistency under a write-heavy mix (issue #9): create, update code and configuration, publish, alias
changes with routing configs and asynchronous invokes, with `kill -9` of the server at random moments and a
restart on the same data dir after each, then the invariants:

- every acknowledged change (2xx received) is there with its values; the one request in flight at the kill is
  either fully there or not at all;
- nothing half-written is visible: CodeSha256 matches the served ZIP of $LATEST and of every version, published
  versions never change, aliases point at versions that exist, RevisionIds compare-and-swap after the restart;
- every accepted Event invocation runs at least once (the function prints each event id; Lambent writes an
  invocation's log lines to the data dir when it ends, so they survive the kills);
- the store opens cleanly (SQLite integrity_check) and no temp files or unreferenced blobs are left.

The crash loop of test_durability.py covers the code/configuration pair on one function; this one covers the
rest of the write paths. LAMBENT_CRASH_ROUNDS and LAMBENT_CRASH_SEED replay a run.
"""

from __future__ import annotations

import base64
import json
import os
import random
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from test_async import log_lines
from lambent_testlib import (b64sha256, create_function, fetch, list_all_functions, make_client, make_zip,
                             padded_zip, wait_until, wait_updated)

RECORDER = ("import time\n\ndef handler(event, context):\n    time.sleep(0.3)  # long enough for kills to land mid-attempt\n"
            "    print('EVENT ' + event['id'])\n    return event\n")


def conflict_retry(fn, stop: threading.Event, seconds: float = 15):
    """Calls fn, retrying while an earlier update is still in progress (ResourceConflictException)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return fn()
        except ClientError as e:
            if (e.response["Error"]["Code"] == "ResourceConflictException" and time.monotonic() < deadline
                    and not stop.is_set()):
                time.sleep(0.02)
                continue
            raise


class Model:
    """What the client knows was acknowledged, plus the one change in flight when the server died."""

    def __init__(self):
        self.code_sha: str = ""          # acknowledged $LATEST CodeSha256 of the main function
        self.env: str = ""               # acknowledged CODE_VERSION of the main function
        self.versions: dict[str, dict] = {}   # version -> {"sha", "env", "revision"} as PublishVersion answered
        self.alias: dict | None = None   # {"version", "weights"} as the last acknowledged alias change
        self.created: dict[str, str] = {}     # extra functions acknowledged -> CodeSha256
        self.events: set[str] = set()    # accepted (202) async event ids
        self.maybe_events: set[str] = set()  # sent when the server died: accepted or not, nobody knows
        self.inflight: tuple | None = None


class Mixer(threading.Thread):
    """One request at a time on the main function, so at most one change is in flight at the kill."""

    def __init__(self, url: str, name: str, model: Model, zip_for, rnd: random.Random, recorder: str):
        super().__init__(daemon=True)
        self.url, self.name, self.model, self.zip_for, self.rnd = url, name, model, zip_for, rnd
        self.recorder = recorder
        self.killed = threading.Event()
        self.unexpected: BaseException | None = None
        self.acked = 0

    def run(self):
        client = make_client(self.url)
        m = self.model
        try:
            while not self.killed.is_set():
                op = self.rnd.choices(["code", "config", "publish", "alias", "create", "event"],
                                      [3, 3, 2, 3, 1, 4])[0]
                if op == "code":
                    v = self.rnd.randrange(1 << 30)
                    data = self.zip_for(v)
                    m.inflight = ("code", b64sha256(data))
                    res = conflict_retry(lambda: client.update_function_code(FunctionName=self.name, ZipFile=data),
                                         self.killed)
                    m.code_sha = res["CodeSha256"]
                elif op == "config":
                    v = str(self.rnd.randrange(1 << 30))
                    m.inflight = ("config", v)
                    conflict_retry(lambda: client.update_function_configuration(
                        FunctionName=self.name, Environment={"Variables": {"CODE_VERSION": v}}), self.killed)
                    m.env = v
                elif op == "publish":
                    m.inflight = ("publish", None)
                    res = conflict_retry(lambda: client.publish_version(FunctionName=self.name), self.killed)
                    m.versions[res["Version"]] = {"sha": res["CodeSha256"], "env": res["Environment"]["Variables"]
                                                  ["CODE_VERSION"], "revision": res["RevisionId"]}
                elif op == "alias":
                    if not m.versions:
                        continue
                    published = sorted(m.versions, key=int)
                    version = self.rnd.choice(published)
                    others = [x for x in published if x != version]
                    weights = {self.rnd.choice(others): round(self.rnd.uniform(0.05, 0.5), 2)} \
                        if others and self.rnd.random() < 0.6 else {}
                    m.inflight = ("alias", {"version": version, "weights": weights})
                    routing = {"AdditionalVersionWeights": weights}
                    if m.alias is None:
                        try:
                            client.create_alias(FunctionName=self.name, Name="live", FunctionVersion=version,
                                                RoutingConfig=routing)
                        except ClientError as e:  # created by the request in flight at the last kill
                            if e.response["Error"]["Code"] != "ResourceConflictException":
                                raise
                            client.update_alias(FunctionName=self.name, Name="live", FunctionVersion=version,
                                                RoutingConfig=routing)
                    else:
                        client.update_alias(FunctionName=self.name, Name="live", FunctionVersion=version,
                                            RoutingConfig=routing)
                    m.alias = {"version": version, "weights": weights}
                elif op == "create":
                    name = f"extra-{uuid.uuid4().hex[:10]}"
                    data = self.zip_for(self.rnd.randrange(1 << 30))
                    m.inflight = ("create", name)
                    res = create_function(client, name, data)
                    m.created[name] = res["CodeSha256"]
                else:
                    ev = uuid.uuid4().hex
                    m.inflight = ("event", ev)
                    res = client.invoke(FunctionName=self.recorder, InvocationType="Event",
                                        Payload=json.dumps({"id": ev}).encode())
                    assert res["StatusCode"] == 202
                    m.events.add(ev)
                m.inflight = None
                self.acked += 1
        except BaseException as e:  # noqa: BLE001 - connection errors are expected after the kill
            if not self.killed.is_set():
                self.unexpected = e


def served_sha(client, name: str, qualifier: str | None = None) -> tuple[dict, str]:
    kw = {"Qualifier": qualifier} if qualifier else {}
    res = client.get_function(FunctionName=name, **kw)
    status, _, body = fetch(res["Code"]["Location"])
    assert status == 200
    assert len(body) == res["Configuration"]["CodeSize"]
    return res["Configuration"], b64sha256(body)


def hex_of(b64: str) -> str:
    return base64.b64decode(b64).hex()


def check_store_files(data_dir: Path, referenced_b64: set[str], ctx: str):
    """No temp files anywhere, and the code blobs are exactly the referenced ones (start-up GC ran)."""
    temps = [str(p.relative_to(data_dir)) for p in data_dir.rglob("*")
             if ".tmp-" in p.name or p.name.startswith(".write-probe")]
    assert not temps, f"{ctx}: temp files left in the data dir: {temps[:10]}"
    blobs = {p.name.removesuffix(".zip") for p in (data_dir / "code").iterdir()}
    want = {hex_of(s) for s in referenced_b64}
    assert want <= blobs, f"{ctx}: referenced code blobs missing: {sorted(want - blobs)}"
    extra = blobs - want
    assert not extra, f"{ctx}: unreferenced code blobs left: {sorted(extra)}"


def integrity_check(data_dir: Path, ctx: str):
    db = sqlite3.connect(data_dir / "lambent.db")
    try:
        rows = db.execute("PRAGMA integrity_check").fetchall()
        assert rows == [("ok",)], f"{ctx}: integrity_check: {rows}"
        fk = db.execute("PRAGMA foreign_key_check").fetchall()
        assert not fk, f"{ctx}: foreign_key_check: {fk}"
    finally:
        db.close()


def recorded_events(data_dir: Path, function: str) -> set[str]:
    return {line.split()[1] for line in log_lines(data_dir, function) if line.startswith("EVENT ")}


def verify(client, name: str, m: Model, seen_versions: dict[str, dict], data_dir: Path, ctx: str) -> set[str]:
    """Checks every invariant after a restart; returns the referenced CodeSha256 values."""
    inflight = m.inflight or (None, None)
    cfg = wait_updated(client, name)
    cfg, sha = served_sha(client, name)
    assert sha == cfg["CodeSha256"], f"{ctx}: $LATEST CodeSha256 does not match its served ZIP"
    allowed = {m.code_sha} | ({inflight[1]} if inflight[0] == "code" else set())
    assert cfg["CodeSha256"] in allowed, f"{ctx}: $LATEST code {cfg['CodeSha256']} not in {allowed} ({inflight})"
    m.code_sha = cfg["CodeSha256"]
    env = cfg["Environment"]["Variables"]["CODE_VERSION"]
    allowed = {m.env} | ({inflight[1]} if inflight[0] == "config" else set())
    assert env in allowed, f"{ctx}: CODE_VERSION {env} not in {allowed}"
    m.env = env
    referenced = {cfg["CodeSha256"]}

    # RevisionId: GetFunction and GetFunctionConfiguration agree, and compare-and-swap works on it
    rev = client.get_function_configuration(FunctionName=name)["RevisionId"]
    assert rev == cfg["RevisionId"], ctx

    # versions: every acknowledged one, unchanged; at most the in-flight publish more; all immutable
    pages = client.get_paginator("list_versions_by_function").paginate(FunctionName=name)
    listed = {v["Version"]: v for page in pages for v in page["Versions"]}
    listed.pop("$LATEST")
    missing = set(m.versions) - set(listed)
    assert not missing, f"{ctx}: acknowledged versions lost: {sorted(missing)}"
    extra = set(listed) - set(m.versions)
    assert len(extra) <= (1 if inflight[0] == "publish" else 0), f"{ctx}: unacknowledged versions {extra}"
    for v, item in listed.items():
        vcfg, vsha = served_sha(client, name, v)
        assert vsha == vcfg["CodeSha256"], f"{ctx}: version {v} CodeSha256 does not match its served ZIP"
        now = {"sha": vcfg["CodeSha256"], "env": vcfg["Environment"]["Variables"]["CODE_VERSION"],
               "revision": vcfg["RevisionId"]}
        if v in m.versions:
            assert now == m.versions[v], f"{ctx}: version {v} is {now}, was published as {m.versions[v]}"
        if v in seen_versions:
            assert now == seen_versions[v], f"{ctx}: version {v} changed: {seen_versions[v]} -> {now}"
        seen_versions[v] = now
        m.versions[v] = now
        referenced.add(vcfg["CodeSha256"])

    # the alias: the acknowledged value or the in-flight one, pointing at versions that exist
    try:
        alias = client.get_alias(FunctionName=name, Name="live")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ResourceNotFoundException"
        assert m.alias is None, f"{ctx}: acknowledged alias lost"
    else:
        now = {"version": alias["FunctionVersion"],
               "weights": (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights", {})}
        allowed = [m.alias] + ([inflight[1]] if inflight[0] == "alias" else [])
        assert now in allowed, f"{ctx}: alias {now} is none of {allowed}"
        for v in [now["version"], *now["weights"]]:
            assert v in listed, f"{ctx}: alias points at version {v}, which does not exist"
        m.alias = now

    # extra functions: acknowledged ones exist with their code; the in-flight one fully or not at all
    names = {f["FunctionName"] for f in list_all_functions(client)}
    for extra_name, want_sha in m.created.items():
        assert extra_name in names, f"{ctx}: acknowledged function {extra_name} lost"
    if inflight[0] == "create" and inflight[1] in names:
        m.created[inflight[1]] = client.get_function(FunctionName=inflight[1])["Configuration"]["CodeSha256"]
    for extra_name, want_sha in m.created.items():
        ecfg, esha = served_sha(client, extra_name)
        assert ecfg["CodeSha256"] == want_sha == esha, f"{ctx}: function {extra_name} code differs"
        referenced.add(want_sha)
    if inflight[0] == "event":
        m.maybe_events.add(inflight[1])
    m.inflight = None
    return referenced


@pytest.mark.slow
def test_crash_consistency_of_every_write_path(server_factory):
    rounds = int(os.environ.get("LAMBENT_CRASH_ROUNDS", "25"))
    seed = int(os.environ.get("LAMBENT_CRASH_SEED", str(random.randrange(1 << 30))))
    print(f"crash mix: rounds={rounds} seed={seed} (set LAMBENT_CRASH_SEED to replay)")
    rnd = random.Random(seed)
    zips: dict[int, bytes] = {}

    def zip_for(v: int) -> bytes:
        if v not in zips:
            zips[v] = padded_zip(f"v{v}", random.Random(v).randrange(4 * 1024, 768 * 1024), seed=v)
        return zips[v]

    srv = server_factory.new("crashmix", extra_args=["--async-retry-delay", "0.2", "--sandbox-network", "none"])
    client = make_client(srv.url)
    name = "mixed"
    m = Model()
    res = create_function(client, name, zip_for(0), Environment={"Variables": {"CODE_VERSION": "0"}})
    m.code_sha, m.env = res["CodeSha256"], "0"
    recorder = "recorder"
    create_function(client, recorder, make_zip({"app.py": RECORDER}))
    wait_updated(client, name)
    wait_updated(client, recorder)
    seen_versions: dict[str, dict] = {}
    total = 0

    for i in range(rounds):
        mixer = Mixer(srv.url, name, m, zip_for, random.Random(rnd.random()), recorder)
        mixer.start()
        time.sleep(rnd.uniform(0.05, 1.2))  # a random moment, not synchronisation
        mixer.killed.set()
        srv.kill9()
        mixer.join(30)
        ctx = f"round {i} seed {seed}"
        assert not mixer.is_alive(), f"{ctx}: the client thread hung after the kill"
        assert mixer.unexpected is None, f"{ctx}: a request failed before the kill: {mixer.unexpected!r}"
        total += mixer.acked
        integrity_check(srv.data_dir, ctx)
        srv.start()
        client = make_client(srv.url)
        referenced = verify(client, name, m, seen_versions, srv.data_dir, ctx)
        rcfg = client.get_function(FunctionName=recorder)["Configuration"]
        check_store_files(srv.data_dir, referenced | {rcfg["CodeSha256"]}, ctx)

    print(f"crash mix: {total} acknowledged requests, {len(m.versions)} versions, {len(m.created)} extra "
          f"functions, {len(m.events)} async events")
    assert total > rounds // 2, f"the mix barely ran ({total} requests in {rounds} rounds)"
    assert m.versions and m.alias is not None and m.events, "the mix did not reach every write path"

    # every accepted event runs at least once (one sent when the server died may not have been accepted)
    must = m.events
    wait_until(lambda: must <= recorded_events(srv.data_dir, recorder), timeout=120, interval=0.2,
               what=f"{len(must - recorded_events(srv.data_dir, recorder))} accepted async events to run")
    assert client.get_function(FunctionName=name)["Configuration"]["RevisionId"]

    # a graceful restart opens the same state, and the database is clean
    before = verify(client, name, m, seen_versions, srv.data_dir, "before graceful restart")
    assert srv.stop() == 0
    integrity_check(srv.data_dir, "after graceful stop")
    srv.start()
    client = make_client(srv.url)
    after = verify(client, name, m, seen_versions, srv.data_dir, "after graceful restart")
    assert after == before
    # compare-and-swap on the RevisionIds the restarted server reports
    rev = client.get_function_configuration(FunctionName=name)["RevisionId"]
    client.update_function_configuration(FunctionName=name, RevisionId=rev, Description="after the crashes")
    if m.alias is not None:
        arev = client.get_alias(FunctionName=name, Name="live")["RevisionId"]
        client.update_alias(FunctionName=name, Name="live", RevisionId=arev, Description="after the crashes")
