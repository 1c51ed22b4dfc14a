"""NodeResourcesFit: the filter's shortages and reasons (upstream fit_test.go) and LeastAllocated /
MostAllocated scores (upstream least_allocated_test.go vectors)."""

from __future__ import annotations

import pytest
from tests.unit.scheduler.builders import node, node_info, pod, state_for

from pybernetes.scheduler.framework import Code
from pybernetes.scheduler.plugins.node_resources_fit import (
    MOST_ALLOCATED,
    NodeResourcesFit,
    fits,
    insufficient_resources,
    pod_request,
)
from pybernetes.scheduler.plugins.resource_allocation import ResourceSpec


def ctr(**reqs: str) -> dict:
    return {"name": "c", "image": "x", "resources": {"requests": dict(reqs)}}


def existing(cpu: str, mem: str, n: str = "n1") -> dict:
    return pod("e", node=n, containers=[ctr(cpu=cpu, memory=mem)])


@pytest.mark.parametrize(("incoming", "on_node", "reasons"), [
    (pod(containers=[]), [existing("10", "20")], []),
    (pod(containers=[ctr(cpu="1", memory="1")]), [existing("5", "5")], []),
    (pod(containers=[ctr(cpu="1", memory="1")]), [existing("10", "20")], ["Insufficient cpu", "Insufficient memory"]),
    (pod(containers=[ctr(cpu="1", memory="1")]), [existing("9", "19")], []),
    (pod(containers=[ctr(cpu="1", memory="1")]), [existing("9", "20")], ["Insufficient memory"]),
    # init containers: the largest one counts
    (pod(containers=[ctr(cpu="1", memory="1")], initContainers=[ctr(cpu="3", memory="1")]),
     [existing("8", "19")], ["Insufficient cpu"]),
    # overhead counts too
    (pod(containers=[ctr(cpu="1", memory="1")], overhead={"cpu": "3", "memory": "15"}),
     [existing("5", "5")], ["Insufficient memory"]),
    # a request of 0 never lacks room, even on an overcommitted node
    (pod(containers=[ctr(cpu="0", memory="1")]), [existing("11", "5")], []),
])
def test_fits(incoming, on_node, reasons):
    ni = node_info(node(cpu="10", mem="20", pods="32"), *on_node)
    assert [r.reason for r in fits(incoming, ni)] == reasons
    st = NodeResourcesFit().filter(state_for(incoming), incoming, ni)
    if reasons:
        assert st.code == Code.UNSCHEDULABLE and list(st.reasons) == reasons and st.plugin == "NodeResourcesFit"
    else:
        assert st is None


def test_too_many_pods_and_extended_resources():
    ni = node_info(node(cpu="10", mem="20", pods="1", extra={"example.com/gpu": "2"}), existing("1", "1"))
    p = pod(containers=[ctr(cpu="1", memory="1", **{"example.com/gpu": "3"})])
    assert [r.reason for r in fits(p, ni)] == ["Too many pods", "Insufficient example.com/gpu"]
    short = insufficient_resources(pod_request(p), ni, ignored=frozenset({"example.com/gpu"}))
    assert [r.reason for r in short] == ["Too many pods"]
    short = insufficient_resources(pod_request(p), ni, ignored_groups=frozenset({"example.com"}))
    assert [r.reason for r in short] == ["Too many pods"]
    gpu = next(r for r in fits(p, ni) if r.resource == "example.com/gpu")
    assert (gpu.requested, gpu.used, gpu.capacity) == (3, 0, 2)


def test_prepared_filter_matches_filter():
    pl = NodeResourcesFit()
    p = pod(containers=[ctr(cpu="1", memory="1")])
    state = state_for(p)
    pl.pre_filter(state, p)
    f = pl.prepare_filter(state, p)
    for on_node in ([existing("5", "5")], [existing("10", "20")], [existing("9", "20")]):
        ni = node_info(node(cpu="10", mem="20", pods="32"), *on_node)
        assert f(ni) == pl.filter(state, p, ni)


LEAST = [
    ("nothing scheduled, nothing requested", pod(containers=[]), [("4000", "10000", []), ("4000", "10000", [])],
     [100, 100]),
    ("differently sized nodes", pod(containers=[ctr(cpu="1000", memory="2000"), ctr(cpu="2000", memory="3000")]),
     [("4000", "10000", []), ("6000", "10000", [])], [37, 50]),
    ("no resources requested, pods scheduled with resources", pod(containers=[]),
     [("10000", "20000", [("3000", "0"), ("3000", "0")]), ("10000", "20000", [("3000", "0"), ("3000", "5000")])],
     [70, 57]),
    ("resources requested, pods scheduled with resources",
     pod(containers=[ctr(cpu="1000", memory="2000"), ctr(cpu="2000", memory="3000")]),
     [("10000", "20000", [("3000", "0")]), ("10000", "20000", [("3000", "5000")])], [57, 45]),
    ("requested resources exceed node capacity", pod(containers=[ctr(cpu="3000", memory="0")]),
     [("4000", "10000", [("3000", "0")]), ("4000", "10000", [("3000", "5000")])], [50, 25]),
    ("zero node resources", pod(containers=[]), [("0", "0", [("3000", "0")]), ("0", "0", [("3000", "5000")])],
     [0, 0]),
]


