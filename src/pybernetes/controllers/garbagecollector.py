"""The garbage collector (upstream ``pkg/controller/garbagecollector``): deletes objects whose owners are gone, and
carries out Foreground and Orphan deletion of owners.

Discovery (``/api``, ``/apis``; again every 30 s, so custom resources are picked up) finds every resource that
can be listed, watched and deleted; a metadata-only informer watches each (``as=PartialObjectMetadata``). Their
events build a graph of owner → dependents keyed by uid. Owners referenced but not (yet) seen are *virtual* nodes
that a worker checks against the API. Two kinds of work, one queue (keys ``delete:<uid>`` and ``orphan:<uid>``):

- attempt to delete ``uid``: look the object up live. Owners that are gone (404 or another uid) are *dangling*;
  owners being deleted in the foreground are *waiting*; the rest are *solid*. With a solid owner, the dangling
  and waiting references are removed from the object; with none, it is deleted (Foreground if an owner waits for
  it and it has dependents of its own, else as its own finalizers say, else Background). An owner in foreground
  deletion has its ``foregroundDeletion`` finalizer removed once no dependent with ``blockOwnerDeletion`` is left.
- orphan ``uid``: an owner being deleted with the ``orphan`` finalizer: remove its reference from every
  dependent, then remove the finalizer.

Deletes carry uid and resourceVersion preconditions, so an object whose owners changed meanwhile is re-examined
rather than deleted.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pybernetes.api.meta import finalizers_of, owner_references_of, resource_version_of, uid_of
from pybernetes.client.informer import Informer
from pybernetes.client.resources import ResourceRef
from pybernetes.client.rest import APIStatusError, Client, is_conflict, is_not_found
from pybernetes.controllers.base import Controller, ControllerContext

log = logging.getLogger(__name__)
Obj = dict[str, Any]

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
IGNORED = frozenset({("", "events"), ("events.k8s.io", "events")})
CRDS = ("apiextensions.k8s.io", "customresourcedefinitions")
DISCOVERY_PERIOD = 30.0
SYNC_TIMEOUT = 30.0


# ---------------------------------------------------------------------------------------------------------------
# Discovery


@dataclass(frozen=True, slots=True)
class APIResource:
    ref: ResourceRef
    verbs: frozenset[str]


@dataclass(slots=True)
class Discovery:
    """What the API serves: the preferred version of every resource, and a kind → resource mapper."""
    resources: list[APIResource] = field(default_factory=list)
    by_gvk: dict[tuple[str, str], ResourceRef] = field(default_factory=dict)      # (apiVersion, kind), any version
    by_gk: dict[tuple[str, str], ResourceRef] = field(default_factory=dict)       # (group, kind), preferred
    failed: dict[str, str] = field(default_factory=dict)                          # groupVersion → error

    def resolve(self, api_version: str, kind: str) -> ResourceRef | None:
        """The resource of (apiVersion, kind): that version if served, else the group's preferred version."""
        ref = self.by_gvk.get((api_version, kind))
        if ref is None:
            group = api_version.rpartition("/")[0]
            ref = self.by_gk.get((group, kind))
        return ref

    def with_verbs(self, *verbs: str) -> list[APIResource]:
        return [r for r in self.resources if all(v in r.verbs for v in verbs)]

    def error_message(self) -> str:
        """client-go's ``ErrGroupDiscoveryFailed`` text."""
        groups = sorted(f"{gv}: {msg}" for gv, msg in self.failed.items())
        return "unable to retrieve the complete list of server APIs: " + ", ".join(groups)


