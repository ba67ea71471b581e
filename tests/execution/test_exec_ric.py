"""The unmodified npm package aws-lambda-ric@3.3.0 (AWS's Node.js runtime interface client, with its native
aws-lambda-cpp client) as the runtime of a provided.al2023 function: Lambent's Runtime API must satisfy it.

The package is built once by tests/execution/build_ric.sh into a cache outside the repository (~1-3 min the
first time). A failing build fails these tests with the script's output; they are never skipped."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from execlib import UUID_RE, check_tail_frame, create_function, invoke, make_zip

INDEX = '''\
export const handler = async (event, context) => {
  console.log("ric got", JSON.stringify(event));
  if (event.fail) throw new TypeError("ric boom");
  return { ric: true, requestId: context.awsRequestId, fn: context.functionName, event };
};
'''


def _ric_files(node_modules: Path) -> dict:
    """The RIC's runtime files, unmodified, under node_modules/aws-lambda-ric/ in the function ZIP (the sandbox
    shows a function nothing of the host outside /usr, so the cache cannot be used by absolute path)."""
    root = node_modules / "aws-lambda-ric"
    files = {}
    for rel in ["package.json", *[str(p.relative_to(root)) for d in ("bin", "dist") for p in (root / d).rglob("*")
                                  if p.is_file()]]:
        src = root / rel
        files[f"node_modules/aws-lambda-ric/{rel}"] = (src.read_bytes(), src.stat().st_mode & 0o777)
    assert "node_modules/aws-lambda-ric/dist/rapid-client.node" in files
    return files


@pytest.fixture(scope="module")
def ric_fn(client, ric_node_modules):
    bootstrap = ("#!/bin/sh\n"
                 "# The RIC wants the task root as its working directory (Lambent starts bootstrap there).\n"
                 "exec node /var/task/node_modules/aws-lambda-ric/bin/index.mjs index.handler\n")
    name = "ric-fn"
    files = {"bootstrap": (bootstrap, 0o755), "index.mjs": INDEX, **_ric_files(ric_node_modules)}
    create_function(client, name, make_zip(files), runtime="provided.al2023", handler="index.handler", timeout=10)
    return name


def test_ric_invoke(client, ric_fn):
    r = invoke(client, ric_fn, {"hello": "ric ✓"})
    assert r.status == 200 and r.function_error is None, r.payload
    body = r.json()
    assert body == {"ric": True, "requestId": r.request_id, "fn": ric_fn, "event": {"hello": "ric ✓"}}
    inner, rep = check_tail_frame(r.log, r.request_id)
    assert any(re.fullmatch(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{r.request_id}\tINFO\tric got "
                            + re.escape('{"hello":"ric ✓"}'), ln) for ln in inner), r.log
    # Warm second invoke through the same RIC process.
    r2 = invoke(client, ric_fn, {"n": 2})
    assert r2.json()["event"] == {"n": 2}
    assert check_tail_frame(r2.log, r2.request_id)[1].group(6) is None


def test_ric_error(client, ric_fn):
    r = invoke(client, ric_fn, {"fail": True})
    assert r.status == 200
    assert r.function_error == "Unhandled"
    assert r.headers["x-amz-function-error"] == "Unhandled"
    body = r.json()
    assert body["errorType"] == "TypeError" and body["errorMessage"] == "ric boom", body
    assert body["trace"][0] == "TypeError: ric boom"
    assert any("/var/task/index.mjs" in frame for frame in body["trace"][1:]), body["trace"]
    assert re.fullmatch(UUID_RE, r.request_id)
    inner, _ = check_tail_frame(r.log, r.request_id)
    assert any("\tERROR\tInvoke Error " in ln and '"errorMessage":"ric boom"' in ln for ln in inner), r.log
    # The environment survives a handled error.
    ok = invoke(client, ric_fn, {"after": "error"}, tail=False)
    assert ok.function_error is None and json.loads(ok.payload)["event"] == {"after": "error"}
