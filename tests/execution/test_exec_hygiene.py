"""Resource hygiene: 1,000 mixed invokes (successes, function errors, crashes, kills, timeouts) must not leak
file descriptors or processes in the server once the workers are idle-evicted."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from execlib import create_function, invoke, make_client, poll, provided_zip

TOTAL = 1000
THREADS = 8


def _close(client):
    try:
        client.close()  # botocore >= 1.28 closes its pooled connections
    except AttributeError:
        client._endpoint.http_session.close()


def _plan():
    rnd = random.Random(20241204)
    kinds = ["timeout"] * 10 + ["exit"] * 25 + ["kill"] * 10 + ["fail"] * 120
    kinds += ["echo"] * (TOTAL - len(kinds))
    rnd.shuffle(kinds)
    return kinds


def test_no_fd_or_process_leaks_after_mixed_invokes(servers):
    srv = servers.new("--idle-ttl", "1", name="hygiene")
    warm_client = make_client(srv.url)
    create_function(warm_client, "hy-ok", provided_zip(), timeout=10)
    create_function(warm_client, "hy-slow", provided_zip(), timeout=1)
    # Warm up every code path once (workers, Runtime API listeners, log files, timeouts), then let the
    # workers be evicted and take the baseline.
    assert invoke(warm_client, "hy-ok", {"w": 1}).payload == b'{"w": 1}'
    assert invoke(warm_client, "hy-ok", {"action": "fail"}).function_error == "Unhandled"
    assert invoke(warm_client, "hy-ok", {"action": "exit", "code": 5}).json()["errorType"] == "Runtime.ExitError"
    assert invoke(warm_client, "hy-slow", {"action": "sleep", "seconds": 3}).json()["errorType"] == "Sandbox.Timedout"
    _close(warm_client)
    poll(lambda: srv.children() == [] and srv.spares_settled(), 10, what="warm-up workers to be evicted")
    time.sleep(0.3)
    base_fds = len(srv.fds())
    base_children = len(srv.children())
    assert base_children == 0

    client = make_client(srv.url)
    kinds = _plan()
    problems: list[str] = []
    counts: Counter = Counter()
    lock = threading.Lock()
    t0 = time.monotonic()

    def run(i_kind):
        i, kind = i_kind
        try:
            if kind == "timeout":
                r = invoke(client, "hy-slow", {"action": "sleep", "seconds": 3, "i": i}, tail=False)
                ok = r.function_error == "Unhandled" and r.json()["errorType"] == "Sandbox.Timedout"
            elif kind == "exit":
                r = invoke(client, "hy-ok", {"action": "exit", "code": 3, "i": i}, tail=False)
                ok = r.json() == {"errorType": "Runtime.ExitError", "errorMessage":
                                  f"RequestId: {r.request_id} Error: Runtime exited with error: exit status 3"}
            elif kind == "kill":
                r = invoke(client, "hy-ok", {"action": "kill", "i": i}, tail=False)
                ok = r.json() == {"errorType": "Runtime.ExitError", "errorMessage":
                                  f"RequestId: {r.request_id} Error: Runtime exited with error: signal: killed"}
            elif kind == "fail":
                r = invoke(client, "hy-ok", {"action": "fail", "i": i}, tail=(i % 2 == 0))
                ok = r.function_error == "Unhandled" and \
                    r.payload == b'{"errorType":"ShellError","errorMessage":"failed on purpose"}'
            else:
                payload = f'{{"i": {i}, "s": "héllo ✓ {i}"}}'.encode()
                r = invoke(client, "hy-ok", raw=payload, tail=(i % 3 == 0))
                ok = r.status == 200 and r.function_error is None and r.payload == payload
            if not ok:
                with lock:
                    problems.append(f"#{i} {kind}: {r.status} {r.function_error} {r.payload[:200]!r}")
        except Exception as e:  # noqa: BLE001 - every failure is collected and reported
            with lock:
                problems.append(f"#{i} {kind}: {type(e).__name__}: {e}")
        with lock:
            counts[kind] += 1

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(run, enumerate(kinds)))
    elapsed = time.monotonic() - t0
    assert sum(counts.values()) == TOTAL
    assert not problems, f"{len(problems)} of {TOTAL} invokes went wrong in {elapsed:.1f} s:\n" + "\n".join(problems[:30])

    _close(client)
    # All workers go away after the idle TTL, and the server is back to its baseline.
    poll(lambda: srv.children() == [] and srv.spares_settled(), 15, what="all workers to be evicted after the run")

    def back_to_baseline():
        return len(srv.fds()) <= base_fds

    try:
        poll(back_to_baseline, 10, what="fds back to baseline")
    except AssertionError:
        fds = srv.fds()
        kinds_of = Counter(f.split(":")[0] if ":" in f else ("file " + f) for f in fds)
        raise AssertionError(f"server has {len(fds)} open fds after the run, {base_fds} before: {dict(kinds_of)}")
    assert srv.children() == []
    assert srv.alive()
