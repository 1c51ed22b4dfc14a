"""One scheduling attempt: how many nodes to look at, where the search starts, FailedScheduling messages, host
selection."""

from __future__ import annotations

import random

import pytest
from tests.unit.scheduler.builders import cache_with, framework, node, pod, state_for

from pybernetes.scheduler.algorithm import (
    NO_NODES_AVAILABLE,
    Algorithm,
    Diagnosis,
    FitError,
    num_feasible_nodes_to_find,
    select_host,
)
from pybernetes.scheduler.framework import (
    Code,
    NodeToStatus,
    NominatingInfo,
    NominatingMode,
    Status,
    unresolvable,
    unschedulable,
)
from pybernetes.scheduler.plugins import default_profile
from pybernetes.scheduler.podinfo import PodInfo
from pybernetes.scheduler.queue import Nominator


@pytest.mark.parametrize(("percentage", "nodes", "want"), [
    (0, 50, 50), (0, 99, 99), (0, 100, 100), (0, 1000, 420), (0, 5000, 500), (0, 6000, 300), (0, 10000, 500),
    (30, 1000, 300), (1, 1000, 100), (100, 1000, 1000),
])
def test_num_feasible_nodes_to_find(percentage, nodes, want):
    assert num_feasible_nodes_to_find(percentage, nodes) == want


def diagnosis(statuses: dict[str, Status], absent: Status | None = None, **kw) -> Diagnosis:
    return Diagnosis(node_to_status=NodeToStatus(statuses, absent), **kw)


@pytest.mark.parametrize(("n", "d", "msg"), [
    (3, diagnosis({f"n{i}": unschedulable("Insufficient cpu") for i in range(3)}),
     "0/3 nodes are available: 3 Insufficient cpu."),
    (3, diagnosis({"a": unschedulable("Insufficient cpu", "Insufficient memory"),
                   "b": unresolvable("node(s) were unschedulable"),
                   "c": unschedulable("Insufficient memory")}),
     "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable, 2 Insufficient memory."),
    (3, diagnosis({f"n{i}": unschedulable("Insufficient cpu") for i in range(3)},
                  post_filter_msg="preemption: 0/3 nodes are available: 3 No preemption victims found for incoming "
                                  "pod."),
     "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims "
     "found for incoming pod."),
    (2, diagnosis({}, unresolvable("pod affinity terms conflict"), pre_filter_msg="pod affinity terms conflict",
                  post_filter_msg="preemption: not eligible due to preemptionPolicy=Never."),
     "0/2 nodes are available: pod affinity terms conflict. preemption: not eligible due to "
     "preemptionPolicy=Never."),
    # nodes not evaluated get the absent status
    (5, diagnosis({"a": unschedulable("Insufficient cpu")},
                  unresolvable("node(s) didn't satisfy plugin(s) [NodeAffinity]")),
     "0/5 nodes are available: 1 Insufficient cpu, 4 node(s) didn't satisfy plugin(s) [NodeAffinity]."),
])
def test_fit_error_message(n, d, msg):
    assert FitError(n, d).message() == msg


def run(nodes, p, pods=(), **kw):
    cache = cache_with(nodes, list(pods))
    fwk = framework(cache, **kw)
    algo = Algorithm(cache, rng=random.Random(1))
    return algo, fwk, algo.schedule_pod(fwk, state_for(p), p)


def test_schedule_pod_messages():
    nodes = [node("a", cpu="1"), node("b", cpu="4", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}]),
             node("c", cpu="4", unschedulable=True)]
    _, _, (_, err) = run(nodes, pod(cpu="2"))
    assert isinstance(err, FitError)
    assert err.message() == ("0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint "
                             "{k: v}, 1 node(s) were unschedulable.")
    assert err.diagnosis.unschedulable_plugins == {"NodeResourcesFit", "TaintToleration", "NodeUnschedulable"}
    _, _, (_, err) = run([], pod())
    assert err.code == Code.UNRESOLVABLE and err.message() == NO_NODES_AVAILABLE
    conflict = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a"]},
                         {"key": "metadata.name", "operator": "In", "values": ["b"]}]}]}}}
    _, _, (_, err) = run(nodes, pod(affinity=conflict))
    assert err.message() == "0/3 nodes are available: pod affinity terms conflict."
    assert err.diagnosis.unschedulable_plugins == {"NodeAffinity"}


def test_schedule_pod_picks_the_emptier_node():
    nodes = [node("a"), node("b"), node("c")]
    busy = [pod("x", node="a", cpu="3"), pod("y", node="c", cpu="2")]
    _, _, (result, err) = run(nodes, pod(cpu="500m", mem="1Gi"), busy)
    assert err is None and result.suggested_host == "b" and result.feasible_nodes == 3


