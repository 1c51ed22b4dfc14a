"""An in-memory API for controller unit tests: a stand-in for :class:`pybernetes.client.rest.Client`.

It keeps objects by resource, namespace and name with one global resourceVersion counter, runs the real per-kind
strategies (defaults, generation, spec/status split), and implements the semantics controllers depend on:
optimistic concurrency (stale resourceVersion → 409 Conflict), generateName, uid preconditions, finalizers and
``deletionTimestamp``, propagationPolicy (``foregroundDeletion``/``orphan`` finalizers), graceful deletion of pods
bound to a node, namespaces that stay Terminating until ``/finalize``, JSON/merge/strategic merge patches,
discovery documents (``/api``, ``/apis``, ...), and watches, so that real :class:`Informer` s run on it.

Tests drive time with :class:`FakeClock`, call ``reconcile`` directly, then ``await fake.settle()`` to let the
informers catch up. :meth:`FakeClient.hold` delays watch delivery to reproduce a stale cache; :meth:`fail`
injects API errors; :attr:`actions` records every call for assertions.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime
import random
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from pybernetes.api import patch as patches
from pybernetes.api.builtin import builtin_registry
from pybernetes.api.meta import format_rfc3339
from pybernetes.api.resources import Registry, Resource
from pybernetes.api.selectors import field_labels, parse_field_selector, parse_label_selector
from pybernetes.api.strategy import Strategy
from pybernetes.api.typeinfo import of_kind
from pybernetes.client.clock import FakeClock
from pybernetes.client.informers import InformerFactory
from pybernetes.client.resources import ResourceRef
from pybernetes.client.rest import APIStatusError
from pybernetes.controllers.base import ControllerContext

Obj = dict[str, Any]
ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
PATCH_MEDIA = {"merge": patches.MERGE_PATCH, "strategic": patches.STRATEGIC_MERGE_PATCH, "json": patches.JSON_PATCH}


def status_error(code: int, reason: str, message: str, *, details: Obj | None = None) -> APIStatusError:
    status: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
                   "reason": reason, "code": code}
    if details:
        status["details"] = details
    return APIStatusError(code, status)


def not_found(r: Resource, name: str) -> APIStatusError:
    return status_error(404, "NotFound", f'{r.group_resource} "{name}" not found',
                        details={"name": name, "group": r.group, "kind": r.plural})


def conflict(r: Resource, name: str, why: str) -> APIStatusError:
    return status_error(409, "Conflict", f'Operation cannot be fulfilled on {r.group_resource} "{name}": {why}',
                        details={"name": name, "group": r.group, "kind": r.plural})


MODIFIED = "the object has been modified; please apply your changes to the latest version and try again"


@dataclass(frozen=True, slots=True)
class Action:
    verb: str
    resource: str            # plural, with ".group" for non-core groups (e.g. "replicasets.apps")
    namespace: str
    name: str
    subresource: str = ""
    body: Any = None


@dataclass(eq=False)
class _Watcher:
    storage: str
    namespace: str | None
    selector: Any
    queue: asyncio.Queue[Obj] = field(default_factory=asyncio.Queue)


class FakeClient:
    def __init__(self, *, clock: FakeClock | None = None, registry: Registry | None = None, seed: int = 1) -> None:
        self.clock = clock or FakeClock()
        self.registry = registry or builtin_registry()
        self.rv = 0
        self.store: dict[str, dict[tuple[str, str], Obj]] = {}       # storage → (namespace, name) → object
        self.log: list[tuple[int, str, str, Obj]] = []                 # (rv, type, storage, object) for replays
        self.actions: list[Action] = []
        self._watchers: list[_Watcher] = []
        self._held: list[tuple[_Watcher, Obj]] | None = None
        self._reactors: list[tuple[str, str, Callable[[Action], None], list[int]]] = []
        self._rand = random.Random(seed)
        self._uids = 0

    # ------------------------------------------------------------------ test controls
    def add_resource(self, ref: ResourceRef, *, verbs: tuple[str, ...] | None = None,
                     strategy: Strategy | None = None) -> Resource:
        """Serve a custom resource (as a CRD would) with the default strategy."""
        r = Resource(group=ref.group, version=ref.version, kind=ref.kind, plural=ref.plural,
                     singular=ref.kind.lower(), namespaced=ref.namespaced, custom=True,
                     storage=f"{ref.group}/{ref.plural}", storage_version=ref.api_version,
                     strategy=strategy or Strategy(), list_kind=f"{ref.kind}List",
                     **({"verbs": verbs} if verbs else {}))
        self.registry.add(r)
        return r

    def fail(self, verb: str, resource: str, error: APIStatusError | Callable[[Action], None], *,
             times: int | None = None) -> None:
        """Make ``verb`` on ``resource`` (plural, ``*`` for any) raise ``error`` (``times`` times, default always).
        A callable decides per action: it raises to fail, returns to let the call through."""
        def react(a: Action) -> None:
            if isinstance(error, APIStatusError):
                raise error
            error(a)
        self._reactors.append((verb, resource, react, [times if times is not None else -1]))

    def hold(self) -> None:
        """Stop delivering watch events (the informers' caches go stale) until :meth:`release`."""
        if self._held is None:
            self._held = []

    def release(self) -> None:
        held, self._held = self._held or [], None
        for w, ev in held:
            w.queue.put_nowait(ev)

    async def settle(self) -> None:
        """Run the event loop until every watcher has consumed every delivered event."""
        quiet = 0
        for _ in range(10_000):
            await asyncio.sleep(0)
            if all(w.queue.empty() for w in self._watchers):
                quiet += 1
                if quiet >= 3:
                    return
            else:
                quiet = 0
        raise AssertionError("watchers never settled")

    def count(self, verb: str, resource: str, *, subresource: str = "") -> int:
        return sum(1 for a in self.actions if a.verb == verb and a.resource == resource
                   and a.subresource == subresource)

    def clear_actions(self) -> None:
        self.actions.clear()

    def objects(self, res: ResourceRef, namespace: str | None = None) -> list[Obj]:
        """Stored objects (copies), sorted by name, without recording an action."""
        r = self._resource(res)
        items = [o for (ns, _), o in sorted(self.store.get(r.storage, {}).items())
                 if namespace is None or ns == namespace]
        return [self._out(r, o) for o in items]

    def peek(self, res: ResourceRef, name: str, namespace: str | None = None) -> Obj | None:
        r = self._resource(res)
        o = self.store.get(r.storage, {}).get((namespace or "" if r.namespaced else "", name))
        return None if o is None else self._out(r, o)

    # ------------------------------------------------------------------ helpers
    def _resource(self, res: ResourceRef) -> Resource:
        r = self.registry.get(res.group, res.version, res.plural)
        if r is None:
            raise status_error(404, "NotFound", "the server could not find the requested resource")
        return r

    def _record(self, verb: str, r: Resource, namespace: str, name: str, subresource: str = "",
                body: Any = None) -> None:
        a = Action(verb, r.group_resource, namespace, name, subresource, copy.deepcopy(body))
        self.actions.append(a)
        for v, res, react, left in self._reactors:
            if (v in (verb, "*")) and res in (r.plural, r.group_resource, "*") and left[0] != 0:
                if left[0] > 0:
                    left[0] -= 1
                react(a)

    @staticmethod
    def _out(r: Resource, o: Obj) -> Obj:
        out = copy.deepcopy(o)
        out["apiVersion"], out["kind"] = r.api_version, r.kind
        return out

    def _ns(self, r: Resource, namespace: str | None) -> str:
        return (namespace or "") if r.namespaced else ""

    def _now(self) -> str:
        return format_rfc3339(self.clock.now())

    def _later(self, seconds: int) -> str:
        return format_rfc3339(self.clock.now() + datetime.timedelta(seconds=seconds))

    def _new_uid(self) -> str:
        self._uids += 1
        return str(uuid.UUID(int=self._uids))

    def _emit(self, typ: str, r: Resource, obj: Obj) -> None:
        self.log.append((self.rv, typ, r.storage, obj))
        meta = obj["metadata"]
        for w in self._watchers:
            if w.storage != r.storage or (w.namespace and meta.get("namespace") != w.namespace):
                continue
            if w.selector is not None and not w.selector.matches(meta.get("labels") or {}):
                continue
            ev = {"type": typ, "object": self._out(r, obj)}
            if self._held is not None:
                self._held.append((w, ev))
            else:
                w.queue.put_nowait(ev)

    def _put(self, r: Resource, obj: Obj, typ: str) -> Obj:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        meta = obj["metadata"]
        self.store.setdefault(r.storage, {})[(meta.get("namespace", ""), meta["name"])] = obj
        self._emit(typ, r, obj)
        return self._out(r, obj)

    def _remove(self, r: Resource, obj: Obj) -> Obj:
        meta = obj["metadata"]
        self.store.get(r.storage, {}).pop((meta.get("namespace", ""), meta["name"]), None)
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self._emit("DELETED", r, obj)
        return self._out(r, obj)

    def _current(self, r: Resource, namespace: str, name: str) -> Obj:
        obj = self.store.get(r.storage, {}).get((namespace, name))
        if obj is None:
            raise not_found(r, name)
        return obj

    # ------------------------------------------------------------------ the Client verbs
    async def get(self, res: ResourceRef, name: str, namespace: str | None = None, *,
                  subresource: str | None = None) -> Obj:
        r = self._resource(res)
        ns = self._ns(r, namespace)
        self._record("get", r, ns, name, subresource or "")
        return self._out(r, self._current(r, ns, name))

    async def list(self, res: ResourceRef, namespace: str | None = None, **params: Any) -> Obj:
        r = self._resource(res)
        ns = self._ns(r, namespace)
        self._record("list", r, ns, "")
        items = [self._out(r, o) for (ons, _), o in sorted(self.store.get(r.storage, {}).items())
                 if not ns or ons == ns]
        items = [o for o in items if self._selected(r, o, params)]
        return {"kind": r.list_kind or f"{r.kind}List", "apiVersion": r.api_version,
                "metadata": {"resourceVersion": str(self.rv)}, "items": items}

    @staticmethod
    def _selected(r: Resource, obj: Obj, params: dict[str, Any]) -> bool:
        if params.get("label_selector") and not parse_label_selector(params["label_selector"]).matches(
                obj["metadata"].get("labels") or {}):
            return False
        fs = params.get("field_selector")
        return not fs or parse_field_selector(fs).matches(field_labels(r.group, r.kind, obj))

    async def create(self, res: ResourceRef, obj: Obj, namespace: str | None = None, *,
                     subresource: str | None = None, name: str | None = None, **params: Any) -> Obj:
        r = self._resource(res)
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        ns = self._ns(r, namespace or meta.get("namespace"))
        if subresource:
            self._record("create", r, ns, name or "", subresource, obj)
            raise status_error(404, "NotFound", f"subresource {subresource} is not served by the fake")
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(self._rand.choice(ALPHANUMS) for _ in range(5))
        self._record("create", r, ns, meta.get("name", ""), "", obj)
        if r.namespaced:
            meta["namespace"] = ns
            nsobj = self.store.get("core/namespaces", {}).get(("", ns))
            if nsobj is not None and nsobj["metadata"].get("deletionTimestamp"):
                raise status_error(403, "Forbidden", f'{r.group_resource} "{meta["name"]}" is forbidden: unable to '
                                   f"create new content in namespace {ns} because it is being terminated",
                                   details={"causes": [{"reason": "NamespaceTerminating",
                                                        "field": "metadata.namespace"}]})
        if (ns, meta.get("name")) in self.store.get(r.storage, {}):
            raise status_error(409, "AlreadyExists", f'{r.group_resource} "{meta["name"]}" already exists',
                               details={"name": meta["name"], "group": r.group, "kind": r.plural})
        for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(k, None)
        meta["uid"] = self._new_uid()
        meta["creationTimestamp"] = self._now()
        obj["apiVersion"], obj["kind"] = r.api_version, r.kind
        r.strategy.default(obj)
        r.strategy.prepare_for_create(obj)
        return self._put(r, obj, "ADDED")

    async def update(self, res: ResourceRef, obj: Obj, *, subresource: str | None = None, **params: Any) -> Obj:
        r = self._resource(res)
        meta = obj["metadata"]
        ns = self._ns(r, meta.get("namespace"))
        self._record("update", r, ns, meta["name"], subresource or "", obj)
        return self._update(r, ns, meta["name"], copy.deepcopy(obj), subresource or "")

    def _update(self, r: Resource, ns: str, name: str, new: Obj, subresource: str) -> Obj:
        old = self._current(r, ns, name)
        meta, old_meta = new.setdefault("metadata", {}), old["metadata"]
        rv = meta.get("resourceVersion")
        if rv and rv != old_meta["resourceVersion"]:
            raise conflict(r, name, MODIFIED)
        if meta.get("uid") and meta["uid"] != old_meta["uid"]:
            raise status_error(422, "Invalid", f'{r.kind} "{name}" is invalid: metadata.uid: Invalid value: '
                               f'"{meta["uid"]}": field is immutable')
        for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace",
                  "name", "resourceVersion"):
            if k in old_meta:
                meta[k] = old_meta[k]
            else:
                meta.pop(k, None)
        new["apiVersion"], new["kind"] = r.api_version, r.kind
        if subresource == "finalize":                 # namespaces/finalize: only spec.finalizers changes
            new = {**old, "metadata": meta, "spec": {**(old.get("spec") or {}),
                                                     "finalizers": (new.get("spec") or {}).get("finalizers")}}
            if not new["spec"]["finalizers"]:
                new["spec"].pop("finalizers")
        else:
            strategy = r.strategy.status_strategy() if subresource == "status" else r.strategy
            strategy.default(new)
            strategy.prepare_for_update(new, old)
        if new == old:
            return self._out(r, old)
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and not self._stays(r, new):
            return self._remove(r, new)
        return self._put(r, new, "MODIFIED")

    @staticmethod
    def _stays(r: Resource, obj: Obj) -> bool:
        return r.plural == "namespaces" and not r.group and bool((obj.get("spec") or {}).get("finalizers"))

    async def patch(self, res: ResourceRef, name: str, patch: Any, namespace: str | None = None, *,
                    patch_type: str = "merge", subresource: str | None = None, **params: Any) -> Obj:
        r = self._resource(res)
        ns = self._ns(r, namespace)
        self._record("patch", r, ns, name, subresource or "", (patch_type, patch))
        old = self._current(r, ns, name)
        if patch_type == "strategic" and r.custom:
            raise status_error(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                               "accepted media types include: " + ", ".join(patches.CUSTOM_PATCH_TYPES))
        try:
            new = patches.apply(PATCH_MEDIA[patch_type], self._out(r, old), copy.deepcopy(patch),
                                ti=of_kind(r.api_version, r.kind) if patch_type == "strategic" else None)
        except patches.PatchError as e:
            raise status_error(e.code, e.reason, e.message) from None
        if not (new.get("metadata") or {}).get("resourceVersion"):
            new.setdefault("metadata", {})["resourceVersion"] = old["metadata"]["resourceVersion"]
        return self._update(r, ns, name, new, subresource or "")

    async def delete(self, res: ResourceRef, name: str, namespace: str | None = None, *,
                     grace_period_seconds: int | None = None, propagation_policy: str | None = None,
                     preconditions: dict[str, str] | None = None) -> Obj:
        r = self._resource(res)
        ns = self._ns(r, namespace)
        self._record("delete", r, ns, name, "", {"propagationPolicy": propagation_policy,
                                                  "gracePeriodSeconds": grace_period_seconds,
                                                  "preconditions": preconditions})
        obj = self._current(r, ns, name)
        meta = obj["metadata"]
        pre = preconditions or {}
        if pre.get("uid") and pre["uid"] != meta["uid"]:
            raise conflict(r, name, f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: "
                                    f"{meta['uid']}")
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
            raise conflict(r, name, f"Precondition failed: ResourceVersion in precondition: "
                                    f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                                    f"{meta['resourceVersion']}")
        new = copy.deepcopy(obj)
        nmeta = new["metadata"]
        finalizers = list(nmeta.get("finalizers") or [])
        if propagation_policy == "Foreground":
            finalizers = [f for f in finalizers if f != "orphan"]
            finalizers += [] if "foregroundDeletion" in finalizers else ["foregroundDeletion"]
        elif propagation_policy == "Orphan":
            finalizers = [f for f in finalizers if f != "foregroundDeletion"]
            finalizers += [] if "orphan" in finalizers else ["orphan"]
        elif propagation_policy == "Background":
            finalizers = [f for f in finalizers if f not in ("orphan", "foregroundDeletion")]
        grace = self._grace(r, obj, grace_period_seconds)
        if r.plural == "namespaces" and not r.group:
            new.setdefault("status", {})["phase"] = "Terminating"
        stays = self._stays(r, new)
        if nmeta.get("deletionTimestamp"):
            cur = nmeta.get("deletionGracePeriodSeconds") or 0
            if not finalizers and not stays and (grace == 0 or cur == 0):
                return self._remove(r, obj)
            if grace >= cur and finalizers == (meta.get("finalizers") or []):
                return self._out(r, obj)
            grace = min(grace, cur)
        elif not (finalizers or grace > 0 or stays):
            return self._remove(r, obj)
        nmeta["deletionTimestamp"] = self._later(grace)
        nmeta["deletionGracePeriodSeconds"] = grace
        if finalizers:
            nmeta["finalizers"] = finalizers
        else:
            nmeta.pop("finalizers", None)
        return self._put(r, new, "MODIFIED")

    @staticmethod
    def _grace(r: Resource, obj: Obj, requested: int | None) -> int:
        """As the pod REST hooks: only pods bound to a node and not finished are deleted gracefully."""
        if r.plural != "pods" or r.group:
            return 0
        spec, phase = obj.get("spec") or {}, (obj.get("status") or {}).get("phase")
        if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
            return 0
        if requested is None:
            return int(spec.get("terminationGracePeriodSeconds", 30))
        return max(requested, 0)

    async def watch(self, res: ResourceRef, namespace: str | None = None, *, resource_version: str = "",
                    timeout_seconds: int = 300, **params: Any) -> AsyncIterator[Obj]:
        r = self._resource(res)
        sel = parse_label_selector(params["label_selector"]) if params.get("label_selector") else None
        w = _Watcher(r.storage, self._ns(r, namespace) or None, sel)
        since = int(resource_version or 0)
        for rv, typ, storage, obj in self.log:
            if rv > since and storage == r.storage and (not w.namespace or obj["metadata"].get("namespace")
                                                          == w.namespace):
                w.queue.put_nowait({"type": typ, "object": self._out(r, obj)})
        self._watchers.append(w)
        try:
            while True:
                yield await w.queue.get()
        finally:
            self._watchers.remove(w)

    # ------------------------------------------------------------------ raw requests: discovery, finalize
    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None,
                      content_type: str = "application/json", timeout: float = 60) -> Obj:
        parts = [p for p in path.split("/") if p]
        if method == "GET" and parts == ["api"]:
            return {"kind": "APIVersions", "versions": ["v1"]}
        if method == "GET" and parts == ["apis"]:
            groups = []
            for g, versions in self.registry.groups():
                if not g:
                    continue
                gvs = [{"groupVersion": f"{g}/{v}", "version": v} for v in versions]
                groups.append({"name": g, "versions": gvs, "preferredVersion": gvs[0]})
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
        if method == "GET" and ((parts[:1] == ["api"] and len(parts) == 2) or (parts[:1] == ["apis"]
                                                                              and len(parts) == 3)):
            group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
            return self._resource_list(group, version)
        if method == "PUT" and parts[:3] == ["api", "v1", "namespaces"] and parts[4:] == ["finalize"]:
            r = self.registry.get("", "v1", "namespaces")
            assert r is not None
            self._record("update", r, "", parts[3], "finalize", body)
            new = copy.deepcopy(self._current(r, "", parts[3]))
            new["spec"] = {"finalizers": list((body.get("spec") or {}).get("finalizers") or [])}
            new["metadata"]["resourceVersion"] = (body.get("metadata") or {}).get("resourceVersion", "")
            return self._update(r, "", parts[3], new, "finalize")
        if method == "DELETE":
            return await self._delete_collection(parts, body or {})
        raise status_error(404, "NotFound", "the server could not find the requested resource")

    def _resource_list(self, group: str, version: str) -> Obj:
        rs = self.registry.in_group_version(group, version)
        if not rs:
            raise status_error(404, "NotFound", "the server could not find the requested resource")
        out = []
        for r in rs:
            out.append({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
                        "verbs": list(r.verbs)})
            for s in r.subresources:
                out.append({"name": f"{r.plural}/{s.name}", "singularName": "", "namespaced": r.namespaced,
                            "kind": s.kind or r.kind, "verbs": list(s.verbs)})
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version, "resources": out}

    async def _delete_collection(self, parts: list[str], body: Obj) -> Obj:
        if parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        else:
            group, version, rest = parts[1], parts[2], parts[3:]
        ns = ""
        if len(rest) == 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        r = self.registry.get(group, version, rest[0]) if len(rest) == 1 else None
        if r is None:
            raise status_error(404, "NotFound", "the server could not find the requested resource")
        if "deletecollection" not in r.verbs:
            raise status_error(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                                                        "resource")
        self._record("deletecollection", r, ns, "")
        ref = ResourceRef(group, version, r.plural, r.namespaced, r.kind)
        for (ons, name) in sorted(self.store.get(r.storage, {})):
            if not ns or ons == ns:
                with contextlib.suppress(APIStatusError):
                    await self.delete(ref, name, ons, propagation_policy=body.get("propagationPolicy"))
        return {"kind": "Status", "apiVersion": "v1", "status": "Success"}


