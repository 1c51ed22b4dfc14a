"""How a Job's status follows its pods (upstream ``trackJobStatusAndRemoveFinalizers`` and its helpers).

A finished pod still holding the ``batch.kubernetes.io/job-tracking`` finalizer is first written into
``status.uncountedTerminatedPods``; then its finalizer is removed; then it moves from the uncounted lists into the
``succeeded``/``failed`` counters. Every step is a status write or a pod patch that can fail on its own, and each
sync resumes from what the API holds, so a pod is counted once, never twice and never not at all. The terminal
condition is written last, after the interim FailureTarget/SuccessCriteriaMet, once nothing is left uncounted or
terminating.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from pybernetes.api.meta import is_being_deleted, name_of, namespace_of, uid_of
from pybernetes.client.clock import Clock
from pybernetes.client.resources import JOBS, PODS
from pybernetes.client.rest import APIStatusError, is_not_found
from pybernetes.controllers import job_util as ju

Obj = dict[str, Any]
MAX_UNCOUNTED = 500              # MaxUncountedPods: keeps .status.uncountedTerminatedPods under ~20 KB
REMOVE_FINALIZER = {"metadata": {"$deleteFromPrimitiveList/finalizers": [ju.TRACKING_FINALIZER]}}

@dataclass
class SyncCtx:
    """What one sync of one Job knows (upstream ``syncJobCtx``)."""
    job: Obj
    pods: list[Obj]
    active_pods: list[Obj]
    ready: int
    terminating: int
    uncounted_succeeded: set[str]
    uncounted_failed: set[str]
    expected_rm: frozenset[str]
    succeeded: int = 0
    failed: int = 0
    finished: Obj | None = None
    prev_succeeded: list[ju.Interval] = field(default_factory=list)
    succeeded_indexes: list[ju.Interval] = field(default_factory=list)
    backoff: ju.BackoffRecord = field(default_factory=ju.BackoffRecord)
    requeue: list[float] = field(default_factory=list)


class FinalizerExpectations:
    """Pods (by uid) whose tracking-finalizer removal a Job has asked for and not yet seen (upstream
    ``uidTrackingExpectations``): they are already counted and must not be counted again meanwhile."""

    def __init__(self) -> None:
        self._by_key: dict[str, set[str]] = {}

    def expect(self, key: str, uids: list[str]) -> None:
        self._by_key.setdefault(key, set()).update(uids)

    def observed(self, key: str, uid: str) -> None:
        s = self._by_key.get(key)
        if s is not None:
            s.discard(uid)

    def expected(self, key: str) -> frozenset[str]:
        return frozenset(self._by_key.get(key, ()))

    def forget(self, key: str) -> None:
        self._by_key.pop(key, None)


def prepare_status(job: Obj) -> Obj:
    """The Job's status with ``uncountedTerminatedPods`` lists present (it is a pointer upstream)."""
    status = job.setdefault("status", {})
    unc = status.get("uncountedTerminatedPods")
    if not isinstance(unc, dict):
        unc = status["uncountedTerminatedPods"] = {}
    unc["succeeded"] = list(unc.get("succeeded") or ())
    unc["failed"] = list(unc.get("failed") or ())
    return status  # type: ignore[no-any-return]


