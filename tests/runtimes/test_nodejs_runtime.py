"""runtimes/nodejs/bootstrap.mjs against a stub Runtime API (contract §4.2, §5, §6.3-§6.7)."""

import base64
import json
import os
import re
import time
from pathlib import Path

from conftest import API, NODE_RUNTIME_DIR, read_frames

BOOTSTRAP = str(NODE_RUNTIME_DIR / "bootstrap.mjs")
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\t([^\t]*)\t([A-Z]+)\t(.*)$", re.S)


def log_lines(text):
    """Split console output into (request id, level, message) per line."""
    out = []
    for line in text.splitlines():
        match = LOG_LINE.match(line)
        assert match, "not a Lambda log line: {!r}".format(line)
        out.append(match.groups()[1:])
    return out


def test_async_handler_success_exact_bytes(api, start_node):
    proc = start_node({"index.mjs": "export const handler = async (event) => ({ hello: event.name, n: 1, ok: true });\n"},
                      "index.handler")
    request_id = api.invoke({"name": "world"})
    posted = api.posted()
    assert (posted.kind, posted.request_id) == ("response", request_id)
    assert posted.body == b'{"hello":"world","n":1,"ok":true}'
    assert posted.headers["Content-Type"] == "application/json"
    assert proc.stdout.text == ""


def test_undefined_result_is_null(api, start_node):
    start_node({"index.mjs": "export const handler = async () => {};\n"}, "index.handler")
    api.invoke({})
    assert api.posted().body == b"null"


def test_sync_handler_without_callback_answers_null(api, start_node):
    # AWS: a non-async handler's return value is ignored; with no callback the result is null.
    start_node({"index.js": "exports.handler = (event) => 'ignored';\n"}, "index.handler")
    api.invoke({})
    assert api.posted().body == b"null"


def test_unicode_payload(api, start_node):
    start_node({"index.mjs": "export const handler = async (e) => ({ echo: e.s + ' ✓' });\n"}, "index.handler")
    api.invoke({"s": "héllo 😀 世界"})
    assert api.posted().body == '{"echo":"héllo 😀 世界 ✓"}'.encode("utf-8")


def test_context_fields(api, start_node):
    code = (
        "export const handler = async (event, context) => ({\n"
        "  json: JSON.parse(JSON.stringify(context)),\n"
        "  keys: Object.keys(context),\n"
        "  remaining: context.getRemainingTimeInMillis(),\n"
        "  identity: context.identity ?? 'absent',\n"
        "  clientContext: context.clientContext ?? 'absent',\n"
        "  trace: process.env._X_AMZN_TRACE_ID,\n"
        "});\n"
    )
    start_node({"index.mjs": code}, "index.handler")
    request_id = api.invoke({}, deadline_ms=int(time.time() * 1000) + 5000, trace_id="Root=1-abc;Sampled=0",
                            function_arn="arn:aws:lambda:us-east-1:000000000000:function:fn:7")
    result = api.posted().json()
    assert 0 < result["remaining"] <= 5000
    assert result["json"] == {
        "callbackWaitsForEmptyEventLoop": True,
        "functionVersion": "$LATEST",
        "functionName": "fn",
        "memoryLimitInMB": "128",
        "logGroupName": "/aws/lambda/fn",
        "logStreamName": "2024/05/01/[$LATEST]8f2b1c0d4e5f47a6b7c8d9e0f1a2b3c4",
        "invokedFunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:fn:7",
        "awsRequestId": request_id,
    }
    assert result["keys"][:4] == ["callbackWaitsForEmptyEventLoop", "succeed", "fail", "done"]
    assert result["identity"] == "absent" and result["clientContext"] == "absent"
    assert result["trace"] == "Root=1-abc;Sampled=0"


def test_remaining_time_and_client_context_and_identity(api, start_node):
    code = ("export const handler = async (event, context) => "
            "({ cc: context.clientContext, id: context.identity, r: context.getRemainingTimeInMillis() });\n")
    start_node({"index.mjs": code}, "index.handler")
    cc = {"client": {"app_title": "demo"}, "custom": {"k": "v"}, "env": {"platform": "linux"}}
    identity = {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}
    api.invoke({}, client_context=cc, cognito_identity=identity, deadline_ms=int(time.time() * 1000) - 1000)
    result = api.posted().json()
    assert result["cc"] == cc and result["id"] == identity
    assert result["r"] < 0  # AWS's Node client does not clamp


