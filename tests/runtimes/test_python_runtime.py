"""runtimes/python/bootstrap.py against a stub Runtime API (contract §4.2, §5, §6.3-§6.7)."""

import json
import os
import re
import time

from conftest import API, read_frames

NBSP = "\u00a0"
TEXT_LOG = re.compile(r"^\[(\w+)\]\t(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\t([^\t]*)\t(.*)$")


def test_success_posts_json_dumps_bytes(api, start_python):
    proc = start_python({"app.py": "def handler(event, context):\n"
                                   "    return {'hello': event['name'], 'n': 1, 'ok': True}\n"},
                        "app.handler")
    request_id = api.invoke({"name": "world"})
    posted = api.posted()
    assert posted.kind == "response"
    assert posted.request_id == request_id
    # AWS serialises with json.dumps defaults: ", " and ": " separators.
    assert posted.body == b'{"hello": "world", "n": 1, "ok": true}'
    assert posted.headers["Content-Type"] == "application/json"
    assert proc.stdout.text == ""


def test_none_result_is_null(api, start_python):
    start_python({"app.py": "def handler(event, context):\n    pass\n"}, "app.handler")
    api.invoke({})
    assert api.posted().body == b"null"


def test_scalar_events_and_results(api, start_python):
    start_python({"app.py": "def handler(event, context):\n    return event\n"}, "app.handler")
    for event, expected in ((b'"str"', b'"str"'), (b"42", b"42"), (b"null", b"null"), (b"[1,2]", b"[1, 2]")):
        api.invoke(event)
        assert api.posted().body == expected


def test_unicode_raw_utf8_from_python312(api, start_python):
    start_python({"app.py": "def handler(event, context):\n    return {'echo': event['s'] + ' ✓'}\n"},
                 "app.handler")
    api.invoke({"s": "héllo 😀 世界"})
    assert api.posted().body == '{"echo": "héllo 😀 世界 ✓"}'.encode("utf-8")


def test_unicode_escaped_before_python312(api, start_python):
    start_python({"app.py": "def handler(event, context):\n    return event\n"}, "app.handler",
                 env={"AWS_EXECUTION_ENV": "AWS_Lambda_python3.11"})
    api.invoke({"s": "é😀"})
    assert api.posted().body == b'{"s": "\\u00e9\\ud83d\\ude00"}'


def test_decimal_result_is_a_number(api, start_python):
    start_python({"app.py": "from decimal import Decimal\n"
                            "def handler(event, context):\n"
                            "    return {'a': Decimal('10'), 'b': Decimal('1.5')}\n"}, "app.handler")
    api.invoke({})
    assert api.posted().body == b'{"a": 10, "b": 1.5}'


def test_context_fields(api, start_python):
    code = (
        "import json, os\n"
        "def handler(event, context):\n"
        "    return {\n"
        "        'aws_request_id': context.aws_request_id,\n"
        "        'invoked_function_arn': context.invoked_function_arn,\n"
        "        'function_name': context.function_name,\n"
        "        'function_version': context.function_version,\n"
        "        'memory_limit_in_mb': context.memory_limit_in_mb,\n"
        "        'log_group_name': context.log_group_name,\n"
        "        'log_stream_name': context.log_stream_name,\n"
        "        'identity': [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],\n"
        "        'client_context': context.client_context,\n"
        "        'remaining': context.get_remaining_time_in_millis(),\n"
        "        'trace': os.environ.get('_X_AMZN_TRACE_ID'),\n"
        "    }\n"
    )
    start_python({"app.py": code}, "app.handler")
    deadline = int(time.time() * 1000) + 5000
    request_id = api.invoke({}, deadline_ms=deadline, trace_id="Root=1-abc;Parent=def;Sampled=0",
                            function_arn="arn:aws:lambda:us-east-1:000000000000:function:fn:prod")
    result = api.posted().json()
    remaining = result.pop("remaining")
    assert 0 < remaining <= 5000
    assert result == {
        "aws_request_id": request_id,
        "invoked_function_arn": "arn:aws:lambda:us-east-1:000000000000:function:fn:prod",
        "function_name": "fn",
        "function_version": "$LATEST",
        "memory_limit_in_mb": "128",  # a string, as on AWS
        "log_group_name": "/aws/lambda/fn",
        "log_stream_name": "2024/05/01/[$LATEST]8f2b1c0d4e5f47a6b7c8d9e0f1a2b3c4",
        "identity": [None, None],
        "client_context": None,
        "trace": "Root=1-abc;Parent=def;Sampled=0",
    }


