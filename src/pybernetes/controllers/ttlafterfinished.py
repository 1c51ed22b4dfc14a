"""The TTL-after-finished controller (upstream ``pkg/controller/ttlafterfinished``): a finished Job with
``spec.ttlSecondsAfterFinished`` is deleted, with its pods (foreground propagation), that many seconds after its
Complete or Failed condition became true.

The cache may be stale or the TTL may have been changed since the Job was queued, so the expiry is checked against
the cache, then again against a fresh GET, and the delete carries the Job's uid as a precondition: a Job re-created
under the same name is never deleted by mistake.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pybernetes.api.meta import key_of, name_of, namespace_of, parse_time, split_key, uid_of
from pybernetes.client.resources import JOBS
from pybernetes.client.rest import APIStatusError, is_not_found
from pybernetes.controllers.base import Controller, ControllerContext

log = logging.getLogger(__name__)
Obj = dict[str, Any]


def ttl_of(job: Obj) -> int | None:
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    return None if ttl is None else int(ttl)


def finish_time(job: Obj) -> datetime | None:
    """When the Complete or Failed condition became true; None while the Job runs (or if the time is missing)."""
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            try:
                return parse_time(c["lastTransitionTime"]) if c.get("lastTransitionTime") else None
            except ValueError:
                return None
    return None


def needs_cleanup(job: Obj) -> bool:
    return ttl_of(job) is not None and finish_time(job) is not None and not (job.get("metadata") or {}).get(
        "deletionTimestamp")


def time_left(job: Obj, now: datetime) -> float | None:
    """Seconds until the Job expires (≤ 0: expired); None if it is not due for cleanup at all."""
    ttl, finished = ttl_of(job), finish_time(job)
    if ttl is None or finished is None:
        return None
    return (finished + timedelta(seconds=ttl) - now).total_seconds()


class TTLAfterFinishedController(Controller):
    name: ClassVar[str] = "ttl-after-finished"
    workers: ClassVar[int] = 5

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.jobs = ctx.informers.informer(JOBS)
        self.jobs.add_handler(self._job_changed, lambda old, cur: self._job_changed(cur))

    def _job_changed(self, job: Obj) -> None:
        if needs_cleanup(job):
            self.enqueue(key_of(job))

    async def reconcile(self, key: str) -> float | None:
        job = self.jobs.get(key)
        if job is None or not needs_cleanup(job):
            return None
        left = time_left(job, self.clock.now())
        if left is None or left > 0:
            return left
        ns, name = split_key(key)
        try:
            fresh = await self.client.get(JOBS, name, ns)
        except APIStatusError as e:
            if is_not_found(e):
                return None
            raise
        if not needs_cleanup(fresh):
            return None
        left = time_left(fresh, self.clock.now())
        if left is None or left > 0:
            return left
        log.info("cleaning up job", extra={"controller": self.name, "key": key})
        try:
            await self.client.delete(JOBS, name_of(fresh), namespace_of(fresh), propagation_policy="Foreground",
                                     preconditions={"uid": uid_of(fresh)})
        except APIStatusError as e:
            if not is_not_found(e):
                raise
        return None
