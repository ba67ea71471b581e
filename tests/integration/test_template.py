"""`lambent serve --template`: a SAM template deployed as ordinary functions (checked with boto3 and the
AWS CLI), its Schedule events on an accelerated clock, Api/HttpApi routes over HTTP, S3 notifications
(AWS and MinIO shapes) and the --watch hot reload."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from lambent_testlib import REGION, lambent_binary, make_client, run_aws, wait_until
from test_logs_api import logs_client

COUNTER_CODE = '''import json, os
MARKER = "{marker}"
COUNT = 0

def handler(event, context):
    global COUNT
    COUNT += 1
    print("EVENT " + json.dumps(event))
    body = {{"count": COUNT, "marker": MARKER,
             "env": {{k: os.environ.get(k) for k in ("SHARED", "STAGE", "GREETING", "OTHER_ARN", "MODE", "JOINED")}}}}
    if isinstance(event, dict) and ("httpMethod" in event or event.get("version") == "2.0"):
        body["event"] = event
        return {{"statusCode": 201, "headers": {{"x-test": "yes"}}, "body": json.dumps(body)}}
    return body
'''

TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: dev
  Greeting:
    Type: String
    Default: hello
Conditions:
  IsTest: !Equals [!Ref Stage, test]
Globals:
  Function:
    Runtime: python3.12
    Timeout: 10
    MemorySize: 256
    Environment:
      Variables:
        SHARED: from-globals
        STAGE: !Ref Stage
Resources:
  Counter:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: counter/
      Handler: app.handler
      Environment:
        Variables:
          GREETING: !Sub '${Greeting}-${AWS::Region}'
          OTHER_ARN: !GetAtt Other.Arn
          MODE: !If [IsTest, testing, normal]
          JOINED: !Join [':', [a, !Ref 'AWS::AccountId']]
      Events:
        Get:
          Type: Api
          Properties: {Path: '/items/{id}', Method: get}
        Root:
          Type: Api
          Properties: {Path: '/items', Method: post}
        V2:
          Type: HttpApi
          Properties: {Path: '/v2/{proxy+}', Method: ANY}
        Upload:
          Type: S3
          Properties:
            Bucket: !Ref Uploads
            Events: s3:ObjectCreated:*
            Filter: {S3Key: {Rules: [{Name: prefix, Value: in/}]}}
        Queue:
          Type: SQS
          Properties: {Queue: 'arn:aws:sqs:us-east-1:000000000000:q'}
  Ticker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ticker/
      Handler: app.handler
      Events:
        Tick:
          Type: Schedule
          Properties: {Schedule: rate(1 minute), Name: tick-rule}
        Cron:
          Type: ScheduleV2
          Properties: {ScheduleExpression: 'cron(* * * * ? *)', Input: '{"from": "cron"}'}
  Other:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub 'other-${Stage}'
      CodeUri: other/
      Handler: app.handler
      AutoPublishAlias: live
      ReservedConcurrentExecutions: 5
      ProvisionedConcurrencyConfig: {ProvisionedConcurrentExecutions: 1}
      FunctionUrlConfig: {AuthType: NONE}
      EventInvokeConfig: {MaximumRetryAttempts: 0}
  Alpha:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: alpha/, Handler: app.handler}
  Beta:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: beta/, Handler: app.handler}
  Inline:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: arn:aws:iam::000000000000:role/inline-role
      Code:
        ZipFile: |
          def handler(event, context):
              return "inline"
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties:
      LayerName: shared-lib
      ContentUri: shared-layer/
      CompatibleRuntimes: [python3.12]
      Description: !Sub 'shared for ${Stage}'
  Layered:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: layered/
      Handler: app.handler
      Layers: [!Ref Shared]
  Uploads:
    Type: AWS::S3::Bucket
  Table:
    Type: AWS::DynamoDB::Table
"""

TICKER_CODE = '''import json

def handler(event, context):
    print("EVENT " + json.dumps(event))
    return "ok"
'''


def write_project(root: Path) -> Path:
    for name in ("counter", "other", "alpha", "beta"):
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name / "app.py").write_text(COUNTER_CODE.format(marker="v1"))
    (root / "ticker").mkdir(parents=True, exist_ok=True)
    (root / "ticker" / "app.py").write_text(TICKER_CODE)
    (root / "shared-layer" / "python").mkdir(parents=True, exist_ok=True)
    (root / "shared-layer" / "python" / "greet.py").write_text('WORD = "from the layer"\n')
    (root / "layered").mkdir(parents=True, exist_ok=True)
    (root / "layered" / "app.py").write_text("import greet\n\ndef handler(event, context):\n    return greet.WORD\n")
    (root / "template.yaml").write_text(TEMPLATE)
    return root / "template.yaml"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return write_project(tmp_path_factory.mktemp("sam-project"))


