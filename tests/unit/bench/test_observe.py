"""bench/observe.py: scheduler_perf's throughput sampling, kubectl's rollout-complete rule, scheduled-pod events."""

from __future__ import annotations

import orjson
import pytest
from bench.observe import (
    deployment_milestones,
    rollout_complete,
    sampled_throughput,
    scheduled_name,
    throughput,
)


@pytest.mark.parametrize(("times", "want"), [
    # no pod yet at ticks 1 and 2; tick 3 sees the first ones and only starts the clock; 100 more by tick 4
    ([2.5] * 10 + [3.5] * 100, [100.0]),
    # a tick with nothing new is folded into the next: 60 pods over two ticks recorded twice at 30/s
    ([0.5] * 5 + [1.5] * 10 + [3.5] * 60, [10.0, 30.0, 30.0]),
    ([0.5, 0.6], []),                               # everything within the first tick: no sample
    ([], []),
])
def test_sampled_throughput_follows_scheduler_perf(times: list[float], want: list[float]) -> None:
    assert sampled_throughput(times, start=0.0) == pytest.approx(want)


def test_sampled_throughput_ticks_from_the_start_instant() -> None:
    # start at 100: ticks at 101, 102, ...; pods at 100.5 (first tick: clock starts), 101.5 ×4 → 4/s
    assert sampled_throughput([100.5, 101.5, 101.6, 101.7, 101.8], start=100.0) == pytest.approx([4.0])


def test_throughput_summary_has_the_average_percentiles_and_plain_rate() -> None:
    times = [0.5] * 10 + [1.5] * 100 + [2.5] * 300 + [3.5] * 200
    t = throughput(times, start=0.0)
    assert t.samples == 3
    assert t.average == pytest.approx(200.0)
    assert (t.p50, t.p90, t.p99) == (200.0, 300.0, 300.0)
    assert t.overall == pytest.approx(610 / 3.5) and t.span == 3.5


def test_throughput_of_a_run_inside_one_tick_is_its_plain_rate() -> None:
    t = throughput([0.2, 0.4], start=0.0)
    assert t.samples == 0 and t.average == t.overall == pytest.approx(5.0)


def test_throughput_of_nothing() -> None:
    t = throughput([], start=0.0)
    assert t.overall == 0.0 and t.samples == 0


def dep(*, want: int = 3, generation: int = 2, observed: int = 2, **status: int) -> dict[str, object]:
    return {"metadata": {"name": "d", "generation": generation}, "spec": {"replicas": want},
            "status": {"observedGeneration": observed, **status}}


@pytest.mark.parametrize(("obj", "done"), [
    (dep(replicas=3, updatedReplicas=3, availableReplicas=3), True),
    (dep(generation=3, observed=2, replicas=3, updatedReplicas=3, availableReplicas=3), False),   # spec not seen
    (dep(replicas=3, updatedReplicas=2, availableReplicas=2), False),             # not every replica updated
    (dep(replicas=4, updatedReplicas=3, availableReplicas=3), False),             # an old replica is left
    (dep(replicas=3, updatedReplicas=3, availableReplicas=2), False),             # one not available yet
    (dep(want=0), True),
    ({"metadata": {"generation": 1}, "spec": {}, "status": {}}, False),           # replicas defaults to 1
])
def test_rollout_complete_as_kubectl_rollout_status(obj: dict[str, object], done: bool) -> None:
    assert rollout_complete(obj) is done


def test_deployment_milestones() -> None:
    d = {"metadata": {"generation": 1}, "spec": {"replicas": 10},
         "status": {"observedGeneration": 1, "replicas": 10, "updatedReplicas": 10, "readyReplicas": 10,
                    "availableReplicas": 4}}
    assert deployment_milestones(d, 10) == ["created", "ready"]
    d["status"]["availableReplicas"] = 10  # type: ignore[index]
    assert deployment_milestones(d, 10) == ["created", "ready", "available", "complete"]
    assert deployment_milestones({"status": {}}, 10) == []


@pytest.mark.parametrize(("event", "want"), [
    ({"type": "MODIFIED", "object": {"metadata": {"name": "p1"}, "spec": {"nodeName": "n1"}}}, "p1"),
    ({"type": "ADDED", "object": {"metadata": {"name": "p1"}, "spec": {"containers": []}}}, None),
    ({"type": "MODIFIED", "object": {"metadata": {"name": "p1"}, "spec": {"nodeName": ""}}}, None),
    ({"type": "MODIFIED", "object": {"metadata": {"name": "p1", "annotations": {"x": '"nodeName"'}},
                                     "spec": {}}}, None),
])
def test_scheduled_name(event: dict[str, object], want: str | None) -> None:
    assert scheduled_name(orjson.dumps(event)) == want

