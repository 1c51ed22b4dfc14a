"""Pure pieces of the Job controller (upstream ``job_controller.go``, ``indexed_job_utils.go``, ``backoff_utils.go``,
``pod_failure_policy.go``, ``success_policy.go``): completion-index intervals, conditions, which pods count as
failed, the failure backoff, pod failure and success policies, and the status as Go encodes it.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pybernetes.api.meta import annotations_of, format_rfc3339, is_being_deleted, parse_time_or_none
from pybernetes.controllers.pods import compare_for_deletion, is_pod_ready
from pybernetes.controllers.pods import phase_of as phase_of  # re-exported: the Job controller reads ju.phase_of

Obj = dict[str, Any]
Interval = tuple[int, int]                     # inclusive [first, last]

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"     # annotation and label
INDEX_ENV = "JOB_COMPLETION_INDEX"
UNKNOWN_INDEX = -1
CONTROLLER_NAME = "kubernetes.io/job-controller"
DEFAULT_BACKOFF = 10.0                         # DefaultJobPodFailureBackOff
MAX_BACKOFF = 600.0                            # MaxJobPodFailureBackOff
MAX_GENERATED_NAME = 63 - 5
_ATOI = re.compile(r"[+-]?[0-9]+")


# ---------------------------------------------------------------------------------------------------------------
# Spec


def spec_of(job: Obj) -> Obj:
    return job.get("spec") or {}


def is_indexed(job: Obj) -> bool:
    return spec_of(job).get("completionMode") == "Indexed"


def completions_of(job: Obj) -> int | None:
    c = spec_of(job).get("completions")
    return None if c is None else int(c)


def parallelism_of(job: Obj) -> int:
    p = spec_of(job).get("parallelism")
    return 1 if p is None else int(p)


def backoff_limit_of(job: Obj) -> int:
    b = spec_of(job).get("backoffLimit")
    return 6 if b is None else int(b)


def is_suspended(job: Obj) -> bool:
    return spec_of(job).get("suspend") is True


def only_replace_failed_pods(job: Obj) -> bool:
    """``onlyReplaceFailedPods``: podReplacementPolicy Failed, implied by a pod failure policy."""
    spec = spec_of(job)
    return spec.get("podReplacementPolicy") == "Failed" or spec.get("podFailurePolicy") is not None


def managed_elsewhere(job: Obj) -> bool:
    m = spec_of(job).get("managedBy")
    return m is not None and m != CONTROLLER_NAME


# ---------------------------------------------------------------------------------------------------------------
# Conditions


def find_condition(status: Obj, type_: str) -> Obj | None:
    for c in status.get("conditions") or ():
        if c.get("type") == type_:
            return c  # type: ignore[no-any-return]
    return None


def condition_true(job: Obj, type_: str) -> bool:
    c = find_condition(job.get("status") or {}, type_)
    return c is not None and c.get("status") == "True"


def finished_condition(job: Obj) -> str | None:
    """``getFinishedStatus``: ``Complete`` or ``Failed`` once a terminal condition is true."""
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return None


def is_finished(job: Obj) -> bool:
    return finished_condition(job) is not None


def new_condition(type_: str, status: str, reason: str, message: str, now: datetime) -> Obj:
    t = format_rfc3339(now)
    c: Obj = {"type": type_, "status": status, "lastProbeTime": t, "lastTransitionTime": t}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def ensure_condition(conditions: list[Obj], type_: str, status: str, reason: str, message: str,
                     now: datetime) -> bool:
    """``ensureJobConditionStatus``: set or add the condition in place (never add a False one); True if changed."""
    for i, c in enumerate(conditions):
        if c.get("type") == type_:
            if c.get("status") != status or c.get("reason", "") != reason or c.get("message", "") != message:
                conditions[i] = new_condition(type_, status, reason, message, now)
                return True
            return False
    if status != "False":
        conditions.append(new_condition(type_, status, reason, message, now))
        return True
    return False


# ---------------------------------------------------------------------------------------------------------------
# Pods


def has_tracking_finalizer(pod: Obj) -> bool:
    return TRACKING_FINALIZER in ((pod.get("metadata") or {}).get("finalizers") or ())


def is_pod_failed(pod: Obj, job: Obj) -> bool:
    """Failed, or (unless only failed pods are replaced) deleted before it succeeded."""
    phase = phase_of(pod)
    if phase == "Failed":
        return True
    if only_replace_failed_pods(job):
        return False
    return is_being_deleted(pod) and phase != "Succeeded"


def is_terminating(pod: Obj) -> bool:
    """``IsPodTerminal`` is false but the pod is being deleted (``CountTerminatingPods``)."""
    return is_being_deleted(pod) and phase_of(pod) not in ("Failed", "Succeeded")


def count_ready(pods: Iterable[Obj]) -> int:
    return sum(1 for p in pods if is_pod_ready(p))


def completion_index(pod: Obj) -> int:
    """The ``job-completion-index`` annotation, or -1 when missing or invalid."""
    raw = annotations_of(pod).get(COMPLETION_INDEX)
    if raw is None or not _ATOI.fullmatch(raw):
        return UNKNOWN_INDEX
    ix = int(raw)
    return ix if 0 <= ix < 2 ** 63 else UNKNOWN_INDEX


def generate_name_with_index(job_name: str, index: int) -> str:
    suffix = f"-{index}-"
    prefix = job_name + suffix
    if len(prefix) > MAX_GENERATED_NAME:
        prefix = prefix[:MAX_GENERATED_NAME - len(suffix)] + suffix
    return prefix


def add_completion_index_env(template: Obj) -> None:
    """Every (init) container reads ``JOB_COMPLETION_INDEX`` from the pod's index label."""
    spec = template.setdefault("spec", {})
    field = f"metadata.labels['{COMPLETION_INDEX}']"
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or ():
            env = c.setdefault("env", [])
            if not any(e.get("name") == INDEX_ENV for e in env):
                env.append({"name": INDEX_ENV, "valueFrom": {"fieldRef": {"fieldPath": field}}})


