"""Cron schedules as robfig/cron evaluates them: fields, steps, names, descriptors, @every, the day-of-month /
day-of-week rule, time zones and DST gaps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pybernetes.api.kinds.cronjob import ScheduleError
from pybernetes.controllers.cron_schedule import effective_schedule, parse


def utc(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


@pytest.mark.parametrize(("spec", "after", "want"), [
    ("*/1 * * * *", "2026-01-01T10:00:30", "2026-01-01T10:01:00"),
    ("* * * * *", "2026-01-01T10:00:00", "2026-01-01T10:01:00"),
    ("0 * * * *", "2026-01-01T10:00:00", "2026-01-01T11:00:00"),
    ("@hourly", "2026-01-01T10:59:59", "2026-01-01T11:00:00"),
    ("@daily", "2026-01-01T00:00:00", "2026-01-02T00:00:00"),
    ("@weekly", "2026-01-01T00:00:00", "2026-01-04T00:00:00"),           # 2026-01-01 is a Thursday
    ("@monthly", "2026-01-15T00:00:00", "2026-02-01T00:00:00"),
    ("@yearly", "2026-01-15T00:00:00", "2027-01-01T00:00:00"),
    ("0 0 * * MON", "2026-01-01T00:00:00", "2026-01-05T00:00:00"),
    ("0 0 13 * FRI", "2026-01-01T00:00:00", "2026-01-02T00:00:00"),         # day OR weekday: Friday the 2nd
    ("0 0 13 * *", "2026-01-01T00:00:00", "2026-01-13T00:00:00"),
    ("30 6-16/4 * * 1-5", "2026-01-01T07:00:00", "2026-01-01T10:30:00"),
    ("15,45 */6 * jan-mar *", "2026-03-31T18:50:00", "2027-01-01T00:15:00"),
    ("5/20 * * * *", "2026-01-01T00:06:00", "2026-01-01T00:25:00"),
    ("0 0 29 2 *", "2026-01-01T00:00:00", "2028-02-29T00:00:00"),
    ("TZ=America/New_York 0 9 * * *", "2026-01-01T00:00:00", "2026-01-01T14:00:00"),
    ("CRON_TZ=Europe/Berlin 30 2 * * *", "2026-03-28T12:00:00", "2026-03-30T00:30:00"),   # 02:30 skipped by DST
    ("@every 1h30m", "2026-01-01T00:00:00", "2026-01-01T01:30:00"),
])
def test_next(spec: str, after: str, want: str) -> None:
    assert parse(spec).next(utc(after)) == utc(want)


def test_impossible_dates_never_fire() -> None:
    assert parse("0 0 30 2 *").next(utc("2026-01-01T00:00:00")) is None


def test_next_keeps_the_callers_zone() -> None:
    got = parse("TZ=Asia/Tokyo 0 0 * * *").next(utc("2026-01-01T00:00:00"))
    assert got == utc("2026-01-01T15:00:00") and got.tzinfo == UTC


@pytest.mark.parametrize(("spec", "message"), [
    ("* * *", "expected exactly 5 fields, found 3: [* * *]"),
    ("61 * * * *", "end of range (61) above maximum (59): 61"),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
])
def test_errors_are_the_validators(spec: str, message: str) -> None:
    with pytest.raises(ScheduleError) as err:
        parse(spec)
    assert str(err.value) == message


@pytest.mark.parametrize(("schedule", "tz", "want"), [
    ("0 * * * *", None, "0 * * * *"),
    ("0 * * * *", "Europe/Paris", "TZ=Europe/Paris 0 * * * *"),
    ("0 * * * *", "Mars/Olympus", "0 * * * *"),
    ("TZ=UTC 0 * * * *", "Europe/Paris", "TZ=UTC 0 * * * *"),
])
def test_effective_schedule(schedule: str, tz: str | None, want: str) -> None:
    assert effective_schedule(schedule, tz) == want
