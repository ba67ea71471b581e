"""Fault injection (#8 item 4): the admin API /_lambent/faults and `lambent fault`, each fault kind seen
through boto3 exactly as AWS reports it, count/rate semantics, qualifiers, async retries and destinations,
function URLs, metrics."""
import base64
import json
import re
import subprocess
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError

from lambent_testlib import (create_function, function_arn, make_client, make_zip, sink_records, unique_name,
                             wait_until)

ECHO = ("import json\n\ndef handler(event, context):\n"
        "    print('EVENT ' + json.dumps(event))\n    return event\n")
NODE_ECHO = "exports.handler = async (event) => event;\n"


@pytest.fixture(scope="module")
def srv(module_factory):
    return module_factory.new("faults", extra_args=["--async-retry-delay", "0.2"])


def admin(srv, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(srv.url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, dict(r.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, dict(e.headers), json.loads(raw) if raw else None


def set_fault(srv, function, **body):
    status, _, out = admin(srv, "PUT", f"/_lambent/faults/{function}", body)
    assert status == 200, out
    return out


def list_faults(srv):
    status, _, out = admin(srv, "GET", "/_lambent/faults")
    assert status == 200
    return out["Faults"]


def faults_of(srv, function):
    return [f for f in list_faults(srv) if f["FunctionName"] == function]


def invoke(c, name, **kw):
    res = c.invoke(FunctionName=name, Payload=b'{"k": 1}', LogType="Tail", **kw)
    payload = res["Payload"].read()
    log = base64.b64decode(res.get("LogResult", "")).decode(errors="replace")
    return res, payload, log


def new_function(c, runtime="python3.12", **kw):
    name = unique_name("flt")
    if runtime.startswith("nodejs"):
        create_function(c, name, make_zip({"index.js": NODE_ECHO}), Runtime=runtime, Handler="index.handler", **kw)
    else:
        create_function(c, name, make_zip({"app.py": ECHO}), **kw)
    return name


def metric(srv, metric_name, function):
    text = urllib.request.urlopen(srv.url + "/metrics", timeout=10).read().decode()
    m = re.search(rf'^{metric_name}{{function="{re.escape(function)}"}} (\d+)', text, re.M)
    return int(m.group(1)) if m else 0


# ---- admin API -------------------------------------------------------------------------------------

def test_admin_api_set_list_clear(srv):
    fn = unique_name("adm")
    out = set_fault(srv, fn, Fault="latency", LatencyMs=5, Rate=0.5, Count=3, Qualifier="live", Seed=4)
    assert out == {"FunctionName": fn, "Fault": "latency", "LatencyMs": 5, "Rate": 0.5, "Count": 3,
                   "Qualifier": "live", "Seed": 4, "Injected": 0}
    set_fault(srv, fn, Fault="throttle")
    assert sorted(f.get("Qualifier", "") for f in faults_of(srv, fn)) == ["", "live"]
    # Setting again replaces the fault of the same (function, qualifier).
    set_fault(srv, fn, Fault="oom")
    assert [f["Fault"] for f in faults_of(srv, fn) if "Qualifier" not in f] == ["oom"]
    status, headers, _ = admin(srv, "DELETE", f"/_lambent/faults/{fn}?Qualifier=live")
    assert status == 204
    assert [f.get("Qualifier") for f in faults_of(srv, fn)] == [None]
    assert admin(srv, "DELETE", f"/_lambent/faults/{fn}")[0] == 204
    assert faults_of(srv, fn) == []


@pytest.mark.parametrize("body,message", [
    ({}, "Fault is required"),
    ({"Fault": "explode"}, "Unknown Fault 'explode'"),
    ({"Fault": "latency"}, "LatencyMs is required"),
    ({"Fault": "throttle", "Rate": 1.5}, "Rate must be"),
    ({"Fault": "throttle", "Count": 0}, "Count must be"),
    ({"Fault": "throttle", "Seed": -1}, "Seed must be"),
])
def test_admin_api_rejects_bad_faults(srv, body, message):
    status, headers, out = admin(srv, "PUT", "/_lambent/faults/x", body)
    assert status == 400
    assert headers["x-amzn-ErrorType"] == "InvalidParameterValueException"
    assert message in out["message"]
    assert faults_of(srv, "x") == []


def test_admin_api_bad_json_and_method(srv):
    req = urllib.request.Request(srv.url + "/_lambent/faults/x", data=b"{nope", method="PUT")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 400
    assert e.value.headers["x-amzn-ErrorType"] == "InvalidRequestContentException"
    assert admin(srv, "POST", "/_lambent/faults", {})[0] == 405


# ---- each fault kind through boto3 ----------------------------------------------------------------

def test_throttle_is_a_429_with_reason_and_retry_after(srv):
    c = make_client(srv.url)
    fn = new_function(c)
    set_fault(srv, fn, Fault="throttle", Count=1)
    before = metric(srv, "lambent_throttles_total", fn)
    injected_before = metric(srv, "lambent_faults_injected_total", fn)
    with pytest.raises(ClientError) as e:
        c.invoke(FunctionName=fn, Payload=b"{}")
    r = e.value.response
    assert r["Error"]["Code"] == "TooManyRequestsException"
    assert r["Error"]["Message"] == "Rate Exceeded."
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert r["Reason"] == "ConcurrentInvocationLimitExceeded"
    assert r["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "1"
    assert metric(srv, "lambent_throttles_total", fn) == before + 1
    assert metric(srv, "lambent_faults_injected_total", fn) == injected_before + 1
    # Count 1: the fault is gone and the next invoke runs.
    assert faults_of(srv, fn) == []
    assert json.loads(invoke(c, fn)[1]) == {"k": 1}


def test_throttle_reason_with_reserved_concurrency(srv):
    c = make_client(srv.url)
    fn = new_function(c)
    c.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=5)
    set_fault(srv, fn, Fault="throttle", Count=1)
    with pytest.raises(ClientError) as e:
        c.invoke(FunctionName=fn, Payload=b"{}")
    assert e.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_timeout_is_the_real_sandbox_timedout_error(srv):
    c = make_client(srv.url)
    fn = new_function(c, Timeout=7)
    assert "Init Duration" in invoke(c, fn)[2]  # a warm worker exists now
    set_fault(srv, fn, Fault="timeout", Count=1)
    res, payload, log = invoke(c, fn)
    request_id = res["ResponseMetadata"]["RequestId"]
    assert res["StatusCode"] == 200
    assert res["FunctionError"] == "Unhandled"
    assert json.loads(payload) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {request_id} Error: Task timed out after 7.00 seconds"}
    assert f"{request_id} Task timed out after 7.00 seconds" in log
    assert "Status: timeout" in log
    # The timed-out environment was destroyed, as after a real timeout: the next call is a cold start.
    res, payload, log = invoke(c, fn)
    assert "FunctionError" not in res and "Init Duration" in log


def test_oom_is_runtime_out_of_memory(srv):
    c = make_client(srv.url)
    fn = new_function(c)
    set_fault(srv, fn, Fault="oom", Count=1)
    errors_before = metric(srv, "lambent_errors_total", fn)
    res, payload, log = invoke(c, fn)
    request_id = res["ResponseMetadata"]["RequestId"]
    assert res["FunctionError"] == "Unhandled"
    assert json.loads(payload) == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"}
    assert "Error Type: Runtime.OutOfMemory" in log
    assert metric(srv, "lambent_errors_total", fn) == errors_before + 1
    assert metric(srv, "lambent_faults_injected_total", fn) == 1
    assert json.loads(invoke(c, fn)[1]) == {"k": 1}


@pytest.mark.parametrize("runtime", ["python3.12", "nodejs20.x"])
def test_init_error_is_what_the_runtime_reports_for_a_missing_module(srv, runtime):
    c = make_client(srv.url)
    fn = new_function(c, runtime=runtime)
    # The reference: the same handler name over a ZIP without the module, through the real runtime.
    real = unique_name("missing")
    handler = "index.handler" if runtime.startswith("nodejs") else "app.handler"
    create_function(c, real, make_zip({"other.txt": "no handler module here"}), Runtime=runtime, Handler=handler)
    res, expected, _ = invoke(c, real)
    assert res["FunctionError"] == "Unhandled"
    assert json.loads(expected)["errorType"] == "Runtime.ImportModuleError"

    invoke(c, fn)  # a warm worker exists; the fault still needs a fresh environment that fails its init
    set_fault(srv, fn, Fault="init-error", Count=2)
    for _ in range(2):
        res, payload, _ = invoke(c, fn)
        assert res["FunctionError"] == "Unhandled"
        if runtime.startswith("python"):
            assert payload == expected  # byte for byte
        else:
            got, want = json.loads(payload), json.loads(expected)
            assert list(got) == list(want) and got["errorMessage"] == want["errorMessage"]
            assert got["trace"] == want["trace"][:3]  # the runtime's own stack frames follow there
    logs = "\n".join(p.read_text() for p in (srv.data_dir / "logs" / fn).glob("*.log"))
    assert "Status: error\tError Type: Runtime.ImportModuleError" in logs
    # The warm worker was not touched: the next call is warm again.
    res, payload, log = invoke(c, fn)
    assert "FunctionError" not in res and "Init Duration" not in log


def test_latency_delays_the_invocation(srv):
    c = make_client(srv.url)
    fn = new_function(c)
    invoke(c, fn)
    set_fault(srv, fn, Fault="latency", LatencyMs=400, Count=1)
    started = time.monotonic()
    res, payload, _ = invoke(c, fn)
    assert time.monotonic() - started >= 0.4  # a lower bound only: the delay was added
    assert "FunctionError" not in res and json.loads(payload) == {"k": 1}
    assert faults_of(srv, fn) == []


# ---- count, rate, qualifier ---------------------------------------------------------------------------

def throttled(c, fn, **kw):
    try:
        c.invoke(FunctionName=fn, Payload=b"{}", **kw)
        return False
    except ClientError as e:
        assert e.response["Error"]["Code"] == "TooManyRequestsException"
        return True


def test_count_affects_exactly_n_invocations_then_clears(srv):
    c = make_client(srv.url)
    fn = new_function(c)
    set_fault(srv, fn, Fault="throttle", Count=3)
    assert [throttled(c, fn) for _ in range(5)] == [True, True, True, False, False]
    assert faults_of(srv, fn) == []


def test_rate_zero_never_and_rate_one_always(srv):
    c = make_client(srv.url)
    fn = new_function(c)
    set_fault(srv, fn, Fault="throttle", Rate=0)
    assert not any(throttled(c, fn) for _ in range(10))
    assert faults_of(srv, fn)[0]["Injected"] == 0
    set_fault(srv, fn, Fault="throttle", Rate=1)
    assert all(throttled(c, fn) for _ in range(10))
    assert faults_of(srv, fn)[0]["Injected"] == 10


def test_seeded_rate_is_reproducible(srv):
    c = make_client(srv.url)
    fn = new_function(c)
    patterns = []
    for _ in range(2):
        set_fault(srv, fn, Fault="throttle", Rate=0.5, Seed=1234)
        patterns.append([throttled(c, fn) for _ in range(24)])
    assert patterns[0] == patterns[1]
    assert any(patterns[0]) and not all(patterns[0])
    assert faults_of(srv, fn)[0]["Injected"] == sum(patterns[1])


def test_rate_and_count_together(srv):
    c = make_client(srv.url)
    fn = new_function(c)
    set_fault(srv, fn, Fault="throttle", Rate=0.5, Count=2, Seed=99)
    outcomes = [throttled(c, fn) for _ in range(40)]
    assert sum(outcomes) == 2  # count counts affected invocations, not attempts
    assert faults_of(srv, fn) == []


def test_qualifier_limits_the_fault(srv):
    c = make_client(srv.url)
    fn = new_function(c)
    version = c.publish_version(FunctionName=fn)["Version"]
    c.create_alias(FunctionName=fn, Name="live", FunctionVersion=version)
    set_fault(srv, fn, Fault="throttle", Qualifier="live")
    assert throttled(c, fn, Qualifier="live")
    assert not throttled(c, fn)
    assert not throttled(c, fn, Qualifier=version)
    set_fault(srv, fn, Fault="throttle", Qualifier=version)
    assert throttled(c, fn, Qualifier=version)
    assert not throttled(c, fn, Qualifier="$LATEST")


# ---- asynchronous invocations, function URLs ----------------------------------------------------------

def test_async_timeout_goes_through_retries_to_on_failure(srv):
    c = make_client(srv.url)
    fn, sink = new_function(c), new_function(c)
    c.put_function_event_invoke_config(FunctionName=fn, MaximumRetryAttempts=1, DestinationConfig={
        "OnFailure": {"Destination": function_arn(sink)}})
    set_fault(srv, fn, Fault="timeout")
    request_id = c.invoke(FunctionName=fn, InvocationType="Event", Payload=b'{"a": 1}')["ResponseMetadata"]["RequestId"]
    rec = wait_until(lambda: sink_records(srv.data_dir, sink), 30, what="the failure record")[0]
    assert rec["requestContext"]["requestId"] == request_id
    assert rec["requestContext"]["condition"] == "RetriesExhausted"
    assert rec["requestContext"]["approximateInvokeCount"] == 2  # the retry saw the fault too
    assert rec["responseContext"]["functionError"] == "Unhandled"
    assert rec["responsePayload"]["errorType"] == "Sandbox.Timedout"
    assert faults_of(srv, fn)[0]["Injected"] == 2


def test_async_throttle_is_retried_then_succeeds(srv):
    c = make_client(srv.url)
    fn, sink = new_function(c), new_function(c)
    c.put_function_event_invoke_config(FunctionName=fn, DestinationConfig={
        "OnSuccess": {"Destination": function_arn(sink)}})
    set_fault(srv, fn, Fault="throttle", Count=1)
    c.invoke(FunctionName=fn, InvocationType="Event", Payload=b'{"b": 2}')
    rec = wait_until(lambda: sink_records(srv.data_dir, sink), 30, what="the success record")[0]
    assert rec["requestContext"]["condition"] == "Success"
    assert rec["responsePayload"] == {"b": 2}
    assert faults_of(srv, fn) == []  # the throttle was injected once, then the event ran


def test_function_url_sees_faults(srv):
    c = make_client(srv.url)
    fn = new_function(c)
    url = c.create_function_url_config(FunctionName=fn, AuthType="NONE")["FunctionUrl"]
    set_fault(srv, fn, Fault="throttle", Count=1)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, timeout=30)
    assert e.value.code == 429
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.status == 200


# ---- CLI --------------------------------------------------------------------------------------------

def lambent(srv, *args):
    return subprocess.run([str(srv.binary), *args, "--endpoint", srv.url], capture_output=True, text=True,
                          timeout=60)


def test_cli_fault_set_ls_clear(srv):
    c = make_client(srv.url)
    fn = new_function(c)
    r = lambent(srv, "fault", "set", fn, "latency=25", "--rate", "1", "--count", "4", "--qualifier", "$LATEST")
    assert r.returncode == 0, r.stderr
    assert faults_of(srv, fn) == [{"FunctionName": fn, "Fault": "latency", "LatencyMs": 25, "Rate": 1.0,
                                   "Count": 4, "Qualifier": "$LATEST", "Injected": 0}]
    r = lambent(srv, "fault", "ls")
    assert r.returncode == 0
    assert re.search(rf"^{fn}\s+\$LATEST\s+latency=25\s+1\s+4\s+0$", r.stdout, re.M), r.stdout
    assert json.loads(lambent(srv, "fault", "ls", "--json").stdout)["Faults"]
    assert lambent(srv, "fault", "set", fn, "timeout").returncode == 0
    r = lambent(srv, "fault", "clear", fn)
    assert r.returncode == 0 and faults_of(srv, fn) == []
    bad = lambent(srv, "fault", "set", fn, "explode")
    assert bad.returncode == 2 and "unknown fault 'explode'" in bad.stderr
    bad = lambent(srv, "fault", "set", fn, "latency=abc")
    assert bad.returncode == 2 and "latency=MS" in bad.stderr
    assert lambent(srv, "fault", "set", fn, "oom").returncode == 0
    assert lambent(srv, "fault", "clear").returncode == 0
    assert list_faults(srv) == []
