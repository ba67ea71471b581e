"""The CloudWatch Logs API subset (lambda-contract.md §10) against the real server, with boto3's `logs`
client and the real AWS CLI (`aws logs describe-log-groups|describe-log-streams|get-log-events|
filter-log-events|tail`), reading what real invocations of a Python function logged.

Run: LAMBENT_BIN=$PWD/build/lambent /usr/bin/python3 -m pytest tests/integration/test_logs_api.py -q
"""

from __future__ import annotations

import json
import os
import re
import selectors
import subprocess
import threading
import time
import uuid

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lambent_testlib import (ACCOUNT, AWS_CLI, REGION, ROLE, aws_cli_env, make_client, make_zip,
                             unique_name, wait_active)

import boto3

# The function logs flush about once a second; every wait polls against this deadline.
LOG_DEADLINE = 5.0
STREAM_NAME_RE = re.compile(r"^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$")
REPORT_RE = re.compile(r"^REPORT RequestId: [0-9a-f-]{36}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\t")

HANDLER = """\
def handler(event, context):
    tag = event["tag"]
    print(f"alpha {tag} first line")
    print(f"beta {tag} HARNESS-STDERR two words")
    print(f"gamma {tag} ERROR but Exiting")
    return {"stream": context.log_stream_name, "group": context.log_group_name,
            "request_id": context.aws_request_id}
"""


# --------------------------------------------------------------------------------------------
# helpers


_logs_session = None
_logs_lock = threading.Lock()


def logs_client(url: str):
    """boto3 `logs` client for the server, retries off."""
    global _logs_session
    with _logs_lock:
        if _logs_session is None:
            _logs_session = boto3.session.Session()
        return _logs_session.client(
            "logs", endpoint_url=url, region_name=REGION, aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 0}, connect_timeout=10, read_timeout=60))


def aws_logs_cmd(url: str, *args: str) -> list[str]:
    return [AWS_CLI, "logs", *args, "--endpoint-url", url, "--region", REGION]


def run_aws_logs(url: str, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    proc = subprocess.run(aws_logs_cmd(url, *args), capture_output=True, text=True, timeout=timeout,
                          env=aws_cli_env(os.environ.get("LAMBENT_TEST_AWS_HOME")),
                          stdin=subprocess.DEVNULL)
    if check:
        assert proc.returncode == 0, f"aws logs {' '.join(args)} failed ({proc.returncode}): {proc.stderr}"
    return proc


def invoke(lambda_client, name: str, tag: str) -> dict:
    res = lambda_client.invoke(FunctionName=name, Payload=json.dumps({"tag": tag}).encode())
    assert res["StatusCode"] == 200
    assert "FunctionError" not in res, res["Payload"].read()
    return json.loads(res["Payload"].read())


def all_events(logs, group: str, **kw) -> list[dict]:
    out = []
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group, **kw):
        out.extend(page["events"])
    return out


def invocation_lines(request_id: str, tag: str) -> list[str]:
    return [f"START RequestId: {request_id} Version: $LATEST", f"alpha {tag} first line",
            f"beta {tag} HARNESS-STDERR two words", f"gamma {tag} ERROR but Exiting",
            f"END RequestId: {request_id}"]


def wait_for_invocation_logs(logs, group: str, request_id: str, tag: str) -> list[dict]:
    """Poll FilterLogEvents until the invocation's START … END and REPORT lines are all there."""
    want = invocation_lines(request_id, tag)
    deadline = time.monotonic() + LOG_DEADLINE
    last: list[str] = []
    while True:
        try:
            events = all_events(logs, group, filterPattern=f'?"{request_id}" ?"{tag}"')
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            events = []
        last = [e["message"] for e in events]
        mine = [m for m in last if request_id in m or tag in m]
        if [m for m in mine if not m.startswith("REPORT")] == want and any(
                m.startswith(f"REPORT RequestId: {request_id}") for m in mine):
            return events
        if time.monotonic() > deadline:
            pytest.fail(f"the Logs API did not show invocation {request_id} within {LOG_DEADLINE}s; "
                        f"last saw {last!r}")
        time.sleep(0.1)


class LoggedFunction:
    def __init__(self, name: str, stream: str, request_id: str, tag: str):
        self.name = name
        self.group = f"/aws/lambda/{name}"
        self.stream = stream
        self.request_id = request_id
        self.tag = tag


