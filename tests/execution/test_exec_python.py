"""Python functions through runtimes/python/bootstrap.py (contract §4.2, §6.3-6.6)."""

from __future__ import annotations

import base64
import json
import re

import pytest

from execlib import (ACCOUNT, PY_BOOTSTRAP, REGION, STREAM_RE, UUID_RE, check_tail_frame, invoke, make_zip,
                     update_code)

pytestmark = pytest.mark.skipif(not PY_BOOTSTRAP.exists(),
                                reason="runtimes/python/bootstrap.py does not exist yet")

APP = '''\
import json
import logging
import os

count = 0


def hello(event, context):
    return {"message": "hello " + event.get("name", "world")}


def counter(event, context):
    global count
    count += 1
    return {"count": count, "pid": os.getpid(), "stream": context.log_stream_name}


def ctx(event, context):
    cc = context.client_context
    return {
        "aws_request_id": context.aws_request_id,
        "invoked_function_arn": context.invoked_function_arn,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "client_context": None if cc is None else {
            "installation_id": cc.client.installation_id if cc.client else None,
            "app_title": cc.client.app_title if cc.client else None,
            "custom": cc.custom,
            "env": cc.env,
        },
        "exec_env": os.environ.get("AWS_EXECUTION_ENV"),
        "handler": os.environ.get("_HANDLER"),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "cwd": os.getcwd(),
    }


def echo(event, context):
    return event


def nothing(event, context):
    return None


def logs(event, context):
    print("printed line")
    print("héllo ✓ 日本")
    logging.getLogger().warning("warned %s", 42)
    return "logged"


class MyError(Exception):
    pass


def custom_error(event, context):
    raise MyError("custom failure")
'''

FAIL = '''def handler(event, context):
    raise Exception("Handler fails")
'''


@pytest.fixture(scope="module")
def py_fn(client):
    from execlib import create_function
    name = "py-app"
    create_function(client, name, make_zip({"app.py": APP, "h.py": FAIL}), runtime="python3.12",
                    handler="app.hello", timeout=5)
    return name


def _with_handler(client, base: str, handler: str) -> str:
    # Separate functions per handler (handler is configuration; keep py_fn's environment intact).
    from execlib import create_function
    name = f"{base}-{handler.replace('.', '-').replace('_', '-')}"
    try:
        client.get_function(FunctionName=name)
    except client.exceptions.ResourceNotFoundException:
        create_function(client, name, make_zip({"app.py": APP, "h.py": FAIL}), runtime="python3.12",
                        handler=handler, timeout=5)
    return name


@pytest.mark.parametrize("runtime", ["python3.9", "python3.10", "python3.11", "python3.12", "python3.13"])
def test_hello_world_every_python_runtime(client, make_fn, runtime):
    name = make_fn(make_zip({"app.py": APP}), runtime=runtime, handler="app.hello")
    r = invoke(client, name, {"name": "lambent"})
    assert r.status == 200 and r.function_error is None, r.payload
    assert r.payload == b'{"message": "hello lambent"}'
    _, rep = check_tail_frame(r.log, r.request_id)
    assert rep.group(6) is not None
    name2 = make_fn(make_zip({"app.py": APP}), runtime=runtime, handler="app.ctx")
    assert invoke(client, name2, {}, tail=False).json()["exec_env"] == f"AWS_Lambda_{runtime}"


def test_module_level_state_survives_warm_invokes(client, py_fn):
    name = _with_handler(client, py_fn, "app.counter")
    a = invoke(client, name, {}).json()
    b = invoke(client, name, {}).json()
    assert b["count"] == a["count"] + 1
    assert a["stream"] == b["stream"] and a["pid"] == b["pid"]


