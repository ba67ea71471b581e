"""Versions, aliases and reserved concurrency through boto3 and the AWS CLI against the real server (#6)."""
import collections
import json
import threading

from lambent_testlib import (create_function, expect_error, function_arn, make_client, python_zip, run_aws,
                             unique_name)


def _invoke(client, name, qualifier=None):
    kw = {"Qualifier": qualifier} if qualifier else {}
    res = client.invoke(FunctionName=name, Payload=b"{}", **kw)
    return res["ExecutedVersion"], json.loads(res["Payload"].read())


def test_publish_version_snapshots_code_and_configuration(client):
    name = unique_name("ver")
    create_function(client, name, python_zip("one"), Environment={"Variables": {"STAGE": "a"}})
    v1 = client.publish_version(FunctionName=name, Description="first")
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert v1["Version"] == "1"
    assert v1["FunctionArn"] == function_arn(name, "1")
    assert v1["Description"] == "first"
    # Nothing changed: publishing again returns the same version.
    again = client.publish_version(FunctionName=name)
    assert again["Version"] == "1" and again["RevisionId"] == v1["RevisionId"]

    client.update_function_code(FunctionName=name, ZipFile=python_zip("two"))
    client.get_waiter("function_updated_v2").wait(FunctionName=name)
    v2 = client.publish_version(FunctionName=name)
    assert v2["Version"] == "2"
    assert v2["CodeSha256"] != v1["CodeSha256"]

    assert _invoke(client, name, "1") == ("1", {"marker": "one"})
    assert _invoke(client, name, "2") == ("2", {"marker": "two"})
    assert _invoke(client, name) == ("$LATEST", {"marker": "two"})
    assert _invoke(client, f"{name}:1") == ("1", {"marker": "one"})

    conf = client.get_function_configuration(FunctionName=name, Qualifier="1")
    assert conf["Version"] == "1" and conf["CodeSha256"] == v1["CodeSha256"]
    assert conf["Environment"]["Variables"] == {"STAGE": "a"}

    versions = client.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]

    with expect_error("ResourceNotFoundException", 404, f"Function not found: {function_arn(name, '7')}"):
        client.invoke(FunctionName=name, Qualifier="7", Payload=b"{}")


def test_publish_with_create_and_update_code(client):
    name = unique_name("pub")
    res = create_function(client, name, python_zip("c"), Publish=True)
    assert res["Version"] == "1"
    res = client.update_function_code(FunctionName=name, ZipFile=python_zip("d"), Publish=True)
    assert res["Version"] == "2"
    assert _invoke(client, name, "1")[1] == {"marker": "c"}
    assert _invoke(client, name, "2")[1] == {"marker": "d"}


def test_publish_preconditions(client):
    name = unique_name("pre")
    create_function(client, name)
    with expect_error("InvalidParameterValueException", 400):
        client.publish_version(FunctionName=name, CodeSha256="AAAA")
    with expect_error("PreconditionFailedException", 412):
        client.publish_version(FunctionName=name, RevisionId="not-the-revision")


def test_list_functions_all_versions(client):
    name = unique_name("all")
    create_function(client, name, Publish=True)
    every = []
    for page in client.get_paginator("list_functions").paginate(FunctionVersion="ALL"):
        every += [f["FunctionArn"] for f in page["Functions"]]
    assert function_arn(name) in every and function_arn(name, "1") in every
    latest_only = [f["FunctionArn"] for page in client.get_paginator("list_functions").paginate() for f in page["Functions"]]
    assert function_arn(name, "1") not in latest_only


def test_delete_version_and_version_in_use(client):
    name = unique_name("delv")
    create_function(client, name, Publish=True)
    client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    with expect_error("ResourceConflictException", 409,
                      "Unable to delete version because the following aliases reference it: [live]"):
        client.delete_function(FunctionName=name, Qualifier="1")
    client.delete_alias(FunctionName=name, Name="live")
    client.delete_function(FunctionName=name, Qualifier="1")
    with expect_error("ResourceNotFoundException", 404):
        client.get_function(FunctionName=name, Qualifier="1")
    with expect_error("InvalidParameterValueException", 400):
        client.delete_function(FunctionName=name, Qualifier="$LATEST")
    # Version numbers are never reused.
    client.update_function_code(FunctionName=name, ZipFile=python_zip("new"))
    assert client.publish_version(FunctionName=name)["Version"] == "2"


