"""NodeName: a pod that names a node (``spec.nodeName``) fits only there (upstream ``plugins/nodename``).

Evicting other pods cannot change a node's name, hence UnschedulableAndUnresolvable. Pods in the scheduling queue
have no ``spec.nodeName`` (those are already assigned), so PreFilter usually Skips and the filter costs nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pybernetes.scheduler.framework import (
    NODE,
    SKIP,
    ActionType,
    ClusterEvent,
    CycleState,
    FilterPlugin,
    PreFilterPlugin,
    PreFilterResult,
    Status,
    unresolvable,
)

Obj = dict[str, Any]
NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"
_REJECT = unresolvable(ERR_REASON, plugin=NAME)


def fits(pod: Obj, node: Any) -> bool:
    wanted = (pod.get("spec") or {}).get("nodeName")
    return not wanted or wanted == node.name


class NodeName:
    name: ClassVar[str] = NAME
    requeue_on = (ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL | ActionType.UPDATE_NODE_TAINT),)

    def pre_filter(self, state: CycleState, pod: Obj) -> tuple[PreFilterResult | None, Status | None]:
        return None, (None if (pod.get("spec") or {}).get("nodeName") else SKIP)

    def filter(self, state: CycleState, pod: Obj, node: Any) -> Status | None:
        return None if fits(pod, node) else _REJECT


def new(args: dict[str, Any], handle: Any) -> NodeName:
    return NodeName()


_: FilterPlugin = NodeName()
_p: PreFilterPlugin = NodeName()