@pytest.fixture(scope="module")
def logged(server) -> LoggedFunction:
    """A function invoked once, its START … REPORT lines visible through the Logs API."""
    lam = make_client(server.url)
    name = unique_name("logs")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": make_zip({"app.py": HANDLER})})
    wait_active(lam, name)
    tag = f"tag{uuid.uuid4().hex[:12]}"
    out = invoke(lam, name, tag)
    assert out["group"] == f"/aws/lambda/{name}"
    assert STREAM_NAME_RE.match(out["stream"]), out
    wait_for_invocation_logs(logs_client(server.url), f"/aws/lambda/{name}", out["request_id"], tag)
    return LoggedFunction(name, out["stream"], out["request_id"], tag)


# --------------------------------------------------------------------------------------------
# boto3


def test_filter_log_events_shows_the_whole_invocation(server, logged):
    logs = logs_client(server.url)
    events = all_events(logs, logged.group)
    messages = [e["message"] for e in events]
    start = messages.index(f"START RequestId: {logged.request_id} Version: $LATEST")
    assert messages[start:start + 5] == invocation_lines(logged.request_id, logged.tag)
    report = messages[start + 5]
    assert REPORT_RE.match(report) and logged.request_id in report, report
    for e in events:
        assert e["logStreamName"] == logged.stream
        assert isinstance(e["timestamp"], int) and isinstance(e["ingestionTime"], int)
        assert isinstance(e["eventId"], str) and e["eventId"]
    assert len({e["eventId"] for e in events}) == len(events)
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)
    assert abs(stamps[-1] / 1000 - time.time()) < 600


def test_filter_patterns_limit_and_pages(server, logged):
    logs = logs_client(server.url)
    tag = logged.tag

    def messages(pattern: str) -> list[str]:
        return [e["message"] for e in all_events(logs, logged.group, filterPattern=pattern)]

    assert messages(f'"HARNESS-STDERR" {tag}') == [f"beta {tag} HARNESS-STDERR two words"]
    assert messages(f'{tag} "two words"') == [f"beta {tag} HARNESS-STDERR two words"]
    assert messages(f"{tag} ?alpha ?gamma") == [f"alpha {tag} first line", f"gamma {tag} ERROR but Exiting"]
    assert messages(f"{tag} -Exiting -HARNESS") == [f"alpha {tag} first line"]
    assert messages("no-such-text-anywhere-0xdeadbeef") == []

    # limit + nextToken: pages of one event add up to the same events, each once.
    one = logs.filter_log_events(logGroupName=logged.group, limit=1)
    assert len(one["events"]) == 1 and "nextToken" in one
    paged, token = [], None
    for _ in range(100):
        kw = {"nextToken": token} if token else {}
        page = logs.filter_log_events(logGroupName=logged.group, limit=2, **kw)
        assert len(page["events"]) <= 2
        paged.extend(page["events"])
        token = page.get("nextToken")
        if not token:
            break
    assert [e["eventId"] for e in paged] == [e["eventId"] for e in all_events(logs, logged.group)]
    assert page["searchedLogStreams"][0]["logStreamName"] == logged.stream

    # Time window, stream selection.
    first = paged[0]["timestamp"]
    after = all_events(logs, logged.group, startTime=first + 1)
    assert all(e["timestamp"] >= first + 1 for e in after)
    assert all_events(logs, logged.group, endTime=first - 1) == []
    assert len(all_events(logs, logged.group, logStreamNames=[logged.stream])) == len(paged)
    assert all_events(logs, logged.group, logStreamNamePrefix="1999/") == []