# ---------------------------------------------------------------------------------------------------------------
# Controller test harness


@dataclass(frozen=True, slots=True)
class Recorded:
    kind: str
    namespace: str
    name: str
    type: str
    reason: str
    message: str
    component: str = "controller-manager"


class FakeRecorder:
    """Records events synchronously (the real recorder writes them in the background)."""

    def __init__(self, component: str = "controller-manager") -> None:
        self.events: list[Recorded] = []
        self.component = component

    def event(self, obj: Obj, type_: str, reason: str, message: str, *, field_path: str = "",
              component: str | None = None) -> None:
        meta = obj.get("metadata") or {}
        self.events.append(Recorded(obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", ""), type_,
                                    reason, message, component or self.component))

    def for_component(self, component: str) -> Any:
        parent = self

        class Named:
            def event(self, obj: Obj, type_: str, reason: str, message: str, *, field_path: str = "") -> None:
                parent.event(obj, type_, reason, message, field_path=field_path, component=component)
        return Named()

    def messages(self, reason: str | None = None) -> list[str]:
        return [e.message for e in self.events if reason is None or e.reason == reason]

    async def close(self) -> None:
        return None


@dataclass
class Harness:
    client: FakeClient
    clock: FakeClock
    informers: InformerFactory
    recorder: FakeRecorder
    ctx: ControllerContext

    async def start(self) -> None:
        self.informers.start()
        await asyncio.wait_for(self.informers.wait_synced(), 5)
        await self.client.settle()

    async def settle(self) -> None:
        await self.client.settle()


