"""The framework runtime: extension-point rules with small test plugins."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest
from tests.unit.scheduler.builders import cache_with, node, node_info, pod

from pybernetes.client.clock import FakeClock
from pybernetes.scheduler.framework import SKIP, Code, CycleState, PreFilterResult, Status, unschedulable
from pybernetes.scheduler.plugins import IN_TREE
from pybernetes.scheduler.runtime import Framework, Handle, PluginSpec, Profile


class Configurable:
    """A plugin whose answers the test sets through args."""
    name: ClassVar[str] = "T"

    def __init__(self, name: str, args: dict[str, Any]) -> None:
        self.name = name                                          # type: ignore[misc]
        self.args = args
        self.filtered: list[str] = []

    def pre_filter(self, state: CycleState, pod: dict) -> tuple[PreFilterResult | None, Status | None]:
        return self.args.get("pre_filter_result"), self.args.get("pre_filter")

    def filter(self, state: CycleState, pod: dict, node: Any) -> Status | None:
        self.filtered.append(node.name)
        return self.args.get("filter", {}).get(node.name)

    def score(self, state: CycleState, pod: dict, node: Any) -> int:
        return self.args.get("score", {}).get(node.name, 0)

    def permit(self, state: CycleState, pod: dict, node_name: str) -> tuple[Status | None, float]:
        return self.args.get("permit"), self.args.get("timeout", 1.0)

    async def bind(self, state: CycleState, pod: dict, node_name: str) -> Status | None:
        self.args.setdefault("bound", []).append(node_name)
        return self.args.get("bind")


def fwk(*specs: tuple[str, dict, int], clock: FakeClock | None = None) -> Framework:
    registry = {name: (lambda a, h, name=name: Configurable(name, a)) for name, _, _ in specs}
    profile = Profile("default-scheduler", tuple(PluginSpec(n, weight=w, args=a) for n, a, w in specs))
    return Framework(profile, registry=registry, handle=Handle(snapshot=cache_with([]), clock=clock or FakeClock()))


def test_prefilter_rules():
    f = fwk(("A", {"pre_filter": SKIP}, 1), ("B", {}, 1))
    state = CycleState()
    _, st, _ = f.run_pre_filter(state, pod())
    assert st is None and state.skip_filter == {"A"}
    assert [n for n, _ in f.active_filters(state)] == ["B"]

    f = fwk(("A", {"pre_filter": unschedulable("a")}, 1), ("B", {"pre_filter": Status(Code.UNRESOLVABLE, ("b",))}, 1))
    _, st, _ = f.run_pre_filter(CycleState(), pod())
    assert st.code == Code.UNRESOLVABLE and st.plugin == "B"
    f = fwk(("A", {"pre_filter": unschedulable("a")}, 1), ("B", {}, 1))
    _, st, _ = f.run_pre_filter(CycleState(), pod())
    assert st.code == Code.UNSCHEDULABLE and st.plugin == "A"
    f = fwk(("A", {"pre_filter": Status(Code.ERROR, ("boom",))}, 1))
    _, st, _ = f.run_pre_filter(CycleState(), pod())
    assert st.code == Code.ERROR and st.reasons == ('running PreFilter plugin "A": boom',)


def test_prefilter_results_intersect():
    f = fwk(("A", {"pre_filter_result": PreFilterResult(frozenset({"x", "y"}))}, 1),
            ("B", {"pre_filter_result": PreFilterResult(frozenset({"y", "z"}))}, 1))
    res, st, plugins = f.run_pre_filter(CycleState(), pod())
    assert res.node_names == {"y"} and st is None and plugins == {"A", "B"}
    f = fwk(("A", {"pre_filter_result": PreFilterResult(frozenset({"x"}))}, 1),
            ("B", {"pre_filter_result": PreFilterResult(frozenset({"z"}))}, 1))
    _, st, _ = f.run_pre_filter(CycleState(), pod())
    assert st.code == Code.UNRESOLVABLE and st.reasons == ("node(s) didn't satisfy plugin(s) [A B] simultaneously",)


def test_filter_stops_at_the_first_rejection_and_names_it():
    f = fwk(("A", {"filter": {"n1": unschedulable("no")}}, 1), ("B", {}, 1))
    st = f.run_filter(CycleState(), pod(), node_info(node("n1")))
    assert st.plugin == "A" and f.plugins[1].filtered == []
    assert f.run_filter(CycleState(), pod(), node_info(node("n2"))) is None
    assert f.plugins[1].filtered == ["n2"]
    state = CycleState()
    (name, prepared), _ = f.cycle_filters(state, pod())
    assert name == "A" and prepared(node_info(node("n1"))).reasons == ("no",)


def test_scores_are_weighted_and_validated():
    nodes = [node_info(node("a")), node_info(node("b"))]
    f = fwk(("A", {"score": {"a": 10, "b": 20}}, 2), ("B", {"score": {"a": 5}}, 1))
    assert f.run_score(CycleState(), pod(), nodes) == [25, 40]
    f = fwk(("A", {"score": {"a": 101}}, 1))
    st = f.run_score(CycleState(), pod(), nodes)
    assert st.code == Code.ERROR and "returns an invalid score 101" in st.reasons[0]


async def test_permit_wait_allow_reject_timeout():
    clock = FakeClock()
    f = fwk(("A", {"permit": Status(Code.WAIT), "timeout": 5.0}, 1), clock=clock)
    p = pod()
    uid = p["metadata"]["uid"]
    assert f.run_permit(CycleState(), p, "n1").code == Code.WAIT
    waiter = asyncio.create_task(f.wait_on_permit(p))
    await asyncio.sleep(0)
    f.waiting_pods[uid].allow("A")
    assert await waiter is None
    f.run_permit(CycleState(), p, "n1")
    waiter = asyncio.create_task(f.wait_on_permit(p))
    for _ in range(3):                  # the waiter starts its timeout timer
        await asyncio.sleep(0)
    assert clock.waiting == 1
    clock.advance(5)
    st = await waiter
    assert st.code == Code.UNSCHEDULABLE and "timeout" in st.reasons[0] and uid not in f.waiting_pods
    f = fwk(("A", {"permit": unschedulable("nope")}, 1))
    assert f.run_permit(CycleState(), p, "n1").plugin == "A"


async def test_bind_skips_to_the_next_binder():
    f = fwk(("A", {"bind": SKIP}, 1), ("B", {}, 1))
    assert await f.run_bind(CycleState(), pod(), "n1") is None
    assert f.plugins[1].args["bound"] == ["n1"]
    f = fwk(("A", {"bind": Status(Code.ERROR, ("down",))}, 1))
    st = await f.run_bind(CycleState(), pod(), "n1")
    assert st.reasons == ('running Bind plugin "A": down',)


def test_default_profile_wiring():
    profile = Profile("default-scheduler", (PluginSpec("NodeResourcesFit"), PluginSpec("TaintToleration", 3)))
    f = Framework(profile, registry=IN_TREE, handle=Handle(snapshot=cache_with([])))
    assert [p.name for p in f.filter_plugins] == ["NodeResourcesFit", "TaintToleration"]
    assert [(p.name, w) for p, w in f.score_plugins] == [("NodeResourcesFit", 1), ("TaintToleration", 3)]
    assert set(f.events_to_register()) == {"NodeResourcesFit", "TaintToleration"}
    with pytest.raises(ValueError, match="does not exist"):
        Framework(Profile("x", (PluginSpec("Nope"),)), registry=IN_TREE, handle=Handle(snapshot=cache_with([])))
