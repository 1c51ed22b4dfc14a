"""EventRecorder: per-component sources, upstream's spam filter (25 events per source and object, then one
per 5 minutes), and folding repeated events into one Event's count."""

from __future__ import annotations

import pytest
from tests.unit.controllers.fakeclient import FakeClient

from pybernetes.client import events as events_mod
from pybernetes.client.clock import FakeClock
from pybernetes.client.events import FOLD_WINDOW, SPAM_BURST, EventRecorder
from pybernetes.client.resources import EVENTS

RS = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": "ns", "uid": "u1"}}


async def flush(rec: EventRecorder) -> None:
    while not rec._queue.empty():
        await rec.client.settle()       # type: ignore[attr-defined]
    await rec.client.settle()           # type: ignore[attr-defined]


async def test_component_views_share_one_writer() -> None:
    fake = FakeClient()
    rec = EventRecorder(fake, component="controller-manager", clock=fake.clock)   # type: ignore[arg-type]
    rec.for_component("replicaset-controller").event(RS, "Normal", "SuccessfulCreate", "Created pod: web-a")
    rec.event(RS, "Normal", "Other", "x")
    await flush(rec)
    evs = {e["reason"]: e for e in fake.objects(EVENTS, "ns")}
    assert evs["SuccessfulCreate"]["source"]["component"] == "replicaset-controller"
    assert evs["SuccessfulCreate"]["reportingComponent"] == "replicaset-controller"
    assert evs["Other"]["source"]["component"] == "controller-manager"
    await rec.close()


async def test_spam_filter_limits_events_per_object() -> None:
    clock = FakeClock()
    fake = FakeClient(clock=clock)
    rec = EventRecorder(fake, component="rs", clock=clock)          # type: ignore[arg-type]
    for i in range(SPAM_BURST + 10):
        rec.event(RS, "Normal", "SuccessfulCreate", f"Created pod: web-{i}")
    other = {**RS, "metadata": {**RS["metadata"], "name": "db", "uid": "u2"}}
    rec.event(other, "Normal", "SuccessfulCreate", "Created pod: db-0")     # another object has its own bucket
    await flush(rec)
    assert len(fake.objects(EVENTS, "ns")) == SPAM_BURST + 1
    clock.advance(300)                                              # one more token after 5 minutes
    rec.event(RS, "Normal", "SuccessfulCreate", "Created pod: late")
    rec.event(RS, "Normal", "SuccessfulCreate", "Created pod: dropped")
    await flush(rec)
    messages = {e["message"] for e in fake.objects(EVENTS, "ns")}
    assert "Created pod: late" in messages and "Created pod: dropped" not in messages
    await rec.close()


# ------------------------------------------------------------------------------------------------ folding
async def test_repeated_events_fold_into_count() -> None:
    clock = FakeClock()
    fake = FakeClient(clock=clock)
    rec = EventRecorder(fake, component="kubelet", host="node-1", clock=clock)      # type: ignore[arg-type]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "ns", "uid": "p1",
                                                           "resourceVersion": "7"}}
    rec.event(pod, "Warning", "BackOff", "Back-off restarting failed container", field_path="spec.containers{c}")
    await flush(rec)
    (first,) = fake.objects(EVENTS, "ns")
    assert first["metadata"]["name"].startswith("web.")
    assert first["involvedObject"] == {"kind": "Pod", "apiVersion": "v1", "namespace": "ns", "name": "web",
                                       "uid": "p1", "resourceVersion": "7", "fieldPath": "spec.containers{c}"}
    assert (first["type"], first["reason"], first["count"]) == ("Warning", "BackOff", 1)
    assert first["source"] == {"component": "kubelet", "host": "node-1"}
    assert first["firstTimestamp"] == first["lastTimestamp"] == "2026-01-01T00:00:00Z"
    for _ in range(3):
        clock.advance(30)
        rec.event(pod, "Warning", "BackOff", "Back-off restarting failed container", field_path="spec.containers{c}")
        await flush(rec)
    (ev,) = fake.objects(EVENTS, "ns")
    assert ev["metadata"]["name"] == first["metadata"]["name"]
    assert (ev["count"], ev["firstTimestamp"], ev["lastTimestamp"]) == (4, "2026-01-01T00:00:00Z",
                                                                       "2026-01-01T00:01:30Z")
    assert fake.count("patch", "events") == 3 and fake.count("create", "events") == 1
    await rec.close()


async def test_events_that_differ_do_not_fold() -> None:
    clock = FakeClock()
    fake = FakeClient(clock=clock)
    rec = EventRecorder(fake, component="rs", clock=clock)                           # type: ignore[arg-type]
    other = {**RS, "metadata": {**RS["metadata"], "name": "db", "uid": "u2"}}
    rec.event(RS, "Normal", "SuccessfulCreate", "Created pod: a")
    rec.event(RS, "Normal", "SuccessfulCreate", "Created pod: b")           # another message
    rec.event(RS, "Warning", "SuccessfulCreate", "Created pod: a")          # another type
    rec.event(RS, "Normal", "Other", "Created pod: a")                      # another reason
    rec.event(other, "Normal", "SuccessfulCreate", "Created pod: a")        # another object
    rec.for_component("deployment-controller").event(RS, "Normal", "SuccessfulCreate", "Created pod: a")
    rec.event(RS, "Normal", "SuccessfulCreate", "Created pod: a")           # the first one again: folds
    await flush(rec)
    evs = fake.objects(EVENTS, "ns")
    assert len(evs) == 6
    assert sorted(e["count"] for e in evs) == [1, 1, 1, 1, 1, 2]
    await rec.close()


async def test_folding_window_and_a_vanished_event() -> None:
    clock = FakeClock()
    fake = FakeClient(clock=clock)
    rec = EventRecorder(fake, component="rs", clock=clock)                           # type: ignore[arg-type]
    rec.event(RS, "Normal", "Scaled", "x")
    await flush(rec)
    clock.advance(FOLD_WINDOW + 1)                      # too long ago: a new Event
    rec.event(RS, "Normal", "Scaled", "x")
    await flush(rec)
    assert sorted(e["count"] for e in fake.objects(EVENTS, "ns")) == [1, 1]
    for e in fake.objects(EVENTS, "ns"):                # events expire (event TTL): the patch fails, create again
        await fake.delete(EVENTS, e["metadata"]["name"], "ns")
    rec.event(RS, "Normal", "Scaled", "x")
    await flush(rec)
    (ev,) = fake.objects(EVENTS, "ns")
    assert ev["count"] == 1
    await rec.close()


async def test_cluster_scoped_objects_and_long_messages() -> None:
    fake = FakeClient()
    rec = EventRecorder(fake, component="node-controller", clock=fake.clock)        # type: ignore[arg-type]
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "uid": "n-uid"}}
    rec.event(node, "Normal", "RegisteredNode", "m" * 5000)
    await flush(rec)
    (ev,) = fake.objects(EVENTS, "default")             # Events about cluster-scoped objects live in default
    assert len(ev["message"]) == 1024
    assert "namespace" not in ev["involvedObject"]
    await rec.close()


async def test_a_full_queue_drops_events_without_blocking(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_mod, "QUEUE_SIZE", 2)
    fake = FakeClient()
    rec = EventRecorder(fake, component="x", clock=fake.clock)                     # type: ignore[arg-type]
    for i in range(5):
        rec.event(RS, "Normal", "R", f"m{i}")           # returns at once even though nothing was written yet
    await flush(rec)
    assert [e["message"] for e in fake.objects(EVENTS, "ns")] == ["m0", "m1"]
    await rec.close()
