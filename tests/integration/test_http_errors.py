"""Wire-level error behaviour that SDKs cannot provoke: malformed bodies, oversized bodies, unknown
routes, wrong methods, error body format (contract §1 general rules, §3.1, §3.3)."""

from __future__ import annotations

import base64
import http.client
import json
import re
import uuid

import pytest

from lambent_testlib import (ROLE, UUID_RE, assert_nothing_left_behind, assert_raw_error,
                             create_function, oversized_request, python_zip, snapshot, unique_name,
                             wait_updated)

CREATE_PATH = "/2015-03-31/functions"
OVERSIZE = 71 * 1024 * 1024


def create_body(name: str, zip_bytes: bytes | None = None, **extra) -> str:
    body = {"FunctionName": name, "Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler",
            "Code": {"ZipFile": base64.b64encode(zip_bytes or python_zip()).decode()}}
    body.update(extra)
    return json.dumps(body)


# --------------------------------------------------------------------------- malformed JSON


@pytest.mark.parametrize("body", ['{"FunctionName": "x", "Runtime": ', "not json at all",
                                  '{"FunctionName": "x"} trailing', "\xff\xfe garbage"],
                         ids=["truncated", "text", "trailing", "binary"])
def test_malformed_json_on_create(server, client, body):
    before = snapshot(client, server.data_dir)
    r = server.raw("POST", CREATE_PATH, body.encode("latin-1"))
    assert_raw_error(r, 400, "InvalidRequestContentException")
    msg = r.json.get("message")
    assert msg and msg.startswith("Could not parse request body into json"), r.body
    assert_nothing_left_behind(client, server.data_dir, before, None)


def test_malformed_json_on_update_configuration(server, client):
    name = unique_name("badjson")
    create_function(client, name)
    original = wait_updated(client, name)
    r = server.raw("PUT", f"/2015-03-31/functions/{name}/configuration", '{"Timeout": 5,')
    assert_raw_error(r, 400, "InvalidRequestContentException")
    r = server.raw("PUT", f"/2015-03-31/functions/{name}/code", "{{{")
    assert_raw_error(r, 400, "InvalidRequestContentException")
    now = client.get_function_configuration(FunctionName=name)
    now.pop("ResponseMetadata")
    assert now == original


@pytest.mark.parametrize("body", ["[1, 2, 3]", '"a string"', "42", "null"])
def test_json_that_is_not_an_object(server, client, body):
    before = snapshot(client, server.data_dir)
    r = server.raw("POST", CREATE_PATH, body)
    assert 400 <= r.status < 500, (r.status, r.body)
    assert_raw_error(r)
    assert_nothing_left_behind(client, server.data_dir, before, None)


def test_wrong_member_types(server, client):
    name = unique_name("types")
    before = snapshot(client, server.data_dir)
    r = server.raw("POST", CREATE_PATH, create_body(name, MemorySize="lots"))
    assert 400 <= r.status < 500, (r.status, r.body)
    assert_raw_error(r)
    r = server.raw("POST", CREATE_PATH, create_body(name, Environment={"Variables": {"AA": 1}}))
    assert 400 <= r.status < 500, (r.status, r.body)
    assert_raw_error(r)
    assert_nothing_left_behind(client, server.data_dir, before, name)


def test_zipfile_not_base64(server, client):
    name = unique_name("b64")
    before = snapshot(client, server.data_dir)
    body = json.dumps({"FunctionName": name, "Runtime": "python3.12", "Role": ROLE,
                       "Handler": "app.handler", "Code": {"ZipFile": "%%% not base64 %%%"}})
    r = server.raw("POST", CREATE_PATH, body)
    assert r.status == 400, r.body
    assert_raw_error(r)
    assert_nothing_left_behind(client, server.data_dir, before, name)


def test_create_without_content_type_is_accepted(server, client):
    name = unique_name("no-ctype")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest("POST", CREATE_PATH)
        body = create_body(name).encode()
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    assert resp.status == 201, data
    assert json.loads(data)["FunctionName"] == name


def test_keep_alive_connection_serves_many_requests(server, client):
    name = unique_name("keepalive")
    create_function(client, name)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        for path in (f"/2015-03-31/functions/{name}", "/2016-08-19/account-settings",
                     "/2015-03-31/functions/does-not-exist-ka", f"/2015-03-31/functions/{name}"):
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            assert resp.status in (200, 404)
    finally:
        conn.close()


# --------------------------------------------------------------------------- oversized bodies


