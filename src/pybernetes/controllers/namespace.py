"""The namespace controller (upstream ``pkg/controller/namespace``, ``deletion/namespaced_resources_deleter.go``).

Deleting a namespace only marks it Terminating: the API server keeps it while ``spec.finalizers`` holds
``kubernetes``. This controller then deletes everything in it — every namespaced resource discovery lists with the
``delete`` verb, custom resources included — by ``deletecollection`` where served, else one by one; lists again
to see what is left; reports progress in the namespace's conditions (NamespaceDeletionDiscoveryFailure,
NamespaceDeletionContentFailure, NamespaceContentRemaining, NamespaceFinalizersRemaining, … with upstream's
reasons and messages); and once nothing is left, removes ``kubernetes`` through ``PUT …/finalize`` so the
namespace goes. Content that is still terminating (pods in their grace period, objects with finalizers) re-queues
the namespace after half the estimated wait.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pybernetes.api.meta import format_rfc3339, is_being_deleted, name_of, parse_time
from pybernetes.api.patch import clone
from pybernetes.client.resources import NAMESPACES, PODS, ResourceRef
from pybernetes.client.rest import APIStatusError, is_conflict, is_not_found
from pybernetes.controllers.base import Controller, ControllerContext
from pybernetes.controllers.garbagecollector import Discovery, discover

log = logging.getLogger(__name__)
Obj = dict[str, Any]

FINALIZER = "kubernetes"
FINALIZER_ESTIMATE_SECONDS = 15           # how long to wait for content held by finalizers (upstream)
DISCOVERY_TTL = 5.0
SYNC_DELAY = 1.0
CONDITION_TYPES = ("NamespaceDeletionDiscoveryFailure", "NamespaceDeletionGroupVersionParsingFailure",
                   "NamespaceDeletionContentFailure", "NamespaceContentRemaining", "NamespaceFinalizersRemaining")
SUCCESS = {
    "NamespaceDeletionDiscoveryFailure": ("ResourcesDiscovered", "All resources successfully discovered"),
    "NamespaceDeletionGroupVersionParsingFailure": ("ParsedGroupVersions", "All legacy kube types successfully parsed"),
    "NamespaceDeletionContentFailure": ("ContentDeleted",
                                        "All content successfully deleted, may be waiting on finalization"),
    "NamespaceContentRemaining": ("ContentRemoved", "All content successfully removed"),
    "NamespaceFinalizersRemaining": ("ContentHasNoFinalizers", "All content-preserving finalizers finished"),
}


class ContentRemaining(Exception):
    """Content is still terminating; look again in a while (upstream ``ResourcesRemainingError``)."""

    def __init__(self, estimate: int) -> None:
        super().__init__(f"some content remains in the namespace, estimate {estimate} seconds before it is removed")
        self.estimate = estimate


@dataclass(slots=True)
class Remaining:
    """What one resource still has in the namespace after the deletes."""
    estimate: int = 0
    count: int = 0
    finalizers: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Conditions:
    """Collects the outcome of one deletion pass and turns it into namespace conditions (namespaceConditionUpdater)."""
    failures: dict[str, tuple[str, str]] = field(default_factory=dict)       # type → (reason, message)
    delete_errors: list[str] = field(default_factory=list)

    def discovery_failed(self, d: Discovery) -> None:
        self.failures["NamespaceDeletionDiscoveryFailure"] = (
            "DiscoveryFailed", f"Discovery failed for some groups, {len(d.failed)} failing: {d.error_message()}")

    def content_totals(self, remaining: dict[ResourceRef, Remaining]) -> None:
        left = sorted(f"{r.plural}.{r.group} has {rem.count} resource instances"
                      for r, rem in remaining.items() if rem.count)
        if left:
            self.failures["NamespaceContentRemaining"] = (
                "SomeResourcesRemain", "Some resources are remaining: " + ", ".join(left))
        by_finalizer: dict[str, int] = {}
        for rem in remaining.values():
            for f, n in rem.finalizers.items():
                by_finalizer[f] = by_finalizer.get(f, 0) + n
        held = sorted(f"{f} in {n} resource instances" for f, n in by_finalizer.items() if n)
        if held:
            self.failures["NamespaceFinalizersRemaining"] = (
                "SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: " + ", ".join(held))

    def apply(self, status: Obj, now: datetime) -> bool:
        """Write every condition (the "ok" variant where nothing failed) into ``status``; True if any changed."""
        if self.delete_errors and "NamespaceDeletionContentFailure" not in self.failures:
            msgs = sorted(self.delete_errors)
            self.failures["NamespaceDeletionContentFailure"] = (
                "ContentDeletionFailed", f"Failed to delete all resource types, {len(msgs)} remaining: "
                                         + ", ".join(msgs))
        conditions = status.setdefault("conditions", [])
        changed = False
        for t in CONDITION_TYPES:
            failed = t in self.failures
            reason, message = self.failures.get(t) or SUCCESS[t]
            new = {"type": t, "status": "True" if failed else "False", "lastTransitionTime": format_rfc3339(now),
                   "reason": reason, "message": message}
            old = next((c for c in conditions if c.get("type") == t), None)
            if old is None:
                conditions.append(new)
                changed = True
            elif (old.get("status"), old.get("reason"), old.get("message")) != (new["status"], reason, message):
                old.clear()
                old.update(new)
                changed = True
        return changed


class NamespaceController(Controller):
    name: ClassVar[str] = "namespace"
    workers: ClassVar[int] = 5

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.namespaces = ctx.informers.informer(NAMESPACES)
        self.delay = float(ctx.options.get("namespace_sync_delay", SYNC_DELAY))
        self._discovery: tuple[float, Discovery] | None = None
        self.namespaces.add_handler(self._changed, lambda old, cur: self._changed(cur))

    def _changed(self, ns: Obj) -> None:
        """Only namespaces being deleted need work; wait a moment so that creations racing the deletion land
        first (upstream waits 5 s for HA API servers; one store needs less)."""
        if is_being_deleted(ns):
            self.queue.add_after(name_of(ns), self.delay)

    async def reconcile(self, key: str) -> float | None:
        if self.namespaces.get(key) is None:
            return None
        try:
            await self.delete_namespace(key)
        except ContentRemaining as e:
            return float(e.estimate // 2 + 1)
        return None

    async def resources(self) -> Discovery:
        now = self.clock.monotonic()
        if self._discovery is None or now - self._discovery[0] > DISCOVERY_TTL:
            self._discovery = (now, await discover(self.client))
        return self._discovery[1]

    async def delete_namespace(self, name: str) -> None:
        try:
            ns: Obj = await self.client.get(NAMESPACES, name)
        except APIStatusError as e:
            if is_not_found(e):
                return
            raise
        if not is_being_deleted(ns) or not ((ns.get("spec") or {}).get("finalizers")):
            return
        if (ns.get("status") or {}).get("phase") != "Terminating":
            ns = clone(ns)
            ns.setdefault("status", {})["phase"] = "Terminating"
            ns = await self.client.update(NAMESPACES, ns, subresource="status")
        estimate, ns = await self.delete_all_content(ns)
        if estimate > 0:
            raise ContentRemaining(estimate)
        await self.finalize(ns)

    async def delete_all_content(self, ns: Obj) -> tuple[int, Obj]:
        """Delete everything in the namespace; returns the seconds still to wait (0: nothing left) and the
        namespace as last written."""
        name = name_of(ns)
        conditions = Conditions()
        errors: list[str] = []
        discovery = await self.resources()
        if discovery.failed:
            # Not fatal for what was discovered, but the namespace must not go while a group that may hold
            # content is unreachable (upstream keeps it Terminating: "Discovery failed for some groups").
            conditions.discovery_failed(discovery)
            errors.append(discovery.error_message())
        deleted_at = parse_time(ns["metadata"]["deletionTimestamp"])
        estimate = 0
        remaining: dict[ResourceRef, Remaining] = {}
        for r in discovery.with_verbs("delete"):
            if not r.ref.namespaced:
                continue
            try:
                rem = await self.delete_resource(r.ref, r.verbs, name, deleted_at)
            except (APIStatusError, RuntimeError) as e:
                msg = str(e.status.get("message") or e) if isinstance(e, APIStatusError) else str(e)
                errors.append(msg)
                conditions.delete_errors.append(msg)
                continue
            estimate = max(estimate, rem.estimate)
            if rem.count:
                remaining[r.ref] = rem
        conditions.content_totals(remaining)
        status = clone(ns.get("status") or {})
        if conditions.apply(status, self.clock.now()):
            try:
                ns = await self.client.update(NAMESPACES, {**ns, "status": status}, subresource="status")
            except APIStatusError as e:
                log.warning("could not update namespace conditions", extra={"namespace": name, "error": str(e)})
        if errors:
            raise RuntimeError(f"failed to delete content of namespace {name}: {'; '.join(sorted(errors))}")
        return estimate, ns

    async def delete_resource(self, res: ResourceRef, verbs: frozenset[str], namespace: str,
                              deleted_at: datetime) -> Remaining:
        estimate = await self._grace_estimate(res, namespace, deleted_at)
        if not await self._delete_collection(res, verbs, namespace) and "list" in verbs:
            for item in (await self.client.list(res, namespace)).get("items") or ():
                try:
                    await self.client.delete(res, name_of(item), namespace, propagation_policy="Background")
                except APIStatusError as e:
                    if not is_not_found(e):
                        raise
        if "list" not in verbs:
            return Remaining(estimate=estimate)
        items = (await self.client.list(res, namespace)).get("items") or []
        if not items:
            return Remaining()
        finalizers: dict[str, int] = {}
        for item in items:
            for f in (item.get("metadata") or {}).get("finalizers") or ():
                finalizers[f] = finalizers.get(f, 0) + 1
        if estimate:
            return Remaining(estimate, len(items), finalizers)
        if finalizers:
            return Remaining(FINALIZER_ESTIMATE_SECONDS, len(items), finalizers)
        raise RuntimeError(f"unexpected items still remain in namespace: {namespace} for gvr: "
                           f"{res.api_version}, Resource={res.plural}")

    async def _delete_collection(self, res: ResourceRef, verbs: frozenset[str], namespace: str) -> bool:
        """One ``deletecollection`` if the resource serves it (False: delete item by item instead)."""
        if "deletecollection" not in verbs:
            return False
        try:
            await self.client.request("DELETE", res.path(namespace), body={
                "kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"})
        except APIStatusError as e:
            if e.code in (404, 405):
                return False
            raise
        return True

    async def _grace_estimate(self, res: ResourceRef, namespace: str, deleted_at: datetime) -> int:
        """For pods: the longest grace period still running since the namespace's deletion (0 once elapsed)."""
        if (res.group, res.plural) != (PODS.group, PODS.plural):
            return 0
        estimate = 0
        for pod in (await self.client.list(res, namespace)).get("items") or ():
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
            if grace is not None:
                estimate = max(estimate, int(grace))
        if self.clock.now() - deleted_at >= timedelta(seconds=estimate):
            return 0
        return estimate

    async def finalize(self, ns: Obj) -> None:
        """Drop our finalizer through ``PUT /api/v1/namespaces/<name>/finalize``; on a conflict, re-read and retry
        (upstream ``retryOnConflictError``)."""
        for _ in range(5):
            body = clone({"apiVersion": "v1", "kind": "Namespace", "metadata": ns["metadata"],
                          "spec": ns.get("spec") or {}})
            body["spec"]["finalizers"] = sorted({f for f in body["spec"].get("finalizers") or () if f != FINALIZER})
            try:
                await self.client.request("PUT", f"/api/v1/namespaces/{name_of(ns)}/finalize", body=body)
                return
            except APIStatusError as e:
                if is_not_found(e):
                    return
                if not is_conflict(e):
                    raise
            try:
                ns = await self.client.get(NAMESPACES, name_of(ns))
            except APIStatusError as e:
                if is_not_found(e):
                    return
                raise
        raise RuntimeError(f"could not finalize namespace {name_of(ns)}: too many conflicts")
