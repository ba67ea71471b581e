"""Provisioned concurrency (#6): workers initialised ahead of traffic, no cold start, replaced when they die."""
import base64
import json
import time

from lambent_testlib import create_function, expect_error, make_client, make_zip, unique_name

SRC = ("import os\n\ndef handler(event, context):\n    if event.get('crash'):\n        os._exit(3)\n"
       "    return os.environ['AWS_LAMBDA_INITIALIZATION_TYPE']\n")


def wait_ready(c, name, qualifier, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cfg = c.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        if cfg["Status"] == "READY":
            return cfg
        time.sleep(0.1)
    raise AssertionError(f"provisioned concurrency never READY: {cfg}")


def test_provisioned_workers_are_warm_and_replaced(server):
    c = make_client(server.url)
    name = unique_name("prov")
    create_function(c, name, make_zip({"app.py": SRC}), Publish=True)
    with expect_error("ProvisionedConcurrencyConfigNotFoundException", 404):
        c.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    with expect_error("InvalidParameterValueException", 400):
        c.put_provisioned_concurrency_config(FunctionName=name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1)
    put = c.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=2)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert put["RequestedProvisionedConcurrentExecutions"] == 2
    assert put["Status"] in ("IN_PROGRESS", "READY")
    cfg = wait_ready(c, name, "1")
    assert cfg["AllocatedProvisionedConcurrentExecutions"] == 2 and cfg["AvailableProvisionedConcurrentExecutions"] == 2

    res = c.invoke(FunctionName=name, Qualifier="1", Payload=b"{}", LogType="Tail")
    assert json.loads(res["Payload"].read()) == "provisioned-concurrency"
    log = base64.b64decode(res["LogResult"]).decode()
    assert "REPORT RequestId:" in log and "Init Duration" not in log, log

    # A provisioned worker that dies is replaced, and the configuration becomes READY again.
    crashed = c.invoke(FunctionName=name, Qualifier="1", Payload=b'{"crash": true}')
    assert crashed["FunctionError"] == "Unhandled"
    wait_ready(c, name, "1")
    listed = c.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"]
    assert [x["FunctionArn"].rsplit(":", 1)[1] for x in listed] == ["1"]
    c.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    with expect_error("ProvisionedConcurrencyConfigNotFoundException", 404):
        c.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")


def test_provisioned_cannot_exceed_reserved(server):
    c = make_client(server.url)
    name = unique_name("provres")
    create_function(c, name, Publish=True)
    c.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    with expect_error("InvalidParameterValueException", 400):
        c.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=2)