def test_describe_log_groups(server, logged):
    logs = logs_client(server.url)
    res = logs.describe_log_groups(logGroupNamePrefix=logged.group)
    assert [g["logGroupName"] for g in res["logGroups"]] == [logged.group]
    g = res["logGroups"][0]
    assert g["arn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{logged.group}:*"
    assert isinstance(g["creationTime"], int) and abs(g["creationTime"] / 1000 - time.time()) < 3600
    assert g["storedBytes"] > 0
    assert "retentionInDays" not in g

    # A second group, then pages of one through the paginator.
    lam = make_client(server.url)
    other = unique_name("logs2")
    lam.create_function(FunctionName=other, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": make_zip({"app.py": HANDLER})})
    wait_active(lam, other)
    out = invoke(lam, other, "second")
    wait_for_invocation_logs(logs, f"/aws/lambda/{other}", out["request_id"], "second")
    names = []
    for page in logs.get_paginator("describe_log_groups").paginate(PaginationConfig={"PageSize": 1}):
        assert len(page["logGroups"]) <= 1
        names.extend(g["logGroupName"] for g in page["logGroups"])
    assert logged.group in names and f"/aws/lambda/{other}" in names
    assert names == sorted(names)


def test_describe_log_streams(server, logged):
    logs = logs_client(server.url)
    res = logs.describe_log_streams(logGroupName=logged.group)
    streams = res["logStreams"]
    assert [s["logStreamName"] for s in streams] == [logged.stream]
    s = streams[0]
    assert s["arn"] == (f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{logged.group}"
                        f":log-stream:{logged.stream}")
    assert s["firstEventTimestamp"] <= s["lastEventTimestamp"] <= s["lastIngestionTime"]
    assert isinstance(s["creationTime"], int) and s["storedBytes"] > 0
    by_time = logs.describe_log_streams(logGroupName=logged.group, orderBy="LastEventTime", descending=True)
    assert [x["logStreamName"] for x in by_time["logStreams"]] == [logged.stream]
    prefix = logged.stream[:11]
    assert logs.describe_log_streams(logGroupName=logged.group,
                                     logStreamNamePrefix=prefix)["logStreams"][0]["logStreamName"] == logged.stream


def test_get_log_events_tokens(server, logged):
    logs = logs_client(server.url)
    head = logs.get_log_events(logGroupName=logged.group, logStreamName=logged.stream, startFromHead=True)
    messages = [e["message"] for e in head["events"]]
    start = messages.index(f"START RequestId: {logged.request_id} Version: $LATEST")
    assert messages[start:start + 5] == invocation_lines(logged.request_id, logged.tag)
    assert set(head["events"][0]) == {"timestamp", "message", "ingestionTime"}
    fwd = head["nextForwardToken"]
    assert fwd.startswith("f/") and head["nextBackwardToken"].startswith("b/")
    # At the end, the same forward token comes back.
    again = logs.get_log_events(logGroupName=logged.group, logStreamName=logged.stream, nextToken=fwd)
    assert again["events"] == [] and again["nextForwardToken"] == fwd

    # Default: the newest events; backwards from there in pages of two reaches the first event.
    tail = logs.get_log_events(logGroupName=logged.group, logStreamName=logged.stream, limit=2)
    assert [e["message"] for e in tail["events"]] == messages[-2:]
    collected = [e["message"] for e in tail["events"]]
    token = tail["nextBackwardToken"]
    for _ in range(50):
        page = logs.get_log_events(logGroupName=logged.group, logStreamName=logged.stream, limit=2,
                                   nextToken=token)
        if not page["events"]:
            assert page["nextBackwardToken"] == token
            break
        collected = [e["message"] for e in page["events"]] + collected
        token = page["nextBackwardToken"]
    assert collected == messages


def test_errors(server, logged):
    logs = logs_client(server.url)
    with pytest.raises(ClientError) as ei:
        logs.filter_log_events(logGroupName="/aws/lambda/no-such-function-xyz")
    err = ei.value.response
    assert err["Error"]["Code"] == "ResourceNotFoundException"
    assert err["Error"]["Message"] == "The specified log group does not exist."
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as ei:
        logs.get_log_events(logGroupName=logged.group, logStreamName="2020/01/01/[$LATEST]nope")
    assert ei.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert ei.value.response["Error"]["Message"] == "The specified log stream does not exist."
    with pytest.raises(ClientError) as ei:
        logs.describe_log_streams(logGroupName=logged.group, orderBy="LastEventTime", logStreamNamePrefix="2")
    assert ei.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as ei:
        logs.get_log_events(logGroupName=logged.group, logStreamName=logged.stream, nextToken="f/1")
    assert ei.value.response["Error"]["Code"] == "InvalidParameterException"

    # The wire: AWS JSON 1.1 content type, __type in the body.
    res = server.raw("POST", "/", json.dumps({"logGroupName": "/aws/lambda/none"}),
                     headers={"X-Amz-Target": "Logs_20140328.DescribeLogStreams",
                              "Content-Type": "application/x-amz-json-1.1"})
    assert res.status == 400
    assert res.headers["content-type"] == "application/x-amz-json-1.1"
    assert res.json == {"__type": "ResourceNotFoundException",
                        "message": "The specified log group does not exist."}
    ok = server.raw("POST", "/", "{}", headers={"X-Amz-Target": "Logs_20140328.DescribeLogGroups",
                                                "Content-Type": "application/x-amz-json-1.1"})
    assert ok.status == 200 and ok.headers["content-type"] == "application/x-amz-json-1.1"
    assert logged.group in [g["logGroupName"] for g in ok.json["logGroups"]]


# --------------------------------------------------------------------------------------------
# AWS CLI


pytestmark_cli = pytest.mark.skipif(not os.access(AWS_CLI, os.X_OK), reason=f"no AWS CLI at {AWS_CLI}")


@pytestmark_cli
def test_aws_cli_describe_get_filter(server, logged):
    groups = json.loads(run_aws_logs(server.url, "describe-log-groups", "--log-group-name-prefix",
                                     logged.group, "--output", "json").stdout)
    assert [g["logGroupName"] for g in groups["logGroups"]] == [logged.group]

    streams = json.loads(run_aws_logs(server.url, "describe-log-streams", "--log-group-name", logged.group,
                                      "--output", "json").stdout)
    assert [s["logStreamName"] for s in streams["logStreams"]] == [logged.stream]

    got = json.loads(run_aws_logs(server.url, "get-log-events", "--log-group-name", logged.group,
                                  "--log-stream-name", logged.stream, "--start-from-head",
                                  "--output", "json").stdout)
    messages = [e["message"] for e in got["events"]]
    assert invocation_lines(logged.request_id, logged.tag)[1] in messages
    assert got["nextForwardToken"].startswith("f/")

    filtered = json.loads(run_aws_logs(server.url, "filter-log-events", "--log-group-name", logged.group,
                                       "--filter-pattern", f'"HARNESS-STDERR" {logged.tag}',
                                       "--output", "json").stdout)
    assert [e["message"] for e in filtered["events"]] == [f"beta {logged.tag} HARNESS-STDERR two words"]
    assert filtered["events"][0]["logStreamName"] == logged.stream

    text = run_aws_logs(server.url, "filter-log-events", "--log-group-name", logged.group,
                        "--filter-pattern", logged.request_id, "--query", "events[].message",
                        "--output", "text").stdout
    assert f"START RequestId: {logged.request_id}" in text and f"END RequestId: {logged.request_id}" in text

    missing = run_aws_logs(server.url, "filter-log-events", "--log-group-name", "/aws/lambda/nope-xyz",
                           check=False)
    assert missing.returncode == 254
    assert "ResourceNotFoundException" in missing.stderr
    assert "The specified log group does not exist." in missing.stderr


@pytestmark_cli
def test_aws_cli_tail(server, logged):
    out = run_aws_logs(server.url, "tail", logged.group, "--since", "1h", "--format", "short").stdout
    lines = out.splitlines()
    assert any(line.endswith(f"alpha {logged.tag} first line") for line in lines), out
    assert any(line.endswith(f"START RequestId: {logged.request_id} Version: $LATEST") for line in lines), out
    detailed = run_aws_logs(server.url, "tail", logged.group, "--since", "1h",
                            "--filter-pattern", f'"HARNESS-STDERR" {logged.tag}').stdout
    assert detailed.strip().endswith(f"{logged.stream} beta {logged.tag} HARNESS-STDERR two words"), detailed
    assert detailed.count("\n") == 1, detailed


@pytestmark_cli
def test_aws_cli_tail_follow_prints_new_events(server, logged):
    """`aws logs tail --follow` polls FilterLogEvents (every 5 s); a line logged after it started shows up."""
    proc = subprocess.Popen(aws_logs_cmd(server.url, "tail", logged.group, "--follow", "--format", "short"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=aws_cli_env(os.environ.get("LAMBENT_TEST_AWS_HOME")))
    reader = LineReader(proc)
    try:
        lines = reader.until(lambda line: f"alpha {logged.tag} first line" in line, timeout=60)
        assert any(f"alpha {logged.tag} first line" in line for line in lines)
        new_tag = f"follow{uuid.uuid4().hex[:10]}"
        invoke(make_client(server.url), logged.name, new_tag)
        lines = reader.until(lambda line: f"gamma {new_tag} ERROR but Exiting" in line, timeout=60)
        mine = [line for line in lines if new_tag in line]
        assert [line.split(" ", 1)[1] for line in mine] == [
            f"alpha {new_tag} first line", f"beta {new_tag} HARNESS-STDERR two words",
            f"gamma {new_tag} ERROR but Exiting"]
    finally:
        proc.kill()
        proc.wait(10)
        proc.stdout.close()


class LineReader:
    """Lines of a child's stdout with deadlines (unbuffered reads, so select() never misses a line)."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.buffer = b""
        self.lines: list[str] = []

    def until(self, done, timeout: float) -> list[str]:
        """Read lines until `done(line)` holds; fail after `timeout` with what was read."""
        fd = self.proc.stdout.fileno()
        sel = selectors.DefaultSelector()
        sel.register(fd, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        try:
            while True:
                while b"\n" in self.buffer:
                    raw, _, self.buffer = self.buffer.partition(b"\n")
                    line = raw.decode(errors="replace")
                    self.lines.append(line)
                    if done(line):
                        return self.lines
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    pytest.fail(f"no matching line within {timeout}s; read {self.lines!r}")
                if not sel.select(remaining):
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    pytest.fail(f"process exited ({self.proc.poll()}) before the line appeared; "
                                f"read {self.lines!r}")
                self.buffer += chunk
        finally:
            sel.close()
