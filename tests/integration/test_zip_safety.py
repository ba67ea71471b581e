"""Hostile and broken ZIP uploads on CreateFunction / UpdateFunctionCode.

Each rejection must be an InvalidParameterValueException (400) and leave nothing behind: no function,
ListFunctions unchanged, no new files under DATA_DIR (code/, unpacked/, temp files)."""

from __future__ import annotations

import hashlib
import re

import pytest

from lambent_testlib import (ROLE, assert_nothing_left_behind, b64sha256, create_function,
                             data_dir_files, download_code, expect_error, make_zip, python_zip,
                             snapshot, unique_name, wait_updated, zip_bomb, zip_many_entries,
                             zip_repetitive, zip_with_raw_entry, zip_with_symlink,
                             zip_with_symlinks)

UNZIP_MSG = "Could not unzip uploaded file. Please check your file, then try to upload again."
UNZIPPED_SIZE_MSG = "Unzipped size must be smaller than 262144000 bytes"
# The contract sets no entry-count limit; 200k empty files is far past any real package
# (a 250 MB node_modules tree has tens of thousands) and would exhaust inodes if extracted blindly.
MANY_ENTRIES = 200_000


def truncated_zip() -> bytes:
    z = python_zip("truncated", extra={"blob.txt": "z" * 4000})
    return z[: len(z) // 2]


# Any rejection of a damaged or hostile archive must use the contract's bad-zip wording (§3.3); the
# server may append a detail after it.
UNZIP_PREFIX_RE = re.escape(UNZIP_MSG) + r"( .*)?"

# (id, zip builder, exact message or None, message regex or None)
BAD_ZIPS = [
    ("not-a-zip", lambda: b"this is certainly not a zip archive\n" * 10, UNZIP_MSG, None),
    ("truncated", truncated_zip, UNZIP_MSG, None),
    ("absolute-path", lambda: zip_with_raw_entry("/tmp/lambent-abs-evil.txt"), None, UNZIP_PREFIX_RE),
    ("dotdot", lambda: zip_with_raw_entry("../lambent-dotdot-evil.txt"), None, UNZIP_PREFIX_RE),
    ("nested-dotdot", lambda: zip_with_raw_entry("lib/../../lambent-nested-evil.txt"), None,
     UNZIP_PREFIX_RE),
    ("symlink-relative-escape", lambda: zip_with_symlink("escape", "../../../../../../etc/passwd"),
     None, UNZIP_PREFIX_RE),
    ("symlink-absolute", lambda: zip_with_symlink("abs", "/etc/passwd"), None, UNZIP_PREFIX_RE),
    # Each link looks harmless on its own when resolved lexically, but `s/b` resolves to the tree
    # root, so `a` -> `s/b/../..` really points two levels above it.
    ("symlink-chain-escape",
     lambda: zip_with_symlinks([("s/b", ".."), ("a", "s/b/../../etc/passwd")], dirs=["s"]),
     None, UNZIP_PREFIX_RE),
    ("over-250mb-unzipped", lambda: zip_repetitive(260 * 1024 * 1024), UNZIPPED_SIZE_MSG, None),
    ("zip-bomb", lambda: zip_bomb(300 * 1024 * 1024), None,
     f"{re.escape(UNZIPPED_SIZE_MSG)}|{UNZIP_PREFIX_RE}"),
    ("zip-bomb-lying-header", lambda: zip_bomb(300 * 1024 * 1024, lie_about_size=True), None,
     f"{re.escape(UNZIPPED_SIZE_MSG)}|{UNZIP_PREFIX_RE}"),
    ("too-many-entries", lambda: zip_many_entries(MANY_ENTRIES), None, UNZIP_PREFIX_RE),
]

_built: dict[str, bytes] = {}


def build(case) -> bytes:
    if case[0] not in _built:
        _built[case[0]] = case[1]()
    return _built[case[0]]


@pytest.mark.parametrize("case", BAD_ZIPS, ids=lambda c: c[0])
def test_create_rejects_bad_zip(client, server, case):
    name = unique_name("zip")
    data = build(case)
    before = snapshot(client, server.data_dir)
    with expect_error("InvalidParameterValueException", 400, case[2], case[3]):
        client.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE,
                               Handler="app.handler", Code={"ZipFile": data})
    assert_nothing_left_behind(client, server.data_dir, before, name)


@pytest.mark.parametrize("case", BAD_ZIPS, ids=lambda c: c[0])
def test_update_code_rejects_bad_zip(client, server, case):
    name = unique_name("zip-upd")
    good = python_zip("good-" + name)
    create_function(client, name, good)
    original = wait_updated(client, name)
    before = snapshot(client, server.data_dir)
    with expect_error("InvalidParameterValueException", 400, case[2], case[3]):
        client.update_function_code(FunctionName=name, ZipFile=build(case))
    now = client.get_function_configuration(FunctionName=name)
    now.pop("ResponseMetadata")
    assert now == original, "a rejected code update must not change the function"
    assert download_code(client, name) == good
    assert_nothing_left_behind(client, server.data_dir, before, None)


