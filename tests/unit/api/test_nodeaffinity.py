"""The shared node selector matcher: upstream component-helpers nodeaffinity semantics, on views and Node objects."""

from __future__ import annotations

from typing import Any

import pytest

from pybernetes.api.nodeaffinity import (
    NodeView,
    match_node_selector_terms,
    node_matches_term,
    node_view,
    parse_term,
    required_node_affinity,
    terms_allow,
    volume_node_terms,
)

Obj = dict[str, Any]
NODE = NodeView("n1", {"zone": "a", "cpus": "8", "gpu": ""})


def _expr(key: str, op: str, *values: str) -> Obj:
    return {"key": key, "operator": op, **({"values": list(values)} if values else {})}


@pytest.mark.parametrize(("term", "want"), [
    ({"matchExpressions": [_expr("zone", "In", "a", "b")]}, True),
    ({"matchExpressions": [_expr("zone", "In", "b")]}, False),
    ({"matchExpressions": [_expr("zone", "NotIn", "b")]}, True),
    ({"matchExpressions": [_expr("missing", "NotIn", "b")]}, True),
    ({"matchExpressions": [_expr("gpu", "Exists")]}, True),
    ({"matchExpressions": [_expr("gpu", "DoesNotExist")]}, False),
    ({"matchExpressions": [_expr("cpus", "Gt", "4")]}, True),
    ({"matchExpressions": [_expr("cpus", "Gt", "+4")]}, True),                # strconv.ParseInt takes a sign
    ({"matchExpressions": [_expr("cpus", "Lt", "4")]}, False),
    ({"matchExpressions": [_expr("zone", "Gt", "4")]}, False),                # a label that is no int64
    ({"matchExpressions": [_expr("zone", "In", "a"), _expr("cpus", "Lt", "4")]}, False),   # ANDed
    ({"matchFields": [_expr("metadata.name", "In", "n1")]}, True),
    ({"matchFields": [_expr("metadata.name", "NotIn", "n1")]}, False),
    ({}, False),                                                              # no requirement: matches nothing
    ({"matchExpressions": [_expr("zone", "Sometimes", "a")]}, False),         # invalid operator
    ({"matchExpressions": [_expr("zone", "In")]}, False),                     # In needs values
    ({"matchExpressions": [_expr("zone", "Exists", "a")]}, False),            # Exists takes none
    ({"matchExpressions": [_expr("cpus", "Gt", "4", "5")]}, False),           # Gt takes one int
    ({"matchFields": [_expr("metadata.labels", "In", "x")]}, False),          # only metadata.name
    ({"matchFields": [_expr("metadata.name", "In", "n1", "n2")]}, False),     # and one value
    ({"matchFields": [_expr("metadata.name", "Exists")]}, False),             # with In/NotIn
])
def test_term(term: Obj, want: bool) -> None:
    assert parse_term(term).matches(NODE) is want
    assert node_matches_term({"metadata": {"name": NODE.name, "labels": dict(NODE.labels)}}, term) is want


def test_terms_are_ored_and_an_invalid_term_spoils_only_itself() -> None:
    node = {"metadata": {"name": "n1", "labels": {"zone": "a"}}}
    bad = {"matchExpressions": [_expr("zone", "Sometimes")]}
    good = {"matchExpressions": [_expr("zone", "In", "a")]}
    assert match_node_selector_terms([bad, good], node)
    assert not match_node_selector_terms([bad], node)
    assert not match_node_selector_terms([], node)


@pytest.mark.parametrize(("spec", "want"), [
    ({}, True),
    ({"nodeSelector": {"zone": "a"}}, True),
    ({"nodeSelector": {"zone": "b"}}, False),
    ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [_expr("zone", "In", "b")]}, {"matchFields": [_expr("metadata.name", "In", "n1")]}]}}}},
     True),
    ({"nodeSelector": {"zone": "b"}, "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [_expr("metadata.name", "In", "n1")]}]}}}}, False),
    ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}}},
     False),
])
def test_required_node_affinity(spec: Obj, want: bool) -> None:
    req = required_node_affinity({"spec": spec})
    assert req.matches(NODE) is want
    assert req.empty is (not spec)


@pytest.mark.parametrize(("pv_spec", "want"), [
    ({}, True),
    ({"nodeAffinity": {}}, True),
    ({"nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [_expr("zone", "In", "a")]}]}}}, True),
    ({"nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [_expr("zone", "In", "b")]}]}}}, False),
    ({"nodeAffinity": {"required": {"nodeSelectorTerms": [{}]}}}, False),
])
def test_volume_node_affinity(pv_spec: Obj, want: bool) -> None:
    assert terms_allow(volume_node_terms({"spec": pv_spec}), NODE) is want


def test_node_view_of_a_node_object() -> None:
    assert node_view({"metadata": {"name": "x", "labels": {"a": "b"}}}) == ("x", {"a": "b"})
    assert node_view({}) == ("", {})