def with_completion_index(template: Obj, job_name: str, index: int) -> Obj:
    """A copy of the template with the index annotation and label and hostname ``<job>-<index>``."""
    t = copy.deepcopy(template)
    meta = t.setdefault("metadata", {})
    meta["annotations"] = {**(meta.get("annotations") or {}), COMPLETION_INDEX: str(index)}
    meta["labels"] = {**(meta.get("labels") or {}), COMPLETION_INDEX: str(index)}
    t.setdefault("spec", {})["hostname"] = f"{job_name}-{index}"
    return t


def sort_active_first_to_remove(pods: list[Obj]) -> list[Obj]:
    """``controller.ActivePods`` order: unscheduled, pending, not ready, ... before the rest."""
    return sorted(pods, key=functools.cmp_to_key(_removal_order))


def _removal_order(a: Obj, b: Obj) -> int:
    return compare_for_deletion((a, 0), (b, 0))


def active_pods_for_removal(job: Obj, pods: list[Obj], rm_at_least: int) -> list[Obj]:
    """Pods to delete: for Indexed Jobs those with invalid or repeated indexes first, then the least useful."""
    rm: list[Obj] = []
    left = pods
    if is_indexed(job):
        rm, left = duplicated_index_pods(pods, completions_of(job) or 0)
    if len(rm) < rm_at_least:
        left = sort_active_first_to_remove(left)
        rm += left[:rm_at_least - len(rm)]
    return rm


def duplicated_index_pods(pods: list[Obj], completions: int) -> tuple[list[Obj], list[Obj]]:
    """``appendDuplicatedIndexPodsForRemoval``: (to remove, to keep); one pod kept per valid index."""
    groups: dict[int, list[Obj]] = {}
    for p in pods:
        groups.setdefault(completion_index(p), []).append(p)
    rm: list[Obj] = []
    left: list[Obj] = []
    for ix in sorted(groups):
        group = groups[ix]
        if ix == UNKNOWN_INDEX or ix >= completions:
            rm += group
        elif len(group) == 1:
            left.append(group[0])
        else:
            ordered = sort_active_first_to_remove(group)
            rm += ordered[:-1]
            left.append(ordered[-1])
    return rm, left


def past_backoff_limit_on_failure(job: Obj, pods: Iterable[Obj]) -> bool:
    """For ``restartPolicy: OnFailure``: container restarts of running pods count against backoffLimit."""
    template_spec = (spec_of(job).get("template") or {}).get("spec") or {}
    if template_spec.get("restartPolicy") != "OnFailure":
        return False
    total = 0
    for p in pods:
        if phase_of(p) in ("Running", "Pending"):
            st = p.get("status") or {}
            for cs in (*(st.get("initContainerStatuses") or ()), *(st.get("containerStatuses") or ())):
                total += int(cs.get("restartCount") or 0)
    limit = backoff_limit_of(job)
    return total > 0 if limit == 0 else total >= limit


# ---------------------------------------------------------------------------------------------------------------
# Completion-index intervals