async def discover(client: Any) -> Discovery:
    """Legacy discovery: every group/version's resource list, concurrently; failing groups are recorded, not
    fatal (what is discovered can still be worked on)."""
    out = Discovery()
    core = await client.request("GET", "/api")
    groups = (await client.request("GET", "/apis")).get("groups") or []
    gvs: list[tuple[str, str, bool]] = [("", v, i == 0) for i, v in enumerate(core.get("versions") or [])]
    for g in groups:
        preferred = (g.get("preferredVersion") or {}).get("version")
        for v in g.get("versions") or []:
            gvs.append((g["name"], v["version"], v["version"] == preferred))

    async def one(group: str, version: str) -> Obj:
        return await client.request("GET", f"/apis/{group}/{version}" if group else f"/api/{version}")  # type: ignore[no-any-return]

    lists = await asyncio.gather(*(one(g, v) for g, v, _ in gvs), return_exceptions=True)
    for (group, version, preferred), lst in zip(gvs, lists, strict=True):
        gv = f"{group}/{version}" if group else version
        if isinstance(lst, BaseException):
            if isinstance(lst, asyncio.CancelledError):
                raise lst
            out.failed[gv] = str(lst.status.get("message")) if isinstance(lst, APIStatusError) else str(lst)
            continue
        for r in lst.get("resources") or []:
            if "/" in r.get("name", ""):
                continue
            ref = ResourceRef(group, version, r["name"], bool(r.get("namespaced")), r.get("kind", ""))
            out.by_gvk[(gv, ref.kind)] = ref
            if preferred:
                out.by_gk[(group, ref.kind)] = ref
                out.resources.append(APIResource(ref, frozenset(r.get("verbs") or ())))
    return out


class MetadataClient:
    """List and watch through a :class:`Client` asking for ``PartialObjectMetadata`` (only metadata crosses the
    wire and sits in memory), so an :class:`Informer` over it caches the metadata of any resource."""

    LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
    WATCH = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"

    def __init__(self, client: Client) -> None:
        self.client = client

    async def list(self, res: ResourceRef, namespace: str | None = None, **params: Any) -> Obj:
        return await self.client.list(res, namespace, accept=self.LIST, **params)

    def watch(self, res: ResourceRef, namespace: str | None = None, **params: Any) -> AsyncIterator[Obj]:
        return self.client.watch(res, namespace, accept=self.WATCH, **params)


# ---------------------------------------------------------------------------------------------------------------
# The graph


class InvalidOwner(LookupError):
    """A reference that can never resolve (a cluster-scoped object owned by a namespaced one): not retried."""


@dataclass(eq=False, slots=True)
class Node:
    uid: str
    api_version: str
    kind: str
    namespace: str
    name: str
    owners: list[Obj] = field(default_factory=list)
    dependents: set[Node] = field(default_factory=set)
    virtual: bool = False
    being_deleted: bool = False
    deleting_dependents: bool = False

    def blocking_dependents(self) -> list[Node]:
        return [d for d in self.dependents
                if any(o.get("uid") == self.uid and o.get("blockOwnerDeletion") for o in d.owners)]

    def __repr__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name} ({self.uid})"


def _deleting(obj: Obj, finalizer: str) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp")) and finalizer in finalizers_of(obj)


