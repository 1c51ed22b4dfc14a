"""The watch cache's key ranges and per-object JSON (what LIST responses are joined from)."""

from __future__ import annotations

import orjson
import pytest

from pybernetes.storage.watchcache import CachedEvent, ResourceCache


def put(rc: ResourceCache, key: str, rv: int, typ: str = "ADDED") -> None:
    obj = {"metadata": {"name": key.rsplit("/", 1)[1], "resourceVersion": str(rv)}}
    rc.apply(CachedEvent(typ, key, obj, rc.objects.get(key), rv))


@pytest.fixture
def rc() -> ResourceCache:
    rc = ResourceCache("core/pods", 0)
    for i, key in enumerate(["/registry/core/pods/b/x", "/registry/core/pods/a/y", "/registry/core/pods/a/x",
                             "/registry/core/pods/ab/z", "/registry/core/pods/a0/w"]):
        put(rc, key, i + 1)
    return rc


@pytest.mark.parametrize(("prefix", "want"), [
    ("/registry/core/pods/", ["a/x", "a/y", "a0/w", "ab/z", "b/x"]),
    ("/registry/core/pods/a/", ["a/x", "a/y"]),
    ("/registry/core/pods/b/", ["b/x"]),
    ("/registry/core/pods/c/", []),
])
def test_keys_are_the_prefix_range_in_order(rc: ResourceCache, prefix: str, want: list[str]) -> None:
    keys = rc.keys(prefix)
    assert [k.removeprefix("/registry/core/pods/") for k in keys] == want
    assert rc.items(prefix) == [rc.objects[k] for k in keys]
    keys.clear()                                   # the caller's own list
    assert rc.keys(prefix) == [f"/registry/core/pods/{k}" for k in want]


def test_json_of_follows_each_version_of_the_object(rc: ResourceCache) -> None:
    key = "/registry/core/pods/a/x"
    first = rc.json_of(key)
    assert first == orjson.dumps(rc.objects[key]) and rc.json_of(key) is first
    put(rc, key, 10, "MODIFIED")
    assert orjson.loads(rc.json_of(key))["metadata"]["resourceVersion"] == "10"
    rc.apply(CachedEvent("DELETED", key, rc.objects[key], rc.objects[key], 11))
    assert key not in rc.encoded


def test_applied_versions_are_encoded_once_and_shared_with_their_event() -> None:
    rc = ResourceCache("core/pods", 0)
    obj = {"metadata": {"name": "x", "resourceVersion": "1"}}
    ev = CachedEvent("ADDED", "/registry/core/pods/a/x", obj, None, 1)
    rc.apply(ev)
    assert rc.encoded["/registry/core/pods/a/x"] is ev.json == orjson.dumps(obj)
    assert rc.json_of("/registry/core/pods/a/x") is ev.json


def test_a_retyped_event_shares_the_json_only_for_the_same_object() -> None:
    new = {"metadata": {"name": "x", "resourceVersion": "2", "labels": {"a": "1"}}}
    old = {"metadata": {"name": "x", "resourceVersion": "1"}}
    ev = CachedEvent("MODIFIED", "/registry/core/pods/a/x", new, old, 2)
    ev.object_json()
    assert ev.as_type("ADDED").json is ev.json
    gone = ev.as_type("DELETED")
    assert gone.json is None and orjson.loads(gone.object_json())["metadata"]["resourceVersion"] == "2"