def test_thrown_error(api, start_node):
    proc = start_node({"index.mjs": "export const handler = async () => {\n  throw new Error('boom');\n};\n"},
                      "index.handler")
    request_id = api.invoke({})
    posted = api.posted()
    assert (posted.kind, posted.request_id) == ("error", request_id)
    assert posted.headers["Lambda-Runtime-Function-Error-Type"] == "Error"
    body = posted.json()
    assert list(body) == ["errorType", "errorMessage", "trace"]
    assert (body["errorType"], body["errorMessage"], body["trace"][0]) == ("Error", "boom", "Error: boom")
    index_url = (start_node.task_root / "index.mjs").as_uri()
    assert body["trace"][1] == "    at Runtime.handler ({}:2:9)".format(index_url)
    assert posted.body == json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    # Log: <time>\t<id>\tERROR\tInvoke Error \t{"errorType":"Error","errorMessage":"boom","stack":[...]}
    [(rid, level, message)] = log_lines(proc.stdout.text)
    assert (rid, level) == (request_id, "ERROR")
    assert message.startswith("Invoke Error \t{")
    logged = json.loads(message[len("Invoke Error \t"):])
    assert logged == {"errorType": "Error", "errorMessage": "boom", "stack": body["trace"]}


def test_error_enumerable_properties_and_code_in_log(api, start_node):
    code = ("export const handler = async () => {\n"
            "  const e = new TypeError('bad'); e.code = 'E_BAD'; e.detail = { a: 1 }; throw e;\n};\n")
    proc = start_node({"index.mjs": code}, "index.handler")
    api.invoke({})
    body = api.posted().json()
    assert (body["errorType"], body["errorMessage"]) == ("TypeError", "bad")
    [(_, _, message)] = log_lines(proc.stdout.text)
    logged = json.loads(message.split("\t", 1)[1])
    assert list(logged) == ["errorType", "errorMessage", "code", "detail", "stack"]
    assert (logged["code"], logged["detail"]) == ("E_BAD", {"a": 1})


def test_rejection_with_non_error(api, start_node):
    start_node({"index.mjs": "export const handler = async () => { throw 'just a string'; };\n"}, "index.handler")
    api.invoke({})
    posted = api.posted()
    assert posted.headers["Lambda-Runtime-Function-Error-Type"] == "string"
    assert posted.body == b'{"errorType":"string","errorMessage":"just a string","trace":[]}'


def test_invalid_json_event(api, start_node):
    start_node({"index.mjs": "export const handler = async (e) => e;\n"}, "index.handler")
    api.invoke(b"{oops")
    body = api.posted().json()
    assert body["errorType"] == "SyntaxError"


def test_unserialisable_result(api, start_node):
    start_node({"index.mjs": "export const handler = async () => { const a = {}; a.self = a; return a; };\n"},
               "index.handler")
    api.invoke({})
    posted = api.posted()
    assert posted.kind == "error"
    assert (posted.json()["errorType"], posted.json()["errorMessage"]) == ("Error", "Unable to stringify response body")


# ---------------------------------------------------------------------------- callback handlers

def test_callback_waits_for_empty_event_loop(api, start_node):
    code = (
        "exports.handler = (event, context, callback) => {\n"
        "  setTimeout(() => console.log('timer fired'), 30);\n"
        "  callback(null, { done: true });\n"
        "};\n"
    )
    seen = []
    api.before_reply = lambda posted: seen.append(proc.stdout.sync())
    proc = start_node({"index.js": code}, "index.handler")
    api.invoke({})
    assert api.posted().body == b'{"done":true}'
    assert b"timer fired" in seen[0]  # the response waited for the timer


def test_callback_without_waiting_for_empty_event_loop(api, start_node):
    code = (
        "let calls = 0;\n"
        "exports.handler = (event, context, callback) => {\n"
        "  context.callbackWaitsForEmptyEventLoop = false;\n"
        "  setTimeout(() => console.log('much later'), 60000);\n"
        "  callback(null, ++calls);\n"
        "};\n"
    )
    start_node({"index.js": code}, "index.handler")
    api.invoke({})
    assert api.posted().body == b"1"  # posted although a timer is pending
    api.invoke({})
    assert api.posted().body == b"2"


