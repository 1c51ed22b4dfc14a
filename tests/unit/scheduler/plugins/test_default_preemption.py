"""DefaultPreemption: victim selection on a node (fewest, least important, PDB-aware), candidate choice,
eligibility, and the whole PostFilter with background evictions."""

from __future__ import annotations

import asyncio
import random

import pytest
from tests.unit.scheduler.builders import ListRecorder, cache_with, framework, node, pod, state_for

from pybernetes.scheduler.algorithm import Algorithm
from pybernetes.scheduler.framework import Code, NominatingMode, StaticListers
from pybernetes.scheduler.plugins.default_preemption import (
    NOT_ELIGIBLE_NEVER,
    NOT_ELIGIBLE_TERMINATING,
    Candidate,
    DefaultPreemption,
    filter_pods_with_pdb_violation,
    pick_one_node_for_preemption,
)
from pybernetes.scheduler.podinfo import PodInfo
from pybernetes.scheduler.queue import Nominator


def victim(name: str, prio: int, n: str = "n1", cpu: str = "1", start: str = "2026-01-01T00:00:00Z",
           labels: dict | None = None) -> dict:
    p = pod(name, node=n, cpu=cpu, priority=prio, labels=labels)
    p["status"]["startTime"] = start
    return p


def preemption(nodes, pods, *, pdbs=(), client=None, recorder=None):
    cache = cache_with(nodes, pods)
    fwk = framework(cache, listers=StaticListers(pdbs=pdbs), nominator=Nominator(), client=client,
                    recorder=recorder)
    pl = next(p for p in fwk.plugins if isinstance(p, DefaultPreemption))
    return cache, fwk, pl


def test_select_victims_keeps_the_most_important_pods():
    nodes = [node("n1", cpu="3")]
    pods = [victim("low-old", 1, start="2026-01-01T00:00:00Z"), victim("low-new", 1, start="2026-01-02T00:00:00Z"),
            victim("mid", 5)]
    cache, fwk, pl = preemption(nodes, pods)
    p = pod("hi", cpu="1", priority=10)
    state = state_for(p)
    fwk.run_pre_filter(state, p)
    victims, violations, st = pl.select_victims_on_node(state, p, PodInfo(p), cache.get("n1").clone(), [])
    assert st is None and violations == 0
    assert [v.name for v in victims] == ["low-new"]                # the later-started of the least important
    assert len(cache.get("n1").pods) == 3                          # the dry run used a copy


def test_select_victims_statuses():
    cache, fwk, pl = preemption([node("n1", cpu="2")], [victim("same", 10), victim("low", 1)])
    p = pod("hi", cpu="3", priority=10)
    state = state_for(p)
    fwk.run_pre_filter(state, p)
    victims, _, st = pl.select_victims_on_node(state, p, PodInfo(p), cache.get("n1").clone(), [])
    assert victims == [] and st.reasons == ("Insufficient cpu",)  # even without "low" it does not fit
    q = pod("q", cpu="1", priority=1)
    victims, _, st = pl.select_victims_on_node(state_for(q), q, PodInfo(q), cache.get("n1").clone(), [])
    assert st.code == Code.UNRESOLVABLE and st.reasons == ("No preemption victims found for incoming pod",)


def pdb(name: str, labels: dict, allowed: int, disrupted: dict | None = None) -> dict:
    return {"metadata": {"name": name, "namespace": "default"}, "spec": {"selector": {"matchLabels": labels}},
            "status": {"disruptionsAllowed": allowed, "disruptedPods": disrupted or {}}}


def test_pdb_violations():
    a, b, c = (PodInfo(victim(n, 1, labels={"app": "x"})) for n in ("a", "b", "c"))
    other = PodInfo(victim("o", 1, labels={"app": "y"}))
    violating, ok = filter_pods_with_pdb_violation([a, b, c, other], [pdb("p", {"app": "x"}, 1)])
    assert [p.name for p in ok] == ["a", "o"] and [p.name for p in violating] == ["b", "c"]
    violating, ok = filter_pods_with_pdb_violation([a, b], [pdb("p", {"app": "x"}, 0, {"a": "t"})])
    assert [p.name for p in ok] == ["a"] and [p.name for p in violating] == ["b"]


