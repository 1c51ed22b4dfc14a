"""One scheduling attempt: find feasible nodes, score them, pick one (upstream ``schedule_one.go``'s
``schedulePod``, ``findNodesThatFitPod``, ``prioritizeNodes``, ``selectHost``) and the FailedScheduling message.

Filtering stops once enough feasible nodes are found (``percentageOfNodesToScore``: with 0 the adaptive rule,
50% − nodes/125, at least 5% and at least 100 nodes, so 10% of 5,000 nodes) and starts each cycle where the
previous one stopped, so every node gets its turn. A pod with a nominated node (from an earlier preemption) tries
that node first.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from pybernetes.scheduler.framework import (
    Code,
    CycleState,
    NodeToStatus,
    NominatingInfo,
    Status,
    as_error,
    unresolvable,
)

Obj = dict[str, Any]
MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
NO_NODES_AVAILABLE = "no nodes available to schedule pods"


def num_feasible_nodes_to_find(percentage: int, num_all_nodes: int) -> int:
    """How many feasible nodes to look for before scoring (upstream numFeasibleNodesToFind)."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage == 0:
        percentage = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    num = num_all_nodes * percentage // 100
    return max(num, MIN_FEASIBLE_NODES_TO_FIND)


@dataclass(slots=True)
class Diagnosis:
    """Why a pod did not fit: the verdict per node, which plugins rejected it (to requeue it on the right
    events), and the PreFilter/PostFilter messages."""
    node_to_status: NodeToStatus = field(default_factory=NodeToStatus)
    unschedulable_plugins: set[str] = field(default_factory=set)
    pending_plugins: set[str] = field(default_factory=set)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""

    def add_plugin_status(self, st: Status) -> None:
        if not st.plugin or not st.is_rejected():
            return
        (self.pending_plugins if st.code == Code.PENDING else self.unschedulable_plugins).add(st.plugin)


def _sentence(text: str) -> str:
    return " " + text if text.endswith(".") else f" {text}."


@dataclass(slots=True)
class FitError:
    """No node fits: ``message()`` is the FailedScheduling text, e.g. ``0/3 nodes are available: 3 Insufficient
    cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.``"""
    num_all_nodes: int
    diagnosis: Diagnosis

    def message(self) -> str:
        d = self.diagnosis
        msg = f"0/{self.num_all_nodes} nodes are available:"
        if d.pre_filter_msg:
            msg += _sentence(d.pre_filter_msg)
        else:
            counts: dict[str, int] = {}
            for st in d.node_to_status.statuses.values():
                for r in st.reasons:
                    counts[r] = counts.get(r, 0) + 1
            absent = self.num_all_nodes - len(d.node_to_status)
            if absent > 0:
                for r in d.node_to_status.absent.reasons:
                    counts[r] = counts.get(r, 0) + absent
            if counts:
                msg += _sentence(", ".join(sorted(f"{v} {k}" for k, v in counts.items())))
        if d.post_filter_msg:
            msg += _sentence(d.post_filter_msg)
        return msg


@dataclass(slots=True)
class ScheduleResult:
    suggested_host: str = ""
    evaluated_nodes: int = 0
    feasible_nodes: int = 0
    nominating: NominatingInfo | None = None


def select_host(nodes: Sequence[Any], totals: Sequence[int], rng: random.Random) -> Any:
    """A node with the highest total score, chosen uniformly among ties (upstream's reservoir sampling)."""
    best = max(totals)
    count = totals.count(best) if isinstance(totals, list) else sum(1 for t in totals if t == best)
    pick = rng.randrange(count) if count > 1 else 0
    i = -1
    for _ in range(pick + 1):
        i = totals.index(best, i + 1)
    return nodes[i]


