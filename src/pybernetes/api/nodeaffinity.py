"""Node selectors and required node affinity, as upstream's ``component-helpers/scheduling/corev1/nodeaffinity``.

One matcher for everything that asks "may this run on that node?": the scheduler's NodeAffinity and VolumeBinding
plugins, the DaemonSet controller (which nodes should run a daemon pod) and the PersistentVolume binder (which
volumes a node can reach), as upstream's scheduler, ``daemon/util`` and ``storage/volume`` helpers all call the
same package.

Required terms are ORed; a term's requirements are ANDed; a term with no requirements, or with an invalid one,
matches nothing (upstream's lazy parse errors). ``matchFields`` supports only ``metadata.name`` with ``In``/``NotIn``
and one value; ``Gt``/``Lt`` compare base-10 int64 values. A node is anything with ``name`` and ``labels``
attributes (the scheduler's NodeInfo, or :func:`node_view` of a Node object).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

Obj = dict[str, Any]
_OPERATORS = frozenset(("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"))
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


class NodeView(NamedTuple):
    """The two facts a node selector reads from a Node object."""

    name: str
    labels: Mapping[str, str]


def node_view(node: Obj) -> NodeView:
    meta = node.get("metadata") or {}
    return NodeView(meta.get("name", ""), meta.get("labels") or {})


def node_matches_term(node: Obj, term: Obj) -> bool:
    """Whether one node selector term matches a Node object."""
    return parse_term(term).matches(node_view(node))


def match_node_selector_terms(terms: Iterable[Obj], node: Obj) -> bool:
    """Upstream ``MatchNodeSelectorTerms``: any of the terms matches the Node object."""
    view = node_view(node)
    return any(parse_term(t).matches(view) for t in terms)


def volume_node_terms(pv: Obj) -> tuple[NodeSelectorTerm, ...] | None:
    """A PersistentVolume's required node affinity terms (None: no restriction), as ``CheckNodeAffinity`` reads them."""
    req = (((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required"))
    if req is None:
        return None
    return tuple(parse_term(t) for t in req.get("nodeSelectorTerms") or ())


def terms_allow(terms: tuple[NodeSelectorTerm, ...] | None, node: Any) -> bool:
    """No terms (None) allow every node; otherwise any term must match."""
    return terms is None or any(t.matches(node) for t in terms)
