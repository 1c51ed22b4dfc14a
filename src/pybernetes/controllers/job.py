"""The Job controller (upstream ``pkg/controller/job``, 1.33 behaviour): pods run to completion, ``completions`` of
them successfully, ``parallelism`` at a time, NonIndexed or Indexed (each pod carries its index in the
``batch.kubernetes.io/job-completion-index`` annotation and label and ``JOB_COMPLETION_INDEX``).

Pods are tracked with the ``batch.kubernetes.io/job-tracking`` finalizer: a finished pod is first recorded in
``status.uncountedTerminatedPods`` (one status write), then its finalizer is removed, then it is moved into the
``succeeded``/``failed`` counters (a second write). So a pod is counted exactly once even if it is deleted, the
controller restarts, or a write fails half way: whatever is in ``uncountedTerminatedPods`` is finished but not yet
counted.

A Job fails when failures exceed ``backoffLimit`` (or container restarts do, for ``restartPolicy: OnFailure``), when
``activeDeadlineSeconds`` passes, or when a pod failure policy rule says so; it succeeds when ``completions`` pods
(or indexes) succeeded, or a success policy matches. As 1.33 does, the terminal condition is reached in two steps:
``FailureTarget``/``SuccessCriteriaMet`` first (remaining pods are then deleted), ``Failed``/``Complete`` once no pod
is left terminating. Failed pods are replaced after an exponential backoff: 10 s, 20 s, 40 s, … up to 10 minutes.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from datetime import datetime
from typing import Any, ClassVar

from pybernetes.api.meta import (
    controller_ref,
    format_rfc3339,
    is_being_deleted,
    is_controlled_by,
    key_of,
    labels_of,
    name_of,
    namespace_of,
    parse_time,
    split_key,
    uid_of,
)
from pybernetes.api.selectors import LabelSelector
from pybernetes.client.resources import JOBS, PODS
from pybernetes.client.rest import APIStatusError, is_not_found
from pybernetes.controllers import job_util as ju
from pybernetes.controllers.base import Controller, ControllerContext
from pybernetes.controllers.controller_ref import (
    CONTROLLER_UID_INDEX,
    NAMESPACE_INDEX,
    ORPHANS_INDEX,
    OwnerLookup,
    RefManager,
    add_indexes,
    error_message,
    has_status_cause,
    namespace_index,
    new_controller_ref,
    recheck_owner,
)
from pybernetes.controllers.expectations import Expectations
from pybernetes.controllers.job_tracking import (
    REMOVE_FINALIZER,
    FinalizerExpectations,
    StatusTracker,
    SyncCtx,
    prepare_status,
)
from pybernetes.controllers.pods import is_pod_active, pod_from_template, slow_start_batch

log = logging.getLogger(__name__)
Obj = dict[str, Any]
SYNC_BATCH_PERIOD = 1.0          # pod events are batched into one sync per second per Job (syncJobBatchPeriod)
MAX_CREATE_DELETE = 500          # MaxPodCreateDeletePerSync
ORPHAN = "@"                     # queue keys "@ns/pod": an orphan pod whose tracking finalizer must go


class JobController(Controller):
    name: ClassVar[str] = "job"
    workers: ClassVar[int] = 5

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.expectations = Expectations(clock=ctx.clock)
        self.finalizers = FinalizerExpectations()
        self.backoffs: dict[str, ju.BackoffRecord] = {}
        self.batch_period = float(ctx.options.get("job_sync_batch_period", SYNC_BATCH_PERIOD))
        self.tracker = StatusTracker(client=self.client, recorder=self.recorder, clock=self.clock,
                                     finalizers=self.finalizers, backoffs=self.backoffs)
        self.jobs = ctx.informers.informer(JOBS)
        self.pods = ctx.informers.informer(PODS)
        self.jobs.add_index(NAMESPACE_INDEX, namespace_index)
        add_indexes(self.pods)
        self.lookup = OwnerLookup(self.jobs, "Job")
        self.jobs.add_handler(self._add_job, self._update_job, self._delete_job)
        self.pods.add_handler(self._add_pod, self._update_pod, lambda pod: self._delete_pod(pod, final=True))

    # ---------------------------------------------------------------- lookups
    def selector_of(self, job: Obj) -> LabelSelector | None:
        return self.lookup.selector_of(job)

    def resolve(self, namespace: str, ref: Obj) -> Obj | None:
        return self.lookup.resolve(namespace, ref)

    def jobs_selecting(self, pod: Obj) -> list[Obj]:
        return self.lookup.selecting(pod)

    # ---------------------------------------------------------------- handlers
    def _batched(self, job: Obj) -> None:
        self.queue.add_after(key_of(job), self.batch_period)

    def _orphan(self, pod: Obj) -> None:
        self.enqueue(ORPHAN + key_of(pod))

    def _add_job(self, job: Obj) -> None:
        self.enqueue(key_of(job))

    def _update_job(self, old: Obj, cur: Obj) -> None:
        if (old.get("metadata") or {}).get("generation") == (cur.get("metadata") or {}).get("generation"):
            self._batched(cur)
        else:
            self.enqueue(key_of(cur))
        if ju.is_finished(cur):
            self._cleanup_pod_finalizers(cur)
        start = (cur.get("status") or {}).get("startTime")
        ads = ju.spec_of(cur).get("activeDeadlineSeconds")
        if start and ads is not None and ju.spec_of(old).get("activeDeadlineSeconds") != ads:
            passed = (self.clock.now() - parse_time(start)).total_seconds()
            self.queue.add_after(key_of(cur), max(0.0, float(ads) - passed))

    def _delete_job(self, job: Obj) -> None:
        self.lookup.forget(job)
        self.enqueue(key_of(job))
        self._cleanup_pod_finalizers(job)

    def _cleanup_pod_finalizers(self, job: Obj) -> None:
        for pod in self.pods.by_index(CONTROLLER_UID_INDEX, uid_of(job)):
            if is_controlled_by(pod, job) and ju.has_tracking_finalizer(pod):
                self._orphan(pod)

    def _add_pod(self, pod: Obj) -> None:
        if is_being_deleted(pod):
            self._delete_pod(pod, final=False)
            return
        ref = controller_ref(pod)
        if ref is not None:
            if (job := self.resolve(namespace_of(pod), ref)) is not None:
                self.expectations.creation_observed(key_of(job))
                self._batched(job)
            return
        if ju.has_tracking_finalizer(pod):
            self._orphan(pod)
        for job in self.jobs_selecting(pod):
            self._batched(job)

    def _update_pod(self, old: Obj, cur: Obj) -> None:
        if is_being_deleted(cur):
            self._delete_pod(cur, final=False)
            return
        removed = not ju.has_tracking_finalizer(cur)
        cur_ref, old_ref = controller_ref(cur), controller_ref(old)
        if cur_ref != old_ref and old_ref is not None:
            if (job := self.resolve(namespace_of(old), old_ref)) is not None:
                if removed:
                    self.finalizers.observed(key_of(job), uid_of(cur))
                self._batched(job)
        if cur_ref is not None:
            if (job := self.resolve(namespace_of(cur), cur_ref)) is not None:
                if removed:
                    self.finalizers.observed(key_of(job), uid_of(cur))
                self._batched(job)
            return
        if ju.has_tracking_finalizer(cur):
            self._orphan(cur)
        if labels_of(old) != labels_of(cur) or cur_ref != old_ref:
            for job in self.jobs_selecting(cur):
                self._batched(job)

    def _delete_pod(self, pod: Obj, *, final: bool) -> None:
        ref = controller_ref(pod)
        has_finalizer = ju.has_tracking_finalizer(pod)
        job = self.resolve(namespace_of(pod), ref) if ref is not None else None
        if job is None or ju.is_finished(job):
            if has_finalizer:
                self._orphan(pod)
            return
        key = key_of(job)
        self.expectations.deletion_observed(key, key_of(pod))
        if final or not has_finalizer:
            self.finalizers.observed(key, uid_of(pod))
        self._batched(job)

    # ---------------------------------------------------------------- reconcile
    async def reconcile(self, key: str) -> float | None:
        if key.startswith(ORPHAN):
            await self._sync_orphan_pod(key[len(ORPHAN):])
            return None
        shared = self.jobs.get(key)
        if shared is None:
            self.expectations.forget(key)
            self.finalizers.forget(key)
            self.backoffs.pop(key, None)
            return None
        if ju.managed_elsewhere(shared):
            return None
        if ju.is_finished(shared):
            self.backoffs.pop(key, None)
            return None
        if ju.spec_of(shared).get("completionMode") not in (None, "NonIndexed", "Indexed"):
            self.recorder.event(shared, "Warning", "UnknownCompletionMode",
                                "Skipped Job sync because completion mode is unknown")
            return None
        job = {**shared, "status": copy.deepcopy(shared.get("status") or {})}
        satisfied = self.expectations.satisfied(key)      # before reading pods: a pod seen later waits a sync
        ctx = await self._context(key, job)
        await self._sync(key, ctx, satisfied)
        return min(ctx.requeue) if ctx.requeue else None

    async def _context(self, key: str, job: Obj) -> SyncCtx:
        status = prepare_status(job)
        pods = await self._claim_pods(job)
        active = [p for p in pods if is_pod_active(p)]
        unc = status["uncountedTerminatedPods"]
        ctx = SyncCtx(job=job, pods=pods, active_pods=active, ready=ju.count_ready(active),
                      terminating=sum(1 for p in pods if ju.is_terminating(p)),
                      uncounted_succeeded=set(unc["succeeded"]), uncounted_failed=set(unc["failed"]),
                      expected_rm=self.finalizers.expected(key))
        new_succeeded = self._new_finished(ctx, ctx.uncounted_succeeded, lambda p: ju.phase_of(p) == "Succeeded")
        new_failed = self._new_finished(ctx, ctx.uncounted_failed, lambda p: ju.is_pod_failed(p, job))
        policy = ju.spec_of(job).get("podFailurePolicy")
        counted_failed = sum(1 for p in new_failed if ju.match_pod_failure_policy(policy, p)[1])
        ctx.succeeded = int(status.get("succeeded") or 0) + len(new_succeeded) + len(ctx.uncounted_succeeded)
        ctx.failed = int(status.get("failed") or 0) + counted_failed + len(ctx.uncounted_failed)
        ctx.backoff = ju.new_backoff_record(self.backoffs.get(key, ju.BackoffRecord()), new_succeeded, new_failed)
        return ctx

    @staticmethod
    def _new_finished(ctx: SyncCtx, uncounted: set[str], pred: Any) -> list[Obj]:
        """``getValidPodsWithFilter``: finished pods still holding the finalizer and not recorded yet."""
        completions = ju.completions_of(ctx.job) or 0
        out = []
        for p in ctx.pods:
            uid = uid_of(p)
            if not ju.has_tracking_finalizer(p) or uid in uncounted or uid in ctx.expected_rm:
                continue
            if ju.is_indexed(ctx.job) and not 0 <= ju.completion_index(p) < completions:
                continue
            if pred(p):
                out.append(p)
        return out

    async def _claim_pods(self, job: Obj) -> list[Obj]:
        """Pods the Job controls plus matching orphans, adopted; adopted pods count as tracked from now on."""
        selector = self.selector_of(job)
        if selector is None:
            raise ValueError(f"couldn't convert Job selector of {key_of(job)}")
        ns, _ = split_key(key_of(job))
        candidates = [*self.pods.by_index(CONTROLLER_UID_INDEX, uid_of(job)), *self.pods.by_index(ORPHANS_INDEX, ns)]
        manager = RefManager(self.client, owner=job, selector=selector, res=PODS,
                             owner_ref=new_controller_ref(job, api_version="batch/v1", kind="Job"),
                             can_adopt=recheck_owner(self.client, JOBS, job, "Job"))
        pods = await manager.claim(candidates)
        out = []
        for p in pods:
            if controller_ref(p) is None and not ju.has_tracking_finalizer(p):
                p = copy.deepcopy(p)
                p["metadata"]["finalizers"] = [*(p["metadata"].get("finalizers") or ()), ju.TRACKING_FINALIZER]
            out.append(p)
        return out

    async def _sync(self, key: str, ctx: SyncCtx, satisfied: bool) -> None:
        """``syncJob`` after the counting: decide the finished condition, manage pods, then track the status."""
        job, status = ctx.job, ctx.job["status"]
        now = self.clock.now()
        active = len(ctx.active_pods)
        if not status.get("startTime") and not ju.is_suspended(job):
            status["startTime"] = format_rfc3339(now)
        self._finished_by_failure(ctx, now)
        if ju.is_indexed(job):
            ctx.prev_succeeded, ctx.succeeded_indexes = ju.succeeded_indexes(job, ctx.pods)
            ctx.succeeded = ju.intervals_total(ctx.succeeded_indexes)
            if ctx.finished is None:
                msg = ju.match_success_policy(ju.spec_of(job).get("successPolicy"), ju.completions_of(job) or 0,
                                              ctx.succeeded_indexes)
                if msg is not None:
                    ctx.finished = ju.new_condition("SuccessCriteriaMet", "True", "SuccessPolicy", msg, now)
        suspend_changed = False
        manage_err: BaseException | None = None
        if ctx.finished is not None:
            deleted_ready, deleted, manage_err = await self._delete_active_pods(job, ctx.active_pods)
            if deleted != active or not satisfied:
                ctx.finished = None           # wait for remaining finalizers or pods not yet in the cache
            active -= deleted
            ctx.terminating += deleted
            ctx.ready -= deleted_ready
        else:
            managed = False
            if satisfied and not is_being_deleted(job):
                try:
                    active = await self._manage(key, ctx)
                except Exception as e:
                    manage_err = e
                    active = len(ctx.active_pods)
                managed = True
            completions = ju.completions_of(job)
            complete = ctx.succeeded > 0 and active == 0 if completions is None else \
                ctx.succeeded >= completions and active == 0
            if complete:
                ctx.finished = ju.new_condition("SuccessCriteriaMet", "True", "CompletionsReached",
                                                "Reached expected number of succeeded pods", now)
            elif managed:
                suspend_changed = self._suspend_condition(job, now)
        old = (status.get("active") or 0, status.get("ready"), status.get("terminating"))
        needs_flush = suspend_changed or old != (active, ctx.ready, ctx.terminating)
        status["active"], status["ready"], status["terminating"] = active, ctx.ready, ctx.terminating
        await self.tracker.track(key, ctx, needs_flush)
        if manage_err is not None:
            raise manage_err

    def _finished_by_failure(self, ctx: SyncCtx, now: datetime) -> None:
        """The failure (or already met success) that ends the Job, if any; schedules the deadline check."""
        job, status = ctx.job, ctx.job["status"]
        met = ju.find_condition(status, "SuccessCriteriaMet")
        if met is not None and met.get("status") == "True":
            ctx.finished = met
            return
        target = ju.find_condition(status, "FailureTarget")
        if target is not None and target.get("status") == "True":
            ctx.finished = ju.new_condition("Failed", "True", target.get("reason", ""), target.get("message", ""),
                                            now)
            return
        policy = ju.spec_of(job).get("podFailurePolicy")
        if policy is not None:
            for p in ctx.pods:
                if ju.is_pod_failed(p, job) and (msg := ju.match_pod_failure_policy(policy, p)[0]) is not None:
                    ctx.finished = ju.new_condition("FailureTarget", "True", "PodFailurePolicy", msg, now)
                    return
        if ctx.failed > ju.backoff_limit_of(job) or ju.past_backoff_limit_on_failure(job, ctx.pods):
            ctx.finished = ju.new_condition("FailureTarget", "True", "BackoffLimitExceeded",
                                            "Job has reached the specified backoff limit", now)
            return
        ads = ju.spec_of(job).get("activeDeadlineSeconds")
        if ads is None or ju.is_suspended(job) or not status.get("startTime"):
            return
        left = float(ads) - (now - parse_time(status["startTime"])).total_seconds()
        if left <= 0:
            ctx.finished = ju.new_condition("FailureTarget", "True", "DeadlineExceeded",
                                            "Job was active longer than specified deadline", now)
        else:
            ctx.requeue.append(left)

    def _suspend_condition(self, job: Obj, now: datetime) -> bool:
        conditions = job["status"].setdefault("conditions", [])
        if ju.is_suspended(job):
            changed = ju.ensure_condition(conditions, "Suspended", "True", "JobSuspended", "Job suspended", now)
            if changed:
                self.recorder.event(job, "Normal", "Suspended", "Job suspended")
            return changed
        changed = ju.ensure_condition(conditions, "Suspended", "False", "JobResumed", "Job resumed", now)
        if changed:
            self.recorder.event(job, "Normal", "Resumed", "Job resumed")
            job["status"]["startTime"] = format_rfc3339(now)   # the deadline counts from the resumption
        return changed

    # ---------------------------------------------------------------- pods
    async def _manage(self, key: str, ctx: SyncCtx) -> int:
        """``manageJob``: delete surplus pods or create missing ones (never both in one sync); returns active."""
        job = ctx.job
        active = len(ctx.active_pods)
        if ju.is_suspended(job):
            victims = ju.active_pods_for_removal(job, ctx.active_pods, active)
            return active - await self._delete_surplus(key, ctx, victims)
        completions = ju.completions_of(job)
        parallelism = ju.parallelism_of(job)
        if completions is None:
            want = active if ctx.succeeded > 0 else parallelism
        else:
            want = max(0, min(completions - ctx.succeeded, parallelism))
        victims = ju.active_pods_for_removal(job, ctx.active_pods, max(0, active - want))[:MAX_CREATE_DELETE]
        if victims:
            return active - await self._delete_surplus(key, ctx, victims)
        terminating = ctx.terminating if ju.only_replace_failed_pods(job) else 0
        diff = min(want - terminating - active, MAX_CREATE_DELETE)
        if diff <= 0:
            return active
        wait = ju.remaining_backoff(ctx.backoff, self.clock.now())
        if wait > 0:
            ctx.requeue.append(max(wait, self.batch_period))
            return active
        indexes: list[int] = []
        if ju.is_indexed(job):
            indexes = ju.first_pending_indexes(job, ctx.pods, ctx.active_pods, ctx.succeeded_indexes, diff)
            diff = len(indexes)
            if diff == 0:
                return active
        created = await self._create_pods(key, job, diff, indexes)
        return active + created

    async def _create_pods(self, key: str, job: Obj, count: int, indexes: list[int]) -> int:
        self.expectations.expect_creations(key, count)
        template = copy.deepcopy(ju.spec_of(job).get("template") or {})
        if indexes:
            ju.add_completion_index_env(template)
        tmeta = template.setdefault("metadata", {})
        if ju.TRACKING_FINALIZER not in (tmeta.get("finalizers") or ()):
            tmeta["finalizers"] = [*(tmeta.get("finalizers") or ()), ju.TRACKING_FINALIZER]
        ref = new_controller_ref(job, api_version="batch/v1", kind="Job")
        pending = list(indexes)
        ns = namespace_of(job)

        async def create() -> None:
            if pending:
                ix = pending.pop(0)
                body = pod_from_template(ju.with_completion_index(template, name_of(job), ix), job, ref)
                body["metadata"]["generateName"] = ju.generate_name_with_index(name_of(job), ix)
            else:
                body = pod_from_template(template, job, ref)
            try:
                pod = await self.client.create(PODS, body, ns)
            except APIStatusError as e:
                if has_status_cause(e, "NamespaceTerminating"):
                    return
                self.recorder.event(job, "Warning", "FailedCreate", f"Error creating: {error_message(e)}")
                raise
            self.recorder.event(job, "Normal", "SuccessfulCreate", f"Created pod: {name_of(pod)}")

        created, err = await slow_start_batch(count, 1, create)
        if created < count:
            self.expectations.lower(key, add=count - created)
        if err is not None:
            raise err
        return created

    async def _delete_surplus(self, key: str, ctx: SyncCtx, victims: list[Obj]) -> int:
        """``deleteJobPods``: finalizer first (the pod is not counted), then the pod; returns how many went."""
        self.expectations.expect_deletions(key, [key_of(p) for p in victims])
        job = ctx.job

        async def delete(pod: Obj) -> bool:
            try:
                if ju.has_tracking_finalizer(pod):
                    await self.client.patch(PODS, name_of(pod), REMOVE_FINALIZER, namespace_of(pod),
                                            patch_type="strategic")
                await self.client.delete(PODS, name_of(pod), namespace_of(pod))
            except APIStatusError as e:
                self.expectations.deletion_observed(key, key_of(pod))
                if is_not_found(e):
                    return True
                self.recorder.event(job, "Warning", "FailedDelete", f"Error deleting: {error_message(e)}")
                raise
            self.recorder.event(job, "Normal", "SuccessfulDelete", f"Deleted pod: {name_of(pod)}")
            return True

        results = await asyncio.gather(*(delete(p) for p in victims), return_exceptions=True)
        deleted = [p for p, r in zip(victims, results, strict=True) if r is True]
        ctx.terminating += len(deleted)
        ctx.ready -= ju.count_ready(deleted)
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return len(deleted)

    async def _delete_active_pods(self, job: Obj, pods: list[Obj]) -> tuple[int, int, BaseException | None]:
        """``deleteActivePods``: the Job is ending; pods keep their finalizer until they are counted."""
        async def delete(pod: Obj) -> None:
            try:
                await self.client.delete(PODS, name_of(pod), namespace_of(pod))
            except APIStatusError as e:
                if not is_not_found(e):
                    raise
            self.recorder.event(job, "Normal", "SuccessfulDelete", f"Deleted pod: {name_of(pod)}")

        results = await asyncio.gather(*(delete(p) for p in pods), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        deleted = [p for p, r in zip(pods, results, strict=True) if not isinstance(r, BaseException)]
        return ju.count_ready(deleted), len(deleted), (errors[0] if errors else None)


    async def _sync_orphan_pod(self, pod_key: str) -> None:
        """Drop the tracking finalizer of a pod no unfinished Job of ours controls."""
        pod = self.pods.get(pod_key)
        if pod is None or not ju.has_tracking_finalizer(pod):
            return
        ref = controller_ref(pod)
        if ref is not None:
            if ref.get("kind") != "Job" or ref.get("apiVersion") != "batch/v1":
                return
            job = self.resolve(namespace_of(pod), ref)
            if job is not None and (ju.managed_elsewhere(job) or not ju.is_finished(job)):
                return
        try:
            await self.client.patch(PODS, name_of(pod), REMOVE_FINALIZER, namespace_of(pod), patch_type="strategic")
        except APIStatusError as e:
            if not is_not_found(e):
                raise
