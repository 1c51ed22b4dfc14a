"""The agent's one pod informer, shared by every node it runs.

A real kubelet watches ``spec.nodeName=<its node>``; an agent holding 5,000 simulated nodes must not open 5,000
watches, so it watches every bound pod (``spec.nodeName!=``) once and keeps those whose node it owns. Handlers
only hand pods to the pod workers (which are level-triggered); objects are trimmed of ``managedFields``, which the
kubelet never reads and which are a large share of a pod's memory, and once the pod workers have seen a pod its
cached status keeps only what they read back (phase, conditions, ...), not the container statuses the agent wrote.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from typing import Any

from pybernetes.client.informer import Informer
from pybernetes.client.resources import PODS
from pybernetes.client.rest import Client
from pybernetes.kubelet.podworker import PodWorkers

Obj = dict[str, Any]


def field_selector(node_names: Sequence[str]) -> str:
    """Only this node's pods for a single node; every bound pod when the process holds several."""
    return f"spec.nodeName={node_names[0]}" if len(node_names) == 1 else "spec.nodeName!="


KEPT_STATUS = ("phase", "conditions", "podIP", "startTime", "qosClass", "reason", "message", "nominatedNodeName")


def trim_pod(pod: Obj) -> None:
    (pod.get("metadata") or {}).pop("managedFields", None)


def slim_status(pod: Obj) -> None:
    """Replace (not mutate: the pod worker keeps the first one it saw) the cached status by the fields the kubelet
    reads back; container statuses are the kubelet's own and the status manager holds them."""
    status = pod.get("status")
    if status:
        pod["status"] = {k: status[k] for k in KEPT_STATUS if k in status}


class PodSource:
    def __init__(self, client: Client, *, nodes: Container[str], node_names: Sequence[str],
                 workers: PodWorkers) -> None:
        self.nodes = nodes
        self.workers = workers
        self.informer = Informer(client, PODS, field_selector=field_selector(node_names))
        self.informer.add_handler(self._add, self._update, self._delete)

    def _owned(self, pod: Obj) -> bool:
        return (pod.get("spec") or {}).get("nodeName") in self.nodes

    def _add(self, pod: Obj) -> None:
        trim_pod(pod)
        if self._owned(pod):
            self.workers.update(pod)
        slim_status(pod)

    def _update(self, old: Obj, new: Obj) -> None:
        self._add(new)

    def _delete(self, pod: Obj) -> None:
        if self._owned(pod):
            self.workers.remove(pod)

    def owned_count(self) -> int:
        return sum(1 for p in self.informer.store.values() if self._owned(p))
