"""The scheduler end to end without an API server: informer events in, bindings / status patches / events out."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from tests.unit.scheduler.builders import ListRecorder, node, pod

from pybernetes.client.clock import FakeClock
from pybernetes.client.rest import APIStatusError
from pybernetes.scheduler.framework import ActionType, StaticListers
from pybernetes.scheduler.scheduler import Scheduler, node_update_actions, pod_scheduled_condition, truncate_message

Obj = dict[str, Any]


class FakeAPI:
    """Records calls; a binding updates the stored pod and (like the informer) reports it to the scheduler."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.pods: dict[str, Obj] = {}
        self.sched: Scheduler | None = None
        self.fail_bindings: APIStatusError | None = None

    def add(self, p: Obj) -> Obj:
        self.pods[f"{p['metadata']['namespace']}/{p['metadata']['name']}"] = p
        assert self.sched is not None
        self.sched.on_pod_add(p)
        return p

    def update(self, new: Obj) -> None:
        key = f"{new['metadata']['namespace']}/{new['metadata']['name']}"
        old = self.pods[key]
        self.pods[key] = new
        assert self.sched is not None
        self.sched.on_pod_update(old, new)

    def remove(self, name: str, ns: str = "default") -> None:
        old = self.pods.pop(f"{ns}/{name}")
        assert self.sched is not None
        self.sched.on_pod_delete(old)

    async def create(self, res, obj, namespace=None, *, subresource=None, name=None, **kw):
        self.calls.append(("bind", name, obj))
        if self.fail_bindings is not None:
            raise self.fail_bindings
        p = self.pods[f"{namespace}/{name}"]
        self.update(dict(p, spec=dict(p["spec"], nodeName=obj["target"]["name"]),
                         metadata=dict(p["metadata"], resourceVersion="9")))
        return {}

    async def patch(self, res, name, body, namespace=None, **kw):
        self.calls.append(("patch", name, body))
        return {}

    async def delete(self, res, name, namespace=None, **kw):
        self.calls.append(("delete", name, kw))
        return {}

    def of(self, kind: str, name: str | None = None) -> list[Any]:
        return [c[2] for c in self.calls if c[0] == kind and (name is None or c[1] == name)]


@pytest.fixture
def env():
    api, recorder, clock = FakeAPI(), ListRecorder(), FakeClock()
    listers = StaticListers()
    sched = Scheduler(client=api, recorder=recorder, clock=clock, rng=random.Random(3), listers=listers,
                      pod_lister=lambda ns, name: api.pods.get(f"{ns}/{name}"))
    api.sched = sched
    return sched, api, recorder, clock


async def drain(sched: Scheduler) -> None:
    """Schedule everything active and let bindings and patches finish."""
    for _ in range(100):
        qpi = sched.queue.pop_nowait()
        if qpi is not None:
            sched.schedule_one(qpi)
        for _ in range(3):
            await asyncio.sleep(0)
        if qpi is None and not sched._tasks:
            return


async def test_pods_are_bound_and_reported(env):
    sched, api, recorder, _ = env
    sched.on_node_add(node("n1"))
    sched.on_node_add(node("n2"))
    for i in range(4):
        api.add(pod(f"p{i}", cpu="1"))
    await drain(sched)
    bindings = api.of("bind")
    assert len(bindings) == 4
    b = bindings[0]
    assert b["kind"] == "Binding" and b["target"] == {"kind": "Node", "name": b["target"]["name"]}
    assert b["metadata"]["uid"] == api.pods["default/p0"]["metadata"]["uid"]
    assert sorted(len(n.pods) for n in sched.cache.node_list()) == [2, 2]        # spread by LeastAllocated
    assert sched.cache.dump()["assumed"] == 0
    node_of_p0 = api.pods["default/p0"]["spec"]["nodeName"]
    assert recorder.messages("p0", "Scheduled") == [f"Successfully assigned default/p0 to {node_of_p0}"]


async def test_other_schedulers_pods_are_ignored(env):
    sched, api, _, _ = env
    sched.on_node_add(node("n1"))
    api.add(pod("mine"))
    api.add(pod("theirs", schedulerName="my-scheduler"))
    await drain(sched)
    assert [c[1] for c in api.calls if c[0] == "bind"] == ["mine"]