def test_pdb_aware_victim_choice():
    pods = [victim("guarded", 1, labels={"app": "x"}), victim("free", 1, labels={"app": "y"})]
    cache, fwk, pl = preemption([node("n1", cpu="2")], pods)
    p = pod("hi", cpu="1", priority=10)
    state = state_for(p)
    fwk.run_pre_filter(state, p)
    victims, violations, _ = pl.select_victims_on_node(state, p, PodInfo(p), cache.get("n1").clone(),
                                                       [pdb("p", {"app": "x"}, 0)])
    assert [v.name for v in victims] == ["free"] and violations == 0


def cand(name: str, *victims: tuple[int, str], pdb_violations: int = 0) -> Candidate:
    return Candidate(name, [PodInfo(victim(f"{name}-{i}", prio, n=name, start=start))
                            for i, (prio, start) in enumerate(victims)], pdb_violations)


T1, T2 = "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"


@pytest.mark.parametrize(("candidates", "want"), [
    ([cand("a", (1, T1), pdb_violations=1), cand("b", (5, T1))], "b"),          # fewest PDB violations
    ([cand("a", (5, T1)), cand("b", (3, T1), (3, T1))], "b"),                   # lowest highest priority
    ([cand("a", (3, T1), (3, T1)), cand("b", (3, T1), (1, T1))], "b"),          # lowest sum of priorities
    ([cand("a", (3, T1), (1, T1), (1, T1)), cand("b", (3, T1), (2, T1))], "b"),  # fewer... after the sum
    ([cand("a", (3, T1)), cand("b", (3, T2))], "b"),                           # latest start
    ([cand("a", (3, T1)), cand("b", (3, T1))], "a"),                           # else the first
])
def test_pick_one_node(candidates, want):
    assert pick_one_node_for_preemption(candidates).name == want


def test_eligibility():
    _, _, pl = preemption([node("n1")], [])
    never = pod("p", priority=10, preemptionPolicy="Never")
    assert pl.pod_eligible_to_preempt_others(never, PodInfo(never), "", None) == (False, NOT_ELIGIBLE_NEVER)
    going = victim("v", 1)
    going["metadata"]["deletionTimestamp"] = T2
    going["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "True",
                                      "reason": "PreemptionByScheduler"}]
    _, _, pl = preemption([node("n1")], [going])
    p = pod("p", priority=10)
    assert pl.pod_eligible_to_preempt_others(p, PodInfo(p), "n1", None) == (False, NOT_ELIGIBLE_TERMINATING)
    assert pl.pod_eligible_to_preempt_others(p, PodInfo(p), "", None) == (True, "")


class FakeClient:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    async def patch(self, res, name, body, namespace=None, **kw):
        self.calls.append(("patch", name, body, kw.get("subresource")))
        return {}

    async def delete(self, res, name, namespace=None, **kw):
        self.calls.append(("delete", name))
        return {}


async def test_post_filter_nominates_and_evicts_in_the_background():
    client, recorder = FakeClient(), ListRecorder()
    nodes = [node("n1", cpu="2"), node("n2", cpu="2")]
    pods = [victim("a", 1, "n1"), victim("b", 1, "n1"), victim("c", 5, "n2"), victim("d", 5, "n2")]
    cache, fwk, _ = preemption(nodes, pods, client=client, recorder=recorder)
    p = pod("hi", cpu="1", priority=10)
    state = state_for(p)
    _, err = Algorithm(cache, rng=random.Random(1)).schedule_pod(fwk, state, p)
    result, st = fwk.run_post_filter(state, p, err.diagnosis.node_to_status)
    assert st.is_success() and st.plugin == "DefaultPreemption"
    assert result.nominating.mode == NominatingMode.OVERRIDE and result.nominating.nominated_node_name == "n1"
    for _ in range(5):
        await asyncio.sleep(0)
    patches = [c for c in client.calls if c[0] == "patch"]
    deletes = [c for c in client.calls if c[0] == "delete"]
    assert len(deletes) == 1 and deletes[0][1] in ("a", "b")
    cond = patches[0][2]["status"]["conditions"][0]
    assert (cond["type"], cond["reason"], cond["message"]) == ("DisruptionTarget", "PreemptionByScheduler",
                                                               "default-scheduler: preempting to accommodate a "
                                                               "higher priority pod")
    assert recorder.messages(deletes[0][1], "Preempted") == [f"Preempted by pod {p['metadata']['uid']} on node n1"]