@pytest.fixture(scope="module")
def stack(module_factory, project):
    return module_factory.new("template", extra_args=[
        "--template", str(project), "--parameter-overrides", "Stage=test", "--watch",
        "--api-listen", "127.0.0.1:0", "--schedule-clock-rate", "30"])


@pytest.fixture(scope="module")
def api_url(stack) -> str:
    m = re.search(r"^api routes on (http://127\.0\.0\.1:\d+)$", stack.stdout_text(), re.M)
    assert m, f"no 'api routes on' line: {stack.stdout_text()!r}"
    return m.group(1)


def invoke(client, name, qualifier=None):
    kw = {"Qualifier": qualifier} if qualifier else {}
    out = client.invoke(FunctionName=name, LogType="Tail", **kw)
    return json.loads(out["Payload"].read()), base64.b64decode(out["LogResult"]).decode()


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body.encode() if isinstance(body, str) else body, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, dict(res.headers), res.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def function_events(url: str, name: str) -> list:
    logs = logs_client(url)
    out = []
    kw = {}
    for _ in range(50):
        try:
            page = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}", **kw)
        except logs.exceptions.ResourceNotFoundException:
            return out  # the group appears with the function's first invocation

        for e in page["events"]:
            msg = e["message"]
            if "EVENT " in msg:
                out.append(json.loads(msg.split("EVENT ", 1)[1]))
        if not page.get("nextToken"):
            break
        kw["nextToken"] = page["nextToken"]
    return out


# --------------------------------------------------------------------------------------------


def test_functions_are_deployed_with_parameters_globals_and_intrinsics(stack):
    client = make_client(stack.url)
    cfg = client.get_function(FunctionName="Counter")["Configuration"]
    assert cfg["Runtime"] == "python3.12"
    assert cfg["MemorySize"] == 256 and cfg["Timeout"] == 10  # Globals
    env = cfg["Environment"]["Variables"]
    assert env["SHARED"] == "from-globals"
    assert env["STAGE"] == "test"  # --parameter-overrides
    assert env["GREETING"] == f"hello-{REGION}"  # !Sub with a parameter default and AWS::Region
    assert env["OTHER_ARN"] == f"arn:aws:lambda:{REGION}:000000000000:function:other-test"  # !GetAtt
    assert env["MODE"] == "testing"  # !If on a condition of the overridden parameter
    assert env["JOINED"] == "a:000000000000"  # !Join with AWS::AccountId

    body, _ = invoke(client, "Counter")
    assert body["marker"] == "v1" and body["env"]["STAGE"] == "test"

    # AWS::Lambda::Function with inline code, its own Timeout (Globals are for Serverless functions only).
    inline = client.get_function(FunctionName="Inline")["Configuration"]
    assert inline["Timeout"] == 3 and inline["Role"] == "arn:aws:iam::000000000000:role/inline-role"
    assert invoke(client, "Inline")[0] == "inline"

    # AutoPublishAlias, reserved concurrency, Function URL and event-invoke config on other-test.
    alias = client.get_alias(FunctionName="other-test", Name="live")
    assert alias["FunctionVersion"] == "1"
    assert client.get_function_concurrency(FunctionName="other-test")["ReservedConcurrentExecutions"] == 5
    url = client.get_function_url_config(FunctionName="other-test", Qualifier="live")
    assert url["AuthType"] == "NONE"
    pc = client.get_provisioned_concurrency_config(FunctionName="other-test", Qualifier="live")
    assert pc["RequestedProvisionedConcurrentExecutions"] == 1
    eic = client.get_function_event_invoke_config(FunctionName="other-test", Qualifier="live")
    assert eic["MaximumRetryAttempts"] == 0
    assert invoke(client, "other-test", "live")[0]["marker"] == "v1"

    # The AWS CLI sees them like any other function.
    names = run_aws(stack.url, "list-functions", "--query", "Functions[].FunctionName").json
    assert {"Counter", "Ticker", "other-test", "Alpha", "Beta", "Inline"} <= set(names)


def test_template_layers_are_published_and_attached(stack):
    client = make_client(stack.url)
    versions = client.list_layer_versions(LayerName="shared-lib")["LayerVersions"]
    assert len(versions) == 1 and versions[0]["Description"] == "shared for test", versions
    assert versions[0]["CompatibleRuntimes"] == ["python3.12"]
    cfg = client.get_function(FunctionName="Layered")["Configuration"]
    assert [layer["Arn"] for layer in cfg["Layers"]] == [versions[0]["LayerVersionArn"]]
    assert invoke(client, "Layered")[0] == "from the layer"  # imported from /opt/python
    assert "template: published layer shared-lib version 1 (Shared)" in stack.stdout_text()