async def test_unschedulable_pod_reports_and_waits_for_a_node(env):
    sched, api, recorder, clock = env
    sched.on_node_add(node("small", cpu="1"))
    api.add(pod("big", cpu="2"))
    await drain(sched)
    msg = ("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption "
           "victims found for incoming pod.")
    assert recorder.messages("big", "FailedScheduling") == [msg]
    (patch,) = api.of("patch", "big")
    cond = patch["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == ("PodScheduled", "False",
                                                                               "Unschedulable", msg)
    uid = api.pods["default/big"]["metadata"]["uid"]
    assert sched.queue.where(uid) == "unschedulable"
    # our own status patch comes back through the informer: not a reason to retry
    p = api.pods["default/big"]
    api.update(dict(p, status={"phase": "Pending", "conditions": [cond]},
                    metadata=dict(p["metadata"], resourceVersion="5")))
    assert sched.queue.where(uid) == "unschedulable"
    sched.on_node_add(node("large", cpu="4"))
    assert sched.queue.where(uid) == "backoff"
    clock.advance(1.1)
    sched.queue.flush_backoff_completed()
    await drain(sched)
    assert api.pods["default/big"]["spec"]["nodeName"] == "large"


async def test_same_failure_is_not_patched_again(env):
    sched, api, recorder, clock = env
    sched.on_node_add(node("small", cpu="1"))
    p = api.add(pod("big", cpu="2"))
    await drain(sched)
    (patch,) = api.of("patch", "big")
    api.update(dict(p, status={"phase": "Pending", "conditions": patch["status"]["conditions"]},
                    metadata=dict(p["metadata"], resourceVersion="5")))
    sched.queue.move_all_to_active_or_backoff(sched.queue.events["NodeResourcesFit"][0])
    clock.advance(2.1)
    sched.queue.flush_backoff_completed()
    await drain(sched)
    assert len(recorder.messages("big", "FailedScheduling")) == 2
    assert len(api.of("patch", "big")) == 1


async def test_no_nodes(env):
    sched, api, recorder, _ = env
    api.add(pod("p"))
    await drain(sched)
    assert recorder.messages("p", "FailedScheduling") == ["no nodes available to schedule pods"]
    assert sched.queue.where(api.pods["default/p"]["metadata"]["uid"]) == "backoff"


async def test_binding_failure_forgets_and_retries(env):
    sched, api, recorder, clock = env
    sched.on_node_add(node("n1"))
    api.fail_bindings = APIStatusError(409, {"reason": "Conflict", "message": "pod p is being deleted"})
    api.add(pod("p", cpu="1"))
    await drain(sched)
    assert sched.cache.get("n1").req_cpu == 0 and sched.cache.dump()["assumed"] == 0
    (msg,) = recorder.messages("p", "FailedScheduling")
    assert "pod p is being deleted" in msg
    (patch,) = api.of("patch", "p")
    assert patch["status"]["conditions"][0]["reason"] == "SchedulerError"
    uid = api.pods["default/p"]["metadata"]["uid"]
    assert sched.queue.where(uid) == "backoff"
    api.fail_bindings = None
    clock.advance(1.1)
    sched.queue.flush_backoff_completed()
    await drain(sched)
    assert api.pods["default/p"]["spec"]["nodeName"] == "n1"


async def test_deleted_and_terminal_pods(env):
    sched, api, _, _ = env
    api.add(pod("gone"))
    uid = api.pods["default/gone"]["metadata"]["uid"]
    api.remove("gone")
    assert sched.queue.where(uid) == ""
    sched.on_node_add(node("n1", cpu="1"))
    done = pod("done", node="n1", cpu="1")
    done["status"]["phase"] = "Succeeded"
    api.add(done)
    assert sched.cache.get("n1").req_cpu == 0                    # terminal pods take no room
    running = api.add(pod("run", node="n1", cpu="1"))
    assert sched.cache.get("n1").req_cpu == 1000
    api.update(dict(running, status={"phase": "Failed"}))
    assert sched.cache.get("n1").req_cpu == 0


