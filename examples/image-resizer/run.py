#!/usr/bin/env python3
"""The image-resizer example end to end against a running Lambent:

 1. starts s3rver (npm, pinned in package.json and package-lock.json; `npm ci` on first use) on a free port and creates a bucket;
 2. builds the Pillow layer from Debian's python3-pil and publishes it (PublishLayerVersion);
 3. creates (or updates) the `image-resizer` function with that layer and the S3 endpoint in its environment;
 4. uploads an image with boto3, then delivers the S3 ObjectCreated:Put event for it (the notification S3
    would send) with InvocationType=Event;
 5. waits for `resized-{key}` in the bucket and checks it is the 200×200 thumbnail (aspect ratio kept).

    /usr/bin/python3 examples/image-resizer/run.py [--endpoint http://127.0.0.1:9400]

Inside Lambent's sandbox the function reaches the host through slirp4netns at 10.0.2.2 (the default of
--s3-host-for-function); with `lambent serve --sandbox off` pass --s3-host-for-function 127.0.0.1.
Exit status 0 when the thumbnail is right, 1 otherwise.
"""
import argparse
import datetime
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
import zipfile

import boto3
from botocore.config import Config
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import build_layer  # noqa: E402

S3_KEY_ID = S3_SECRET = "S3RVER"  # s3rver's built-in account
ROLE = "arn:aws:iam::000000000000:role/image-resizer"


def log(msg):
    print(f"image-resizer: {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def s3rver_binary():
    binary = os.path.join(HERE, "node_modules", ".bin", "s3rver")
    if not os.path.exists(binary):
        if shutil.which("npm") is None:
            raise RuntimeError("npm is not installed: it is needed to install s3rver (apt-get install npm)")
        log("installing s3rver (npm ci: the versions of package-lock.json)")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True)
    return binary


def start_s3rver(directory, port):
    proc = subprocess.Popen([s3rver_binary(), "-d", directory, "-a", "127.0.0.1", "-p", str(port), "--silent"],
                            stdin=subprocess.DEVNULL)
    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                      aws_access_key_id=S3_KEY_ID, aws_secret_access_key=S3_SECRET,
                      config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    deadline = time.monotonic() + 30
    while True:
        try:
            s3.list_buckets()
            return proc, s3
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("s3rver did not start")
            time.sleep(0.2)


def deploy(lam, s3_endpoint_for_function):
    layer_zip = build_layer.build(os.path.join(HERE, "dist", "pillow-layer.zip"))
    with open(layer_zip, "rb") as f:
        layer = lam.publish_layer_version(LayerName="pillow", Description="Pillow from Debian's python3-pil",
                                          Content={"ZipFile": f.read()}, LicenseInfo="HPND",
                                          CompatibleRuntimes=["python3.11", "python3.12", "python3.13"])
    log(f"published {layer['LayerVersionArn']} ({layer['Content']['CodeSize']} bytes)")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(os.path.join(HERE, "function", "app.py"), "app.py")
    config = dict(Runtime="python3.12", Handler="app.handler", Role=ROLE, Timeout=60, MemorySize=512,
                  Layers=[layer["LayerVersionArn"]],
                  Environment={"Variables": {"S3_ENDPOINT": s3_endpoint_for_function,
                                             "S3_ACCESS_KEY_ID": S3_KEY_ID, "S3_SECRET_ACCESS_KEY": S3_SECRET}})
    try:
        lam.create_function(FunctionName="image-resizer", Code={"ZipFile": buf.getvalue()}, **config)
        log("created function image-resizer")
    except lam.exceptions.ResourceConflictException:
        lam.update_function_code(FunctionName="image-resizer", ZipFile=buf.getvalue())
        lam.get_waiter("function_updated_v2").wait(FunctionName="image-resizer")
        lam.update_function_configuration(FunctionName="image-resizer", **config)
        log("updated function image-resizer")
    lam.get_waiter("function_updated_v2").wait(FunctionName="image-resizer")


