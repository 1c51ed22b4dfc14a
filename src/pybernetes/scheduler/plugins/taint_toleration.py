"""TaintToleration: NoSchedule/NoExecute taints a pod does not tolerate keep it off a node; untolerated
PreferNoSchedule taints lower a node's score (upstream ``plugins/tainttoleration``).

PreFilter Skips while no node has a NoSchedule/NoExecute taint, and PreScore Skips while no node has a
PreferNoSchedule taint: every node would get the same score, which changes no ranking.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from pybernetes.api.tolerations import tolerates as tolerates  # re-exported: callers import it here
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
    ScorePlugin,
    Status,
    unresolvable,
)
from pybernetes.scheduler.plugins.normalize_score import default_normalize_score

Obj = dict[str, Any]
NAME = "TaintToleration"
PRE_SCORE_KEY = "PreScore" + NAME


def find_untolerated_taint(taints: Iterable[Obj], tolerations: Sequence[Obj]) -> Obj | None:
    """The first of ``taints`` no toleration tolerates (callers pass only the effects they filter on)."""
    for taint in taints:
        if not tolerations_tolerate_taint(tolerations, taint):
            return taint
    return None


def untolerated_reason(taint: Obj) -> str:
    return f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value') or ''}}}"


def count_intolerable_prefer_no_schedule(taints: Iterable[Obj], tolerations: Sequence[Obj]) -> int:
    return sum(1 for t in taints if t.get("effect") == "PreferNoSchedule"
               and not tolerations_tolerate_taint(tolerations, t))


class TaintToleration:
    name: ClassVar[str] = NAME
    requeue_on = (ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT | ActionType.UPDATE_NODE_LABEL),
                  ClusterEvent(POD, ActionType.UPDATE_POD_TOLERATIONS))

    def __init__(self, snapshot: Any = None) -> None:
        self.snapshot = snapshot
        self._reasons: dict[tuple[str, str], Status] = {}

    def pre_filter(self, state: CycleState, pod: Obj) -> tuple[PreFilterResult | None, Status | None]:
        if getattr(self.snapshot, "no_schedule_tainted_nodes", 1) == 0:
            return None, SKIP
        return None, None

    def filter(self, state: CycleState, pod: Obj, node: Any) -> Status | None:
        if not node.no_schedule_taints:
            return None
        taint = find_untolerated_taint(node.no_schedule_taints, (pod.get("spec") or {}).get("tolerations") or ())
        if taint is None:
            return None
        k = (taint.get("key", ""), taint.get("value") or "")
        st = self._reasons.get(k)
        if st is None:
            st = self._reasons[k] = unresolvable(untolerated_reason(taint), plugin=NAME)
        return st

    def pre_score(self, state: CycleState, pod: Obj, nodes: Sequence[Any]) -> Status | None:
        if getattr(self.snapshot, "prefer_no_schedule_tainted_nodes", 1) == 0:
            return SKIP
        tolerations = [t for t in (pod.get("spec") or {}).get("tolerations") or ()
                       if (t.get("effect") or "PreferNoSchedule") == "PreferNoSchedule"]
        state.write(PRE_SCORE_KEY, tolerations)
        return None

    def score(self, state: CycleState, pod: Obj, node: Any) -> int:
        tolerations = state.get(PRE_SCORE_KEY)
        if tolerations is None:
            tolerations = [t for t in (pod.get("spec") or {}).get("tolerations") or ()
                           if (t.get("effect") or "PreferNoSchedule") == "PreferNoSchedule"]
        return count_intolerable_prefer_no_schedule(node.prefer_no_schedule_taints, tolerations)

    def normalize_score(self, state: CycleState, pod: Obj, scores: list[int]) -> None:
        default_normalize_score(scores, reverse=True)


def new(args: dict[str, Any], handle: Any) -> TaintToleration:
    return TaintToleration(getattr(handle, "snapshot", None))


_: FilterPlugin = TaintToleration()
_s: ScorePlugin = TaintToleration()
