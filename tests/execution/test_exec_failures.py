"""Failure semantics of Invoke (contract §4.1-4.2, §5.3, §9.1 rule 5): timeouts, runtime exits, missing
bootstraps, oversized payloads and responses, and the other invocation types."""

from __future__ import annotations

import json
import re
import time

import pytest
from botocore.exceptions import ClientError

from execlib import (UUID_RE, check_tail_frame, curl_invoke, invoke, make_zip, poll, provided_zip,
                     wait_bash_worker_idle)


def _platform_error(r, error_type: str, message: str):
    assert r.status == 200, r.status
    assert r.function_error == "Unhandled", r.headers
    assert r.headers.get("x-amz-function-error") == "Unhandled"
    assert r.headers.get("x-amz-executed-version") == "$LATEST"
    body = r.json()
    assert body == {"errorType": error_type, "errorMessage": message}, body


def test_timeout_returns_sandbox_timedout_and_next_invoke_is_cold(client, server, make_fn):
    name = make_fn(provided_zip(), timeout=1)
    warm = invoke(client, name, {"action": "counter"}).json()
    assert warm["count"] == 1
    stream = warm["stream"]
    wait_bash_worker_idle(server.pid, stream)
    t0 = time.monotonic()
    r = invoke(client, name, {"action": "sleep", "seconds": 5})
    elapsed = time.monotonic() - t0
    rid = r.request_id
    assert re.fullmatch(UUID_RE, rid)
    _platform_error(r, "Sandbox.Timedout", f"RequestId: {rid} Error: Task timed out after 1.00 seconds")
    assert 0.9 <= elapsed < 3.5, f"the timeout answer took {elapsed:.2f} s for Timeout=1"
    # The tail still has START … REPORT for the timed-out request, with the timeout line (§7) and
    # `Status: timeout` in REPORT.
    inner, rep = check_tail_frame(r.log, rid)
    assert f"sleeping 5 in {stream}" in inner, "the warm environment should have served the slow invoke"
    assert any(re.fullmatch(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z {rid} Task timed out after 1\.00 seconds", ln)
               for ln in inner), r.log
    assert rep.group(7) == "timeout", r.log
    assert 1000 <= float(rep.group(2)) < 2500, rep.group(2)
    # The environment is destroyed: its processes are gone and the next invoke is a cold start with a fresh /tmp.
    poll(lambda: server.env_pids(stream) == [], 5, what="the timed-out environment's processes to be killed")
    nxt = invoke(client, name, {"action": "counter"})
    assert nxt.status == 200 and nxt.function_error is None, nxt.payload
    assert nxt.json()["count"] == 1, "after a timeout /tmp must be fresh (new environment)"
    assert nxt.json()["stream"] != stream
    _, rep = check_tail_frame(nxt.log, nxt.request_id)
    assert rep.group(6) is not None, f"the invoke after a timeout must be a cold start: {nxt.log}"


def test_timeout_counts_from_each_invocations_own_start(client, server, make_fn):
    # A worker keeps one timeout timer, set for the first invocation's deadline and moved on lazily: an
    # invocation that starts later must still get its whole Timeout, not the rest of an earlier one's.
    name = make_fn(provided_zip(), timeout=1)
    warm = invoke(client, name, {"action": "counter"}).json()
    wait_bash_worker_idle(server.pid, warm["stream"])
    time.sleep(0.6)  # the earlier invocation's deadline passes while the slow one below runs
    t0 = time.monotonic()
    r = invoke(client, name, {"action": "sleep", "seconds": 5})
    elapsed = time.monotonic() - t0
    _platform_error(r, "Sandbox.Timedout", f"RequestId: {r.request_id} Error: Task timed out after 1.00 seconds")
    _, rep = check_tail_frame(r.log, r.request_id)
    assert 1000 <= float(rep.group(2)) < 2500, f"Duration {rep.group(2)} ms for Timeout=1: {r.log}"
    assert 0.95 <= elapsed < 3.5, f"the timeout answer took {elapsed:.2f} s for Timeout=1"


def test_timeout_message_uses_configured_seconds(client, make_fn):
    name = make_fn(provided_zip(), timeout=2)
    r = invoke(client, name, {"action": "sleep", "seconds": 6}, tail=False)
    _platform_error(r, "Sandbox.Timedout", f"RequestId: {r.request_id} Error: Task timed out after 2.00 seconds")


def test_runtime_exit_during_invoke(client, server, make_fn):
    name = make_fn(provided_zip())
    before = invoke(client, name, {"action": "counter"}).json()
    wait_bash_worker_idle(server.pid, before["stream"])
    r = invoke(client, name, {"action": "exit", "code": 3})
    _platform_error(r, "Runtime.ExitError",
                    f"RequestId: {r.request_id} Error: Runtime exited with error: exit status 3")
    inner, rep = check_tail_frame(r.log, r.request_id)
    assert "exiting with 3" in inner
    assert (rep.group(7), rep.group(8)) == ("error", "Runtime.ExitError"), r.log
    poll(lambda: server.env_pids(before["stream"]) == [], 5, what="the crashed environment to be gone")
    nxt = invoke(client, name, {"action": "counter"})
    assert nxt.status == 200 and nxt.function_error is None
    assert nxt.json()["count"] == 1 and nxt.json()["stream"] != before["stream"]
    assert check_tail_frame(nxt.log, nxt.request_id)[1].group(6) is not None


def test_runtime_exit_zero_without_response(client, make_fn):
    name = make_fn(provided_zip())
    r = invoke(client, name, {"action": "exit", "code": 0}, tail=False)
    _platform_error(r, "Runtime.ExitError",
                    f"RequestId: {r.request_id} Error: Runtime exited without providing a reason")
    assert invoke(client, name, {"ok": 1}, tail=False).payload == b'{"ok": 1}'


def test_runtime_killed_by_signal(client, make_fn):
    name = make_fn(provided_zip())
    r = invoke(client, name, {"action": "kill"}, tail=False)
    _platform_error(r, "Runtime.ExitError",
                    f"RequestId: {r.request_id} Error: Runtime exited with error: signal: killed")
    assert invoke(client, name, {"ok": 2}, tail=False).payload == b'{"ok": 2}'


def test_missing_bootstrap(client, make_fn):
    name = make_fn(provided_zip(bootstrap=None))
    r = invoke(client, name, {"a": 1})
    _platform_error(r, "Runtime.ExitError",
                    f"RequestId: {r.request_id} Error: Runtime exited with error: exit status 127")
    # Stays broken, but answers every time (no hang, no 5xx).
    r = invoke(client, name, {"a": 1}, tail=False)
    assert r.json()["errorType"] == "Runtime.ExitError"


def test_bootstrap_not_executable(client, make_fn):
    name = make_fn(provided_zip(bootstrap_mode=0o644))
    r = invoke(client, name, {"a": 1}, tail=False)
    assert r.status == 200 and r.function_error == "Unhandled"
    body = r.json()
    assert body["errorType"] == "Runtime.ExitError", body
    assert re.fullmatch(rf"RequestId: {r.request_id} Error: Runtime exited with error: exit status 12[67]",
                        body["errorMessage"]), body


def test_bootstrap_fixed_by_update_function_code(client, make_fn):
    from execlib import update_code
    name = make_fn(provided_zip(bootstrap=None))
    assert invoke(client, name, {"a": 1}, tail=False).json()["errorType"] == "Runtime.ExitError"
    update_code(client, name, provided_zip())
    assert invoke(client, name, {"a": 1}, tail=False).payload == b'{"a": 1}'


def test_function_error_via_runtime_api(client, server, make_fn):
    name = make_fn(provided_zip())
    a = invoke(client, name, {"action": "counter"}).json()
    assert a["count"] == 1
    wait_bash_worker_idle(server.pid, a["stream"])
    r = invoke(client, name, {"action": "fail"})
    assert r.status == 200 and r.function_error == "Unhandled"
    assert r.payload == b'{"errorType":"ShellError","errorMessage":"failed on purpose"}'
    inner, rep = check_tail_frame(r.log, r.request_id)
    assert "failing on purpose" in inner
    assert rep.group(6) is None, "the function error ran in the warm environment"
    # A function error keeps the environment warm (§9.1 rule 5): same environment, same /tmp.
    wait_bash_worker_idle(server.pid, a["stream"])
    b = invoke(client, name, {"action": "counter"}).json()
    assert b["count"] == 2 and b["stream"] == a["stream"]


def test_response_too_large(client, make_fn):
    name = make_fn(provided_zip())
    r = invoke(client, name, {"action": "big", "bytes": 7 * 1024 * 1024})
    assert r.status == 200 and r.function_error == "Unhandled", (r.status, r.headers)
    assert r.json() == {"errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
                        "errorType": "Function.ResponseSizeTooLarge"}
    # Just under the limit works: 6291556 bytes including the two quotes.
    ok = invoke(client, name, {"action": "big", "bytes": 6291556 - 2}, tail=False)
    assert ok.function_error is None and len(ok.payload) == 6291556
    assert invoke(client, name, {"x": 1}, tail=False).payload == b'{"x": 1}'


def test_large_request_and_response_within_limits(client, server, make_fn):
    # 5 MB each way is inside the 6 MB limits (§2.3): exact bytes through Invoke and the Runtime API.
    name = make_fn(provided_zip())
    big = b'{"pad": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    r = invoke(client, name, raw=big, tail=False)
    assert r.status == 200 and r.function_error is None, r.payload[:300]
    assert r.payload == big
    r = invoke(client, name, {"action": "big", "bytes": 5 * 1024 * 1024}, tail=False)
    assert r.function_error is None, r.payload[:300]
    assert r.payload == b'"' + b"a" * (5 * 1024 * 1024) + b'"'


def test_request_payload_too_large(client, server, make_fn):
    name = make_fn(provided_zip())
    big = b'"' + b"a" * (6 * 1024 * 1024 + 1000) + b'"'
    with pytest.raises(ClientError) as e:
        invoke(client, name, raw=big, tail=False)
    err = e.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert err["Error"]["Code"] in ("RequestEntityTooLargeException", "RequestTooLargeException"), err
    assert err["Error"]["Message"], err
    c = curl_invoke(server, name, big)
    assert c.status == 413
    assert c.headers.get("x-amzn-errortype", "").split(":")[0] == "RequestEntityTooLargeException"
    # The function never ran.
    assert not any(ln.startswith("START ") for ln in server.log_lines(name))


def test_dry_run(client, server, make_fn):
    name = make_fn(provided_zip())
    r = client.invoke(FunctionName=name, InvocationType="DryRun", Payload=b'{"a":1}')
    assert r["StatusCode"] == 204
    assert r["Payload"].read() == b""
    assert "FunctionError" not in r
    time.sleep(0.3)  # nothing may start; give a wrongly started worker a moment to show up
    assert f"[{name}] INIT_START" not in server.output()
    assert server.log_files(name) == []
    with pytest.raises(ClientError) as e:
        client.invoke(FunctionName="no-such-function-dry", InvocationType="DryRun")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def _event_ran(server, name: str) -> list[tuple[str, dict]]:
    """(request id, event) of every `EVENT-RAN` line the function logged (live server output, `[name] …`)."""
    out = []
    for m in re.finditer(rf"\[{re.escape(name)}\] EVENT-RAN ({UUID_RE}) (.*)$", server.output(), re.M):
        out.append((m.group(1), json.loads(m.group(2))))
    return out


def test_event_invocation_runs_later(client, server, make_fn):
    name = make_fn(provided_zip())
    event = {"action": "mark", "n": 1}
    t0 = time.monotonic()
    r = client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event).encode())
    assert r["StatusCode"] == 202
    assert r["Payload"].read() == b""
    headers = {k.lower(): v for k, v in r["ResponseMetadata"]["HTTPHeaders"].items()}
    rid = headers.get("x-amzn-requestid", "")
    assert re.fullmatch(UUID_RE, rid), headers
    assert "x-amz-executed-version" not in headers
    assert "x-amz-function-error" not in headers
    assert time.monotonic() - t0 < 2, "Event invokes must not wait for the function"
    got = poll(lambda: _event_ran(server, name), 20, what="the async invocation to run")
    assert got == [(rid, event)], "the async invocation must run once, with the request id from x-amzn-RequestId"
    # The platform lines of that invocation are logged too.
    poll(lambda: f"[{name}] REPORT RequestId: {rid}\t" in server.output(), 10, what="its REPORT line")
    # It ran exactly once (a success is not retried).
    time.sleep(1)
    assert len(_event_ran(server, name)) == 1


