"""ListFunctions pagination (Marker/MaxItems/NextMarker) and the boto3 paginator (contract §1)."""

from __future__ import annotations

import random

import pytest

from lambent_testlib import (create_function, function_arn, list_all_functions, make_client,
                             python_zip)

COUNT = 30
LIST_ITEM_OMITS = ("State", "StateReason", "StateReasonCode", "LastUpdateStatus",
                   "LastUpdateStatusReason", "LastUpdateStatusReasonCode")


def make_names(prefix: str, count: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    names = [f"{prefix}-{rnd.randrange(16**6):06x}-{i:02d}" for i in range(count)]
    rnd.shuffle(names)  # creation order differs from name order
    return names


@pytest.fixture(scope="module")
def listed(server):
    """COUNT functions on this module's own server, created in shuffled order."""
    client = make_client(server.url)
    names = make_names("ls", COUNT, seed=1234)
    for i, n in enumerate(names):
        create_function(client, n, python_zip(f"list-{i}"), Description=f"item {i}")
    return names


def pages(client, max_items: int | None):
    out, marker = [], None
    for _ in range(1000):
        kw = {}
        if max_items is not None:
            kw["MaxItems"] = max_items
        if marker:
            kw["Marker"] = marker
        page = client.list_functions(**kw)
        out.append(page)
        marker = page.get("NextMarker")
        if not marker:
            return out
    pytest.fail("pagination did not terminate")


def test_list_all_in_one_page(client, listed):
    page = client.list_functions()
    names = [f["FunctionName"] for f in page["Functions"]]
    assert sorted(names) == sorted(listed)
    assert "NextMarker" not in page
    page = client.list_functions(MaxItems=COUNT + 5)
    assert [f["FunctionName"] for f in page["Functions"]] == names
    assert "NextMarker" not in page


def test_list_manual_pagination_with_max_items(client, listed):
    ps = pages(client, 7)
    sizes = [len(p["Functions"]) for p in ps]
    assert sizes == [7, 7, 7, 7, 2], sizes
    for p in ps[:-1]:
        assert isinstance(p["NextMarker"], str) and p["NextMarker"]
    assert "NextMarker" not in ps[-1]
    names = [f["FunctionName"] for p in ps for f in p["Functions"]]
    assert len(names) == len(set(names)), "duplicates across pages"
    assert set(names) == set(listed), "functions missing or extra"
    assert names == sorted(names), "ListFunctions order must be sorted by name"
    # stable: the same walk again, and other page sizes, give the same order
    assert [f["FunctionName"] for p in pages(client, 7) for f in p["Functions"]] == names
    for size in (1, 5, 29, 30):
        assert [f["FunctionName"] for p in pages(client, size) for f in p["Functions"]] == names


def test_list_exact_page_boundary(client, listed):
    ps = pages(client, 10)
    assert [len(p["Functions"]) for p in ps] == [10, 10, 10]
    assert "NextMarker" not in ps[-1], "no NextMarker (and no empty extra page) at the end"


def test_list_boto3_paginator(client, listed):
    paginator = client.get_paginator("list_functions")
    got = [f["FunctionName"] for page in paginator.paginate(PaginationConfig={"PageSize": 4})
           for f in page["Functions"]]
    assert len(got) == COUNT and set(got) == set(listed)
    assert got == sorted(got)
    # MaxItems in PaginationConfig stops early and hands back a resume token
    first = paginator.paginate(PaginationConfig={"MaxItems": 11, "PageSize": 4}).build_full_result()
    assert len(first["Functions"]) == 11
    assert first.get("NextToken")
    rest = paginator.paginate(PaginationConfig={"StartingToken": first["NextToken"],
                                                "PageSize": 6}).build_full_result()
    combined = [f["FunctionName"] for f in first["Functions"] + rest["Functions"]]
    assert combined == got


def test_list_items_match_configuration(client, listed):
    items = {f["FunctionName"]: f for f in list_all_functions(client)}
    for name in listed[:5]:
        item = items[name]
        for key in LIST_ITEM_OMITS:
            assert key not in item, f"ListFunctions items omit {key}"
        cfg = client.get_function_configuration(FunctionName=name)
        cfg.pop("ResponseMetadata")
        expected = {k: v for k, v in cfg.items() if k not in LIST_ITEM_OMITS}
        assert item == expected
        assert item["FunctionArn"] == function_arn(name)
        assert item["Version"] == "$LATEST"


def test_pagination_stays_consistent_under_modification(server_factory):
    """A function created before the marker, or deleted after it, must not make the walk repeat
    or skip any of the functions that existed the whole time."""
    srv = server_factory.new("list-mod")
    client = make_client(srv.url)
    names = sorted(make_names("mod", 26, seed=99))
    for n in names:
        create_function(client, n, python_zip(n))
    first = client.list_functions(MaxItems=8)
    seen = [f["FunctionName"] for f in first["Functions"]]
    assert seen == names[:8]
    create_function(client, "aaa-inserted-first", python_zip("ins"))  # sorts before the marker
    client.delete_function(FunctionName=names[8])  # the very next item
    client.delete_function(FunctionName=names[7])  # the item the marker points at
    marker = first["NextMarker"]
    while marker:
        page = client.list_functions(MaxItems=8, Marker=marker)
        seen += [f["FunctionName"] for f in page["Functions"]]
        marker = page.get("NextMarker")
    assert len(seen) == len(set(seen)), f"duplicates: {seen}"
    assert seen == names[:8] + names[9:], seen
