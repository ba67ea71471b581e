"""The issue's flow with the real AWS CLI (`/usr/bin/aws lambda ... --endpoint-url`)."""

from __future__ import annotations

import os

import pytest

from lambent_testlib import (AWS_CLI, LAST_MODIFIED_RE, ROLE, b64sha256, fetch, function_arn,
                             not_found_message, python_zip, unique_name, zip_with_raw_entry)

pytestmark = pytest.mark.skipif(not os.access(AWS_CLI, os.X_OK),
                                reason=f"AWS CLI not installed at {AWS_CLI} (apt-get install awscli)")


def test_cli_full_flow(server, tmp_path):
    name = unique_name("cli")
    arn = function_arn(name)
    zip1, zip2 = python_zip("cli-1"), python_zip("cli-2", extra={"x.py": "X = 1\n"})
    (tmp_path / "v1.zip").write_bytes(zip1)
    (tmp_path / "v2.zip").write_bytes(zip2)

    # create-function
    out = server.aws("create-function", "--function-name", name, "--runtime", "python3.12",
                     "--role", ROLE, "--handler", "app.handler",
                     "--zip-file", f"fileb://{tmp_path / 'v1.zip'}",
                     "--description", "from the cli", "--timeout", "5",
                     "--environment", "Variables={STAGE=cli,NUM=1}",
                     "--tags", "team=cli,env=test").json
    assert out["FunctionName"] == name
    assert out["FunctionArn"] == arn
    assert out["CodeSha256"] == b64sha256(zip1)
    assert out["CodeSize"] == len(zip1)
    assert out["Description"] == "from the cli"
    assert out["Timeout"] == 5
    assert out["Version"] == "$LATEST"
    assert out["Environment"] == {"Variables": {"STAGE": "cli", "NUM": "1"}}
    assert LAST_MODIFIED_RE.match(out["LastModified"])

    server.aws("wait", "function-active-v2", "--function-name", name)

    # get-function
    got = server.aws("get-function", "--function-name", name).json
    assert got["Configuration"]["State"] == "Active"
    assert got["Configuration"]["CodeSha256"] == b64sha256(zip1)
    assert got["Tags"] == {"team": "cli", "env": "test"}
    assert got["Code"]["RepositoryType"] == "S3"
    status, _, body = fetch(got["Code"]["Location"])
    assert (status, body) == (200, zip1)

    # get-function-configuration (by ARN)
    conf = server.aws("get-function-configuration", "--function-name", arn).json
    assert conf == got["Configuration"]

    # list-functions (the CLI paginates by itself) and a truncated listing
    listed = server.aws("list-functions").json
    assert name in [f["FunctionName"] for f in listed["Functions"]]
    assert "NextMarker" not in listed and "NextToken" not in listed
    first = server.aws("list-functions", "--max-items", "1").json
    assert len(first["Functions"]) == 1
    if len(listed["Functions"]) > 1:
        assert first.get("NextToken")

    # update-function-code
    upd = server.aws("update-function-code", "--function-name", name,
                     "--zip-file", f"fileb://{tmp_path / 'v2.zip'}").json
    assert upd["CodeSha256"] == b64sha256(zip2)
    assert upd["CodeSize"] == len(zip2)
    assert upd["RevisionId"] != got["Configuration"]["RevisionId"]
    server.aws("wait", "function-updated-v2", "--function-name", name)

    # update-function-configuration
    cfg = server.aws("update-function-configuration", "--function-name", name,
                     "--timeout", "30", "--memory-size", "256", "--handler", "app.other",
                     "--environment", "Variables={STAGE=prod}").json
    assert (cfg["Timeout"], cfg["MemorySize"], cfg["Handler"]) == (30, 256, "app.other")
    assert cfg["Environment"] == {"Variables": {"STAGE": "prod"}}
    assert cfg["CodeSha256"] == b64sha256(zip2)
    server.aws("wait", "function-updated-v2", "--function-name", name)
    conf = server.aws("get-function-configuration", "--function-name", name).json
    assert conf["LastUpdateStatus"] == "Successful"
    assert (conf["Timeout"], conf["MemorySize"], conf["Handler"]) == (30, 256, "app.other")

    # tag-resource / list-tags / untag-resource
    res = server.aws("tag-resource", "--resource", arn, "--tags", "owner=me,env=prod")
    assert res.stdout.strip() == ""
    tags = server.aws("list-tags", "--resource", arn).json
    assert tags == {"Tags": {"team": "cli", "env": "prod", "owner": "me"}}
    res = server.aws("untag-resource", "--resource", arn, "--tag-keys", "team", "owner")
    assert res.stdout.strip() == ""
    assert server.aws("list-tags", "--resource", arn).json == {"Tags": {"env": "prod"}}

    # get-account-settings
    acct = server.aws("get-account-settings").json
    assert acct["AccountLimit"]["CodeSizeZipped"] == 52428800
    assert acct["AccountLimit"]["CodeSizeUnzipped"] == 262144000
    assert acct["AccountUsage"]["FunctionCount"] >= 1
    assert acct["AccountUsage"]["TotalCodeSize"] >= len(zip2)

    # delete-function
    res = server.aws("delete-function", "--function-name", name)
    assert res.stdout.strip() == ""
    gone = server.aws("get-function", "--function-name", name, check=False)
    assert gone.returncode == 254, (gone.returncode, gone.stderr)
    assert gone.stdout == ""
    assert (f"An error occurred (ResourceNotFoundException) when calling the GetFunction "
            f"operation: {not_found_message(name)}") in gone.stderr
    after = server.aws("get-account-settings").json
    assert after["AccountUsage"]["FunctionCount"] == acct["AccountUsage"]["FunctionCount"] - 1


