"""A `provided.al2023` function with a bash + curl bootstrap: what the function sees and what the caller gets
(contract §4.1-4.3, §5.2, §6.1-6.2, §7)."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from execlib import (ACCOUNT, REGION, STREAM_RE, UUID_RE, aws_cli, check_tail_frame, curl_invoke, invoke,
                     log_lines, provided_zip)

TRACE_RE = re.compile(r"^Root=1-([0-9a-f]{8})-[0-9a-f]{24}(;Parent=[0-9a-f]{16})?(;Sampled=[01])?(;Lineage=[^;]+)?$")


@pytest.fixture(scope="module")
def echo_fn(client):
    from execlib import create_function
    name = "prov-echo"
    create_function(client, name, provided_zip(), timeout=7, memory=256,
                    env={"MY_VAR": "hello world", "UNICODE_VAR": "héllo ✓ 日本", "EMPTYISH": " "})
    return name


def test_echo_returns_exact_bytes_and_headers(client, echo_fn):
    payload = '{"b": [1, 2 ,3],\n  "s": "héllo ✓ 日本", "n": null}'.encode()
    r = invoke(client, echo_fn, raw=payload)
    assert r.status == 200
    assert r.payload == payload
    assert r.function_error is None
    assert "x-amz-function-error" not in r.headers
    assert r.headers.get("x-amz-executed-version") == "$LATEST"
    assert re.fullmatch(UUID_RE, r.request_id), r.headers
    assert r.log is not None and "x-amz-log-result" in r.headers


def test_response_content_type_is_application_json(client, echo_fn):
    # §4.2: buffered invokes answer Content-Type: application/json. The bash runtime posts its response
    # with curl's default Content-Type (application/x-www-form-urlencoded); that must not leak through.
    r = invoke(client, echo_fn, {"ct": 1}, tail=False)
    assert r.payload == b'{"ct": 1}'
    assert r.headers.get("content-type") == "application/json", r.headers


def test_runtime_api_headers_seen_by_the_function(client, echo_fn):
    before_ms = int(time.time() * 1000)
    r = invoke(client, echo_fn, {"action": "inspect"})
    after_ms = int(time.time() * 1000)
    assert r.status == 200 and r.function_error is None, r.payload
    seen = r.json()
    # Lambda-Runtime-Aws-Request-Id: a lowercase UUID, the same one the caller got in x-amzn-RequestId.
    assert re.fullmatch(UUID_RE, seen["request_id"]), seen["request_id"]
    assert seen["request_id"] == r.request_id
    # Lambda-Runtime-Deadline-Ms: epoch ms = invoke time + Timeout (7 s).
    deadline = int(seen["deadline_ms"])
    assert before_ms + 7000 - 1000 <= deadline <= after_ms + 7000 + 50, (before_ms, deadline, after_ms)
    assert deadline > seen["now_ms"]
    # Unqualified invoke of $LATEST -> unqualified ARN.
    assert seen["arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{echo_fn}"
    m = TRACE_RE.match(seen["trace"])
    assert m, f"Lambda-Runtime-Trace-Id {seen['trace']!r} is not Root=1-<8 hex>-<24 hex>[;Parent=…][;Sampled=…]"
    assert abs(int(m.group(1), 16) - before_ms // 1000) <= 5, "trace root epoch seconds are not now"
    # No client context / cognito identity unless the caller sent them (headers with empty values omitted).
    assert seen["client_context"] == ""
    assert seen["cognito"] == ""
    # The event itself.
    assert json.loads(seen["event"]) == {"action": "inspect"}


def test_client_context_is_passed_decoded(client, echo_fn):
    ctx = {"client": {"installation_id": "inst-1", "app_title": "Tést"}, "custom": {"k": "v"}, "env": {"platform": "linux"}}
    r = invoke(client, echo_fn, {"action": "inspect"},
               ClientContext=base64.b64encode(json.dumps(ctx).encode()).decode())
    assert r.status == 200 and r.function_error is None, r.payload
    seen = r.json()
    assert json.loads(seen["client_context"]) == ctx


def test_environment_variables(client, echo_fn, server):
    r = invoke(client, echo_fn, {"action": "inspect"})
    env = r.json()["env"]
    expected = {
        "AWS_LAMBDA_FUNCTION_NAME": echo_fn,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{echo_fn}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "_HANDLER": "handler.handle",
        "MY_VAR": "hello world",
        "UNICODE_VAR": "héllo ✓ 日本",
        "EMPTYISH": " ",
    }
    for k, v in expected.items():
        assert env.get(k) == v, f"{k}={env.get(k)!r}, expected {v!r}"
    assert re.fullmatch(STREAM_RE, env["AWS_LAMBDA_LOG_STREAM_NAME"]), env["AWS_LAMBDA_LOG_STREAM_NAME"]
    # The stream's date is the environment's start date (UTC).
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"][:10] == time.strftime("%Y/%m/%d", time.gmtime())
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["AWS_LAMBDA_RUNTIME_API"]), env["AWS_LAMBDA_RUNTIME_API"]
    assert env["AWS_LAMBDA_RUNTIME_API"] != server.host, "the worker's Runtime API is not the Invoke listener"
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        assert env.get(k), f"{k} must be set to some value"


def test_filesystem_task_root_read_only_tmp_writable(client, echo_fn):
    seen = invoke(client, echo_fn, {"action": "inspect"}).json()
    assert seen["cwd"] == "/var/task"
    assert seen["code_present"] is True, "bootstrap/handler.sh not found in /var/task"
    assert seen["task_writable"] is False, "/var/task must be read-only"
    assert seen["tmp_writable"] is True, "/tmp must be writable"


def test_warm_reuse_keeps_process_and_tmp(client, make_fn):
    name = make_fn(provided_zip())
    first = invoke(client, name, {"action": "counter"})
    second = invoke(client, name, {"action": "counter"})
    a, b = first.json(), second.json()
    assert (a["count"], b["count"]) == (1, 2), "the /tmp counter must survive between warm invokes"
    assert a["stream"] == b["stream"], "the same environment must serve the second invoke"
    assert a["pid"] == b["pid"], "the same process must serve the second invoke"
    _, rep1 = check_tail_frame(first.log, first.request_id)
    _, rep2 = check_tail_frame(second.log, second.request_id)
    assert rep1.group(6) is not None, f"first invoke must report Init Duration: {first.log}"
    assert rep2.group(6) is None, f"warm invoke must not report Init Duration: {second.log}"


def test_tail_log_has_start_output_end_report(client, make_fn, server):
    name = make_fn(provided_zip(), memory=192)
    r1 = invoke(client, name, {"action": "log"})
    r2 = invoke(client, name, {"action": "log"})
    reports = []
    for r in (r1, r2):
        assert r.status == 200 and r.payload == b'{"logged":true,"version":"v1"}'
        inner, rep = check_tail_frame(r.log, r.request_id, memory=192)
        assert inner == ["LOG-LINE-1 to stderr", "LOG-LINE-2 to stderr ✓"], r.log
        assert int(rep.group(5)) >= 1, "Max Memory Used must be a positive number of MB"
        reports.append(rep)
    assert reports[0].group(6) is not None and float(reports[0].group(6)) > 0, r1.log
    assert reports[1].group(6) is None, r2.log
    # --log-level debug echoes function lines as `[name] line` in the server's own output.
    assert f"[{name}] LOG-LINE-1 to stderr" in server.output()


def test_sequential_invokes_use_one_environment(client, make_fn, server):
    # Back-to-back invokes from one caller never overlap, so one warm environment serves them all;
    # no extra worker may be started (one log stream, one INIT_START).
    name = make_fn(provided_zip())
    results = [invoke(client, name, {"action": "counter"}).json() for _ in range(6)]
    assert [r["count"] for r in results] == [1, 2, 3, 4, 5, 6]
    assert len({r["stream"] for r in results}) == 1
    spawned = server.output().count(f"[{name}] INIT_START ")
    assert spawned == 1, f"{spawned} environments were started for 6 sequential invokes"
    assert len(server.log_files(name)) == 1, server.log_files(name)


def test_function_log_file(servers):
    """DATA_DIR/logs/<function>/<stream>.log holds `<epoch ms>\t<line>` lines: INIT_START, the init output,
    START, the function's lines, END, REPORT. They must be there while the server runs (§7: logs are
    stored so they can be served), not only after shutdown."""
    from execlib import create_function, make_client, poll
    srv = servers.new(name="logfile")
    c = make_client(srv.url)
    name = "logfile-fn"
    create_function(c, name, provided_zip())
    r1 = invoke(c, name, {"action": "log"})
    r2 = invoke(c, name, {"action": "log"})
    report2 = f"REPORT RequestId: {r2.request_id}\t"
    written_live = True
    try:
        poll(lambda: any(ln.startswith(report2) for ln in srv.log_lines(name)), 5, what="the REPORT line in the log file")
    except AssertionError:
        written_live = False
    srv.stop()
    files = srv.log_files(name)
    assert files, "no log file"
    lines = srv.log_lines(name)
    start1 = f"START RequestId: {r1.request_id} Version: $LATEST"
    assert start1 in lines, lines
    stream_file = [f for f in files if start1 in f.read_text()][0]
    raw = stream_file.read_text().splitlines()
    stamped = [ln for ln in raw if re.match(r"^\d{13}\t", ln)]
    assert len(stamped) >= 8, raw
    now_ms = time.time() * 1000
    assert all(now_ms - 120_000 < int(ln[:13]) <= now_ms + 1000 for ln in stamped)
    assert [int(ln[:13]) for ln in stamped] == sorted(int(ln[:13]) for ln in stamped)
    body = [ln.split("\t", 1)[1] for ln in stamped]
    assert re.match(r"^INIT_START Runtime Version: \S+\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}$",
                    body[0]), body[0]
    i = body.index(start1)
    assert any(ln.startswith("init pid=") for ln in body[1:i]), body
    assert body[i:i + 4] == [start1, "LOG-LINE-1 to stderr", "LOG-LINE-2 to stderr ✓", f"END RequestId: {r1.request_id}"]
    assert body[i + 4].startswith(f"REPORT RequestId: {r1.request_id}\t")
    assert written_live, ("the log file did not contain the lines within 5 s of the invoke; they appeared "
                          "only after the server stopped (log lines are buffered)")


def test_tail_is_the_last_4kb(client, make_fn):
    # 200 lines of ~110 bytes: X-Amz-Log-Result is the last 4096 bytes, cut from the front (§4.3).
    name = make_fn(provided_zip())
    r = invoke(client, name, {"action": "spam", "lines": 200})
    assert r.payload == b'{"spammed":200}'
    raw = base64.b64decode(r.headers["x-amz-log-result"])
    assert len(raw) == 4096, len(raw)
    tail = raw.decode()
    lines = log_lines(tail)
    assert lines[-2] == f"END RequestId: {r.request_id}"
    assert lines[-1].startswith(f"REPORT RequestId: {r.request_id}\t")
    assert lines[-3].startswith("spam 00199 ")
    assert "START RequestId" not in tail and "spam 00000 " not in tail


def test_aws_cli_invoke_with_tail(server, client, echo_fn, aws_cli_path, tmp_path):
    out = tmp_path / "out.json"
    r = aws_cli(server.url, "lambda", "invoke", "--function-name", echo_fn, "--cli-binary-format",
                "raw-in-base64-out", "--payload", '{"hello": "cli ✓"}', "--log-type", "Tail", str(out))
    assert r.returncode == 0, r.stderr
    meta = json.loads(r.stdout)
    assert meta["StatusCode"] == 200
    assert meta["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in meta
    assert out.read_bytes() == '{"hello": "cli ✓"}'.encode()
    tail = base64.b64decode(meta["LogResult"]).decode()
    lines = log_lines(tail)
    assert re.fullmatch(rf"START RequestId: {UUID_RE} Version: \$LATEST", lines[0]), lines
    assert lines[-1].startswith("REPORT RequestId: "), lines

    # A function error through the CLI: exit 0, FunctionError in the metadata, error body in the file.
    r = aws_cli(server.url, "lambda", "invoke", "--function-name", echo_fn, "--cli-binary-format",
                "raw-in-base64-out", "--payload", '{"action": "fail"}', str(out))
    assert r.returncode == 0, r.stderr
    meta = json.loads(r.stdout)
    assert meta["StatusCode"] == 200 and meta["FunctionError"] == "Unhandled", meta
    assert json.loads(out.read_bytes()) == {"errorType": "ShellError", "errorMessage": "failed on purpose"}


def test_curl_invoke(server, echo_fn):
    # Literally `curl -s -XPOST http://HOST/2015-03-31/functions/NAME/invocations -d '{...}'` (curl then sends
    # Content-Type: application/x-www-form-urlencoded, which Invoke ignores).
    out = subprocess.run(["curl", "-s", "-XPOST", f"http://{server.host}/2015-03-31/functions/{echo_fn}/invocations",
                          "-d", '{"plain": "curl -d"}'], capture_output=True, timeout=60)
    assert out.returncode == 0 and out.stdout == b'{"plain": "curl -d"}', out

    r = curl_invoke(server, echo_fn, '{"via": "curl", "u": "日本"}')
    assert r.status == 200
    assert r.body == '{"via": "curl", "u": "日本"}'.encode()
    assert r.headers["x-amz-executed-version"] == "$LATEST"
    assert re.fullmatch(UUID_RE, r.headers["x-amzn-requestid"])
    assert "x-amz-function-error" not in r.headers
    assert "x-amz-log-result" not in r.headers, "no tail unless X-Amz-Log-Type: Tail"

    # Tail via the raw header.
    r = curl_invoke(server, echo_fn, '{"action":"log"}', extra=["-H", "X-Amz-Log-Type: Tail"])
    assert r.status == 200
    tail = base64.b64decode(r.headers["x-amz-log-result"]).decode()
    assert f"START RequestId: {r.headers['x-amzn-requestid']} Version: $LATEST" in tail
    assert "LOG-LINE-2 to stderr ✓" in tail


def test_empty_payload_delivers_empty_object(client, server, echo_fn):
    r = invoke(client, echo_fn, raw=b"")
    assert r.status == 200 and r.payload == b"{}", r.payload
    r = invoke(client, echo_fn)  # boto3 without Payload
    assert r.payload == b"{}"
    c = curl_invoke(server, echo_fn, None)  # curl -XPOST without a body
    assert c.status == 200 and c.body == b"{}", c


@pytest.mark.parametrize("payload", [b'"just a string"', b"42", b"null", b"[1,2,3]", b"true"])
def test_any_json_value_is_a_valid_payload(client, echo_fn, payload):
    r = invoke(client, echo_fn, raw=payload, tail=False)
    assert r.status == 200 and r.payload == payload


def test_non_json_payload_is_rejected_400(client, server, echo_fn):
    with pytest.raises(ClientError) as e:
        invoke(client, echo_fn, raw=b"this is {not json")
    err = e.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err["Error"]["Code"] == "InvalidRequestContentException"
    assert err["Error"]["Message"].startswith("Could not parse request body into json: Could not parse payload into json"), err
    c = curl_invoke(server, echo_fn, "{'single': 'quotes'}")
    assert c.status == 400
    assert c.headers.get("x-amzn-errortype", "").split(":")[0] == "InvalidRequestContentException"
    assert json.loads(c.body)["message"].startswith("Could not parse request body into json")


def test_invalid_client_context_is_rejected(client, echo_fn):
    with pytest.raises(ClientError) as e:
        invoke(client, echo_fn, {"a": 1}, ClientContext="!!!not base64!!!")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert e.value.response["Error"]["Code"] == "InvalidRequestContentException"
