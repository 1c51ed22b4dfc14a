"""When a CronJob fires: ``robfig/cron/v3``'s standard schedules (what the CronJob controller uses), evaluated.

The text is first checked by :func:`pybernetes.api.kinds.cronjob.parse_standard`, the API's validator, so a
schedule the server accepted parses here and the errors read the same. A schedule is five bit sets (minute, hour,
day of month, month, day of week) and a time zone. A field written ``*`` or ``?`` (without a step above 1) also
carries the "star" bit, which matters for days: when either day field is a star both must match, otherwise either
may (``0 0 1 * MON`` fires on the 1st *and* on Mondays). ``@every <duration>`` fires at a constant delay.
:meth:`Schedule.next` walks months, days, hours and minutes as robfig's ``SpecSchedule.Next`` does, including its
handling of days whose midnight a DST change skips.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from pybernetes.api.kinds.cronjob import ScheduleError, parse_standard

STAR = 1 << 63
_MONTHS = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                           "nov", "dec"))}
_DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# (min, max, names) of minute, hour, day of month, month, day of week
_FIELDS: tuple[tuple[int, int, dict[str, int] | None], ...] = (
    (0, 59, None), (0, 23, None), (1, 31, None), (1, 12, _MONTHS), (0, 6, _DAYS))
_DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
                "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
_DURATION = re.compile(r"([0-9]*\.?[0-9]*)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
YEAR_LIMIT = 5


def load_location(name: str) -> tzinfo:
    """Go's ``time.LoadLocation``: ``""`` and ``UTC`` are UTC; ``Local`` is this process's zone, which for the
    controller manager is UTC (as in a kube-controller-manager container)."""
    if name in ("", "UTC", "Local"):
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as e:
        raise ScheduleError(f"unknown time zone {name}") from e


def _bits(text: str, lo: int, hi: int, names: dict[str, int] | None) -> int:
    """The bit set of one field (already validated): comma lists of ``*``, ``n``, ``a-b``, each ``/step``."""
    out = 0
    for expr in (e for e in text.split(",") if e):
        range_step = expr.split("/")
        low_high = range_step[0].split("-")
        extra = 0
        if low_high[0] in ("*", "?"):
            start, end, extra = lo, hi, STAR
        else:
            start = names[low_high[0].lower()] if names and low_high[0].lower() in names else int(low_high[0])
            end = start
            if len(low_high) == 2:
                end = names[low_high[1].lower()] if names and low_high[1].lower() in names else int(low_high[1])
        step = 1
        if len(range_step) == 2:
            step = int(range_step[1])
            if len(low_high) == 1:
                end = hi
            if step > 1:
                extra = 0
        for v in range(start, end + 1, step):
            out |= 1 << v
        out |= extra
    return out


def _duration(text: str) -> float:
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if body == "0":
        return 0.0
    return sign * sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION.findall(body))


@dataclass(frozen=True, slots=True)
class Schedule:
    minute: int = 0
    hour: int = 0
    dom: int = 0
    month: int = 0
    dow: int = 0
    tz: tzinfo = UTC
    every: float | None = None           # seconds, for ``@every``

    def _day_matches(self, t: datetime) -> bool:
        dom = bool(1 << t.day & self.dom)
        dow = bool(1 << ((t.weekday() + 1) % 7) & self.dow)
        if self.dom & STAR or self.dow & STAR:
            return dom and dow
        return dom or dow

    def next(self, after: datetime) -> datetime | None:
        """The first activation strictly after ``after`` (an aware datetime), in its zone; None if there is none
        within five years (e.g. ``0 0 30 2 *``)."""
        if self.every is not None:
            return after + timedelta(seconds=self.every) - timedelta(microseconds=after.microsecond)
        orig = after.tzinfo or UTC
        loc = self.tz
        t = _add(after.astimezone(loc).replace(microsecond=0), seconds=1)
        added = False
        year_limit = t.year + YEAR_LIMIT
        while True:                                               # the WRAP label of robfig's Next
            if t.year > year_limit:
                return None
            wrapped = False
            while not 1 << t.month & self.month:
                if not added:
                    added = True
                    t = _wall(t.year, t.month, 1, 0, 0, loc)
                t = _wall(t.year + (t.month // 12), t.month % 12 + 1, 1, t.hour, t.minute, loc)
                if t.month == 1:
                    wrapped = True
                    break
            if wrapped:
                continue
            while not self._day_matches(t):
                if not added:
                    added = True
                    t = _wall(t.year, t.month, t.day, 0, 0, loc)
                d = date(t.year, t.month, t.day) + timedelta(days=1)
                t = _wall(d.year, d.month, d.day, t.hour, t.minute, loc)
                if t.hour != 0:                                   # midnight skipped or doubled by DST
                    t = _add(t, hours=(24 - t.hour) if t.hour > 12 else -t.hour)
                if t.day == 1:
                    wrapped = True
                    break
            if wrapped:
                continue
            while not 1 << t.hour & self.hour:
                if not added:
                    added = True
                    t = t.replace(minute=0, second=0)
                t = _add(t, hours=1)
                if t.hour == 0:
                    wrapped = True
                    break
            if wrapped:
                continue
            while not 1 << t.minute & self.minute:
                if not added:
                    added = True
                    t = t.replace(second=0)
                t = _add(t, minutes=1)
                if t.minute == 0:
                    wrapped = True
                    break
            if wrapped:
                continue
            if t.second != 0:                                     # standard schedules fire at second 0
                added = True
                t = _add(t.replace(second=0), minutes=1)
                continue
            return t.astimezone(orig)


def _add(t: datetime, **delta: float) -> datetime:
    """Go's ``Time.Add``: absolute time, then back to the wall clock of ``t``'s zone."""
    tz = t.tzinfo
    return (t.astimezone(UTC) + timedelta(**delta)).astimezone(tz)


def _wall(year: int, month: int, day: int, hour: int, minute: int, tz: tzinfo) -> datetime:
    """Go's ``time.Date`` for a wall time in ``tz`` (a skipped time moves forward by the gap)."""
    naive = datetime(year, month, day, hour, minute)
    aware = naive.replace(tzinfo=tz)
    return aware.astimezone(UTC).astimezone(tz)


def parse(spec: str) -> Schedule:
    """``cron.ParseStandard``: five fields, a descriptor or ``@every``, optionally after ``TZ=``/``CRON_TZ=``.
    Raises :class:`ScheduleError` with the parser's message."""
    parse_standard(spec)
    tz: tzinfo = UTC
    if spec.startswith(("TZ=", "CRON_TZ=")):
        head, _, spec = spec.partition(" ")
        tz = load_location(head.split("=", 1)[1])
        spec = spec.strip()
    if spec.startswith("@every "):
        seconds = max(1.0, float(int(_duration(spec[len("@every "):]))))
        return Schedule(tz=tz, every=seconds)
    spec = _DESCRIPTORS.get(spec, spec)
    minute, hour, dom, month, dow = (_bits(text, *f) for text, f in zip(spec.split(), _FIELDS, strict=True))
    return Schedule(minute=minute, hour=hour, dom=dom, month=month, dow=dow, tz=tz)


def effective_schedule(schedule: str, time_zone: str | None) -> str:
    """``formatSchedule``: a loadable ``spec.timeZone`` becomes a ``TZ=`` prefix; one in the text is kept."""
    if "TZ" in schedule or time_zone is None:
        return schedule
    try:
        load_location(time_zone)
    except ScheduleError:
        return schedule
    return f"TZ={time_zone} {schedule}"
