"""NodeAffinity: nodeSelector and required terms (filter), matchFields pre-filtering, preferred terms (score)."""

from __future__ import annotations

import pytest
from tests.unit.scheduler.builders import node, node_info, pod, state_for

from pybernetes.scheduler.framework import SKIP, Code
from pybernetes.scheduler.plugins.node_affinity import NodeAffinity, fits, required_node_affinity

REASON = "node(s) didn't match Pod's node affinity/selector"


def required(*terms: dict) -> dict:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}


def expr(key: str, op: str, *values: str) -> dict:
    return {"matchExpressions": [{"key": key, "operator": op, **({"values": list(values)} if values else {})}]}


@pytest.mark.parametrize(("spec", "labels", "ok"), [
    ({}, {}, True),
    ({"nodeSelector": {"foo": "bar"}}, {}, False),
    ({"nodeSelector": {"foo": "bar"}}, {"foo": "bar"}, True),
    ({"nodeSelector": {"foo": "bar"}}, {"foo": "baz"}, False),
    ({"affinity": required(expr("foo", "In", "bar", "value2"))}, {"foo": "bar"}, True),
    ({"affinity": required(expr("foo", "In", "bar"))}, {"foo": "other"}, False),
    ({"affinity": required(expr("kernel-version", "Gt", "0204"))}, {"kernel-version": "0206"}, True),
    ({"affinity": required(expr("kernel-version", "Gt", "0204"))}, {"kernel-version": "0200"}, False),
    ({"affinity": required(expr("kernel-version", "Lt", "10"))}, {"kernel-version": "abc"}, False),
    ({"affinity": required(expr("mem-type", "NotIn", "DDR", "DDR2"))}, {"mem-type": "DDR3"}, True),
    ({"affinity": required(expr("GPU", "Exists"))}, {"GPU": "NVIDIA-GRID-K1"}, True),
    ({"affinity": required(expr("GPU", "DoesNotExist"))}, {"GPU": "x"}, False),
    # terms are ORed; an empty term matches nothing
    ({"affinity": required({}, expr("foo", "In", "bar"))}, {"foo": "bar"}, True),
    ({"affinity": required({})}, {"foo": "bar"}, False),
    ({"affinity": required()}, {"foo": "bar"}, False),
    # requirements in a term are ANDed; an invalid one spoils the term
    ({"affinity": required({"matchExpressions": [{"key": "foo", "operator": "In", "values": ["bar"]},
                                                 {"key": "x", "operator": "Exists"}]})}, {"foo": "bar"}, False),
    ({"affinity": required(expr("foo", "Gt", "notanumber"))}, {"foo": "1"}, False),
    # nodeSelector and affinity must both hold
    ({"nodeSelector": {"a": "b"}, "affinity": required(expr("foo", "Exists"))}, {"foo": "x"}, False),
    ({"affinity": required({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]})},
     {}, True),
    ({"affinity": required({"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["n1"]}]})},
     {}, False),
])
def test_required(spec, labels, ok):
    p = pod(**spec)
    ni = node_info(node("n1", labels=labels))
    assert fits(p, ni) is ok
    pl = NodeAffinity()
    state = state_for(p)
    _, st = pl.pre_filter(state, p)
    if st is SKIP:
        assert ok
        return
    st = pl.filter(state, p, ni)
    assert st is None if ok else (st.code == Code.UNRESOLVABLE and st.reasons == (REASON,))


def test_prefilter_skip_and_node_names():
    pl = NodeAffinity()
    p = pod()
    assert pl.pre_filter(state_for(p), p)[1] is SKIP

    def names(*terms):
        p = pod(affinity=required(*terms))
        return pl.pre_filter(state_for(p), p)

    field = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1", "n2"]}]}
    res, st = names(field)
    assert st is None and res.node_names == {"n1", "n2"}
    res, st = names(field, {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n3"]}]})
    assert res.node_names == {"n1", "n2", "n3"}
    res, st = names(field, expr("foo", "Exists"))        # a term without names: any node
    assert res is None
    both = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]},
                            {"key": "metadata.name", "operator": "In", "values": ["n2"]}]}
    res, st = names(both)
    assert st.code == Code.UNRESOLVABLE and st.reasons == ("pod affinity terms conflict",)


def test_preferred_score_and_normalize():
    aff = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 2, "preference": expr("foo", "In", "bar")},
        {"weight": 4, "preference": expr("key", "In", "value")},
        {"weight": 5, "preference": {}},                    # empty: never matches
    ]}}
    p = pod(affinity=aff)
    nis = [node_info(node("a", labels={"foo": "bar"})), node_info(node("b", labels={"foo": "bar", "key": "value"})),
           node_info(node("c"))]
    pl = NodeAffinity()
    state = state_for(p)
    assert pl.pre_score(state, p, nis) is None
    scores = [pl.score(state, p, n) for n in nis]
    assert scores == [2, 6, 0]
    pl.normalize_score(state, p, scores)
    assert scores == [33, 100, 0]
    assert pl.pre_score(state_for(pod()), pod(), nis) is SKIP


def test_added_affinity_is_enforced():
    pl = NodeAffinity({"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        expr("zone", "In", "a")]}})
    p = pod()
    state = state_for(p)
    assert pl.pre_filter(state, p)[1] is None
    st = pl.filter(state, p, node_info(node(labels={"zone": "b"})))
    assert st.reasons == ("node(s) didn't match scheduler-enforced node affinity",)
    assert pl.filter(state, p, node_info(node(labels={"zone": "a"}))) is None


def test_required_node_affinity_empty():
    assert required_node_affinity(pod()).empty
    assert not required_node_affinity(pod(nodeSelector={"a": "b"})).empty
