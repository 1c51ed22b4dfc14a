"""InterPodAffinity: pod affinity and anti-affinity, the pod's own and the required anti-affinity of pods already
running (upstream ``plugins/interpodaffinity``).

PreFilter counts, per topology domain (label key, value), the existing pods matching each of the incoming pod's
required terms, and the existing pods whose required anti-affinity terms match the incoming pod; Filter then
only looks up the node's domains. A pod whose required affinity matches itself may start a group: when no pod in
the cluster matches its terms, a node with all the topology keys passes. Scoring sums term weights per domain:
the incoming pod's preferred terms over existing pods, and existing pods' required (weight 1) and preferred terms
over the incoming pod, then scales to [0, 100] by (score − min) / (max − min).

PreFilter Skips when the pod has no required terms and no running pod has required anti-affinity; PreScore
Skips when nothing contributes — the common case costs nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from pybernetes.api.selectors import NOTHING
from pybernetes.scheduler.framework import (
    MAX_NODE_SCORE,
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
    unschedulable,
)
from pybernetes.scheduler.podinfo import AffinityTerm, PodInfo, WeightedAffinityTerm

Obj = dict[str, Any]
NAME = "InterPodAffinity"
PRE_FILTER_KEY = "PreFilter" + NAME
PRE_SCORE_KEY = "PreScore" + NAME
ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_REASON_AFFINITY_RULES_NOT_MATCH = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH = "node(s) didn't match pod anti-affinity rules"
_REJECT_AFFINITY = unresolvable(ERR_REASON_AFFINITY_RULES_NOT_MATCH, plugin=NAME)
_REJECT_ANTI = unschedulable(ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH, plugin=NAME)
_REJECT_EXISTING = unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH, plugin=NAME)
Counts = dict[tuple[str, str], int]


def _bump(counts: Counts, labels: Mapping[str, str], key: str, value: int) -> None:
    tv = labels.get(key)
    if tv is None:
        return
    pair = (key, tv)
    n = counts.get(pair, 0) + value
    if n:
        counts[pair] = n
    else:
        counts.pop(pair, None)


def pod_matches_all_terms(terms: Sequence[AffinityTerm], pod: PodInfo) -> bool:
    return bool(terms) and all(t.matches(pod, None) for t in terms)


def update_with_affinity_terms(counts: Counts, terms: Sequence[AffinityTerm], pod: PodInfo,
                               labels: Mapping[str, str], value: int) -> None:
    """An existing pod counts for the incoming pod's affinity only if it matches *all* its terms."""
    if pod_matches_all_terms(terms, pod):
        for t in terms:
            _bump(counts, labels, t.topology_key, value)


def update_with_anti_affinity_terms(counts: Counts, terms: Sequence[AffinityTerm], pod: PodInfo,
                                    ns_labels: Mapping[str, str] | None, labels: Mapping[str, str],
                                    value: int) -> None:
    for t in terms:
        if t.matches(pod, ns_labels):
            _bump(counts, labels, t.topology_key, value)


class _FilterState:
    __slots__ = ("affinity", "affinity_counts", "anti", "anti_counts", "existing_anti_counts", "ns_labels",
                 "pod_info")

    def __init__(self, pod_info: PodInfo, affinity: tuple[AffinityTerm, ...], anti: tuple[AffinityTerm, ...],
                 ns_labels: Mapping[str, str]) -> None:
        self.pod_info = pod_info
        self.affinity, self.anti = affinity, anti
        self.ns_labels = ns_labels
        self.existing_anti_counts: Counts = {}
        self.affinity_counts: Counts = {}
        self.anti_counts: Counts = {}

    def clone(self) -> _FilterState:
        c = _FilterState(self.pod_info, self.affinity, self.anti, self.ns_labels)
        c.existing_anti_counts = dict(self.existing_anti_counts)
        c.affinity_counts = dict(self.affinity_counts)
        c.anti_counts = dict(self.anti_counts)
        return c

    def update_with_pod(self, pi: PodInfo, labels: Mapping[str, str], value: int) -> None:
        update_with_anti_affinity_terms(self.existing_anti_counts, pi.required_anti_affinity, self.pod_info,
                                        self.ns_labels, labels, value)
        update_with_affinity_terms(self.affinity_counts, self.affinity, pi, labels, value)
        update_with_anti_affinity_terms(self.anti_counts, self.anti, pi, None, labels, value)


