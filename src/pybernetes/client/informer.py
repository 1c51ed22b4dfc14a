"""Informers: a local cache of one resource kept by list + watch, with event handlers and indexes.

As client-go's SharedInformer (STYLE.md §3): list, then watch from the list's resourceVersion; a watch that
ends is resumed from the last seen resourceVersion (bookmarks keep it fresh); 410 Expired triggers a re-list
whose differences are delivered as add/update/delete, so handlers never miss a state. Handlers are synchronous
and must only enqueue work (level-triggered controllers read the cache, not the event).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

from pybernetes.client.resources import ResourceRef
from pybernetes.client.rest import APIStatusError, Client

log = logging.getLogger(__name__)
Obj = dict[str, Any]
AddFn = Callable[[Obj], None]
UpdateFn = Callable[[Obj, Obj], None]
DeleteFn = Callable[[Obj], None]
IndexFn = Callable[[Obj], Iterable[str]]


def key_of(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))


class Informer:
    def __init__(self, client: Client, res: ResourceRef, *, namespace: str | None = None,
                 label_selector: str | None = None, field_selector: str | None = None,
                 watch_timeout: int = 300) -> None:
        self.client = client
        self.res = res
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.watch_timeout = watch_timeout
        self.store: dict[str, Obj] = {}
        self.synced = asyncio.Event()
        self.resource_version = ""
        self._handlers: list[tuple[AddFn | None, UpdateFn | None, DeleteFn | None]] = []
        self._indexers: dict[str, IndexFn] = {}
        self._indexes: dict[str, dict[str, set[str]]] = {}
        self._task: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------- handlers and indexes
    def add_handler(self, on_add: AddFn | None = None, on_update: UpdateFn | None = None,
                    on_delete: DeleteFn | None = None) -> None:
        self._handlers.append((on_add, on_update, on_delete))
        if on_add is None:
            return
        for key, obj in list(self.store.items()):
            try:
                on_add(obj)                 # a late handler first sees the cache, as client-go replays it
            except Exception:
                log.exception("informer handler failed", extra={"resource": self.res.plural, "key": key})

    def add_index(self, name: str, fn: IndexFn) -> None:
        self._indexers[name] = fn
        idx: dict[str, set[str]] = {}
        for k, obj in self.store.items():
            for v in fn(obj):
                idx.setdefault(v, set()).add(k)
        self._indexes[name] = idx

    def by_index(self, name: str, value: str) -> list[Obj]:
        keys = self._indexes.get(name, {}).get(value, ())
        return [self.store[k] for k in keys if k in self.store]

    def get(self, key: str) -> Obj | None:
        return self.store.get(key)

    def list(self, namespace: str | None = None) -> list[Obj]:
        if namespace is None:
            return list(self.store.values())
        return [o for o in self.store.values() if o["metadata"].get("namespace") == namespace]

    # ---------------------------------------------------------------- state changes
    def _index_add(self, key: str, obj: Obj) -> None:
        for name, fn in self._indexers.items():
            idx = self._indexes[name]
            for v in fn(obj):
                idx.setdefault(v, set()).add(key)

    def _index_remove(self, key: str, obj: Obj) -> None:
        for name, fn in self._indexers.items():
            idx = self._indexes[name]
            for v in fn(obj):
                s = idx.get(v)
                if s is not None:
                    s.discard(key)
                    if not s:
                        del idx[v]

    def _upsert(self, obj: Obj) -> None:
        key = key_of(obj)
        old = self.store.get(key)
        if old is not None:
            if old["metadata"].get("resourceVersion") == obj["metadata"].get("resourceVersion"):
                return
            self._index_remove(key, old)
        self.store[key] = obj
        self._index_add(key, obj)
        for add, update, _ in self._handlers:
            try:
                if old is None:
                    if add:
                        add(obj)
                elif update:
                    update(old, obj)
            except Exception:
                log.exception("informer handler failed", extra={"resource": self.res.plural, "key": key})

    def _remove(self, obj: Obj) -> None:
        key = key_of(obj)
        old = self.store.pop(key, None)
        if old is None:
            return
        self._index_remove(key, old)
        for _, _, delete in self._handlers:
            try:
                if delete:
                    delete(obj)
            except Exception:
                log.exception("informer handler failed", extra={"resource": self.res.plural, "key": key})

    # ---------------------------------------------------------------- list + watch
    def start(self) -> asyncio.Task[None]:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=f"informer-{self.res.plural}")
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    async def _relist(self) -> None:
        params: dict[str, Any] = {"label_selector": self.label_selector, "field_selector": self.field_selector}
        items: list[Obj] = []
        cont = None
        while True:
            page = {**params, "continue": cont} if cont else params
            lst = await self.client.list(self.res, self.namespace, limit=5000, **page)
            items.extend(lst.get("items") or [])
            cont = (lst.get("metadata") or {}).get("continue")
            rv = (lst.get("metadata") or {}).get("resourceVersion", "")
            if not cont:
                break
        fresh = {key_of(o): o for o in items}
        for key in [k for k in self.store if k not in fresh]:
            self._remove(self.store[key])
        for o in items:
            o.setdefault("kind", self.res.kind)
            o.setdefault("apiVersion", self.res.api_version)
            self._upsert(o)
        self.resource_version = rv

    async def run(self) -> None:
        backoff = 0.2
        need_list = True
        while True:
            try:
                if need_list:
                    await self._relist()
                    need_list = False
                    self.synced.set()
                async for ev in self.client.watch(self.res, self.namespace, resource_version=self.resource_version,
                                                  timeout_seconds=self.watch_timeout,
                                                  label_selector=self.label_selector,
                                                  field_selector=self.field_selector):
                    typ, obj = ev.get("type"), ev.get("object") or {}
                    if typ == "ERROR":
                        if obj.get("code") == 410:
                            need_list = True
                        break
                    rv = (obj.get("metadata") or {}).get("resourceVersion")
                    if typ == "BOOKMARK":
                        if rv:
                            self.resource_version = rv
                        continue
                    if typ in ("ADDED", "MODIFIED"):
                        self._upsert(obj)
                    elif typ == "DELETED":
                        self._remove(obj)
                    if rv:
                        self.resource_version = rv
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except APIStatusError as e:
                if e.code == 410:
                    need_list = True
                    continue
                log.warning("informer watch failed", extra={"resource": self.res.plural, "error": str(e)})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10)
            except Exception as e:
                log.warning("informer connection failed", extra={"resource": self.res.plural, "error": repr(e)})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10)
