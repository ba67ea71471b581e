"""Node.js functions through runtimes/nodejs/bootstrap.mjs (contract §4.2, §6.3-6.6)."""

from __future__ import annotations

import base64
import json
import re

import pytest

from execlib import (ACCOUNT, NODE_BOOTSTRAP, REGION, STREAM_RE, UUID_RE, check_tail_frame, create_function,
                     invoke, make_zip, update_code)

pytestmark = pytest.mark.skipif(not NODE_BOOTSTRAP.exists(),
                                reason="runtimes/nodejs/bootstrap.mjs does not exist yet")

INDEX = '''\
let count = 0;

export const hello = async (event) => ({ message: "hello " + (event.name ?? "world") });

export const counter = async (event, context) => {
  count += 1;
  return { count, pid: process.pid, stream: context.logStreamName };
};

export const ctx = async (event, context) => ({
  awsRequestId: context.awsRequestId,
  invokedFunctionArn: context.invokedFunctionArn,
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  memoryLimitInMB: context.memoryLimitInMB,
  logGroupName: context.logGroupName,
  logStreamName: context.logStreamName,
  remaining: context.getRemainingTimeInMillis(),
  clientContext: context.clientContext ?? null,
  execEnv: process.env.AWS_EXECUTION_ENV,
  handler: process.env._HANDLER,
  cwd: process.cwd(),
});

export const echo = async (event) => event;

export const nothing = async () => undefined;

export const boom = async () => {
  throw new Error("boom");
};

class MyErr extends Error {
  constructor(message) { super(message); this.name = "MyErr"; }
}
export const custom = async () => { throw new MyErr("custom failure"); };

export const logs = async () => {
  console.log("logged %s", "line");
  console.warn("warned ✓ 日本");
  console.error("errored");
  return "logged";
};

export const callback = (event, context, cb) => { cb(null, { viaCallback: true }); };

export const notfn = 42;
'''


@pytest.fixture(scope="module")
def js_zip():
    return make_zip({"index.mjs": INDEX})


def _fn(client, handler: str, zip_bytes: bytes, runtime: str = "nodejs20.x") -> str:
    name = f"js-{runtime.replace('.', '')}-{handler.replace('.', '-')}"
    try:
        client.get_function(FunctionName=name)
    except client.exceptions.ResourceNotFoundException:
        create_function(client, name, zip_bytes, runtime=runtime, handler=handler, timeout=5)
    return name


@pytest.mark.parametrize("runtime", ["nodejs18.x", "nodejs20.x", "nodejs22.x"])
def test_hello_world_every_node_runtime(client, js_zip, runtime):
    name = _fn(client, "index.hello", js_zip, runtime)
    r = invoke(client, name, {"name": "lambent"})
    assert r.status == 200 and r.function_error is None, r.payload
    assert r.payload == b'{"message":"hello lambent"}'
    _, rep = check_tail_frame(r.log, r.request_id)
    assert rep.group(6) is not None
    assert invoke(client, _fn(client, "index.ctx", js_zip, runtime), {}, tail=False).json()["execEnv"] == \
        f"AWS_Lambda_{runtime}"


def test_module_level_state_survives_warm_invokes(client, js_zip):
    name = _fn(client, "index.counter", js_zip)
    a = invoke(client, name, {}).json()
    b = invoke(client, name, {}).json()
    assert b["count"] == a["count"] + 1 and a["pid"] == b["pid"] and a["stream"] == b["stream"]