def test_event_invocation_via_curl_and_cli(server, client, make_fn, aws_cli_path):
    from execlib import aws_cli
    name = make_fn(provided_zip())
    c = curl_invoke(server, name, json.dumps({"action": "mark", "n": 1}), extra=["-H", "X-Amz-Invocation-Type: Event"])
    assert c.status == 202 and c.body == b""
    r = aws_cli(server.url, "lambda", "invoke", "--function-name", name, "--invocation-type", "Event",
                "--cli-binary-format", "raw-in-base64-out", "--payload", json.dumps({"action": "mark", "n": 2}),
                "/dev/null")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["StatusCode"] == 202
    got = poll(lambda: len(_event_ran(server, name)) >= 2 and _event_ran(server, name), 20,
               what="both async invocations to run")
    assert sorted(ev["n"] for _, ev in got) == [1, 2]
    assert c.headers["x-amzn-requestid"] in {rid for rid, _ in got}


def test_unknown_function_is_404(client, server):
    with pytest.raises(ClientError) as e:
        invoke(client, "no-such-function-exec", {"a": 1})
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["Error"]["Message"] == \
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:no-such-function-exec"


def test_bad_zip_layout_bootstrap_in_subdir(client, make_fn):
    # A bootstrap that is not at the ZIP's root is not found: exit status 127, like a missing one.
    zip_bytes = make_zip({"sub/bootstrap": ("#!/bin/sh\nexit 0\n", 0o755)})
    name = make_fn(zip_bytes)
    r = invoke(client, name, {}, tail=False)
    assert r.json() == {"errorType": "Runtime.ExitError",
                        "errorMessage": f"RequestId: {r.request_id} Error: Runtime exited with error: exit status 127"}
