"""DefaultPreemption: when no node fits, find a node where evicting lower-priority pods makes the pod fit,
nominate it, and evict those pods (upstream ``plugins/defaultpreemption`` and ``framework/preemption``).

Only nodes whose filters said Unschedulable (not UnschedulableAndUnresolvable) are candidates. On a copy of each
candidate, every pod of lower priority is removed; if the pod still does not fit, the node is out. Otherwise
victims are reprieved one by one, most important first — PodDisruptionBudget-violating ones first — keeping
each reprieved pod if the preemptor still fits. Up to max(10% of candidates, 100) nodes are tried from a random
offset. The chosen node has the fewest PDB violations, then the lowest highest-victim priority, the lowest sum
of priorities, the fewest victims, and the latest start among its most important victims.

The victims get a ``DisruptionTarget`` condition and are deleted gracefully, in the background: the scheduling
loop never waits for the API. The preemptor is nominated to the node (``status.nominatedNodeName``) and waits in
the unschedulable queue until the victims' deletion events bring it back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pybernetes.api.meta import format_rfc3339
from pybernetes.api.selectors import LabelSelector, label_selector_from_dict
from pybernetes.client.rest import APIStatusError
from pybernetes.scheduler.algorithm import Diagnosis, FitError
from pybernetes.scheduler.framework import (
    Code,
    CycleState,
    NodeToStatus,
    NominatingInfo,
    NominatingMode,
    PostFilterPlugin,
    PostFilterResult,
    Status,
    as_error,
    unresolvable,
)
from pybernetes.scheduler.podinfo import PodInfo

log = logging.getLogger(__name__)
Obj = dict[str, Any]
NAME = "DefaultPreemption"
NO_VICTIMS = "No preemption victims found for incoming pod"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NOT_ELIGIBLE_NEVER = "not eligible due to preemptionPolicy=Never."
NOT_ELIGIBLE_TERMINATING = "not eligible due to a terminating pod on the nominated node."
PREEMPTION_REASON = "PreemptionByScheduler"
MAX_INT32 = (1 << 31) - 1


@dataclass(slots=True)
class Candidate:
    name: str
    victims: list[PodInfo]
    num_pdb_violations: int


def start_time(pi: PodInfo) -> str:
    """status.startTime; pods not started yet count as starting now (sorted last)."""
    return (pi.pod.get("status") or {}).get("startTime") or "~"


def more_important(a: PodInfo, b: PodInfo) -> bool:
    """Higher priority, or equal priority and started earlier (upstream MoreImportantPod)."""
    if a.priority != b.priority:
        return a.priority > b.priority
    return start_time(a) < start_time(b)


def importance_key(pi: PodInfo) -> tuple[int, str]:
    return (-pi.priority, start_time(pi))


def terminating_by_preemption(pi: PodInfo) -> bool:
    if not pi.deleting:
        return False
    return any(c.get("type") == "DisruptionTarget" and c.get("reason") == PREEMPTION_REASON
               and c.get("status") == "True" for c in (pi.pod.get("status") or {}).get("conditions") or ())


def filter_pods_with_pdb_violation(pods: Sequence[PodInfo],
                                   pdbs: Sequence[Obj]) -> tuple[list[PodInfo], list[PodInfo]]:
    """(violating, non-violating): evicting a pod whose PDB allows no more disruptions violates it; budgets are
    consumed in order, so the later pods of one PDB violate once it is used up."""
    allowed = [int((p.get("status") or {}).get("disruptionsAllowed") or 0) for p in pdbs]
    selectors: list[LabelSelector | None] = []
    for p in pdbs:
        try:
            selectors.append(label_selector_from_dict((p.get("spec") or {}).get("selector")))
        except ValueError:
            selectors.append(None)
    violating: list[PodInfo] = []
    ok: list[PodInfo] = []
    for pi in pods:
        violated = False
        if pi.labels:
            for i, pdb in enumerate(pdbs):
                sel = selectors[i]
                if (pdb["metadata"].get("namespace") != pi.namespace or sel is None or sel.empty
                        or not sel.matches(pi.labels)):
                    continue
                if pi.name in ((pdb.get("status") or {}).get("disruptedPods") or {}):
                    continue
                allowed[i] -= 1
                if allowed[i] < 0:
                    violated = True
        (violating if violated else ok).append(pi)
    return violating, ok


def earliest_start_of_most_important(victims: Sequence[PodInfo]) -> str:
    top = max(v.priority for v in victims)
    return min(start_time(v) for v in victims if v.priority == top)


def pick_one_node_for_preemption(candidates: Sequence[Candidate]) -> Candidate | None:
    """Upstream pickOneNodeForPreemption: successive tie-breakers, each keeping the best-scoring nodes."""
    if not candidates:
        return None
    funcs = (
        lambda c: -c.num_pdb_violations,
        lambda c: -c.victims[0].priority,
        lambda c: -sum(v.priority + MAX_INT32 + 1 for v in c.victims),
        lambda c: -len(c.victims),
    )
    remaining = list(candidates)
    for f in funcs:
        best = max(f(c) for c in remaining)
        remaining = [c for c in remaining if f(c) == best]
        if len(remaining) == 1:
            return remaining[0]
    latest = max(earliest_start_of_most_important(c.victims) for c in remaining)
    remaining = [c for c in remaining if earliest_start_of_most_important(c.victims) == latest]
    return remaining[0]


class DefaultPreemption:
    name: ClassVar[str] = NAME

    def __init__(self, handle: Any = None, *, min_candidate_nodes_percentage: int = 10,
                 min_candidate_nodes_absolute: int = 100) -> None:
        self.handle = handle
        self.min_pct = min_candidate_nodes_percentage
        self.min_abs = min_candidate_nodes_absolute

    # ---------------------------------------------------------------------------------------------- entry
    def post_filter(self, state: CycleState, pod: Obj,
                    node_to_status: NodeToStatus) -> tuple[PostFilterResult | None, Status | None]:
        result, st = self.preempt(state, pod, node_to_status)
        msg = st.message() if st is not None else ""
        if msg:
            return result, Status(st.code, (f"preemption: {msg}",))      # type: ignore[union-attr]
        return result, st

    def preempt(self, state: CycleState, pod: Obj,
                node_to_status: NodeToStatus) -> tuple[PostFilterResult | None, Status | None]:
        meta = pod.get("metadata") or {}
        live = self.handle.listers.pod(meta.get("namespace") or "", meta.get("name") or "")
        if live is not None:
            pod = live
        pi = state.pod_info if state.pod_info is not None else PodInfo(pod)
        nominated = self._nominated_node(pod, pi)
        ok, msg = self.pod_eligible_to_preempt_others(pod, pi, nominated, node_to_status.get(nominated)
                                                      if nominated else None)
        if not ok:
            return None, Status(Code.UNSCHEDULABLE, (msg,))
        all_nodes = self.handle.snapshot.node_list()
        candidates, statuses, err = self.find_candidates(state, pod, pi, all_nodes, node_to_status)
        if err is not None and not candidates:
            return None, err
        if not candidates:
            statuses.absent = unresolvable(NOT_HELPFUL)
            fit = FitError(len(all_nodes), Diagnosis(node_to_status=statuses))
            return None, Status(Code.UNSCHEDULABLE, (fit.message(),))
        best = pick_one_node_for_preemption(candidates)
        if best is None:
            return None, Status(Code.UNSCHEDULABLE, ("no candidate node for preemption",))
        self.prepare_candidate(best, pod, pi)
        return PostFilterResult(NominatingInfo(best.name, NominatingMode.OVERRIDE)), Status()

    def _nominated_node(self, pod: Obj, pi: PodInfo) -> str:
        nnn = (pod.get("status") or {}).get("nominatedNodeName") or ""
        nominator = self.handle.nominator
        if not nnn and nominator is not None:
            nnn = nominator.nominated_node(pi.uid)
        return nnn

    def pod_eligible_to_preempt_others(self, pod: Obj, pi: PodInfo, nominated: str,
                                       nominated_status: Status | None) -> tuple[bool, str]:
        if (pod.get("spec") or {}).get("preemptionPolicy") == "Never":
            return False, NOT_ELIGIBLE_NEVER
        if nominated:
            if nominated_status is not None and nominated_status.code == Code.UNRESOLVABLE:
                return True, ""
            node = self.handle.snapshot.get(nominated)
            if node is not None:
                for p in node.pods.values():
                    if p.priority < pi.priority and terminating_by_preemption(p):
                        return False, NOT_ELIGIBLE_TERMINATING
        return True, ""

    # ---------------------------------------------------------------------------------------------- candidates
    def num_candidates(self, num_nodes: int) -> int:
        n = num_nodes * self.min_pct // 100
        return min(max(n, self.min_abs), num_nodes)

    def find_candidates(self, state: CycleState, pod: Obj, pi: PodInfo, all_nodes: Sequence[Any],
                        node_to_status: NodeToStatus) -> tuple[list[Candidate], NodeToStatus, Status | None]:
        if not all_nodes:
            return [], NodeToStatus(), as_error("no nodes available")
        potential = node_to_status.nodes_for_code(all_nodes, Code.UNSCHEDULABLE)
        if not potential:
            if (pod.get("status") or {}).get("nominatedNodeName"):
                self.handle.spawn(self._clear_nominated(pi))
            return [], NodeToStatus(), None
        pdbs = self.handle.listers.pdbs()
        offset = self.handle.rng.randrange(len(potential))
        return self.dry_run_preemption(state, pod, pi, potential, pdbs, offset, self.num_candidates(len(potential)))

    def dry_run_preemption(self, state: CycleState, pod: Obj, pi: PodInfo, potential: Sequence[Any],
                           pdbs: Sequence[Obj], offset: int,
                           num_candidates: int) -> tuple[list[Candidate], NodeToStatus, Status | None]:
        ok: list[Candidate] = []
        violating: list[Candidate] = []
        statuses = NodeToStatus()
        first_err: Status | None = None
        n = len(potential)
        for i in range(n):
            node = potential[(offset + i) % n]
            victims, num_violations, st = self.select_victims_on_node(state.clone(), pod, pi, node.clone(), pdbs)
            if (st is None or st.is_success()) and victims:
                (ok if num_violations == 0 else violating).append(Candidate(node.name, victims, num_violations))
                if ok and len(ok) + len(violating) >= num_candidates:
                    break
                continue
            if st is None or st.is_success():
                st = as_error(f'expected at least one victim pod on node "{node.name}"')
            if st.code == Code.ERROR and first_err is None:
                first_err = st
            statuses.set(node.name, st)
        return ok + violating, statuses, first_err

    def select_victims_on_node(self, state: CycleState, pod: Obj, pi: PodInfo, node: Any,
                               pdbs: Sequence[Obj]) -> tuple[list[PodInfo], int, Status | None]:
        """On ``node`` (a copy): the fewest lower-priority pods to evict so the pod fits, and how many of them
        violate a PDB; or the filter status saying it cannot fit even with all of them gone."""
        fwk = self.handle.framework
        potential = [p for p in node.pods.values() if p.priority < pi.priority]
        if not potential:
            return [], 0, unresolvable(NO_VICTIMS)
        for p in potential:
            node.remove_pod(p.uid)
            st = fwk.run_pre_filter_extension_remove_pod(state, pod, p, node)
            if st is not None:
                return [], 0, st
        st = fwk.run_filter_with_nominated(state, pod, node)
        if st is not None and not st.is_success():
            return [], 0, st
        potential.sort(key=importance_key)
        violating, ok = filter_pods_with_pdb_violation(potential, pdbs)
        victims: list[PodInfo] = []

        def reprieve(p: PodInfo) -> bool:
            node.add_pod(p)
            fwk.run_pre_filter_extension_add_pod(state, pod, p, node)
            st = fwk.run_filter_with_nominated(state, pod, node)
            if st is None or st.is_success():
                return True
            node.remove_pod(p.uid)
            fwk.run_pre_filter_extension_remove_pod(state, pod, p, node)
            victims.append(p)
            return False

        num_violating = sum(1 for p in violating if not reprieve(p))
        for p in ok:
            reprieve(p)
        victims.sort(key=importance_key)
        return victims, num_violating, None

    # ---------------------------------------------------------------------------------------------- eviction
    def prepare_candidate(self, c: Candidate, pod: Obj, pi: PodInfo) -> None:
        """Evict the victims (in the background) and drop lower-priority nominations on the node."""
        fwk = self.handle.framework
        for v in c.victims:
            if v.deleting:
                continue
            wp = fwk.waiting_pods.get(v.uid) if fwk is not None else None
            if wp is not None:
                wp.reject(NAME, "preempted")
                continue
            self.handle.spawn(self._evict(v, pod, c.name))
        nominator = self.handle.nominator
        if nominator is not None:
            for npi in nominator.nominated_pods_for_node(c.name):
                if npi.priority < pi.priority and npi.uid != pi.uid:
                    nominator.delete(npi.uid)
                    self.handle.spawn(self._clear_nominated(npi))

    async def _evict(self, victim: PodInfo, preemptor: Obj, node: str) -> None:
        from pybernetes.client.resources import PODS
        client = self.handle.client
        if client is None:
            return
        scheduler = (preemptor.get("spec") or {}).get("schedulerName") or "default-scheduler"
        cond = {"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                "lastTransitionTime": format_rfc3339(self.handle.clock.now()), "reason": PREEMPTION_REASON,
                "message": f"{scheduler}: preempting to accommodate a higher priority pod"}
        try:
            await client.patch(PODS, victim.name, {"status": {"conditions": [cond]}}, victim.namespace,
                               patch_type="strategic", subresource="status")
            await client.delete(PODS, victim.name, victim.namespace,
                                preconditions={"uid": victim.uid} if victim.uid else None)
        except APIStatusError as e:
            if e.code != 404:
                log.warning("preemption: deleting victim failed", extra={"pod": victim.key, "error": str(e)})
            return
        recorder = self.handle.recorder
        if recorder is not None:
            uid = (preemptor.get("metadata") or {}).get("uid", "")
            recorder.event(victim.pod, "Normal", "Preempted", f"Preempted by pod {uid} on node {node}")

    async def _clear_nominated(self, pi: PodInfo) -> None:
        from pybernetes.client.resources import PODS
        client = self.handle.client
        if client is None:
            return
        try:
            await client.patch(PODS, pi.name, {"status": {"nominatedNodeName": None}}, pi.namespace,
                               patch_type="merge", subresource="status")
        except APIStatusError as e:
            log.debug("clearing nominatedNodeName failed", extra={"pod": pi.key, "error": str(e)})


def new(args: dict[str, Any], handle: Any) -> DefaultPreemption:
    return DefaultPreemption(handle, min_candidate_nodes_percentage=int(args.get("minCandidateNodesPercentage", 10)),
                             min_candidate_nodes_absolute=int(args.get("minCandidateNodesAbsolute", 100)))


_: PostFilterPlugin = DefaultPreemption()
