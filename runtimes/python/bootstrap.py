"""Lambent's Python runtime interface client.

Speaks the Lambda Runtime API (2018-06-01) the way AWS's own Python runtime interface client does, so
that user functions behave as on AWS. Stdlib only; started by the server as

    /usr/bin/python3 $LAMBDA_RUNTIME_DIR/bootstrap.py        (cwd = $LAMBDA_TASK_ROOT)

References are to /work/shared/docs/lambda-contract.md: §4.2 init error table, §5 Runtime API,
§6.3 handler rules, §6.4 context object, §6.5 log formats, §6.6 error JSON, §6.7 framed log fd.
"""

import decimal
import http.client
import importlib
import io
import json
import logging
import os
import socket
import sys
import time
import traceback

_THIS_FILE = os.path.abspath(__file__)
_RUNTIME_DIR = os.environ.get("LAMBDA_RUNTIME_DIR") or os.path.dirname(_THIS_FILE)
_TASK_ROOT = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()

# Request id of the invocation in progress; the logging filter stamps it on every record. Like AWS, it
# keeps the last id between invocations and is "" before the first one.
_current_request_id = None


# --------------------------------------------------------------------------------------------------
# Errors (§4.2, §6.6)
# --------------------------------------------------------------------------------------------------

class _Fault(Exception):
    """A runtime-detected failure with an AWS error type (Runtime.*) and a fixed message."""

    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


def _error_body(message, error_type, stack_trace, request_id):
    # Key order is part of the AWS wire shape: errorMessage, errorType, requestId, stackTrace.
    # requestId is "" for init errors.
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id or "",
        "stackTrace": stack_trace or [],
    }


def _error_from_exception(exc_info, request_id):
    """Build the error body for an arbitrary exception, with the user's frames only.

    AWS drops the leading frames that belong to the runtime itself, then formats the rest like
    traceback.format_list() over (file, line, function, text) tuples (no 3.11 column carets).
    """
    etype, value, tb = exc_info
    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    for i, frame in enumerate(frames):
        if os.path.abspath(frame[0]) != _THIS_FILE:
            frames = frames[i:]
            break
    return _error_body(str(value), etype.__name__, traceback.format_list(frames), request_id)


# --------------------------------------------------------------------------------------------------
# JSON marshalling
# --------------------------------------------------------------------------------------------------

def _runtime_minor_version():
    """Minor version of the python3.X runtime the function was created with, from AWS_EXECUTION_ENV."""
    env = os.environ.get("AWS_EXECUTION_ENV", "")
    prefix = "AWS_Lambda_python3."
    if env.startswith(prefix) and env[len(prefix):].isdigit():
        return int(env[len(prefix):])
    return None


class _Encoder(json.JSONEncoder):
    """json.dumps as the AWS client does it: default separators (", " and ": "), NaN allowed.

    From python3.12 on, AWS emits non-ASCII characters as raw UTF-8; older runtimes escape them as
    \\uXXXX. Decimal (e.g. from DynamoDB) is serialised as a number like AWS's simplejson encoder does
    (integral values exactly, others via float).
    """

    def __init__(self):
        minor = _runtime_minor_version()
        super().__init__(ensure_ascii=not (minor is not None and minor >= 12))

    def default(self, o):
        if isinstance(o, decimal.Decimal):
            if o.is_nan():
                return float("nan")
            if o.is_finite() and o == o.to_integral_value():
                return int(o)
            return float(o)
        return super().default(o)


_ENCODER = _Encoder()


def _to_json(value):
    return _ENCODER.encode(value)


def _unmarshal_event(body, content_type):
    # AWS parses the event only when it is JSON; any other content type is passed as raw bytes.
    # A missing Content-Type is treated as JSON (the contract's default, §5.2).
    media_type = (content_type or "application/json").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        return body
    try:
        return json.loads(body)
    except Exception as e:
        raise _Fault("Runtime.UnmarshalError", "Unable to unmarshal input: {}".format(e))


