"""batch/v1 CronJob: defaults, validation and strategy, with the schedule and time-zone checks.

Upstream validates ``spec.schedule`` by parsing it with ``robfig/cron/v3``'s standard parser (five fields or an
``@`` descriptor) and puts the parser's error text in the field error, so the texts below follow that parser:
``expected exactly 5 fields, found 1: [foo]``, ``end of range (60) above maximum (59): 60``, ... Time zones are
checked as upstream does: IANA name syntax first, then a real tz database lookup (Python's ``zoneinfo`` stands in
for Go's ``time.LoadLocation``).
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass

from pybernetes.api.field import FieldError, Path, invalid, not_supported, required
from pybernetes.api.kinds.apps import ensure_template, go_label_selector, name_warnings
from pybernetes.api.kinds.batch import SPEC, job_spec_errors
from pybernetes.api.kinds.fieldchecks import non_negative
from pybernetes.api.kinds.pod import default_pod_template
from pybernetes.api.strategy import Obj, Strategy

_DESCRIPTORS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
_MONTHS = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                           "nov", "dec"))}
_DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_TZ_PART = re.compile(r"[A-Za-z.\-_0-9+]{1,14}")
_INT = re.compile(r"[+-]?[0-9]+")
_DURATION_PART = re.compile(r"([0-9]*\.?[0-9]*)([^0-9.]*)")
_UNITS = frozenset({"ns", "us", "µs", "μs", "ms", "s", "m", "h"})


@dataclass(frozen=True, slots=True)
class _Bounds:
    lo: int
    hi: int
    names: dict[str, int] | None = None


# minute, hour, day of month, month, day of week
_FIELDS = (_Bounds(0, 59), _Bounds(0, 23), _Bounds(1, 31), _Bounds(1, 12, _MONTHS), _Bounds(0, 6, _DAYS))


class ScheduleError(ValueError):
    pass


def schedule_error(spec: str) -> str | None:
    """The parser's error for a schedule, or None when it parses."""
    try:
        parse_standard(spec)
    except ScheduleError as e:
        return str(e)
    return None


def parse_standard(spec: str) -> None:
    if not spec:
        raise ScheduleError("empty spec string")
    if spec.startswith(("TZ=", "CRON_TZ=")):
        i = spec.find(" ")
        eq = spec.find("=")
        name = spec[eq + 1:i] if i >= 0 else spec[eq + 1:]
        err = load_location_error(name)
        if err:
            raise ScheduleError(f"provided bad location {name}: {err}")
        spec = spec[i:].strip() if i >= 0 else ""
    if spec.startswith("@"):
        _descriptor(spec)
        return
    fields = spec.split()
    if len(fields) != len(_FIELDS):
        raise ScheduleError(f"expected exactly {len(_FIELDS)} fields, found {len(fields)}: [{' '.join(fields)}]")
    for text, bounds in zip(fields, _FIELDS, strict=True):
        for expr in (e for e in text.split(",") if e):
            _range(expr, bounds)


def _descriptor(spec: str) -> None:
    if spec in _DESCRIPTORS:
        return
    if spec.startswith("@every "):
        err = go_duration_error(spec[len("@every "):])
        if err:
            raise ScheduleError(f"failed to parse duration {spec}: {err}")
        return
    raise ScheduleError(f"unrecognized descriptor: {spec}")