def test_callback_error_and_only_first_call_counts(api, start_node):
    code = (
        "exports.handler = (event, context, callback) => {\n"
        "  callback(new Error('first'));\n"
        "  callback(null, 'second');\n"
        "  context.succeed('third');\n"
        "};\n"
    )
    start_node({"index.js": code}, "index.handler")
    api.invoke({})
    posted = api.posted()
    assert (posted.kind, posted.json()["errorMessage"]) == ("error", "first")
    api.invoke({})
    assert api.posted().kind == "error"  # and nothing else was posted for the first invocation


def test_legacy_context_succeed_fail_done(api, start_node):
    code = (
        "exports.handler = (event, context) => {\n"
        "  if (event.op === 'succeed') context.succeed({ via: 'succeed' });\n"
        "  if (event.op === 'done') context.done(null, 'via done');\n"
        "  if (event.op === 'fail') context.fail(new Error('via fail'));\n"
        "  if (event.op === 'failnull') context.fail();\n"
        "};\n"
    )
    start_node({"index.js": code}, "index.handler")
    api.invoke({"op": "succeed"})
    assert api.posted().body == b'{"via":"succeed"}'
    api.invoke({"op": "done"})
    assert api.posted().body == b'"via done"'
    api.invoke({"op": "fail"})
    assert api.posted().json()["errorMessage"] == "via fail"
    api.invoke({"op": "failnull"})
    assert api.posted().body == b'{"errorType":"string","errorMessage":"handled","trace":[]}'


def test_sync_throw_in_callback_handler(api, start_node):
    start_node({"index.js": "exports.handler = (e, c, cb) => { throw new RangeError('sync'); };\n"},
               "index.handler")
    api.invoke({})
    posted = api.posted()
    assert posted.headers["Lambda-Runtime-Function-Error-Type"] == "RangeError"


# --------------------------------------------------------------------- abnormal invocations

def test_never_settled_promise_is_node_js_exit(api, start_node):
    proc = start_node({"index.mjs": "export const handler = async () => new Promise(() => {});\n"},
                      "index.handler")
    api.invoke({})
    posted = api.posted()
    assert posted.headers["Lambda-Runtime-Function-Error-Type"] == "Runtime.NodeJsExit"
    body = posted.json()
    assert body["errorType"] == "Runtime.NodeJsExit"
    assert body["errorMessage"].startswith("The Lambda runtime client detected an unexpected Node.js exit code. "
                                           "This is most commonly caused by a Promise that was never settled.")
    assert "Invoke Error \t" in proc.stdout.text
    api.invoke({})  # the environment keeps serving
    assert api.posted().headers["Lambda-Runtime-Function-Error-Type"] == "Runtime.NodeJsExit"


def test_unhandled_rejection(api, start_node):
    code = ("export const handler = async () => {\n"
            "  Promise.reject(new Error('bg'));\n"
            "  await new Promise((resolve) => setTimeout(resolve, 5000));\n"
            "  return 'late';\n};\n")
    proc = start_node({"index.mjs": code}, "index.handler")
    request_id = api.invoke({})
    posted = api.posted()
    assert (posted.kind, posted.request_id) == ("error", request_id)
    assert posted.headers["Lambda-Runtime-Function-Error-Type"] == "Runtime.UnhandledPromiseRejection"
    body = posted.json()
    assert (body["errorType"], body["errorMessage"]) == ("Runtime.UnhandledPromiseRejection", "Error: bg")
    assert body["trace"][0] == "Runtime.UnhandledPromiseRejection: Error: bg"
    assert proc.wait_exit() == 128
    [(rid, level, message)] = log_lines(proc.stdout.text)
    assert (rid, level) == (request_id, "ERROR")
    assert message.startswith("Unhandled Promise Rejection \t")
    logged = json.loads(message.split("\t", 1)[1])
    assert logged["reason"]["errorMessage"] == "bg" and logged["promise"] == {}


def test_uncaught_exception_during_invoke(api, start_node):
    code = ("export const handler = async () => {\n"
            "  setTimeout(() => { throw new Error('async boom'); }, 0);\n"
            "  await new Promise((resolve) => setTimeout(resolve, 5000));\n};\n")
    proc = start_node({"index.mjs": code}, "index.handler")
    api.invoke({})
    posted = api.posted()
    assert (posted.json()["errorType"], posted.json()["errorMessage"]) == ("Error", "async boom")
    assert proc.wait_exit() == 129
    assert "\tERROR\tUncaught Exception \t{" in proc.stdout.text


# ------------------------------------------------------------------------ module resolution