def test_unknown_types_and_unsupported_events_are_listed(stack):
    out = stack.stdout_text()
    assert "not deployed (resource types Lambent does not run): Table (AWS::DynamoDB::Table)" in out
    assert re.search(r"event Queue of type SQS is not supported yet", stack.stderr_text())


def test_schedules_fire_on_the_accelerated_clock(stack):
    # rate(1 minute) at 30x fires every 2 s; the scheduled event follows EventBridge's shape.
    def scheduled():
        evs = function_events(stack.url, "Ticker")
        rate = [e for e in evs if isinstance(e, dict) and e.get("detail-type") == "Scheduled Event"]
        cron = [e for e in evs if e == {"from": "cron"}]
        return (rate, cron) if rate and cron else None

    rate, cron = wait_until(scheduled, timeout=60, what="both schedules of Ticker to fire")
    ev = rate[0]
    assert ev["source"] == "aws.events" and ev["version"] == "0" and ev["detail"] == {}
    assert ev["account"] == "000000000000" and ev["region"] == REGION
    assert ev["resources"] == [f"arn:aws:events:{REGION}:000000000000:rule/tick-rule"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ev["time"])


def test_api_route_payload_1_0(stack, api_url):
    status, headers, body = http("GET", f"{api_url}/items/42?q=x&q=y", headers={"X-Custom": "1"})
    assert status == 201, body
    assert headers.get("x-test") == "yes"
    ev = json.loads(body)["event"]
    assert ev["resource"] == "/items/{id}" and ev["path"] == "/items/42" and ev["httpMethod"] == "GET"
    assert ev["pathParameters"] == {"id": "42"}
    assert ev["queryStringParameters"] == {"q": "y"}
    assert ev["multiValueQueryStringParameters"] == {"q": ["x", "y"]}
    assert ev["headers"]["X-Custom"] == "1" and ev["multiValueHeaders"]["X-Custom"] == ["1"]
    assert ev["body"] is None and ev["isBase64Encoded"] is False
    assert ev["requestContext"]["resourcePath"] == "/items/{id}" and ev["requestContext"]["stage"] == "Prod"

    status, _, body = http("POST", f"{api_url}/items", body='{"a": 1}', headers={"Content-Type": "application/json"})
    assert status == 201
    ev = json.loads(body)["event"]
    assert ev["body"] == '{"a": 1}' and ev["pathParameters"] is None and ev["queryStringParameters"] is None

    status, _, body = http("DELETE", f"{api_url}/items/42")
    assert status == 403 and json.loads(body) == {"message": "Missing Authentication Token"}


def test_http_api_route_payload_2_0(stack, api_url):
    status, headers, body = http("PUT", f"{api_url}/v2/a/b/c?x=1&x=2", body=b"\x00\x01",
                                 headers={"Content-Type": "application/octet-stream", "Cookie": "a=1; b=2"})
    assert status == 201, body
    ev = json.loads(body)["event"]
    assert ev["version"] == "2.0" and ev["routeKey"] == "ANY /v2/{proxy+}"
    assert ev["rawPath"] == "/v2/a/b/c" and ev["rawQueryString"] == "x=1&x=2"
    assert ev["pathParameters"] == {"proxy": "a/b/c"}
    assert ev["queryStringParameters"] == {"x": "1,2"}
    assert ev["cookies"] == ["a=1", "b=2"]
    assert ev["isBase64Encoded"] is True and base64.b64decode(ev["body"]) == b"\x00\x01"
    assert ev["requestContext"]["http"]["method"] == "PUT"