def _marshal_result(result):
    """Return (payload bytes, content type) for the /response POST."""
    if isinstance(result, bytes):
        return result, "application/unknown"  # AWS passes bytes through untouched
    try:
        return _to_json(result).encode("utf-8"), "application/json"
    except Exception as e:
        raise _Fault("Runtime.MarshalError", "Unable to marshal response: {}".format(e))


# --------------------------------------------------------------------------------------------------
# Log output (§6.5, §6.7)
# --------------------------------------------------------------------------------------------------

_LOG_FORMAT_JSON = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"

# Frame type words of the telemetry log fd: 0xA55A0003 (text) / 0xA55A0002 (JSON), OR-ed with the
# level mask of §6.7. Python's levels map DEBUG→DEBUG, INFO→INFO, WARNING→WARN, ERROR→ERROR,
# CRITICAL→FATAL; NOTSET means "no level".
_LEVEL_MASKS = {
    logging.NOTSET: 0x00,
    logging.DEBUG: 0x08,
    logging.INFO: 0x0C,
    logging.WARNING: 0x10,
    logging.ERROR: 0x14,
    logging.CRITICAL: 0x18,
}


def _frame_type(levelno, is_json):
    bucket = min(50, max(0, levelno)) // 10 * 10
    return (0xA55A0002 if is_json else 0xA55A0003) | _LEVEL_MASKS.get(bucket, 0)


class _StdoutSink:
    """Log records go to stdout, one write per record, each ending in a newline."""

    def write(self, message, frame_type=None):
        if not message.endswith("\n"):
            message += "\n"
        sys.stdout.write(message)


class _FramedSink:
    """Log records go to the telemetry fd as frames: type, length, timestamp (µs), UTF-8 text (§6.7)."""

    def __init__(self, fd):
        self._file = os.fdopen(fd, "wb", 0)

    def write(self, message, frame_type=None):
        data = message.encode("utf-8", "backslashreplace")
        header = (
            (frame_type or 0xA55A0003).to_bytes(4, "big")
            + len(data).to_bytes(4, "big")
            + (time.time_ns() // 1000).to_bytes(8, "big")
        )
        self._file.write(header + data)  # one write per frame, so frames never interleave


def _make_log_sink():
    # AWS's clients consume the variable so that child processes do not inherit it.
    fd = os.environ.pop("_LAMBDA_TELEMETRY_LOG_FD", None)
    if fd is not None:
        try:
            return _FramedSink(int(fd))
        except (ValueError, OSError):
            pass
    return _StdoutSink()


def _make_stdio_unbuffered():
    """Replace sys.stdout/sys.stderr with write-through streams (the equivalent of `python -u`).

    The server reads both pipes and must see a print() before the handler's response is posted.
    """
    for name, fd in (("stdout", 1), ("stderr", 2)):
        old = getattr(sys, name)
        try:
            old.flush()
            raw = io.open(fd, "wb", buffering=0, closefd=False)
        except (OSError, ValueError, AttributeError):
            continue
        errors = getattr(old, "errors", None) or "strict"
        setattr(sys, name, io.TextIOWrapper(raw, encoding="utf-8", errors=errors,
                                            line_buffering=False, write_through=True))


def _log_error(error, sink):
    """Log an error report like AWS: one record for the whole report (§6.5).

    Text: "[ERROR] <type>: <message>", "Traceback (most recent call last):", then the frame lines
    with their leading spaces replaced by U+00A0 NO-BREAK SPACE. JSON: the error body with a
    timestamp and level in front.
    """
    if _LOG_FORMAT_JSON:
        record = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()), "level": "ERROR"}
        record.update(error)
        sink.write(_to_json(record), _frame_type(logging.ERROR, True))
        return
    head = "[ERROR]"
    if error.get("errorType"):
        head += " " + error["errorType"]
    if error.get("errorMessage"):
        if error.get("errorType"):
            head += ":"
        head += " " + error["errorMessage"]
    lines = [head, "Traceback (most recent call last):"]
    for element in error.get("stackTrace") or []:
        if element == "":
            lines.append("")
            continue
        for line in element.splitlines():
            stripped = line.lstrip(" ")
            lines.append("\u00a0" * (len(line) - len(stripped)) + stripped)
    sink.write("\n".join(lines), _frame_type(logging.ERROR, False))


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _current_request_id or ""
        return True


