"""``pybernetes scheduler --kubeconfig K``: the scheduler as a process — client, shared informers, event
recorder, leader election on the ``kube-system/kube-scheduler`` Lease, then the scheduling loop.

Handlers are attached before the informers start, so the initial listing fills the cache and the queue; the loop
starts once every informer has listed (never on a half-filled cache). Losing leadership stops the loop and
returns, and the supervisor restarts the process, as upstream exits.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any

from pybernetes.client.events import EventRecorder
from pybernetes.client.informer import Informer
from pybernetes.client.informers import InformerFactory
from pybernetes.client.leaderelection import LeaderElector
from pybernetes.client.resources import (
    NAMESPACES,
    NODES,
    PDBS,
    PODS,
    PVCS,
    PVS,
    RCS,
    REPLICASETS,
    SERVICES,
    STATEFULSETS,
    STORAGECLASSES,
)
from pybernetes.client.rest import Client, ClientConfig
from pybernetes.scheduler.framework import ActionType
from pybernetes.scheduler.plugins import DEFAULT_SCHEDULER_NAME
from pybernetes.scheduler.scheduler import Scheduler

log = logging.getLogger(__name__)
Obj = dict[str, Any]
LEASE_NAME = "kube-scheduler"
LEASE_NAMESPACE = "kube-system"


def _namespace_index(obj: Obj) -> list[str]:
    return [(obj.get("metadata") or {}).get("namespace") or ""]


class InformerListers:
    """The framework's Listers over shared informers."""

    def __init__(self, factory: InformerFactory) -> None:
        self._pods = factory.informer(PODS)
        self._services = factory.informer(SERVICES)
        self._services.add_index("namespace", _namespace_index)
        self._controllers: dict[str, Informer] = {
            "ReplicationController": factory.informer(RCS), "ReplicaSet": factory.informer(REPLICASETS),
            "StatefulSet": factory.informer(STATEFULSETS)}
        self._namespaces = factory.informer(NAMESPACES)
        self._pdbs = factory.informer(PDBS)
        self._pvcs = factory.informer(PVCS)
        self._pvs = factory.informer(PVS)
        self._classes = factory.informer(STORAGECLASSES)

    def services(self, namespace: str) -> list[Obj]:
        return self._services.by_index("namespace", namespace)

    def controller(self, kind: str, namespace: str, name: str) -> Obj | None:
        inf = self._controllers.get(kind)
        return inf.get(f"{namespace}/{name}") if inf is not None else None

    def namespace_labels(self, name: str) -> dict[str, str] | None:
        ns = self._namespaces.get(name)
        return None if ns is None else ((ns.get("metadata") or {}).get("labels") or {})

    def namespaces(self) -> list[Obj]:
        return self._namespaces.list()

    def pdbs(self) -> list[Obj]:
        return self._pdbs.list()

    def pod(self, namespace: str, name: str) -> Obj | None:
        return self._pods.get(f"{namespace}/{name}")

    def pvc(self, namespace: str, name: str) -> Obj | None:
        return self._pvcs.get(f"{namespace}/{name}")

    def pv(self, name: str) -> Obj | None:
        return self._pvs.get(name)

    def pvs(self) -> list[Obj]:
        return self._pvs.list()

    def storage_class(self, name: str) -> Obj | None:
        return self._classes.get(name)


def attach(sched: Scheduler, factory: InformerFactory) -> None:
    """Wire the scheduler's event handlers to the pod and node informers."""
    factory.informer(PODS).add_handler(sched.on_pod_add, sched.on_pod_update, sched.on_pod_delete)
    factory.informer(NODES).add_handler(sched.on_node_add, sched.on_node_update, sched.on_node_delete)
    for res in (PVCS, PVS, STORAGECLASSES):
        factory.informer(res).add_handler(*_requeue_handlers(sched, res.kind))


def _requeue_handlers(sched: Scheduler, kind: str) -> tuple[Callable[[Obj], None], Callable[[Obj, Obj], None],
                                                            Callable[[Obj], None]]:
    """Handlers that only tell the queue a ``kind`` object changed (volume plugins register for these)."""
    def on_add(obj: Obj) -> None:
        sched.on_other_event(kind, ActionType.ADD)

    def on_update(old: Obj, new: Obj) -> None:
        sched.on_other_event(kind, ActionType.UPDATE_OTHER)

    def on_delete(obj: Obj) -> None:
        sched.on_other_event(kind, ActionType.DELETE)
    return on_add, on_update, on_delete


async def run_scheduler(*, kubeconfig: str, leader_elect: bool = True) -> None:
    client = Client(ClientConfig.from_kubeconfig(kubeconfig, user_agent="kube-scheduler/pybernetes"), limit=200)
    recorder = EventRecorder(client, component=DEFAULT_SCHEDULER_NAME, host=socket.gethostname())

    async def lead() -> None:
        factory = InformerFactory(client)
        listers = InformerListers(factory)
        sched = Scheduler(client=client, recorder=recorder, listers=listers, pod_lister=listers.pod)
        attach(sched, factory)
        factory.start()
        await factory.wait_synced()
        log.info("scheduler caches synced", extra={"nodes": sched.cache.num_nodes(), "pending": len(sched.queue)})
        try:
            await sched.run()
        finally:
            await sched.close()
            await factory.stop()

    try:
        if leader_elect:
            await LeaderElector(client, name=LEASE_NAME, namespace=LEASE_NAMESPACE).run(lead)
        else:
            await lead()
    finally:
        await recorder.close()
        await client.close()