def test_remaining_time_is_zero_after_the_deadline(api, start_python):
    start_python({"app.py": "def handler(event, context):\n"
                            "    return context.get_remaining_time_in_millis()\n"}, "app.handler")
    api.invoke({}, deadline_ms=int(time.time() * 1000) - 1000)
    assert api.posted().body == b"0"


def test_client_context_and_identity(api, start_python):
    code = (
        "def handler(event, context):\n"
        "    cc = context.client_context\n"
        "    return {'app_title': cc.client.app_title, 'installation_id': cc.client.installation_id,\n"
        "            'app_package_name': cc.client.app_package_name,\n"
        "            'custom': cc.custom, 'env': cc.env,\n"
        "            'identity': [context.identity.cognito_identity_id,\n"
        "                         context.identity.cognito_identity_pool_id]}\n"
    )
    start_python({"app.py": code}, "app.handler")
    api.invoke({}, client_context={"client": {"app_title": "demo", "installation_id": "i-1"},
                                   "custom": {"k": "v"}, "env": {"platform": "linux"}},
               cognito_identity={"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"})
    assert api.posted().json() == {
        "app_title": "demo", "installation_id": "i-1", "app_package_name": None,
        "custom": {"k": "v"}, "env": {"platform": "linux"}, "identity": ["id-1", "pool-1"],
    }


def test_exception_posts_aws_error_json_and_logs_traceback(api, start_python):
    proc = start_python({"app.py": "def handler(event, context):\n"
                                   "    x = 1\n"
                                   "    raise Exception(\"boom\")\n"}, "app.handler")
    request_id = api.invoke({})
    posted = api.posted()
    assert posted.kind == "error"
    assert posted.request_id == request_id
    assert posted.headers["Lambda-Runtime-Function-Error-Type"] == "Exception"
    app = str(start_python.task_root / "app.py")
    assert posted.body == json.dumps({
        "errorMessage": "boom",
        "errorType": "Exception",
        "requestId": request_id,
        "stackTrace": ['  File "{}", line 3, in handler\n    raise Exception("boom")\n'.format(app)],
    }).encode()
    assert list(posted.json()) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    # One write: the header line, the Traceback line and the frames with NBSP indentation.
    assert proc.stdout.sync().decode() == (
        "[ERROR] Exception: boom\n"
        "Traceback (most recent call last):\n"
        + NBSP * 2 + 'File "{}", line 3, in handler\n'.format(app)
        + NBSP * 4 + 'raise Exception("boom")\n'
    )


def test_each_log_record_is_one_write(api, start_python):
    # The module wraps sys.stdout to mark the start of every write() with \x01.
    code = (
        "import logging, sys\n"
        "class Marking:\n"
        "    def __init__(self, inner):\n"
        "        self.inner = inner\n"
        "    def write(self, text):\n"
        "        return self.inner.write('\\x01' + text)\n"
        "    def flush(self):\n"
        "        self.inner.flush()\n"
        "sys.stdout = Marking(sys.stdout)\n"
        "def handler(event, context):\n"
        "    logging.warning('one\\ntwo')\n"
        "    raise Exception('boom')\n"
    )
    proc = start_python({"app.py": code}, "app.handler")
    api.invoke({})
    api.posted()
    writes = proc.stdout.text.split("\x01")
    assert writes[0] == ""
    assert len(writes) == 3
    assert writes[1].startswith("[WARNING]\t") and writes[1].endswith("\tone\ntwo\n")
    assert writes[2].startswith("[ERROR] Exception: boom\nTraceback (most recent call last):\n" + NBSP * 2)


def test_custom_exception_type_and_nested_frames(api, start_python):
    code = (
        "class MyError(ValueError):\n"
        "    pass\n"
        "def inner():\n"
        "    raise MyError('bad value')\n"
        "def handler(event, context):\n"
        "    inner()\n"
    )
    start_python({"app.py": code}, "app.handler")
    api.invoke({})
    posted = api.posted()
    assert posted.headers["Lambda-Runtime-Function-Error-Type"] == "MyError"
    body = posted.json()
    assert body["errorType"] == "MyError"
    assert body["errorMessage"] == "bad value"
    assert [frame.split(", in ")[1].split("\n")[0] for frame in body["stackTrace"]] == ["handler", "inner"]