def test_esm_mjs_and_module_state(api, start_node):
    code = "let count = 0;\nexport const handler = async () => ++count;\n"
    start_node({"index.mjs": code}, "index.handler")
    for expected in (b"1", b"2", b"3"):
        api.invoke({})
        assert api.posted().body == expected
    assert api.connections == 1  # one keep-alive connection for every call


def test_package_json_type_module_js(api, start_node):
    start_node({"package.json": '{"type": "module"}', "app.js": "export const handler = async () => import.meta.url;\n"},
               "app.handler")
    api.invoke({})
    assert api.posted().json() == (start_node.task_root / "app.js").as_uri()


def test_commonjs_js(api, start_node):
    start_node({"app.js": "exports.handler = async () => typeof require;\n"}, "app.handler")
    api.invoke({})
    assert api.posted().body == b'"function"'


def test_commonjs_cjs_in_module_package(api, start_node):
    start_node({"package.json": '{"type": "module"}', "app.cjs": "module.exports.handler = async () => 'cjs';\n"},
               "app.handler")
    api.invoke({})
    assert api.posted().body == b'"cjs"'


def test_nested_handler_path_and_directory(api, start_node):
    code = "module.exports = { handlers: { main: async () => __filename } };\n"
    start_node({"src/lib/app.js": code}, "src/lib/app.handlers.main")
    api.invoke({})
    assert api.posted().json() == str(start_node.task_root / "src" / "lib" / "app.js")


def test_node_modules_package_handler(api, start_node):
    start_node({"node_modules/my-fn/package.json": '{"name": "my-fn", "main": "main.js"}',
                "node_modules/my-fn/main.js": "exports.handler = async () => 'from package';\n"},
               "my-fn.handler")
    api.invoke({})
    assert api.posted().body == b'"from package"'


def test_console_output_is_written_before_the_response(api, start_node):
    seen = []
    api.before_reply = lambda posted: seen.append(proc.stdout.sync())
    proc = start_node({"index.mjs": "export const handler = async () => { console.log('before'); return 1; };\n"},
                      "index.handler")
    api.invoke({})
    api.posted()
    assert seen[0].endswith(b"\tINFO\tbefore\n")


def test_large_output_is_written_before_the_response(api, start_node):
    # 200 KB does not fit in a pipe, so Node queues the write; the runtime must wait for it.
    seen = []
    api.before_reply = lambda posted: seen.append(proc.stdout.sync())
    code = ("export const handler = async () => {\n"
            "  process.stdout.write('y'.repeat(100000) + '\\n');\n"
            "  console.log('z'.repeat(100000));\n  return 1;\n};\n")
    proc = start_node({"index.mjs": code}, "index.handler")
    api.invoke({})
    api.posted()
    assert seen[0].startswith(b"y" * 100000 + b"\n") and seen[0].endswith(b"z" * 100000 + b"\n")


# ------------------------------------------------------------------------------------ logging

def test_console_formats(api, start_node):
    code = (
        "console.log('at init');\n"
        "export const handler = async () => {\n"
        "  console.log('hello %s %d', 'world', 42);\n"
        "  console.info({ a: 1 });\n"
        "  console.warn('warn');\n"
        "  console.error('error');\n"
        "  console.debug('debug');\n"
        "  console.trace('trace');\n"
        "  console.fatal('fatal');\n"
        "  console.log('multi\\nline');\n"
        "  process.stdout.write('raw\\n');\n"
        "  return null;\n"
        "};\n"
    )
    proc = start_node({"index.mjs": code}, "index.handler")
    request_id = api.invoke({})
    api.posted()
    text = proc.stdout.text
    lines = text.split("\n")
    assert lines[-1] == ""
    assert lines[-2] == "raw"
    # multi-line message: one record, the newline kept inside
    entries = log_lines("\n".join(lines[:-4] + [lines[-4] + "\\n" + lines[-3]]))
    assert entries == [
        ("undefined", "INFO", "at init"),
        (request_id, "INFO", "hello world 42"),
        (request_id, "INFO", "{ a: 1 }"),
        (request_id, "WARN", "warn"),
        (request_id, "ERROR", "error"),
        (request_id, "DEBUG", "debug"),
        (request_id, "TRACE", "trace"),
        (request_id, "FATAL", "fatal"),
        (request_id, "INFO", "multi\\nline"),
    ]


