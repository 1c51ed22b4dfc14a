"""Serving custom resources from CustomResourceDefinitions (upstream apiextensions-apiserver, in-process).

A watch-cache listener sees every CRD write; for each it (re)registers one :class:`Resource` per served version
in the registry (discovery and OpenAPI follow through ``registry.generation``), and a small reconcile loop writes
the CRD's status: ``acceptedNames`` and the ``NamesAccepted``/``Established`` conditions, which
``kubectl wait --for=condition=Established`` and operators wait on. Deleting a CRD removes its resources from
discovery at once; its stored objects are deleted by the CRD's ``customresourcecleanup`` finalizer step here.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import TYPE_CHECKING, Any

from pybernetes.api.crd_strategy import CustomResourceStrategy
from pybernetes.api.meta import now_rfc3339
from pybernetes.api.resources import Resource, Subresource
from pybernetes.apiserver.authn import UserInfo
from pybernetes.apiserver.options import WriteOptions
from pybernetes.apiserver.registry import GenericREST
from pybernetes.storage import interface as st
from pybernetes.storage.watchcache import CachedEvent

if TYPE_CHECKING:
    from pybernetes.apiserver.app import Dispatcher
    from pybernetes.apiserver.state import ServerState

log = logging.getLogger(__name__)
Obj = dict[str, Any]
STORAGE = "apiextensions.k8s.io/customresourcedefinitions"
FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
SYSTEM_USER = UserInfo("system:apiextensions", groups=("system:masters", "system:authenticated"))


def resources_of(crd: Obj) -> list[Resource]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    plural = names.get("plural", "")
    out = []
    storage_version = next((v["name"] for v in spec.get("versions") or [] if v.get("storage")), "")
    for v in spec.get("versions") or []:
        if not v.get("served"):
            continue
        subs: list[Subresource] = []
        sr = v.get("subresources") or {}
        if "status" in sr:
            subs.append(Subresource("status", ("get", "patch", "update")))
        if "scale" in sr:
            subs.append(Subresource("scale", ("get", "patch", "update"), "autoscaling", "v1", "Scale"))
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        out.append(Resource(
            group=group, version=v["name"], kind=names.get("kind", ""), plural=plural,
            singular=names.get("singular") or names.get("kind", "").lower(),
            namespaced=spec.get("scope") == "Namespaced", short_names=tuple(names.get("shortNames") or ()),
            categories=tuple(names.get("categories") or ()), subresources=tuple(subs),
            storage=f"{group}/{plural}", storage_version=f"{group}/{storage_version}", custom=True,
            crd_name=crd["metadata"]["name"], list_kind=names.get("listKind") or names.get("kind", "") + "List",
            strategy=CustomResourceStrategy(schema, has_status="status" in sr, kind=names.get("kind", "")),
            openapi_schema=schema, printer_columns=tuple(v.get("additionalPrinterColumns") or ()),
            scale_paths=sr.get("scale")))
    return out


class CRDController:
    def __init__(self, state: ServerState, dispatcher: Dispatcher) -> None:
        self.state = state
        self.rest = GenericREST(state)
        self.served: dict[str, list[tuple[str, str, str]]] = {}     # crd name → [(group, version, plural)]
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    def sync_registry(self, crd: Obj) -> None:
        name = crd["metadata"]["name"]
        reg = self.state.resources
        for g, v, p in self.served.pop(name, []):
            reg.remove(g, v, p)
        if crd["metadata"].get("deletionTimestamp"):
            return
        keys = []
        for r in resources_of(crd):
            if reg.get(r.group, r.version, r.plural) is not None and not reg.get(r.group, r.version, r.plural).custom:
                continue                      # never shadow a built-in
            reg.add(r)
            keys.append((r.group, r.version, r.plural))
        self.served[name] = keys

    def on_event(self, ev: CachedEvent) -> None:
        if not ev.key.startswith(f"/registry/{STORAGE}/"):
            return
        name = ev.key.rsplit("/", 1)[1]
        if ev.type == "DELETED":
            reg = self.state.resources
            for g, v, p in self.served.pop(name, []):
                reg.remove(g, v, p)
            return
        self.sync_registry(ev.obj)
        self.queue.put_nowait(name)

    async def run(self) -> None:
        while True:
            name = await self.queue.get()
            try:
                await self.reconcile(name)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("CRD reconcile failed", extra={"crd": name})
                await asyncio.sleep(1)
                self.queue.put_nowait(name)

    async def reconcile(self, name: str) -> None:
        res = self.state.resources.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        assert res is not None
        obj = self.state.cache.resource(STORAGE).objects.get(res.key("", name))
        if obj is None:
            return
        if obj["metadata"].get("deletionTimestamp"):
            await self._cleanup(obj)
            return
        want = desired_status(obj, self._conflicts(obj))
        if want == obj.get("status"):
            if FINALIZER not in (obj["metadata"].get("finalizers") or []):
                await self._add_finalizer(res, name)
            return

        def update(old: Obj) -> Obj:
            new = copy.deepcopy(old)
            new["status"] = desired_status(old, self._conflicts(old))
            return new

        try:
            await self.rest.guaranteed_update(res, "", name, update, opts=WriteOptions(
                field_manager="pybernetes-apiextensions"), user=SYSTEM_USER, subresource="status")
        except Exception as e:
            if "not found" not in str(e):
                raise
        if FINALIZER not in (obj["metadata"].get("finalizers") or []):
            await self._add_finalizer(res, name)

    async def _add_finalizer(self, res: Resource, name: str) -> None:
        def add(old: Obj) -> Obj:
            new = copy.deepcopy(old)
            fins = new["metadata"].setdefault("finalizers", [])
            if FINALIZER not in fins and not old["metadata"].get("deletionTimestamp"):
                fins.append(FINALIZER)
            return new
        await self.rest.guaranteed_update(res, "", name, add, opts=WriteOptions(
            field_manager="pybernetes-apiextensions"), user=SYSTEM_USER)

    def _conflicts(self, crd: Obj) -> list[str]:
        """Names another established CRD of the same group already holds (NamesAccepted=False)."""
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        mine = {names.get("plural"), names.get("singular"), *(names.get("shortNames") or [])} - {None, ""}
        out = []
        for other in self.state.cache.resource(STORAGE).objects.values():
            if other["metadata"]["name"] == crd["metadata"]["name"]:
                continue
            ospec = other.get("spec") or {}
            if ospec.get("group") != spec.get("group"):
                continue
            acc = (other.get("status") or {}).get("acceptedNames") or {}
            theirs = {acc.get("plural"), acc.get("singular"), *(acc.get("shortNames") or [])} - {None, ""}
            if mine & theirs:
                out.append(f'"{sorted(mine & theirs)[0]}" is already in use')
            if acc.get("kind") and acc.get("kind") == names.get("kind"):
                out.append(f'"{names.get("kind")}" is already in use')
        return out

    async def _cleanup(self, crd: Obj) -> None:
        """Delete every stored custom resource, then drop the finalizer so the CRD goes."""
        spec = crd.get("spec") or {}
        prefix = f"/registry/{spec.get('group')}/{(spec.get('names') or {}).get('plural')}/"
        _, kvs = await self.state.store.list(prefix)
        for kv in kvs:
            try:
                await self.state.store.delete(kv.key)
            except st.KeyNotFound:
                pass
        res = self.state.resources.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        assert res is not None

        def drop(old: Obj) -> Obj:
            new = copy.deepcopy(old)
            new["metadata"]["finalizers"] = [f for f in new["metadata"].get("finalizers") or [] if f != FINALIZER]
            return new
        try:
            await self.rest.guaranteed_update(res, "", crd["metadata"]["name"], drop, opts=WriteOptions(
                field_manager="pybernetes-apiextensions"), user=SYSTEM_USER)
        except Exception as e:
            if "not found" not in str(e):
                raise


def desired_status(crd: Obj, conflicts: list[str]) -> Obj:
    spec = crd.get("spec") or {}
    names = copy.deepcopy(spec.get("names") or {})
    names.setdefault("singular", (names.get("kind") or "").lower())
    names.setdefault("listKind", (names.get("kind") or "") + "List")
    old = crd.get("status") or {}
    old_conds = {c.get("type"): c for c in old.get("conditions") or []}
    now = now_rfc3339()

    def cond(typ: str, status: str, reason: str, message: str) -> Obj:
        prev = old_conds.get(typ)
        ts = prev["lastTransitionTime"] if prev and prev.get("status") == status else now
        return {"type": typ, "status": status, "lastTransitionTime": ts, "reason": reason, "message": message}

    if conflicts:
        conds = [cond("NamesAccepted", "False", "NameConflict", conflicts[0]),
                 cond("Established", "False", "NotAccepted", "not all names are accepted")]
        accepted = old.get("acceptedNames") or {"plural": "", "kind": ""}
    else:
        conds = [cond("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
                 cond("Established", "True", "InitialNamesAccepted", "the initial names have been accepted")]
        accepted = names
    stored = sorted(set(old.get("storedVersions") or []) | {v["name"] for v in spec.get("versions") or []
                                                              if v.get("storage")})
    return {"conditions": conds, "acceptedNames": accepted, "storedVersions": stored}


async def start(state: ServerState, dispatcher: Dispatcher) -> CRDController:
    ctl = CRDController(state, dispatcher)
    for obj in list(state.cache.resource(STORAGE).objects.values()):
        ctl.sync_registry(obj)
        ctl.queue.put_nowait(obj["metadata"]["name"])
    state.cache.listeners.append(ctl.on_event)
    ctl.task = asyncio.create_task(ctl.run(), name="crd-controller")
    state.extra["crd_controller"] = ctl
    return ctl