def test_marshal_error(api, start_python):
    start_python({"app.py": "def handler(event, context):\n    return {1, 2}\n"}, "app.handler")
    request_id = api.invoke({})
    posted = api.posted()
    assert posted.kind == "error"
    assert posted.headers["Lambda-Runtime-Function-Error-Type"] == "Runtime.MarshalError"
    assert posted.json() == {
        "errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
        "errorType": "Runtime.MarshalError", "requestId": request_id, "stackTrace": []}


def test_unmarshal_error(api, start_python):
    proc = start_python({"app.py": "def handler(event, context):\n    return event\n"}, "app.handler")
    request_id = api.invoke(b"{not json")
    posted = api.posted()
    assert posted.headers["Lambda-Runtime-Function-Error-Type"] == "Runtime.UnmarshalError"
    assert posted.json() == {
        "errorMessage": "Unable to unmarshal input: Expecting property name enclosed in double quotes: "
                        "line 1 column 2 (char 1)",
        "errorType": "Runtime.UnmarshalError", "requestId": request_id, "stackTrace": []}
    assert proc.stdout.text.startswith("[ERROR] Runtime.UnmarshalError: Unable to unmarshal input: ")
    # The environment stays usable.
    api.invoke({"a": 1})
    assert api.posted().body == b'{"a": 1}'


def test_module_state_persists_across_invocations_on_one_connection(api, start_python):
    code = "count = 0\ndef handler(event, context):\n    global count\n    count += 1\n    return count\n"
    start_python({"app.py": code}, "app.handler")
    for expected in (b"1", b"2", b"3"):
        api.invoke({})
        assert api.posted().body == expected
    assert api.connections == 1  # one keep-alive connection for every call


def test_dir_file_handler_and_package_module(api, start_python):
    start_python({"src/lib/app.py": "def main(event, context):\n    return 'dir'\n"}, "src/lib/app.main")
    api.invoke({})
    assert api.posted().body == b'"dir"'


def test_dotted_package_handler(api, start_python):
    start_python({"pkg/__init__.py": "", "pkg/mod.py": "def fn(event, context):\n    return __name__\n"},
                 "pkg.mod.fn")
    api.invoke({})
    assert api.posted().body == b'"pkg.mod"'


def test_sys_path_order_and_no_runtime_dir(api, start_python):
    code = "import sys\ndef handler(event, context):\n    return sys.path\n"
    start_python({"app.py": code}, "app.handler")
    api.invoke({})
    path = api.posted().json()
    version = "python3.11"
    assert path[0] == str(start_python.task_root)
    assert path[1] == "/opt/python/lib/{}/site-packages".format(version)
    assert path[2] == "/opt/python/lib/python3.12/site-packages"  # the declared runtime's layer dir
    assert path[3] == "/opt/python"
    runtime_dir = os.path.realpath(os.path.join(os.path.dirname(__file__), "../../runtimes/python"))
    assert all(os.path.realpath(p or ".") != runtime_dir for p in path)


def test_user_module_named_like_bootstrap_internals(api, start_python):
    # A user module called "bootstrap" is the user's, not the runtime's file.
    start_python({"bootstrap.py": "def handler(event, context):\n    return 'mine'\n"},
                 "bootstrap.handler")
    api.invoke({})
    assert api.posted().body == b'"mine"'


def test_print_is_flushed_before_the_response_is_posted(api, start_python):
    seen = []
    api.before_reply = lambda posted: seen.append(proc.stdout.sync())
    proc = start_python({"app.py": "def handler(event, context):\n"
                                   "    print('partial line', end='')\n"
                                   "    import sys; sys.stderr.write('to stderr')\n"
                                   "    return 1\n"}, "app.handler")
    api.invoke({})
    api.posted()
    assert seen == [b"partial line"]
    assert proc.stderr.text == "to stderr"


# ---------------------------------------------------------------------------------------- logging