class _LambdaLogHandler(logging.Handler):
    """The handler AWS pre-installs on the root logger: formats and hands each record to the sink."""

    def __init__(self, sink):
        super().__init__()
        self.sink = sink

    def emit(self, record):
        try:
            message = self.format(record)
            self.sink.write(message, getattr(record, "_lambent_frame_type", None)
                            or _frame_type(record.levelno, False))
        except Exception:
            self.handleError(record)


# Attributes of a LogRecord that are not "extra" fields for the JSON format.
_RESERVED_RECORD_FIELDS = {
    "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module", "exc_info",
    "exc_text", "stack_info", "lineno", "funcName", "created", "msecs", "relativeCreated", "thread",
    "threadName", "processName", "process", "aws_request_id", "tenant_id", "taskName",
    "_lambent_frame_type",
}


class _JsonLogFormatter(logging.Formatter):
    """AWS's JSON log record: timestamp, level, message, logger, requestId (+ exception fields,
    + the record's extra attributes); absent values are omitted."""

    def format(self, record):
        levelno = min(50, max(0, record.levelno)) // 10 * 10
        record._lambent_frame_type = _frame_type(levelno, True)
        stamp = time.gmtime(record.created)
        result = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", stamp)
            + ".%03dZ" % int(record.msecs),
            "level": logging.getLevelName(levelno),
            "message": record.getMessage(),
            "logger": record.name,
        }
        if record.exc_info:
            result["stackTrace"] = traceback.format_tb(record.exc_info[2])
            result["errorType"] = record.exc_info[0].__name__
            result["errorMessage"] = str(record.exc_info[1])
        result["requestId"] = getattr(record, "aws_request_id", None)
        if record.exc_info:
            result["location"] = "{}:{}:{}".format(record.pathname, record.funcName, record.lineno)
        tenant = getattr(record, "tenant_id", None)
        if tenant is not None:
            result["tenantId"] = tenant
        for key, value in record.__dict__.items():
            if key not in _RESERVED_RECORD_FIELDS and key not in result:
                result[key] = value
        result = {k: v for k, v in result.items() if v is not None}
        return json.dumps(result, ensure_ascii=False, default=str) + "\n"


def _setup_logging(sink):
    """Pre-configure the root logger as AWS does (§6.5).

    The root logger keeps Python's default level (WARNING), so logging.info() is hidden until the user
    calls setLevel(logging.INFO); AWS_LAMBDA_LOG_LEVEL (set with LogFormat=JSON) sets the level.
    A handler is already present, so a user's logging.basicConfig() is a no-op, as on AWS.
    """
    handler = _LambdaLogHandler(sink)
    if _LOG_FORMAT_JSON:
        handler.setFormatter(_JsonLogFormatter())
    else:
        formatter = logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
            "%Y-%m-%dT%H:%M:%S",
        )
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    # Lambda's levels are TRACE/DEBUG/INFO/WARN/ERROR/FATAL; Python has no TRACE.
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    level = {"TRACE": "DEBUG"}.get(level, level)
    if level in ("DEBUG", "INFO", "WARN", "WARNING", "ERROR", "FATAL", "CRITICAL"):
        root.setLevel(level)


# --------------------------------------------------------------------------------------------------
# Context object (§6.4)
# --------------------------------------------------------------------------------------------------

class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __repr__(self):
        return "CognitoIdentity([cognito_identity_id={},cognito_identity_pool_id={}])".format(
            self.cognito_identity_id, self.cognito_identity_pool_id)


class Client:
    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code",
                 "app_package_name")

    def __repr__(self):
        return "Client([{}])".format(",".join(
            "{}={}".format(k, getattr(self, k)) for k in self.__slots__))


class ClientContext:
    __slots__ = ("custom", "env", "client")

    def __repr__(self):
        return "ClientContext([custom={},env={},client={}])".format(self.custom, self.env, self.client)


