"""CreateFunction / GetFunction / GetFunctionConfiguration / Update* / DeleteFunction / tags / account
settings against the real server, driven by boto3 (lambda-contract.md §1)."""

from __future__ import annotations

import json
import base64
import uuid

import pytest

from lambent_testlib import (ACCOUNT, LAST_MODIFIED_RE, ROLE, UUID_RE, b64sha256,
                             create_function, download_code, expect_error, fetch, function_arn,
                             list_names, make_client, not_found_message, python_zip, quote_path,
                             unique_name, wait_active, wait_updated)

ALWAYS_FIELDS = ["FunctionName", "FunctionArn", "Role", "CodeSize", "Description", "Timeout",
                 "MemorySize", "LastModified", "CodeSha256", "Version", "TracingConfig",
                 "RevisionId", "PackageType", "Architectures", "EphemeralStorage", "SnapStart"]


def strip_meta(d: dict) -> dict:
    return {k: v for k, v in d.items() if k != "ResponseMetadata"}


def assert_uuid4(value: str):
    assert UUID_RE.match(value), value
    assert uuid.UUID(value).version == 4, f"RevisionId {value} is not a UUID4"


def assert_no_nulls(obj, path="$"):
    if obj is None:
        raise AssertionError(f"null value at {path}")
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert_no_nulls(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            assert_no_nulls(v, f"{path}[{i}]")


# ------------------------------------------------------------------------------------ create


def test_create_function_defaults(client):
    name = unique_name("create")
    zip_bytes = python_zip("create-defaults")
    res = create_function(client, name, zip_bytes)
    assert res["ResponseMetadata"]["HTTPStatusCode"] == 201
    for f in ALWAYS_FIELDS:
        assert f in res, f"CreateFunction response lacks {f}: {strip_meta(res)}"
    assert res["FunctionName"] == name
    assert res["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert res["Runtime"] == "python3.12"
    assert res["Role"] == ROLE
    assert res["Handler"] == "app.handler"
    assert res["CodeSize"] == len(zip_bytes)
    assert res["CodeSha256"] == b64sha256(zip_bytes)
    assert len(res["CodeSha256"]) == 44
    assert res["Description"] == ""
    assert res["Timeout"] == 3
    assert res["MemorySize"] == 128
    assert LAST_MODIFIED_RE.match(res["LastModified"]), res["LastModified"]
    assert res["Version"] == "$LATEST"
    assert_uuid4(res["RevisionId"])
    assert res["State"] in ("Pending", "Active")
    if res["State"] == "Pending":
        assert res["StateReasonCode"] == "Creating"
        assert res["StateReason"] == "The function is being created."
    else:
        assert "StateReason" not in res and "StateReasonCode" not in res
    assert "LastUpdateStatus" not in res, "AWS omits LastUpdateStatus in the CreateFunction response"
    assert res["PackageType"] == "Zip"
    assert res["Architectures"] == ["x86_64"]
    assert res["EphemeralStorage"] == {"Size": 512}
    assert res["TracingConfig"] == {"Mode": "PassThrough"}
    assert res["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    assert "Environment" not in res, "Environment must be omitted when never set"
    assert "VpcConfig" not in res
    assert "Layers" not in res or res["Layers"] == []


def test_create_function_echoes_every_given_field(client):
    name = unique_name("create-full")
    zip_bytes = python_zip("create-full")
    env = {"GREETING": "hello", "EMPTY_VALUE": "", "UNICODE": "h\u00e9llo \u2603"}
    res = create_function(
        client, name, zip_bytes, Runtime="nodejs20.x", Handler="index.handler",
        Description="full config", Timeout=30, MemorySize=256,
        Environment={"Variables": env}, Architectures=["x86_64"],
        EphemeralStorage={"Size": 1024}, TracingConfig={"Mode": "Active"},
        Tags={"team": "lambent"})
    assert res["Runtime"] == "nodejs20.x"
    assert res["Handler"] == "index.handler"
    assert res["Description"] == "full config"
    assert res["Timeout"] == 30
    assert res["MemorySize"] == 256
    assert res["Environment"] == {"Variables": env}
    assert res["Architectures"] == ["x86_64"]
    assert res["EphemeralStorage"] == {"Size": 1024}
    assert res["TracingConfig"] == {"Mode": "Active"}
    cfg = wait_active(client, name)
    for key in ("Runtime", "Handler", "Description", "Timeout", "MemorySize", "Environment",
                "EphemeralStorage", "TracingConfig", "CodeSha256", "CodeSize", "LastModified"):
        assert cfg[key] == res[key], key


def test_create_response_raw_wire_format(server):
    """What boto3 hides: status, headers, no nulls, LoggingConfig (unknown to botocore 1.29)."""
    name = unique_name("raw")
    zip_bytes = python_zip("raw")
    body = json.dumps({"FunctionName": name, "Runtime": "python3.12", "Role": ROLE,
                       "Handler": "app.handler",
                       "Code": {"ZipFile": base64.b64encode(zip_bytes).decode()}})
    r = server.raw("POST", "/2015-03-31/functions", body)
    assert r.status == 201, r.body
    assert r.headers["content-type"].startswith("application/json")
    assert UUID_RE.match(r.headers.get("x-amzn-requestid", "")), r.headers
    data = r.json
    assert_no_nulls(data)
    assert data["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"}
    assert data["CodeSha256"] == b64sha256(zip_bytes)

    r = server.raw("GET", f"/2015-03-31/functions/{name}")
    assert r.status == 200
    assert r.headers["content-type"].startswith("application/json")
    assert UUID_RE.match(r.headers.get("x-amzn-requestid", ""))
    assert r.headers["x-amzn-requestid"] != server.raw(
        "GET", f"/2015-03-31/functions/{name}").headers["x-amzn-requestid"], "request ids must differ"
    got = r.json
    assert_no_nulls(got)
    assert set(got) >= {"Configuration", "Code"}
    assert got["Configuration"]["LoggingConfig"] == {"LogFormat": "Text",
                                                     "LogGroup": f"/aws/lambda/{name}"}


def test_create_with_logging_config_json(server):
    name = unique_name("logcfg")
    body = json.dumps({"FunctionName": name, "Runtime": "python3.12", "Role": ROLE,
                       "Handler": "app.handler",
                       "Code": {"ZipFile": base64.b64encode(python_zip()).decode()},
                       "LoggingConfig": {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG",
                                         "SystemLogLevel": "WARN"}})
    r = server.raw("POST", "/2015-03-31/functions", body)
    assert r.status == 201, r.body
    want = {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "SystemLogLevel": "WARN",
            "LogGroup": f"/aws/lambda/{name}"}
    assert r.json["LoggingConfig"] == want
    r = server.raw("GET", f"/2015-03-31/functions/{name}/configuration")
    assert r.status == 200
    assert r.json["LoggingConfig"] == want


@pytest.mark.parametrize("runtime", ["python3.9", "python3.10", "python3.11", "python3.12",
                                     "python3.13", "nodejs18.x", "nodejs20.x", "nodejs22.x",
                                     "provided.al2", "provided.al2023"])
def test_create_accepts_supported_runtime(client, runtime):
    handler = "bootstrap" if runtime.startswith("provided") else "app.handler"
    res = create_function(client, unique_name("rt"), Runtime=runtime, Handler=handler)
    assert res["Runtime"] == runtime
    assert wait_active(client, res["FunctionName"])["Runtime"] == runtime


# ------------------------------------------------------------------------------------ get


def test_get_function_configuration_and_code(client):
    name = unique_name("get")
    zip_bytes = python_zip("get", extra={"lib/data.txt": "x" * 5000})
    created = create_function(client, name, zip_bytes)
    wait_active(client, name)
    res = client.get_function(FunctionName=name)
    assert res["ResponseMetadata"]["HTTPStatusCode"] == 200
    cfg = res["Configuration"]
    assert cfg["State"] == "Active"
    assert cfg["LastUpdateStatus"] == "Successful"
    assert "StateReason" not in cfg and "LastUpdateStatusReason" not in cfg
    for key in ("FunctionName", "FunctionArn", "CodeSha256", "CodeSize", "LastModified",
                "Version", "Runtime", "Handler", "Role"):
        assert cfg[key] == created[key], key
    if created["State"] == "Active":
        assert cfg["RevisionId"] == created["RevisionId"]
    assert "Tags" not in res, "Tags must be omitted for an untagged function"
    assert "Concurrency" not in res
    assert res["Code"]["RepositoryType"] == "S3"
    status, _, body = fetch(res["Code"]["Location"])
    assert status == 200
    assert body == zip_bytes, "Code.Location must serve the uploaded ZIP byte for byte"
    # GetFunctionConfiguration returns the same FC as GetFunction.Configuration
    conf = strip_meta(client.get_function_configuration(FunctionName=name))
    assert conf == cfg


def test_code_location_is_fetchable_repeatedly(client):
    name = unique_name("loc")
    zip_bytes = python_zip("loc")
    create_function(client, name, zip_bytes)
    loc = client.get_function(FunctionName=name)["Code"]["Location"]
    for _ in range(3):
        status, _, body = fetch(loc)
        assert (status, body) == (200, zip_bytes)


@pytest.mark.parametrize("form", ["name", "arn", "partial_arn", "name_latest", "arn_latest",
                                  "qualifier_param"])
def test_function_addressing_forms(client, form):
    name = unique_name("addr")
    create_function(client, name)
    ident, extra = {
        "name": (name, {}),
        "arn": (function_arn(name), {}),
        "partial_arn": (f"{ACCOUNT}:function:{name}", {}),
        "name_latest": (f"{name}:$LATEST", {}),
        "arn_latest": (function_arn(name, "$LATEST"), {}),
        "qualifier_param": (name, {"Qualifier": "$LATEST"}),
    }[form]
    for op in (client.get_function, client.get_function_configuration):
        res = op(FunctionName=ident, **extra)
        cfg = res.get("Configuration", res)
        assert cfg["FunctionName"] == name
        assert cfg["Version"] == "$LATEST"
        if form in ("name", "arn", "partial_arn"):
            assert cfg["FunctionArn"] == function_arn(name)
        else:
            assert cfg["FunctionArn"] in (function_arn(name), function_arn(name, "$LATEST"))


def test_update_and_delete_by_arn_forms(client):
    name = unique_name("addr-upd")
    create_function(client, name)
    wait_active(client, name)
    res = client.update_function_configuration(FunctionName=function_arn(name), Description="by arn")
    assert res["Description"] == "by arn"
    wait_updated(client, name)
    zip2 = python_zip("by-partial-arn")
    res = client.update_function_code(FunctionName=f"{ACCOUNT}:function:{name}", ZipFile=zip2)
    assert res["CodeSha256"] == b64sha256(zip2)
    wait_updated(client, name)
    client.delete_function(FunctionName=f"{ACCOUNT}:function:{name}")
    with expect_error("ResourceNotFoundException", 404, not_found_message(name)):
        client.get_function(FunctionName=name)


def test_arn_from_other_region_is_not_found(client):
    name = unique_name("region")
    create_function(client, name)
    other = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{name}"
    with expect_error("ResourceNotFoundException", 404,
                      "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"):
        client.get_function(FunctionName=other)


def test_qualifier_mismatch_is_rejected(client):
    name = unique_name("qual")
    create_function(client, name)
    with expect_error("InvalidParameterValueException", 400,
                      "The derived qualifier from the function name does not match the "
                      "specified qualifier."):
        client.get_function(FunctionName=f"{name}:$LATEST", Qualifier="1")


# ------------------------------------------------------------------------------------ update code


def test_update_function_code(client):
    name = unique_name("upd-code")
    zip1, zip2 = python_zip("code-1"), python_zip("code-2", extra={"more.py": "X = 2\n"})
    created = create_function(client, name, zip1)
    before = wait_updated(client, name)
    res = client.update_function_code(FunctionName=name, ZipFile=zip2)
    assert res["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert res["CodeSha256"] == b64sha256(zip2) != created["CodeSha256"]
    assert res["CodeSize"] == len(zip2)
    assert res["RevisionId"] != before["RevisionId"]
    assert_uuid4(res["RevisionId"])
    assert res["Version"] == "$LATEST"
    assert res["FunctionArn"] == function_arn(name)
    assert LAST_MODIFIED_RE.match(res["LastModified"])
    assert res["LastModified"] >= before["LastModified"]
    assert res["LastUpdateStatus"] == "InProgress"
    after = wait_updated(client, name)
    assert after["CodeSha256"] == b64sha256(zip2)
    assert after["CodeSize"] == len(zip2)
    assert "LastUpdateStatusReason" not in after
    # configuration untouched
    for key in ("Runtime", "Handler", "Timeout", "MemorySize", "Description"):
        assert after[key] == before[key], key
    assert download_code(client, name) == zip2


def test_update_function_code_response_reason_fields(client):
    name = unique_name("upd-reason")
    create_function(client, name)
    wait_updated(client, name)
    res = client.update_function_code(FunctionName=name, ZipFile=python_zip("reason"))
    assert res["LastUpdateStatus"] == "InProgress"
    assert res["LastUpdateStatusReason"] == "The function is being created."
    assert res["LastUpdateStatusReasonCode"] == "Creating"


def test_update_function_code_revision_precondition(client):
    name = unique_name("upd-rev")
    zip1 = python_zip("rev-1")
    create_function(client, name, zip1)
    cfg = wait_updated(client, name)
    stale = str(uuid.uuid4())
    with expect_error("PreconditionFailedException", 412,
                      "The Revision Id provided does not match the latest Revision Id. Call the "
                      "GetFunction/GetAlias API to retrieve the latest Revision Id"):
        client.update_function_code(FunctionName=name, ZipFile=python_zip("rev-x"),
                                    RevisionId=stale)
    unchanged = client.get_function_configuration(FunctionName=name)
    assert unchanged["CodeSha256"] == b64sha256(zip1)
    assert unchanged["RevisionId"] == cfg["RevisionId"]
    assert download_code(client, name) == zip1
    zip2 = python_zip("rev-2")
    res = client.update_function_code(FunctionName=name, ZipFile=zip2, RevisionId=cfg["RevisionId"])
    assert res["CodeSha256"] == b64sha256(zip2)
    # the old RevisionId is now stale too
    wait_updated(client, name)
    with expect_error("PreconditionFailedException", 412):
        client.update_function_code(FunctionName=name, ZipFile=zip1, RevisionId=cfg["RevisionId"])


def test_update_code_with_same_zip_keeps_sha(client):
    name = unique_name("upd-same")
    zip1 = python_zip("same")
    create_function(client, name, zip1)
    before = wait_updated(client, name)
    res = client.update_function_code(FunctionName=name, ZipFile=zip1)
    assert res["CodeSha256"] == before["CodeSha256"]
    assert res["CodeSize"] == before["CodeSize"]
    wait_updated(client, name)
    assert download_code(client, name) == zip1


# ------------------------------------------------------------------------------------ update config


def test_update_function_configuration(client):
    name = unique_name("upd-cfg")
    zip1 = python_zip("cfg")
    create_function(client, name, zip1)
    before = wait_updated(client, name)
    env = {"STAGE": "test", "COUNT": "3"}
    res = client.update_function_configuration(
        FunctionName=name, Handler="app.other", Runtime="python3.11", MemorySize=512, Timeout=60,
        Environment={"Variables": env}, Description="updated", EphemeralStorage={"Size": 2048})
    assert res["ResponseMetadata"]["HTTPStatusCode"] == 200
    expected = {"Handler": "app.other", "Runtime": "python3.11", "MemorySize": 512, "Timeout": 60,
                "Environment": {"Variables": env}, "Description": "updated",
                "EphemeralStorage": {"Size": 2048}}
    for k, v in expected.items():
        assert res[k] == v, k
    assert res["LastUpdateStatus"] == "InProgress"
    assert res["RevisionId"] != before["RevisionId"]
    assert_uuid4(res["RevisionId"])
    assert res["CodeSha256"] == before["CodeSha256"] == b64sha256(zip1)
    after = wait_updated(client, name)
    for k, v in expected.items():
        assert after[k] == v, k
    assert after["LastUpdateStatus"] == "Successful"
    assert after["RevisionId"] != before["RevisionId"]
    assert LAST_MODIFIED_RE.match(after["LastModified"])
    assert after["LastModified"] >= before["LastModified"]

    # a partial update changes only what it names
    res2 = client.update_function_configuration(FunctionName=name, Description="only this")
    assert res2["Description"] == "only this"
    after2 = wait_updated(client, name)
    for k, v in expected.items():
        if k != "Description":
            assert after2[k] == v, k
    assert after2["Description"] == "only this"


def test_update_function_configuration_revision_precondition(client):
    name = unique_name("upd-cfg-rev")
    create_function(client, name)
    cfg = wait_updated(client, name)
    with expect_error("PreconditionFailedException", 412,
                      "The Revision Id provided does not match the latest Revision Id. Call the "
                      "GetFunction/GetAlias API to retrieve the latest Revision Id"):
        client.update_function_configuration(FunctionName=name, Description="nope",
                                             RevisionId=str(uuid.uuid4()))
    now = client.get_function_configuration(FunctionName=name)
    assert now["Description"] == ""
    assert now["RevisionId"] == cfg["RevisionId"]
    res = client.update_function_configuration(FunctionName=name, Description="yes",
                                               RevisionId=cfg["RevisionId"])
    assert res["Description"] == "yes"


def test_revision_id_changes_on_every_update(client):
    name = unique_name("rev-chain")
    create_function(client, name)
    seen = {wait_updated(client, name)["RevisionId"]}
    for i in range(4):
        if i % 2:
            r = client.update_function_code(FunctionName=name, ZipFile=python_zip(f"chain-{i}"))
        else:
            r = client.update_function_configuration(FunctionName=name, Description=f"d{i}")
        assert r["RevisionId"] not in seen
        seen.add(r["RevisionId"])
        cfg = wait_updated(client, name)
        seen.add(cfg["RevisionId"])


# ------------------------------------------------------------------------------------ waiters


def test_waiters_active_and_updated(client):
    name = unique_name("waiter")
    create_function(client, name)
    cfg = {"Delay": 1, "MaxAttempts": 30}
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=cfg)
    client.get_waiter("function_active").wait(FunctionName=name, WaiterConfig=cfg)
    assert client.get_function(FunctionName=name)["Configuration"]["State"] == "Active"
    client.update_function_code(FunctionName=name, ZipFile=python_zip("waiter-2"))
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=cfg)
    client.update_function_configuration(FunctionName=name, Timeout=10)
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=cfg)
    client.get_waiter("function_updated").wait(FunctionName=name, WaiterConfig=cfg)
    final = client.get_function(FunctionName=name)["Configuration"]
    assert final["LastUpdateStatus"] == "Successful"
    assert final["Timeout"] == 10
    assert final["CodeSha256"] == b64sha256(python_zip("waiter-2"))


# ------------------------------------------------------------------------------------ delete


def test_delete_function(client):
    name = unique_name("del")
    create_function(client, name)
    assert name in list_names(client)
    res = client.delete_function(FunctionName=name)
    assert res["ResponseMetadata"]["HTTPStatusCode"] == 204
    msg = f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:{name}"
    with expect_error("ResourceNotFoundException", 404, msg):
        client.get_function(FunctionName=name)
    with expect_error("ResourceNotFoundException", 404, msg):
        client.get_function_configuration(FunctionName=name)
    with expect_error("ResourceNotFoundException", 404, msg):
        client.delete_function(FunctionName=name)
    assert name not in list_names(client)


def test_delete_then_recreate_same_name(client):
    name = unique_name("recreate")
    first = create_function(client, name, python_zip("first"))
    client.delete_function(FunctionName=name)
    second = create_function(client, name, python_zip("second"), Description="again")
    assert second["CodeSha256"] == b64sha256(python_zip("second"))
    assert second["RevisionId"] != first["RevisionId"]
    cfg = wait_active(client, name)
    assert cfg["Description"] == "again"
    assert download_code(client, name) == python_zip("second")


def test_delete_function_rejects_missing_by_arn(client):
    name = unique_name("del-missing")
    with expect_error("ResourceNotFoundException", 404, not_found_message(name)):
        client.delete_function(FunctionName=function_arn(name))


# ------------------------------------------------------------------------------------ not found


@pytest.mark.parametrize("op", ["get_function", "get_function_configuration",
                                "update_function_code", "update_function_configuration",
                                "delete_function"])
def test_unknown_function_on_every_function_operation(client, op):
    name = unique_name("ghost")
    kwargs = {
        "update_function_code": {"ZipFile": python_zip()},
        "update_function_configuration": {"Description": "x"},
    }.get(op, {})
    with expect_error("ResourceNotFoundException", 404, not_found_message(name)):
        getattr(client, op)(FunctionName=name, **kwargs)


@pytest.mark.parametrize("op", ["tag_resource", "untag_resource", "list_tags"])
def test_unknown_function_on_tag_operations(client, op):
    arn = function_arn(unique_name("ghost-tag"))
    kwargs = {"tag_resource": {"Tags": {"a": "b"}}, "untag_resource": {"TagKeys": ["a"]}}.get(op, {})
    with expect_error("ResourceNotFoundException", 404):
        getattr(client, op)(Resource=arn, **kwargs)


# ------------------------------------------------------------------------------------ tags


def test_tags_by_function_arn(client):
    name = unique_name("tags")
    arn = function_arn(name)
    create_function(client, name, Tags={"team": "core", "env": "dev"})
    assert client.get_function(FunctionName=name)["Tags"] == {"team": "core", "env": "dev"}
    assert client.list_tags(Resource=arn)["Tags"] == {"team": "core", "env": "dev"}

    res = client.tag_resource(Resource=arn, Tags={"env": "prod", "cost": "42", "x": "y"})
    assert res["ResponseMetadata"]["HTTPStatusCode"] == 204
    want = {"team": "core", "env": "prod", "cost": "42", "x": "y"}
    assert client.list_tags(Resource=arn)["Tags"] == want
    assert client.get_function(FunctionName=name)["Tags"] == want

    res = client.untag_resource(Resource=arn, TagKeys=["team", "x", "not-there"])
    assert res["ResponseMetadata"]["HTTPStatusCode"] == 204
    want = {"env": "prod", "cost": "42"}
    assert client.list_tags(Resource=arn)["Tags"] == want
    assert client.get_function(FunctionName=name)["Tags"] == want

    client.untag_resource(Resource=arn, TagKeys=["env", "cost"])
    assert client.list_tags(Resource=arn)["Tags"] == {}
    assert "Tags" not in client.get_function(FunctionName=name), "no Tags key once all are removed"


def test_tags_added_later_show_in_get_function(client):
    name = unique_name("tags-late")
    create_function(client, name)
    assert "Tags" not in client.get_function(FunctionName=name)
    assert client.list_tags(Resource=function_arn(name))["Tags"] == {}
    client.tag_resource(Resource=function_arn(name), Tags={"k": "v"})
    assert client.get_function(FunctionName=name)["Tags"] == {"k": "v"}


def test_tags_do_not_change_revision_or_code(client):
    name = unique_name("tags-rev")
    zip1 = python_zip("tags-rev")
    create_function(client, name, zip1)
    before = wait_updated(client, name)
    client.tag_resource(Resource=function_arn(name), Tags={"a": "1"})
    after = client.get_function_configuration(FunctionName=name)
    assert after["CodeSha256"] == before["CodeSha256"]
    assert after["LastModified"] == before["LastModified"]


def test_tags_removed_with_function(client):
    name = unique_name("tags-del")
    create_function(client, name, Tags={"a": "1"})
    client.delete_function(FunctionName=name)
    create_function(client, name)
    assert client.list_tags(Resource=function_arn(name))["Tags"] == {}
    assert "Tags" not in client.get_function(FunctionName=name)


# ------------------------------------------------------------------------------------ account


def test_account_settings_follow_creates_and_deletes(server_factory):
    # The account limit reported is the one the server enforces (--concurrency); AWS's default is 1000.
    fresh_server = server_factory.new("acct", extra_args=["--concurrency", "1000"])
    client = make_client(fresh_server.url)
    res = client.get_account_settings()
    assert res["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert res["AccountLimit"] == {
        "TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000, "CodeSizeZipped": 52428800,
        "ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": 1000}
    assert res["AccountUsage"] == {"TotalCodeSize": 0, "FunctionCount": 0}

    z1 = python_zip("acct-1")
    z2 = python_zip("acct-2", extra={"blob.txt": "b" * 3000})
    create_function(client, "acct-one", z1)
    create_function(client, "acct-two", z2)
    usage = client.get_account_settings()["AccountUsage"]
    assert usage == {"FunctionCount": 2, "TotalCodeSize": len(z1) + len(z2)}

    wait_updated(client, "acct-one")
    z3 = python_zip("acct-3", extra={"more.txt": "m" * 7000})
    client.update_function_code(FunctionName="acct-one", ZipFile=z3)
    wait_updated(client, "acct-one")
    usage = client.get_account_settings()["AccountUsage"]
    assert usage == {"FunctionCount": 2, "TotalCodeSize": len(z3) + len(z2)}

    client.delete_function(FunctionName="acct-two")
    usage = client.get_account_settings()["AccountUsage"]
    assert usage == {"FunctionCount": 1, "TotalCodeSize": len(z3)}
    client.delete_function(FunctionName="acct-one")
    assert client.get_account_settings()["AccountUsage"] == {"FunctionCount": 0, "TotalCodeSize": 0}


@pytest.mark.parametrize("path", ["/2016-08-19/account-settings", "/2016-08-19/account-settings/"])
def test_account_settings_with_and_without_trailing_slash(server, path):
    r = server.raw("GET", path)
    assert r.status == 200, r.body
    body = r.json
    assert set(body) == {"AccountLimit", "AccountUsage"}
    assert set(body["AccountUsage"]) == {"TotalCodeSize", "FunctionCount"}
    assert isinstance(body["AccountUsage"]["FunctionCount"], int)


@pytest.mark.parametrize("path", ["/2015-03-31/functions", "/2015-03-31/functions/"])
def test_list_functions_with_and_without_trailing_slash(server, client, path):
    name = unique_name("slash")
    create_function(client, name)
    r = server.raw("GET", path + "?MaxItems=10000")
    assert r.status == 200, r.body
    names = [f["FunctionName"] for f in r.json["Functions"]]
    assert name in names


def test_empty_success_bodies(server, client):
    """204 answers carry no body and Content-Length: 0 (contract §1)."""
    name = unique_name("empty204")
    create_function(client, name)
    arn = quote_path(function_arn(name))
    r = server.raw("POST", f"/2017-03-31/tags/{arn}", json.dumps({"Tags": {"a": "b"}}))
    assert (r.status, r.body, r.headers.get("content-length")) == (204, b"", "0")
    r = server.raw("DELETE", f"/2017-03-31/tags/{arn}?tagKeys=a")
    assert (r.status, r.body, r.headers.get("content-length")) == (204, b"", "0")
    r = server.raw("DELETE", f"/2015-03-31/functions/{name}")
    assert (r.status, r.body, r.headers.get("content-length")) == (204, b"", "0")
    assert UUID_RE.match(r.headers.get("x-amzn-requestid", ""))


def test_percent_encoded_path_members(server, client):
    name = unique_name("pct")
    create_function(client, name)
    for ident in (quote_path(function_arn(name)), quote_path(f"{name}:$LATEST"),
                  quote_path(f"{ACCOUNT}:function:{name}")):
        r = server.raw("GET", f"/2015-03-31/functions/{ident}/configuration")
        assert r.status == 200, (ident, r.body)
        assert r.json["FunctionName"] == name
    r = server.raw("GET", f"/2015-03-31/functions/{name}/configuration?Qualifier=%24LATEST")
    assert r.status == 200, r.body
    assert r.json["FunctionName"] == name
