"""Parameter validation on CreateFunction / UpdateFunctionConfiguration (contract §2, §3.2, §3.3).

Every rejected create is followed by a check that nothing was left behind (no function, unchanged
ListFunctions, no new files under the data dir)."""

from __future__ import annotations

import re

import pytest

from lambent_testlib import (ROLE, SUPPORTED_RUNTIMES, assert_nothing_left_behind,
                             create_function, expect_error, python_zip, snapshot, unique_name,
                             wait_updated)

RESERVED_MSG = ("Lambda was unable to configure your environment variables because the environment "
                "variables you have provided contains reserved keys that are currently not supported "
                "for modification. Reserved keys used in this request: {}")
RUNTIME_RE = (r"Value {} at 'runtime' failed to satisfy constraint: Member must satisfy enum value "
              r"set: \[(?P<enum>[^\]]+)\] or be a valid ARN")


def one_error(value: str, field: str, constraint: str) -> str:
    return (f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
            f"constraint: {constraint}")


# (id, parameters, code, status, exact message or None, message regex or None)
CONFIG_CASES = [
    ("memory-64", {"MemorySize": 64}, "ValidationException", 400,
     one_error("64", "memorySize", "Member must have value greater than or equal to 128"), None),
    ("memory-127", {"MemorySize": 127}, "ValidationException", 400,
     one_error("127", "memorySize", "Member must have value greater than or equal to 128"), None),
    ("timeout-0", {"Timeout": 0}, "ValidationException", 400,
     one_error("0", "timeout", "Member must have value greater than or equal to 1"), None),
    ("memory-10241", {"MemorySize": 10241}, "InvalidParameterValueException", 400, None, None),
    ("timeout-901", {"Timeout": 901}, "InvalidParameterValueException", 400, None, None),
    ("runtime-unknown", {"Runtime": "python4.0"}, "InvalidParameterValueException", 400, None,
     RUNTIME_RE.format(re.escape("python4.0"))),
    ("env-reserved", {"Environment": {"Variables": {"AWS_REGION": "eu-west-1"}}},
     "InvalidParameterValueException", 400, RESERVED_MSG.format("AWS_REGION"), None),
    ("env-too-big", {"Environment": {"Variables": {"BIG": "x" * 5000}}},
     "InvalidParameterValueException", 400, None, None),
    ("env-too-big-many-keys",
     {"Environment": {"Variables": {f"KEY_{i:03d}": "v" * 40 for i in range(100)}}},
     "InvalidParameterValueException", 400, None, None),
    ("ephemeral-511", {"EphemeralStorage": {"Size": 511}}, "ValidationException", 400, None,
     r"1 validation error detected: Value '511' at 'ephemeralStorage\.size' failed to satisfy "
     r"constraint: Member must have value greater than or equal to 512"),
    ("ephemeral-10241", {"EphemeralStorage": {"Size": 10241}}, "ValidationException", 400, None,
     r"1 validation error detected: Value '10241' at 'ephemeralStorage\.size' failed to satisfy "
     r"constraint: Member must have value less than or equal to 10240"),
    ("description-257", {"Description": "d" * 257}, "ValidationException", 400, None,
     r"1 validation error detected: Value '.*' at 'description' failed to satisfy constraint: "
     r"Member must have length less than or equal to 256"),
]

