"""On an S3 ObjectCreated event, writes a thumbnail of at most 200×200 pixels (aspect ratio kept, as Pillow's
Image.thumbnail does) as `resized-{key}` in the same bucket.

boto3 is the runtime's (Debian's python3-boto3, as AWS's Python runtimes include boto3); Pillow comes from a
layer (`python/PIL` in the layer ZIP, at /opt/python in the function). The S3 endpoint and its credentials come
from the function's environment, so the same code talks to AWS S3 or to a local S3-compatible server.
"""
import io
import os
import urllib.parse

import boto3
import PIL
from botocore.config import Config
from PIL import Image

THUMBNAIL_SIZE = (200, 200)


def s3_client():
    endpoint = os.environ.get("S3_ENDPOINT")  # unset: AWS S3
    kwargs = {}
    if os.environ.get("S3_ACCESS_KEY_ID"):
        kwargs = {"aws_access_key_id": os.environ["S3_ACCESS_KEY_ID"],
                  "aws_secret_access_key": os.environ["S3_SECRET_ACCESS_KEY"],
                  "aws_session_token": None}
    return boto3.client("s3", endpoint_url=endpoint, config=Config(s3={"addressing_style": "path"}), **kwargs)


def handler(event, context):
    s3 = s3_client()
    written = []
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])  # keys arrive URL-encoded
        if key.startswith("resized-"):
            continue  # never resize our own output (a notification on the bucket would loop)
        original = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        with Image.open(io.BytesIO(original)) as image:
            image.thumbnail(THUMBNAIL_SIZE)
            out = io.BytesIO()
            image.save(out, format=image.format or "PNG")
            size = image.size
        target = "resized-" + key
        s3.put_object(Bucket=bucket, Key=target, Body=out.getvalue(),
                      ContentType=Image.MIME.get(image.format or "PNG", "application/octet-stream"))
        print(f"resized s3://{bucket}/{key} to {size[0]}x{size[1]} as {target} "
              f"(Pillow {PIL.__version__} from {os.path.dirname(PIL.__file__)})")
        written.append({"key": target, "width": size[0], "height": size[1]})
    return {"written": written, "pillow": PIL.__version__, "pillow_from": os.path.dirname(PIL.__file__)}
