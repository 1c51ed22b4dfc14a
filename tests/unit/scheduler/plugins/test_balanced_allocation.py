"""NodeResourcesBalancedAllocation: (1 − std of the used fractions) × 100, best-effort pods skipped."""

from __future__ import annotations

import pytest
from tests.unit.scheduler.builders import node, node_info, pod, state_for

from pybernetes.scheduler.framework import SKIP
from pybernetes.scheduler.plugins.balanced_allocation import BalancedAllocation, balanced_resource_score
from pybernetes.scheduler.plugins.resource_allocation import ResourceSpec


def ctr(**reqs: str) -> dict:
    return {"name": "c", "image": "x", "resources": {"requests": dict(reqs)}}


def cpu_and_memory(name: str = "p", node_name: str = "") -> dict:
    return pod(name, node=node_name, containers=[ctr(cpu="1000m", memory="2000"), ctr(cpu="2000m", memory="3000")])


def cpu_only(name: str = "p", node_name: str = "") -> dict:
    return pod(name, node=node_name, containers=[ctr(cpu="1000m", memory="0"), ctr(cpu="2000m", memory="0")])


@pytest.mark.parametrize(("incoming", "nodes", "want"), [
    (cpu_and_memory(), [("m1", "4000m", "10000", []), ("m2", "6000m", "10000", [])], [87, 100]),
    (cpu_and_memory(), [("m1", "10000m", "20000", [cpu_only]), ("m2", "10000m", "20000", [cpu_and_memory])],
     [82, 95]),
    (cpu_and_memory(), [("m1", "10000m", "20000", [cpu_only]), ("m2", "10000m", "50000", [cpu_and_memory])],
     [82, 80]),
    (cpu_only(), [("m1", "4000m", "10000", [cpu_only]), ("m2", "4000m", "10000", [cpu_and_memory])], [50, 75]),
], ids=["differently sized", "pods scheduled", "differently sized with pods", "exceeding capacity"])
def test_scores(incoming, nodes, want):
    nis = [node_info(node(n, cpu=c, mem=m), *[mk(f"e{i}", n) for i, mk in enumerate(pods)])
           for n, c, m, pods in nodes]
    pl = BalancedAllocation()
    state = state_for(incoming)
    assert pl.pre_score(state, incoming, nis) is None
    assert pl.score_nodes(state, incoming, nis) == want
    assert [pl.score(state, incoming, n) for n in nis] == want


def test_best_effort_pods_are_skipped():
    p = pod(containers=[{"name": "c", "image": "x"}])
    assert BalancedAllocation().pre_score(state_for(p), p, [node_info()]) is SKIP


def test_three_resources_use_the_standard_deviation():
    # fractions 0.2, 0.5, 0.8: mean 0.5, std sqrt(0.06) = 0.2449 → 75
    assert balanced_resource_score([2, 5, 8], [10, 10, 10]) == 75
    assert balanced_resource_score([2, 5], [10, 0]) == 100           # one fraction: no deviation
    gpu = "example.com/gpu"
    pl = BalancedAllocation((ResourceSpec("cpu"), ResourceSpec("memory"), ResourceSpec(gpu)))
    p = pod(containers=[ctr(cpu="1", memory="1Gi", **{gpu: "1"})])
    ni = node_info(node(cpu="10", mem="10Gi", extra={gpu: "10"}))
    state = state_for(p)
    pl.pre_score(state, p, [ni])
    assert pl.score_nodes(state, p, [ni]) == [100]
