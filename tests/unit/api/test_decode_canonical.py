"""Canonical quantities, times and durations in decoded objects: memoised, and the same as computed afresh."""

from __future__ import annotations

import pytest

from pybernetes.api import decode
from pybernetes.api.decode import S_DURATION, S_MICRO, S_QUANTITY, S_TIME


@pytest.mark.parametrize(("code", "text", "want"), [
    (S_QUANTITY, "100m", "100m"),
    (S_QUANTITY, "0.5", "500m"),
    (S_QUANTITY, "1024Mi", "1Gi"),
    (S_TIME, "2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"),
    (S_TIME, "2024-01-02T04:04:05+01:00", "2024-01-02T03:04:05Z"),
    (S_MICRO, "2024-01-02T03:04:05.123456Z", "2024-01-02T03:04:05.123456Z"),
    (S_DURATION, "90s", "1m30s"),
])
def test_canonical_forms_are_memoised(code: int, text: str, want: str) -> None:
    decode._CANONICAL.clear()
    assert decode._canonical(code, text) == want
    assert (code, text) in decode._CANONICAL
    assert decode._canonical(code, text) == want == decode._canonicalize(code, text)


@pytest.mark.parametrize(("code", "text"), [(S_QUANTITY, "12x"), (S_TIME, "yesterday"), (S_DURATION, "5 parsecs")])
def test_invalid_values_fail_every_time_with_the_same_message(code: int, text: str) -> None:
    with pytest.raises(ValueError) as first:
        decode._canonicalize(code, text)
    for _ in range(2):
        with pytest.raises(ValueError) as again:
            decode._canonical(code, text)
        assert str(again.value) == str(first.value)


def test_memo_stays_bounded() -> None:
    decode._CANONICAL.clear()
    for i in range(9000):
        decode._canonical(S_QUANTITY, str(i))
    assert len(decode._CANONICAL) <= 8192