def test_s3_notifications_invoke_asynchronously(stack):
    aws_shape = {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION, "eventTime": "2024-05-01T12:00:00.000Z",
        "eventName": "ObjectCreated:Put", "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": "Uploads"},
                                                 "object": {"key": "in/aws%20one.txt", "size": 3}}}]}
    minio_shape = {"EventName": "s3:ObjectCreated:Put", "Key": "Uploads/in/minio.txt", "Records": [{
        "eventVersion": "2.0", "eventSource": "minio:s3", "awsRegion": "", "eventTime": "2024-05-01T12:00:00.000Z",
        "eventName": "s3:ObjectCreated:Put", "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": "Uploads"},
                                                    "object": {"key": "in/minio.txt", "size": 3}}}]}
    elsewhere = {"Records": [{"eventName": "ObjectCreated:Put",
                              "s3": {"bucket": {"name": "Uploads"}, "object": {"key": "out/skip.txt"}}}]}
    url = f"{stack.url}/_lambent/s3-events"
    for shape, key in ((aws_shape, "in/aws one.txt"), (minio_shape, "in/minio.txt")):
        status, _, body = http("POST", url, json.dumps(shape), {"Content-Type": "application/json"})
        assert status == 200, body
        inv = json.loads(body)["Invocations"]
        assert len(inv) == 1 and inv[0]["FunctionName"] == "Counter" and inv[0]["Key"] == key
    status, _, body = http("POST", url, json.dumps(elsewhere))
    assert status == 200 and json.loads(body)["Invocations"] == []
    status, _, body = http("POST", url, "not json")
    assert status == 400

    def delivered():
        evs = [e for e in function_events(stack.url, "Counter") if isinstance(e, dict) and "Records" in e]
        keys = {r["s3"]["object"]["key"]: r for e in evs for r in e["Records"]}
        return keys if {"in/aws%20one.txt", "in/minio.txt"} <= set(keys) else None

    keys = wait_until(delivered, timeout=30, what="both S3 events to reach Counter")
    minio = keys["in/minio.txt"]
    assert minio["eventName"] == "ObjectCreated:Put" and minio["eventSource"] == "aws:s3"
    assert minio["awsRegion"] == REGION
    assert "out/skip.txt" not in keys


def test_hot_reload_restarts_only_the_changed_function(stack, project):
    client = make_client(stack.url)
    for _ in range(2):
        a, _ = invoke(client, "Alpha")
        b, _ = invoke(client, "Beta")
    assert a["count"] == 2 and b["count"] == 2
    before = client.get_function(FunctionName="Beta")["Configuration"]["RevisionId"]

    (project.parent / "alpha" / "app.py").write_text(COUNTER_CODE.format(marker="v2"))
    wait_until(lambda: "reloaded Alpha" in stack.stdout_text(), timeout=30, what="the 'reloaded Alpha' line")
    assert len(re.findall(r"^reloaded Alpha", stack.stdout_text(), re.M)) == 1

    a, log = invoke(client, "Alpha")
    assert a["marker"] == "v2" and a["count"] == 1  # new code, new module state
    assert "Init Duration" not in log  # the worker was warmed before the call
    b, _ = invoke(client, "Beta")
    assert b["count"] == 3  # untouched: same warm worker
    assert client.get_function(FunctionName="Beta")["Configuration"]["RevisionId"] == before


def test_restart_with_an_unchanged_template_changes_nothing(stack):
    client = make_client(stack.url)
    revs = {n: client.get_function(FunctionName=n)["Configuration"]["RevisionId"]
            for n in ("Counter", "Inline", "other-test", "Beta", "Layered")}
    versions = [v["Version"] for v in client.list_versions_by_function(FunctionName="other-test")["Versions"]]
    stack.restart()
    client = make_client(stack.url)
    assert re.search(r"^template: unchanged other-test \(Other, python3\.12\)$", stack.stdout_text(), re.M)
    assert "template: unchanged layer shared-lib (Shared)" in stack.stdout_text()
    assert len(client.list_layer_versions(LayerName="shared-lib")["LayerVersions"]) == 1
    for n, rev in revs.items():
        assert client.get_function(FunctionName=n)["Configuration"]["RevisionId"] == rev, n
    assert [v["Version"] for v in client.list_versions_by_function(FunctionName="other-test")["Versions"]] == versions


def test_template_errors_stop_the_server_with_a_clear_message(tmp_path):
    (tmp_path / "t.yaml").write_text("Parameters:\n  Needed:\n    Type: String\nResources: {}\n")
    proc = subprocess.run([str(lambent_binary()), "serve", "--listen", "127.0.0.1:0", "--data-dir",
                           str(tmp_path / "data"), "--template", str(tmp_path / "t.yaml")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "parameter Needed has no Default; pass --parameter-overrides Needed=VALUE" in proc.stderr


def test_a_code_folder_holding_the_data_dir_is_refused(tmp_path):
    (tmp_path / "app.py").write_text("def handler(e, c):\n    return 1\n")
    (tmp_path / "t.yaml").write_text("Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n"
                                     "      CodeUri: .\n      Runtime: python3.12\n      Handler: app.handler\n")
    proc = subprocess.run([str(lambent_binary()), "serve", "--listen", "127.0.0.1:0", "--data-dir",
                           str(tmp_path / ".lambent"), "--template", str(tmp_path / "t.yaml")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "contains the data directory" in proc.stderr
