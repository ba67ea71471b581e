"""Connection robustness: idle and slow (slowloris) clients do not starve others, a header must arrive within
--header-timeout, and past --max-connections idle connections make room or new ones get a clear 503."""
from __future__ import annotations

import json
import socket
import time

import pytest

from lambent_testlib import raw_request

DEADLINE = 30.0  # generous bound for "eventually"; no timing is asserted


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)


def read_response(sock) -> bytes:
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def closed_by_server(sock) -> bool:
    """True when the server closes the connection (EOF or reset) before DEADLINE."""
    sock.settimeout(DEADLINE)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def settle():
    # Let the server's single io thread take in the bytes just sent (not a timing assertion).
    time.sleep(0.5)


def test_idle_and_slow_clients_do_not_starve_others(server_factory):
    srv = server_factory.new("conn", extra_args=["--max-connections", "64", "--header-timeout", "60"])
    idle = [connect(srv.port) for _ in range(20)]
    slow = []
    for _ in range(20):
        s = connect(srv.port)
        s.sendall(b"GET /_lambent/health HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        slow.append(s)
    half_body = connect(srv.port)
    half_body.sendall(b"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    settle()
    for _ in range(5):
        res = raw_request(srv.port, "GET", "/_lambent/health", timeout=DEADLINE)
        assert res.status == 200 and res.json == {"status": "ok"}
    for s in idle + slow + [half_body]:
        s.close()


def test_a_header_trickled_too_slowly_is_cut_off(server_factory):
    srv = server_factory.new("hdr", extra_args=["--header-timeout", "1"])
    s = connect(srv.port)
    s.sendall(b"GET /_lambent/health HTTP/1.1\r\n")
    assert closed_by_server(s)
    s.close()
    # A connection that sends its header promptly is unaffected.
    assert raw_request(srv.port, "GET", "/_lambent/health").status == 200


def test_idle_keep_alive_connections_make_room(server_factory):
    srv = server_factory.new("evict", extra_args=["--max-connections", "4", "--header-timeout", "60"])
    idle = [connect(srv.port) for _ in range(4)]
    settle()
    res = raw_request(srv.port, "GET", "/_lambent/health", timeout=DEADLINE)
    assert res.status == 200
    # The connection idle the longest was closed to make room.
    assert closed_by_server(idle[0])
    for s in idle:
        s.close()


def test_past_the_limit_new_connections_get_503(server_factory):
    srv = server_factory.new("full", extra_args=["--max-connections", "4", "--header-timeout", "60"])
    busy = []
    for _ in range(4):
        s = connect(srv.port)
        s.sendall(b"GET /_lambent/health HTTP/1.1\r\nHost: x\r\n")  # mid-header: busy, not idle
        busy.append(s)
    settle()
    extra = connect(srv.port)
    extra.sendall(b"GET /_lambent/health HTTP/1.1\r\nHost: x\r\n\r\n")
    data = read_response(extra)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503"), data
    assert b"x-amzn-ErrorType: ServiceException" in head
    assert b"Retry-After: 1" in head
    assert json.loads(body) == {"Type": "Service",
                                "message": "The server has too many open connections (limit 4). Retry later."}
    extra.close()
    # Once the busy connections finish, the server serves again.
    for s in busy:
        s.sendall(b"Connection: close\r\n\r\n")
        assert read_response(s).startswith(b"HTTP/1.1 200")
        s.close()
    assert raw_request(srv.port, "GET", "/_lambent/health", timeout=DEADLINE).status == 200


def test_boto3_retries_the_503(server_factory):
    pytest.importorskip("boto3")
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
    srv = server_factory.new("retry", extra_args=["--max-connections", "1", "--header-timeout", "60"])
    busy = connect(srv.port)
    busy.sendall(b"GET /_lambent/health HTTP/1.1\r\nHost: x\r\n")
    settle()
    c = boto3.session.Session().client("lambda", endpoint_url=srv.url, region_name="us-east-1",
                                       aws_access_key_id="test", aws_secret_access_key="test",
                                       config=Config(retries={"max_attempts": 0}))
    with pytest.raises(ClientError) as e:
        c.list_functions()
    assert e.value.response["Error"]["Code"] == "ServiceException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    busy.close()


def responses_in(data: bytes) -> list[tuple[bytes, bytes]]:
    """Splits a byte stream of HTTP/1.1 responses with Content-Length into (head, body) pairs."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, data
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        out.append((head, rest[:length]))
        data = rest[length:]
    return out


BAD_NAME_BODY = json.dumps({"FunctionName": "bad name!", "Runtime": "python3.12", "Handler": "a.b",
                            "Role": "arn:aws:iam::000000000000:role/r", "Code": {"ZipFile": ""}}).encode()


def assert_bad_name_answer(head: bytes, body: bytes):
    # The name is the body's last detail the server checks: seeing it quoted back shows the whole body was read.
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b"bad name!" in body, body


def test_pipelined_requests_in_one_write_are_answered_in_order(server_factory):
    srv = server_factory.new("pipe")
    s = connect(srv.port)
    s.sendall(b"GET /_lambent/health HTTP/1.1\r\nHost: x\r\n\r\n"
              b"POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: " + str(len(BAD_NAME_BODY)).encode() + b"\r\n\r\n" + BAD_NAME_BODY +
              b"GET /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answers = responses_in(read_response(s))
    s.close()
    assert len(answers) == 3, answers
    assert answers[0][0].startswith(b"HTTP/1.1 200") and json.loads(answers[0][1]) == {"status": "ok"}
    assert_bad_name_answer(*answers[1])
    assert answers[2][0].startswith(b"HTTP/1.1 200") and "Functions" in json.loads(answers[2][1])


def test_a_request_in_many_small_pieces_is_read_whole(server_factory):
    srv = server_factory.new("pieces", extra_args=["--header-timeout", "60"])
    s = connect(srv.port)
    request = (b"POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: " + str(len(BAD_NAME_BODY)).encode() + b"\r\nConnection: close\r\n\r\n" + BAD_NAME_BODY)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(0, len(request), 7):  # header and body arrive in 7-byte segments
        s.sendall(request[i:i + 7])
        time.sleep(0.002)
    answers = responses_in(read_response(s))
    s.close()
    assert len(answers) == 1
    assert_bad_name_answer(*answers[0])


def test_a_chunked_request_body_is_read_whole(server_factory):
    srv = server_factory.new("chunked")
    s = connect(srv.port)
    half = len(BAD_NAME_BODY) // 2
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (BAD_NAME_BODY[:half], BAD_NAME_BODY[half:]))
    s.sendall(b"POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    settle()
    s.sendall(chunks + b"0\r\n\r\n")
    answers = responses_in(read_response(s))
    s.close()
    assert len(answers) == 1
    assert_bad_name_answer(*answers[0])
