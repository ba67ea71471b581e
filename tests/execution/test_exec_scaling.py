"""Scale-out, the account concurrency limit, idle eviction and code/configuration updates (contract §9,
§9.1)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError

from execlib import (check_tail_frame, create_function, invoke, make_client, poll, provided_zip, update_code,
                     wait_bash_worker_idle, wait_function_ready)


def test_scale_out_runs_concurrent_invokes_in_parallel(client, server, make_fn):
    name = make_fn(provided_zip())
    barrier = threading.Barrier(8)

    def one(_):
        barrier.wait()
        return invoke(client, name, {"action": "sleep", "seconds": 1}, tail=False)

    t0 = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8)))
    wall = time.monotonic() - t0
    for r in results:
        assert r.status == 200 and r.function_error is None, r.payload
    bodies = [r.json() for r in results]
    assert all(b["slept"] == 1 for b in bodies)
    assert wall < 4.0, f"8 concurrent 1-second invokes took {wall:.2f} s"
    # Distinct environments (log streams) served them, each its own process on the host.
    streams = {b["stream"] for b in bodies}
    assert len(streams) >= 2, f"only {streams} served 8 concurrent invokes"
    host_pids = {s: server.env_pids(s) for s in streams}
    assert all(host_pids.values()), f"no host process found for some environments: {host_pids}"
    tops = {min(p) for p in host_pids.values()}
    assert len(tops) >= 2, f"only host pids {tops} served 8 concurrent invokes"
    assert not set.intersection(*(set(p) for p in host_pids.values())), host_pids
    # Every invoke has its own request id.
    assert len({r.request_id for r in results}) == 8


def test_concurrency_limit_throttles_with_429(servers):
    srv = servers.new("--concurrency", "2", name="conc2")
    c = make_client(srv.url)
    name = "throttled"
    create_function(c, name, provided_zip())
    barrier = threading.Barrier(3)

    def one(i):
        barrier.wait()
        time.sleep(0.15 * i)  # staggered so that the third arrives while two are running
        try:
            return invoke(c, name, {"action": "sleep", "seconds": 2}, tail=False)
        except ClientError as e:
            return e

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(one, range(3)))
    errors = [r for r in results if isinstance(r, ClientError)]
    ok = [r for r in results if not isinstance(r, ClientError)]
    assert len(errors) == 1, f"expected exactly one 429, got {results}"
    err = errors[0].response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert err["Error"]["Code"] == "TooManyRequestsException"
    assert err.get("Reason") == "ConcurrentInvocationLimitExceeded", err
    assert err["Error"]["Message"], err
    retry_after = {k.lower(): v for k, v in err["ResponseMetadata"]["HTTPHeaders"].items()}.get("retry-after")
    assert retry_after is not None and retry_after.isdigit(), f"429 without a Retry-After header: {err}"
    assert len(ok) == 2 and all(r.function_error is None and r.json()["slept"] == 2 for r in ok)
    # Once the slots are free again, invokes succeed.
    assert invoke(c, name, {"x": 1}, tail=False).payload == b'{"x": 1}'


def test_idle_workers_are_evicted(servers):
    srv = servers.new("--idle-ttl", "1", name="idle1")
    c = make_client(srv.url)
    name = "idle-fn"
    create_function(c, name, provided_zip())
    first = invoke(c, name, {"action": "counter"})
    stream = first.json()["stream"]
    assert srv.env_pids(stream), "the worker must be a descendant of the server while warm"
    # Within the TTL the worker is still there and serves warm.
    wait_bash_worker_idle(srv.pid, stream)
    second = invoke(c, name, {"action": "counter"})
    assert second.json()["stream"] == stream and second.json()["count"] == 2
    assert check_tail_frame(second.log, second.request_id)[1].group(6) is None
    t_done = time.monotonic()
    poll(lambda: srv.children() == [], 6, what="idle eviction to stop every worker")
    gone_after = time.monotonic() - t_done
    assert gone_after >= 0.8, f"worker evicted after {gone_after:.2f} s, before the 1 s idle TTL"
    third = invoke(c, name, {"action": "counter"})
    assert third.json()["count"] == 1, "an evicted environment's /tmp must not come back"
    assert third.json()["stream"] != stream
    _, rep = check_tail_frame(third.log, third.request_id)
    assert rep.group(6) is not None, f"the invoke after eviction must report Init Duration: {third.log}"


def test_update_code_retires_workers_without_failing_in_flight(client, make_fn, server):
    name = make_fn(provided_zip("v1"))
    v1 = invoke(client, name, {"action": "version"}, tail=False).json()
    assert v1["version"] == "v1"
    in_flight = {}

    def slow():
        in_flight["r"] = invoke(client, name, {"action": "sleep", "seconds": 3}, tail=False)

    t = threading.Thread(target=slow)
    t.start()
    try:
        poll(lambda: f"[{name}] sleeping 3" in server.output(), 10,
             what="the slow v1 invoke to start")
        update_code(client, name, provided_zip("v2"))
        during = invoke(client, name, {"action": "version"}, tail=False)
        assert during.function_error is None, during.payload
        assert during.json()["version"] == "v2", "the invoke after UpdateFunctionCode must run the new code"
        assert t.is_alive(), "the slow invoke should still be running (test timing)"
    finally:
        t.join(30)
    slow_r = in_flight["r"]
    assert slow_r.function_error is None, slow_r.payload
    assert slow_r.json()["version"] == "v1", "the in-flight invoke must finish on the old code"
    assert slow_r.json()["slept"] == 3
    after = invoke(client, name, {"action": "version"}, tail=False).json()
    assert after["version"] == "v2"
    # The v1 workers are retired (stopped), not kept around.
    old_streams = {v1["stream"], slow_r.json()["stream"]}
    assert after["stream"] not in old_streams
    poll(lambda: not any(server.env_pids(s) for s in old_streams), 10, what=f"v1 environments {old_streams} to stop")


def test_update_configuration_retires_workers(client, make_fn):
    name = make_fn(provided_zip("v1"), env={"MODE": "1"})
    first = invoke(client, name, {"action": "inspect"}, tail=False).json()
    assert first["env"]["MODE"] == "1"
    client.update_function_configuration(FunctionName=name, Environment={"Variables": {"MODE": "2", "VERSION_TAG": "cfg"}},
                                         MemorySize=256)
    wait_function_ready(client, name)
    r = invoke(client, name, {"action": "inspect"})
    seen = r.json()
    assert seen["env"]["MODE"] == "2" and seen["env"]["VERSION_TAG"] == "cfg"
    assert seen["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert seen["env"]["AWS_LAMBDA_LOG_STREAM_NAME"] != first["env"]["AWS_LAMBDA_LOG_STREAM_NAME"]
    _, rep = check_tail_frame(r.log, r.request_id, memory=256)
    assert rep.group(6) is not None, "a configuration update must start a fresh environment"
    assert invoke(client, name, {"action": "version"}, tail=False).json()["version"] == "cfg"