def test_logging_format_and_default_level(api, start_python):
    code = (
        "import logging\n"
        "logger = logging.getLogger()\n"
        "def handler(event, context):\n"
        "    logging.info('hidden by default')\n"
        "    logging.warning('warned %s', 'here')\n"
        "    logger.setLevel(logging.INFO)\n"
        "    logger.info('now visible')\n"
        "    logging.getLogger('child').error('from child')\n"
        "    return None\n"
    )
    proc = start_python({"app.py": code}, "app.handler")
    request_id = api.invoke({})
    api.posted()
    lines = proc.stdout.text.splitlines()
    parsed = [TEXT_LOG.match(line).groups() for line in lines]
    assert [(level, rid, msg) for level, _, rid, msg in parsed] == [
        ("WARNING", request_id, "warned here"),
        ("INFO", request_id, "now visible"),
        ("ERROR", request_id, "from child"),
    ]
    stamp = time.strptime(parsed[0][1][:19], "%Y-%m-%dT%H:%M:%S")
    assert abs(time.mktime(stamp) - time.mktime(time.gmtime())) < 60  # UTC


def test_context_log_and_repr(api, start_python):
    code = ("def handler(event, context):\n"
            "    context.log('via context.log')\n"
            "    return repr(context)\n")
    proc = start_python({"app.py": code}, "app.handler")
    request_id = api.invoke({})
    text = api.posted().json()
    assert text.startswith("LambdaContext([aws_request_id={},log_group_name=/aws/lambda/fn,".format(request_id))
    assert proc.stdout.text == "via context.log\n"


def test_logging_before_first_invoke_has_empty_request_id(api, start_python):
    proc = start_python({"app.py": "import logging\nlogging.warning('at init')\n"
                                   "def handler(e, c):\n    return 1\n"}, "app.handler")
    text = proc.stdout.wait_for("at init")
    assert re.fullmatch(r"\[WARNING\]\t\S+Z\t\tat init\n", text)


def test_aws_lambda_log_level(api, start_python):
    code = "import logging\ndef handler(e, c):\n    logging.debug('dbg')\n    logging.info('inf')\n"
    proc = start_python({"app.py": code}, "app.handler", env={"AWS_LAMBDA_LOG_LEVEL": "DEBUG"})
    api.invoke({})
    api.posted()
    assert [line.split("\t")[3] for line in proc.stdout.text.splitlines()] == ["dbg", "inf"]


def test_json_log_format(api, start_python):
    code = (
        "import logging\n"
        "def handler(event, context):\n"
        "    logging.info('hi %s', 'there')\n"
        "    logging.debug('filtered')\n"
        "    raise RuntimeError('bad')\n"
    )
    proc = start_python({"app.py": code}, "app.handler",
                        env={"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO"})
    request_id = api.invoke({})
    api.posted()
    lines = proc.stdout.text.splitlines()
    assert len(lines) == 2
    info = json.loads(lines[0])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", info.pop("timestamp"))
    assert info == {"level": "INFO", "message": "hi there", "logger": "root", "requestId": request_id}
    assert list(json.loads(lines[0])) == ["timestamp", "level", "message", "logger", "requestId"]
    error = json.loads(lines[1])
    assert list(error)[:6] == ["timestamp", "level", "errorMessage", "errorType", "requestId", "stackTrace"]
    assert (error["level"], error["errorType"], error["errorMessage"]) == ("ERROR", "RuntimeError", "bad")


def test_telemetry_log_fd_frames(api, start_python):
    read_fd, write_fd = os.pipe()
    try:
        code = ("import logging, os\n"
                "def handler(event, context):\n"
                "    print('plain print')\n"
                "    logging.warning('framed\\nline')\n"
                "    return os.environ.get('_LAMBDA_TELEMETRY_LOG_FD')\n")
        proc = start_python({"app.py": code}, "app.handler",
                            env={"_LAMBDA_TELEMETRY_LOG_FD": str(write_fd)}, pass_fds=(write_fd,))
        request_id = api.invoke({})
        assert api.posted().body == b"null"  # the variable is consumed by the runtime
        frames = read_frames(read_fd)
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert proc.stdout.text == "plain print\n"  # print() stays on stdout
    assert len(frames) == 1
    frame_type, stamp, text = frames[0]
    assert frame_type == 0xA55A0013  # text | WARN
    assert abs(stamp / 1e6 - time.time()) < 60
    assert TEXT_LOG.match(text.split("\n")[0]).groups()[2] == request_id
    assert text.endswith("\tframed\nline\n")


# ------------------------------------------------------------------------------------ init errors