def s3_put_event(bucket, key, size, etag):
    """The S3 ObjectCreated:Put notification for one object (lambda-contract.md §8.1)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                             "x-amz-id-2": uuid.uuid4().hex + uuid.uuid4().hex},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "image-resizer",
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                          "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": urllib.parse.quote_plus(key, safe="/"), "size": size, "eTag": etag,
                          "sequencer": f"{time.time_ns():018X}"[:18]}}}]}


def sample_image(width, height):
    image = Image.new("RGB", (width, height))
    for x in range(width):  # a gradient, so the JPEG is a real picture and not one flat color
        for y in range(0, height, 8):
            image.putpixel((x, y), (x * 255 // width, y * 255 // height, 128))
    out = io.BytesIO()
    image.save(out, format="JPEG")
    return out.getvalue()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", default=os.environ.get("LAMBENT_ENDPOINT", "http://127.0.0.1:9400"))
    ap.add_argument("--s3-host-for-function", default="10.0.2.2",
                    help="the host's address as the function sees it (10.0.2.2 in the sandbox)")
    ap.add_argument("--bucket", default="photos")
    ap.add_argument("--key", default="sunset at the beach.jpg")
    ap.add_argument("--image", help="an image file to upload (default: a generated 640×480 JPEG)")
    ap.add_argument("--timeout", type=float, default=90)
    args = ap.parse_args()

    lam = boto3.client("lambda", endpoint_url=args.endpoint, region_name="us-east-1",
                       aws_access_key_id="x", aws_secret_access_key="x")
    data_dir = tempfile.mkdtemp(prefix="image-resizer-s3-")
    port = free_port()
    s3rver, s3 = start_s3rver(data_dir, port)
    try:
        log(f"s3rver on 127.0.0.1:{port} (the function uses http://{args.s3_host_for_function}:{port})")
        s3.create_bucket(Bucket=args.bucket)
        deploy(lam, f"http://{args.s3_host_for_function}:{port}")

        original = open(args.image, "rb").read() if args.image else sample_image(640, 480)
        with Image.open(io.BytesIO(original)) as im:
            orig_w, orig_h = im.size
        put = s3.put_object(Bucket=args.bucket, Key=args.key, Body=original, ContentType="image/jpeg")
        log(f"uploaded s3://{args.bucket}/{args.key} ({orig_w}x{orig_h}, {len(original)} bytes)")

        event = s3_put_event(args.bucket, args.key, len(original), put["ETag"].strip('"'))
        res = lam.invoke(FunctionName="image-resizer", InvocationType="Event", Payload=json.dumps(event).encode())
        log(f"delivered the ObjectCreated:Put event asynchronously: HTTP {res['StatusCode']}")
        if res["StatusCode"] != 202:
            return 1

        target = "resized-" + args.key
        deadline = time.monotonic() + args.timeout
        while True:
            try:
                thumb = s3.get_object(Bucket=args.bucket, Key=target)["Body"].read()
                break
            except s3.exceptions.NoSuchKey:
                if time.monotonic() > deadline:
                    log(f"FAIL: s3://{args.bucket}/{target} did not appear within {args.timeout:.0f} s "
                        f"(see `aws logs tail /aws/lambda/image-resizer --endpoint-url {args.endpoint}`)")
                    return 1
                time.sleep(0.5)
        with Image.open(io.BytesIO(thumb)) as im:
            w, h = im.size
        expected = Image.new("RGB", (orig_w, orig_h))
        expected.thumbnail((200, 200))
        ok = (w, h) == expected.size and max(w, h) == 200 or (max(orig_w, orig_h) <= 200 and (w, h) == (orig_w, orig_h))
        log(f"{'OK' if ok else 'FAIL'}: s3://{args.bucket}/{target} is {w}x{h} "
            f"(expected {expected.size[0]}x{expected.size[1]}: within 200x200, aspect ratio of {orig_w}x{orig_h})")
        return 0 if ok else 1
    finally:
        s3rver.terminate()
        s3rver.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
