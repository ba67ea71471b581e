#!/usr/bin/env python3
"""Builds the Pillow layer from what the machine has: Debian's python3-pil (/usr/lib/python3/dist-packages/PIL)
packed under python/ in a layer ZIP, so the function finds it at /opt/python/PIL.

    examples/image-resizer/build_layer.py [OUT.zip]      (default: examples/image-resizer/dist/pillow-layer.zip)
"""
import glob
import os
import sys
import zipfile

SOURCE = "/usr/lib/python3/dist-packages"


def build(out_path: str) -> str:
    pil = os.path.join(SOURCE, "PIL")
    if not os.path.isdir(pil):
        sys.exit(f"{pil} is missing: install Debian's python3-pil (apt-get install python3-pil)")
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    roots = [pil] + glob.glob(os.path.join(SOURCE, "Pillow-*-info"))  # the package and its metadata
    with zipfile.ZipFile(out_path, "w", zipfile.ZIP_DEFLATED) as z:
        for root in roots:
            for folder, dirs, files in os.walk(root):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                for name in sorted(files):
                    full = os.path.join(folder, name)
                    arcname = os.path.join("python", os.path.relpath(full, SOURCE))
                    info = zipfile.ZipInfo(arcname, date_time=(2024, 1, 1, 0, 0, 0))
                    info.create_system = 3
                    info.external_attr = (0o100000 | (os.stat(full).st_mode & 0o777)) << 16
                    info.compress_type = zipfile.ZIP_DEFLATED
                    with open(full, "rb") as f:
                        z.writestr(info, f.read())
    return out_path


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    out = build(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "dist", "pillow-layer.zip"))
    print(f"{out}: {os.path.getsize(out)} bytes")
