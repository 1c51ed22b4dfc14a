"""Informer: list + watch through the real REST client against a tiny scripted aiohttp API server — paging,
watches resumed from the last resourceVersion, bookmarks advancing it, 410 (an ERROR event or the response
status) forcing a re-list whose differences reach the handlers (deletes for vanished objects), and indexes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pybernetes.client.informer import Informer, key_of
from pybernetes.client.resources import CONFIGMAPS
from pybernetes.client.rest import Client, ClientConfig

Obj = dict[str, Any]
PATH = "/api/v1/namespaces/ns/configmaps"


def cm(name: str, rv: int, **labels: str) -> Obj:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": str(rv), "labels": labels}}


def gone() -> Obj:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "too old resource version: 1 (5)", "reason": "Expired", "code": 410}


class FakeAPI:
    """Serves LIST from ``objects`` (paged by ``page``) and hands each WATCH a queue the test feeds."""

    def __init__(self) -> None:
        self.objects: dict[str, Obj] = {}
        self.rv = 1
        self.page = 0
        self.lists: list[dict[str, str]] = []
        self.watches: list[dict[str, str]] = []
        self.streams: asyncio.Queue[asyncio.Queue[Obj | None]] = asyncio.Queue()
        self.watch_status: list[int] = []          # HTTP statuses to answer the next watches with

    def set(self, *objs: Obj, rv: int) -> None:
        self.objects = {o["metadata"]["name"]: o for o in objs}
        self.rv = rv

    async def handle(self, request: web.Request) -> web.StreamResponse:
        q = dict(request.query)
        if q.get("watch") == "true":
            self.watches.append(q)
            if self.watch_status:
                code = self.watch_status.pop(0)
                return web.json_response(gone() if code == 410 else {"code": code, "message": "boom"}, status=code)
            resp = web.StreamResponse()
            await resp.prepare(request)
            stream: asyncio.Queue[Obj | None] = asyncio.Queue()
            self.streams.put_nowait(stream)
            while (ev := await stream.get()) is not None:
                await resp.write(orjson.dumps(ev) + b"\n")
            return resp
        self.lists.append(q)
        items = [self.objects[k] for k in sorted(self.objects)]
        start = int(q.get("continue") or 0)
        meta: Obj = {"resourceVersion": str(self.rv)}
        if self.page and start + self.page < len(items):
            meta["continue"] = str(start + self.page)
        end = start + self.page if self.page else len(items)
        return web.json_response({"kind": "ConfigMapList", "apiVersion": "v1", "metadata": meta,
                                  "items": items[start:end]})

    async def next_watch(self) -> asyncio.Queue[Obj | None]:
        return await asyncio.wait_for(self.streams.get(), 5)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def add(self, o: Obj) -> None:
        self.events.append(("add", o["metadata"]["name"], o["metadata"]["resourceVersion"]))

    def update(self, old: Obj, new: Obj) -> None:
        self.events.append(("update", new["metadata"]["name"], new["metadata"]["resourceVersion"]))

    def delete(self, o: Obj) -> None:
        self.events.append(("delete", o["metadata"]["name"], o["metadata"]["resourceVersion"]))


async def until(cond: Callable[[], bool]) -> None:
    """Poll (the informer applies events as its HTTP client reads them, so there is nothing to await)."""
    for _ in range(1000):
        if cond():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition never held")


@pytest.fixture
async def fake() -> AsyncIterator[FakeAPI]:
    api = FakeAPI()
    app = web.Application()
    app.router.add_get(PATH, api.handle)
    server = TestServer(app)
    await server.start_server()
    api.url = str(server.make_url("")).rstrip("/")  # type: ignore[attr-defined]
    yield api
    for _ in range(api.streams.qsize()):
        api.streams.get_nowait().put_nowait(None)
    await server.close()


@pytest.fixture
async def informer(fake: FakeAPI) -> AsyncIterator[tuple[Informer, Recorder]]:
    client = Client(ClientConfig(server=fake.url))  # type: ignore[attr-defined]
    inf = Informer(client, CONFIGMAPS, namespace="ns", label_selector="app", watch_timeout=60)
    rec = Recorder()
    inf.add_handler(rec.add, rec.update, rec.delete)
    yield inf, rec
    await inf.stop()
    await client.close()


def test_key_of() -> None:
    assert key_of(cm("a", 1)) == "ns/a"
    assert key_of({"metadata": {"name": "n1"}}) == "n1"


async def test_list_then_watch_from_the_list_revision(fake: FakeAPI, informer: tuple[Informer, Recorder]) -> None:
    inf, rec = informer
    fake.set(cm("a", 3), cm("b", 4), rv=5)
    inf.start()
    await asyncio.wait_for(inf.synced.wait(), 5)
    assert rec.events == [("add", "a", "3"), ("add", "b", "4")]
    assert fake.lists[0]["labelSelector"] == "app" and fake.lists[0]["limit"] == "5000"
    assert inf.get("ns/a")["kind"] == "ConfigMap" and inf.get("ns/a")["apiVersion"] == "v1"  # type: ignore[index]
    stream = await fake.next_watch()
    assert fake.watches[0]["resourceVersion"] == "5"
    assert (fake.watches[0]["allowWatchBookmarks"], fake.watches[0]["labelSelector"]) == ("true", "app")
    stream.put_nowait({"type": "ADDED", "object": cm("c", 6)})
    stream.put_nowait({"type": "MODIFIED", "object": cm("a", 7, v="2")})
    stream.put_nowait({"type": "MODIFIED", "object": cm("a", 7, v="2")})        # a repeat changes nothing
    stream.put_nowait({"type": "DELETED", "object": cm("b", 8)})
    await until(lambda: len(rec.events) == 5)
    assert rec.events[2:] == [("add", "c", "6"), ("update", "a", "7"), ("delete", "b", "8")]
    assert sorted(o["metadata"]["name"] for o in inf.list()) == ["a", "c"]
    assert inf.list("other") == []
    assert inf.resource_version == "8"
    # the server ends the watch (timeout): the next one resumes from the last resourceVersion, no re-list
    stream.put_nowait(None)
    await fake.next_watch()
    assert fake.watches[1]["resourceVersion"] == "8"
    assert len(fake.lists) == 1


async def test_bookmarks_advance_the_resource_version(fake: FakeAPI, informer: tuple[Informer, Recorder]) -> None:
    inf, rec = informer
    fake.set(cm("a", 3), rv=5)
    inf.start()
    stream = await fake.next_watch()
    stream.put_nowait({"type": "BOOKMARK", "object": {"kind": "ConfigMap", "apiVersion": "v1",
                                                     "metadata": {"resourceVersion": "42"}}})
    await until(lambda: inf.resource_version == "42")
    assert rec.events == [("add", "a", "3")]            # a bookmark is not an object
    stream.put_nowait(None)
    await fake.next_watch()
    assert fake.watches[-1]["resourceVersion"] == "42"


@pytest.mark.parametrize("how", ["error-event", "http-status"])
async def test_410_relists_and_delivers_the_differences(fake: FakeAPI, informer: tuple[Informer, Recorder],
                                                        how: str) -> None:
    inf, rec = informer
    fake.set(cm("keep", 3), cm("change", 4), cm("vanish", 5), rv=5)
    inf.start()
    stream = await fake.next_watch()
    rec.events.clear()
    # while the informer was not looking: one changed, one deleted, one created; its revision is compacted
    fake.set(cm("keep", 3), cm("change", 9), cm("new", 10), rv=11)
    if how == "error-event":
        stream.put_nowait({"type": "ERROR", "object": gone()})
    else:
        fake.watch_status.append(410)
        stream.put_nowait(None)                          # the watch ends; resuming it answers 410
    stream = await fake.next_watch()
    assert len(fake.lists) == 2
    assert fake.watches[-1]["resourceVersion"] == "11"
    assert sorted(rec.events) == [("add", "new", "10"), ("delete", "vanish", "5"), ("update", "change", "9")]
    assert sorted(o["metadata"]["name"] for o in inf.list()) == ["change", "keep", "new"]


async def test_other_watch_errors_resume_without_relisting(fake: FakeAPI, informer: tuple[Informer, Recorder]
                                                           ) -> None:
    inf, _ = informer
    fake.set(cm("a", 3), rv=5)
    inf.start()
    stream = await fake.next_watch()
    stream.put_nowait({"type": "ERROR", "object": {"kind": "Status", "code": 500, "message": "internal"}})
    await fake.next_watch()
    assert len(fake.lists) == 1 and fake.watches[-1]["resourceVersion"] == "5"


async def test_relist_follows_continue_pages(fake: FakeAPI, informer: tuple[Informer, Recorder]) -> None:
    inf, _ = informer
    fake.page = 2
    fake.set(*(cm(f"o{i}", i + 1) for i in range(5)), rv=9)
    inf.start()
    await asyncio.wait_for(inf.synced.wait(), 5)
    assert [q.get("continue") for q in fake.lists] == [None, "2", "4"]
    assert len(inf.list()) == 5 and inf.resource_version == "9"
    await fake.next_watch()


async def test_indexes_follow_changes(fake: FakeAPI, informer: tuple[Informer, Recorder]) -> None:
    inf, _ = informer
    fake.set(cm("a", 1, app="web"), cm("b", 2, app="db"), rv=5)
    inf.start()
    await asyncio.wait_for(inf.synced.wait(), 5)
    inf.add_index("by-app", lambda o: [o["metadata"]["labels"]["app"]] if o["metadata"].get("labels") else [])
    names = lambda v: sorted(o["metadata"]["name"] for o in inf.by_index("by-app", v))  # noqa: E731
    assert (names("web"), names("db"), names("none")) == (["a"], ["b"], [])
    assert inf.by_index("no-such-index", "web") == []
    stream = await fake.next_watch()
    stream.put_nowait({"type": "MODIFIED", "object": cm("b", 6, app="web")})
    stream.put_nowait({"type": "ADDED", "object": cm("c", 7, app="db")})
    stream.put_nowait({"type": "DELETED", "object": cm("a", 8, app="web")})
    await until(lambda: inf.resource_version == "8")
    assert (names("web"), names("db")) == (["b"], ["c"])
    assert "web" in inf._indexes["by-app"] and len(inf._indexes["by-app"]) == 2


async def test_late_handlers_see_the_cache_and_handler_errors_are_contained(
        fake: FakeAPI, informer: tuple[Informer, Recorder]) -> None:
    inf, rec = informer
    fake.set(cm("a", 1), rv=5)
    inf.start()
    await asyncio.wait_for(inf.synced.wait(), 5)
    late = Recorder()

    def broken(o: Obj) -> None:
        raise RuntimeError("handler bug")

    inf.add_handler(late.add)
    assert late.events == [("add", "a", "1")]
    inf.add_handler(broken, None, None)                     # its replay fails, contained and logged
    stream = await fake.next_watch()
    stream.put_nowait({"type": "ADDED", "object": cm("b", 6)})
    await until(lambda: inf.get("ns/b") is not None)
    assert ("add", "b", "6") in rec.events and ("add", "b", "6") in late.events


async def test_stop_ends_the_watch(fake: FakeAPI, informer: tuple[Informer, Recorder]) -> None:
    inf, _ = informer
    fake.set(rv=1)
    task = inf.start()
    assert inf.start() is task                              # idempotent
    await fake.next_watch()
    await inf.stop()
    assert task.done()