class GarbageCollector(Controller):
    name: ClassVar[str] = "garbagecollector"
    workers: ClassVar[int] = 10

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.graph: dict[str, Node] = {}
        self.discovery = Discovery()
        self.informers: dict[ResourceRef, Informer] = {}
        self.absent: OrderedDict[tuple[str, str], None] = OrderedDict()
        self.period = float(ctx.options.get("gc_discovery_period", DISCOVERY_PERIOD))
        self.synced = asyncio.Event()
        self._crds_changed = False
        self._virtual_retries: dict[str, int] = {}
        self._meta_client: Any = MetadataClient(ctx.client) if isinstance(ctx.client, Client) else ctx.client

    # ---------------------------------------------------------------- discovery and informers
    async def resync(self) -> None:
        """Discover, then watch every new deletable resource (and stop watching vanished ones)."""
        self.discovery = await discover(self.client)
        wanted = {r.ref for r in self.discovery.with_verbs("delete", "list", "watch")
                  if (r.ref.group, r.ref.plural) not in IGNORED}
        for ref in [r for r in self.informers if r not in wanted]:
            await self.informers.pop(ref).stop()
        for ref in wanted - set(self.informers):
            inf = Informer(self._meta_client, ref)
            inf.add_handler(functools.partial(self._observe, ref, None), functools.partial(self._on_update, ref),
                            functools.partial(self._on_delete, ref))
            self.informers[ref] = inf
            inf.start()

    async def start_monitors(self, timeout: float = SYNC_TIMEOUT) -> None:
        """Discover and watch every resource; return once all have listed (or ``timeout`` passed: a resource that
        cannot be listed must not stop collection of the others)."""
        while True:
            try:
                await self.resync()
                break
            except (APIStatusError, OSError) as e:
                log.warning("discovery failed", extra={"controller": self.name, "error": str(e)})
                await self.clock.sleep(1)
        try:
            await asyncio.wait_for(asyncio.gather(*(i.synced.wait() for i in self.informers.values())), timeout)
        except TimeoutError:
            log.warning("not every resource synced; collecting anyway", extra={"controller": self.name})
        self.synced.set()

    async def stop_monitors(self) -> None:
        for inf in self.informers.values():
            await inf.stop()

    async def run(self) -> None:
        await self.start_monitors()
        try:
            await super().run()
        finally:
            await self.stop_monitors()

    async def background(self) -> None:
        """Re-discover every ``period`` seconds, and a second after a CustomResourceDefinition changed (its
        resources appear in discovery once it is established)."""
        waited = 0.0
        while True:
            await self.clock.sleep(1)
            waited += 1
            if waited < self.period and not self._crds_changed:
                continue
            waited, self._crds_changed = 0.0, False
            try:
                await self.resync()
            except (APIStatusError, OSError) as e:
                log.warning("discovery failed", extra={"controller": self.name, "error": str(e)})

    # ---------------------------------------------------------------- graph changes (informer handlers)
    def _on_update(self, ref: ResourceRef, old: Obj, cur: Obj) -> None:
        self._observe(ref, old, cur)

    def _observe(self, ref: ResourceRef, old: Obj | None, obj: Obj) -> None:
        if (ref.group, ref.plural) == CRDS:
            self._crds_changed = True
        meta = obj.get("metadata") or {}
        uid = meta.get("uid")
        if not uid:
            return
        owners = list(owner_references_of(obj))
        node = self.graph.get(uid)
        if node is not None and node.virtual:
            node.virtual = False                 # observed at last: take the real coordinates
            self._virtual_retries.pop(uid, None)
            node.api_version, node.kind = ref.api_version, ref.kind
            node.namespace, node.name = meta.get("namespace") or "", meta.get("name") or ""
            self._set_owners(node, owners)
        elif node is None:
            node = Node(uid, ref.api_version, ref.kind, meta.get("namespace") or "", meta.get("name") or "")
            self.graph[uid] = node
            self._set_owners(node, owners)
        elif owners != node.owners:
            self._set_owners(node, owners)
        node.being_deleted = bool(meta.get("deletionTimestamp"))
        node.deleting_dependents = node.being_deleted and FOREGROUND in (meta.get("finalizers") or ())
        self._transitions(old, obj, node)

    def _set_owners(self, node: Node, owners: list[Obj]) -> None:
        old = {o.get("uid"): o for o in node.owners}
        new = {o.get("uid"): o for o in owners}
        for uid, o in old.items():
            owner = self.graph.get(uid or "")
            if owner is None:
                continue
            unblocked = o.get("blockOwnerDeletion") and (uid not in new or not new[uid].get("blockOwnerDeletion"))
            if uid not in new:
                owner.dependents.discard(node)
            if unblocked and owner.deleting_dependents:
                self.queue.add(f"delete:{owner.uid}")
        node.owners = owners
        for uid, o in new.items():
            if not uid:
                continue
            owner = self.graph.get(uid)
            if owner is None:
                owner = Node(uid, o.get("apiVersion", ""), o.get("kind", ""), node.namespace, o.get("name", ""),
                             virtual=True)
                self.graph[uid] = owner
                self.queue.add(f"delete:{uid}")          # does this owner exist at all?
            owner.dependents.add(node)

    def _transitions(self, old: Obj | None, obj: Obj, node: Node) -> None:
        if _deleting(obj, ORPHAN) and (old is None or not _deleting(old, ORPHAN)):
            self.queue.add(f"orphan:{node.uid}")
            return
        if _deleting(obj, FOREGROUND) and (old is None or not _deleting(old, FOREGROUND)):
            for dep in node.dependents:
                self.queue.add(f"delete:{dep.uid}")
            self.queue.add(f"delete:{node.uid}")

    def _on_delete(self, ref: ResourceRef, obj: Obj) -> None:
        uid = uid_of(obj)
        node = self.graph.get(uid)
        if node is None or node.virtual:
            return
        self._remove(node)

    def _remove(self, node: Node) -> None:
        self.graph.pop(node.uid, None)
        self._virtual_retries.pop(node.uid, None)
        for o in node.owners:
            owner = self.graph.get(o.get("uid") or "")
            if owner is not None:
                owner.dependents.discard(node)
                if owner.deleting_dependents:
                    self.queue.add(f"delete:{owner.uid}")
        if node.dependents:
            self._mark_absent(node.uid)
        for dep in node.dependents:
            self.queue.add(f"delete:{dep.uid}")

    def _mark_absent(self, uid: str) -> None:
        self.absent[(uid, "")] = None
        while len(self.absent) > 500:
            self.absent.popitem(last=False)

    # ---------------------------------------------------------------- workers
    async def reconcile(self, key: str) -> float | None:
        if not self.synced.is_set():
            await self.synced.wait()
        what, _, uid = key.partition(":")
        node = self.graph.get(uid)
        if node is None:
            return None
        if what == "orphan":
            await self.orphan_dependents(node)
            return None
        try:
            await self.attempt_to_delete(node)
        except InvalidOwner as e:
            log.warning("invalid owner reference", extra={"controller": self.name, "error": str(e)})
            return None
        if node.virtual and self.graph.get(uid) is node:
            # Exists but not observed yet: look again, backing off (an owner of a kind nobody watches would
            # otherwise be read every second forever; upstream issue 56121 is why it is looked at again at all).
            n = self._virtual_retries.get(uid, 0)
            self._virtual_retries[uid] = n + 1
            return float(min(2 ** n, 300))
        self._virtual_retries.pop(uid, None)
        return None

    def _resource(self, api_version: str, kind: str) -> ResourceRef:
        ref = self.discovery.resolve(api_version, kind)
        if ref is None:
            raise LookupError(f"unable to get REST mapping for {api_version}/{kind}")
        return ref

    async def _get(self, node: Node) -> Obj | None:
        ref = self._resource(node.api_version, node.kind)
        try:
            obj: Obj = await self.client.get(ref, node.name, node.namespace if ref.namespaced else None)
        except APIStatusError as e:
            if is_not_found(e):
                return None
            raise
        return obj

    async def attempt_to_delete(self, node: Node) -> None:
        if node.being_deleted and not node.deleting_dependents:
            return
        latest = await self._get(node)
        if latest is None or uid_of(latest) != node.uid:
            if node.virtual:
                self._remove(node)               # a "virtual delete event": its dependents are re-examined
            return
        if node.deleting_dependents:
            await self._process_deleting_dependents(node)
            return
        owners = owner_references_of(latest)
        if not owners:
            return
        solid, dangling, waiting = await self._classify(node, owners)
        if solid:
            if dangling or waiting:
                await self._remove_owner_refs(node, latest, [o["uid"] for o in (*dangling, *waiting)])
            return
        if waiting and node.dependents:
            if any(d.deleting_dependents for d in node.dependents):
                await self._unblock_owner_refs(node, latest)
            await self._delete(node, latest, "Foreground")
            return
        policy = "Orphan" if ORPHAN in finalizers_of(latest) else \
            "Foreground" if FOREGROUND in finalizers_of(latest) else "Background"
        log.info("deleting dependent whose owners are gone",
                 extra={"controller": self.name, "object": repr(node), "policy": policy})
        await self._delete(node, latest, policy)

    async def _classify(self, node: Node, owners: Iterable[Obj]) -> tuple[list[Obj], list[Obj], list[Obj]]:
        solid: list[Obj] = []
        dangling: list[Obj] = []
        waiting: list[Obj] = []
        for ref in owners:
            owner = await self._live_owner(node, ref)
            if owner is None:
                dangling.append(ref)
            elif _deleting(owner, FOREGROUND):
                waiting.append(ref)
            else:
                solid.append(ref)
        return solid, dangling, waiting

    async def _live_owner(self, node: Node, ref: Obj) -> Obj | None:
        """The owner as the API has it now, or None if it is gone (not found, or replaced by another uid)."""
        uid = ref.get("uid") or ""
        if (uid, "") in self.absent:
            return None
        res = self._resource(ref.get("apiVersion", ""), ref.get("kind", ""))
        if res.namespaced and not node.namespace:
            raise InvalidOwner(f"cluster-scoped {node!r} refers to a namespaced owner")
        try:
            owner: Obj = await self.client.get(res, ref.get("name", ""), node.namespace if res.namespaced else None)
        except APIStatusError as e:
            if is_not_found(e):
                self._mark_absent(uid)
                return None
            raise
        if uid_of(owner) != uid:
            self._mark_absent(uid)
            return None
        return owner

    async def _process_deleting_dependents(self, node: Node) -> None:
        blocking = node.blocking_dependents()
        if not blocking:
            await self._remove_finalizer(node, FOREGROUND)
            return
        for dep in blocking:
            if not dep.deleting_dependents:
                self.queue.add(f"delete:{dep.uid}")

    async def orphan_dependents(self, owner: Node) -> None:
        errors = []
        for dep in list(owner.dependents):
            try:
                latest = await self._get(dep)
                if latest is not None and uid_of(latest) == dep.uid:
                    await self._remove_owner_refs(dep, latest, [owner.uid])
            except APIStatusError as e:
                if not is_not_found(e):
                    errors.append(str(e.status.get("message") or e))
        if errors:
            raise RuntimeError(f"failed to orphan dependents of owner {owner!r}, got errors: {'; '.join(errors)}")
        await self._remove_finalizer(owner, ORPHAN)

    # ---------------------------------------------------------------- writes
    async def _patch(self, node: Node, latest: Obj, smp: Obj, merged_owners: list[Obj]) -> None:
        """Strategic merge patch with the uid as precondition; custom resources (no strategic merge: 415) get a
        JSON merge patch of the whole list, guarded by resourceVersion."""
        ref = self._resource(node.api_version, node.kind)
        ns = node.namespace if ref.namespaced else None
        try:
            await self.client.patch(ref, node.name, smp, ns, patch_type="strategic")
        except APIStatusError as e:
            if e.code != 415:
                raise
            await self.client.patch(ref, node.name, {"metadata": {
                "ownerReferences": merged_owners or None, "uid": node.uid,
                "resourceVersion": resource_version_of(latest)}}, ns, patch_type="merge")

    async def _remove_owner_refs(self, node: Node, latest: Obj, owner_uids: list[str]) -> None:
        drop = set(owner_uids)
        smp = {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": u} for u in owner_uids],
                            "uid": node.uid}}
        kept = [o for o in owner_references_of(latest) if o.get("uid") not in drop]
        try:
            await self._patch(node, latest, smp, kept)
        except APIStatusError as e:
            if not is_not_found(e):
                raise

    async def _unblock_owner_refs(self, node: Node, latest: Obj) -> None:
        refs = owner_references_of(latest)
        smp = {"metadata": {"ownerReferences": [{"uid": o.get("uid"), "blockOwnerDeletion": False}
                                                for o in refs if o.get("blockOwnerDeletion")], "uid": node.uid}}
        await self._patch(node, latest, smp, [{**o, "blockOwnerDeletion": False} if o.get("blockOwnerDeletion")
                                              else o for o in refs])

    async def _delete(self, node: Node, latest: Obj, policy: str) -> None:
        ref = self._resource(node.api_version, node.kind)
        ns = node.namespace if ref.namespaced else None
        rv = resource_version_of(latest)
        pre = {"uid": node.uid, **({"resourceVersion": rv} if rv else {})}
        try:
            await self.client.delete(ref, node.name, ns, propagation_policy=policy, preconditions=pre)
        except APIStatusError as e:
            if not (is_conflict(e) and rv):
                raise
            live = await self._get(node)
            if live is None:
                return
            if uid_of(live) == node.uid and resource_version_of(live) != rv and \
                    owner_references_of(live) == owner_references_of(latest):
                await self.client.delete(ref, node.name, ns, propagation_policy=policy, preconditions={"uid": node.uid})
            else:
                raise

    async def _remove_finalizer(self, node: Node, finalizer: str) -> None:
        ref = self._resource(node.api_version, node.kind)
        ns = node.namespace if ref.namespaced else None
        for _ in range(5):
            latest = await self._get(node)
            if latest is None:
                return
            fins = finalizers_of(latest)
            if finalizer not in fins:
                return
            kept = [f for f in fins if f != finalizer]
            try:
                await self.client.patch(ref, node.name, {"metadata": {
                    "resourceVersion": resource_version_of(latest), "finalizers": kept or None}}, ns,
                    patch_type="merge")
                return
            except APIStatusError as e:
                if is_not_found(e):
                    return
                if not is_conflict(e):
                    raise
        raise RuntimeError(f"updateMaxRetries(5) has reached. The garbage collector will retry later for owner "
                           f"{node!r}")