def satisfy_pod_affinity(s: _FilterState, labels: Mapping[str, str]) -> bool:
    pods_exist = True
    for t in s.affinity:
        tv = labels.get(t.topology_key)
        if tv is None:
            return False                 # every topology key must exist on the node
        if s.affinity_counts.get((t.topology_key, tv), 0) <= 0:
            pods_exist = False
    if pods_exist:
        return True
    # the first pod of a group with affinity to itself
    return not s.affinity_counts and pod_matches_all_terms(s.affinity, s.pod_info)


def satisfy_pod_anti_affinity(s: _FilterState, labels: Mapping[str, str]) -> bool:
    for t in s.anti:
        tv = labels.get(t.topology_key)
        if tv is not None and s.anti_counts.get((t.topology_key, tv), 0) > 0:
            return False
    return True


def satisfy_existing_pods_anti_affinity(s: _FilterState, labels: Mapping[str, str]) -> bool:
    counts = s.existing_anti_counts
    if counts:
        for kv in labels.items():
            if counts.get(kv, 0) > 0:
                return False
    return True


class InterPodAffinity:
    name: ClassVar[str] = NAME
    requeue_on = (ClusterEvent(POD, ActionType.ADD | ActionType.UPDATE_POD_LABEL | ActionType.DELETE),
                  ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL | ActionType.UPDATE_NODE_TAINT))

    def __init__(self, handle: Any = None, *, hard_pod_affinity_weight: int = 1,
                 ignore_preferred_terms_of_existing_pods: bool = False) -> None:
        self.handle = handle
        self.hard_weight = hard_pod_affinity_weight
        self.ignore_existing_preferred = ignore_preferred_terms_of_existing_pods

    # ---------------------------------------------------------------------------------------------- helpers
    def _ns_labels(self, namespace: str) -> Mapping[str, str]:
        listers = getattr(self.handle, "listers", None)
        return (listers.namespace_labels(namespace) if listers is not None else None) or {}

    def _merge_namespaces(self, terms: Iterable[AffinityTerm]) -> tuple[AffinityTerm, ...]:
        """Turn a term's namespaceSelector into namespace names (a ``{}`` selector stays: it matches all)."""
        out = []
        listers = getattr(self.handle, "listers", None)
        for t in terms:
            sel = t.namespace_selector
            if sel is NOTHING or sel.empty or listers is None:
                out.append(t)
                continue
            names = {n["metadata"]["name"] for n in listers.namespaces()
                     if sel.matches(n["metadata"].get("labels") or {})}
            out.append(dataclasses.replace(t, namespaces=t.namespaces | names, namespace_selector=NOTHING))
        return tuple(out)

    def _snapshot(self) -> Any:
        return self.handle.snapshot

    # ---------------------------------------------------------------------------------------------- filter
    def pre_filter(self, state: CycleState, pod: Obj) -> tuple[PreFilterResult | None, Status | None]:
        pi = state.pod_info if state.pod_info is not None else PodInfo(pod)
        snap = self._snapshot()
        with_anti = snap.have_pods_with_required_anti_affinity()
        if not pi.required_affinity and not pi.required_anti_affinity and not with_anti:
            return None, SKIP
        s = _FilterState(pi, self._merge_namespaces(pi.required_affinity),
                         self._merge_namespaces(pi.required_anti_affinity), self._ns_labels(pi.namespace))
        for node in with_anti:
            for epi in node.pods_with_required_anti_affinity.values():
                update_with_anti_affinity_terms(s.existing_anti_counts, epi.required_anti_affinity, pi,
                                                s.ns_labels, node.labels, 1)
        if s.affinity or s.anti:
            for node in snap.node_list():
                labels = node.labels
                for epi in node.pods.values():
                    if s.affinity:
                        update_with_affinity_terms(s.affinity_counts, s.affinity, epi, labels, 1)
                    if s.anti:
                        update_with_anti_affinity_terms(s.anti_counts, s.anti, epi, None, labels, 1)
        state.write(PRE_FILTER_KEY, s)
        return None, None

    def add_pod(self, state: CycleState, pod: Obj, pi: PodInfo, node: Any) -> Status | None:
        s = state.get(PRE_FILTER_KEY)
        if s is not None:
            s.update_with_pod(pi, node.labels, 1)
        return None

    def remove_pod(self, state: CycleState, pod: Obj, pi: PodInfo, node: Any) -> Status | None:
        s = state.get(PRE_FILTER_KEY)
        if s is not None:
            s.update_with_pod(pi, node.labels, -1)
        return None

    def filter(self, state: CycleState, pod: Obj, node: Any) -> Status | None:
        s = state.get(PRE_FILTER_KEY)
        if s is None:
            return None
        labels = node.labels
        if s.affinity and not satisfy_pod_affinity(s, labels):
            return _REJECT_AFFINITY
        if s.anti and not satisfy_pod_anti_affinity(s, labels):
            return _REJECT_ANTI
        if not satisfy_existing_pods_anti_affinity(s, labels):
            return _REJECT_EXISTING
        return None

    # ---------------------------------------------------------------------------------------------- score
    def pre_score(self, state: CycleState, pod: Obj, nodes: Sequence[Any]) -> Status | None:
        if not nodes:
            return None
        pi = state.pod_info if state.pod_info is not None else PodInfo(pod)
        has_constraints = bool(pi.preferred_affinity or pi.preferred_anti_affinity)
        if self.ignore_existing_preferred and not has_constraints:
            return SKIP
        snap = self._snapshot()
        all_nodes = snap.node_list() if has_constraints else snap.have_pods_with_affinity()
        if not all_nodes:
            return SKIP
        pref = tuple(WeightedAffinityTerm(t, w.weight) for w, t in
                     zip(pi.preferred_affinity, self._merge_namespaces(w.term for w in pi.preferred_affinity),
                         strict=True))
        pref_anti = tuple(WeightedAffinityTerm(t, w.weight) for w, t in
                          zip(pi.preferred_anti_affinity,
                              self._merge_namespaces(w.term for w in pi.preferred_anti_affinity), strict=True))
        ns_labels = self._ns_labels(pi.namespace)
        scores: dict[str, dict[str, int]] = {}

        def add(term: AffinityTerm, weight: int, target: PodInfo, labels: Mapping[str, str],
                target_ns_labels: Mapping[str, str] | None) -> None:
            if term.matches(target, target_ns_labels):
                tv = labels.get(term.topology_key)
                if tv is not None:
                    d = scores.setdefault(term.topology_key, {})
                    d[tv] = d.get(tv, 0) + weight

        for node in all_nodes:
            labels = node.labels
            if not labels:
                continue
            pods = node.pods.values() if has_constraints else node.pods_with_affinity.values()
            for epi in pods:
                for w in pref:
                    add(w.term, w.weight, epi, labels, None)
                for w in pref_anti:
                    add(w.term, -w.weight, epi, labels, None)
                if self.hard_weight > 0:
                    for t in epi.required_affinity:
                        add(t, self.hard_weight, pi, labels, ns_labels)
                for w in epi.preferred_affinity:
                    add(w.term, w.weight, pi, labels, ns_labels)
                for w in epi.preferred_anti_affinity:
                    add(w.term, -w.weight, pi, labels, ns_labels)
        if not scores:
            return SKIP
        state.write(PRE_SCORE_KEY, scores)
        return None

    def score(self, state: CycleState, pod: Obj, node: Any) -> int:
        scores = state.get(PRE_SCORE_KEY) or {}
        labels = node.labels
        total = 0
        for key, values in scores.items():
            v = labels.get(key)
            if v is not None:
                total += values.get(v, 0)
        return total

    def normalize_score(self, state: CycleState, pod: Obj, scores: list[int]) -> None:
        if not state.get(PRE_SCORE_KEY) or not scores:
            return
        lo, hi = min(scores), max(scores)
        diff = hi - lo
        scores[:] = [int(MAX_NODE_SCORE * ((s - lo) / diff)) if diff > 0 else 0 for s in scores]


def new(args: dict[str, Any], handle: Any) -> InterPodAffinity:
    return InterPodAffinity(handle, hard_pod_affinity_weight=int(args.get("hardPodAffinityWeight", 1)),
                            ignore_preferred_terms_of_existing_pods=bool(
                                args.get("ignorePreferredTermsOfExistingPods", False)))


_: FilterPlugin = InterPodAffinity()
_s: ScorePlugin = InterPodAffinity()
