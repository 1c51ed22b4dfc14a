"""human_duration / short_human_duration as apimachinery's duration package, and timestamp ages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pybernetes.api.tables.age import human_duration, parse_timestamp, short_human_duration, since, until

S = timedelta(seconds=1)
M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)
Y = 365 * D


@pytest.mark.parametrize(("d", "want"), [
    (timedelta(0), "0s"),
    (S, "1s"),
    (59 * S, "59s"),
    (60 * S, "60s"),
    (119 * S, "119s"),
    (timedelta(seconds=119, microseconds=999_999), "119s"),
    (2 * M, "2m"),
    (2 * M + 3 * S, "2m3s"),
    (5 * M, "5m"),
    (9 * M + 59 * S, "9m59s"),
    (10 * M, "10m"),
    (10 * M + 30 * S, "10m"),
    (179 * M, "179m"),
    (3 * H, "3h"),
    (3 * H + 4 * M, "3h4m"),
    (7 * H + 59 * M + 59 * S, "7h59m"),
    (8 * H, "8h"),
    (47 * H + 59 * M, "47h"),
    (48 * H, "2d"),
    (2 * D + 3 * H, "2d3h"),
    (7 * D + 23 * H, "7d23h"),
    (8 * D, "8d"),
    (45 * D, "45d"),
    (2 * Y - D, "729d"),
    (2 * Y, "2y"),
    (3 * Y + 45 * D, "3y45d"),
    (8 * Y - D, "7y364d"),
    (8 * Y, "8y"),
    (20 * Y + 100 * D, "20y"),
    (-S, "0s"),
    (timedelta(seconds=-1, microseconds=-999_999), "0s"),
    (-2 * S, "<invalid>"),
    (-H, "<invalid>"),
])
def test_human_duration(d: timedelta, want: str) -> None:
    assert human_duration(d) == want


def test_human_duration_takes_nanoseconds() -> None:
    assert human_duration(123 * 1_000_000_000) == "2m3s"
    assert human_duration(-1_500_000_000) == "0s"


@pytest.mark.parametrize(("d", "want"), [
    (timedelta(0), "0s"), (59 * S, "59s"), (60 * S, "1m"), (59 * M, "59m"), (H, "1h"), (23 * H, "23h"),
    (D, "1d"), (364 * D, "364d"), (Y, "1y"), (3 * Y, "3y"), (-S, "0s"), (-2 * S, "<invalid>"),
])
def test_short_human_duration(d: timedelta, want: str) -> None:
    assert short_human_duration(d) == want


NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("value", "want"), [
    ("2025-03-01T11:55:00Z", "5m"),
    ("2025-03-01T11:57:57Z", "2m3s"),
    ("2025-03-01T11:59:59.500000Z", "0s"),
    ("2025-03-01T13:55:00+02:00", "5m"),
    ("2025-02-26T09:00:00Z", "3d3h"),
    ("2025-03-01T12:00:30Z", "<invalid>"),
    (None, "<unknown>"),
    ("", "<unknown>"),
    ("yesterday", "<unknown>"),
])
def test_since(value: str | None, want: str) -> None:
    assert since(value, NOW) == want


def test_until() -> None:
    assert until("2025-03-01T13:00:00Z", NOW) == "60m"
    assert until(None, NOW) == "<unknown>"


def test_parse_timestamp_is_aware() -> None:
    t = parse_timestamp("2025-03-01T12:00:00Z")
    assert t == NOW and t.tzinfo is not None
    assert parse_timestamp("2025-03-01T12:00:00") == NOW          # naive text is read as UTC
    assert parse_timestamp(12) is None
