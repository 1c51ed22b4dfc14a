"""Crash-loop back-off: upstream flowcontrol.Backoff as the kubelet uses it (10 s doubling to 5 min, no jitter)."""

from __future__ import annotations

import pytest

from pybernetes.client.clock import FakeClock
from pybernetes.kubelet.backoff import Backoff, go_duration


def test_first_crash_restarts_at_once_then_doubles_to_the_cap() -> None:
    clock = FakeClock()
    b = Backoff(clock=clock)
    key = ("uid", "c")
    waits = []
    for _ in range(8):
        finished = clock.now().timestamp()
        if b.in_backoff_since(key, finished):
            wait = b.remaining(key, finished)
            waits.append(wait)
            clock.advance(wait)
            assert not b.in_backoff_since(key, finished)
        else:
            waits.append(0.0)
        b.next(key, finished)
        clock.advance(1)          # the container runs a second, then crashes again
    # the first restart is immediate; then 10 s after each crash, doubling, capped at 300
    assert waits == [0.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]


def test_entry_older_than_twice_the_cap_starts_over() -> None:
    clock = FakeClock()
    b = Backoff(clock=clock)
    key = ("uid", "c")
    for _ in range(4):
        b.next(key, clock.now().timestamp())
    assert b.get(key) == 80
    clock.advance(601)             # ran fine for more than 10 minutes
    finished = clock.now().timestamp()
    assert not b.in_backoff_since(key, finished)
    b.next(key, finished)
    assert b.get(key) == 10


def test_forget_prefix_drops_a_pods_entries_only() -> None:
    b = Backoff(clock=FakeClock())
    b.next(("a", "x"), 0)
    b.next(("a", "y"), 0)
    b.next(("b", "x"), 0)
    b.forget_prefix("a")
    assert len(b) == 1 and b.get(("b", "x")) == 10


@pytest.mark.parametrize(("seconds", "text"), [
    (10, "10s"), (20, "20s"), (40, "40s"), (80, "1m20s"), (160, "2m40s"), (300, "5m0s"), (3600, "1h0m0s"),
    (0.5, "500ms"), (0, "0s"), (1.5, "1.5s"),
])
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text