def test_cli_error_messages(server, tmp_path):
    name = unique_name("cli-err")
    (tmp_path / "f.zip").write_bytes(python_zip("cli-err"))
    create = ["create-function", "--function-name", name, "--runtime", "python3.12", "--role", ROLE,
              "--handler", "app.handler", "--zip-file", f"fileb://{tmp_path / 'f.zip'}"]
    server.aws(*create)
    server.aws("wait", "function-active-v2", "--function-name", name)
    dup = server.aws(*create, check=False)
    assert dup.returncode == 254
    assert (f"An error occurred (ResourceConflictException) when calling the CreateFunction "
            f"operation: Function already exist: {name}") in dup.stderr

    bad = server.aws("update-function-configuration", "--function-name", name,
                     "--environment", "Variables={AWS_REGION=eu-west-1}", check=False)
    assert bad.returncode == 254
    assert ("An error occurred (InvalidParameterValueException) when calling the "
            "UpdateFunctionConfiguration operation: Lambda was unable to configure your "
            "environment variables because") in bad.stderr

    # (the CLI refuses a --zip-file that is not a ZIP itself, so send a hostile one instead)
    (tmp_path / "evil.zip").write_bytes(zip_with_raw_entry("../escape.txt"))
    evil = server.aws("update-function-code", "--function-name", name,
                      "--zip-file", f"fileb://{tmp_path / 'evil.zip'}", check=False)
    assert evil.returncode == 254, (evil.returncode, evil.stderr)
    assert ("An error occurred (InvalidParameterValueException) when calling the "
            "UpdateFunctionCode operation: Could not unzip uploaded file. Please check your "
            "file, then try to upload again.") in evil.stderr

    pre = server.aws("update-function-configuration", "--function-name", name,
                     "--description", "x", "--revision-id",
                     "00000000-0000-4000-8000-000000000000", check=False)
    assert pre.returncode == 254
    assert ("An error occurred (PreconditionFailedException) when calling the "
            "UpdateFunctionConfiguration operation: The Revision Id provided does not match") in pre.stderr

    missing = server.aws("delete-function", "--function-name", name + "-nope", check=False)
    assert missing.returncode == 254
    assert (f"An error occurred (ResourceNotFoundException) when calling the DeleteFunction "
            f"operation: {not_found_message(name + '-nope')}") in missing.stderr
