"""The scheduling queue: priority order, per-pod exponential backoff on a fake clock, moves on cluster events,
the leftover flush, scheduling gates and the nominator."""

from __future__ import annotations

import asyncio

import pytest
from tests.unit.scheduler.builders import pod

from pybernetes.client.clock import FakeClock
from pybernetes.scheduler.framework import (
    EVENT_ASSIGNED_POD_DELETE,
    EVENT_NODE_ADD,
    NODE,
    ActionType,
    ClusterEvent,
    NominatingInfo,
    NominatingMode,
)
from pybernetes.scheduler.plugins.scheduling_gates import SchedulingGates
from pybernetes.scheduler.podinfo import PodInfo
from pybernetes.scheduler.queue import SchedulingQueue, is_pod_updated

FIT = "NodeResourcesFit"
EVENTS = {FIT: (ClusterEvent("Pod", ActionType.DELETE),
                ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE)),
          "NodeAffinity": (ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL),)}


def make_queue(clock: FakeClock | None = None, **kw) -> SchedulingQueue:
    return SchedulingQueue(clock=clock or FakeClock(), events=EVENTS, **kw)


def fail(q: SchedulingQueue, *plugins: str) -> str:
    """Pop the next pod and report it unschedulable by ``plugins``; where it went."""
    qpi = q.pop_nowait()
    assert qpi is not None
    qpi.unschedulable_plugins = set(plugins)
    return q.add_unschedulable_if_not_present(qpi, q.scheduling_cycle)


def test_active_queue_orders_by_priority_then_time():
    clock = FakeClock()
    q = make_queue(clock)
    for name, prio in (("low", 0), ("high", 100), ("mid", 10)):
        q.add(pod(name, priority=prio))
        clock.advance(1)
    q.add(pod("high-later", priority=100))
    assert [q.pop_nowait().pod_info.name for _ in range(4)] == ["high", "high-later", "mid", "low"]
    assert q.pop_nowait() is None


def test_priority_update_reorders():
    q = make_queue()
    a, b = pod("a", priority=1), pod("b", priority=2)
    q.add(a)
    q.add(b)
    q.update(a, dict(a, spec=dict(a["spec"], priority=5)))
    assert q.pop_nowait().pod_info.name == "a"
    assert q.pop_nowait().pod_info.name == "b"
    assert q.pop_nowait() is None


@pytest.mark.parametrize(("attempts", "backoff"), [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (9, 10.0)])
def test_backoff_doubles_to_the_cap(attempts, backoff):
    q = make_queue()
    q.add(pod("a"))
    qpi = q.pop_nowait()
    qpi.attempts = attempts
    assert q.backoff_duration(qpi) == backoff


def test_failed_pod_waits_out_its_backoff():
    clock = FakeClock()
    q = make_queue(clock)
    q.add(pod("a"))
    fail(q, FIT)                              # unschedulable: stays until an event
    q.move_all_to_active_or_backoff(EVENT_NODE_ADD)
    assert not q.unschedulable
    assert q.backoff_count() == 1 and q.active_count() == 0
    clock.advance(0.5)
    assert q.flush_backoff_completed() == 0
    clock.advance(0.6)                        # 1 s after the failure
    assert q.flush_backoff_completed() == 1
    qpi = q.pop_nowait()
    assert qpi.attempts == 2
    q.add_unschedulable_if_not_present(qpi, q.scheduling_cycle)
    q.move_all_to_active_or_backoff(EVENT_NODE_ADD)
    clock.advance(1.5)
    assert q.flush_backoff_completed() == 0   # second failure: 2 s
    clock.advance(0.6)
    assert q.flush_backoff_completed() == 1


def test_events_move_only_pods_their_rejectors_care_about():
    clock = FakeClock()
    q = make_queue(clock)
    q.add(pod("fit"))
    q.add(pod("affinity"))
    assert fail(q, FIT) == "unschedulable"
    assert fail(q, "NodeAffinity") == "unschedulable"
    clock.advance(20)                          # past any backoff: moves go straight to active
    assert q.move_all_to_active_or_backoff(EVENT_ASSIGNED_POD_DELETE) == 1
    assert q.pop_nowait().pod_info.name == "fit"
    assert q.move_all_to_active_or_backoff(ClusterEvent(NODE, ActionType.UPDATE_NODE_TAINT)) == 0
    assert q.move_all_to_active_or_backoff(ClusterEvent(NODE, ActionType.UPDATE_NODE_LABEL)) == 1
    assert q.pop_nowait().pod_info.name == "affinity"


