"""SigV4 authentication (`serve --auth sigv4 --credentials FILE`) with the real clients: boto3, the AWS CLI,
the `lambent` client commands, curl, and requests signed by botocore's own signer."""
from __future__ import annotations

import datetime
import json
import os
import subprocess
from unittest import mock

import boto3
import botocore.auth
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from lambent_testlib import (AWS_CLI, REGION, aws_cli_env, create_function, make_zip, raw_request, unique_name,
                             wait_active)

KEY_ID = "AKIALAMBENTTEST00001"
SECRET = "lambent/test+secret/0123456789abcdefghij"
CI_KEY_ID = "AKIALAMBENTTEST00002"
CI_SECRET = "another-secret"
BAD_SIGNATURE = ("The request signature we calculated does not match the signature you provided. Check your AWS "
                 "Secret Access Key and signing method. Consult the service documentation for details.")
ECHO = "def handler(event, context):\n    return event\n"


@pytest.fixture(scope="module")
def creds_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("creds") / "credentials"
    path.write_text(f"# keys allowed to call the test server\n[default]\naws_access_key_id = {KEY_ID}\n"
                    f"aws_secret_access_key = {SECRET}\n\n[ci]\naws_access_key_id={CI_KEY_ID}\n"
                    f"aws_secret_access_key={CI_SECRET}\n")
    return path


@pytest.fixture(scope="module")
def server(module_factory, creds_file):
    return module_factory.new("auth", extra_args=["--auth", "sigv4", "--credentials", str(creds_file)])


def client_for(url, key=KEY_ID, secret=SECRET, service="lambda"):
    return boto3.session.Session().client(
        service, endpoint_url=url, region_name=REGION, aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 0}))


