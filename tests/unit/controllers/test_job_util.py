"""Pure Job helpers: completion-index intervals, pending indexes, backoff, failure and success policies, status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pybernetes.controllers import job_util as ju

Obj = dict[str, Any]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(("text", "completions", "want"), [
    ("", 5, []), ("1,3-5", 10, [(1, 1), (3, 5)]), ("0,1,2", 5, [(0, 2)]), ("3-9", 5, [(3, 4)]),
    ("1,x,3", 5, [(1, 1), (3, 3)]), ("7", 5, []), ("1-2,4-4", 5, [(1, 2), (4, 4)]),
])
def test_parse_indexes(text: str, completions: int, want: list[ju.Interval]) -> None:
    assert ju.parse_indexes(text, completions) == want


@pytest.mark.parametrize(("intervals", "want"), [
    ([], ""), ([(1, 1)], "1"), ([(3, 4)], "3,4"), ([(0, 2), (5, 9)], "0-2,5-9"),
])
def test_intervals_str(intervals: list[ju.Interval], want: str) -> None:
    assert ju.intervals_str(intervals) == want


def test_with_indexes_merges_neighbours() -> None:
    merged = ju.with_indexes([(0, 1), (5, 5)], [2, 4, 9])
    assert merged == [(0, 2), (4, 5), (9, 9)] and ju.intervals_total(merged) == 6
    assert ju.intervals_has(merged, 4) and not ju.intervals_has(merged, 3)


def pod(index: int | str | None = None, phase: str = "Running", *, deleting: bool = False,
        finalizer: bool = True) -> Obj:
    meta: Obj = {"name": f"p{index}", "uid": f"u{index}", "annotations": {}}
    if index is not None:
        meta["annotations"][ju.COMPLETION_INDEX] = str(index)
    if deleting:
        meta["deletionTimestamp"] = at(0)
    if finalizer:
        meta["finalizers"] = [ju.TRACKING_FINALIZER]
    return {"metadata": meta, "status": {"phase": phase}}


@pytest.mark.parametrize(("raw", "want"), [("3", 3), ("+3", 3), ("-1", -1), ("1_0", -1), (" 1", -1), ("x", -1)])
def test_completion_index_parses_like_atoi(raw: str, want: int) -> None:
    assert ju.completion_index(pod(raw)) == want


def test_first_pending_indexes_skip_succeeded_and_running() -> None:
    job = {"spec": {"completions": 6, "completionMode": "Indexed"}}
    active = [pod(1), pod(4)]
    assert ju.first_pending_indexes(job, active, active, [(0, 0), (3, 3)], 2) == [2, 5]
    assert ju.first_pending_indexes(job, active, active, [], 10) == [0, 2, 3, 5]


def test_duplicated_and_invalid_indexes_are_removed_first() -> None:
    a, b, c, d = pod(0), pod(0, "Pending"), pod(7), pod(None)
    rm, left = ju.duplicated_index_pods([a, b, c, d], 5)
    assert {p["metadata"]["uid"] for p in rm} == {b["metadata"]["uid"], c["metadata"]["uid"], d["metadata"]["uid"]}
    assert left == [a]                                           # the running one is kept, the pending one goes


def test_is_pod_failed_counts_deleted_pods_unless_only_failed_ones_are_replaced() -> None:
    deleted = pod(0, deleting=True)
    assert ju.is_pod_failed(deleted, {"spec": {}})
    assert not ju.is_pod_failed(deleted, {"spec": {"podReplacementPolicy": "Failed"}})
    assert not ju.is_pod_failed(pod(0, "Succeeded", deleting=True), {"spec": {}})


def test_backoff_doubles_from_ten_seconds_and_is_reset_by_success() -> None:
    def failed(t: float) -> Obj:
        p = pod(0, "Failed")
        p["status"]["conditions"] = [{"type": "Ready", "status": "False", "lastTransitionTime": at(t)}]
        return p

    rec = ju.new_backoff_record(ju.BackoffRecord(), [], [failed(0)])
    assert ju.remaining_backoff(rec, T0 + timedelta(seconds=4)) == 6.0
    rec = ju.new_backoff_record(rec, [], [failed(10), failed(20)])
    assert rec.failures_after_last_success == 3
    assert ju.remaining_backoff(rec, T0 + timedelta(seconds=20)) == 40.0
    assert ju.remaining_backoff(ju.BackoffRecord(20, T0), T0) == 600.0   # capped at 10 minutes
    ok = pod(1, "Succeeded")
    ok["status"]["conditions"] = [{"type": "Ready", "status": "False", "lastTransitionTime": at(15)}]
    after = ju.new_backoff_record(rec, [ok], [failed(10), failed(20)])
    assert (after.failures_after_last_success, after.last_failure_time) == (1, T0 + timedelta(seconds=20))


def test_finished_time_prefers_container_finish_then_ready_false() -> None:
    p = pod(0, "Failed")
    p["status"]["containerStatuses"] = [{"state": {"terminated": {"finishedAt": at(5)}}},
                                        {"state": {"terminated": {"finishedAt": at(9)}}}]
    p["status"]["conditions"] = [{"type": "Ready", "status": "False", "lastTransitionTime": at(1)}]
    assert ju.finished_time(p) == T0 + timedelta(seconds=9)
    p["status"]["containerStatuses"][1]["state"] = {"running": {}}
    assert ju.finished_time(p) == T0 + timedelta(seconds=1)


def exited(code: int, name: str = "main") -> Obj:
    p = pod(0, "Failed")
    p["metadata"].update(namespace="ns")
    p["status"]["containerStatuses"] = [{"name": name, "state": {"terminated": {"exitCode": code}}}]
    p["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "True"}]
    return p


@pytest.mark.parametrize(("rules", "p", "want"), [
    ([], exited(1), (None, True, None)),
    ([{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}], exited(1), (None, False, "Ignore")),
    ([{"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [0, 1]}}], exited(1),
     (None, True, None)),
    ([{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [3], "containerName": "main"}}], exited(3),
     ("Container main for pod ns/p0 failed with exit code 3 matching FailJob rule at index 0", True, "FailJob")),
    ([{"action": "Count", "onExitCodes": {"operator": "In", "values": [9]}},
      {"action": "FailJob", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}], exited(3),
     ("Pod ns/p0 has condition DisruptionTarget matching FailJob rule at index 1", True, "FailJob")),
])
def test_pod_failure_policy(rules: list[Obj], p: Obj, want: tuple[Any, ...]) -> None:
    assert ju.match_pod_failure_policy({"rules": rules}, p) == want


@pytest.mark.parametrize(("rules", "succeeded", "want"), [
    ([{"succeededIndexes": "0"}], [(0, 0)], "Matched rules at index 0"),
    ([{"succeededIndexes": "0-3"}], [(0, 2)], None),
    ([{"succeededIndexes": "0-3", "succeededCount": 2}], [(2, 3)], "Matched rules at index 0"),
    ([{"succeededCount": 5}, {"succeededCount": 2}], [(0, 0), (4, 4)], "Matched rules at index 1"),
    ([{"succeededCount": 1}], [], None),
])
def test_success_policy(rules: list[Obj], succeeded: list[ju.Interval], want: str | None) -> None:
    assert ju.match_success_policy({"rules": rules}, 10, succeeded) == want


def test_ensure_condition_never_adds_a_false_one() -> None:
    conds: list[Obj] = []
    assert not ju.ensure_condition(conds, "Suspended", "False", "JobResumed", "Job resumed", T0)
    assert ju.ensure_condition(conds, "Suspended", "True", "JobSuspended", "Job suspended", T0)
    assert ju.ensure_condition(conds, "Suspended", "False", "JobResumed", "Job resumed", T0)
    assert conds == [{"type": "Suspended", "status": "False", "lastProbeTime": at(0), "lastTransitionTime": at(0),
                      "reason": "JobResumed", "message": "Job resumed"}]


def test_status_json_is_go_shaped() -> None:
    st = {"ready": 0, "active": 0, "terminating": 0, "succeeded": 2, "startTime": at(0), "completedIndexes": "",
          "uncountedTerminatedPods": {"succeeded": [], "failed": ["u"]}}
    out = ju.status_json(st)
    assert list(out) == ["startTime", "succeeded", "terminating", "uncountedTerminatedPods", "ready"]
    assert out["uncountedTerminatedPods"] == {"failed": ["u"]}


def test_index_template_and_generate_name() -> None:
    t = ju.with_completion_index({"metadata": {"labels": {"a": "b"}}, "spec": {}}, "job", 3)
    assert t["metadata"]["annotations"] == {ju.COMPLETION_INDEX: "3"}
    assert t["metadata"]["labels"] == {"a": "b", ju.COMPLETION_INDEX: "3"} and t["spec"]["hostname"] == "job-3"
    assert ju.generate_name_with_index("j" * 70, 12) == "j" * 54 + "-12-"
