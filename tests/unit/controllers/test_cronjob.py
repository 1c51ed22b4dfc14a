"""The CronJob controller against the fake API and a fake clock: Jobs named by scheduled minute, concurrency
policies, starting deadlines, suspension, time zones, history limits and the active list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.unit.controllers.fakeclient import Harness, harness

from pybernetes.client.resources import CRONJOBS, JOBS
from pybernetes.controllers.cron_schedule import parse
from pybernetes.controllers.cronjob import (
    SCHEDULED_TIMESTAMP,
    CronJobController,
    job_name,
    most_recent_schedule_time,
    next_schedule_delay,
)

Obj = dict[str, Any]
T0 = datetime(2026, 1, 1, tzinfo=UTC)                        # the FakeClock's start
MINUTE = int(T0.timestamp()) // 60


def cj_body(schedule: str = "*/1 * * * *", **spec: Any) -> Obj:
    return {"metadata": {"name": "hello", "namespace": "ns"},
            "spec": {"schedule": schedule, **spec, "jobTemplate": {
                "metadata": {"labels": {"app": "hello"}, "annotations": {"note": "x"}},
                "spec": {"template": {"spec": {"restartPolicy": "OnFailure",
                                               "containers": [{"name": "c", "image": "busybox"}]}}}}}}


async def started(h: Harness) -> CronJobController:
    c = CronJobController(h.ctx)
    await h.start()
    return c


async def sync(h: Harness, c: CronJobController) -> float | None:
    await h.settle()
    out = await c.reconcile("ns/hello")
    await h.settle()
    return out


def jobs(h: Harness) -> list[str]:
    return [j["metadata"]["name"] for j in h.client.objects(JOBS, "ns") if not j["metadata"].get("deletionTimestamp")]


def status(h: Harness) -> Obj:
    return h.client.peek(CRONJOBS, "hello", "ns")["status"]   # type: ignore[index,no-any-return]


async def finish(h: Harness, name: str, kind: str = "Complete", *, start: int = 0) -> None:
    j = await h.client.get(JOBS, name, "ns")
    now = h.client._now()
    j["status"] = {"startTime": (T0 + timedelta(seconds=start)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                   "conditions": [{"type": kind, "status": "True", "lastTransitionTime": now}]}
    if kind == "Complete":
        j["status"]["completionTime"] = now
    await h.client.update(JOBS, j, subresource="status")


async def test_creates_a_job_per_scheduled_minute() -> None:
    async with harness() as h:
        c = await started(h)
        cj = await h.client.create(CRONJOBS, cj_body(), "ns")
        assert await sync(h, c) == pytest.approx(60.1)
        assert jobs(h) == []
        h.clock.advance(60)
        assert await sync(h, c) == pytest.approx(60.1)
        name = f"hello-{MINUTE + 1}"
        assert jobs(h) == [name]
        job = h.client.peek(JOBS, name, "ns")
        assert job is not None
        assert job["metadata"]["labels"]["app"] == "hello"
        assert job["metadata"]["annotations"] == {"note": "x", SCHEDULED_TIMESTAMP: "2026-01-01T00:01:00Z"}
        assert job["metadata"]["ownerReferences"] == [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "hello",
                                                       "uid": cj["metadata"]["uid"], "controller": True,
                                                       "blockOwnerDeletion": True}]
        st = status(h)
        assert st["lastScheduleTime"] == "2026-01-01T00:01:00Z"
        assert st["active"] == [{"kind": "Job", "namespace": "ns", "name": name, "uid": job["metadata"]["uid"],
                                 "apiVersion": "batch/v1", "resourceVersion": job["metadata"]["resourceVersion"]}]
        assert h.recorder.messages("SuccessfulCreate") == [f"Created job {name}"]
        await sync(h, c)                                         # the same minute is never run twice
        assert h.client.count("create", "jobs.batch") == 1


async def test_completed_job_leaves_the_active_list_and_sets_last_successful_time() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(CRONJOBS, cj_body(), "ns")
        h.clock.advance(60)
        await sync(h, c)
        name = jobs(h)[0]
        h.clock.advance(10)
        await finish(h, name)
        await sync(h, c)
        st = status(h)
        assert "active" not in st and st["lastSuccessfulTime"] == "2026-01-01T00:01:10Z"
        assert h.recorder.messages("SawCompletedJob") == [f"Saw completed job: {name}, status: Complete"]


@pytest.mark.parametrize(("policy", "want_jobs", "event"), [
    ("Allow", 2, None), ("Forbid", 1, "JobAlreadyActive"), ("Replace", 1, "SuccessfulDelete"),
])
async def test_concurrency_policies(policy: str, want_jobs: int, event: str | None) -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(CRONJOBS, cj_body(concurrencyPolicy=policy), "ns")
        h.clock.advance(60)
        await sync(h, c)
        first = jobs(h)
        h.clock.advance(60)
        await sync(h, c)
        assert len(jobs(h)) == want_jobs
        assert [a["name"] for a in status(h).get("active") or []] == jobs(h)
        if policy == "Replace":
            assert jobs(h) == [f"hello-{MINUTE + 2}"] and first == [f"hello-{MINUTE + 1}"]
            deletes = [a.body["propagationPolicy"] for a in h.client.actions if a.verb == "delete"]
            assert deletes == ["Background"]
        if event:
            assert h.recorder.messages(event)


async def test_starting_deadline_misses_late_runs() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(CRONJOBS, cj_body("0 * * * *", startingDeadlineSeconds=30), "ns")
        await h.settle()
        h.clock.advance(3600 + 45)                              # the controller was down at 01:00
        delay = await sync(h, c)
        assert jobs(h) == [] and delay == pytest.approx(3600 - 45 + 0.1)
        assert h.recorder.messages("MissSchedule") == []        # too late runs are simply not in the window
        h.clock.advance(3600 - 45 + 10)                         # 02:00:10: within 30 s
        await sync(h, c)
        assert jobs(h) == [f"hello-{MINUTE + 120}"]


async def test_suspended_cronjob_creates_nothing() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(CRONJOBS, cj_body(suspend=True), "ns")
        h.clock.advance(600)
        assert await sync(h, c) is None
        assert jobs(h) == []


async def test_time_zone_and_scheduled_timestamp() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(CRONJOBS, cj_body("0 9 * * *", timeZone="Europe/Paris"), "ns")
        assert await sync(h, c) == pytest.approx(8 * 3600 + 0.1)   # 09:00 in Paris is 08:00 UTC in winter
        h.clock.advance(8 * 3600)
        await sync(h, c)
        name = f"hello-{MINUTE + 8 * 60}"
        job = h.client.peek(JOBS, name, "ns")
        assert job is not None and job["metadata"]["annotations"][SCHEDULED_TIMESTAMP] == "2026-01-01T09:00:00+01:00"


async def test_history_limits_delete_the_oldest_finished_jobs() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(CRONJOBS, cj_body(successfulJobsHistoryLimit=1, failedJobsHistoryLimit=0), "ns")
        for i in range(3):
            h.clock.advance(60)
            await sync(h, c)
            await finish(h, jobs(h)[-1], "Complete" if i < 2 else "Failed", start=60 * (i + 1))
        await sync(h, c)
        assert jobs(h) == [f"hello-{MINUTE + 2}"]               # the newest success; the failure is dropped
        assert sorted(h.recorder.messages("SuccessfulDelete")) == [f"Deleted job hello-{MINUTE + 1}",
                                                                   f"Deleted job hello-{MINUTE + 3}"]


async def test_missing_active_job_is_dropped() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(CRONJOBS, cj_body("0 0 1 1 *"), "ns")
        await h.settle()
        cj = await h.client.get(CRONJOBS, "hello", "ns")
        cj["status"] = {"active": [{"kind": "Job", "namespace": "ns", "name": "gone", "uid": "u-gone",
                                    "apiVersion": "batch/v1"}]}
        await h.client.update(CRONJOBS, cj, subresource="status")
        await sync(h, c)
        assert "active" not in status(h)
        assert h.recorder.messages("MissingJob") == ["Active job went missing: gone"]


def test_most_recent_schedule_time_counts_missed_runs() -> None:
    sched = parse("*/1 * * * *")
    cj = {"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}, "spec": {}}
    earliest, recent, missed = most_recent_schedule_time(cj, T0 + timedelta(minutes=150, seconds=5), sched,
                                                         with_deadline=False)
    assert (earliest, recent, missed) == (T0, T0 + timedelta(minutes=150), 150)
    _, recent, missed = most_recent_schedule_time(cj, T0 + timedelta(seconds=59), sched, with_deadline=False)
    assert (recent, missed) == (None, 0)
    assert next_schedule_delay(cj, T0 + timedelta(seconds=20), sched) == pytest.approx(40.1)
    assert job_name({"metadata": {"name": "x"}}, T0) == f"x-{MINUTE}"


async def test_too_many_missed_runs_warns_and_still_runs_the_latest() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(CRONJOBS, cj_body(), "ns")
        h.clock.advance(60 * 200 + 5)
        await sync(h, c)
        assert jobs(h) == [f"hello-{MINUTE + 200}"]
        assert h.recorder.messages("TooManyMissedTimes")
