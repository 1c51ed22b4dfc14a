"""NodeAffinity: ``spec.nodeSelector`` and required node affinity filter nodes; preferred node affinity scores
them (upstream ``plugins/nodeaffinity`` and ``component-helpers/scheduling/corev1/nodeaffinity``).

Required terms are ORed; a term's requirements are ANDed; a term with no requirements, or with an invalid one,
matches nothing. ``matchFields`` supports only ``metadata.name``; a required affinity whose every term names
nodes by ``metadata.name In`` lets PreFilter narrow the candidates to those nodes (as for DaemonSet pods).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

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
_OPERATORS = frozenset(("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"))
_REJECT = unresolvable(ERR_REASON_POD, plugin=NAME)
_REJECT_ENFORCED = unresolvable(ERR_REASON_ENFORCED, plugin=NAME)
_INT = re.compile(r"[+-]?[0-9]+")


def _parse_int64(s: str) -> int | None:
    """strconv.ParseInt(s, 10, 64): None when not a base-10 int64."""
    if not _INT.fullmatch(s):
        return None
    n = int(s)
    return n if -(1 << 63) <= n < (1 << 63) else None


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: str
    values: frozenset[str]
    number: int = 0

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op == "In":
            v = labels.get(self.key)
            return v is not None and v in self.values
        if op == "NotIn":
            v = labels.get(self.key)
            return v is None or v not in self.values
        if op == "Exists":
            return self.key in labels
        if op == "DoesNotExist":
            return self.key not in labels
        v = labels.get(self.key)
        n = _parse_int64(v) if v is not None else None
        if n is None:
            return False
        return n > self.number if op == "Gt" else n < self.number


def _requirement(req: Obj, *, field: bool) -> Requirement | None:
    """A parsed requirement, or None when invalid (upstream's parse error)."""
    key, op = req.get("key") or "", req.get("operator") or ""
    values = tuple(req.get("values") or ())
    if op not in _OPERATORS or (field and (key != "metadata.name" or op not in ("In", "NotIn"))):
        return None
    if op in ("In", "NotIn"):
        if not values or (field and len(values) != 1):
            return None
    elif op in ("Exists", "DoesNotExist"):
        if values:
            return None
    else:
        if len(values) != 1 or _parse_int64(values[0]) is None:
            return None
        return Requirement(key, op, frozenset(values), _parse_int64(values[0]) or 0)
    return Requirement(key, op, frozenset(values))


@dataclass(frozen=True, slots=True)
class NodeSelectorTerm:
    labels: tuple[Requirement, ...]
    fields: tuple[Requirement, ...]
    valid: bool

    def matches(self, node: Any) -> bool:
        if not self.valid or (not self.labels and not self.fields):
            return False
        node_labels = node.labels
        for r in self.labels:
            if not r.matches(node_labels):
                return False
        if self.fields:
            name_fields = {"metadata.name": node.name}
            for r in self.fields:
                if not r.matches(name_fields):
                    return False
        return True


def parse_term(term: Obj | None) -> NodeSelectorTerm:
    term = term or {}
    labels, fields, valid = [], [], True
    for r in term.get("matchExpressions") or ():
        req = _requirement(r, field=False)
        valid = valid and req is not None
        if req is not None:
            labels.append(req)
    for r in term.get("matchFields") or ():
        req = _requirement(r, field=True)
        valid = valid and req is not None
        if req is not None:
            fields.append(req)
    return NodeSelectorTerm(tuple(labels), tuple(fields), valid)


@dataclass(frozen=True, slots=True)
class RequiredNodeAffinity:
    """``nodeSelector`` plus the required node selector terms (None: no required affinity)."""
    selector: tuple[tuple[str, str], ...]
    terms: tuple[NodeSelectorTerm, ...] | None

    def matches(self, node: Any) -> bool:
        labels = node.labels
        for k, v in self.selector:
            if labels.get(k) != v:
                return False
        if self.terms is None:
            return True
        return any(t.matches(node) for t in self.terms)

    @property
    def empty(self) -> bool:
        return not self.selector and self.terms is None


def required_node_affinity(pod: Obj) -> RequiredNodeAffinity:
    spec = pod.get("spec") or {}
    selector = tuple((spec.get("nodeSelector") or {}).items())
    na = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    req = na.get("requiredDuringSchedulingIgnoredDuringExecution")
    terms = None if req is None else tuple(parse_term(t) for t in req.get("nodeSelectorTerms") or ())
    return RequiredNodeAffinity(selector, terms)


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
