"""NodeResourcesBalancedAllocation: prefer nodes whose cpu and memory would be used in similar proportions
after placing the pod (upstream ``plugins/noderesources/balanced_allocation.go``).

score = (1 − std) × 100 where std is the standard deviation of the requested/allocatable fractions (for two
resources simply |f1 − f2| / 2). Best-effort pods (no requests at all) are skipped: otherwise every such pod would
be drawn to the same, already balanced node (kubernetes#129138).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

from pybernetes.scheduler.framework import MAX_NODE_SCORE, SKIP, CycleState, ScorePlugin, Status
from pybernetes.scheduler.plugins.resource_allocation import (
    DEFAULT_RESOURCES,
    ResourceSpec,
    node_vectors,
    pod_scoring_requests,
    resource_specs,
    score_by_resource_state,
)

Obj = dict[str, Any]
NAME = "NodeResourcesBalancedAllocation"
PRE_SCORE_KEY = "PreScore" + NAME


def balanced_resource_score(requested: Sequence[int], allocatable: Sequence[int]) -> int:
    fractions = []
    for req, alloc in zip(requested, allocatable, strict=True):
        if alloc == 0:
            continue
        fractions.append(min(req / alloc, 1.0))
    std = 0.0
    if len(fractions) == 2:
        std = abs((fractions[0] - fractions[1]) / 2)
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) * (f - mean) for f in fractions) / len(fractions))
    return int((1 - std) * MAX_NODE_SCORE)


class BalancedAllocation:
    name: ClassVar[str] = NAME

    def __init__(self, resources: Sequence[ResourceSpec] = DEFAULT_RESOURCES) -> None:
        self.resources = tuple(resources)
        self._default = self.resources == DEFAULT_RESOURCES

    def pre_score(self, state: CycleState, pod: Obj, nodes: Sequence[Any]) -> Status | None:
        reqs = pod_scoring_requests(pod, state.pod_info, self.resources, use_requested=True)
        if not any(reqs):
            return SKIP
        state.write(PRE_SCORE_KEY, reqs)
        return None

    def _requests(self, state: CycleState, pod: Obj) -> list[int]:
        reqs: list[int] | None = state.get(PRE_SCORE_KEY)
        if reqs is None:
            reqs = pod_scoring_requests(pod, state.pod_info, self.resources, use_requested=True)
        return reqs

    def score(self, state: CycleState, pod: Obj, node: Any) -> int:
        reqs = self._requests(state, pod)
        if not any(reqs):
            return 0
        requested, allocatable = node_vectors(node, self.resources, reqs, use_requested=True)
        return balanced_resource_score(requested, allocatable)

    def score_nodes(self, state: CycleState, pod: Obj, nodes: Sequence[Any]) -> list[int]:
        reqs = self._requests(state, pod)
        if not self._default:
            return [self.score(state, pod, n) for n in nodes]
        pc, pm = reqs

        def balanced(n: Any) -> int:                     # cpu and memory: std = |f1 − f2| / 2
            ac, am = n.alloc_cpu, n.alloc_mem
            if not (ac and am):
                return MAX_NODE_SCORE                    # one fraction or none: no deviation
            fc = min((n.req_cpu + pc) / ac, 1.0)
            fm = min((n.req_mem + pm) / am, 1.0)
            return int((1 - abs((fc - fm) / 2)) * MAX_NODE_SCORE)
        return score_by_resource_state(nodes, balanced)


def new(args: dict[str, Any], handle: Any) -> BalancedAllocation:
    return BalancedAllocation(resource_specs(args.get("resources")))


_: ScorePlugin = BalancedAllocation()