def test_alias_lifecycle_and_errors(client):
    name = unique_name("alias")
    create_function(client, name, python_zip("a1"), Publish=True)
    created = client.create_alias(FunctionName=name, Name="prod", FunctionVersion="1", Description="d")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["AliasArn"] == function_arn(name, "prod")
    assert created["FunctionVersion"] == "1"
    got = client.get_alias(FunctionName=name, Name="prod")
    assert got["RevisionId"] == created["RevisionId"]
    assert _invoke(client, name, "prod") == ("1", {"marker": "a1"})
    assert _invoke(client, function_arn(name, "prod")) == ("1", {"marker": "a1"})
    with expect_error("ResourceConflictException", 409, f"Alias already exists: {function_arn(name, 'prod')}"):
        client.create_alias(FunctionName=name, Name="prod", FunctionVersion="1")
    with expect_error("ResourceNotFoundException", 404, f"Cannot find alias arn: {function_arn(name, 'nope')}"):
        client.get_alias(FunctionName=name, Name="nope")
    with expect_error("ResourceNotFoundException", 404):
        client.create_alias(FunctionName=name, Name="bad", FunctionVersion="9")
    with expect_error("ValidationException", 400,
                      "1 validation error detected: Value '2024' at 'name' failed to satisfy constraint: Member must "
                      "satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"):
        client.create_alias(FunctionName=name, Name="2024", FunctionVersion="1")
    with expect_error("PreconditionFailedException", 412):
        client.update_alias(FunctionName=name, Name="prod", Description="x", RevisionId="stale")
    client.update_function_code(FunctionName=name, ZipFile=python_zip("a2"), Publish=True)
    updated = client.update_alias(FunctionName=name, Name="prod", FunctionVersion="2", RevisionId=got["RevisionId"])
    assert updated["FunctionVersion"] == "2" and updated["RevisionId"] != got["RevisionId"]
    assert _invoke(client, name, "prod") == ("2", {"marker": "a2"})
    names = [a["Name"] for a in client.list_aliases(FunctionName=name)["Aliases"]]
    assert names == ["prod"]
    client.delete_alias(FunctionName=name, Name="prod")
    with expect_error("ResourceNotFoundException", 404):
        client.invoke(FunctionName=name, Qualifier="prod", Payload=b"{}")


def test_weighted_alias_routes_by_weight(client):
    name = unique_name("weights")
    create_function(client, name, python_zip("w1"), Publish=True)
    client.update_function_code(FunctionName=name, ZipFile=python_zip("w2"), Publish=True)
    client.create_alias(FunctionName=name, Name="canary", FunctionVersion="1",
                        RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}})
    with expect_error("ValidationException", 400):
        client.update_alias(FunctionName=name, Name="canary", RoutingConfig={"AdditionalVersionWeights": {"2": 1.5}})
    counts = collections.Counter(_invoke(client, name, "canary")[0] for _ in range(200))
    assert set(counts) == {"1", "2"}
    # 200 draws at p=0.3: mean 60, sd ≈ 6.5; a loose bound of ±5 sd.
    assert 28 <= counts["2"] <= 92, counts


def test_reserved_concurrency(client, server):
    name = unique_name("reserved")
    slow = "import time\n\ndef handler(event, context):\n    time.sleep(event.get('s', 0))\n    return 'done'\n"
    create_function(client, name, make_zip_from(slow), Timeout=10)
    assert client.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions") is None
    put = client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    assert put["ReservedConcurrentExecutions"] == 1
    assert client.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 1}
    settings = client.get_account_settings()["AccountLimit"]
    assert settings["UnreservedConcurrentExecutions"] == settings["ConcurrentExecutions"] - 1

    results = []

    def call():
        try:
            res = client.invoke(FunctionName=name, Payload=json.dumps({"s": 2}).encode())
            results.append(("ok", res["Payload"].read()))
        except client.exceptions.TooManyRequestsException as e:
            results.append(("429", e.response))

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kinds = sorted(k for k, _ in results)
    assert kinds == ["429", "ok"], results
    throttled = [r for k, r in results if k == "429"][0]
    assert throttled["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert throttled["ResponseMetadata"]["HTTPStatusCode"] == 429

    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with expect_error("TooManyRequestsException", 429):
        client.invoke(FunctionName=name, Payload=b"{}")
    client.delete_function_concurrency(FunctionName=name)
    assert json.loads(client.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()) == "done"
    limit = client.get_account_settings()["AccountLimit"]["ConcurrentExecutions"]
    with expect_error("InvalidParameterValueException", 400):
        client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=limit)


def make_zip_from(source):
    from lambent_testlib import make_zip
    return make_zip({"app.py": source})


def test_versions_and_aliases_survive_restart(fresh_server):
    client = make_client(fresh_server.url)
    name = unique_name("durable")
    create_function(client, name, python_zip("r1"), Publish=True)
    client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=3)
    before = client.get_alias(FunctionName=name, Name="live")
    fresh_server.restart()
    client = make_client(fresh_server.url)
    after = client.get_alias(FunctionName=name, Name="live")
    before.pop("ResponseMetadata")
    after.pop("ResponseMetadata")
    assert after == before
    assert client.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 3
    assert _invoke(client, name, "live") == ("1", {"marker": "r1"})
    assert client.publish_version(FunctionName=name)["Version"] == "1"


def test_aws_cli_versions_and_aliases(server):
    name = unique_name("cli-ver")
    client = make_client(server.url)
    create_function(client, name)
    out = run_aws(server.url, "publish-version", "--function-name", name).json
    assert out["Version"] == "1"
    out = run_aws(server.url, "create-alias", "--function-name", name, "--name", "blue",
                  "--function-version", "1").json
    assert out["AliasArn"] == function_arn(name, "blue")
    out = run_aws(server.url, "list-aliases", "--function-name", name).json
    assert [a["Name"] for a in out["Aliases"]] == ["blue"]
    out = run_aws(server.url, "put-function-concurrency", "--function-name", name,
                  "--reserved-concurrent-executions", "2").json
    assert out == {"ReservedConcurrentExecutions": 2}
