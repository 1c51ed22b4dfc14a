"""NodeName, NodeUnschedulable, TaintToleration, NodePorts, SchedulingGates: table-driven fits and statuses."""

from __future__ import annotations

import pytest
from tests.unit.scheduler.builders import cache_with, node, node_info, pod, state_for

from pybernetes.scheduler.framework import SKIP, Code
from pybernetes.scheduler.plugins import node_name, node_ports, node_unschedulable, taint_toleration
from pybernetes.scheduler.plugins.normalize_score import default_normalize_score
from pybernetes.scheduler.plugins.scheduling_gates import SchedulingGates
from pybernetes.scheduler.plugins.taint_toleration import TaintToleration, tolerates


@pytest.mark.parametrize(("wanted", "fits"), [("", True), ("n1", True), ("n2", False)])
def test_node_name(wanted, fits):
    p = pod(node=wanted)
    ni = node_info(node("n1"))
    assert node_name.fits(p, ni) is fits
    st = node_name.NodeName().filter(state_for(p), p, ni)
    assert st is None if fits else (st.code == Code.UNRESOLVABLE and st.reasons ==
                                     ("node(s) didn't match the requested node name",))
    assert node_name.NodeName().pre_filter(state_for(p), p)[1] is (None if wanted else SKIP)


@pytest.mark.parametrize(("unschedulable", "tolerations", "fits"), [
    (False, [], True),
    (True, [], False),
    (True, [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}], True),
    (True, [{"operator": "Exists"}], True),
    (True, [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoExecute"}], False),
])
def test_node_unschedulable(unschedulable, tolerations, fits):
    p = pod(tolerations=tolerations)
    ni = node_info(node(unschedulable=unschedulable))
    assert node_unschedulable.fits(p, ni) is fits
    st = node_unschedulable.NodeUnschedulable().filter(state_for(p), p, ni)
    assert st is None if fits else st.reasons == ("node(s) were unschedulable",) and st.code == Code.UNRESOLVABLE


def test_node_unschedulable_prefilter_skips_without_cordoned_nodes():
    p = pod()
    assert node_unschedulable.NodeUnschedulable(cache_with([node()])).pre_filter(state_for(p), p)[1] is SKIP
    assert node_unschedulable.NodeUnschedulable(cache_with([node(unschedulable=True)])).pre_filter(
        state_for(p), p)[1] is None


@pytest.mark.parametrize(("toleration", "taint", "ok"), [
    ({"key": "foo", "operator": "Equal", "value": "bar", "effect": "NoSchedule"},
     {"key": "foo", "value": "bar", "effect": "NoSchedule"}, True),
    ({"key": "foo", "value": "bar"}, {"key": "foo", "value": "bar", "effect": "NoExecute"}, True),
    ({"key": "foo", "operator": "Exists"}, {"key": "foo", "value": "x", "effect": "NoSchedule"}, True),
    ({"operator": "Exists"}, {"key": "anything", "effect": "NoSchedule"}, True),
    ({"key": "foo", "value": "baz"}, {"key": "foo", "value": "bar", "effect": "NoSchedule"}, False),
    ({"key": "foo", "operator": "Exists", "effect": "NoExecute"}, {"key": "foo", "effect": "NoSchedule"}, False),
    ({"key": "other", "operator": "Exists"}, {"key": "foo", "effect": "NoSchedule"}, False),
    ({"key": "foo", "operator": "Gt", "value": "1"}, {"key": "foo", "value": "2", "effect": "NoSchedule"}, False),
])
def test_tolerates(toleration, taint, ok):
    assert tolerates(toleration, taint) is ok


@pytest.mark.parametrize(("taints", "tolerations", "reason"), [
    ([], [], None),
    ([{"key": "dedicated", "value": "user1", "effect": "NoSchedule"}], [],
     "node(s) had untolerated taint {dedicated: user1}"),
    ([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}], [],
     "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"),
    ([{"key": "dedicated", "value": "user1", "effect": "NoSchedule"}],
     [{"key": "dedicated", "value": "user1", "effect": "NoSchedule"}], None),
    ([{"key": "a", "effect": "PreferNoSchedule"}], [], None),        # only affects the score
    ([{"key": "a", "effect": "NoExecute"}], [{"key": "a", "operator": "Exists", "effect": "NoSchedule"}],
     "node(s) had untolerated taint {a: }"),
])
def test_taint_toleration_filter(taints, tolerations, reason):
    p = pod(tolerations=tolerations)
    st = TaintToleration().filter(state_for(p), p, node_info(node(taints=taints)))
    if reason is None:
        assert st is None
    else:
        assert st.code == Code.UNRESOLVABLE and st.reasons == (reason,)