def _nodes(spec):
    out = []
    for i, (cpu, mem, pods) in enumerate(spec):
        name = f"node{i + 1}"
        out.append(node_info(node(name, cpu=cpu, mem=mem),
                             *[pod(f"x{j}", node=name, containers=[ctr(cpu=c, memory=m)]) for j, (c, m) in
                               enumerate(pods)]))
    return out


@pytest.mark.parametrize(("name", "incoming", "nodes", "want"), LEAST, ids=[x[0] for x in LEAST])
def test_least_allocated(name, incoming, nodes, want):
    pl = NodeResourcesFit()
    nis = _nodes(nodes)
    state = state_for(incoming)
    pl.pre_score(state, incoming, nis)
    assert pl.score_nodes(state, incoming, nis) == want
    assert [pl.score(state, incoming, n) for n in nis] == want


def test_weighted_resources_and_most_allocated():
    incoming = pod(containers=[ctr(cpu="1000", memory="2000"), ctr(cpu="2000", memory="3000")])
    nis = _nodes([("4000", "10000", []), ("6000", "10000", [])])
    weighted = NodeResourcesFit(resources=(ResourceSpec("memory", 2), ResourceSpec("cpu", 1)))
    state = state_for(incoming)
    weighted.pre_score(state, incoming, nis)
    assert weighted.score_nodes(state, incoming, nis) == [41, 50]
    most = NodeResourcesFit(strategy=MOST_ALLOCATED)
    state = state_for(incoming)
    most.pre_score(state, incoming, nis)
    # cpu 3000/4000 = 75, memory 5000/10000 = 50 → 62; cpu 3000/6000 = 50 → 50
    assert most.score_nodes(state, incoming, nis) == [62, 50]


def test_bypasses_extended_resources_the_pod_does_not_request():
    gpu = "example.com/gpu"
    res = (ResourceSpec("cpu", 1), ResourceSpec("memory", 1), ResourceSpec(gpu, 1))
    nis = [node_info(node("node1", cpu="6000", mem="10000")),
           node_info(node("node2", cpu="6000", mem="10000", extra={gpu: "10"}))]
    pl = NodeResourcesFit(resources=res)
    p = pod(containers=[ctr(cpu="1000", memory="2000"), ctr(cpu="2000", memory="3000")])
    state = state_for(p)
    pl.pre_score(state, p, nis)
    assert pl.score_nodes(state, p, nis) == [50, 50]
    p2 = pod(containers=[ctr(cpu="1000", memory="2000", **{gpu: "2"}), ctr(cpu="2000", memory="3000")])
    state = state_for(p2)
    pl.pre_score(state, p2, nis)
    assert pl.score_nodes(state, p2, nis) == [50, 60]


def test_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="not supported"):
        NodeResourcesFit(strategy="Nope")


@pytest.mark.parametrize("reqs", [dict(cpu="1", memory="1"), dict(cpu="0", memory="1"), dict(memory="5"),
                                  {"cpu": "1", "memory": "1", "ephemeral-storage": "1"}, {}])
@pytest.mark.parametrize(("alloc_pods", "on_node"), [("32", [("5", "5")]), ("32", [("10", "20")]),
                                                     ("32", [("11", "19")]), ("1", [("1", "1")]), ("32", [])])
def test_predicate_is_exactly_the_filter(reqs, alloc_pods, on_node):
    pl = NodeResourcesFit()
    p = pod(containers=[ctr(**reqs)])
    state = state_for(p)
    pl.pre_filter(state, p)
    pred = pl.prepare_predicate(state, p)
    ni = node_info(node(cpu="10", mem="20", pods=alloc_pods, extra={"ephemeral-storage": "1"}),
                   *[existing(c, m) for c, m in on_node])
    assert pred(ni) is (pl.filter(state, p, ni) is None)


def test_no_predicate_for_extended_resources():
    pl = NodeResourcesFit()
    p = pod(containers=[ctr(cpu="1", **{"example.com/gpu": "1"})])
    state = state_for(p)
    pl.pre_filter(state, p)
    assert pl.prepare_predicate(state, p) is None