class StatusTracker:
    """Writes a Job's status and removes its pods' tracking finalizers, for :class:`JobController`."""

    def __init__(self, *, client: Any, recorder: Any, clock: Clock, finalizers: FinalizerExpectations,
                 backoffs: dict[str, ju.BackoffRecord]) -> None:
        self.client = client
        self.recorder = recorder
        self.clock = clock
        self.finalizers = finalizers
        self.backoffs = backoffs

    async def track(self, key: str, ctx: SyncCtx, needs_flush: bool) -> None:
        """``trackJobStatusAndRemoveFinalizers``: record finished pods as uncounted, remove their finalizers, move
        them into the counters, and finish the Job once nothing is uncounted or terminating."""
        job = ctx.job
        status = job["status"]
        indexed = ju.is_indexed(job)
        completions = ju.completions_of(job) or 0
        pods = sorted(ctx.pods, key=ju.completion_index) if indexed else ctx.pods
        with_finalizer = {uid_of(p) for p in pods if ju.has_tracking_finalizer(p) and uid_of(p) not in ctx.expected_rm}
        needs_flush = _clean_uncounted(status, with_finalizer) or needs_flush
        unc = status["uncountedTerminatedPods"]
        policy = ju.spec_of(job).get("podFailurePolicy")
        to_remove: list[Obj] = []
        new_indexes: list[int] = []
        reached_max = False
        for pod in pods:
            uid = uid_of(pod)
            if not ju.has_tracking_finalizer(pod) or uid in ctx.expected_rm:
                continue
            failed = ju.is_pod_failed(pod, job)
            if not (is_being_deleted(job) or ctx.finished is not None or ju.phase_of(pod) == "Succeeded"
                    or failed):
                continue
            to_remove.append(pod)
            ix = ju.completion_index(pod)
            if ju.phase_of(pod) == "Succeeded" and uid not in ctx.uncounted_failed:
                if indexed:
                    if 0 <= ix < completions and not ju.intervals_has(ctx.prev_succeeded, ix):
                        new_indexes.append(ix)
                        needs_flush = True
                elif uid not in ctx.uncounted_succeeded:
                    unc["succeeded"].append(uid)
                    needs_flush = True
            elif failed or (ctx.finished is not None and ctx.finished.get("type") != "SuccessCriteriaMet"):
                if uid not in ctx.uncounted_failed and (not indexed or 0 <= ix < completions):
                    if ju.match_pod_failure_policy(policy, pod)[1]:
                        unc["failed"].append(uid)
                        needs_flush = True
            if len(new_indexes) + len(unc["succeeded"]) + len(unc["failed"]) >= MAX_UNCOUNTED:
                reached_max = True
                break
        if indexed:
            ctx.succeeded_indexes = ju.with_indexes(ctx.succeeded_indexes, sorted(set(new_indexes)))
            text = ju.intervals_str(ctx.succeeded_indexes)
            needs_flush = needs_flush or text != (status.get("completedIndexes") or "")
            status["succeeded"] = ju.intervals_total(ctx.succeeded_indexes)
            status["completedIndexes"] = text
        needs_flush = self._interim_condition(ctx) or needs_flush
        needs_flush = await self._flush_and_remove_finalizers(key, ctx, to_remove, with_finalizer, needs_flush)
        finished = not reached_max and self._enact_finished(ctx)
        if finished or needs_flush:
            await self._write_status(ctx)
            if finished and ctx.finished is not None:
                self._record_finished(ctx.job, ctx.finished)

    def _interim_condition(self, ctx: SyncCtx) -> bool:
        """Write FailureTarget/SuccessCriteriaMet before any finalizer goes; the final condition follows later."""
        cond, status = ctx.finished, ctx.job["status"]
        if cond is None:
            return False
        now = self.clock.now()
        if cond.get("type") == "FailureTarget":
            status.setdefault("conditions", []).append(cond)
            ctx.finished = ju.new_condition("Failed", "True", cond.get("reason", ""), cond.get("message", ""), now)
            return True
        if cond.get("type") == "SuccessCriteriaMet":
            changed = ju.find_condition(status, "SuccessCriteriaMet") is None
            if changed:
                status.setdefault("conditions", []).append(cond)
            ctx.finished = ju.new_condition("Complete", "True", cond.get("reason", ""), cond.get("message", ""), now)
            return changed
        return False

    async def _flush_and_remove_finalizers(self, key: str, ctx: SyncCtx, to_remove: list[Obj],
                                           with_finalizer: set[str], needs_flush: bool) -> bool:
        """``flushUncountedAndRemoveFinalizers``: write the uncounted pods, then drop their finalizers and count
        those whose finalizer is gone. Returns whether the status still has unwritten changes."""
        if needs_flush:
            await self._write_status(ctx)
            self.backoffs[key] = ctx.backoff
            needs_flush = False
        rm_error: BaseException | None = None
        if to_remove:
            self.finalizers.expect(key, [uid_of(p) for p in to_remove])

            async def remove(pod: Obj) -> None:
                try:
                    await self.client.patch(PODS, name_of(pod), REMOVE_FINALIZER, namespace_of(pod),
                                            patch_type="strategic")
                except APIStatusError as e:
                    self.finalizers.observed(key, uid_of(pod))
                    if not is_not_found(e):
                        raise
                with_finalizer.discard(uid_of(pod))

            results = await asyncio.gather(*(remove(p) for p in to_remove), return_exceptions=True)
            errors = [r for r in results if isinstance(r, BaseException)]
            rm_error = errors[0] if errors else None
        if _clean_uncounted(ctx.job["status"], with_finalizer):
            needs_flush = True
        if rm_error is not None:
            if needs_flush:
                await self._write_status(ctx)
            raise rm_error
        return needs_flush

    def _enact_finished(self, ctx: SyncCtx) -> bool:
        """Set Complete/Failed once every finished pod is counted and none is still terminating."""
        cond = ctx.finished
        if cond is None:
            return False
        status = ctx.job["status"]
        unc = status["uncountedTerminatedPods"]
        if unc["succeeded"] or unc["failed"] or ctx.terminating > 0:
            return False
        conditions = status.setdefault("conditions", [])
        ju.ensure_condition(conditions, cond["type"], cond["status"], cond.get("reason", ""),
                            cond.get("message", ""), self.clock.now())
        if cond["type"] == "Complete":
            status["completionTime"] = ju.find_condition(status, "Complete")["lastTransitionTime"]  # type: ignore
        return True

    def _record_finished(self, job: Obj, cond: Obj) -> None:
        if cond["type"] == "Complete":
            completions = ju.completions_of(job)
            if completions is not None and int(job["status"].get("succeeded") or 0) > completions:
                self.recorder.event(job, "Warning", "TooManySucceededPods",
                                    "Too many succeeded pods running after completion count reached")
            self.recorder.event(job, "Normal", "Completed", "Job completed")
        else:
            self.recorder.event(job, "Warning", cond.get("reason", ""), cond.get("message", ""))

    async def _write_status(self, ctx: SyncCtx) -> None:
        """Update the status; the answer (with its resourceVersion) becomes the Job this sync goes on with."""
        status = ctx.job["status"]
        body = {**ctx.job, "status": ju.status_json(status)}
        updated = await self.client.update(JOBS, body, subresource="status")
        merged = dict(updated)
        merged["status"] = status                 # keep our lists and zero counters; the server stored the same
        ctx.job = merged


def _clean_uncounted(status: Obj, with_finalizer: set[str]) -> bool:
    """Move uncounted pods whose finalizer is gone into the counters (``cleanUncountedPodsWithoutFinalizers``)."""
    unc = status["uncountedTerminatedPods"]
    changed = False
    for kind in ("succeeded", "failed"):
        keep = [u for u in unc[kind] if u in with_finalizer]
        if len(keep) != len(unc[kind]):
            status[kind] = int(status.get(kind) or 0) + len(unc[kind]) - len(keep)
            unc[kind] = keep
            changed = True
    return changed