@contextlib.asynccontextmanager
async def harness(*, options: dict[str, Any] | None = None, client: FakeClient | None = None
                  ) -> AsyncIterator[Harness]:
    """A ControllerContext over a FakeClient, FakeClock and FakeRecorder; informers are stopped on exit."""
    clock = client.clock if client is not None else FakeClock()
    fake = client or FakeClient(clock=clock)
    informers = InformerFactory(fake)  # type: ignore[arg-type]
    recorder = FakeRecorder()
    ctx = ControllerContext(client=fake, informers=informers, recorder=recorder,  # type: ignore[arg-type]
                            clock=clock, options=options or {})
    h = Harness(fake, clock, informers, recorder, ctx)
    try:
        yield h
    finally:
        await informers.stop()


class FakeKubelet:
    """Scheduler and kubelet in one: binds pending pods to a node, reports them Running (and Ready unless
    ``ready`` is False), and completes graceful deletions, as simulated nodes will."""

    def __init__(self, client: FakeClient, *, node: str = "node-1", ready: bool = True) -> None:
        self.client = client
        self.node = node
        self.ready = ready

    async def step(self) -> bool:
        from pybernetes.client.resources import PODS
        changed = False
        for pod in self.client.objects(PODS):
            meta, ns = pod["metadata"], pod["metadata"].get("namespace")
            if meta.get("deletionTimestamp"):
                await self.client.delete(PODS, meta["name"], ns, grace_period_seconds=0)
                changed = True
                continue
            if (pod.get("status") or {}).get("phase") in ("Running", "Succeeded", "Failed"):
                continue
            pod["spec"]["nodeName"] = self.node
            pod = await self.client.update(PODS, pod)
            pod["status"] = {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True" if self.ready else "False",
                 "lastTransitionTime": self.client._now()}]}
            await self.client.update(PODS, pod, subresource="status")
            changed = True
        return changed


async def drain(h: Harness, *controllers: Any, kubelet: FakeKubelet | None = None, rounds: int = 200) -> list[str]:
    """Run the controllers as their workers would — every queued key reconciled, informers settled in between,
    the kubelet stepped — until nothing is left to do. A failing reconcile re-queues its key (without the
    backoff delay); the errors are returned."""
    errors: list[str] = []
    for _ in range(rounds):
        await h.settle()
        busy = False
        for c in controllers:
            for _ in range(len(c.queue)):
                key = await c.queue.get()
                busy = True
                try:
                    await c.reconcile(key)
                except APIStatusError as e:
                    errors.append(f"{c.name} {key}: {e}")
                    c.queue.add(key)
                finally:
                    c.queue.done(key)
                await h.settle()
        if kubelet is not None and await kubelet.step():
            busy = True
        if not busy:
            return errors
    raise AssertionError(f"controllers never went idle; errors: {errors[-5:]}")
