"""Function URLs (#7): config API through boto3, requests through plain HTTP (curl as a user would)."""
import base64
import json
import subprocess

from lambent_testlib import create_function, expect_error, function_arn, make_client, make_zip, unique_name

ECHO_EVENT = ("import json\n\ndef handler(event, context):\n"
              "    if event['rawPath'] == '/full':\n"
              "        return {'statusCode': 201, 'headers': {'X-Test': 'yes', 'Content-Type': 'text/plain'},\n"
              "                'cookies': ['a=1', 'b=2'], 'body': 'created'}\n"
              "    if event['rawPath'] == '/binary':\n"
              "        return {'statusCode': 200, 'body': 'AAEC', 'isBase64Encoded': True}\n"
              "    if event['rawPath'] == '/fail':\n"
              "        raise ValueError('boom')\n"
              "    return event\n")


def curl(*args):
    res = subprocess.run(["curl", "-sS", "-i", *args], capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr
    head, _, body = res.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.setdefault(k.strip().lower(), []).append(v.strip())
    return status, headers, body


def test_function_url_lifecycle_and_requests(server):
    c = make_client(server.url)
    name = unique_name("url")
    create_function(c, name, make_zip({"app.py": ECHO_EVENT}))
    created = c.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    url = created["FunctionUrl"]
    assert url.startswith(server.url + "/lambda-url/") and url.endswith("/")
    assert created["FunctionArn"] == function_arn(name)
    with expect_error("ResourceConflictException", 409):
        c.create_function_url_config(FunctionName=name, AuthType="NONE")
    with expect_error("ValidationException", 400):
        c.create_function_url_config(FunctionName=name, AuthType="NONE", Qualifier="$LATEST")
    got = c.get_function_url_config(FunctionName=name)
    assert got["FunctionUrl"] == url and "LastModifiedTime" in got
    assert [u["FunctionUrl"] for u in c.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]] == [url]

    # A request becomes the payload 2.0 event.
    status, headers, body = curl("-X", "POST", url + "items/42?q=x&q=y&z=1", "-H", "Content-Type: application/json",
                                 "-H", "Cookie: c1=v1; c2=v2", "-d", '{"k": "v"}')
    assert status == 200, body
    event = json.loads(body)
    assert event["version"] == "2.0" and event["rawPath"] == "/items/42"
    assert event["rawQueryString"] == "q=x&q=y&z=1"
    assert event["queryStringParameters"] == {"q": "x,y", "z": "1"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["body"] == '{"k": "v"}' and event["isBase64Encoded"] is False
    assert event["headers"]["content-type"] == "application/json"

    # Binary request bodies arrive base64-encoded.
    status, _, body = curl("-X", "PUT", url + "upload", "-H", "Content-Type: application/octet-stream",
                           "--data-binary", "\x01\x02")
    event = json.loads(body)
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x01\x02"

    # A full response object maps onto the HTTP response.
    status, headers, body = curl(url + "full")
    assert status == 201 and body == b"created"
    assert headers["x-test"] == ["yes"] and headers["content-type"] == ["text/plain"]
    assert sorted(headers["set-cookie"]) == ["a=1", "b=2"]
    status, _, body = curl(url + "binary")
    assert status == 200 and body == b"\x00\x01\x02"
    status, _, body = curl(url + "fail")
    assert status == 502
    status, _, _ = curl(server.url + "/lambda-url/" + "0" * 32 + "/")
    assert status == 404

    c.delete_function_url_config(FunctionName=name)
    with expect_error("ResourceNotFoundException", 404, "The resource you requested does not exist."):
        c.get_function_url_config(FunctionName=name)
    status, _, _ = curl(url)
    assert status == 404