CREATE_ONLY_CASES = [
    ("architectures-two", {"Architectures": ["x86_64", "arm64"]}, "ValidationException", 400,
     one_error("[x86_64, arm64]", "architectures",
               "Member must have length less than or equal to 1"), None),
    ("architectures-bad", {"Architectures": ["sparc"]}, "ValidationException", 400,
     one_error("[sparc]", "architectures",
               "Member must satisfy constraint: [Member must satisfy enum value set: "
               "[x86_64, arm64], Member must not be null]"), None),
    ("architectures-empty", {"Architectures": []}, "ValidationException", 400,
     one_error("[]", "architectures", "Member must have length greater than or equal to 1"), None),
    ("s3-code", {"Code": {"S3Bucket": "my-bucket", "S3Key": "code.zip"}},
     "InvalidParameterValueException", 400, None, r"(?is).*not supported.*"),
    ("image-uri", {"PackageType": "Image",
                   "Code": {"ImageUri": "000000000000.dkr.ecr.us-east-1.amazonaws.com/fn:latest"}},
     "InvalidParameterValueException", 400, None, r"(?is).*not supported.*"),
    ("image-uri-zip-package", {"Code": {"ImageUri": "000000000000.dkr.ecr.us-east-1.amazonaws.com/x:1"}},
     "InvalidParameterValueException", 400, None, None),
    ("missing-handler", {"Handler": None}, "InvalidParameterValueException", 400, None, None),
    ("missing-role", {"Role": None}, "ValidationException", 400, None,
     r"1 validation error detected: Value null at 'role' failed to satisfy constraint: "
     r"Member must not be null\.?"),
]


def create_params(name: str, overrides: dict) -> dict:
    params = dict(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                  Code={"ZipFile": python_zip("validation")})
    for k, v in overrides.items():
        if v is None:
            params.pop(k, None)
        else:
            params[k] = v
    return params


@pytest.mark.parametrize("case", CONFIG_CASES + CREATE_ONLY_CASES, ids=lambda c: c[0])
def test_create_rejects(lax_client, server, case):
    _, overrides, code, status, message, message_re = case
    name = unique_name("bad")
    before = snapshot(lax_client, server.data_dir)
    with expect_error(code, status, message, message_re) as ei:
        lax_client.create_function(**create_params(name, overrides))
    if case[0] == "runtime-unknown":
        enum = [x.strip() for x in re.fullmatch(message_re, ei.value.response["Error"]["Message"])
                .group("enum").split(",")]
        missing = [r for r in SUPPORTED_RUNTIMES if r not in enum]
        assert not missing, f"enum list in the message lacks supported runtimes {missing}"
    assert_nothing_left_behind(lax_client, server.data_dir, before, name)


@pytest.fixture
def victim(client):
    """A settled function for update-rejection tests."""
    name = unique_name("victim")
    create_function(client, name, Environment={"Variables": {"KEEP": "me"}})
    return wait_updated(client, name)


@pytest.mark.parametrize("case", CONFIG_CASES, ids=lambda c: c[0])
def test_update_configuration_rejects(lax_client, victim, case):
    _, overrides, code, status, message, message_re = case
    name = victim["FunctionName"]
    with expect_error(code, status, message, message_re):
        lax_client.update_function_configuration(FunctionName=name, **overrides)
    after = lax_client.get_function_configuration(FunctionName=name)
    after.pop("ResponseMetadata")
    assert after == victim, "a rejected update must not change the function"


def test_function_name_65_chars(lax_client, server):
    name = "n" * 65
    before = snapshot(lax_client, server.data_dir)
    with expect_error("ValidationException", 400, one_error(
            name, "functionName", "Member must have length less than or equal to 64")):
        lax_client.create_function(**create_params(name, {}))
    assert_nothing_left_behind(lax_client, server.data_dir, before, None)


def test_function_name_64_chars_accepted(client):
    name = unique_name("n64").ljust(64, "x")
    assert len(name) == 64
    res = create_function(client, name)
    assert res["FunctionName"] == name


def test_two_validation_errors_in_one_message(lax_client, server):
    name = unique_name("two-errors")
    with expect_error("ValidationException", 400) as ei:
        lax_client.create_function(**create_params(name, {"MemorySize": 64, "Timeout": 0}))
    msg = ei.value.response["Error"]["Message"]
    assert msg.startswith("2 validation errors detected: "), msg
    parts = msg[len("2 validation errors detected: "):].split("; ")
    assert sorted(parts) == sorted([
        "Value '64' at 'memorySize' failed to satisfy constraint: "
        "Member must have value greater than or equal to 128",
        "Value '0' at 'timeout' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"]), parts


