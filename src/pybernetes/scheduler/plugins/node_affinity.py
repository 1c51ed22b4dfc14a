"""NodeAffinity: ``spec.nodeSelector`` and required node affinity filter nodes; preferred node affinity scores
them (upstream ``plugins/nodeaffinity`` and ``component-helpers/scheduling/corev1/nodeaffinity``).

The matching itself (terms ORed, requirements ANDed, invalid or empty terms matching nothing) is shared with the
DaemonSet controller and the PV binder in :mod:`pybernetes.api.nodeaffinity`. A required affinity whose every term
names nodes by ``metadata.name In`` lets PreFilter narrow the candidates to those nodes (as for DaemonSet pods).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pybernetes.api.nodeaffinity import (
    NodeSelectorTerm,
    RequiredNodeAffinity,
    Requirement,
    parse_term,
    required_node_affinity,
)
from pybernetes.scheduler.framework import (
    NODE,
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
NAME = "NodeAffinity"
PRE_FILTER_KEY = "PreFilter" + NAME
PRE_SCORE_KEY = "PreScore" + NAME
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_CONFLICT = "pod affinity terms conflict"
ERR_REASON_ENFORCED = "node(s) didn't match scheduler-enforced node affinity"
_REJECT = unresolvable(ERR_REASON_POD, plugin=NAME)
_REJECT_ENFORCED = unresolvable(ERR_REASON_ENFORCED, plugin=NAME)

__all__ = ["NAME", "NodeAffinity", "NodeSelectorTerm", "RequiredNodeAffinity", "Requirement", "fits", "new",
           "parse_term", "preferred_terms", "required_node_affinity"]



def preferred_terms(pod: Obj) -> tuple[tuple[int, NodeSelectorTerm], ...]:
    na = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    out = []
    for t in na.get("preferredDuringSchedulingIgnoredDuringExecution") or ():
        weight = int(t.get("weight") or 0)
        if weight == 0:
            continue
        term = parse_term(t.get("preference"))
        if term.valid and (term.labels or term.fields):
            out.append((weight, term))
    return tuple(out)


def fits(pod: Obj, node: Any) -> bool:
    return required_node_affinity(pod).matches(node)


def _node_names(terms: Sequence[Obj]) -> frozenset[str] | None:
    """Nodes the required terms can only match by name (metadata.name In), or None for "any node"."""
    names: set[str] | None = None
    for t in terms:
        term_names: set[str] | None = None
        for r in t.get("matchFields") or ():
            if r.get("key") == "metadata.name" and r.get("operator") == "In":
                vals = set(r.get("values") or ())
                term_names = vals if term_names is None else term_names & vals
        if term_names is None:
            return None                      # this term does not restrict names; terms are ORed
        names = term_names if names is None else names | term_names
    return None if names is None else frozenset(names)


class NodeAffinity:
    name: ClassVar[str] = NAME
    requeue_on = (ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL | ActionType.UPDATE_NODE_TAINT),)

    def __init__(self, added_affinity: Obj | None = None) -> None:
        added = (added_affinity or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
        self.added: tuple[NodeSelectorTerm, ...] | None = (
            None if added is None else tuple(parse_term(t) for t in added.get("nodeSelectorTerms") or ()))
        self.added_preferred = tuple(
            (int(t.get("weight") or 0), parse_term(t.get("preference")))
            for t in (added_affinity or {}).get("preferredDuringSchedulingIgnoredDuringExecution") or ()
            if int(t.get("weight") or 0))

    def pre_filter(self, state: CycleState, pod: Obj) -> tuple[PreFilterResult | None, Status | None]:
        spec = pod.get("spec") or {}
        na = (spec.get("affinity") or {}).get("nodeAffinity") or {}
        req = na.get("requiredDuringSchedulingIgnoredDuringExecution")
        if req is None and self.added is None and not spec.get("nodeSelector"):
            return None, SKIP
        state.write(PRE_FILTER_KEY, required_node_affinity(pod))
        terms = (req or {}).get("nodeSelectorTerms") or ()
        if not terms:
            return None, None
        names = _node_names(terms)
        if names is None:
            return None, None
        if not names:
            return None, unresolvable(ERR_REASON_CONFLICT, plugin=NAME)
        return PreFilterResult(names), None

    def filter(self, state: CycleState, pod: Obj, node: Any) -> Status | None:
        if self.added is not None and not any(t.matches(node) for t in self.added):
            return _REJECT_ENFORCED
        req = state.get(PRE_FILTER_KEY)
        if req is None:
            req = required_node_affinity(pod)
        return None if req.matches(node) else _REJECT

    def pre_score(self, state: CycleState, pod: Obj, nodes: Sequence[Any]) -> Status | None:
        terms = preferred_terms(pod)
        if not terms and not self.added_preferred:
            return SKIP
        state.write(PRE_SCORE_KEY, terms + self.added_preferred)
        return None

    def score(self, state: CycleState, pod: Obj, node: Any) -> int:
        terms = state.get(PRE_SCORE_KEY)
        if terms is None:
            terms = preferred_terms(pod) + self.added_preferred
        return sum(w for w, t in terms if t.matches(node))

    def normalize_score(self, state: CycleState, pod: Obj, scores: list[int]) -> None:
        default_normalize_score(scores)


def new(args: dict[str, Any], handle: Any) -> NodeAffinity:
    return NodeAffinity(args.get("addedAffinity"))


_: FilterPlugin = NodeAffinity()
_s: ScorePlugin = NodeAffinity()

