"""The floor's Python worker: the smallest Runtime API loop (http.client, one keep-alive connection, TCP_NODELAY).

It runs the same handler as the Lambent function (bench/functions/echo.py, found through BENCH_FUNCTIONS_DIR):
GET /next, json.loads the event, call handler(event, None), json.dumps the result, POST /response.
"""
import http.client
import json
import os
import socket
import sys

sys.path.insert(0, os.environ.get("BENCH_FUNCTIONS_DIR", os.path.join(os.path.dirname(__file__), "..", "functions")))
from echo import handler  # noqa: E402

PREFIX = "/2018-06-01/runtime/invocation/"


def connect():
    conn = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def main():
    conn = connect()
    while True:
        conn.request("GET", PREFIX + "next")
        res = conn.getresponse()
        event = res.read()
        request_id = res.getheader("Lambda-Runtime-Aws-Request-Id")
        result = json.dumps(handler(json.loads(event), None)).encode()
        conn.request("POST", PREFIX + request_id + "/response", body=result,
                     headers={"Content-Type": "application/json"})
        conn.getresponse().read()


if __name__ == "__main__":
    main()