def parse_indexes(text: str | None, completions: int) -> list[Interval]:
    """``parseIndexesFromString``: ``"1,3-5"``; corrupt parts skipped, indexes cut at ``completions``."""
    out: list[Interval] = []
    if not text:
        return out
    for part in text.split(","):
        limits = part.split("-")
        try:
            first = int(limits[0])
        except ValueError:
            continue
        if first >= completions:
            break
        last = first
        if len(limits) > 1:
            try:
                last = int(limits[1])
            except ValueError:
                continue
            last = min(last, completions - 1)
        if out and out[-1][1] == first - 1:
            out[-1] = (out[-1][0], last)
        else:
            out.append((first, last))
    return out


def merge_intervals(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for first, last in sorted((*a, *b)):
        if out and out[-1][1] + 1 >= first:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out


def with_indexes(intervals: Sequence[Interval], indexes: Iterable[int]) -> list[Interval]:
    return merge_intervals(intervals, [(i, i) for i in indexes])


def intervals_total(intervals: Iterable[Interval]) -> int:
    return sum(last - first + 1 for first, last in intervals)


def intervals_has(intervals: Iterable[Interval], ix: int) -> bool:
    return any(first <= ix <= last for first, last in intervals)


def intervals_str(intervals: Iterable[Interval]) -> str:
    """``1,3-5``; two neighbours are written ``3,4`` as upstream does."""
    parts = []
    for first, last in intervals:
        if last == first:
            parts.append(str(first))
        elif last == first + 1:
            parts.append(f"{first},{last}")
        else:
            parts.append(f"{first}-{last}")
    return ",".join(parts)


def succeeded_indexes(job: Obj, pods: Iterable[Obj]) -> tuple[list[Interval], list[Interval]]:
    """(indexes in the status, those plus succeeded pods not counted yet)."""
    completions = completions_of(job) or 0
    prev = parse_indexes((job.get("status") or {}).get("completedIndexes"), completions)
    new = sorted({ix for p in pods if phase_of(p) == "Succeeded" and has_tracking_finalizer(p)
                  and 0 <= (ix := completion_index(p)) < completions})
    return prev, with_indexes(prev, new)


def first_pending_indexes(job: Obj, pods: list[Obj], active: list[Obj], succeeded: list[Interval],
                          count: int) -> list[int]:
    """The lowest ``count`` indexes that neither succeeded nor run (nor terminate, when only failed pods are
    replaced)."""
    if count <= 0:
        return []
    completions = completions_of(job) or 0
    busy = [completion_index(p) for p in active]
    if only_replace_failed_pods(job):
        busy += [completion_index(p) for p in pods if is_terminating(p)]
    taken = with_indexes(succeeded, sorted(ix for ix in busy if ix != UNKNOWN_INDEX))
    out: list[int] = []
    candidate = 0
    for first, last in taken:
        while candidate < completions and len(out) < count and candidate < first:
            out.append(candidate)
            candidate += 1
        candidate = max(candidate, last + 1)
    while candidate < completions and len(out) < count:
        out.append(candidate)
        candidate += 1
    return out


# ---------------------------------------------------------------------------------------------------------------
# Failure backoff


@dataclass(frozen=True, slots=True)
class BackoffRecord:
    failures_after_last_success: int = 0
    last_failure_time: datetime | None = None


def finished_time(pod: Obj) -> datetime:
    """When the pod finished: its containers' last finish, else Ready=False, else deletion minus grace, else
    creation (``getFinishedTime``)."""
    st = pod.get("status") or {}
    latest: datetime | None = None
    statuses = st.get("containerStatuses") or ()
    for cs in statuses:
        t = parse_time_or_none(((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"))
        if t is None:
            latest = None
            break
        latest = t if latest is None or t > latest else latest
    if latest is not None:
        return latest
    for c in st.get("conditions") or ():
        if c.get("type") == "Ready" and c.get("status") == "False" and (
                t := parse_time_or_none(c.get("lastTransitionTime"))):
            return t
    meta = pod.get("metadata") or {}
    if (t := parse_time_or_none(meta.get("deletionTimestamp"))) is not None:
        return t - timedelta(seconds=int(meta.get("deletionGracePeriodSeconds") or 0))
    return parse_time_or_none(meta.get("creationTimestamp")) or datetime.min.replace(tzinfo=UTC)


def new_backoff_record(old: BackoffRecord, succeeded: list[Obj], failed: list[Obj]) -> BackoffRecord:
    """Failures since the last success and when the last of them happened (``newBackoffRecord``)."""
    if not failed:
        return old if not succeeded else BackoffRecord()
    fail_times = sorted(finished_time(p) for p in failed)
    if not succeeded:
        return BackoffRecord(old.failures_after_last_success + len(failed), fail_times[-1])
    last_success = max(finished_time(p) for p in succeeded)
    after = [t for t in fail_times if t > last_success]
    return BackoffRecord(len(after), after[-1] if after else None)


def remaining_backoff(record: BackoffRecord, now: datetime, *, base: float = DEFAULT_BACKOFF,
                      cap: float = MAX_BACKOFF) -> float:
    """Seconds until another pod may be created: base × 2^(failures-1), capped, counted from the last failure."""
    if record.failures_after_last_success == 0 or record.last_failure_time is None:
        return 0.0
    delay = base
    for _ in range(1, record.failures_after_last_success):
        delay *= 2
        if delay >= cap:
            delay = cap
            break
    elapsed = (now - record.last_failure_time).total_seconds()
    return 0.0 if delay < elapsed else delay - elapsed


# ---------------------------------------------------------------------------------------------------------------
# Pod failure policy and success policy


def _exit_code_container(pod: Obj, req: Obj) -> Obj | None:
    st = pod.get("status") or {}
    for statuses in (st.get("containerStatuses") or (), st.get("initContainerStatuses") or ()):
        for cs in statuses:
            term = (cs.get("state") or {}).get("terminated")
            if term is None:
                continue
            if req.get("containerName") not in (None, cs.get("name")):
                continue
            code = int(term.get("exitCode") or 0)
            if code != 0 and (code in (req.get("values") or ())) == (req.get("operator") == "In"):
                return cs  # type: ignore[no-any-return]
    return None


def _pod_condition(pod: Obj, patterns: list[Obj]) -> Obj | None:
    for c in (pod.get("status") or {}).get("conditions") or ():
        for p in patterns:
            if p.get("type") == c.get("type") and (p.get("status") or "True") == c.get("status"):
                return c  # type: ignore[no-any-return]
    return None


def match_pod_failure_policy(policy: Obj | None, pod: Obj) -> tuple[str | None, bool, str | None]:
    """(message failing the Job, whether the failure counts against backoffLimit, the matching action)."""
    if policy is None:
        return None, True, None
    meta = pod.get("metadata") or {}
    for i, rule in enumerate(policy.get("rules") or ()):
        action = rule.get("action")
        if rule.get("onExitCodes") is not None:
            cs = _exit_code_container(pod, rule["onExitCodes"])
            if cs is None:
                continue
            what = (f"Container {cs.get('name')} for pod {meta.get('namespace')}/{meta.get('name')} failed with "
                    f"exit code {cs['state']['terminated'].get('exitCode')}")
        elif rule.get("onPodConditions") is not None:
            cond = _pod_condition(pod, rule["onPodConditions"])
            if cond is None:
                continue
            what = f"Pod {meta.get('namespace')}/{meta.get('name')} has condition {cond.get('type')}"
        else:
            continue
        if action == "Ignore":
            return None, False, action
        if action in ("Count", "FailIndex"):
            return None, True, action
        if action == "FailJob":
            return f"{what} matching FailJob rule at index {i}", True, action
    return None, True, None


def _rule_indexes_matched(rule: list[Interval], succeeded: list[Interval], count: int | None) -> bool:
    contains = sum(max(0, min(rl, sl) - max(rf, sf) + 1) for rf, rl in rule for sf, sl in succeeded)
    return contains == intervals_total(rule) or (count is not None and contains >= count)


def match_success_policy(policy: Obj | None, completions: int, succeeded: list[Interval]) -> str | None:
    """The SuccessCriteriaMet message when a success policy rule holds, else None."""
    if policy is None or not succeeded:
        return None
    for i, rule in enumerate(policy.get("rules") or ()):
        count = rule.get("succeededCount")
        if rule.get("succeededIndexes") is not None:
            required = parse_indexes(rule["succeededIndexes"], completions)
            if required and _rule_indexes_matched(required, succeeded, count):
                return f"Matched rules at index {i}"
        elif count is not None and intervals_total(succeeded) >= count:
            return f"Matched rules at index {i}"
    return None


# ---------------------------------------------------------------------------------------------------------------
# Status


_ORDER = ("conditions", "startTime", "completionTime", "active", "succeeded", "failed", "terminating",
          "completedIndexes", "failedIndexes", "uncountedTerminatedPods", "ready")
_OMIT_ZERO = frozenset(("active", "succeeded", "failed", "completedIndexes", "conditions"))


def status_json(status: Obj) -> Obj:
    """The status in Go's field order with zero ``omitempty`` values left out (pointers stay, even at 0)."""
    out: Obj = {}
    for k in _ORDER:
        v = status.get(k)
        if v is None or (k in _OMIT_ZERO and not v):
            continue
        if k == "uncountedTerminatedPods":
            v = {kk: vv for kk, vv in v.items() if vv}
        out[k] = v
    return out