def test_context_fields(client, js_zip):
    name = _fn(client, "index.ctx", js_zip)
    r = invoke(client, name, {})
    c = r.json()
    assert c["awsRequestId"] == r.request_id
    assert re.fullmatch(UUID_RE, c["awsRequestId"])
    assert c["invokedFunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    assert c["functionName"] == name
    assert c["functionVersion"] == "$LATEST"
    assert c["memoryLimitInMB"] == "128"
    assert c["logGroupName"] == f"/aws/lambda/{name}"
    assert re.fullmatch(STREAM_RE, c["logStreamName"])
    assert 0 < c["remaining"] <= 5000
    assert c["clientContext"] is None
    assert c["handler"] == "index.ctx"
    assert c["cwd"] == "/var/task"


def test_client_context(client, js_zip):
    name = _fn(client, "index.ctx", js_zip)
    cc = {"client": {"installation_id": "inst-7", "app_title": "Lambent ✓"}, "custom": {"k": [1, 2]},
          "env": {"platform": "Linux"}}
    r = invoke(client, name, {}, ClientContext=base64.b64encode(json.dumps(cc).encode()).decode())
    assert r.json()["clientContext"] == cc


def test_handler_exception_shape(client, js_zip):
    name = _fn(client, "index.boom", js_zip)
    r = invoke(client, name, {})
    assert r.status == 200 and r.function_error == "Unhandled"
    assert r.headers["x-amz-function-error"] == "Unhandled"
    body = r.json()
    assert list(body) == ["errorType", "errorMessage", "trace"], body
    assert body["errorType"] == "Error" and body["errorMessage"] == "boom"
    assert body["trace"][0] == "Error: boom"
    assert re.fullmatch(r"    at .*file:///var/task/index\.mjs:\d+:\d+\)?", body["trace"][1]), body["trace"]
    inner, _ = check_tail_frame(r.log, r.request_id)
    err = [ln for ln in inner if "\tERROR\tInvoke Error " in ln]
    assert err, r.log
    assert re.match(rf"^\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{r.request_id}\tERROR\tInvoke Error \t\{{", err[0]), err[0]
    # A handled error keeps the environment warm.
    r2 = invoke(client, name, {})
    assert check_tail_frame(r2.log, r2.request_id)[1].group(6) is None


def test_custom_error_type(client, js_zip):
    r = invoke(client, _fn(client, "index.custom", js_zip), {}, tail=False)
    body = r.json()
    assert r.function_error == "Unhandled"
    assert body["errorType"] == "MyErr" and body["errorMessage"] == "custom failure"
    assert body["trace"][0] == "MyErr: custom failure"


def test_import_module_error_then_fixed_by_update(client, make_fn, js_zip):
    name = make_fn(make_zip({"other.mjs": "export const x = 1;\n"}), runtime="nodejs20.x", handler="index.hello")
    r = invoke(client, name, {})
    assert r.status == 200 and r.function_error == "Unhandled"
    body = r.json()
    assert body["errorType"] == "Runtime.ImportModuleError", body
    assert body["errorMessage"].startswith("Error: Cannot find module 'index'\nRequire stack:\n- "), body
    assert isinstance(body.get("trace"), list)
    assert invoke(client, name, {}, tail=False).json()["errorType"] == "Runtime.ImportModuleError"
    update_code(client, name, js_zip)
    r = invoke(client, name, {"name": "fixed"})
    assert r.function_error is None and r.payload == b'{"message":"hello fixed"}'


def test_handler_not_found(client, js_zip):
    r = invoke(client, _fn(client, "index.nothere", js_zip), {}, tail=False)
    assert r.function_error == "Unhandled"
    body = r.json()
    assert body["errorType"] == "Runtime.HandlerNotFound"
    assert body["errorMessage"] == "index.nothere is undefined or not exported"
    r = invoke(client, _fn(client, "index.notfn", js_zip), {}, tail=False)
    assert r.json()["errorType"] == "Runtime.HandlerNotFound"
    assert r.json()["errorMessage"] == "index.notfn is not a function"


def test_unicode_payload_and_response(client, js_zip):
    name = _fn(client, "index.echo", js_zip)
    event = {"text": "héllo ✓ 日本", "emoji": "🚀"}
    raw = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
    r = invoke(client, name, raw=raw, tail=False)
    assert r.function_error is None
    assert r.payload == raw  # JSON.stringify of the parsed event gives the same bytes


def test_undefined_result_is_null(client, js_zip):
    r = invoke(client, _fn(client, "index.nothing", js_zip), {}, tail=False)
    assert r.function_error is None and r.payload == b"null"


def test_empty_payload_is_empty_object(client, js_zip):
    r = invoke(client, _fn(client, "index.echo", js_zip), raw=b"", tail=False)
    assert r.function_error is None and r.payload == b"{}"


def test_callback_handler(client, js_zip):
    r = invoke(client, _fn(client, "index.callback", js_zip), {}, tail=False)
    assert r.function_error is None and r.payload == b'{"viaCallback":true}'


def test_console_lines_in_tail(client, js_zip):
    name = _fn(client, "index.logs", js_zip)
    r = invoke(client, name, {})
    assert r.payload == b'"logged"'
    inner, _ = check_tail_frame(r.log, r.request_id)
    ts = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    for level, msg in (("INFO", "logged line"), ("WARN", "warned ✓ 日本"), ("ERROR", "errored")):
        assert any(re.fullmatch(rf"{ts}\t{r.request_id}\t{level}\t{re.escape(msg)}", ln) for ln in inner), \
            f"no `<ISO>\\t<id>\\t{level}\\t{msg}` line in:\n{r.log}"