# `_HANDLER` and `_X_AMZN_TRACE_ID` are on the reserved list too, but they already fail the key
# pattern `[a-zA-Z]([a-zA-Z0-9_])+` (ValidationException) before the reserved-key check.
@pytest.mark.parametrize("key", ["AWS_REGION", "AWS_EXECUTION_ENV", "AWS_LAMBDA_RUNTIME_API",
                                 "LAMBDA_TASK_ROOT", "AWS_SECRET_ACCESS_KEY",
                                 "AWS_LAMBDA_FUNCTION_NAME"])
def test_reserved_environment_keys(lax_client, server, key):
    name = unique_name("reserved")
    before = snapshot(lax_client, server.data_dir)
    with expect_error("InvalidParameterValueException", 400, RESERVED_MSG.format(key)):
        lax_client.create_function(**create_params(
            name, {"Environment": {"Variables": {"OK_KEY": "1", key: "x"}}}))
    assert_nothing_left_behind(lax_client, server.data_dir, before, name)


@pytest.mark.parametrize("key", ["A", "1ABC", "_HANDLER", "HAS-DASH", "HAS SPACE"])
def test_environment_key_pattern(lax_client, server, key):
    name = unique_name("env-key")
    before = snapshot(lax_client, server.data_dir)
    with expect_error("ValidationException", 400, None,
                      r"1 validation error detected: Value at 'environment\.variables' failed to "
                      r"satisfy constraint: Map keys must satisfy constraint: \[Member must satisfy "
                      r"regular expression pattern: \[a-zA-Z\]\(\[a-zA-Z0-9_\]\)\+\]"):
        lax_client.create_function(**create_params(
            name, {"Environment": {"Variables": {"GOOD_KEY": "1", key: "x"}}}))
    assert_nothing_left_behind(lax_client, server.data_dir, before, name)


def test_overridable_environment_keys_accepted(client):
    env = {"LANG": "C.UTF-8", "PATH": "/usr/bin:/bin", "NODE_OPTIONS": "--enable-source-maps",
           "PYTHONPATH": "/var/task/lib", "AWS_LAMBDA_EXEC_WRAPPER": "/opt/wrapper",
           "LD_LIBRARY_PATH": "/opt/lib"}
    res = create_function(client, unique_name("override-env"), Environment={"Variables": env})
    assert res["Environment"]["Variables"] == env


def test_environment_just_under_4kb_accepted(client):
    env = {"BIG": "x" * 3000, "SMALL": "y"}
    res = create_function(client, unique_name("env-3k"), Environment={"Variables": env})
    assert res["Environment"]["Variables"] == env


def test_boundary_values_accepted(client):
    res = create_function(client, unique_name("bounds-lo"), MemorySize=128, Timeout=1,
                          EphemeralStorage={"Size": 512})
    assert (res["MemorySize"], res["Timeout"], res["EphemeralStorage"]["Size"]) == (128, 1, 512)
    res = create_function(client, unique_name("bounds-hi"), MemorySize=10240, Timeout=900,
                          EphemeralStorage={"Size": 10240})
    assert (res["MemorySize"], res["Timeout"], res["EphemeralStorage"]["Size"]) == (10240, 900, 10240)


def test_create_existing_function_conflicts(client, server):
    name = unique_name("dup")
    zip1 = python_zip("dup-1")
    created = create_function(client, name, zip1)
    original = wait_updated(client, name)
    before = snapshot(client, server.data_dir)
    with expect_error("ResourceConflictException", 409, f"Function already exist: {name}"):
        create_function(client, name, python_zip("dup-2"), Description="second")
    now = client.get_function_configuration(FunctionName=name)
    now.pop("ResponseMetadata")
    assert now == original
    assert now["CodeSha256"] == created["CodeSha256"]
    # nothing of the rejected upload stays on disk
    assert_nothing_left_behind(client, server.data_dir, before, None)