def _int(expr: str) -> int:
    if not _INT.fullmatch(expr):
        raise ScheduleError(f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": invalid syntax')
    num = int(expr)
    if not -(2 ** 63) <= num < 2 ** 63:
        raise ScheduleError(f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": value out of range')
    if num < 0:
        raise ScheduleError(f"negative number ({num}) not allowed: {expr}")
    return num


def _int_or_name(expr: str, names: dict[str, int] | None) -> int:
    if names is not None and expr.lower() in names:
        return names[expr.lower()]
    return _int(expr)


def _range(expr: str, b: _Bounds) -> None:
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    if low_high[0] in ("*", "?"):
        start, end = b.lo, b.hi
    else:
        start = _int_or_name(low_high[0], b.names)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _int_or_name(low_high[1], b.names)
        else:
            raise ScheduleError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _int(range_and_step[1])
        if len(low_high) == 1:
            end = b.hi
    else:
        raise ScheduleError(f"too many slashes: {expr}")
    if start < b.lo:
        raise ScheduleError(f"beginning of range ({start}) below minimum ({b.lo}): {expr}")
    if end > b.hi:
        raise ScheduleError(f"end of range ({end}) above maximum ({b.hi}): {expr}")
    if start > end:
        raise ScheduleError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise ScheduleError(f"step of range should be a positive number: {expr}")


def go_duration_error(s: str) -> str | None:
    """``time.ParseDuration``'s error text, or None for a valid Go duration such as ``1h30m``."""
    rest = s[1:] if s[:1] in ("+", "-") else s
    if rest == "0":
        return None
    if not rest:
        return f'time: invalid duration "{s}"'
    pos = 0
    while pos < len(rest):
        m = _DURATION_PART.match(rest, pos)
        if m is None:
            return f'time: invalid duration "{s}"'
        num, unit = m.group(1), m.group(2)
        if num in ("", "."):
            return f'time: invalid duration "{s}"'
        if not unit:
            return f'time: missing unit in duration "{s}"'
        if unit not in _UNITS:
            return f'time: unknown unit "{unit}" in duration "{s}"'
        pos = m.end()
    return None


def load_location_error(name: str) -> str | None:
    """Go's ``time.LoadLocation`` error text for ``name`` (``""``/``UTC``/``Local`` always load)."""
    if name in ("", "UTC", "Local"):
        return None
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return f"unknown time zone {name}"
    return None


def time_zone_errors(tz: str) -> list[str]:
    """Messages for ``spec.timeZone`` in upstream's order; the first failing rule wins, as upstream returns early."""
    if tz == "":
        return ["timeZone must be nil or non-empty string"]
    for part in tz.split("/"):
        if part in (".", "..") or part.startswith("-") or not _TZ_PART.fullmatch(part):
            return [f"unknown time zone {tz}"]
    msgs = []
    if tz.lower() == "local":
        msgs.append("timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")
    err = load_location_error(tz)
    if err:
        msgs.append(err)
    return msgs


# ---------------------------------------------------------------- CronJob

CONCURRENCY = ("Allow", "Forbid", "Replace")
MAX_CRONJOB_NAME = 52


def default_cronjob(obj: Obj) -> None:
    """``SetDefaults_CronJob``; the job template gets pod template defaults only, never Job defaults."""
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    if not spec.get("concurrencyPolicy"):
        spec["concurrencyPolicy"] = "Allow"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("successfulJobsHistoryLimit") is None:
        spec["successfulJobsHistoryLimit"] = 3
    if spec.get("failedJobsHistoryLimit") is None:
        spec["failedJobsHistoryLimit"] = 1
    jt = spec.get("jobTemplate")
    if not isinstance(jt, dict):
        jt = spec["jobTemplate"] = {}
    jspec = jt.get("spec")
    if not isinstance(jspec, dict):
        jspec = jt["spec"] = {}
    default_pod_template(ensure_template(jspec))


def validate_cronjob_spec(spec: Obj, old_spec: Obj | None, path: Path = SPEC) -> list[FieldError]:
    errs: list[FieldError] = []
    schedule = spec.get("schedule", "")
    tz = spec.get("timeZone")
    if not schedule:
        errs.append(required(path.child("schedule")))
    else:
        spath = path.child("schedule")
        allow_tz = old_spec is not None and "TZ" in (old_spec.get("schedule") or "")
        err = schedule_error(schedule)
        if err:
            errs.append(invalid(spath, schedule, err))
        if allow_tz and "TZ" in schedule and tz is not None:
            errs.append(invalid(spath, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
        elif not allow_tz and "TZ" in schedule:
            errs.append(invalid(spath, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    errs += non_negative(spec.get("startingDeadlineSeconds"), path.child("startingDeadlineSeconds"))
    if tz is not None and (old_spec is None or old_spec.get("timeZone") != tz):
        errs += [invalid(path.child("timeZone"), tz, m) for m in time_zone_errors(tz)]
    policy = spec.get("concurrencyPolicy", "")
    if policy == "":
        errs.append(required(path.child("concurrencyPolicy")))
    elif policy not in CONCURRENCY:
        errs.append(not_supported(path.child("concurrencyPolicy"), policy, list(CONCURRENCY)))
    errs += validate_job_template(spec.get("jobTemplate") or {}, path.child("jobTemplate"))
    errs += non_negative(spec.get("successfulJobsHistoryLimit"), path.child("successfulJobsHistoryLimit"))
    errs += non_negative(spec.get("failedJobsHistoryLimit"), path.child("failedJobsHistoryLimit"))
    return errs


def validate_job_template(jt: Obj, path: Path) -> list[FieldError]:
    """A CronJob's job template: Job spec rules, and no selector (the Job controller generates one)."""
    jspec = jt.get("spec") or {}
    errs = job_spec_errors(jspec, path.child("spec"))
    if jspec.get("selector") is not None:
        errs.append(invalid(path.child("spec", "selector"), go_label_selector(jspec["selector"]),
                            "`selector` will be auto-generated"))
    if jspec.get("manualSelector") is True:
        errs.append(not_supported(path.child("spec", "manualSelector"), True, ["nil", "false"]))
    return errs


class CronJobStrategy(Strategy):
    has_status_subresource = True
    tracks_generation = True

    def reset_status(self, obj: Obj) -> None:
        """The status a real server stores at create: Go's zero status, non-omitempty fields included."""
        obj["status"] = {}

    def default(self, obj: Obj) -> None:
        default_cronjob(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        errs = validate_cronjob_spec(obj.get("spec") or {}, None)
        name = (obj.get("metadata") or {}).get("name") or ""
        if len(name) > MAX_CRONJOB_NAME:
            # The controller names Jobs "<cronjob>-<11 chars>", and a Job name must fit a DNS label.
            errs.append(invalid(Path("metadata", "name"), name, "must be no more than 52 characters"))
        return errs

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_cronjob_spec(obj.get("spec") or {}, old.get("spec") or {})

    def warnings_on_create(self, obj: Obj) -> list[str]:
        warnings = name_warnings(obj)
        if "TZ" in ((obj.get("spec") or {}).get("schedule") or ""):
            warnings.append("cronjob.spec.schedule: CRON_TZ or TZ used in spec.schedule is not officially "
                            "supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ "
                            "for more details")
        return warnings
