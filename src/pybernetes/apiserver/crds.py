"""Serving custom resources from CustomResourceDefinitions (upstream apiextensions-apiserver, in-process).

A watch-cache listener sees every CRD write; for each it (re)registers one :class:`Resource` per served version
in the registry (discovery and OpenAPI follow through ``registry.generation``), and a small reconcile loop writes
the CRD's status: ``acceptedNames`` and the ``NamesAccepted``/``Established`` conditions, which
``kubectl wait --for=condition=Established`` and operators wait on. Names are accepted as upstream's naming
controller accepts them: each of plural, singular, short names, kind and list kind unless another CRD of the group
(or this one, under another name) already holds it.

Deletion (upstream's CRD delete + finalizer controller): a deleted CRD stays, Terminating, while its custom
resources are deleted through the REST layer (their own finalizers honoured; creates refused meanwhile). Upstream
holds it with the ``customresourcecleanup`` finalizer added at delete time; our generic delete cannot add
finalizers, so a RESTHooks ``on_delete`` keeps it instead until the cleanup records
``Terminating=False/InstanceDeletionCompleted``, and the controller then deletes it for good.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import TYPE_CHECKING, Any

from pybernetes.api.crd_strategy import CustomResourceStrategy
from pybernetes.api.errors import NotFound
from pybernetes.api.meta import now_rfc3339
from pybernetes.api.resources import STANDARD, Resource, Subresource
from pybernetes.apiserver.authn import UserInfo
from pybernetes.apiserver.options import DeleteOptions, WriteOptions
from pybernetes.apiserver.registry import GenericREST
from pybernetes.apiserver.resthooks import HOOKS, RESTHooks
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
CLEANUP_RETRY = 1.0                 # seconds between checks for custom resources still finalizing
TERMINATING_VERBS = tuple(v for v in STANDARD if v != "create")


class _Pending(Exception):
    """Custom resources of a deleted CRD are still finalizing: look again later."""


def _condition(crd: Obj, typ: str) -> Obj | None:
    return next((c for c in (crd.get("status") or {}).get("conditions") or [] if c.get("type") == typ), None)


def cleanup_completed(crd: Obj) -> bool:
    c = _condition(crd, "Terminating")
    return c is not None and c.get("status") == "False" and c.get("reason") == "InstanceDeletionCompleted"


class CRDHooks(RESTHooks):
    """Deleting a CRD marks it Terminating and keeps it until its custom resources are gone."""

    def on_delete(self, obj: Obj) -> bool:
        if cleanup_completed(obj):
            return False
        if _condition(obj, "Terminating") is None:
            status = obj.setdefault("status", {})
            status["conditions"] = set_condition(
                status.get("conditions") or [], "Terminating", "True", "InstanceDeletionPending",
                "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon")
        return True


def install_hooks() -> None:
    HOOKS[STORAGE] = CRDHooks()


def resources_of(crd: Obj) -> list[Resource]:
    """One Resource per served version; while the CRD is being deleted they refuse creates (upstream answers
    405 then) but still serve reads, updates (to clear finalizers) and deletes."""
    spec = crd.get("spec") or {}
    terminating = bool((crd.get("metadata") or {}).get("deletionTimestamp"))
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
        extra: dict[str, Any] = {"verbs": TERMINATING_VERBS} if terminating else {}
        out.append(Resource(
            group=group, version=v["name"], kind=names.get("kind", ""), plural=plural,
            singular=names.get("singular") or names.get("kind", "").lower(),
            namespaced=spec.get("scope") == "Namespaced", short_names=tuple(names.get("shortNames") or ()),
            categories=tuple(names.get("categories") or ()), subresources=tuple(subs),
            storage=f"{group}/{plural}", storage_version=f"{group}/{storage_version}", custom=True,
            crd_name=crd["metadata"]["name"], list_kind=names.get("listKind") or names.get("kind", "") + "List",
            strategy=CustomResourceStrategy(schema, has_status="status" in sr, kind=names.get("kind", "")),
            openapi_schema=schema, printer_columns=tuple(v.get("additionalPrinterColumns") or ()),
            scale_paths=sr.get("scale"), **extra))
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
            except _Pending:
                self._later(name, CLEANUP_RETRY)
            except Exception:
                log.exception("CRD reconcile failed", extra={"crd": name})
                self._later(name, 1.0)

    def _later(self, name: str, delay: float) -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(delay, self.queue.put_nowait, name)

    async def reconcile(self, name: str) -> None:
        res = self.state.resources.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        assert res is not None
        obj = self.state.cache.resource(STORAGE).objects.get(res.key("", name))
        if obj is None:
            return
        if obj["metadata"].get("deletionTimestamp"):
            await self._cleanup(res, obj)
            return
        want = desired_status(obj, *self.accepted_names(obj))
        if want != obj.get("status"):
            def update(old: Obj) -> Obj:
                new = copy.deepcopy(old)
                new["status"] = desired_status(old, *self.accepted_names(old))
                return new

            try:
                await self.rest.guaranteed_update(res, "", name, update, opts=WriteOptions(
                    field_manager="pybernetes-apiextensions"), user=SYSTEM_USER, subresource="status")
            except NotFound:
                return

    def accepted_names(self, crd: Obj) -> tuple[set[str], set[str]]:
        """Resource names and kinds already accepted in the CRD's group — by any CRD, itself included, as
        upstream's ``getAcceptedNamesForGroup``."""
        group = (crd.get("spec") or {}).get("group")
        resources: set[str] = set()
        kinds: set[str] = set()
        for other in self.state.cache.resource(STORAGE).objects.values():
            if (other.get("spec") or {}).get("group") != group:
                continue
            acc = (other.get("status") or {}).get("acceptedNames") or {}
            resources.update([acc.get("plural") or "", acc.get("singular") or "", *(acc.get("shortNames") or [])])
            kinds.update([acc.get("kind") or "", acc.get("listKind") or ""])
        return resources, kinds

    async def _cleanup(self, res: Resource, crd: Obj) -> None:
        """Delete every custom resource through the REST layer (their finalizers are honoured); once none is
        left, record it and delete the CRD for good. Until then :class:`_Pending` brings us back."""
        name = crd["metadata"]["name"]
        if not cleanup_completed(crd):
            spec = crd.get("spec") or {}
            prefix = f"/registry/{spec.get('group')}/{(spec.get('names') or {}).get('plural')}/"
            _, kvs = await self.state.store.list(prefix)
            if kvs:
                await self._set_terminating(res, crd, "True", "InstanceDeletionInProgress",
                                            "CustomResource deletion is in progress")
                cr_res = self._served_resource(crd)
                for kv in kvs:
                    await self._delete_instance(cr_res, kv)
                _, kvs = await self.state.store.list(prefix)
                if kvs:
                    raise _Pending(name)
            await self._set_terminating(res, crd, "False", "InstanceDeletionCompleted", "removed all instances")
        if FINALIZER in (crd["metadata"].get("finalizers") or []):
            def drop(old: Obj) -> Obj:                    # a CRD written with upstream's finalizer on it
                new = copy.deepcopy(old)
                new["metadata"]["finalizers"] = [f for f in new["metadata"].get("finalizers") or []
                                                 if f != FINALIZER]
                return new
            try:
                await self.rest.guaranteed_update(res, "", name, drop, opts=WriteOptions(
                    field_manager="pybernetes-apiextensions"), user=SYSTEM_USER)
            except NotFound:
                return
        try:
            await self.rest.delete(res, "", name, DeleteOptions(preconditions={"uid": crd["metadata"]["uid"]}),
                                   user=SYSTEM_USER)
        except NotFound:
            pass

    def _served_resource(self, crd: Obj) -> Resource | None:
        for g, v, p in self.served.get(crd["metadata"]["name"], []):
            r = self.state.resources.get(g, v, p)
            if r is not None:
                return r
        return None

    async def _delete_instance(self, cr_res: Resource | None, kv: st.KV) -> None:
        obj = GenericREST.decode(kv)
        meta = obj.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            return                                        # already deleting: waiting for its own finalizers
        if cr_res is None:                                # no served version to go through: drop it
            try:
                await self.state.store.delete(kv.key, expect_mod_revision=kv.mod_revision)
            except (st.KeyNotFound, st.RevisionMismatch):
                pass
            return
        try:
            await self.rest.delete(cr_res, meta.get("namespace", ""), meta.get("name", ""),
                                   DeleteOptions(propagation_policy="Background"), user=SYSTEM_USER)
        except NotFound:
            pass

    async def _set_terminating(self, res: Resource, crd: Obj, status: str, reason: str, message: str) -> None:
        cond = _condition(crd, "Terminating")
        if cond is not None and (cond.get("status"), cond.get("reason")) == (status, reason):
            return

        def update(old: Obj) -> Obj:
            new = copy.deepcopy(old)
            st_ = new.setdefault("status", {})
            st_["conditions"] = set_condition(st_.get("conditions") or [], "Terminating", status, reason, message)
            return new
        try:
            out = await self.rest.guaranteed_update(res, "", crd["metadata"]["name"], update, opts=WriteOptions(
                field_manager="pybernetes-apiextensions"), user=SYSTEM_USER, subresource="status")
        except NotFound:
            return
        crd["status"] = out.get("status")


