"""Tables of batch/v1 Jobs and CronJobs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pybernetes.api.tables.batch import PRINTERS, job_status

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
TEMPLATE = {"spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]}}


def job(spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None, *,
        deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "pi", "namespace": "default", "creationTimestamp": "2025-03-01T11:00:00Z"}
    if deleting:
        meta["deletionTimestamp"] = "2025-03-01T11:59:00Z"
    return {"metadata": meta, "spec": {"template": TEMPLATE, "selector": {"matchLabels": {"job-name": "pi"}},
                                       **(spec or {})}, "status": status or {}}


def cond(type_: str, status: str = "True") -> dict[str, str]:
    return {"type": type_, "status": status}


@pytest.mark.parametrize(("obj", "want"), [
    (job(), "Running"),
    (job(status={"conditions": [cond("Complete")]}), "Complete"),
    (job(status={"conditions": [cond("Failed")]}), "Failed"),
    (job(status={"conditions": [cond("Failed", "False")]}), "Running"),
    (job(status={"conditions": [cond("Complete")]}, deleting=True), "Complete"),
    (job(deleting=True), "Terminating"),
    (job(status={"conditions": [cond("Suspended")]}), "Suspended"),
    (job(status={"conditions": [cond("Suspended")]}, deleting=True), "Terminating"),
    (job(status={"conditions": [cond("FailureTarget")]}), "FailureTarget"),
    (job(status={"conditions": [cond("FailureTarget"), cond("Failed")]}), "Failed"),
    (job(status={"conditions": [cond("SuccessCriteriaMet")]}), "Running"),        # 1.34+ shows it; 1.33 does not
])
def test_job_status(obj: dict[str, Any], want: str) -> None:
    assert job_status(obj) == want


@pytest.mark.parametrize(("spec", "status", "completions", "duration"), [
    ({"completions": 3, "parallelism": 2}, {"succeeded": 1, "startTime": "2025-03-01T11:30:00Z"}, "1/3", "30m"),
    ({"parallelism": 4}, {"startTime": "2025-03-01T11:59:00Z"}, "0/1 of 4", "60s"),
    ({"parallelism": 1}, {"succeeded": 1, "startTime": "2025-03-01T11:00:00Z",
                          "completionTime": "2025-03-01T11:00:45Z"}, "1/1", "45s"),
    ({}, {}, "0/1", ""),
    ({"completions": 0}, {}, "0/0", ""),
])
def test_job_row(spec: dict[str, Any], status: dict[str, Any], completions: str, duration: str) -> None:
    assert PRINTERS[("batch", "Job")].cells(job(spec, status), NOW) == [
        "pi", "Running", completions, duration, "60m", "pi", "perl", "job-name=pi"]


def test_cron_job() -> None:
    cj = {"metadata": {"name": "backup", "creationTimestamp": "2025-02-27T12:00:00Z"},
          "spec": {"schedule": "*/5 * * * *", "timeZone": "Etc/UTC", "suspend": False,
                   "jobTemplate": {"spec": {"template": TEMPLATE}}},
          "status": {"active": [{"name": "backup-1"}], "lastScheduleTime": "2025-03-01T11:55:00Z"}}
    p = PRINTERS[("batch", "CronJob")]
    assert p.cells(cj, NOW) == ["backup", "*/5 * * * *", "Etc/UTC", "False", 1, "5m", "2d", "pi", "perl", "<none>"]
    bare = {"metadata": {"name": "b"}, "spec": {"schedule": "@hourly"}}
    assert p.cells(bare, NOW) == ["b", "@hourly", "<none>", "<unset>", 0, "<none>", "<unknown>", "", "", "<none>"]
    assert [(c["name"], c["type"]) for c in p.columns][:7] == [
        ("Name", "string"), ("Schedule", "string"), ("Timezone", "string"), ("Suspend", "boolean"),
        ("Active", "integer"), ("Last Schedule", "string"), ("Age", "string")]
