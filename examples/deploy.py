"""Zips one example folder and creates or updates it on a Lambent server through the REST API (stdlib only)."""
import base64
import io
import json
import os
import sys
import urllib.error
import urllib.request
import zipfile


def zip_dir(path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for root, _, files in os.walk(path):
            for name in sorted(files):
                if name == "deploy.json" or name == "README.md":
                    continue
                full = os.path.join(root, name)
                info = zipfile.ZipInfo(os.path.relpath(full, path))
                info.external_attr = (os.stat(full).st_mode & 0o777 | 0o100000) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                with open(full, "rb") as f:
                    zf.writestr(info, f.read())
    return buf.getvalue()


def call(method, url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req) as res:
            return res.status, json.load(res)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def main():
    endpoint, folder = sys.argv[1].rstrip("/"), sys.argv[2]
    spec = json.load(open(os.path.join(folder, "deploy.json")))
    code = base64.b64encode(zip_dir(folder)).decode()
    name = spec["FunctionName"]
    status, body = call("POST", f"{endpoint}/2015-03-31/functions",
                        dict(spec, Role="arn:aws:iam::000000000000:role/lambent-example", Code={"ZipFile": code}))
    if status == 409:
        status, body = call("PUT", f"{endpoint}/2015-03-31/functions/{name}/code", {"ZipFile": code})
    if status >= 300:
        print(f"deploy {name}: failed ({status}): {body}", file=sys.stderr)
        sys.exit(1)
    print(f"deployed {name} ({spec['Runtime']}) CodeSha256={body['CodeSha256']}")


if __name__ == "__main__":
    main()
