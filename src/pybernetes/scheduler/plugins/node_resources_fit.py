"""NodeResourcesFit: the node must have room for the pod's requests and one more pod; scores nodes by how much
room is left (LeastAllocated, the default) or how full they are (MostAllocated)
(upstream ``plugins/noderesources/fit.go``, ``least_allocated.go``, ``most_allocated.go``).

The pod's requests (regular containers summed, init containers maxed, plus overhead) are computed once when the
pod is queued; the node's requested sums are kept by the cache, so the filter is a handful of integer
comparisons. Every shortage is reported ("Insufficient cpu", "Insufficient memory", "Too many pods") as
Unschedulable: evicting pods can free resources.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

from pybernetes.scheduler.cache import NodeInfo
from pybernetes.scheduler.framework import (
    MAX_NODE_SCORE,
    NODE,
    POD,
    ActionType,
    ClusterEvent,
    CycleState,
    FilterPlugin,
    PreFilterResult,
    ScorePlugin,
    Status,
    unschedulable,
)
from pybernetes.scheduler.plugins.resource_allocation import (
    DEFAULT_RESOURCES,
    ResourceSpec,
    node_vectors,
    pod_scoring_requests,
    resource_specs,
    score_by_resource_state,
)
from pybernetes.scheduler.podinfo import CPU, EPHEMERAL, MEMORY, PODS, PodInfo

Obj = dict[str, Any]
NAME = "NodeResourcesFit"
PRE_FILTER_KEY = "PreFilter" + NAME
PRE_SCORE_KEY = "PreScore" + NAME
LEAST_ALLOCATED, MOST_ALLOCATED = "LeastAllocated", "MostAllocated"
PodRequest = tuple[int, int, int, dict[str, int]]     # milli-cpu, memory, ephemeral-storage, scalars


@dataclass(frozen=True, slots=True)
class InsufficientResource:
    resource: str
    reason: str
    requested: int
    used: int
    capacity: int


def is_extended_resource_name(name: str) -> bool:
    return "/" in name and "kubernetes.io/" not in name and not name.startswith("requests.")


def pod_request(pod: Obj, pi: PodInfo | None = None) -> PodRequest:
    pi = pi if pi is not None else PodInfo(pod)
    return pi.cpu, pi.mem, pi.eph, pi.scalar


def insufficient_resources(req: PodRequest, node: Any, *, ignored: frozenset[str] = frozenset(),
                           ignored_groups: frozenset[str] = frozenset()) -> list[InsufficientResource]:
    """Every resource ``node`` lacks for a pod requesting ``req`` (upstream fitsRequest)."""
    out: list[InsufficientResource] = []
    if len(node.pods) + 1 > node.alloc_pods:
        out.append(InsufficientResource(PODS, "Too many pods", 1, len(node.pods), node.alloc_pods))
    cpu, mem, eph, scalar = req
    if not (cpu or mem or eph or scalar):
        return out
    if cpu > 0 and cpu > node.alloc_cpu - node.req_cpu:
        out.append(InsufficientResource(CPU, "Insufficient cpu", cpu, node.req_cpu, node.alloc_cpu))
    if mem > 0 and mem > node.alloc_mem - node.req_mem:
        out.append(InsufficientResource(MEMORY, "Insufficient memory", mem, node.req_mem, node.alloc_mem))
    if eph > 0 and eph > node.alloc_eph - node.req_eph:
        out.append(InsufficientResource(EPHEMERAL, "Insufficient ephemeral-storage", eph, node.req_eph,
                                        node.alloc_eph))
    for name, q in scalar.items():
        if q == 0:
            continue
        if is_extended_resource_name(name) and (name in ignored or name.split("/", 1)[0] in ignored_groups):
            continue
        have = node.alloc_scalar.get(name, 0) - node.req_scalar.get(name, 0)
        if q > have:
            out.append(InsufficientResource(name, f"Insufficient {name}", q, node.req_scalar.get(name, 0),
                                            node.alloc_scalar.get(name, 0)))
    return out


def fits(pod: Obj, node: Any) -> list[InsufficientResource]:
    return insufficient_resources(pod_request(pod), node)


def least_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def most_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0:
        return 0
    return min(requested, capacity) * MAX_NODE_SCORE // capacity


def weighted_score(requested: Sequence[int], allocatable: Sequence[int], resources: Sequence[ResourceSpec],
                   fn: Any) -> int:
    score = weights = 0
    for req, alloc, r in zip(requested, allocatable, resources, strict=True):
        if alloc == 0:
            continue
        score += fn(req, alloc) * r.weight
        weights += r.weight
    return score // weights if weights else 0


class NodeResourcesFit:
    name: ClassVar[str] = NAME
    requeue_on = (ClusterEvent(POD, ActionType.DELETE),
                  ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE
                               | ActionType.UPDATE_NODE_TAINT | ActionType.UPDATE_NODE_LABEL))

    def __init__(self, *, ignored: Sequence[str] = (), ignored_groups: Sequence[str] = (),
                 strategy: str = LEAST_ALLOCATED, resources: Sequence[ResourceSpec] = DEFAULT_RESOURCES) -> None:
        if strategy not in (LEAST_ALLOCATED, MOST_ALLOCATED):
            raise ValueError(f"scoring strategy {strategy} is not supported")
        self.ignored = frozenset(ignored)
        self.ignored_groups = frozenset(ignored_groups)
        self.strategy = strategy
        self.resources = tuple(resources)
        self._fn = least_requested_score if strategy == LEAST_ALLOCATED else most_requested_score
        self._default_scoring = strategy == LEAST_ALLOCATED and self.resources == DEFAULT_RESOURCES
        self._statuses: dict[tuple[str, ...], Status] = {}

    # ---------------------------------------------------------------------------------------------- filter
    def pre_filter(self, state: CycleState, pod: Obj) -> tuple[PreFilterResult | None, Status | None]:
        state.write(PRE_FILTER_KEY, pod_request(pod, state.pod_info))
        return None, None

    def filter(self, state: CycleState, pod: Obj, node: Any) -> Status | None:
        req = state.get(PRE_FILTER_KEY)
        if req is None:
            req = pod_request(pod, state.pod_info)
        cpu, mem, eph, scalar = req
        if (not scalar and cpu <= node.free_cpu and mem <= node.free_mem and node.free_pods > 0
                and eph <= node.free_eph):
            return None
        short = insufficient_resources(req, node, ignored=self.ignored, ignored_groups=self.ignored_groups)
        if not short:
            return None
        reasons = tuple(s.reason for s in short)
        st = self._statuses.get(reasons)
        if st is None:
            st = self._statuses[reasons] = unschedulable(*reasons, plugin=NAME)
        return st

    def prepare_filter(self, state: CycleState, pod: Obj) -> Callable[[Any], Status | None]:
        """``filter`` for this cycle with the request unpacked into closure locals (see Framework.cycle_filters)."""
        req = state.get(PRE_FILTER_KEY)
        if req is None:
            req = pod_request(pod, state.pod_info)
        cpu, mem, eph, scalar = req
        if scalar:
            return partial(self.filter, state, pod)
        slow = partial(self.filter, state, pod)

        def fits_node(node: Any) -> Status | None:
            if cpu <= node.free_cpu and mem <= node.free_mem and node.free_pods > 0 and eph <= node.free_eph:
                return None
            return slow(node)
        return fits_node

    def prepare_predicate(self, state: CycleState, pod: Obj) -> Callable[[Any], bool] | None:
        """True exactly when ``filter`` would pass the node (see Framework.cycle_predicate); None for pods with
        extended resources, whose check needs the full filter."""
        req = state.get(PRE_FILTER_KEY)
        if req is None:
            req = pod_request(pod, state.pod_info)
        cpu, mem, eph, scalar = req
        if scalar:
            return None
        if cpu > 0 and mem > 0 and eph == 0:               # the usual pod
            return lambda n: cpu <= n.free_cpu and mem <= n.free_mem and n.free_pods > 0

        def fits(n: NodeInfo) -> bool:
            return (n.free_pods > 0 and (cpu <= 0 or cpu <= n.free_cpu) and (mem <= 0 or mem <= n.free_mem)
                    and (eph <= 0 or eph <= n.free_eph))
        return fits

    # ---------------------------------------------------------------------------------------------- score
    def pre_score(self, state: CycleState, pod: Obj, nodes: Sequence[Any]) -> Status | None:
        state.write(PRE_SCORE_KEY, pod_scoring_requests(pod, state.pod_info, self.resources, use_requested=False))
        return None

    def _requests(self, state: CycleState, pod: Obj) -> list[int]:
        reqs: list[int] | None = state.get(PRE_SCORE_KEY)
        if reqs is None:
            reqs = pod_scoring_requests(pod, state.pod_info, self.resources, use_requested=False)
        return reqs

    def score(self, state: CycleState, pod: Obj, node: Any) -> int:
        requested, allocatable = node_vectors(node, self.resources, self._requests(state, pod), use_requested=False)
        return weighted_score(requested, allocatable, self.resources, self._fn)

    def score_nodes(self, state: CycleState, pod: Obj, nodes: Sequence[Any]) -> list[int]:
        reqs = self._requests(state, pod)
        if not self._default_scoring:
            return [self.score(state, pod, n) for n in nodes]
        pc, pm = reqs

        def least_allocated(n: NodeInfo) -> int:        # cpu and memory, weight 1 each
            ac, am = n.alloc_cpu, n.alloc_mem
            rc, rm = n.nz_cpu + pc, n.nz_mem + pm
            lc = ((ac - rc) * MAX_NODE_SCORE // ac if rc <= ac else 0) if ac else -1
            lm = ((am - rm) * MAX_NODE_SCORE // am if rm <= am else 0) if am else -1
            return (lc + lm) // 2 if lc >= 0 and lm >= 0 else max(lc, lm, 0)
        return score_by_resource_state(nodes, least_allocated)


def new(args: dict[str, Any], handle: Any) -> NodeResourcesFit:
    strategy = args.get("scoringStrategy") or {}
    return NodeResourcesFit(ignored=args.get("ignoredResources") or (),
                            ignored_groups=args.get("ignoredResourceGroups") or (),
                            strategy=strategy.get("type") or LEAST_ALLOCATED,
                            resources=resource_specs(strategy.get("resources")))


_: FilterPlugin = NodeResourcesFit()
_s: ScorePlugin = NodeResourcesFit()