def test_hint_can_skip_a_move():
    q = SchedulingQueue(clock=FakeClock(), events={"P": (ClusterEvent(NODE, ActionType.ADD,
                                                                      hint=lambda p, old, new: new == "big"),)})
    q.add(pod("a"))
    fail(q, "P")
    assert q.move_all_to_active_or_backoff(EVENT_NODE_ADD, None, "small") == 0
    assert q.move_all_to_active_or_backoff(EVENT_NODE_ADD, None, "big") == 1


def test_no_rejector_or_event_during_cycle_goes_to_backoff():
    q = make_queue()
    q.add(pod("a"))
    assert fail(q) == "backoff"               # an error, not a verdict: retry after backoff
    q2 = make_queue()
    q2.add(pod("b"))
    qpi = q2.pop_nowait()
    cycle = q2.scheduling_cycle
    q2.move_all_to_active_or_backoff(EVENT_NODE_ADD)          # an event while it was being scheduled
    qpi.unschedulable_plugins = {FIT}
    assert q2.add_unschedulable_if_not_present(qpi, cycle) == "backoff"


def test_leftover_flush_after_five_minutes():
    clock = FakeClock()
    q = make_queue(clock)
    q.add(pod("a"))
    fail(q, FIT)
    clock.advance(299)
    assert q.flush_unschedulable_leftover() == 0
    clock.advance(2)
    assert q.flush_unschedulable_leftover() == 1
    assert q.active_count() == 1


def test_update_of_unschedulable_pod_requeues_only_on_real_changes():
    clock = FakeClock()
    q = make_queue(clock)
    p = pod("a", labels={"x": "1"})
    q.add(p)
    fail(q, FIT)
    status_only = dict(p, status={"phase": "Pending", "conditions": [{"type": "PodScheduled"}]},
                       metadata=dict(p["metadata"], resourceVersion="2"))
    assert not is_pod_updated(p, status_only)
    q.update(p, status_only)
    assert q.where(p["metadata"]["uid"]) == "unschedulable"
    relabeled = dict(status_only, metadata=dict(status_only["metadata"], labels={"x": "2"}))
    clock.advance(5)
    q.update(status_only, relabeled)
    assert q.where(p["metadata"]["uid"]) == "active"


def test_delete_removes_everywhere():
    q = make_queue()
    p = pod("a")
    q.add(p)
    fail(q, FIT)
    q.delete(p["metadata"]["uid"])
    assert len(q) == 0


def test_gated_pods_wait_for_their_gates():
    q = make_queue(pre_enqueue=SchedulingGates().pre_enqueue)
    gated = pod("g", schedulingGates=[{"name": "example.com/wait"}])
    q.add(gated)
    assert q.active_count() == 0 and q.where(gated["metadata"]["uid"]) == "unschedulable"
    assert q.move_all_to_active_or_backoff(EVENT_NODE_ADD) == 0
    open_ = dict(gated, spec={k: v for k, v in gated["spec"].items() if k != "schedulingGates"})
    q.update(gated, open_)
    assert q.pop_nowait().pod_info.name == "g"


async def test_pop_waits_for_a_pod_and_close_releases_it():
    q = make_queue()
    waiter = asyncio.create_task(q.pop())
    await asyncio.sleep(0)
    assert not waiter.done()
    q.add(pod("a"))
    assert (await waiter).pod_info.name == "a"
    waiter = asyncio.create_task(q.pop())
    await asyncio.sleep(0)
    q.close()
    assert await waiter is None


async def test_flusher_moves_finished_backoffs():
    clock = FakeClock()
    q = make_queue(clock)
    q.add(pod("a"))
    fail(q)                                   # → backoff, 1 s
    task = asyncio.create_task(q.run_flushers())
    await asyncio.sleep(0)
    clock.advance(1.0)
    for _ in range(5):
        await asyncio.sleep(0)
    assert q.active_count() == 1
    task.cancel()


def test_nominator_keeps_in_memory_nomination_until_the_pod_catches_up():
    q = make_queue()
    p = pod("a", priority=10)
    pi = PodInfo(p)
    q.nominator.add(pi, NominatingInfo("n1", NominatingMode.OVERRIDE))
    assert [x.name for x in q.nominator.nominated_pods_for_node("n1")] == ["a"]
    q.nominator.update(p, PodInfo(p))                  # an update without nominatedNodeName yet
    assert q.nominator.nominated_node(pi.uid) == "n1"
    moved = dict(p, status={"nominatedNodeName": "n2"})
    q.nominator.update(p, PodInfo(moved))
    assert q.nominator.nominated_node(pi.uid) == "n2" and not q.nominator.nominated_pods_for_node("n1")
    q.nominator.delete(pi.uid)
    assert not q.nominator
