"""Tables of batch/v1: Job (STATUS, COMPLETIONS, DURATION since 1.30) and CronJob (with TIMEZONE)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pybernetes.api.tables.age import human_duration, parse_timestamp, since
from pybernetes.api.tables.descriptions import DOCS
from pybernetes.api.tables.printer import (
    AGE,
    CONTAINERS,
    IMAGES,
    NAME,
    Obj,
    Printer,
    age_of,
    bool_ptr,
    column,
    containers_of,
    format_label_selector,
    layout_containers,
)

__all__ = ["PRINTERS", "job_status"]

_EMPTY: dict[str, Any] = {}


def _condition(conditions: list[dict[str, Any]], type_: str) -> bool:
    """``hasJobCondition``: the first condition of ``type_`` decides."""
    for c in conditions:
        if c.get("type") == type_:
            return c.get("status") == "True"
    return False


def job_status(job: Obj) -> str:
    """Complete, Failed, Terminating, Suspended, FailureTarget or Running — first match in that order."""
    conditions = (job.get("status") or _EMPTY).get("conditions") or []
    if _condition(conditions, "Complete"):
        return "Complete"
    if _condition(conditions, "Failed"):
        return "Failed"
    if (job.get("metadata") or _EMPTY).get("deletionTimestamp"):
        return "Terminating"
    if _condition(conditions, "Suspended"):
        return "Suspended"
    if _condition(conditions, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def _job(obj: Obj, now: datetime) -> list[Any]:
    spec, status = obj.get("spec") or _EMPTY, obj.get("status") or _EMPTY
    succeeded = status.get("succeeded") or 0
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    elif (spec.get("parallelism") or 0) > 1:
        completions = f"{succeeded}/1 of {spec['parallelism']}"
    else:
        completions = f"{succeeded}/1"
    start = parse_timestamp(status.get("startTime"))
    duration = ""
    if start is not None:
        end = parse_timestamp(status.get("completionTime"))
        duration = human_duration((end or now) - start)
    names, images = layout_containers(containers_of(spec.get("template")))
    return [(obj.get("metadata") or _EMPTY).get("name", ""), job_status(obj), completions, duration,
            age_of(obj, now), names, images, format_label_selector(spec.get("selector"))]


def _cron_job(obj: Obj, now: datetime) -> list[Any]:
    spec, status = obj.get("spec") or _EMPTY, obj.get("status") or _EMPTY
    last = status.get("lastScheduleTime")
    job_spec = (spec.get("jobTemplate") or _EMPTY).get("spec") or _EMPTY
    names, images = layout_containers(containers_of(job_spec.get("template")))
    tz = spec.get("timeZone")
    return [(obj.get("metadata") or _EMPTY).get("name", ""), spec.get("schedule") or "",
            "<none>" if tz is None else tz, bool_ptr(spec.get("suspend")), len(status.get("active") or ()),
            "<none>" if last is None else since(last, now), age_of(obj, now), names, images,
            format_label_selector(job_spec.get("selector"))]


PRINTERS = {
    ("batch", "Job"): Printer((
        NAME,
        column("Status", "string", "Status of the job."),
        column("Completions", "string", DOCS["batch.JobStatus.succeeded"]),
        column("Duration", "string", "Time required to complete the job."),
        AGE,
        column("Containers", "string", CONTAINERS, priority=1),
        column("Images", "string", IMAGES, priority=1),
        column("Selector", "string", DOCS["batch.JobSpec.selector"], priority=1),
    ), _job),
    ("batch", "CronJob"): Printer((
        NAME,
        column("Schedule", "string", DOCS["batchv1beta1.CronJobSpec.schedule"]),
        column("Timezone", "string", DOCS["batchv1beta1.CronJobSpec.timeZone"]),
        column("Suspend", "boolean", DOCS["batchv1beta1.CronJobSpec.suspend"]),
        column("Active", "integer", DOCS["batchv1beta1.CronJobStatus.active"]),
        column("Last Schedule", "string", DOCS["batchv1beta1.CronJobStatus.lastScheduleTime"]),
        AGE,
        column("Containers", "string", CONTAINERS, priority=1),
        column("Images", "string", IMAGES, priority=1),
        column("Selector", "string", DOCS["batch.JobSpec.selector"], priority=1),
    ), _cron_job),
}
