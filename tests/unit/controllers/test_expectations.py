"""Expectations: a sync racing its own writes must wait; observations lower; 5 minutes unwedge."""

from __future__ import annotations

import pytest

from pybernetes.client.clock import FakeClock
from pybernetes.controllers.expectations import EXPECTATIONS_TIMEOUT, Expectations


def test_no_expectations_is_satisfied() -> None:
    assert Expectations(clock=FakeClock()).satisfied("ns/rs")


def test_creations_wait_until_all_observed() -> None:
    e = Expectations(clock=FakeClock())
    e.expect_creations("ns/rs", 2)
    assert not e.satisfied("ns/rs")
    e.creation_observed("ns/rs")
    assert not e.satisfied("ns/rs")
    e.creation_observed("ns/rs")
    assert e.satisfied("ns/rs")
    e.creation_observed("ns/rs")           # an extra observation never makes it unsatisfied again
    assert e.satisfied("ns/rs")


def test_deletions_count_each_expected_key_once() -> None:
    e = Expectations(clock=FakeClock())
    e.expect_deletions("ns/rs", ["ns/a", "ns/b"])
    e.deletion_observed("ns/rs", "ns/a")     # the update that sets deletionTimestamp
    e.deletion_observed("ns/rs", "ns/a")     # ... and the final delete: counted once
    e.deletion_observed("ns/rs", "ns/zzz")   # not expected: ignored
    assert not e.satisfied("ns/rs")
    e.deletion_observed("ns/rs", "ns/b")
    assert e.satisfied("ns/rs")


def test_setting_replaces_and_lower_gives_up() -> None:
    e = Expectations(clock=FakeClock())
    e.expect_creations("k", 5)
    e.lower("k", add=5)
    assert e.satisfied("k")
    e.expect_deletions("k", ["ns/a"])
    assert e.get("k") is not None and e.get("k").add == 0   # type: ignore[union-attr]
    assert not e.satisfied("k")
    e.forget("k")
    assert e.satisfied("k") and len(e) == 0


@pytest.mark.parametrize(("elapsed", "satisfied"), [(0, False), (EXPECTATIONS_TIMEOUT, False),
                                                    (EXPECTATIONS_TIMEOUT + 0.5, True)])
def test_expectations_expire(elapsed: float, satisfied: bool) -> None:
    clock = FakeClock()
    e = Expectations(clock=clock)
    e.expect_creations("k", 1)
    clock.advance(elapsed)
    assert e.satisfied("k") is satisfied
