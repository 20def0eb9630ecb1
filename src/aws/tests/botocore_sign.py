#!/usr/bin/env python3
"""Signs requests with botocore (Debian python3-botocore) for the differential SigV4 test.

Usage: botocore_sign.py CASES.json
CASES.json is a list of objects: name, service ("sqs" or "s3"), region, method, host,
path (SQS: the wire path) or key (S3: the object key, unencoded), query, headers
(list of [name, value]), body, access_key, secret_key, token, timestamp ("YYYYmmddTHHMMSSZ").
Prints a JSON list of {name, headers}, headers being those botocore added or set while
signing (Authorization, X-Amz-Date, X-Amz-Security-Token, X-Amz-Content-SHA256).
"""
import datetime
import json
import sys
import types
from urllib.parse import quote

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ADDED = ("authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256")


def pin_clock(timestamp):
    """Makes SigV4Auth.add_auth see `timestamp` as the current time.

    Debian's botocore (1.29) calls datetime.datetime.utcnow() inside botocore.auth; newer
    releases call botocore.auth.get_current_datetime(). Both are replaced.
    """
    now = datetime.datetime.strptime(timestamp, "%Y%m%dT%H%M%SZ")

    class FixedDatetime(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return now

        @classmethod
        def now(cls, tz=None):
            return now if tz is None else now.replace(tzinfo=tz)

    botocore.auth.datetime = types.SimpleNamespace(datetime=FixedDatetime)
    if hasattr(botocore.auth, "get_current_datetime"):
        botocore.auth.get_current_datetime = lambda *args, **kwargs: now


def sign(case):
    pin_clock(case["timestamp"])
    credentials = Credentials(case["access_key"], case["secret_key"], case.get("token") or None)
    if case["service"] == "s3":
        # As botocore's REST serializer encodes a key: everything but unreserved, '/' and '~'.
        path = "/" + quote(case["key"], safe="/~")
        signer = botocore.auth.S3SigV4Auth(credentials, "s3", case["region"])
    else:
        path = case["path"]
        signer = botocore.auth.SigV4Auth(credentials, case["service"], case["region"])
    url = "https://" + case["host"] + path
    if case.get("query"):
        url += "?" + case["query"]
    request = AWSRequest(method=case["method"], url=url, headers=dict(case["headers"]),
                         data=case["body"].encode("utf-8"))
    signer.add_auth(request)
    added = [[name, value] for name, value in request.headers.items()
             if name.lower() in ADDED]
    return {"name": case["name"], "headers": added}


def main():
    with open(sys.argv[1], encoding="utf-8") as cases_file:
        cases = json.load(cases_file)
    json.dump([sign(case) for case in cases], sys.stdout)


if __name__ == "__main__":
    main()