def _init_error(api, proc):
    posted = api.posted()
    assert posted.kind == "init_error"
    assert proc.wait_exit() == 1
    assert all(path != API + "/invocation/next" for _, path in api.requests)
    return posted


def test_init_error_import_module(api, start_python):
    proc = start_python({}, "app.handler")
    posted = _init_error(api, proc)
    assert posted.headers["Lambda-Runtime-Function-Error-Type"] == "Runtime.ImportModuleError"
    assert posted.body == (b'{"errorMessage": "Unable to import module \'app\': No module named \'app\'", '
                           b'"errorType": "Runtime.ImportModuleError", "requestId": "", "stackTrace": []}')
    assert proc.stdout.wait_eof() == (
        "[ERROR] Runtime.ImportModuleError: Unable to import module 'app': No module named 'app'\n"
        "Traceback (most recent call last):\n")


def test_init_error_missing_dependency(api, start_python):
    proc = start_python({"app.py": "import requests_not_installed\n"}, "app.handler")
    body = _init_error(api, proc).json()
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == "Unable to import module 'app': No module named 'requests_not_installed'"


def test_init_error_dir_handler_import(api, start_python):
    proc = start_python({}, "src/app.handler")
    body = _init_error(api, proc).json()
    assert body["errorMessage"] == "Unable to import module 'src/app': No module named 'src'"


def test_init_error_handler_not_found(api, start_python):
    proc = start_python({"app.py": "def other(e, c):\n    pass\n"}, "app.main")
    posted = _init_error(api, proc)
    assert posted.headers["Lambda-Runtime-Function-Error-Type"] == "Runtime.HandlerNotFound"
    assert posted.json() == {"errorMessage": "Handler 'main' missing on module 'app'",
                             "errorType": "Runtime.HandlerNotFound", "requestId": "", "stackTrace": []}


def test_init_error_malformed_handler(api, start_python):
    proc = start_python({"app.py": ""}, "app")
    posted = _init_error(api, proc)
    assert posted.headers["Lambda-Runtime-Function-Error-Type"] == "Runtime.MalformedHandlerName"
    assert posted.json()["errorMessage"] == "Bad handler 'app': not enough values to unpack (expected 2, got 1)"


def test_init_error_builtin_module_conflict(api, start_python):
    proc = start_python({}, "sys.handler")
    posted = _init_error(api, proc)
    assert posted.headers["Lambda-Runtime-Function-Error-Type"] == "Runtime.BuiltInModuleConflict"
    assert posted.json()["errorMessage"] == "Cannot use built-in module sys as a handler module"


def test_init_error_syntax(api, start_python):
    proc = start_python({"app.py": "def handler(event, context):\n    return 1\nx = = 1\n"}, "app.handler")
    posted = _init_error(api, proc)
    assert posted.headers["Lambda-Runtime-Function-Error-Type"] == "Runtime.UserCodeSyntaxError"
    body = posted.json()
    assert body["errorMessage"] == "Syntax error in module 'app': invalid syntax (app.py, line 3)"
    assert body["stackTrace"] == ['  File "{}" Line 3\n    x = = 1\n'.format(start_python.task_root / "app.py")]
    assert proc.stdout.wait_eof().startswith(
        "[ERROR] Runtime.UserCodeSyntaxError: Syntax error in module 'app': invalid syntax (app.py, line 3)\n"
        "Traceback (most recent call last):\n" + NBSP * 2 + "File ")


def test_init_error_exception_at_import_keeps_its_type(api, start_python):
    proc = start_python({"app.py": "raise Exception('Runtime startup fails')\n"}, "app.handler")
    posted = _init_error(api, proc)
    assert posted.headers["Lambda-Runtime-Function-Error-Type"] == "Exception"
    body = posted.json()
    assert (body["errorMessage"], body["errorType"], body["requestId"]) == \
        ("Runtime startup fails", "Exception", "")
    assert body["stackTrace"][-1] == '  File "{}", line 1, in <module>\n    raise Exception(\'Runtime startup fails\')\n' \
        .format(start_python.task_root / "app.py")
    assert not any("bootstrap.py" in frame for frame in body["stackTrace"])
    assert proc.stdout.wait_eof().startswith("[ERROR] Exception: Runtime startup fails\n"
                                             "Traceback (most recent call last):\n")