def test_each_console_call_is_one_write(api, start_node):
    marker = Path(__file__).parent / "fixtures" / "mark_stdout_writes.cjs"
    code = ("export const handler = async () => {\n"
            "  console.log('first\\nsecond', { k: 1 });\n"
            "  console.log('x'.repeat(70000));\n"
            "  throw new Error('boom');\n};\n")
    proc = start_node({"index.mjs": code}, "index.handler", env={"NODE_OPTIONS": "--require " + str(marker)})
    api.invoke({})
    api.posted()
    writes = proc.stdout.text.split("\x01")
    assert writes[0] == ""
    assert [w.split("\t")[3] for w in writes[1:]] == [
        "first\nsecond { k: 1 }\n", "x" * 70000 + "\n", "Invoke Error "]
    assert all(w.endswith("\n") and w.count("\tERROR\t") + w.count("\tINFO\t") == 1 for w in writes[1:])


def test_log_level_filter(api, start_node):
    code = ("export const handler = async () => {\n"
            "  console.debug('d'); console.info('i'); console.warn('w'); console.error('e');\n};\n")
    proc = start_node({"index.mjs": code}, "index.handler", env={"AWS_LAMBDA_LOG_LEVEL": "WARN"})
    api.invoke({})
    api.posted()
    assert [level for _, level, _ in log_lines(proc.stdout.text)] == ["WARN", "ERROR"]


def test_json_log_format(api, start_node):
    code = ("export const handler = async () => {\n"
            "  console.info('hi %s', 'there');\n"
            "  console.warn({ k: 'v' });\n"
            "  throw new Error('json boom');\n};\n")
    proc = start_node({"index.mjs": code}, "index.handler", env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    request_id = api.invoke({})
    api.posted()
    first, second, third = [json.loads(line) for line in proc.stdout.text.splitlines()]
    assert list(first) == ["timestamp", "level", "requestId", "message"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["timestamp"])
    assert (first["level"], first["requestId"], first["message"]) == ("INFO", request_id, "hi there")
    assert second["message"] == {"k": "v"}
    assert third["level"] == "ERROR"
    assert third["message"]["errorType"] == "Error" and third["message"]["errorMessage"] == "json boom"


def test_telemetry_log_fd_frames(api, start_node):
    read_fd, write_fd = os.pipe()
    try:
        code = ("export const handler = async () => {\n"
                "  process.stdout.write('plain\\n');\n"
                "  console.warn('framed\\nline');\n"
                "  return process.env._LAMBDA_TELEMETRY_LOG_FD ?? 'consumed';\n};\n")
        proc = start_node({"index.mjs": code}, "index.handler",
                          env={"_LAMBDA_TELEMETRY_LOG_FD": str(write_fd)}, pass_fds=(write_fd,))
        request_id = api.invoke({})
        assert api.posted().body == b'"consumed"'
        frames = read_frames(read_fd)
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert proc.stdout.text == "plain\n"
    [(frame_type, stamp, text)] = frames
    assert frame_type == 0xA55A0013  # text | WARN
    assert abs(stamp / 1e6 - time.time()) < 60
    assert LOG_LINE.match(text).groups()[1:] == (request_id, "WARN", "framed\nline\n")


# ----------------------------------------------------------------------------------- streaming

def test_streaming_handler(api, start_node):
    code = (
        "export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {\n"
        "  responseStream = awslambda.HttpResponseStream.from(responseStream, { statusCode: 201 });\n"
        "  responseStream.write('hello ');\n"
        "  responseStream.end(context.awsRequestId);\n"
        "});\n"
    )
    start_node({"index.mjs": code}, "index.handler")
    request_id = api.invoke({})
    posted = api.posted()
    assert posted.kind == "response"
    assert posted.headers["Lambda-Runtime-Function-Response-Mode"] == "streaming"
    assert posted.headers["Content-Type"] == "application/vnd.awslambda.http-integration-response"
    assert posted.body == b'{"statusCode":201}' + b"\0" * 8 + b"hello " + request_id.encode()
    api.invoke({})
    assert api.posted().kind == "response"


def test_streaming_handler_error_mid_stream(api, start_node):
    code = (
        "export const handler = awslambda.streamifyResponse(async (event, responseStream) => {\n"
        "  responseStream.write('partial');\n"
        "  throw new Error('stream broke');\n"
        "});\n"
    )
    start_node({"index.mjs": code}, "index.handler")
    api.invoke({})
    posted = api.posted()
    assert posted.body == b"partial"
    assert posted.trailers["Lambda-Runtime-Function-Error-Type"] == "Error"
    error = json.loads(base64.b64decode(posted.trailers["Lambda-Runtime-Function-Error-Body"]))
    assert (error["errorType"], error["errorMessage"]) == ("Error", "stream broke")


# ------------------------------------------------------------------------------------ init errors

def _init_error(api, proc):
    posted = api.posted()
    assert posted.kind == "init_error"
    assert proc.wait_exit() == 129
    assert all(path != API + "/invocation/next" for _, path in api.requests)
    body = posted.json()
    assert posted.headers["Lambda-Runtime-Function-Error-Type"] == body["errorType"]
    assert list(body) == ["errorType", "errorMessage", "trace"]
    # AWS logs the init failure as an uncaught exception, outside any invocation.
    [(rid, level, message)] = log_lines(proc.stdout.wait_eof())
    assert (rid, level) == ("undefined", "ERROR")
    assert message.startswith("Uncaught Exception \t{")
    logged = json.loads(message.split("\t", 1)[1])
    assert (logged["errorType"], logged["errorMessage"]) == (body["errorType"], body["errorMessage"])
    return body


def test_init_error_import_module(api, start_node):
    proc = start_node({}, "index.handler")
    body = _init_error(api, proc)
    message = "Error: Cannot find module 'index'\nRequire stack:\n- " + BOOTSTRAP
    assert (body["errorType"], body["errorMessage"]) == ("Runtime.ImportModuleError", message)
    assert body["trace"][:3] == ["Runtime.ImportModuleError: Error: Cannot find module 'index'",
                                 "Require stack:", "- " + BOOTSTRAP]
    assert body["trace"][3].startswith("    at ")


def test_init_error_missing_dependency(api, start_node):
    proc = start_node({"index.js": "require('not-installed-pkg');\nexports.handler = async () => 1;\n"},
                      "index.handler")
    body = _init_error(api, proc)
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"].startswith("Error: Cannot find module 'not-installed-pkg'\nRequire stack:\n- "
                                           + str(start_node.task_root / "index.js"))


