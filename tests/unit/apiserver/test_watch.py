"""Writing live watch events straight to the connection (the watcher's sink)."""

from __future__ import annotations

from typing import Any

import orjson

from pybernetes.api.builtin import builtin_registry
from pybernetes.apiserver import watch
from pybernetes.apiserver.negotiation import JSON
from pybernetes.storage.watchcache import CachedEvent, ResourceCache, Watcher


class Transport:
    def __init__(self, *, buffered: int = 0, closing: bool = False) -> None:
        self.buffered = buffered
        self.closing = closing
        self.data = b""

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def write(self, data: bytes) -> None:
        self.data += data


class Request:
    def __init__(self, transport: Transport | None) -> None:
        self.transport = transport


def setup(transport: Transport | None) -> tuple[Any, Watcher, CachedEvent]:
    res = builtin_registry().get("", "v1", "configmaps")
    rc = ResourceCache("core/configmaps", 0)
    w = Watcher(rc, "/registry/core/configmaps/", None)
    rc.watchers.add(w)
    obj = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c", "namespace": "ns",
                                                                 "resourceVersion": "5"}}
    ev = CachedEvent("ADDED", "/registry/core/configmaps/ns/c", obj, None, 5)
    shape = ("", "", res.api_version, "")

    def push(e: CachedEvent) -> bool:
        return watch._push(Request(transport), res, JSON, shape, None, [False], w, e)  # type: ignore[arg-type]
    return push, w, ev


def test_push_writes_one_chunk_holding_one_json_line() -> None:
    t = Transport()
    push, _, ev = setup(t)
    assert push(ev) is True
    size, _, rest = t.data.partition(b"\r\n")
    body = rest[:int(size, 16)]
    assert rest[int(size, 16):] == b"\r\n" and body.endswith(b"\n")
    assert orjson.loads(body) == {"type": "ADDED", "object": ev.obj}


def test_push_declines_while_the_connection_is_backed_up() -> None:
    t = Transport(buffered=watch.PUSH_LIMIT + 1)
    push, w, ev = setup(t)
    assert push(ev) is False
    assert t.data == b"" and not w.closed


def test_push_ends_the_watch_when_the_client_is_gone() -> None:
    for t in (Transport(closing=True), None):
        push, w, ev = setup(t)
        assert push(ev) is True
        assert w.closed


def test_plain_events_embed_the_objects_json_byte_for_byte() -> None:
    res = builtin_registry().get("", "v1", "configmaps")
    obj = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c", "resourceVersion": "5",
                                                                 "labels": {"é": "\u2028"}}, "data": {"k": "v"}}
    shape = ("", "", res.api_version, "")
    for typ in ("ADDED", "MODIFIED", "DELETED"):
        ev = CachedEvent(typ, "/registry/core/configmaps/ns/c", obj, None, 5)
        data = watch.encode_event(ev, shape, res, JSON, None)
        assert data == orjson.dumps({"type": typ, "object": obj}) + b"\n"
        assert ev.json == orjson.dumps(obj) and watch.encode_event(ev, shape, res, JSON, None) is data
