"""Layers at run time: extracted in order under /opt (later layers overwrite earlier files), read-only, and on
the runtimes' search paths exactly as on AWS (contract §6.2): Python's /opt/python and
/opt/python/lib/python3.X/site-packages, Node's /opt/nodejs/node_modules and /opt/nodejs/nodeNN/node_modules,
/opt/bin on PATH, /opt/lib on LD_LIBRARY_PATH, a custom runtime's bootstrap from /opt. Each test runs in the
sandbox and with --sandbox off (a private mount namespace without the sandbox)."""

from __future__ import annotations

import json

import pytest

from execlib import ROLE, invoke, make_zip, wait_function_ready


@pytest.fixture(scope="module", params=["on", "off"], ids=["sandbox", "no-sandbox"])
def lserver(request, module_servers):
    return module_servers.new("--sandbox", request.param, name=f"layers-{request.param}")


@pytest.fixture(scope="module")
def lclient(lserver):
    from execlib import make_client
    return make_client(lserver.url)


def publish(client, name: str, files: dict) -> str:
    return client.publish_layer_version(LayerName=name, Content={"ZipFile": make_zip(files)})["LayerVersionArn"]


def create(client, name: str, files: dict, runtime: str, handler: str, layers: list[str]):
    client.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler, Timeout=20,
                           Code={"ZipFile": make_zip(files)}, Layers=layers)
    return wait_function_ready(client, name)


PY_HANDLER = """
import os, sys

def handler(event, context):
    import layermod, only_first, sitepkg
    try:
        with open(os.path.join(os.environ.get("_LAMBENT_OPT_DIR", "/opt"), "probe"), "w"):
            pass
        writable = True
    except OSError:
        writable = False
    return {"marker": layermod.MARKER, "file": layermod.__file__, "only_first": only_first.X,
            "site": sitepkg.X, "site_file": sitepkg.__file__, "writable": writable,
            "path": sys.path, "ld": os.environ.get("LD_LIBRARY_PATH", ""), "PATH": os.environ.get("PATH", "")}
"""


def opt_of(seen: dict) -> str:
    """Where the function found /opt: /opt itself with a mount namespace (both modes here, as root)."""
    return seen["file"].split("/python/")[0]


def test_python_imports_from_layers_in_order(lclient, request):
    tag = request.node.callspec.id.replace("-", "")
    first = publish(lclient, f"py-first-{tag}", {"python/layermod.py": "MARKER = 'first'\n",
                                                  "python/only_first.py": "X = 'from the first layer'\n"})
    second = publish(lclient, f"py-second-{tag}", {
        "python/layermod.py": "MARKER = 'second'\n",
        "python/lib/python3.12/site-packages/sitepkg.py": "X = 'site-packages'\n"})
    name = f"py-layers-{tag}"
    create(lclient, name, {"app.py": PY_HANDLER}, "python3.12", "app.handler", [first, second])
    r = invoke(lclient, name, {})
    assert r.function_error is None, r.payload
    seen = r.json()
    assert seen["marker"] == "second", "the later layer's file must overwrite the earlier one's"
    assert seen["only_first"] == "from the first layer"
    assert seen["site"] == "site-packages"
    assert opt_of(seen) == "/opt"
    assert seen["file"] == "/opt/python/layermod.py"
    assert seen["site_file"] == "/opt/python/lib/python3.12/site-packages/sitepkg.py"
    assert seen["writable"] is False, "/opt must be read-only"
    # sys.path as on AWS: task root, then the layer dirs (site-packages before /opt/python).
    path = seen["path"]
    assert path[0] == "/var/task"
    assert path.index("/opt/python/lib/python3.12/site-packages") < path.index("/opt/python")
    assert seen["ld"].split(":")[-1] == "/opt/lib"
    assert seen["PATH"].split(":")[-1] == "/opt/bin"

    # Reordering the layers flips the winner (a configuration change gets a new environment).
    lclient.update_function_configuration(FunctionName=name, Layers=[second, first])
    wait_function_ready(lclient, name)
    r = invoke(lclient, name, {})
    assert r.function_error is None, r.payload
    assert r.json()["marker"] == "first"


def test_function_without_layers_cannot_import_layer_modules(lclient, request):
    tag = request.node.callspec.id.replace("-", "")
    name = f"py-nolayers-{tag}"
    create(lclient, name, {"app.py": PY_HANDLER}, "python3.12", "app.handler", [])
    r = invoke(lclient, name, {})
    assert r.function_error == "Unhandled"
    assert r.json()["errorType"] == "ModuleNotFoundError", r.payload


NODE_HANDLER = """
exports.handler = async () => ({
  common: require('layer-common')(),
  versioned: require('layer-versioned').where,
  nodePath: process.env.NODE_PATH,
});
"""