def test_init_error_handler_undefined(api, start_node):
    proc = start_node({"index.mjs": "export const other = async () => 1;\n"}, "index.handler")
    body = _init_error(api, proc)
    assert (body["errorType"], body["errorMessage"]) == ("Runtime.HandlerNotFound",
                                                         "index.handler is undefined or not exported")
    assert body["trace"][0] == "Runtime.HandlerNotFound: index.handler is undefined or not exported"


def test_init_error_handler_not_a_function(api, start_node):
    proc = start_node({"index.js": "exports.handler = 42;\n"}, "index.handler")
    body = _init_error(api, proc)
    assert (body["errorType"], body["errorMessage"]) == ("Runtime.HandlerNotFound", "index.handler is not a function")


def test_init_error_syntax_commonjs(api, start_node):
    proc = start_node({"index.js": "exports.handler = async () => {\n  return 1;\n}}\n"}, "index.handler")
    body = _init_error(api, proc)
    assert (body["errorType"], body["errorMessage"]) == ("Runtime.UserCodeSyntaxError",
                                                         "SyntaxError: Unexpected token '}'")
    assert body["trace"][0] == "Runtime.UserCodeSyntaxError: SyntaxError: Unexpected token '}'"


def test_init_error_syntax_esm(api, start_node):
    proc = start_node({"index.mjs": "export const handler = async () => {\n  return 1;\n}}\n"}, "index.handler")
    body = _init_error(api, proc)
    assert (body["errorType"], body["errorMessage"]) == ("Runtime.UserCodeSyntaxError",
                                                         "SyntaxError: Unexpected token '}'")


def test_init_error_bad_handler(api, start_node):
    proc = start_node({"index.js": ""}, "index")
    body = _init_error(api, proc)
    assert (body["errorType"], body["errorMessage"]) == ("Runtime.MalformedHandlerName", "Bad handler")


def test_init_error_relative_handler(api, start_node):
    proc = start_node({}, "../x.handler")
    body = _init_error(api, proc)
    assert (body["errorType"], body["errorMessage"]) == (
        "Runtime.MalformedHandlerName",
        "'../x.handler' is not a valid handler name. Use absolute paths when specifying root directories "
        "in handler names.")


def test_init_error_exception_at_load(api, start_node):
    proc = start_node({"index.mjs": "throw new Error('startup fails');\nexport const handler = 1;\n"},
                      "index.handler")
    body = _init_error(api, proc)
    assert (body["errorType"], body["errorMessage"], body["trace"][0]) == \
        ("Error", "startup fails", "Error: startup fails")
