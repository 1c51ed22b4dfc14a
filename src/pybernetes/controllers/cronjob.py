"""The CronJob controller (upstream ``pkg/controller/cronjob``, controller v2): on each scheduled time a Job named
``<cronjob>-<scheduled time in unix minutes>`` is created from ``spec.jobTemplate``.

Each CronJob is re-queued for its next scheduled time (plus 100 ms for clock skew) rather than polled. A sync:

1. deletes the oldest finished Jobs beyond ``successfulJobsHistoryLimit``/``failedJobsHistoryLimit``;
2. reconciles ``status.active`` with the Jobs it owns (finished ones leave it, missing ones are dropped) and
   records ``lastSuccessfulTime``;
3. unless suspended, finds the most recent unmet scheduled time since ``lastScheduleTime`` (or creation). A time
   older than ``startingDeadlineSeconds`` is missed; ``Forbid`` skips while a Job is active, ``Replace`` deletes the
   active Jobs first; then the Job is created and ``lastScheduleTime`` set. The deterministic name is the lock
   against creating a run twice: AlreadyExists means "already done".

Status changes are written once, at the end of the sync.
"""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pybernetes.api.kinds.cronjob import ScheduleError
from pybernetes.api.meta import (
    controller_ref,
    format_rfc3339,
    is_being_deleted,
    is_controlled_by,
    key_of,
    name_of,
    namespace_of,
    parse_time_or_none,
    uid_of,
)
from pybernetes.client.resources import CRONJOBS, JOBS
from pybernetes.client.rest import APIStatusError, is_already_exists, is_not_found
from pybernetes.controllers.base import Controller, ControllerContext
from pybernetes.controllers.controller_ref import (
    NAMESPACE_INDEX,
    error_message,
    has_status_cause,
    namespace_index,
    new_controller_ref,
)
from pybernetes.controllers.cron_schedule import Schedule, effective_schedule, load_location, parse
from pybernetes.controllers.job_util import finished_condition

log = logging.getLogger(__name__)
Obj = dict[str, Any]
SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
NEXT_SCHEDULE_DELTA = 0.1
MANY_MISSED = 100


# ---------------------------------------------------------------------------------------------------------------
# Schedule arithmetic (pure)


def most_recent_schedule_time(cj: Obj, now: datetime, sched: Schedule, *,
                              with_deadline: bool) -> tuple[datetime, datetime | None, int]:
    """``mostRecentScheduleTime``: (the time counted from, the latest scheduled time not after ``now`` or None,
    about how many were missed). Raises ValueError for a schedule whose times are less than a second apart."""
    spec, status = cj.get("spec") or {}, cj.get("status") or {}
    earliest = parse_time_or_none(status.get("lastScheduleTime")) or parse_time_or_none((cj.get("metadata") or {}).get(
        "creationTimestamp")) or now
    deadline = spec.get("startingDeadlineSeconds")
    if with_deadline and deadline is not None:
        earliest = max(earliest, now - timedelta(seconds=int(deadline)))
    t1 = sched.next(earliest)
    t2 = sched.next(t1) if t1 is not None else None
    if t1 is None or now < t1:
        return earliest, None, 0
    if t2 is None or now < t2:
        return earliest, t1, 0
    between = round((t2 - t1).total_seconds())
    if between < 1:
        raise ValueError("time difference between two schedules is less than 1 second")
    missed = int((now - t1).total_seconds()) // between + 1
    most_recent: datetime | None = None
    t: datetime | None = sched.next(t1 + timedelta(seconds=(missed - 2) * between))
    while t is not None and t <= now:
        most_recent = t
        t = sched.next(t)
    return earliest, most_recent, missed


def next_schedule_delay(cj: Obj, now: datetime, sched: Schedule) -> float:
    """``nextScheduleTimeDuration``: seconds until the next scheduled time after the last one, plus 100 ms."""
    try:
        earliest, recent, missed = most_recent_schedule_time(cj, now, sched, with_deadline=False)
        base = recent if recent is not None else (earliest if missed == 0 else now)
    except ValueError:
        base = now
    nxt = sched.next(base)
    if nxt is None:
        return 365 * 86400.0
    return (nxt - now).total_seconds() + NEXT_SCHEDULE_DELTA