class Algorithm:
    """The stateful part of an attempt: where the next node search starts."""

    def __init__(self, snapshot: Any, *, rng: random.Random | None = None) -> None:
        self.snapshot = snapshot
        self.rng = rng or random.Random()
        self.next_start_node_index = 0

    def schedule_pod(self, fwk: Any, state: CycleState,
                     pod: Obj) -> tuple[ScheduleResult, FitError | Status | None]:
        """(result, None) with a host, or (result, FitError) when no node fits, or (result, Status) for
        errors (including "no nodes available", which is UnschedulableAndUnresolvable)."""
        all_nodes = self.snapshot.node_list()
        if not all_nodes:
            return ScheduleResult(), unresolvable(NO_NODES_AVAILABLE)
        feasible, diagnosis, err = self.find_nodes_that_fit(fwk, state, pod, all_nodes)
        if err is not None:
            return ScheduleResult(), err
        if not feasible:
            return ScheduleResult(), FitError(len(all_nodes), diagnosis)
        evaluated = len(feasible) + len(diagnosis.node_to_status)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, evaluated, 1), None
        st = fwk.run_pre_score(state, pod, feasible)
        if st is not None:
            return ScheduleResult(), st
        totals = fwk.run_score(state, pod, feasible)
        if isinstance(totals, Status):
            return ScheduleResult(), totals
        host = select_host(feasible, totals, self.rng)
        return ScheduleResult(host.name, evaluated, len(feasible)), None

    def find_nodes_that_fit(self, fwk: Any, state: CycleState, pod: Obj,
                            all_nodes: list[Any]) -> tuple[list[Any], Diagnosis, Status | None]:
        diagnosis = Diagnosis()
        pre_res, st, plugins = fwk.run_pre_filter(state, pod)
        diagnosis.unschedulable_plugins = plugins
        if st is not None and not st.is_success():
            if not st.is_rejected():
                return [], diagnosis, st
            diagnosis.node_to_status.absent = st
            diagnosis.pre_filter_msg = st.message()
            diagnosis.add_plugin_status(st)
            return [], diagnosis, None
        nominated = ((pod.get("status") or {}).get("nominatedNodeName")
                     or (fwk.handle.nominator.nominated_node(state.pod_info.uid)
                         if fwk.handle.nominator is not None and state.pod_info is not None else ""))
        if nominated:
            node = self.snapshot.get(nominated)
            if node is not None and (pre_res is None or pre_res.all_nodes() or nominated in pre_res.node_names):
                feasible, err = self.find_nodes_that_pass_filters(fwk, state, pod, diagnosis, [node],
                                                                  rotate=False)
                if feasible:
                    return feasible, diagnosis, None
        nodes = all_nodes
        if pre_res is not None and not pre_res.all_nodes():
            names = pre_res.node_names or frozenset()
            nodes = [n for n in (self.snapshot.get(x) for x in sorted(names)) if n is not None]
            diagnosis.node_to_status.absent = unresolvable(
                f"node(s) didn't satisfy plugin(s) [{' '.join(sorted(plugins))}]")
        feasible, err = self.find_nodes_that_pass_filters(fwk, state, pod, diagnosis, nodes)
        if nodes:
            processed = len(feasible) + len(diagnosis.node_to_status)
            self.next_start_node_index = (self.next_start_node_index + processed) % len(all_nodes)
        return feasible, diagnosis, err

    def find_nodes_that_pass_filters(self, fwk: Any, state: CycleState, pod: Obj, diagnosis: Diagnosis,
                                     nodes: list[Any], *, rotate: bool = True) -> tuple[list[Any], Status | None]:
        n = len(nodes)
        if n == 0:
            return [], None
        want = num_feasible_nodes_to_find(fwk.profile.percentage_of_nodes_to_score, n)
        start = self.next_start_node_index % n if rotate else 0
        order = nodes[start:] + nodes[:start] if start else nodes
        if not fwk.active_filters(state):
            return order[:want], None
        feasible: list[Any] = []
        statuses = diagnosis.node_to_status.statuses
        nominator = fwk.handle.nominator
        nominated = nominator.nominated_nodes() if nominator else ()
        try:
            filters = fwk.cycle_filters(state, pod)
            if len(filters) == 1 and not nominated:
                pred = fwk.cycle_predicate(state, pod)
                if pred is not None:
                    return self._filter_by_predicate(pred, filters[0], order, want, diagnosis, statuses)
            if len(filters) == 1 and not nominated:
                name, f = filters[0]
                for node in order:
                    st = f(node)
                    if st is None or not st.code:
                        feasible.append(node)
                        if len(feasible) >= want:
                            break
                    elif (err := self._rejected(diagnosis, statuses, node, name, st)) is not None:
                        return [], err
                return feasible, None
            for node in order:
                if nominated and node.name in nominated:
                    # nominated pods of equal or higher priority count as already on this node
                    st = fwk.run_filter_with_nominated(state, pod, node)
                    if st is None or not st.code:
                        feasible.append(node)
                        if len(feasible) >= want:
                            break
                    elif st.code == Code.ERROR:
                        return [], st
                    else:
                        self._rejected(diagnosis, statuses, node, st.plugin, st)
                    continue
                for name, f in filters:
                    st = f(node)
                    if st is not None and st.code:
                        if (err := self._rejected(diagnosis, statuses, node, name, st)) is not None:
                            return [], err
                        break
                else:
                    feasible.append(node)
                    if len(feasible) >= want:
                        break
        except Exception as e:
            return [], as_error(f"running filter plugins: {e!r}")
        return feasible, None

    def _filter_by_predicate(self, pred: Callable[[Any], bool], named_filter: tuple[str, Callable[[Any], Any]],
                             order: list[Any], want: int, diagnosis: Diagnosis,
                             statuses: dict[str, Status]) -> tuple[list[Any], Status | None]:
        """The fast path: one filter with an exact boolean predicate, run by the C ``filter`` builtin until
        ``want`` nodes pass; only the nodes that failed on the way are filtered again for their Status."""
        feasible = list(islice(filter(pred, order), want))
        examined = order.index(feasible[-1]) + 1 if len(feasible) == want else len(order)
        if examined > len(feasible):
            name, f = named_filter
            passed = {id(n) for n in feasible}
            for node in order[:examined]:
                if id(node) not in passed:
                    st = f(node)
                    if st is None or not st.code:
                        return [], as_error(f"filter plugin \"{name}\": predicate and filter disagree on "
                                            f"node {node.name}", plugin=name)
                    if (err := self._rejected(diagnosis, statuses, node, name, st)) is not None:
                        return [], err
        return feasible, None

    @staticmethod
    def _rejected(diagnosis: Diagnosis, statuses: dict[str, Status], node: Any, name: str,
                  st: Status) -> Status | None:
        """Record a node's rejection; an Error status comes back to abort the cycle."""
        if st.code == Code.ERROR:
            return as_error(f"running \"{name}\" filter plugin: {st.message()}", plugin=name)
        if st.plugin != name:
            st = st.with_plugin(name)
        statuses[node.name] = st
        if st.code == Code.PENDING:
            diagnosis.pending_plugins.add(name)
        else:
            diagnosis.unschedulable_plugins.add(name)
        return None
