"""Concurrent control-plane requests: RevisionId guards, duplicate creates, parallel load."""

from __future__ import annotations

import threading

from botocore.exceptions import ClientError

from lambent_testlib import (assert_error, b64sha256, create_function, list_names, make_client,
                             python_zip, unique_name, wait_updated)

ROUNDS = 8


def race(url: str, calls):
    """Run each callable(client) in its own thread, released together; return results/errors."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    clients = [make_client(url) for _ in calls]

    def worker(i):
        barrier.wait(10)
        try:
            results[i] = ("ok", calls[i](clients[i]))
        except ClientError as e:
            results[i] = ("error", e)
        except BaseException as e:  # noqa: BLE001
            results[i] = ("crash", e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
        assert not t.is_alive(), "request thread hung"
    for kind, val in results:
        assert kind != "crash", f"unexpected exception: {val!r}"
    return results


def assert_one_winner(results):
    oks = [i for i, (kind, _) in enumerate(results) if kind == "ok"]
    assert len(oks) == 1, f"expected exactly one success, got {results}"
    for kind, val in results:
        if kind == "error":
            code = val.response["Error"]["Code"]
            assert code in ("PreconditionFailedException", "ResourceConflictException"), code
            assert_error(val, code, 412 if code == "PreconditionFailedException" else 409)
    return oks[0]


def test_concurrent_config_updates_with_same_revision(server, client):
    name = unique_name("race-cfg")
    create_function(client, name)
    for r in range(ROUNDS):
        rev = wait_updated(client, name)["RevisionId"]
        descs = [f"round-{r}-a", f"round-{r}-b"]
        results = race(server.url, [
            (lambda c, d=d: c.update_function_configuration(FunctionName=name, Description=d,
                                                            RevisionId=rev)) for d in descs])
        winner = assert_one_winner(results)
        final = wait_updated(client, name)
        assert final["Description"] == descs[winner]
        assert final["RevisionId"] != rev


def test_concurrent_code_updates_with_same_revision(server, client):
    name = unique_name("race-code")
    create_function(client, name)
    for r in range(ROUNDS):
        rev = wait_updated(client, name)["RevisionId"]
        zips = [python_zip(f"race-{r}-a"), python_zip(f"race-{r}-b")]
        results = race(server.url, [
            (lambda c, z=z: c.update_function_code(FunctionName=name, ZipFile=z, RevisionId=rev))
            for z in zips])
        winner = assert_one_winner(results)
        final = wait_updated(client, name)
        assert final["CodeSha256"] == b64sha256(zips[winner])


def test_concurrent_code_and_config_with_same_revision(server, client):
    name = unique_name("race-mixed")
    create_function(client, name, python_zip("mixed-0"))
    for r in range(ROUNDS):
        before = wait_updated(client, name)
        rev = before["RevisionId"]
        z = python_zip(f"mixed-{r + 1}")
        results = race(server.url, [
            lambda c: c.update_function_code(FunctionName=name, ZipFile=z, RevisionId=rev),
            lambda c: c.update_function_configuration(FunctionName=name, Description=f"m{r}",
                                                      RevisionId=rev)])
        winner = assert_one_winner(results)
        final = wait_updated(client, name)
        if winner == 0:
            assert final["CodeSha256"] == b64sha256(z)
            assert final["Description"] == before["Description"]
        else:
            assert final["Description"] == f"m{r}"
            assert final["CodeSha256"] == before["CodeSha256"]


def test_concurrent_creates_of_the_same_name(server, client):
    for r in range(4):
        name = unique_name("race-create")
        zips = [python_zip(f"{name}-{i}") for i in range(4)]
        results = race(server.url, [
            (lambda c, z=z: create_function(c, name, z)) for z in zips])
        oks = [i for i, (kind, _) in enumerate(results) if kind == "ok"]
        assert len(oks) == 1, results
        for kind, val in results:
            if kind == "error":
                assert_error(val, "ResourceConflictException", 409, f"Function already exist: {name}")
        cfg = wait_updated(client, name)
        assert cfg["CodeSha256"] == b64sha256(zips[oks[0]])


def test_parallel_creates_and_reads(server, client):
    prefix = unique_name("par")
    per_thread, threads = 5, 8
    errors: list = []

    def work(t):
        c = make_client(server.url)
        try:
            for i in range(per_thread):
                n = f"{prefix}-{t}-{i}"
                z = python_zip(n)
                res = create_function(c, n, z)
                assert res["CodeSha256"] == b64sha256(z)
                assert c.get_function_configuration(FunctionName=n)["CodeSha256"] == b64sha256(z)
                c.list_functions(MaxItems=5)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not errors, errors
    mine = [n for n in list_names(client) if n.startswith(prefix + "-")]
    assert len(mine) == per_thread * threads