def job_name(cj: Obj, scheduled: datetime) -> str:
    return f"{name_of(cj)}-{int(scheduled.timestamp()) // 60}"


def job_from_template(cj: Obj, scheduled: datetime) -> Obj:
    """``getJobFromTemplate2``: the template's labels and annotations, the scheduled time (RFC 3339 in the
    CronJob's zone), owned by the CronJob."""
    jt = (cj.get("spec") or {}).get("jobTemplate") or {}
    tmeta = jt.get("metadata") or {}
    tz = load_location((cj.get("spec") or {}).get("timeZone") or "")
    local = scheduled.astimezone(tz)
    stamp = local.strftime("%Y-%m-%dT%H:%M:%S") + ("Z" if local.utcoffset() == timedelta(0)
                                                   else local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:])
    meta: Obj = {"name": job_name(cj, scheduled), "namespace": namespace_of(cj),
                 "annotations": {**(tmeta.get("annotations") or {}), SCHEDULED_TIMESTAMP: stamp},
                 "ownerReferences": [new_controller_ref(cj, api_version="batch/v1", kind="CronJob")]}
    if tmeta.get("labels"):
        meta["labels"] = dict(tmeta["labels"])
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": copy.deepcopy(jt.get("spec") or {})}


def job_reference(job: Obj) -> Obj:
    meta = job.get("metadata") or {}
    return {"kind": "Job", "namespace": meta.get("namespace", ""), "name": meta.get("name", ""),
            "uid": meta.get("uid", ""), "apiVersion": "batch/v1", "resourceVersion": meta.get("resourceVersion", "")}


def _start_key(job: Obj) -> tuple[int, str, str]:
    """``byJobStartTime``: oldest start first, Jobs that never started last, then by name."""
    start = (job.get("status") or {}).get("startTime")
    return (0 if start else 1, str(start or ""), name_of(job))


# ---------------------------------------------------------------------------------------------------------------
# The controller