def signed(url, method="GET", body=b"", headers=None, key=KEY_ID, secret=SECRET, service="lambda", query=False):
    """A request signed by botocore's signer, sent with http.client; returns (status, headers, body)."""
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    creds = Credentials(key, secret)
    (SigV4QueryAuth(creds, service, REGION, expires=60) if query else SigV4Auth(creds, service, REGION)).add_auth(req)
    prepared = req.prepare()
    import http.client
    import urllib.parse
    u = urllib.parse.urlsplit(prepared.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.request(method, u.path + ("?" + u.query if u.query else ""), body=body or None,
                     headers=dict(prepared.headers.items()))
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_right_key_works_for_every_profile(server):
    c = client_for(server.url)
    name = unique_name("auth")
    create_function(c, name, make_zip({"app.py": ECHO}))
    wait_active(c, name)
    out = c.invoke(FunctionName=name, Payload=b'{"hello": "world"}')
    assert out["StatusCode"] == 200 and json.loads(out["Payload"].read()) == {"hello": "world"}
    names = [f["FunctionName"] for f in client_for(server.url, CI_KEY_ID, CI_SECRET).list_functions()["Functions"]]
    assert name in names


def test_wrong_secret_is_invalid_signature(server):
    with pytest.raises(ClientError) as e:
        client_for(server.url, secret="not-the-secret").list_functions()
    err = e.value.response
    assert err["Error"]["Code"] == "InvalidSignatureException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert err["Error"]["Message"].startswith(BAD_SIGNATURE)
    assert "The Canonical String for this request should have been\n'GET\n/2015-03-31/functions/\n" in \
        err["Error"]["Message"]


def test_unknown_key_is_unrecognized_client(server):
    with pytest.raises(ClientError) as e:
        client_for(server.url, key="AKIAUNKNOWN000000000").list_functions()
    err = e.value.response
    assert err["Error"]["Code"] == "UnrecognizedClientException"
    assert err["Error"]["Message"] == "The security token included in the request is invalid."
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unsigned_request_is_missing_authentication_token(server):
    res = subprocess.run(["curl", "-sS", "-i", server.url + "/2015-03-31/functions/"], capture_output=True,
                         timeout=30)
    assert res.returncode == 0, res.stderr
    head, _, body = res.stdout.decode().partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 403")
    assert "x-amzn-ErrorType: MissingAuthenticationTokenException" in head
    assert json.loads(body) == {"message": "Missing Authentication Token"}


def test_skewed_clock_is_signature_expired(server):
    late = datetime.datetime.utcnow() - datetime.timedelta(minutes=20)
    c = client_for(server.url)
    # botocore signs in botocore.auth, or in botocore.crt.auth when awscrt is installed: wind back both clocks.
    fake = mock.MagicMock(wraps=datetime)
    fake.datetime.utcnow.return_value = late
    fake.timezone = datetime.timezone
    patches = [mock.patch.object(botocore.auth, "datetime", fake)]
    try:
        from botocore.crt import auth as crt_auth
        patches.append(mock.patch.object(crt_auth, "datetime", fake))
    except ImportError:
        pass
    for p in patches:
        p.start()
    try:
        with pytest.raises(ClientError) as e:
            c.list_functions()
    finally:
        for p in patches:
            p.stop()
    err = e.value.response
    assert err["Error"]["Code"] == "InvalidSignatureException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 403
    msg = err["Error"]["Message"]
    assert msg.startswith(f"Signature expired: {late.strftime('%Y%m%dT%H%M%SZ')} is now earlier than "), msg
    assert msg.endswith(" - 15 min.)"), msg


def test_wrong_region_or_service_is_refused(server):
    c = boto3.session.Session().client("lambda", endpoint_url=server.url, region_name="eu-west-1",
                                       aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
                                       config=Config(retries={"max_attempts": 0}))
    with pytest.raises(ClientError) as e:
        c.list_functions()
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert e.value.response["Error"]["Message"] == "Credential should be scoped to a valid region, not 'eu-west-1'. "
    status, _, body = signed(server.url + "/2015-03-31/functions/", service="s3")
    assert status == 403 and json.loads(body)["message"] == "Credential should be scoped to correct service: 'lambda'. "


def test_tampered_body_is_refused(server):
    req = AWSRequest(method="POST", url=server.url + "/2015-03-31/functions/x/invocations", data=b'{"a": 1}')
    SigV4Auth(Credentials(KEY_ID, SECRET), "lambda", REGION).add_auth(req)
    hdrs = dict(req.prepare().headers.items())
    res = raw_request(server.port, "POST", "/2015-03-31/functions/x/invocations", body=b'{"a": 2}', headers=hdrs)
    assert res.status == 403 and res.headers["x-amzn-errortype"] == "InvalidSignatureException"


def test_presigned_query_works(server):
    status, _, body = signed(server.url + "/2015-03-31/functions/?MaxItems=5", query=True)
    assert status == 200, body
    assert "Functions" in json.loads(body)
    status, headers, _ = signed(server.url + "/2015-03-31/functions/?MaxItems=5", query=True, secret="wrong")
    assert status == 403 and headers["x-amzn-errortype"] == "InvalidSignatureException"


def test_aws_cli(server, creds_file, tmp_path):
    def aws(*args, key=KEY_ID, secret=SECRET):
        env = aws_cli_env(str(tmp_path))
        env.update({"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret})
        return subprocess.run([AWS_CLI, "lambda", *args, "--endpoint-url", server.url, "--region", REGION,
                               "--output", "json"], capture_output=True, text=True, timeout=120, env=env,
                              stdin=subprocess.DEVNULL)
    ok = aws("list-functions")
    assert ok.returncode == 0, ok.stderr
    assert "Functions" in json.loads(ok.stdout)
    bad = aws("list-functions", secret="wrong")
    assert bad.returncode != 0
    assert "(InvalidSignatureException) when calling the ListFunctions operation: " + BAD_SIGNATURE in bad.stderr
    unknown = aws("list-functions", key="AKIAUNKNOWN000000000")
    assert "(UnrecognizedClientException) when calling the ListFunctions operation: The security token included " \
           "in the request is invalid." in unknown.stderr
    # The shared-credentials file itself works as the CLI's profile file too.
    env = aws_cli_env(str(tmp_path))
    env.pop("AWS_ACCESS_KEY_ID")
    env.pop("AWS_SECRET_ACCESS_KEY")
    env.update({"AWS_SHARED_CREDENTIALS_FILE": str(creds_file), "AWS_PROFILE": "ci"})
    prof = subprocess.run([AWS_CLI, "lambda", "list-functions", "--endpoint-url", server.url, "--region", REGION],
                          capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)
    assert prof.returncode == 0, prof.stderr


def test_logs_api_is_checked_with_json_1_1_errors(server):
    logs = client_for(server.url, service="logs")
    assert "logGroups" in logs.describe_log_groups()
    with pytest.raises(ClientError) as e:
        client_for(server.url, key="AKIAUNKNOWN000000000", service="logs").describe_log_groups()
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"
    with pytest.raises(ClientError) as e:
        client_for(server.url, secret="wrong", service="logs").describe_log_groups()
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
    res = raw_request(server.port, "POST", "/", body="{}",
                      headers={"X-Amz-Target": "Logs_20140328.DescribeLogGroups",
                               "Content-Type": "application/x-amz-json-1.1"})
    assert res.status == 403
    assert res.headers["content-type"] == "application/x-amz-json-1.1"
    assert res.json == {"__type": "MissingAuthenticationTokenException", "message": "Missing Authentication Token"}
    # Signed for the wrong service: a Lambda signature does not open the Logs API.
    status, _, body = signed(server.url + "/", method="POST", body=b"{}", service="lambda",
                             headers={"X-Amz-Target": "Logs_20140328.DescribeLogGroups",
                                      "Content-Type": "application/x-amz-json-1.1"})
    assert status == 403 and json.loads(body)["__type"] == "InvalidSignatureException"


def test_health_is_open_metrics_needs_a_signature(server):
    assert raw_request(server.port, "GET", "/_lambent/health").status == 200
    res = raw_request(server.port, "GET", "/metrics")
    assert res.status == 403 and res.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    status, _, body = signed(server.url + "/metrics")
    assert status == 200 and b"lambent_" in body


def test_code_location_is_fetched_unsigned(server):
    c = client_for(server.url)
    name = unique_name("auth-code")
    zip_bytes = make_zip({"app.py": ECHO})
    create_function(c, name, zip_bytes)
    loc = c.get_function(FunctionName=name)["Code"]["Location"]
    res = subprocess.run(["curl", "-sS", "-f", loc], capture_output=True, timeout=30)
    assert res.returncode == 0 and res.stdout == zip_bytes


def test_function_urls_aws_iam_checked_none_public(server):
    c = client_for(server.url)
    name = unique_name("auth-url")
    create_function(c, name, make_zip({"app.py": ECHO}))
    wait_active(c, name)
    iam_url = c.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"]
    res = subprocess.run(["curl", "-sS", "-i", iam_url + "x"], capture_output=True, timeout=30)
    head, _, body = res.stdout.decode().partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 403"), head
    assert "x-amzn-ErrorType: AccessDeniedException" in head and json.loads(body) == {"Message": "Forbidden"}
    status, _, body = signed(iam_url + "x?a=1", method="POST", body=b'{"k": 1}',
                             headers={"Content-Type": "application/json"})
    assert status == 200, body
    event = json.loads(body)
    assert event["rawPath"] == "/x"
    assert event["requestContext"]["authorizer"]["iam"]["accessKey"] == KEY_ID
    status, _, _ = signed(iam_url + "x", secret="wrong")
    assert status == 403

    c.update_function_url_config(FunctionName=name, AuthType="NONE")
    res = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", iam_url + "open"],
                         capture_output=True, text=True, timeout=30)
    assert res.stdout == "200"


def test_lambent_client_commands_sign(server, lambent_bin, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"HOME": str(tmp_path), "AWS_REGION": REGION, "AWS_ACCESS_KEY_ID": KEY_ID,
                "AWS_SECRET_ACCESS_KEY": SECRET})
    ok = subprocess.run([str(lambent_bin), "ls", "--endpoint", server.url], capture_output=True, text=True,
                        timeout=60, env=env)
    assert ok.returncode == 0, ok.stderr
    env["AWS_SECRET_ACCESS_KEY"] = "wrong"
    bad = subprocess.run([str(lambent_bin), "ls", "--endpoint", server.url], capture_output=True, text=True,
                         timeout=60, env=env)
    assert bad.returncode != 0 and "InvalidSignatureException" in bad.stderr, bad.stderr
    # From ~/.aws/credentials, profile chosen by AWS_PROFILE.
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "credentials").write_text(f"[ci]\naws_access_key_id = {CI_KEY_ID}\n"
                                                   f"aws_secret_access_key = {CI_SECRET}\n")
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    env["AWS_PROFILE"] = "ci"
    prof = subprocess.run([str(lambent_bin), "ls", "--endpoint", server.url], capture_output=True, text=True,
                          timeout=60, env=env)
    assert prof.returncode == 0, prof.stderr
    # No credentials at all: the server says what is missing.
    env.pop("AWS_PROFILE")
    none = subprocess.run([str(lambent_bin), "ls", "--endpoint", server.url], capture_output=True, text=True,
                          timeout=60, env=env)
    assert none.returncode != 0 and "MissingAuthenticationTokenException" in none.stderr, none.stderr


