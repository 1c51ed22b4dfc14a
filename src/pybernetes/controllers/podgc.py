"""The pod garbage collector (upstream ``pkg/controller/podgc``): every 20 seconds it force-deletes (grace 0)

- terminated pods (phase neither Pending, Running nor Unknown) beyond ``terminated_pod_gc_threshold`` (12,500 by
  default, kube-controller-manager's ``--terminated-pod-gc-threshold``; 0 disables this part), evicted ones first,
  then the oldest;
- terminating pods on nodes that are not Ready and carry the ``node.kubernetes.io/out-of-service`` taint (an
  administrator's statement that the node is gone, so its kubelet will never finish them);
- pods bound to nodes that no longer exist — after a 40 s quarantine and a fresh GET of the node, because a node
  missing from the informer may merely be new;
- terminating pods that were never scheduled (no kubelet will ever finish them).

Before deleting a pod that is not yet Succeeded or Failed it patches its status to Failed (orphans also get the
``DisruptionTarget`` condition, reason ``DeletionByPodGC``), so controllers and Jobs count it as failed, not lost.
The status patch is pinned to the resourceVersion seen and the delete carries the pod's uid as a precondition, so a
pod re-created under the same name is never marked or collected by mistake.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from pybernetes.api.meta import format_rfc3339, name_of, namespace_of, uid_of
from pybernetes.client.resources import NODES, PODS
from pybernetes.client.rest import APIStatusError, is_conflict, is_not_found
from pybernetes.client.workqueue import WorkQueue
from pybernetes.controllers.base import Controller, ControllerContext

log = logging.getLogger(__name__)
Obj = dict[str, Any]

GC_CHECK_PERIOD = 20.0
QUARANTINE = 40.0
DEFAULT_TERMINATED_THRESHOLD = 12_500
OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"
FIELD_MANAGER = "PodGC"
CONCURRENCY = 20                    # deletes in flight (upstream fans out one goroutine per pod)


def is_terminated(pod: Obj) -> bool:
    """Upstream ``isPodTerminated``: any phase but Pending, Running and Unknown — an empty phase included."""
    return (pod.get("status") or {}).get("phase") not in ("Pending", "Running", "Unknown")


def is_terminating(pod: Obj) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def is_evicted(pod: Obj) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Failed" and status.get("reason") == "Evicted"


def collection_order(pod: Obj) -> tuple[bool, str, str]:
    """Evicted pods first (controllers' own terminated pods are kept longest), then oldest, then by name."""
    meta = pod.get("metadata") or {}
    return not is_evicted(pod), meta.get("creationTimestamp") or "", meta.get("name") or ""


def node_ready(node: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or ())


def out_of_service(node: Obj) -> bool:
    return any(t.get("key") == OUT_OF_SERVICE for t in (node.get("spec") or {}).get("taints") or ())


def terminated_to_collect(pods: list[Obj], threshold: int) -> list[Obj]:
    """The terminated pods beyond ``threshold``, in collection order."""
    if threshold <= 0:
        return []
    done = [p for p in pods if is_terminated(p)]
    excess = len(done) - threshold
    if excess <= 0:
        return []
    return sorted(done, key=collection_order)[:excess]


def terminating_on_out_of_service_nodes(pods: list[Obj], node_of: Any) -> list[Obj]:
    """Terminating pods whose node exists, is not Ready and is tainted out-of-service, in collection order."""
    out = []
    for pod in pods:
        if not is_terminating(pod):
            continue
        node = node_of((pod.get("spec") or {}).get("nodeName") or "")
        if node is not None and not node_ready(node) and out_of_service(node):
            out.append(pod)
    return sorted(out, key=collection_order)


def unscheduled_terminating(pods: list[Obj]) -> list[Obj]:
    return [p for p in pods if is_terminating(p) and not (p.get("spec") or {}).get("nodeName")]


class PodGCController(Controller):
    name: ClassVar[str] = "pod-garbage-collector"
    workers: ClassVar[int] = 0             # periodic: everything happens in background()

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.threshold = int(ctx.options.get("terminated_pod_gc_threshold", DEFAULT_TERMINATED_THRESHOLD))
        self.period = float(ctx.options.get("pod_gc_check_period", GC_CHECK_PERIOD))
        self.quarantine = float(ctx.options.get("pod_gc_quarantine", QUARANTINE))
        self.pods = ctx.informers.informer(PODS)
        self.nodes = ctx.informers.informer(NODES)
        # Names of nodes missing from the informer, released after the quarantine (upstream's nodeQueue).
        self.node_queue = WorkQueue(clock=ctx.clock, name="orphaned_pods_nodes")

    async def reconcile(self, key: str) -> float | None:
        return None                        # nothing is queued by key

    async def background(self) -> None:
        while True:
            try:
                await self.gc()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pod garbage collection failed", extra={"controller": self.name})
            await self.clock.sleep(self.period)

    async def gc(self) -> int:
        """One pass; returns how many pods it deleted."""
        pods = self.pods.list()
        deleted = 0
        deleted += await self._delete_all(terminated_to_collect(pods, self.threshold), reason="terminated")
        deleted += await self._delete_all(terminating_on_out_of_service_nodes(pods, self.nodes.get),
                                          reason="terminating-out-of-service")
        deleted += await self._gc_orphaned(pods)
        deleted += await self._delete_all(unscheduled_terminating(pods), reason="terminating-unscheduled")
        return deleted

    async def _gc_orphaned(self, pods: list[Obj]) -> int:
        existing = {name_of(n) for n in self.nodes.list()}
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName")
            if node and node not in existing:
                self.node_queue.add_after(node, self.quarantine)
        gone: set[str] = set()
        while len(self.node_queue):
            node = str(await self.node_queue.get())
            try:
                if node not in existing and not await self._node_exists(node):
                    gone.add(node)
            except APIStatusError as e:
                log.warning("could not check node", extra={"controller": self.name, "node": node, "error": str(e)})
            finally:
                self.node_queue.done(node)
        orphans = [p for p in pods if (p.get("spec") or {}).get("nodeName") in gone]
        condition = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                     "message": "PodGC: node no longer exists"}
        return await self._delete_all(orphans, reason="orphaned", condition=condition)

    async def _node_exists(self, name: str) -> bool:
        try:
            await self.client.get(NODES, name)
        except APIStatusError as e:
            if is_not_found(e):
                return False
            raise
        return True

    async def _delete_all(self, pods: list[Obj], *, reason: str, condition: Obj | None = None) -> int:
        if not pods:
            return 0
        log.info("garbage collecting pods", extra={"controller": self.name, "reason": reason, "count": len(pods)})
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(pod: Obj) -> bool:
            async with limit:
                return await self.mark_failed_and_delete(pod, condition)

        done = await asyncio.gather(*(one(p) for p in pods))
        return sum(done)

    async def mark_failed_and_delete(self, pod: Obj, condition: Obj | None = None) -> bool:
        """Patch the pod Failed (with ``condition``) unless it already finished, then delete it with grace 0;
        False when it was gone or replaced meanwhile, or the API refused."""
        ns, name, uid = namespace_of(pod), name_of(pod), uid_of(pod)
        log.info("PodGC is force deleting Pod", extra={"controller": self.name, "key": f"{ns}/{name}"})
        try:
            if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                status: Obj = {"phase": "Failed"}
                if condition is not None:
                    status["conditions"] = [{**condition, "lastTransitionTime": format_rfc3339(self.clock.now())}]
                # resourceVersion pins the patch to the pod we looked at (upstream pins its uid): a pod changed
                # or re-created meanwhile is a Conflict, and the next pass looks again.
                meta = {"uid": uid, "resourceVersion": (pod.get("metadata") or {}).get("resourceVersion")}
                await self.client.patch(PODS, name, {"metadata": meta, "status": status}, ns,
                                        patch_type="strategic", subresource="status", field_manager=FIELD_MANAGER)
        except APIStatusError as e:
            return self._failed(e, ns, name)
        try:
            await self.client.delete(PODS, name, ns, grace_period_seconds=0, preconditions={"uid": uid})
        except APIStatusError as e:
            if is_not_found(e):
                return True                 # finished by its kubelet in the meantime: gone all the same
            return self._failed(e, ns, name)
        return True

    def _failed(self, e: APIStatusError, ns: str, name: str) -> bool:
        if not (is_not_found(e) or is_conflict(e)):       # gone or changed: the next pass decides again
            log.warning("pod garbage collection failed", extra={"controller": self.name, "key": f"{ns}/{name}",
                                                                 "error": str(e)})
        return False