def test_context_fields(client, py_fn):
    name = _with_handler(client, py_fn, "app.ctx")
    r = invoke(client, name, {"k": "v"})
    c = r.json()
    assert c["aws_request_id"] == r.request_id
    assert re.fullmatch(UUID_RE, c["aws_request_id"])
    assert c["invoked_function_arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    assert c["function_name"] == name
    assert c["function_version"] == "$LATEST"
    assert c["memory_limit_in_mb"] == "128"
    assert c["log_group_name"] == f"/aws/lambda/{name}"
    assert re.fullmatch(STREAM_RE, c["log_stream_name"])
    assert 0 < c["remaining"] <= 5000
    assert c["client_context"] is None
    assert c["exec_env"] == "AWS_Lambda_python3.12"
    assert c["handler"] == "app.ctx"
    assert c["cwd"] == "/var/task"
    assert c["trace"] and c["trace"].startswith("Root=1-"), c["trace"]


def test_client_context(client, py_fn):
    name = _with_handler(client, py_fn, "app.ctx")
    cc = {"client": {"installation_id": "inst-42", "app_title": "Lambent ✓", "app_version_name": "1.0",
                     "app_version_code": "1", "app_package_name": "pkg"},
          "custom": {"tenant": "t1", "n": 5}, "env": {"platform": "Linux", "locale": "en_US"}}
    r = invoke(client, name, {}, ClientContext=base64.b64encode(json.dumps(cc).encode()).decode())
    got = r.json()["client_context"]
    assert got == {"installation_id": "inst-42", "app_title": "Lambent ✓", "custom": {"tenant": "t1", "n": 5},
                   "env": {"platform": "Linux", "locale": "en_US"}}


def test_handler_exception_shape(client, py_fn):
    name = _with_handler(client, py_fn, "h.handler")
    r = invoke(client, name, {})
    assert r.status == 200
    assert r.function_error == "Unhandled"
    assert r.headers["x-amz-function-error"] == "Unhandled"
    body = json.loads(r.payload)
    assert list(body) == ["errorMessage", "errorType", "requestId", "stackTrace"], body
    assert body == {
        "errorMessage": "Handler fails",
        "errorType": "Exception",
        "requestId": r.request_id,
        "stackTrace": ['  File "/var/task/h.py", line 2, in handler\n    raise Exception("Handler fails")\n'],
    }
    inner, rep = check_tail_frame(r.log, r.request_id)
    assert any(ln.startswith("[ERROR] Exception: Handler fails") for ln in inner), r.log
    # As on AWS, an error the function reports itself leaves REPORT plain: no Status / Error Type.
    assert rep.group(7) is None and "Status:" not in r.log.splitlines()[-1], r.log
    # A handled exception keeps the environment: the next invoke is warm.
    r2 = invoke(client, name, {})
    assert check_tail_frame(r2.log, r2.request_id)[1].group(6) is None


def test_custom_exception_type(client, py_fn):
    name = _with_handler(client, py_fn, "app.custom_error")
    r = invoke(client, name, {}, tail=False)
    body = r.json()
    assert r.function_error == "Unhandled"
    assert body["errorType"] == "MyError" and body["errorMessage"] == "custom failure"
    assert body["requestId"] == r.request_id
    assert len(body["stackTrace"]) == 1 and body["stackTrace"][0].startswith('  File "/var/task/app.py", line ')


def test_import_module_error_then_fixed_by_update(client, make_fn):
    name = make_fn(make_zip({"other.py": "x = 1\n"}), runtime="python3.12", handler="app.hello")
    r = invoke(client, name, {})
    assert r.status == 200 and r.function_error == "Unhandled"
    assert r.headers["x-amz-function-error"] == "Unhandled"
    assert r.json() == {"errorMessage": "Unable to import module 'app': No module named 'app'",
                        "errorType": "Runtime.ImportModuleError", "requestId": "", "stackTrace": []}
    assert list(r.json()) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    # Init is retried on every invoke while broken.
    assert invoke(client, name, {}, tail=False).json()["errorType"] == "Runtime.ImportModuleError"
    update_code(client, name, make_zip({"app.py": APP}))
    r = invoke(client, name, {"name": "fixed"})
    assert r.function_error is None and r.payload == b'{"message": "hello fixed"}'


def test_handler_not_found(client, make_fn):
    name = make_fn(make_zip({"app.py": APP}), runtime="python3.12", handler="app.main")
    r = invoke(client, name, {}, tail=False)
    assert r.function_error == "Unhandled"
    assert r.json() == {"errorMessage": "Handler 'main' missing on module 'app'",
                        "errorType": "Runtime.HandlerNotFound", "requestId": "", "stackTrace": []}


def test_syntax_error(client, make_fn):
    name = make_fn(make_zip({"app.py": "def handler(event, context)\n    return 1\n"}), runtime="python3.12",
                   handler="app.handler")
    r = invoke(client, name, {}, tail=False)
    body = r.json()
    assert r.function_error == "Unhandled"
    assert body["errorType"] == "Runtime.UserCodeSyntaxError"
    assert body["errorMessage"].startswith("Syntax error in module 'app': "), body


def test_unicode_payload_and_response(client, py_fn):
    name = _with_handler(client, py_fn, "app.echo")
    event = {"text": "héllo ✓ 日本", "emoji": "🚀"}
    raw = json.dumps(event, ensure_ascii=False).encode()
    r = invoke(client, name, raw=raw, tail=False)
    assert r.function_error is None
    assert json.loads(r.payload.decode("utf-8")) == event
    # python3.12+ clients serialise without ASCII escapes (as the AWS RIC does).
    assert r.payload == raw


def test_none_result_is_null(client, py_fn):
    r = invoke(client, _with_handler(client, py_fn, "app.nothing"), {}, tail=False)
    assert r.status == 200 and r.function_error is None and r.payload == b"null"


def test_empty_payload_is_empty_object(client, py_fn):
    r = invoke(client, _with_handler(client, py_fn, "app.echo"), raw=b"", tail=False)
    assert r.function_error is None and r.payload == b"{}"


def test_print_and_logging_in_tail(client, py_fn):
    name = _with_handler(client, py_fn, "app.logs")
    r = invoke(client, name, {})
    assert r.payload == b'"logged"'
    inner, _ = check_tail_frame(r.log, r.request_id)
    assert "printed line" in inner
    assert "héllo ✓ 日本" in inner
    warned = [ln for ln in inner if ln.startswith("[WARNING]")]
    assert len(warned) == 1, inner
    assert re.fullmatch(rf"\[WARNING\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{r.request_id}\twarned 42",
                        warned[0]), warned[0]
