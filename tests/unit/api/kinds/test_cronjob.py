"""CronJob schedule parsing: robfig/cron standard-parser errors, time zones, Go durations."""

from __future__ import annotations

import pytest

from pybernetes.api.kinds.cronjob import go_duration_error, schedule_error, time_zone_errors


@pytest.mark.parametrize("spec", [
    "* * * * *", "*/5 * * * *", "0 0 1 1 *", "0-59/15 0-23 1-31 1-12 0-6", "5,10 * * jan-dec mon-fri",
    "0 0 * * SUN", "? * * * *", "@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually",
    "@every 1h30m", "CRON_TZ=UTC 0 * * * *", "TZ=Europe/Paris 0 * * * *", "1/5 * * * *",
])
def test_valid_schedules(spec: str) -> None:
    assert schedule_error(spec) is None


@pytest.mark.parametrize(("spec", "error"), [
    ("", "empty spec string"),
    ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
    ("* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"),
    ("60 * * * *", "end of range (60) above maximum (59): 60"),
    ("* 24 * * *", "end of range (24) above maximum (23): 24"),
    ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("* * * * 7", "end of range (7) above maximum (6): 7"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ("*/2/3 * * * *", "too many slashes: */2/3"),
    ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
    ("@every 5", 'failed to parse duration @every 5: time: missing unit in duration "5"'),
    ("@every 5y", 'failed to parse duration @every 5y: time: unknown unit "y" in duration "5y"'),
    ("TZ=Nowhere/Land 0 * * * *", "provided bad location Nowhere/Land: unknown time zone Nowhere/Land"),
])
def test_parser_errors(spec: str, error: str) -> None:
    assert schedule_error(spec) == error


@pytest.mark.parametrize(("text", "error"), [
    ("1h", None), ("1.5s", None), ("-3m", None), ("0", None), ("300ms", None),
    ("", 'time: invalid duration ""'), ("h", 'time: invalid duration "h"'),
])
def test_go_durations(text: str, error: str | None) -> None:
    assert go_duration_error(text) == error


@pytest.mark.parametrize(("tz", "errors"), [
    ("Europe/Paris", []), ("UTC", []), ("Etc/GMT+5", []),
    ("", ["timeZone must be nil or non-empty string"]),
    ("../etc/passwd", ["unknown time zone ../etc/passwd"]),
    ("Europe/-Paris", ["unknown time zone Europe/-Paris"]),
    ("Local", ["timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"]),
    ("Mars/Olympus_Mons", ["unknown time zone Mars/Olympus_Mons"]),
])
def test_time_zones(tz: str, errors: list[str]) -> None:
    assert time_zone_errors(tz) == errors
