"""What NodeResourcesFit's scoring and NodeResourcesBalancedAllocation share (upstream
``plugins/noderesources/resource_allocation.go``): the (allocatable, requested-after-placing-the-pod) pair of a
node for one resource, and the pod's request used for scoring.

LeastAllocated scoring counts pods by their *non-zero* requests (a container without a cpu/memory request counts
as 100m / 200Mi), so best-effort pods still spread; BalancedAllocation uses the actual requests. A scalar resource
the pod does not request is left out of the score.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from pybernetes.scheduler.podinfo import CPU, EPHEMERAL, MEMORY, PodInfo, is_scalar_resource_name, pod_requests

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    name: str
    weight: int = 1


DEFAULT_RESOURCES = (ResourceSpec(CPU, 1), ResourceSpec(MEMORY, 1))
_resource_key = attrgetter("resource_key")


def score_by_resource_state(nodes: Sequence[Any], score_one: Callable[[Any], int]) -> list[int]:
    """``[score_one(n) for n in nodes]``, calling ``score_one`` once per distinct ``resource_key``: nodes in the
    same cpu/memory state score the same, and in a cluster of alike nodes most of the scored nodes share a few
    states. The per-node work is C loops (attrgetter, dict, map)."""
    keys = list(map(_resource_key, nodes))
    representative = dict(zip(keys, nodes, strict=True))
    memo = {k: score_one(n) for k, n in representative.items()}
    return list(map(memo.__getitem__, keys))


def resource_specs(items: Sequence[Any] | None) -> tuple[ResourceSpec, ...]:
    if not items:
        return DEFAULT_RESOURCES
    return tuple(ResourceSpec(str(i["name"]), int(i.get("weight") or 1)) for i in items)


def pod_scoring_requests(pod: Obj, pi: PodInfo | None, resources: Sequence[ResourceSpec], *,
                         use_requested: bool) -> list[int]:
    """The pod's request per scored resource, in the order of ``resources``."""
    if pi is None:
        pi = PodInfo(pod)
    out = []
    for r in resources:
        if r.name == CPU:
            out.append(pi.cpu if use_requested else pi.nz_cpu)
        elif r.name == MEMORY:
            out.append(pi.mem if use_requested else pi.nz_mem)
        elif r.name == EPHEMERAL:
            out.append(pi.eph)
        else:
            out.append(pi.scalar.get(r.name, 0) if pi.scalar else pod_requests(pod).get(r.name, 0))
    return out


def allocatable_and_requested(node: Any, name: str, pod_request: int, *, use_requested: bool) -> tuple[int, int]:
    """(allocatable, requested including the pod) of ``node`` for resource ``name``; (0, 0) means "skip"."""
    if pod_request == 0 and is_scalar_resource_name(name):
        return 0, 0
    if name == CPU:
        return node.alloc_cpu, (node.req_cpu if use_requested else node.nz_cpu) + pod_request
    if name == MEMORY:
        return node.alloc_mem, (node.req_mem if use_requested else node.nz_mem) + pod_request
    if name == EPHEMERAL:
        return node.alloc_eph, node.req_eph + pod_request
    if name in node.alloc_scalar:
        return node.alloc_scalar[name], node.req_scalar.get(name, 0) + pod_request
    return 0, 0


def node_vectors(node: Any, resources: Sequence[ResourceSpec], pod_requests_: Sequence[int], *,
                 use_requested: bool) -> tuple[list[int], list[int]]:
    """(requested, allocatable) lists for ``node``; resources the node does not have are (0, 0)."""
    requested, allocatable = [], []
    for r, pr in zip(resources, pod_requests_, strict=True):
        alloc, req = allocatable_and_requested(node, r.name, pr, use_requested=use_requested)
        allocatable.append(alloc)
        requested.append(req if alloc else 0)
    return requested, allocatable