def test_escape_targets_were_not_written(server):
    """After all the hostile uploads, none of the escape targets exists outside the data dir."""
    import os
    for p in ("/tmp/lambent-abs-evil.txt",
              str(server.data_dir.parent / "lambent-dotdot-evil.txt"),
              str(server.data_dir / "lambent-dotdot-evil.txt"),
              str(server.data_dir.parent / "lambent-nested-evil.txt")):
        assert not os.path.exists(p), f"zip entry escaped to {p}"


def test_stored_blob_is_the_uploaded_zip(client, server):
    """Makes the white-box checks above meaningful: the server keeps code under DATA_DIR/code."""
    zip_bytes = python_zip("blob-" + unique_name())
    before = data_dir_files(server.data_dir)
    create_function(client, unique_name("blob"), zip_bytes)
    new = data_dir_files(server.data_dir) - before
    code_files = [f for f in new if f.startswith("code/")]
    assert code_files, f"no new file under DATA_DIR/code after a create (new files: {sorted(new)})"
    digest = hashlib.sha256(zip_bytes).hexdigest()
    contents = {f: (server.data_dir / f).read_bytes() for f in code_files}
    assert zip_bytes in contents.values(), "the uploaded zip is not stored verbatim under code/"
    assert any(digest in f for f in code_files), f"blob not named by its sha256: {code_files}"


def test_same_zip_for_two_functions_is_stored_once(client, server):
    zip_bytes = python_zip("shared-" + unique_name())
    create_function(client, unique_name("share-a"), zip_bytes)
    after_first = data_dir_files(server.data_dir)
    create_function(client, unique_name("share-b"), zip_bytes)
    new = {f for f in data_dir_files(server.data_dir) - after_first if f.startswith("code/")}
    assert not new, f"content-addressed store wrote the same blob twice: {new}"


# ------------------------------------------------------------------------- accepted, tricky


def test_in_tree_symlink_and_directories_accepted(client):
    import io
    import stat
    import zipfile
    from lambent_testlib import make_zipinfo
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(make_zipinfo("lib/", stat.S_IFDIR | 0o755), b"")
        zf.writestr(make_zipinfo("lib/v1/"), b"")
        zf.writestr(make_zipinfo("lib/v1/mod.py"), "X = 1\n")
        zf.writestr(make_zipinfo("app.py"), "def handler(e, c):\n    return 1\n")
        link = make_zipinfo("lib/current", stat.S_IFLNK | 0o777)
        link.compress_type = zipfile.ZIP_STORED
        zf.writestr(link, "v1")
        link2 = make_zipinfo("handler_alias.py", stat.S_IFLNK | 0o777)
        link2.compress_type = zipfile.ZIP_STORED
        zf.writestr(link2, "app.py")
        zf.writestr(make_zipinfo("d\u00e9j\u00e0 vu/\u2603.txt"), "unicode names\n")
    data = buf.getvalue()
    res = create_function(client, unique_name("tricky-ok"), data)
    assert res["CodeSha256"] == b64sha256(data)
    assert download_code(client, res["FunctionName"]) == data


def test_dotdot_inside_name_but_not_a_path_component_accepted(client):
    data = make_zip({"app.py": "def handler(e, c):\n    return 1\n", "notes..txt": "fine\n",
                     "a/..b/c.py": "Y = 2\n"})
    res = create_function(client, unique_name("dots-ok"), data)
    assert res["CodeSha256"] == b64sha256(data)


def test_highly_compressible_legal_zip_accepted(client):
    """5 MiB of zeros (deflates ~1000:1) is far under the 250 MB unzipped limit; AWS takes it."""
    data = make_zip({"app.py": "def handler(e, c):\n    return 1\n", "sparse.db": bytes(5 * 1024 * 1024)})
    res = create_function(client, unique_name("sparse-ok"), data)
    assert res["CodeSha256"] == b64sha256(data)


def test_unzipped_just_under_250mb_accepted(client):
    data = zip_repetitive(240 * 1024 * 1024)
    res = create_function(client, unique_name("240mb-ok"), data)
    assert res["CodeSize"] == len(data)


def test_large_but_legal_zip_accepted(client):
    """~20 MB of incompressible data: well under 50 MB zipped / 250 MB unzipped."""
    import random
    rnd = random.Random(7)
    data = make_zip({"app.py": "def handler(e, c):\n    return 1\n",
                     "blob.bin": rnd.randbytes(20 * 1024 * 1024)})
    res = create_function(client, unique_name("large-ok"), data)
    assert res["CodeSize"] == len(data)
    assert res["CodeSha256"] == b64sha256(data)
    assert download_code(client, res["FunctionName"]) == data
