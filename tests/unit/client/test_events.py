"""EventRecorder: per-component sources and upstream's spam filter (25 events per source and object, then one
per 5 minutes)."""

from __future__ import annotations

from tests.unit.controllers.fakeclient import FakeClient

from pybernetes.client.clock import FakeClock
from pybernetes.client.events import SPAM_BURST, EventRecorder
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