def test_node_requires_packages_from_layers(lclient, request):
    tag = request.node.callspec.id.replace("-", "")
    arn = publish(lclient, f"node-layer-{tag}", {
        "nodejs/node_modules/layer-common/index.js": "module.exports = () => 'common ok';\n",
        "nodejs/node_modules/layer-common/package.json": json.dumps({"name": "layer-common", "main": "index.js"}),
        "nodejs/node20/node_modules/layer-versioned/index.js": "exports.where = 'node20 dir';\n",
        "nodejs/node_modules/layer-versioned/index.js": "exports.where = 'generic dir';\n",
    })
    name = f"node-layers-{tag}"
    create(lclient, name, {"index.js": NODE_HANDLER}, "nodejs20.x", "index.handler", [arn])
    r = invoke(lclient, name, {})
    assert r.function_error is None, r.payload
    seen = r.json()
    assert seen["common"] == "common ok"
    assert seen["versioned"] == "node20 dir", "nodejs/node20/node_modules comes first for nodejs20.x"
    assert seen["nodePath"].split(":")[:2] == ["/opt/nodejs/node20/node_modules", "/opt/nodejs/node_modules"]


BASH_LOOP = r"""#!/bin/bash
set -euo pipefail
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
while true; do
  HEADERS="$(mktemp)"
  curl -sS -D "$HEADERS" -o /tmp/event "$API/next"
  ID="$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$HEADERS" | tr -d '\r' | cut -d' ' -f2)"
  OUT="$(layer-tool)"
  printf '{"tool":"%s","where":"%s","bootstrap":"%s"}' "$OUT" "$(command -v layer-tool)" "$0" > /tmp/out
  curl -sS -X POST "$API/$ID/response" --data-binary @/tmp/out > /dev/null
done
"""


def test_provided_sees_opt_bin_and_a_bootstrap_from_a_layer(lclient, request):
    tag = request.node.callspec.id.replace("-", "")
    tools = publish(lclient, f"tools-{tag}", {"bin/layer-tool": ("#!/bin/bash\necho tool-from-layer\n", 0o755)})
    name = f"prov-layers-{tag}"
    create(lclient, name, {"bootstrap": (BASH_LOOP, 0o755)}, "provided.al2023", "x.y", [tools])
    r = invoke(lclient, name, {})
    assert r.function_error is None, r.payload
    assert r.json() == {"tool": "tool-from-layer", "where": "/opt/bin/layer-tool", "bootstrap": "/var/task/bootstrap"}

    # The runtime itself shipped as a layer: no bootstrap in the function, /opt/bootstrap runs (as on AWS).
    runtime = publish(lclient, f"runtime-{tag}", {"bootstrap": (BASH_LOOP, 0o755)})
    name = f"prov-runtime-layer-{tag}"
    create(lclient, name, {"handler.sh": "unused\n"}, "provided.al2023", "x.y", [runtime, tools])
    r = invoke(lclient, name, {})
    assert r.function_error is None, r.payload
    assert r.json()["bootstrap"] == "/opt/bootstrap"


def test_layers_without_a_mount_namespace():
    """Not root and no sandbox: no /opt mount; the runtimes are pointed at the merged layer tree instead."""
    import os
    import re
    import shutil
    import subprocess
    import sys
    import time

    from execlib import REPO_ROOT, make_client
    sys.path.insert(0, str(REPO_ROOT / "tests" / "integration"))
    from lambent_testlib import binary_for_user

    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to start the server as an unprivileged user")
    import tempfile
    from pathlib import Path
    root = Path(tempfile.mkdtemp(prefix="lambent-unpriv-"))  # pytest's tmp dirs are private to root
    os.chown(root, 65534, 65534)
    binary = binary_for_user(65534, root)
    out = open(root / "stdout.log", "wb")
    proc = subprocess.Popen(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                             str(binary), "serve", "--listen", "127.0.0.1:0", "--data-dir",
                             str(root / "data"), "--sandbox", "off"],
                            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        url = None
        for _ in range(500):
            m = re.search(r"^listening on (http://\S+)$", (root / "stdout.log").read_text(), re.M)
            if m:
                url = m.group(1)
                break
            assert proc.poll() is None, (root / "stdout.log").read_text()
            time.sleep(0.02)
        assert url, "the unprivileged server did not start"
        c = make_client(url)
        first = publish(c, "np-first", {"python/layermod.py": "MARKER = 'first'\n",
                                        "python/only_first.py": "X = 'from the first layer'\n",
                                        "bin/layer-tool": ("#!/bin/bash\necho tool-from-layer\n", 0o755)})
        second = publish(c, "np-second", {"python/layermod.py": "MARKER = 'second'\n",
                                          "python/lib/python3.12/site-packages/sitepkg.py": "X = 'site'\n"})
        create(c, "np-py", {"app.py": PY_HANDLER}, "python3.12", "app.handler", [first, second])
        r = invoke(c, "np-py", {})
        assert r.function_error is None, r.payload
        seen = r.json()
        opt = opt_of(seen)
        assert opt.startswith(str(root / "data" / "opt") + "/"), seen["file"]
        assert seen["marker"] == "second" and seen["only_first"] == "from the first layer"
        assert seen["site"] == "site"
        assert seen["PATH"].split(":")[-1] == f"{opt}/bin"
        assert seen["ld"].split(":")[-1] == f"{opt}/lib"
        create(c, "np-prov", {"bootstrap": (BASH_LOOP, 0o755)}, "provided.al2023", "x.y", [first])
        r = invoke(c, "np-prov", {})
        assert r.function_error is None, r.payload
        assert r.json()["tool"] == "tool-from-layer"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        out.close()
        shutil.rmtree(root, ignore_errors=True)
