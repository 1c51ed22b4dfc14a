"""The node cache: one :class:`NodeInfo` per node with what filters and scores read, kept by informer events and
by the scheduler's own decisions (upstream ``pkg/scheduler/backend/cache``).

Sums are precomputed: a NodeInfo holds allocatable and the requested totals of every pod on the node (exact and
"non-zero"), so a fit check is a few integer comparisons. A pod the scheduler chose a node for is *assumed* onto
that node at once, before its binding is even sent, so the next cycle already sees the node's resources taken;
if the binding fails the pod is *forgotten*; when the informer later reports the pod bound, the assumption is
*confirmed*. Pods can arrive before their node (different watches): they wait on a node-less NodeInfo, which is
never offered to filters.

There is no per-cycle snapshot: a scheduling cycle is synchronous on the event loop, so no event handler can run
in the middle of one and the cache itself is a consistent view.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

from pybernetes.scheduler.podinfo import (
    CPU,
    EMPTY,
    EPHEMERAL,
    MEMORY,
    PODS,
    PodInfo,
    is_scalar_resource_name,
    nano_value,
    to_units,
)

log = logging.getLogger(__name__)
Obj = dict[str, Any]
NO_SCHEDULE_EFFECTS = frozenset(("NoSchedule", "NoExecute"))
MAX_STATE_IDS = 100_000
_state_ids: dict[tuple[int, ...], int] = {}
_next_state_id = itertools.count(1)


def resource_state_id(state: tuple[int, ...]) -> int:
    """A small int naming a node resource state, so per-cycle score memos hash an int, not a tuple. Ids are
    never reused: when the table is cleared (it is bounded), equal states may get new ids — a missed memo hit,
    never a wrong one."""
    sid = _state_ids.get(state)
    if sid is None:
        if len(_state_ids) >= MAX_STATE_IDS:
            _state_ids.clear()
        sid = _state_ids[state] = next(_next_state_id)
    return sid


class NodeInfo:
    """A node and the pods on it. Mutated only by the cache (or on a :meth:`clone` in preemption dry runs)."""

    __slots__ = ("alloc_cpu", "alloc_eph", "alloc_mem", "alloc_pods", "alloc_scalar", "free_cpu", "free_eph",
                 "free_mem", "free_pods", "generation", "labels", "name",
                 "no_schedule_taints", "node", "nz_cpu", "nz_mem", "pods", "pods_with_affinity",
                 "pods_with_required_anti_affinity", "prefer_no_schedule_taints", "req_cpu", "req_eph", "req_mem",
                 "req_scalar", "resource_key", "taints", "unschedulable", "used_ports")

    def __init__(self, node: Obj | None = None, *, name: str = "") -> None:
        self.name = name
        self.node: Obj | None = None
        self.labels: dict[str, str] = {}
        self.taints: tuple[Obj, ...] = ()
        self.no_schedule_taints: tuple[Obj, ...] = ()
        self.prefer_no_schedule_taints: tuple[Obj, ...] = ()
        self.unschedulable = False
        self.alloc_cpu = self.alloc_mem = self.alloc_eph = self.alloc_pods = 0
        self.alloc_scalar: dict[str, int] = EMPTY
        self.req_cpu = self.req_mem = self.req_eph = self.nz_cpu = self.nz_mem = 0
        self.free_cpu = self.free_mem = self.free_eph = self.free_pods = 0     # allocatable − requested
        self.resource_key = 0
        self.req_scalar: dict[str, int] = {}
        self.pods: dict[str, PodInfo] = {}
        self.pods_with_affinity: dict[str, PodInfo] = {}
        self.pods_with_required_anti_affinity: dict[str, PodInfo] = {}
        self.used_ports: dict[tuple[str, int], dict[str, int]] = {}    # (protocol, port) -> {hostIP: count}
        self.generation = 0
        if node is not None:
            self.set_node(node)

    def set_node(self, node: Obj) -> None:
        meta = node.get("metadata") or {}
        spec = node.get("spec") or {}
        self.node = node
        self.name = meta.get("name") or ""
        self.labels = meta.get("labels") or {}
        self.taints = tuple(spec.get("taints") or ())
        self.no_schedule_taints = tuple(t for t in self.taints if t.get("effect") in NO_SCHEDULE_EFFECTS)
        self.prefer_no_schedule_taints = tuple(t for t in self.taints if t.get("effect") == "PreferNoSchedule")
        self.unschedulable = bool(spec.get("unschedulable"))
        alloc = (node.get("status") or {}).get("allocatable") or {}
        self.alloc_cpu = to_units(CPU, nano_value(alloc[CPU])) if CPU in alloc else 0
        self.alloc_mem = to_units(MEMORY, nano_value(alloc[MEMORY])) if MEMORY in alloc else 0
        self.alloc_eph = to_units(EPHEMERAL, nano_value(alloc[EPHEMERAL])) if EPHEMERAL in alloc else 0
        self.alloc_pods = to_units(PODS, nano_value(alloc[PODS])) if PODS in alloc else 0
        self.alloc_scalar = {k: to_units(k, nano_value(v)) for k, v in alloc.items()
                             if is_scalar_resource_name(k)} or EMPTY
        self._update_free()
        self.generation += 1

    def _update_free(self) -> None:
        """Refresh the derived fields the hot paths read: free room, and ``resource_key``, an id of the cpu/memory
        state that resource scores depend on (nodes with equal keys score equally for a given pod)."""
        self.free_cpu = self.alloc_cpu - self.req_cpu
        self.free_mem = self.alloc_mem - self.req_mem
        self.free_eph = self.alloc_eph - self.req_eph
        self.free_pods = self.alloc_pods - len(self.pods)
        self.resource_key = resource_state_id(
            (self.alloc_cpu, self.alloc_mem, self.req_cpu, self.req_mem, self.nz_cpu, self.nz_mem))

    # -------------------------------------------------------------------------------------------- pods
    def add_pod(self, pi: PodInfo) -> None:
        self.pods[pi.uid] = pi
        self.req_cpu += pi.cpu
        self.req_mem += pi.mem
        self.req_eph += pi.eph
        self.nz_cpu += pi.nz_cpu
        self.nz_mem += pi.nz_mem
        if pi.scalar:
            rs = self.req_scalar
            for k, v in pi.scalar.items():
                rs[k] = rs.get(k, 0) + v
        if pi.has_affinity:
            self.pods_with_affinity[pi.uid] = pi
        if pi.has_required_anti_affinity:
            self.pods_with_required_anti_affinity[pi.uid] = pi
        for ip, proto, port in pi.host_ports:
            ips = self.used_ports.setdefault((proto, port), {})
            ips[ip] = ips.get(ip, 0) + 1
        self._update_free()
        self.generation += 1

    def remove_pod(self, uid: str) -> PodInfo | None:
        """Remove the pod with ``uid``; the PodInfo that was accounted, or None when it was not here."""
        pi = self.pods.pop(uid, None)
        if pi is None:
            return None
        self.req_cpu -= pi.cpu
        self.req_mem -= pi.mem
        self.req_eph -= pi.eph
        self.nz_cpu -= pi.nz_cpu
        self.nz_mem -= pi.nz_mem
        if pi.scalar:
            rs = self.req_scalar
            for k, v in pi.scalar.items():
                rs[k] = rs.get(k, 0) - v
        self.pods_with_affinity.pop(uid, None)
        self.pods_with_required_anti_affinity.pop(uid, None)
        for ip, proto, port in pi.host_ports:
            ips = self.used_ports.get((proto, port))
            if ips is not None and ip in ips:
                ips[ip] -= 1
                if ips[ip] <= 0:
                    del ips[ip]
                if not ips:
                    del self.used_ports[(proto, port)]
        self._update_free()
        self.generation += 1
        return pi

    def port_conflict(self, ip: str, protocol: str, port: int) -> bool:
        """Upstream HostPortInfo.CheckConflict: 0.0.0.0 conflicts with any IP on the same protocol/port."""
        if port <= 0:
            return False
        ips = self.used_ports.get((protocol, port))
        if not ips:
            return False
        if ip == "0.0.0.0":
            return True
        return "0.0.0.0" in ips or ip in ips

    def clone(self) -> NodeInfo:
        """A copy whose pods and sums can change without touching the cache (preemption dry runs)."""
        c = object.__new__(NodeInfo)
        for s in NodeInfo.__slots__:
            object.__setattr__(c, s, getattr(self, s))
        c.req_scalar = dict(self.req_scalar)
        c.pods = dict(self.pods)
        c.pods_with_affinity = dict(self.pods_with_affinity)
        c.pods_with_required_anti_affinity = dict(self.pods_with_required_anti_affinity)
        c.used_ports = {k: dict(v) for k, v in self.used_ports.items()}
        return c

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={len(self.pods)}, cpu={self.req_cpu}/{self.alloc_cpu})"


class Cache:
    """Nodes and the pods accounted on them (assumed or confirmed). Implements the framework's ``Snapshot``."""

    def __init__(self) -> None:
        self._nodes: dict[str, NodeInfo] = {}
        self._list: list[NodeInfo] | None = None
        self._pods: dict[str, PodInfo] = {}
        self._assumed: set[str] = set()
        self._with_affinity: dict[str, NodeInfo] = {}
        self._with_anti_affinity: dict[str, NodeInfo] = {}
        self.unschedulable_nodes = 0
        self.no_schedule_tainted_nodes = 0
        self.prefer_no_schedule_tainted_nodes = 0

    # -------------------------------------------------------------------------------------------- snapshot view
    def node_list(self) -> list[NodeInfo]:
        """Nodes with a Node object, in a stable order (rebuilt only when nodes come or go)."""
        if self._list is None:
            self._list = [n for n in self._nodes.values() if n.node is not None]
        return self._list

    def num_nodes(self) -> int:
        return len(self.node_list())

    def get(self, name: str) -> NodeInfo | None:
        n = self._nodes.get(name)
        return n if n is not None and n.node is not None else None

    def have_pods_with_affinity(self) -> list[NodeInfo]:
        return [n for n in self._with_affinity.values() if n.node is not None]

    def have_pods_with_required_anti_affinity(self) -> list[NodeInfo]:
        return [n for n in self._with_anti_affinity.values() if n.node is not None]

    def pod(self, uid: str) -> PodInfo | None:
        return self._pods.get(uid)

    def is_assumed(self, uid: str) -> bool:
        return uid in self._assumed

    # -------------------------------------------------------------------------------------------- nodes
    def _count(self, n: NodeInfo, sign: int) -> None:
        if n.node is None:
            return
        self.unschedulable_nodes += sign * n.unschedulable
        self.no_schedule_tainted_nodes += sign * bool(n.no_schedule_taints)
        self.prefer_no_schedule_tainted_nodes += sign * bool(n.prefer_no_schedule_taints)

    def add_node(self, node: Obj) -> NodeInfo:
        name = (node.get("metadata") or {}).get("name") or ""
        n = self._nodes.get(name)
        if n is None:
            n = self._nodes[name] = NodeInfo(node)
            self._list = None
        else:
            if n.node is None:
                self._list = None
            self._count(n, -1)
            n.set_node(node)
        self._count(n, 1)
        return n

    update_node = add_node

    def remove_node(self, name: str) -> None:
        """Forget the node; its pods (if any are still known) wait on a node-less NodeInfo."""
        n = self._nodes.get(name)
        if n is None:
            return
        self._count(n, -1)
        self._list = None
        if n.pods:
            n.node = None
        else:
            del self._nodes[name]
            self._with_affinity.pop(name, None)
            self._with_anti_affinity.pop(name, None)

    # -------------------------------------------------------------------------------------------- pods
    def _node_for(self, name: str) -> NodeInfo:
        n = self._nodes.get(name)
        if n is None:
            n = self._nodes[name] = NodeInfo(name=name)
        return n

    def _add(self, pi: PodInfo) -> None:
        n = self._node_for(pi.node_name)
        n.add_pod(pi)
        self._pods[pi.uid] = pi
        if n.pods_with_affinity:
            self._with_affinity[n.name] = n
        if n.pods_with_required_anti_affinity:
            self._with_anti_affinity[n.name] = n

    def _remove(self, uid: str) -> PodInfo | None:
        pi = self._pods.pop(uid, None)
        if pi is None:
            return None
        n = self._nodes.get(pi.node_name)
        if n is not None:
            n.remove_pod(uid)
            if not n.pods_with_affinity:
                self._with_affinity.pop(n.name, None)
            if not n.pods_with_required_anti_affinity:
                self._with_anti_affinity.pop(n.name, None)
            if n.node is None and not n.pods:
                del self._nodes[n.name]
        return pi

    def assume_pod(self, pi: PodInfo) -> bool:
        """Account ``pi`` (already carrying its chosen node) before binding; False if the pod is known."""
        if pi.uid in self._pods:
            return False
        self._add(pi)
        self._assumed.add(pi.uid)
        return True

    def finish_binding(self, uid: str) -> None:
        """The binding was sent; the pod stays assumed until the informer confirms it (assumptions don't
        expire, as upstream since assumed pods got no TTL)."""

    def forget_pod(self, uid: str) -> None:
        """Undo an assumption (binding failed, or Reserve/Permit rejected the pod)."""
        if uid in self._assumed:
            self._assumed.discard(uid)
            self._remove(uid)

    def add_pod(self, pi: PodInfo) -> None:
        """An assigned pod seen by the informer: confirms an assumption (moving it if it landed elsewhere),
        or accounts a pod bound by someone else."""
        self._assumed.discard(pi.uid)
        if pi.uid in self._pods:
            self._remove(pi.uid)
        self._add(pi)

    update_pod = add_pod

    def remove_pod(self, uid: str) -> PodInfo | None:
        self._assumed.discard(uid)
        return self._remove(uid)

    def dump(self) -> dict[str, Any]:
        """Counts for debugging and tests."""
        return {"nodes": len(self.node_list()), "pods": len(self._pods), "assumed": len(self._assumed)}