def _serve(lambent_bin, tmp_path, *args, timeout=20):
    return subprocess.run([str(lambent_bin), "serve", "--data-dir", str(tmp_path / "d"), *args],
                          capture_output=True, text=True, timeout=timeout)


def test_non_loopback_needs_auth_or_explicit_opt_out(lambent_bin, tmp_path, creds_file):
    res = _serve(lambent_bin, tmp_path, "--listen", "0.0.0.0:0")
    assert res.returncode == 2
    assert "refusing to serve 0.0.0.0 without authentication" in res.stderr
    assert "listening on" not in res.stdout
    res = _serve(lambent_bin, tmp_path, "--listen", "0.0.0.0:0", "--auth", "none")
    assert res.returncode == 2 and "--allow-unauthenticated" in res.stderr
    res = _serve(lambent_bin, tmp_path, "--auth", "sigv4", "--listen", "127.0.0.1:0")
    assert res.returncode == 2 and "--auth sigv4 needs --credentials FILE" in res.stderr
    empty = tmp_path / "empty"
    empty.write_text("[default]\nregion = us-east-1\n")
    res = _serve(lambent_bin, tmp_path, "--credentials", str(empty), "--listen", "127.0.0.1:0")
    assert res.returncode == 2 and "no profile with aws_access_key_id" in res.stderr


def test_start_line_says_which_auth_mode(server_factory, creds_file):
    plain = server_factory.new("plain")
    assert "auth: none (loopback listener" in plain.stderr_text()
    signed_srv = server_factory.new("signed", extra_args=["--credentials", str(creds_file)])
    assert f"auth: sigv4 (2 access keys from {creds_file}; region us-east-1)" in signed_srv.stderr_text()


def test_allow_unauthenticated_starts_and_warns(lambent_bin, tmp_path):
    proc = subprocess.Popen([str(lambent_bin), "serve", "--data-dir", str(tmp_path / "d"), "--listen", "0.0.0.0:0",
                             "--allow-unauthenticated"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening on http://0.0.0.0:"), line
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert "auth: NONE on 0.0.0.0 (--allow-unauthenticated)" in err