def test_match_fields_narrow_the_search():
    nodes = [node("a"), node("b"), node("c")]
    only_c = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["c"]}]}]}}}
    _, _, (result, err) = run(nodes, pod(affinity=only_c))
    assert err is None and result.suggested_host == "c" and result.evaluated_nodes == 1
    _, _, (result, err) = run(nodes, pod(cpu="5", affinity=only_c))
    assert err.message() == ("0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) "
                             "[NodeAffinity].")


def test_search_rotates_and_stops_at_enough_nodes():
    nodes = [node(f"n{i:03}") for i in range(200)]
    algo, fwk, (result, err) = run(nodes, pod(cpu="100m"))
    assert err is None and result.feasible_nodes == 100 and result.evaluated_nodes == 100
    assert algo.next_start_node_index == 100
    algo.schedule_pod(fwk, state_for(pod()), pod())
    assert algo.next_start_node_index == 0
    pct = default_profile(percentage_of_nodes_to_score=100)
    _, _, (result, err) = run(nodes, pod(cpu="100m"), profile=pct)
    assert result.feasible_nodes == 200


def test_nominated_node_is_tried_first():
    nodes = [node("a"), node("b", cpu="8")]
    p = pod(cpu="100m")
    p["status"]["nominatedNodeName"] = "a"
    _, _, (result, _) = run(nodes, p)
    assert result.suggested_host == "a" and result.evaluated_nodes == 1


def test_select_host_breaks_ties_at_random():
    nodes = ["a", "b", "c", "d"]
    rng = random.Random(7)
    picks = {select_host(nodes, [5, 9, 9, 1], rng) for _ in range(50)}
    assert picks == {"b", "c"}
    assert select_host(nodes, [1, 2, 3, 4], rng) == "d"


def test_preemption_message_when_nothing_can_be_evicted():
    nodes = [node(f"n{i}", cpu="1") for i in range(3)]
    cache = cache_with(nodes)
    fwk = framework(cache)
    algo = Algorithm(cache, rng=random.Random(1))
    p = pod(cpu="2")
    state = state_for(p)
    _, err = algo.schedule_pod(fwk, state, p)
    _, st = fwk.run_post_filter(state, p, err.diagnosis.node_to_status)
    err.diagnosis.post_filter_msg = st.message()
    assert err.message() == ("0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
                             "3 No preemption victims found for incoming pod.")
    tainted = [node(f"n{i}", taints=[{"key": "k", "effect": "NoSchedule"}]) for i in range(2)]
    cache = cache_with(tainted)
    fwk = framework(cache)
    _, err = Algorithm(cache).schedule_pod(fwk, state_for(p), p)
    _, st = fwk.run_post_filter(state_for(p), p, err.diagnosis.node_to_status)
    err.diagnosis.post_filter_msg = st.message()
    assert err.message() == ("0/2 nodes are available: 2 node(s) had untolerated taint {k: }. preemption: 0/2 "
                             "nodes are available: 2 Preemption is not helpful for scheduling.")


def test_nominated_pods_hold_their_room_against_lower_priority_pods():
    nodes = [node("a", cpu="1"), node("b", cpu="1")]
    nominator = Nominator()
    nominator.add(PodInfo(pod("nominated", cpu="1", priority=10)), NominatingInfo("a", NominatingMode.OVERRIDE))
    _, _, (result, err) = run(nodes, pod(cpu="1", priority=5), nominator=nominator)
    assert err is None and result.suggested_host == "b"
    _, _, (_, err) = run(nodes[:1], pod(cpu="1", priority=5), nominator=nominator)
    assert err.message() == "0/1 nodes are available: 1 Insufficient cpu."
    _, _, (result, err) = run(nodes[:1], pod(cpu="1", priority=20), nominator=nominator)
    assert err is None and result.suggested_host == "a"        # a higher priority pod is not held back


def test_predicate_path_records_the_nodes_it_passed_over():
    nodes = [node(f"n{i:03}", cpu="1") for i in range(300)]
    busy = [pod(f"x{i}", node=f"n{i:03}", cpu="1") for i in range(0, 100, 2)]    # every other of the first 100
    algo, fwk, (result, err) = run(nodes, pod(cpu="500m"), busy)
    # 300 nodes: look for 48% = 144 feasible ones; 50 of the first 100 are full, so 194 nodes are examined
    assert err is None and result.feasible_nodes == 144
    assert result.evaluated_nodes == 194 and algo.next_start_node_index == 194
    state = state_for(pod(cpu="500m"))
    fwk.run_pre_filter(state, pod(cpu="500m"))
    assert fwk.cycle_predicate(state, pod(cpu="500m")) is not None


def test_predicate_path_when_no_node_fits():
    nodes = [node(f"n{i}", cpu="1") for i in range(5)]
    _, _, (_, err) = run(nodes, pod(cpu="2"))
    assert err.message() == "0/5 nodes are available: 5 Insufficient cpu."
    assert err.diagnosis.unschedulable_plugins == {"NodeResourcesFit"}