def set_condition(conds: list[Obj], typ: str, status: str, reason: str, message: str) -> list[Obj]:
    """Upstream ``SetCRDCondition``: replace the condition of that type (keeping its transition time if the
    status is unchanged) or append it."""
    out = []
    found = False
    for c in conds:
        if c.get("type") == typ:
            found = True
            ts = c.get("lastTransitionTime") if c.get("status") == status and c.get("lastTransitionTime") else \
                now_rfc3339()
            c = {"type": typ, "status": status, "lastTransitionTime": ts, "reason": reason, "message": message}
        out.append(c)
    if not found:
        out.append({"type": typ, "status": status, "lastTransitionTime": now_rfc3339(), "reason": reason,
                    "message": message})
    return out


def _fresh(requested: str, accepted: str, used: set[str]) -> str:
    """Upstream ``equalToAcceptedOrFresh``: "" when the name may be taken, else why not."""
    if requested == accepted or requested not in used:
        return ""
    return f'"{requested}" is already in use'


def accept_names(crd: Obj, used_resources: set[str], used_kinds: set[str]) -> tuple[Obj, Obj]:
    """(acceptedNames, NamesAccepted condition fields) as upstream's naming controller computes them: each name
    is accepted on its own; a conflicting one keeps its previous accepted value and names the conflict."""
    names = dict((crd.get("spec") or {}).get("names") or {})
    names.setdefault("singular", (names.get("kind") or "").lower())
    if names.get("kind"):
        names.setdefault("listKind", names["kind"] + "List")
    old = dict((crd.get("status") or {}).get("acceptedNames") or {})
    new = dict(old)
    reason, message = "", ""
    for field, why in (("plural", "PluralConflict"), ("singular", "SingularConflict")):
        err = _fresh(names.get(field) or "", old.get(field) or "", used_resources)
        if err:
            reason, message = why, err
        else:
            new[field] = names.get(field) or ""
    want_short = list(names.get("shortNames") or [])
    if want_short != list(old.get("shortNames") or []):
        mine = set(old.get("shortNames") or [])
        errs = [e for e in (_fresh(sn, "", used_resources) for sn in want_short if sn not in mine) if e]
        if errs:
            reason, message = "ShortNamesConflict", errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"
        else:
            new["shortNames"] = want_short
    for field, why in (("kind", "KindConflict"), ("listKind", "ListKindConflict")):
        err = _fresh(names.get(field) or "", old.get(field) or "", used_kinds)
        if err:
            reason, message = why, err
        else:
            new[field] = names.get(field) or ""
    if names.get("categories"):
        new["categories"] = list(names["categories"])
    else:
        new.pop("categories", None)
    ordered = {k: new[k] for k in ("plural", "singular", "shortNames", "kind", "listKind", "categories")
               if k in new and (new[k] or k in ("plural", "kind"))}
    ordered.setdefault("plural", "")
    ordered.setdefault("kind", "")
    if reason:
        return ordered, {"status": "False", "reason": reason, "message": message}
    return ordered, {"status": "True", "reason": "NoConflicts", "message": "no conflicts found"}


