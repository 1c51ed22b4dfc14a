"""NodeUnschedulable: cordoned nodes (``spec.unschedulable``) take only pods tolerating the
``node.kubernetes.io/unschedulable:NoSchedule`` taint (upstream ``plugins/nodeunschedulable``).

PreFilter Skips while no node in the cache is cordoned: the filter would pass everywhere.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pybernetes.api.tolerations import tolerations_tolerate_taint
from pybernetes.scheduler.framework import (
    NODE,
    POD,
    SKIP,
    ActionType,
    ClusterEvent,
    CycleState,
    FilterPlugin,
    PreFilterResult,
    Status,
    unresolvable,
)

Obj = dict[str, Any]
NAME = "NodeUnschedulable"
ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
_REJECT = unresolvable(ERR_REASON_UNSCHEDULABLE, plugin=NAME)


def fits(pod: Obj, node: Any) -> bool:
    if not node.unschedulable:
        return True
    return tolerations_tolerate_taint((pod.get("spec") or {}).get("tolerations") or (), UNSCHEDULABLE_TAINT)


class NodeUnschedulable:
    name: ClassVar[str] = NAME
    requeue_on = (ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT),
                  ClusterEvent(POD, ActionType.UPDATE_POD_TOLERATIONS))

    def __init__(self, snapshot: Any = None) -> None:
        self.snapshot = snapshot

    def pre_filter(self, state: CycleState, pod: Obj) -> tuple[PreFilterResult | None, Status | None]:
        if getattr(self.snapshot, "unschedulable_nodes", 1) == 0:
            return None, SKIP
        return None, None

    def filter(self, state: CycleState, pod: Obj, node: Any) -> Status | None:
        return None if fits(pod, node) else _REJECT


def new(args: dict[str, Any], handle: Any) -> NodeUnschedulable:
    return NodeUnschedulable(getattr(handle, "snapshot", None))


_: FilterPlugin = NodeUnschedulable()