def _object_from_dict(cls, values):
    """An instance of cls whose slots are filled from values (missing keys → None)."""
    if values is None:
        return None
    obj = cls()
    for field in cls.__slots__:
        setattr(obj, field, values.get(field) if isinstance(values, dict) else None)
    return obj


class LambdaContext:
    def __init__(self, request_id, deadline_ms, function_arn, client_context, cognito_identity,
                 tenant_id=None):
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")  # a string
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = function_arn
        self.tenant_id = tenant_id
        self.client_context = _object_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = _object_from_dict(Client, self.client_context.client)
        # identity is always an object; its fields are None without a Cognito identity header.
        self.identity = _object_from_dict(CognitoIdentity, {})
        if isinstance(cognito_identity, dict):
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        remaining = self._deadline_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0

    def log(self, msg):
        """One log record without level or request id (AWS writes it through its log sink)."""
        _LOG_SINK.write(str(msg))

    def __repr__(self):
        return (
            "LambdaContext([aws_request_id={},log_group_name={},log_stream_name={},function_name={},"
            "memory_limit_in_mb={},function_version={},invoked_function_arn={},client_context={},"
            "identity={},tenant_id={}])".format(
                self.aws_request_id, self.log_group_name, self.log_stream_name, self.function_name,
                self.memory_limit_in_mb, self.function_version, self.invoked_function_arn,
                self.client_context, self.identity, self.tenant_id)
        )


def _parse_json_header(value, name):
    if not value:
        return None
    try:
        return json.loads(value)
    except Exception as e:
        raise _Fault("Runtime.LambdaContextUnmarshalError",
                     "Unable to parse {} JSON: {}".format(name, e))


# --------------------------------------------------------------------------------------------------
# Runtime API client (§5)
# --------------------------------------------------------------------------------------------------

_API_PREFIX = "/2018-06-01/runtime"


class _RuntimeApi:
    """One keep-alive HTTP/1.1 connection to the Runtime API, reused for every call."""

    def __init__(self, address):
        self._address = address
        self._conn = None

    def _connect(self):
        conn = http.client.HTTPConnection(self._address)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._conn = conn

    def _call(self, method, path, body=None, headers=None):
        for attempt in (1, 2):
            if self._conn is None:
                self._connect()
            try:
                self._conn.request(method, path, body=body, headers=headers or {})
                response = self._conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed the idle keep-alive connection: the request never reached
                # it, so retrying once on a fresh connection is safe.
                self._conn.close()
                self._conn = None
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                self._conn.close()
                self._conn = None
            return response, data

    def next_invocation(self):
        response, body = self._call("GET", _API_PREFIX + "/invocation/next")
        if response.status != 200:
            raise RuntimeError("Runtime API /invocation/next returned {}: {!r}".format(
                response.status, body[:200]))
        return response.headers, body

    def post_response(self, request_id, payload, content_type):
        self._call("POST", "{}/invocation/{}/response".format(_API_PREFIX, request_id), payload,
                   {"Content-Type": content_type})

    def post_error(self, request_id, error):
        self._call("POST", "{}/invocation/{}/error".format(_API_PREFIX, request_id),
                   _to_json(error).encode("utf-8"), _error_headers(error))

    def post_init_error(self, error):
        self._call("POST", _API_PREFIX + "/init/error", _to_json(error).encode("utf-8"),
                   _error_headers(error))


def _error_headers(error):
    return {"Content-Type": "application/json",
            "Lambda-Runtime-Function-Error-Type": error["errorType"]}


# --------------------------------------------------------------------------------------------------
# Handler loading (§6.3) and the invoke loop
# --------------------------------------------------------------------------------------------------