class CronJobController(Controller):
    name: ClassVar[str] = "cronjob"
    workers: ClassVar[int] = 5

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.cronjobs = ctx.informers.informer(CRONJOBS)
        self.jobs = ctx.informers.informer(JOBS)
        self.jobs.add_index(NAMESPACE_INDEX, namespace_index)
        self.cronjobs.add_handler(lambda cj: self.enqueue(key_of(cj)), self._update_cronjob)
        self.jobs.add_handler(self._job_event, self._update_job, self._job_event)

    def resolve(self, namespace: str, ref: Obj) -> Obj | None:
        if ref.get("kind") != "CronJob":
            return None
        cj = self.cronjobs.get(f"{namespace}/{ref.get('name')}")
        return cj if cj is not None and uid_of(cj) == ref.get("uid") else None

    # ---------------------------------------------------------------- handlers
    def _job_event(self, job: Obj) -> None:
        ref = controller_ref(job)
        if ref is not None and (cj := self.resolve(namespace_of(job), ref)) is not None:
            self.enqueue(key_of(cj))

    def _update_job(self, old: Obj, cur: Obj) -> None:
        old_ref, cur_ref = controller_ref(old), controller_ref(cur)
        if old_ref != cur_ref and old_ref is not None:
            self._job_event(old)
        self._job_event(cur)

    def _update_cronjob(self, old: Obj, cur: Obj) -> None:
        """A new schedule re-queues for its next time; anything else syncs now."""
        o, c = old.get("spec") or {}, cur.get("spec") or {}
        if o.get("schedule") == c.get("schedule") and o.get("timeZone") == c.get("timeZone"):
            self.enqueue(key_of(cur))
            return
        try:
            sched = parse(effective_schedule(c.get("schedule") or "", c.get("timeZone")))
        except ScheduleError:
            self.recorder.event(cur, "Warning", "UnParseableCronJobSchedule",
                                f"unparseable schedule for cronjob: {c.get('schedule')}")
            return
        self.queue.add_after(key_of(cur), next_schedule_delay(cur, self.clock.now(), sched))

    # ---------------------------------------------------------------- reconcile
    async def reconcile(self, key: str) -> float | None:
        cj = self.cronjobs.get(key)
        if cj is None:
            return None
        jobs = [j for j in self.jobs.by_index(NAMESPACE_INDEX, namespace_of(cj))
                if (ref := controller_ref(j)) is not None and ref.get("kind") == "CronJob"
                and ref.get("name") == name_of(cj)]
        cj = {**cj, "status": copy.deepcopy(cj.get("status") or {})}
        changed = await self.cleanup_finished_jobs(cj, jobs)
        err: BaseException | None = None
        requeue: float | None = None
        try:
            requeue, synced = await self.sync_cronjob(cj, jobs)
            changed = changed or synced
        except APIStatusError as e:
            err = e
        if changed:
            await self.client.update(CRONJOBS, {**cj, "status": _status_json(cj["status"])}, subresource="status")
        if requeue is not None:
            return requeue
        if err is not None:
            raise err
        return None

    async def cleanup_finished_jobs(self, cj: Obj, jobs: list[Obj]) -> bool:
        spec = cj.get("spec") or {}
        changed = False
        for kind, limit in (("Complete", spec.get("successfulJobsHistoryLimit")),
                            ("Failed", spec.get("failedJobsHistoryLimit"))):
            if limit is None:
                continue
            finished = sorted((j for j in jobs if finished_condition(j) == kind), key=_start_key)
            for j in finished[:max(0, len(finished) - int(limit))]:
                changed = await self._delete_job(cj, j) or changed
        return changed

    async def sync_cronjob(self, cj: Obj, jobs: list[Obj]) -> tuple[float | None, bool]:
        """``syncCronJob``: (seconds until the next sync or None, whether the status changed)."""
        now = self.clock.now()
        status = cj["status"]
        changed = False
        children = set()
        for j in jobs:
            children.add(uid_of(j))
            found = any(a.get("uid") == uid_of(j) for a in status.get("active") or ())
            done = finished_condition(j)
            if not found and done is None:
                fresh = await self.client.get(CRONJOBS, name_of(cj), namespace_of(cj))
                if any(a.get("uid") == uid_of(j) for a in (fresh.get("status") or {}).get("active") or ()):
                    cj.clear()
                    cj.update({**fresh, "status": copy.deepcopy(fresh.get("status") or {})})
                    status = cj["status"]
                    continue
                self.recorder.event(cj, "Warning", "UnexpectedJob",
                                    f"Saw a job that the controller did not create or forgot: {name_of(j)}")
            elif found and done is not None:
                _remove_active(status, uid_of(j))
                self.recorder.event(cj, "Normal", "SawCompletedJob",
                                    f"Saw completed job: {name_of(j)}, status: {done}")
                changed = True
            if done == "Complete":
                completed = parse_time_or_none((j.get("status") or {}).get("completionTime"))
                last = parse_time_or_none(status.get("lastSuccessfulTime"))
                if completed is not None and (last is None or completed > last):
                    status["lastSuccessfulTime"] = format_rfc3339(completed)
                    changed = True
        for ref in list(status.get("active") or ()):
            if ref.get("uid") in children:
                continue
            try:
                await self.client.get(JOBS, ref.get("name", ""), ref.get("namespace") or namespace_of(cj))
            except APIStatusError as e:
                if not is_not_found(e):
                    raise
                self.recorder.event(cj, "Normal", "MissingJob", f"Active job went missing: {ref.get('name')}")
                _remove_active(status, ref.get("uid", ""))
                changed = True
        if is_being_deleted(cj):
            return None, changed
        requeue, started = await self._maybe_start(cj, now)
        return requeue, changed or started

    async def _maybe_start(self, cj: Obj, now: datetime) -> tuple[float | None, bool]:
        """The scheduling half of ``syncCronJob``: (the requeue delay or None, whether the status changed)."""
        spec, status = cj.get("spec") or {}, cj["status"]
        tz = spec.get("timeZone")
        if tz is not None:
            try:
                load_location(tz)
            except ScheduleError as e:
                self.recorder.event(cj, "Warning", "UnknownTimeZone", f'invalid timeZone: "{tz}": {e}')
                return None, False
        if spec.get("suspend") is True:
            return None, False
        schedule = spec.get("schedule") or ""
        if "TZ" in schedule:
            self.recorder.event(cj, "Warning", "UnsupportedSchedule",
                                f'CRON_TZ or TZ used in schedule "{schedule}" is not officially supported, see '
                                f"https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more "
                                f"details")
        try:
            sched = parse(effective_schedule(schedule, tz))
        except ScheduleError as e:
            self.recorder.event(cj, "Warning", "UnparseableSchedule", f'unparseable schedule: "{schedule}" : {e}')
            return None, False
        try:
            _, scheduled, missed = most_recent_schedule_time(cj, now, sched, with_deadline=True)
        except ValueError as e:
            self.recorder.event(cj, "Warning", "InvalidSchedule", f"invalid schedule: {schedule} : {e}")
            return None, False
        if missed > MANY_MISSED and scheduled is not None:
            self.recorder.event(cj, "Warning", "TooManyMissedTimes", "too many missed start times. Set or decrease "
                                ".spec.startingDeadlineSeconds or check clock skew")
        delay = next_schedule_delay(cj, now, sched)
        if scheduled is None:
            return delay, False
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and scheduled + timedelta(seconds=int(deadline)) < now:
            self.recorder.event(cj, "Warning", "MissSchedule", "Missed scheduled time to start a job: "
                                + scheduled.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000"))
            return delay, False
        name = job_name(cj, scheduled)
        active = status.get("active") or []
        if (any(a.get("name") == name for a in active)
                or parse_time_or_none(status.get("lastScheduleTime")) == scheduled):
            return delay, False
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and active:
            self.recorder.event(cj, "Normal", "JobAlreadyActive",
                                "Not starting job because prior execution is running and concurrency policy is "
                                "Forbid")
            return delay, False
        replaced = False
        if policy == "Replace":
            for ref in list(active):
                job = await self.client.get(JOBS, ref.get("name", ""), ref.get("namespace") or namespace_of(cj))
                if not await self._delete_job(cj, job):
                    raise RuntimeError(f"could not replace job {namespace_of(job)}/{name_of(job)}")
                replaced = True
            active = status.get("active") or []
        body = job_from_template(cj, scheduled)
        try:
            job = await self.client.create(JOBS, body, namespace_of(cj))
            self.recorder.event(cj, "Normal", "SuccessfulCreate", f"Created job {name_of(job)}")
        except APIStatusError as e:
            if has_status_cause(e, "NamespaceTerminating"):
                raise
            if not is_already_exists(e):
                self.recorder.event(cj, "Warning", "FailedCreate", f"Error creating job: {error_message(e)}")
                raise
            job = await self.client.get(JOBS, name, namespace_of(cj))
            if not is_controlled_by(job, cj) or any(a.get("uid") == uid_of(job) for a in active):
                return delay, replaced          # someone else's, or already recorded: nothing to add
        status["active"] = [*active, job_reference(job)]
        status["lastScheduleTime"] = format_rfc3339(scheduled)
        return delay, True

    async def _delete_job(self, cj: Obj, job: Obj) -> bool:
        """``deleteJob``: the Job (background propagation takes its pods) and its active-list entry."""
        try:
            await self.client.delete(JOBS, name_of(job), namespace_of(job), propagation_policy="Background")
        except APIStatusError as e:
            if not is_not_found(e):
                self.recorder.event(cj, "Warning", "FailedDelete", f"Deleted job: {error_message(e)}")
                return False
        _remove_active(cj["status"], uid_of(job))
        self.recorder.event(cj, "Normal", "SuccessfulDelete", f"Deleted job {name_of(job)}")
        return True



def _remove_active(status: Obj, uid: str) -> None:
    status["active"] = [a for a in status.get("active") or () if a.get("uid") != uid]


def _status_json(status: Obj) -> Obj:
    out: Obj = {}
    if status.get("active"):
        out["active"] = status["active"]
    for k in ("lastScheduleTime", "lastSuccessfulTime"):
        if status.get(k):
            out[k] = status[k]
    return out
