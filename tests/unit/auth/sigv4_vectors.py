"""Prints SigV4 test vectors as JSON, signed by botocore's own signer (the reference the AWS CLI and boto3 use).

Run by tests/unit/auth/sigv4_test.cpp with /usr/bin/python3. Each vector is a request (method, target as sent,
header fields, body) plus the Authorization header (or presigned target) botocore produced at a fixed time.
"""
import datetime
import json
import sys
from unittest import mock

from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CREDS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
WHEN = datetime.datetime(2015, 8, 30, 12, 36, 0)

CASES = [
    # (service, method, url, headers, body)
    ("service", "GET", "http://example.amazonaws.com/", {}, b""),
    ("service", "GET", "http://example.amazonaws.com/?Param2=value2&Param1=value1", {}, b""),
    ("service", "GET", "http://example.amazonaws.com/?Param1=value2&Param1=Value1", {}, b""),
    ("service", "GET", "http://example.amazonaws.com/example/../", {}, b""),
    ("service", "GET", "http://example.amazonaws.com/./", {}, b""),
    ("service", "GET", "http://example.amazonaws.com/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", {}, b""),
    ("service", "GET", "http://example.amazonaws.com/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", {}, b""),
    ("service", "GET", "http://example.amazonaws.com/?%E1%88%B4=bar", {}, b""),
    ("service", "GET", "http://example.amazonaws.com/", {"My-Header1": "  value1  ", "My-Header2": "\"a   b   c\""}, b""),
    ("service", "POST", "http://example.amazonaws.com/", {"Content-Type": "application/x-www-form-urlencoded"}, b"Param1=value1"),
    ("lambda", "POST", "http://127.0.0.1:9400/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Ahello/invocations?Qualifier=live",
     {"Content-Type": "application/json", "X-Amz-Invocation-Type": "RequestResponse"}, b'{"k": "v"}'),
    ("lambda", "GET", "http://127.0.0.1:9400/2015-03-31/functions/?MaxItems=5&Marker=a%2Fb%20c", {}, b""),
    ("logs", "POST", "http://127.0.0.1:9400/", {"X-Amz-Target": "Logs_20140328.DescribeLogGroups",
                                               "Content-Type": "application/x-amz-json-1.1"}, b"{}"),
]


def main():
    out = []
    with mock.patch("botocore.auth.datetime") as dt:
        dt.datetime.utcnow.return_value = WHEN
        dt.datetime.now.return_value = WHEN.replace(tzinfo=datetime.timezone.utc)
        for service, method, url, headers, body in CASES:
            for presign in (False, True) if not body else (False,):
                req = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
                signer = (SigV4QueryAuth(CREDS, service, "us-east-1", expires=300) if presign
                          else SigV4Auth(CREDS, service, "us-east-1"))
                signer.add_auth(req)
                prepared = req.prepare()
                split = prepared.url.split("/", 3)
                target = "/" + (split[3] if len(split) > 3 else "")
                host = split[2]
                fields = [["Host", host]] + [[k, v] for k, v in prepared.headers.items()]
                out.append({
                    "service": service,
                    "presigned": presign,
                    "method": method,
                    "target": target,
                    "headers": fields,
                    "body": body.decode(),
                    "authorization": prepared.headers.get("Authorization", ""),
                })
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