def _setup_sys_path():
    """Task root first, then the layer directories, then the interpreter's own path (§6.1).

    The runtime directory is removed so that user modules cannot clash with the bootstrap.
    """
    def same(a, b):
        return os.path.realpath(a or ".") == os.path.realpath(b)

    # Layers are at /opt; without a mount namespace (no sandbox, not root) the server points here instead.
    opt = os.environ.get("_LAMBENT_OPT_DIR") or "/opt"
    version = "python{}.{}".format(*sys.version_info[:2])
    front = [_TASK_ROOT, "{}/python/lib/{}/site-packages".format(opt, version)]
    declared = _runtime_minor_version()
    if declared is not None and declared != sys.version_info[1]:
        # Layers built for the function's declared runtime (python3.Y) are searched as well.
        front.append("{}/python/lib/python3.{}/site-packages".format(opt, declared))
    front.append("{}/python".format(opt))
    own_dirs = (_RUNTIME_DIR, os.path.dirname(_THIS_FILE))
    rest = [p for p in sys.path
            if not any(same(p, d) for d in own_dirs) and not any(same(p, f) for f in front)]
    sys.path[:] = front + rest


def _load_handler(handler):
    """Import the handler's module and return the function, raising _Fault with AWS's messages."""
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as e:
        raise _Fault("Runtime.MalformedHandlerName", "Bad handler '{}': {}".format(handler, e))
    try:
        if module_name.split(".")[0] in sys.builtin_module_names:
            raise _Fault("Runtime.BuiltInModuleConflict",
                         "Cannot use built-in module {} as a handler module".format(module_name))
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as e:
        raise _Fault("Runtime.ImportModuleError",
                     "Unable to import module '{}': {}".format(module_name, e))
    except SyntaxError as e:
        trace = ['  File "{}" Line {}\n    {}'.format(e.filename, e.lineno, e.text)]
        raise _Fault("Runtime.UserCodeSyntaxError",
                     "Syntax error in module '{}': {}".format(module_name, e), trace)
    try:
        return getattr(module, function_name)
    except AttributeError:
        raise _Fault("Runtime.HandlerNotFound",
                     "Handler '{}' missing on module '{}'".format(function_name, module_name))


def _handle_invocation(api, handler, headers, body):
    request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
    error = None
    try:
        context = LambdaContext(
            request_id,
            int(headers.get("Lambda-Runtime-Deadline-Ms") or 0),
            headers.get("Lambda-Runtime-Invoked-Function-Arn"),
            _parse_json_header(headers.get("Lambda-Runtime-Client-Context"), "Client Context"),
            _parse_json_header(headers.get("Lambda-Runtime-Cognito-Identity"), "Cognito Identity"),
            headers.get("Lambda-Runtime-Aws-Tenant-Id"),
        )
        event = _unmarshal_event(body, headers.get("Content-Type"))
        payload, content_type = _marshal_result(handler(event, context))
    except _Fault as fault:
        error = _error_body(fault.message, fault.error_type, fault.trace, request_id)
    except Exception:
        error = _error_from_exception(sys.exc_info(), request_id)
    if error is not None:
        _log_error(error, _LOG_SINK)
        api.post_error(request_id, error)
    else:
        api.post_response(request_id, payload, content_type)


def _report_init_error(api, error):
    """Init failed: log like AWS, post /runtime/init/error, exit (the server discards the env)."""
    _log_error(error, _LOG_SINK)
    try:
        api.post_init_error(error)
    finally:
        sys.exit(1)


def main():
    global _LOG_SINK, _current_request_id
    _make_stdio_unbuffered()
    _LOG_SINK = _make_log_sink()
    _setup_sys_path()
    _setup_logging(_LOG_SINK)
    api = _RuntimeApi(os.environ["AWS_LAMBDA_RUNTIME_API"])

    try:
        handler = _load_handler(os.environ.get("_HANDLER", ""))
    except _Fault as fault:
        _report_init_error(api, _error_body(fault.message, fault.error_type, fault.trace, ""))
    except Exception:
        # An exception raised by the module at import time keeps its own type (§4.2).
        _report_init_error(api, _error_from_exception(sys.exc_info(), ""))

    while True:
        headers, body = api.next_invocation()
        _current_request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
        trace_id = headers.get("Lambda-Runtime-Trace-Id")
        if trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = trace_id
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        _handle_invocation(api, handler, headers, body)


_LOG_SINK = _StdoutSink()

if __name__ == "__main__":
    main()
