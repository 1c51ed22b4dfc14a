"""TTL after finished: finished Jobs with ttlSecondsAfterFinished are deleted (foreground, uid precondition) once
the TTL after their terminal condition has passed; running Jobs and Jobs without a TTL are left alone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from tests.unit.controllers.fakeclient import Harness, harness

from pybernetes.client.resources import JOBS
from pybernetes.controllers.ttlafterfinished import TTLAfterFinishedController, time_left

Obj = dict[str, Any]


def job(ttl: int | None = 100) -> Obj:
    spec: Obj = {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = ttl
    return {"metadata": {"name": "j", "namespace": "ns"}, "spec": spec}


async def finish(h: Harness, condition: str = "Complete") -> None:
    j = await h.client.get(JOBS, "j", "ns")
    j["status"] = {"conditions": [{"type": condition, "status": "True", "lastTransitionTime": h.client._now()}]}
    await h.client.update(JOBS, j, subresource="status")
    await h.settle()


@pytest.mark.parametrize(("status", "want"), [
    ({}, None),
    ({"conditions": [{"type": "Complete", "status": "False", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}, None),
    ({"conditions": [{"type": "Failed", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}, 40.0),
])
def test_time_left(status: Obj, want: float | None) -> None:
    now = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    assert time_left({"spec": {"ttlSecondsAfterFinished": 100}, "status": status}, now) == want


async def test_finished_job_is_deleted_after_its_ttl() -> None:
    async with harness() as h:
        c = TTLAfterFinishedController(h.ctx)
        await h.start()
        created = await h.client.create(JOBS, job(), "ns")
        await h.settle()
        assert len(c.queue) == 0                               # running: not queued
        await finish(h, "Failed")
        assert len(c.queue) == 1
        assert await c.reconcile("ns/j") == 100.0
        h.clock.advance(100)
        assert await c.reconcile("ns/j") is None
        gone = h.client.peek(JOBS, "j", "ns")
        assert gone is not None and gone["metadata"]["finalizers"] == ["foregroundDeletion"]
        delete = next(a for a in h.client.actions if a.verb == "delete")
        assert delete.body == {"propagationPolicy": "Foreground", "gracePeriodSeconds": None,
                               "preconditions": {"uid": created["metadata"]["uid"]}}


async def test_ttl_raised_meanwhile_is_honoured_from_a_fresh_read() -> None:
    async with harness() as h:
        c = TTLAfterFinishedController(h.ctx)
        await h.start()
        await h.client.create(JOBS, job(ttl=10), "ns")
        await h.settle()
        await finish(h)
        h.clock.advance(10)
        h.client.hold()                                         # the cache still says ttl=10
        j = await h.client.get(JOBS, "j", "ns")
        j["spec"]["ttlSecondsAfterFinished"] = 60
        await h.client.update(JOBS, j)
        assert await c.reconcile("ns/j") == 50.0
        assert h.client.count("delete", "jobs.batch") == 0
        h.client.release()


async def test_jobs_without_ttl_are_kept() -> None:
    async with harness() as h:
        c = TTLAfterFinishedController(h.ctx)
        await h.start()
        await h.client.create(JOBS, job(ttl=None), "ns")
        await h.settle()
        await finish(h)
        h.clock.advance(10_000)
        assert await c.reconcile("ns/j") is None
        assert h.client.peek(JOBS, "j", "ns") is not None