@pytest.mark.slow
@pytest.mark.parametrize("op", ["CreateFunction", "UpdateFunctionCode"])
def test_request_entity_too_large(server, client, op):
    name = unique_name("huge")
    if op == "UpdateFunctionCode":
        create_function(client, name)
        wait_updated(client, name)
        method, path = "PUT", f"/2015-03-31/functions/{name}/code"
    else:
        method, path = "POST", CREATE_PATH
    before = snapshot(client, server.data_dir)
    resp, sent, note = oversized_request(server.port, method, path, OVERSIZE)
    assert resp is not None, f"no HTTP response to a {OVERSIZE}-byte body ({note})"
    assert_raw_error(resp, 413, "RequestEntityTooLargeException")
    msg = resp.json.get("message")
    assert msg and re.fullmatch(rf"Request must be smaller than \d+ bytes for the {op} operation",
                                msg), msg
    limit = int(re.search(r"\d+", msg).group())
    assert 69905067 <= limit < OVERSIZE, f"limit {limit} out of the documented range"
    # the server is healthy afterwards and nothing of the upload stayed
    assert client.get_account_settings()["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert_nothing_left_behind(client, server.data_dir, before,
                               name if op == "CreateFunction" else None)


# --------------------------------------------------------------------------- routing


@pytest.mark.parametrize("method,path", [
    ("GET", "/"),
    ("GET", "/nope"),
    ("GET", "/2015-03-31/nothing-here"),
    ("GET", "/2099-01-01/functions"),
    ("GET", "/2015-03-31/functions/x/y/z/w"),
    ("POST", "/2015-03-31/functions/x/unknown-suffix"),
    ("GET", "/2016-08-19/account-settings/extra"),
])
def test_unknown_path_is_404(server, method, path):
    r = server.raw(method, path, "{}" if method == "POST" else None)
    assert_raw_error(r, 404)


@pytest.mark.parametrize("method,path", [
    ("PATCH", "/2015-03-31/functions"),
    ("DELETE", "/2015-03-31/functions"),
    ("PUT", "/2016-08-19/account-settings"),
    ("POST", "/2015-03-31/functions/some-fn/configuration"),
    ("PATCH", "/2015-03-31/functions/some-fn"),
])
def test_wrong_method_on_known_path(server, method, path):
    r = server.raw(method, path, "{}")
    assert 400 <= r.status < 500, (r.status, r.body)
    assert_raw_error(r)


# --------------------------------------------------------------------------- error body format


def test_error_body_keys_follow_the_model(server, client):
    """Body key casing per §3.1 and `Type: User` for caller faults."""
    missing = unique_name("casing")
    r = server.raw("GET", f"/2015-03-31/functions/{missing}")
    assert_raw_error(r, 404, "ResourceNotFoundException")
    assert r.headers["content-type"].startswith("application/json")
    body = r.json
    assert body.get("Message") == (
        f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:{missing}"), body
    assert body.get("Type") == "User", body

    name = unique_name("casing-fn")
    create_function(client, name)
    wait_updated(client, name)
    cases = [
        # (method, path, body, status, code)
        ("POST", CREATE_PATH, create_body(name), 409, "ResourceConflictException"),
        ("PUT", f"/2015-03-31/functions/{name}/configuration",
         json.dumps({"Description": "x", "RevisionId": str(uuid.uuid4())}), 412,
         "PreconditionFailedException"),
        ("PUT", f"/2015-03-31/functions/{name}/configuration",
         json.dumps({"Environment": {"Variables": {"AWS_REGION": "x"}}}), 400,
         "InvalidParameterValueException"),
        ("PUT", f"/2015-03-31/functions/{name}/configuration", json.dumps({"MemorySize": 64}),
         400, "ValidationException"),
    ]
    for method, path, payload, status, code in cases:
        r = server.raw(method, path, payload)
        assert_raw_error(r, status, code)
        body = r.json
        assert isinstance(body.get("message"), str) and body["message"], (code, body)
        assert body.get("Type", "User") == "User", (code, body)


def test_every_success_has_a_request_id(server, client):
    name = unique_name("reqid")
    create_function(client, name)
    ids = set()
    for method, path in (("GET", f"/2015-03-31/functions/{name}"),
                         ("GET", f"/2015-03-31/functions/{name}/configuration"),
                         ("GET", "/2015-03-31/functions"),
                         ("GET", "/2016-08-19/account-settings"),
                         ("GET", f"/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000"
                                 f"%3Afunction%3A{name}")):
        r = server.raw(method, path)
        assert r.status == 200, (path, r.body)
        rid = r.headers.get("x-amzn-requestid", "")
        assert UUID_RE.match(rid), (path, r.headers)
        ids.add(rid)
    assert len(ids) == 5, "request ids must be unique per request"
