"""Human-readable durations and ages, as ``k8s.io/apimachinery/pkg/util/duration`` prints them.

Every AGE, LAST SEEN, DURATION and "3 (2m ago)" cell in a Table comes from here. The rules are upstream's
``HumanDuration``: about two to three significant figures, coarser as the duration grows ("45s", "2m3s", "15m",
"3h4m", "20h", "2d3h", "45d", "3y45d", "9y"). A duration up to two seconds in the future is "0s" (clock skew
between the writer of a timestamp and the reader); anything further in the future is "<invalid>".

Durations are handled as whole nanoseconds, as Go's ``time.Duration``, so every truncation happens exactly where
Go's integer arithmetic truncates.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["human_duration", "nanoseconds", "parse_timestamp", "short_human_duration", "since", "until"]

_SECOND = 1_000_000_000
_MINUTE = 60 * _SECOND
_HOUR = 60 * _MINUTE


def nanoseconds(d: timedelta) -> int:
    """``d`` as Go's ``time.Duration``: a whole number of nanoseconds."""
    return (d.days * 86_400 + d.seconds) * _SECOND + d.microseconds * 1_000


def _trunc_div(n: int, d: int) -> int:
    """Go's integer division: truncates toward zero (Python's ``//`` floors)."""
    q = abs(n) // d
    return q if n >= 0 else -q


def human_duration(d: timedelta | int) -> str:
    """``duration.HumanDuration``: ``d`` is a timedelta or a number of nanoseconds."""
    ns = d if isinstance(d, int) else nanoseconds(d)
    seconds = _trunc_div(ns, _SECOND)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = ns // _MINUTE
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = ns // _HOUR
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def short_human_duration(d: timedelta | int) -> str:
    """``duration.ShortHumanDuration``: one unit only ("5s", "3m", "4h", "2d", "1y")."""
    ns = d if isinstance(d, int) else nanoseconds(d)
    seconds = _trunc_div(ns, _SECOND)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60:
        return f"{seconds}s"
    if (minutes := ns // _MINUTE) < 60:
        return f"{minutes}m"
    if (hours := ns // _HOUR) < 24:
        return f"{hours}h"
    if hours < 24 * 365:
        return f"{hours // 24}d"
    return f"{hours // 24 // 365}y"


def parse_timestamp(value: object) -> datetime | None:
    """A ``metav1.Time``/``MicroTime`` JSON value as an aware datetime; None when absent, null or unparsable.

    ``datetime.fromisoformat`` (C code, Python 3.11+) reads every RFC 3339 form the API writes, including the
    ``Z`` suffix and fractions; this is the hot path of every AGE cell.
    """
    if not value or not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def since(value: object, now: datetime) -> str:
    """``translateTimestampSince``: the age of a timestamp, "<unknown>" when it is unset (Go's zero time)."""
    t = parse_timestamp(value)
    if t is None:
        return "<unknown>"
    return human_duration(now - t)


def until(value: object, now: datetime) -> str:
    """``translateTimestampUntil``: the time left until a timestamp, "<unknown>" when it is unset."""
    t = parse_timestamp(value)
    if t is None:
        return "<unknown>"
    return human_duration(t - now)
