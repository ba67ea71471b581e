"""Layers: PublishLayerVersion, GetLayerVersion(ByArn), ListLayers, ListLayerVersions, DeleteLayerVersion and
`Layers` on functions, through boto3 and the AWS CLI against the real server (lambda-contract.md §1, §2)."""

from __future__ import annotations

import base64
import io
import json
import re
import urllib.request
import zipfile

import pytest

from lambent_testlib import (ACCOUNT, LAST_MODIFIED_RE, b64sha256, create_function, expect_error,
                             make_zip, python_zip, unique_name, wait_updated)

REGION = "us-east-1"


def layer_arn(name: str, version: int | None = None) -> str:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{name}"
    return arn if version is None else f"{arn}:{version}"


def layer_zip(marker: str = "v1") -> bytes:
    return make_zip({"python/layermod.py": f"MARKER = {marker!r}\n"})


def publish(client, name: str, zip_bytes: bytes | None = None, **kw) -> dict:
    return client.publish_layer_version(LayerName=name, Content={"ZipFile": zip_bytes or layer_zip()}, **kw)


def strip(d: dict) -> dict:
    return {k: v for k, v in d.items() if k != "ResponseMetadata"}


# ------------------------------------------------------------------------------------ publish / get


def test_publish_layer_version_shape(client):
    name = unique_name("layer")
    data = layer_zip("shape")
    res = publish(client, name, data, Description="pillow", LicenseInfo="MIT",
                  CompatibleRuntimes=["python3.12", "python3.11"], CompatibleArchitectures=["x86_64"])
    assert res["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert res["LayerArn"] == layer_arn(name)
    assert res["LayerVersionArn"] == layer_arn(name, 1)
    assert res["Version"] == 1
    assert res["Description"] == "pillow"
    assert res["LicenseInfo"] == "MIT"
    assert res["CompatibleRuntimes"] == ["python3.12", "python3.11"]
    assert res["CompatibleArchitectures"] == ["x86_64"]
    assert LAST_MODIFIED_RE.match(res["CreatedDate"]), res["CreatedDate"]
    assert res["Content"]["CodeSha256"] == b64sha256(data)
    assert res["Content"]["CodeSize"] == len(data)
    # Content.Location serves the archive itself.
    with urllib.request.urlopen(res["Content"]["Location"], timeout=30) as r:
        assert r.read() == data

    got = client.get_layer_version(LayerName=name, VersionNumber=1)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert strip(got) == strip(res)
    by_arn = client.get_layer_version_by_arn(Arn=layer_arn(name, 1))
    assert strip(by_arn) == strip(res)
    # The layer's ARN works as LayerName too.
    assert client.get_layer_version(LayerName=layer_arn(name), VersionNumber=1)["Version"] == 1


def test_publish_minimal_omits_optional_members(client):
    name = unique_name("layer")
    res = strip(publish(client, name))
    assert res["Description"] == ""
    for absent in ("LicenseInfo", "CompatibleRuntimes", "CompatibleArchitectures"):
        assert absent not in res, res


def test_versions_count_up_and_deleted_numbers_are_not_reused(client):
    name = unique_name("layer")
    assert publish(client, name, layer_zip("a"))["Version"] == 1
    assert publish(client, name, layer_zip("b"))["Version"] == 2
    r = client.delete_layer_version(LayerName=name, VersionNumber=2)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    with expect_error("ResourceNotFoundException", 404, f"Layer version {layer_arn(name, 2)} does not exist."):
        client.get_layer_version(LayerName=name, VersionNumber=2)
    assert publish(client, name, layer_zip("c"))["Version"] == 3
    # Deleting a version that does not exist (any more) is not an error.
    assert client.delete_layer_version(LayerName=name, VersionNumber=2)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert client.delete_layer_version(LayerName=unique_name("nolayer"), VersionNumber=7)[
        "ResponseMetadata"]["HTTPStatusCode"] == 204


def test_version_numbers_survive_a_restart(fresh_server, fresh_client):
    name = unique_name("layer")
    publish(fresh_client, name, layer_zip("a"))
    publish(fresh_client, name, layer_zip("b"))
    fresh_client.delete_layer_version(LayerName=name, VersionNumber=2)
    fresh_server.restart()
    from lambent_testlib import make_client
    c = make_client(fresh_server.url)
    assert c.get_layer_version(LayerName=name, VersionNumber=1)["Version"] == 1
    assert publish(c, name, layer_zip("c"))["Version"] == 3


def test_get_missing_layer_version(client):
    name = unique_name("missing")
    with expect_error("ResourceNotFoundException", 404, f"Layer version {layer_arn(name, 1)} does not exist."):
        client.get_layer_version(LayerName=name, VersionNumber=1)
    with expect_error("ResourceNotFoundException", 404, f"Layer version {layer_arn(name, 4)} does not exist."):
        client.get_layer_version_by_arn(Arn=layer_arn(name, 4))


def test_publish_rejects_s3_content_and_bad_input(client, lax_client):
    name = unique_name("layer")
    with expect_error("InvalidParameterValueException", 400, message_re=".*not supported.*"):
        client.publish_layer_version(LayerName=name, Content={"S3Bucket": "bucket", "S3Key": "k.zip"})
    with expect_error("ValidationException", 400, message_re=".*at 'compatibleRuntimes'.*"):
        lax_client.publish_layer_version(LayerName=name, Content={"ZipFile": layer_zip()},
                                         CompatibleRuntimes=["cobol85"])
    with expect_error("ValidationException", 400, message_re=".*at 'compatibleArchitectures'.*"):
        lax_client.publish_layer_version(LayerName=name, Content={"ZipFile": layer_zip()},
                                         CompatibleArchitectures=["sparc"])
    with expect_error("ValidationException", 400, message_re=".*at 'layerName' failed to satisfy constraint.*"):
        lax_client.publish_layer_version(LayerName="bad name!", Content={"ZipFile": layer_zip()})
    with expect_error("InvalidParameterValueException", 400, message_re=".*Could not unzip.*"):
        client.publish_layer_version(LayerName=name, Content={"ZipFile": b"not a zip at all"})
    # Nothing was published by the failures.
    assert client.list_layer_versions(LayerName=name)["LayerVersions"] == []


def test_layer_zip_goes_through_the_zip_safety_checks(client):
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../escape.py", "x = 1\n")
    with expect_error("InvalidParameterValueException", 400):
        client.publish_layer_version(LayerName=unique_name("evil"), Content={"ZipFile": evil.getvalue()})


# ------------------------------------------------------------------------------------ lists


def test_list_layers_latest_matching_version_and_filters(client):
    name = unique_name("listed")
    publish(client, name, layer_zip("1"), CompatibleRuntimes=["python3.12"], CompatibleArchitectures=["x86_64"])
    publish(client, name, layer_zip("2"), CompatibleRuntimes=["nodejs20.x"], CompatibleArchitectures=["arm64"])

    def item(**filters):
        layers = []
        kwargs = dict(filters)
        while True:
            page = client.list_layers(**kwargs)
            layers += page["Layers"]
            if "NextMarker" not in page:
                break
            kwargs["Marker"] = page["NextMarker"]
        return next((l for l in layers if l["LayerName"] == name), None)

    it = item()
    assert it["LayerArn"] == layer_arn(name)
    assert it["LatestMatchingVersion"]["Version"] == 2
    assert it["LatestMatchingVersion"]["LayerVersionArn"] == layer_arn(name, 2)
    assert set(it["LatestMatchingVersion"]) >= {"LayerVersionArn", "Version", "Description", "CreatedDate",
                                                "CompatibleRuntimes", "CompatibleArchitectures"}
    assert item(CompatibleRuntime="python3.12")["LatestMatchingVersion"]["Version"] == 1
    assert item(CompatibleArchitecture="arm64")["LatestMatchingVersion"]["Version"] == 2
    assert item(CompatibleRuntime="python3.12", CompatibleArchitecture="arm64") is None
    assert item(CompatibleRuntime="java21") is None


def test_list_layer_versions_newest_first_with_paging(client):
    name = unique_name("paged")
    for i in range(5):
        publish(client, name, layer_zip(str(i)), CompatibleRuntimes=["python3.12" if i % 2 == 0 else "nodejs22.x"])
    seen, marker = [], None
    while True:
        kw = {"Marker": marker} if marker else {}
        page = client.list_layer_versions(LayerName=name, MaxItems=2, **kw)
        assert len(page["LayerVersions"]) <= 2
        seen += [v["Version"] for v in page["LayerVersions"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert seen == [5, 4, 3, 2, 1]
    only_python = client.list_layer_versions(LayerName=name, CompatibleRuntime="python3.12")["LayerVersions"]
    assert [v["Version"] for v in only_python] == [5, 3, 1]
    assert "Content" not in only_python[0]
    assert only_python[0]["LayerVersionArn"] == layer_arn(name, 5)


def test_list_layers_paging_over_many_layers(client):
    prefix = unique_name("many")
    names = [f"{prefix}-{i}" for i in range(4)]
    for n in names:
        publish(client, n, layer_zip(n), CompatibleRuntimes=["python3.13"])
    seen, marker = [], None
    while True:
        kw = {"Marker": marker} if marker else {}
        page = client.list_layers(CompatibleRuntime="python3.13", MaxItems=3, **kw)
        assert len(page["Layers"]) <= 3
        seen += [l["LayerName"] for l in page["Layers"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert [n for n in seen if n.startswith(prefix)] == names
    assert len(seen) == len(set(seen))


def test_list_max_items_out_of_range(lax_client):
    with expect_error("ValidationException", 400, message_re=".*less than or equal to 50.*"):
        lax_client.list_layers(MaxItems=51)


# ------------------------------------------------------------------------------------ functions


def test_function_layers_reported_and_captured_by_versions(client):
    a, b = unique_name("la"), unique_name("lb")
    za, zb = layer_zip("a"), layer_zip("b")
    arn_a = publish(client, a, za)["LayerVersionArn"]
    arn_b = publish(client, b, zb)["LayerVersionArn"]
    fn = unique_name("withlayers")
    res = create_function(client, fn, Layers=[arn_a, arn_b])
    assert res["Layers"] == [{"Arn": arn_a, "CodeSize": len(za)}, {"Arn": arn_b, "CodeSize": len(zb)}]
    v1 = client.publish_version(FunctionName=fn)
    assert v1["Layers"] == res["Layers"]

    # UpdateFunctionConfiguration replaces the list; [] removes every layer; the version keeps its own.
    up = client.update_function_configuration(FunctionName=fn, Layers=[arn_b])
    assert up["Layers"] == [{"Arn": arn_b, "CodeSize": len(zb)}]
    wait_updated(client, fn)
    cfg = client.get_function_configuration(FunctionName=fn)
    assert cfg["Layers"] == [{"Arn": arn_b, "CodeSize": len(zb)}]
    assert client.get_function_configuration(FunctionName=fn, Qualifier="1")["Layers"] == res["Layers"]
    up = client.update_function_configuration(FunctionName=fn, Layers=[])
    assert "Layers" not in up or up["Layers"] == []
    wait_updated(client, fn)
    # A layer change is publishable state.
    v2 = client.publish_version(FunctionName=fn)
    assert v2["Version"] == "2"
    listed = {f["Version"]: f for f in client.list_versions_by_function(FunctionName=fn)["Versions"]}
    assert listed["1"]["Layers"] == res["Layers"]


def test_function_keeps_a_deleted_layer_version(client):
    name = unique_name("gone")
    z = layer_zip("gone")
    arn = publish(client, name, z)["LayerVersionArn"]
    fn = unique_name("keeps")
    create_function(client, fn, Layers=[arn])
    client.delete_layer_version(LayerName=name, VersionNumber=1)
    assert client.get_function_configuration(FunctionName=fn)["Layers"] == [{"Arn": arn, "CodeSize": len(z)}]
    # … but it cannot be added to anything any more.
    with expect_error("InvalidParameterValueException", 400, f"Layer version {arn} does not exist."):
        create_function(client, unique_name("late"), Layers=[arn])


def test_function_layer_errors(client, lax_client):
    missing = layer_arn(unique_name("nope"), 1)
    with expect_error("InvalidParameterValueException", 400, f"Layer version {missing} does not exist."):
        create_function(client, unique_name("f"), Layers=[missing])
    names = [unique_name("five") for _ in range(6)]
    arns = [publish(client, n)["LayerVersionArn"] for n in names]
    with expect_error("InvalidParameterValueException", 400, "Cannot reference more than 5 layers."):
        create_function(client, unique_name("f"), Layers=arns)
    second = publish(client, names[0], layer_zip("again"))["LayerVersionArn"]
    with expect_error("InvalidParameterValueException", 400,
                      message_re=".*Two different versions of the same layer are not allowed.*"):
        create_function(client, unique_name("f"), Layers=[arns[0], second])
    with expect_error("ValidationException", 400, message_re=".*at 'layers' failed to satisfy constraint.*"):
        lax_client.create_function(FunctionName=unique_name("f"), Runtime="python3.12", Handler="app.handler",
                                   Role=f"arn:aws:iam::{ACCOUNT}:role/r", Code={"ZipFile": python_zip()},
                                   Layers=["not-an-arn"])
    other_region = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:layer:{names[0]}:1"
    with expect_error("InvalidParameterValueException", 400,
                      "Layers are not in the same region as the function. Layers are expected to be in region "
                      "us-east-1."):
        create_function(client, unique_name("f"), Layers=[other_region])
    # Update with a missing layer leaves the function as it was.
    fn = unique_name("upd")
    create_function(client, fn, Layers=[arns[1]])
    with expect_error("InvalidParameterValueException", 400, f"Layer version {missing} does not exist."):
        client.update_function_configuration(FunctionName=fn, Layers=[missing])
    assert [l["Arn"] for l in client.get_function_configuration(FunctionName=fn)["Layers"]] == [arns[1]]


def test_unzipped_function_plus_layers_limit(client):
    # Two layers of 135 MB unzipped each (small zeros files, well compressed): fine alone, over 250 MB together.
    def big_zip(i: int) -> bytes:
        return make_zip({f"python/pad{i}-{k}.bin": bytes(15 * 1024 * 1024) for k in range(9)})
    big = [publish(client, unique_name("big"), big_zip(i))["LayerVersionArn"] for i in range(2)]
    fn = unique_name("fits")
    create_function(client, fn, Layers=[big[0]])
    with expect_error("InvalidParameterValueException", 400, "Unzipped size must be smaller than 262144000 bytes"):
        create_function(client, unique_name("toobig"), Layers=big)
    with expect_error("InvalidParameterValueException", 400, "Unzipped size must be smaller than 262144000 bytes"):
        client.update_function_configuration(FunctionName=fn, Layers=big)


# ------------------------------------------------------------------------------------ AWS CLI


def test_layers_with_the_aws_cli(server, tmp_path):
    name = unique_name("cli")
    zpath = tmp_path / "layer.zip"
    zpath.write_bytes(layer_zip("cli"))
    pub = server.aws("publish-layer-version", "--layer-name", name, "--zip-file", f"fileb://{zpath}",
                     "--compatible-runtimes", "python3.12", "nodejs20.x", "--license-info", "Apache-2.0",
                     "--description", "from the cli").json
    assert pub["LayerVersionArn"] == layer_arn(name, 1)
    assert pub["CompatibleRuntimes"] == ["python3.12", "nodejs20.x"]
    got = server.aws("get-layer-version", "--layer-name", name, "--version-number", "1").json
    assert got["Description"] == "from the cli"
    by_arn = server.aws("get-layer-version-by-arn", "--arn", layer_arn(name, 1)).json
    assert by_arn["LicenseInfo"] == "Apache-2.0"
    versions = server.aws("list-layer-versions", "--layer-name", name).json["LayerVersions"]
    assert [v["Version"] for v in versions] == [1]
    layers = server.aws("list-layers", "--compatible-runtime", "nodejs20.x").json["Layers"]
    assert name in [l["LayerName"] for l in layers]
    server.aws("delete-layer-version", "--layer-name", name, "--version-number", "1")
    missing = server.aws("get-layer-version", "--layer-name", name, "--version-number", "1", check=False)
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr


# ------------------------------------------------------------------------------------ lambent CLI


def test_publish_layer_and_deploy_with_layers_through_the_cli(server, client, tmp_path):
    import os
    import subprocess

    from lambent_testlib import lambent_binary

    def cli(*args):
        env = dict(os.environ, LAMBENT_ENDPOINT=server.url)
        return subprocess.run([str(lambent_binary()), *args], capture_output=True, text=True, env=env,
                              stdin=subprocess.DEVNULL, timeout=120)

    layer_dir = tmp_path / "layer" / "python"
    layer_dir.mkdir(parents=True)
    (layer_dir / "layermod.py").write_text("MARKER = 'cli'\n")
    name = unique_name("clilayer")
    r = cli("publish-layer", str(tmp_path / "layer"), "--name", name, "--compatible-runtime", "python3.12",
            "--license", "MIT")
    assert r.returncode == 0, r.stderr
    arn = r.stdout.strip()
    assert arn == layer_arn(name, 1), r.stdout
    assert "published" in r.stderr
    got = client.get_layer_version_by_arn(Arn=arn)
    assert got["CompatibleRuntimes"] == ["python3.12"] and got["LicenseInfo"] == "MIT"

    fn_dir = tmp_path / "fn"
    fn_dir.mkdir()
    (fn_dir / "app.py").write_text("import layermod\n\ndef handler(event, context):\n    return layermod.MARKER\n")
    fn = unique_name("clifn")
    r = cli("deploy", str(fn_dir), "--name", fn, "--runtime", "python3.12", "--handler", "app.handler",
            "--layer", arn)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"created {fn} (python3.12, app.handler, 1 file, "), r.stdout
    assert [l["Arn"] for l in client.get_function_configuration(FunctionName=fn)["Layers"]] == [arn]
    r = cli("invoke", fn)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == '"cli"'

    r = cli("publish-layer", str(tmp_path / "layer"), "--name", "bad name!")
    assert r.returncode == 2
    assert "ValidationException" in r.stderr