def test_taint_toleration_score_prefers_fewer_intolerable_taints():
    pref = [{"key": "k1", "value": "v1", "effect": "PreferNoSchedule"},
            {"key": "k2", "value": "v2", "effect": "PreferNoSchedule"}]
    nis = [node_info(node("a")), node_info(node("b", taints=pref[:1])), node_info(node("c", taints=pref))]
    p = pod(tolerations=[{"key": "k2", "value": "v2", "effect": "PreferNoSchedule"}])
    pl = TaintToleration(cache_with([node("c", taints=pref)]))
    state = state_for(p)
    assert pl.pre_score(state, p, nis) is None
    scores = [pl.score(state, p, n) for n in nis]
    assert scores == [0, 1, 1]
    pl.normalize_score(state, p, scores)
    assert scores == [100, 0, 0]
    assert TaintToleration(cache_with([node("a")])).pre_score(state_for(p), p, nis) is SKIP


@pytest.mark.parametrize(("scores", "reverse", "want"), [
    ([0, 0, 0], False, [0, 0, 0]), ([0, 0, 0], True, [100, 100, 100]), ([1, 2, 4], False, [25, 50, 100]),
    ([1, 2, 4], True, [75, 50, 0]),
])
def test_default_normalize_score(scores, reverse, want):
    default_normalize_score(scores, reverse=reverse)
    assert scores == want


def ports(*specs: tuple) -> list[dict]:
    return [{"name": "c", "ports": [dict(zip(("hostIP", "protocol", "hostPort", "containerPort"), (*s, 1),
                                             strict=True)) for s in specs]}]


@pytest.mark.parametrize(("existing", "wanted", "fits"), [
    ([], [("", "TCP", 8080)], True),
    ([("", "TCP", 8080)], [("", "TCP", 8080)], False),
    ([("", "UDP", 8080)], [("", "TCP", 8080)], True),
    ([("127.0.0.1", "TCP", 8080)], [("127.0.0.2", "TCP", 8080)], True),
    ([("127.0.0.1", "TCP", 8080)], [("0.0.0.0", "TCP", 8080)], False),
    ([("0.0.0.0", "TCP", 8080)], [("127.0.0.1", "TCP", 8080)], False),
    ([("127.0.0.1", "UDP", 8001)], [("127.0.0.1", "TCP", 8001), ("127.0.0.1", "UDP", 8001)], False),
])
def test_node_ports(existing, wanted, fits):
    ni = node_info(node(), *([pod("e", node="n1", containers=ports(*existing))] if existing else []))
    p = pod(containers=ports(*wanted))
    assert node_ports.fits(p, ni) is fits
    pl = node_ports.NodePorts()
    state = state_for(p)
    assert pl.pre_filter(state, p)[1] is None
    st = pl.filter(state, p, ni)
    assert st is None if fits else st.reasons == ("node(s) didn't have free ports for the requested pod ports",)


def test_node_ports_prefilter_skips_pods_without_host_ports():
    p = pod()
    assert node_ports.NodePorts().pre_filter(state_for(p), p)[1] is SKIP


def test_scheduling_gates():
    gated = pod(schedulingGates=[{"name": "a"}, {"name": "b"}])
    st = SchedulingGates().pre_enqueue(gated)
    assert st.code == Code.UNRESOLVABLE and st.reasons == ("waiting for scheduling gates: [a b]",)
    assert SchedulingGates().pre_enqueue(pod()) is None


def test_taint_toleration_prefilter_skip():
    p = pod()
    assert taint_toleration.TaintToleration(cache_with([node()])).pre_filter(state_for(p), p)[1] is SKIP