def desired_status(crd: Obj, used_resources: set[str], used_kinds: set[str]) -> Obj:
    """The status the naming and establishing controllers converge to. Established never goes back to False
    once True (a later rename that conflicts keeps serving the accepted names)."""
    spec = crd.get("spec") or {}
    old = crd.get("status") or {}
    accepted, named = accept_names(crd, used_resources, used_kinds)
    conds = set_condition(list(old.get("conditions") or []), "NamesAccepted", named["status"], named["reason"],
                          named["message"])
    established = next((c for c in conds if c.get("type") == "Established"), None)
    if named["status"] == "True" or (established is not None and established.get("status") == "True"):
        if established is None or established.get("status") != "True":
            conds = set_condition(conds, "Established", "True", "InitialNamesAccepted",
                                  "the initial names have been accepted")
    else:
        conds = set_condition(conds, "Established", "False", "NotAccepted", "not all names are accepted")
    stored = sorted(set(old.get("storedVersions") or []) | {v["name"] for v in spec.get("versions") or []
                                                              if v.get("storage")})
    return {"conditions": conds, "acceptedNames": accepted, "storedVersions": stored}


async def start(state: ServerState, dispatcher: Dispatcher) -> CRDController:
    install_hooks()
    ctl = CRDController(state, dispatcher)
    for obj in list(state.cache.resource(STORAGE).objects.values()):
        ctl.sync_registry(obj)
        ctl.queue.put_nowait(obj["metadata"]["name"])
    state.cache.listeners.append(ctl.on_event)
    ctl.task = asyncio.create_task(ctl.run(), name="crd-controller")
    state.extra["crd_controller"] = ctl
    return ctl
