"""The image-resizer example end to end (examples/image-resizer/run.py): a real S3-compatible server (s3rver from
npm), Pillow as a layer built from Debian's python3-pil, the S3 ObjectCreated:Put event delivered with
InvocationType=Event, and the function reaching s3rver through the sandbox's egress network (10.0.2.2)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lambent_testlib import REPO_ROOT

EXAMPLE = Path(REPO_ROOT) / "examples" / "image-resizer"


def _require_prerequisites():
    if os.geteuid() != 0:
        pytest.skip("the example runs in the sandbox with egress, which needs root")
    if shutil.which("slirp4netns") is None:
        pytest.skip("slirp4netns is not installed: no egress network for sandboxed functions")
    if not Path("/usr/lib/python3/dist-packages/PIL").is_dir():
        pytest.skip("Debian's python3-pil is not installed (.ci/install-deps test)")
    if not (EXAMPLE / "node_modules" / ".bin" / "s3rver").exists():
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed, so s3rver cannot be installed")
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=EXAMPLE,
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            pytest.skip(f"npm ci of s3rver failed (offline?): {r.stderr.strip()[-500:]}")


def test_image_resizer_end_to_end(server):
    _require_prerequisites()
    r = subprocess.run(["/usr/bin/python3", str(EXAMPLE / "run.py"), "--endpoint", server.url,
                        "--key", "summer holiday/sunset at the beach.jpg"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"run.py failed:\n{r.stdout}\n{r.stderr}"
    assert "OK: s3://photos/resized-summer holiday/sunset at the beach.jpg is 200x150" in r.stdout, r.stdout
    assert "HTTP 202" in r.stdout
    # The function used the layer's Pillow (/opt/python comes before the interpreter's own dist-packages).
    logs = "".join(p.read_text(errors="replace")
                   for p in (Path(server.data_dir) / "logs" / "image-resizer").glob("**/*.log"))
    assert "as resized-summer holiday/sunset at the beach.jpg (Pillow" in logs, logs[-3000:]
    assert "from /opt/python/PIL)" in logs, logs[-3000:]