async def test_preemption_end_to_end(env):
    sched, api, recorder, clock = env
    sched.on_node_add(node("n1", cpu="2"))
    api.add(pod("low1", cpu="1", priority=1))
    api.add(pod("low2", cpu="1", priority=1))
    await drain(sched)
    api.add(pod("high", cpu="1", priority=100))
    await drain(sched)
    high_uid = api.pods["default/high"]["metadata"]["uid"]
    msg = recorder.messages("high", "FailedScheduling")[0]
    assert msg == "0/1 nodes are available: 1 Insufficient cpu."
    (patch,) = api.of("patch", "high")
    assert patch["status"]["nominatedNodeName"] == "n1"
    assert sched.queue.nominator.nominated_node(high_uid) == "n1"
    deletes = api.of("delete")
    assert len(deletes) == 1
    victims = [c[1] for c in api.calls if c[0] == "delete"]
    assert recorder.reasons(victims[0]) == ["Scheduled", "Preempted"]
    api.remove(victims[0])                                       # the victim is gone: the preemptor comes back
    assert sched.queue.where(high_uid) == "backoff"
    # a lower-priority pod arriving meanwhile must not take the room the preemptor is nominated to
    api.add(pod("sneaky", cpu="1", priority=0))
    await drain(sched)
    assert not api.pods["default/sneaky"]["spec"].get("nodeName")
    assert recorder.messages("sneaky", "FailedScheduling")[0].startswith("0/1 nodes are available: 1 Insufficient cpu.")
    clock.advance(1.1)
    sched.queue.flush_backoff_completed()
    await drain(sched)
    assert api.pods["default/high"]["spec"].get("nodeName") == "n1"
    assert sched.queue.nominator.nominated_node(high_uid) == ""


@pytest.mark.parametrize(("old", "new", "changed"), [
    ({}, {"spec": {"unschedulable": True}}, "UPDATE_NODE_TAINT"),
    ({}, {"metadata": {"labels": {"a": "b"}}}, "UPDATE_NODE_LABEL"),
    ({"status": {"allocatable": {"cpu": "1"}}}, {"status": {"allocatable": {"cpu": "2"}}}, "UPDATE_NODE_ALLOCATABLE"),
    ({"status": {"conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "1"}]}},
     {"status": {"conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2"}]}}, None),
])
def test_node_update_actions(old, new, changed):
    act = node_update_actions(old, new)
    assert (act.name if act else None) == changed


def test_condition_keeps_its_transition_time():
    p = pod()
    first = pod_scheduled_condition(p, "Unschedulable", "m1", "T1")
    assert first["lastTransitionTime"] == "T1"
    p["status"]["conditions"] = [first]
    assert pod_scheduled_condition(p, "Unschedulable", "m1", "T2") is None
    assert pod_scheduled_condition(p, "Unschedulable", "m2", "T2")["lastTransitionTime"] == "T1"


def test_truncate_message():
    assert truncate_message("x" * 10, 8) == "xxxx ..."
    assert truncate_message("short") == "short"


async def test_claim_events_requeue_pods_waiting_for_volumes(env):
    sched, api, recorder, _ = env
    sched.on_node_add(node("n1"))
    api.add(pod("db", volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]))
    await drain(sched)
    assert recorder.messages("db", "FailedScheduling")[0].startswith(
        '0/1 nodes are available: persistentvolumeclaim "data" not found.')
    uid = api.pods["default/db"]["metadata"]["uid"]
    assert sched.queue.where(uid) == "unschedulable"
    sched.on_other_event("Service", ActionType.ADD)               # not what VolumeBinding waits for
    assert sched.queue.where(uid) == "unschedulable"
    sched.on_other_event("PersistentVolumeClaim", ActionType.ADD)
    assert sched.queue.where(uid) == "backoff"


async def test_run_loop_binds_and_survives_a_failing_cycle(env, monkeypatch):
    sched, api, recorder, _ = env
    sched.on_node_add(node("n1"))
    real = sched.algorithm.schedule_pod
    calls = []

    def flaky(fwk, state, pod):
        calls.append(pod["metadata"]["name"])
        if len(calls) == 1:
            raise RuntimeError("boom")
        return real(fwk, state, pod)

    monkeypatch.setattr(sched.algorithm, "schedule_pod", flaky)
    task = asyncio.create_task(sched.run())
    api.add(pod("first"))
    api.add(pod("second"))
    for _ in range(50):
        await asyncio.sleep(0)
    assert recorder.messages("first", "FailedScheduling") == ["boom"]
    assert api.pods["default/second"]["spec"]["nodeName"] == "n1"
    assert sched.queue.where(api.pods["default/first"]["metadata"]["uid"]) == "backoff"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await sched.close()
