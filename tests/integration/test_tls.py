"""HTTPS (`serve --tls-cert/--tls-key`) with a self-signed certificate made by `openssl req`, driven by the AWS
CLI (--ca-bundle), curl (--cacert) and boto3 (verify=)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import boto3
import pytest
from botocore.config import Config

from lambent_testlib import AWS_CLI, REGION, aws_cli_env, create_function, make_zip, unique_name, wait_active

ECHO = "def handler(event, context):\n    return event\n"


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed (Debian package openssl)")
    d = tmp_path_factory.mktemp("tls")
    res = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                          "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                          "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return d / "cert.pem", d / "key.pem"


@pytest.fixture(scope="module")
def server(module_factory, cert):
    return module_factory.new("tls", extra_args=["--tls-cert", str(cert[0]), "--tls-key", str(cert[1])])


def test_listening_line_and_log_say_https(server, cert):
    assert server.url.startswith("https://127.0.0.1:")
    assert f"tls: on ({cert[0]})" in server.stderr_text()


def test_aws_cli_with_ca_bundle(server, cert, tmp_path):
    def aws(*args):
        return subprocess.run([AWS_CLI, "lambda", *args, "--endpoint-url", server.url, "--region", REGION,
                               "--output", "json"], capture_output=True, text=True, timeout=120,
                              env=aws_cli_env(str(tmp_path)), stdin=subprocess.DEVNULL)
    ok = aws("list-functions", "--ca-bundle", str(cert[0]))
    assert ok.returncode == 0, ok.stderr
    assert "Functions" in json.loads(ok.stdout)
    # Without the CA the CLI refuses the self-signed certificate: the server really speaks TLS.
    refused = aws("list-functions")
    assert refused.returncode != 0 and "SSL" in refused.stderr, refused.stderr


def test_curl_with_cacert(server, cert):
    res = subprocess.run(["curl", "-sS", "--cacert", str(cert[0]), server.url + "/_lambent/health"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"status": "ok"}
    plain = subprocess.run(["curl", "-sS", server.url.replace("https://", "http://") + "/_lambent/health"],
                           capture_output=True, text=True, timeout=30)
    assert plain.returncode != 0  # plain HTTP on the TLS port gets no answer


def test_boto3_invoke_and_function_url_over_tls(server, cert):
    c = boto3.session.Session().client("lambda", endpoint_url=server.url, region_name=REGION,
                                       aws_access_key_id="test", aws_secret_access_key="test",
                                       verify=str(cert[0]), config=Config(retries={"max_attempts": 0}))
    name = unique_name("tls")
    create_function(c, name, make_zip({"app.py": ECHO}))
    wait_active(c, name)
    out = c.invoke(FunctionName=name, Payload=b'{"over": "tls"}')
    assert json.loads(out["Payload"].read()) == {"over": "tls"}
    assert c.get_function(FunctionName=name)["Code"]["Location"].startswith("https://")
    url = c.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    assert url.startswith("https://127.0.0.1:")
    res = subprocess.run(["curl", "-sS", "--cacert", str(cert[0]), url + "path"], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0 and json.loads(res.stdout)["rawPath"] == "/path"


def test_bad_certificate_files_are_fatal(lambent_bin, tmp_path, cert):
    res = subprocess.run([str(lambent_bin), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"),
                          "--tls-cert", str(tmp_path / "missing.pem"), "--tls-key", str(cert[1])],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 2 and "--tls-cert" in res.stderr and "listening on" not in res.stdout
    res = subprocess.run([str(lambent_bin), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"),
                          "--tls-cert", str(cert[0])], capture_output=True, text=True, timeout=30)
    assert res.returncode == 2 and "--tls-cert and --tls-key go together" in res.stderr


def test_lambent_client_commands_over_https(server, cert, lambent_bin, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = str(tmp_path)
    ok = subprocess.run([str(lambent_bin), "ls", "--endpoint", server.url], capture_output=True, text=True,
                        timeout=60, env={**env, "AWS_CA_BUNDLE": str(cert[0])})
    assert ok.returncode == 0, ok.stderr
    # Without the CA the self-signed certificate is refused: exit 3 (cannot reach the server) saying why.
    refused = subprocess.run([str(lambent_bin), "ls", "--endpoint", server.url], capture_output=True, text=True,
                             timeout=60, env=env)
    assert refused.returncode == 3, refused.stderr
    assert "TLS handshake failed: certificate verify failed" in refused.stderr, refused.stderr
