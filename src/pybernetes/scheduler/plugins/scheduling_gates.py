"""SchedulingGates: a pod with ``spec.schedulingGates`` stays out of the active queue until every gate is
removed (upstream ``plugins/schedulinggates``); the API server has already set its PodScheduled condition to
SchedulingGated."""

from __future__ import annotations

from typing import Any, ClassVar

from pybernetes.scheduler.framework import POD, ActionType, ClusterEvent, PreEnqueuePlugin, Status, unresolvable

Obj = dict[str, Any]
NAME = "SchedulingGates"


class SchedulingGates:
    name: ClassVar[str] = NAME
    requeue_on = (ClusterEvent(POD, ActionType.UPDATE_POD_SCHEDULING_GATES_ELIMINATED),)

    def pre_enqueue(self, pod: Obj) -> Status | None:
        gates = (pod.get("spec") or {}).get("schedulingGates") or ()
        if not gates:
            return None
        names = " ".join(g.get("name", "") for g in gates)
        return unresolvable(f"waiting for scheduling gates: [{names}]", plugin=NAME)


def new(args: dict[str, Any], handle: Any) -> SchedulingGates:
    return SchedulingGates()


_: PreEnqueuePlugin = SchedulingGates()
