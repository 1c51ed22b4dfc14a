"""Latency summaries for the benchmark report."""

from __future__ import annotations

import math

import pytest
from bench.stats import Summary, median_summary, percentile


@pytest.mark.parametrize(("xs", "q", "want"), [
    ([1.0], 50, 1.0),
    ([1.0, 2.0], 50, 1.0),                     # nearest rank: never an interpolation
    ([1.0, 2.0, 3.0, 4.0], 50, 2.0),
    ([float(i) for i in range(1, 101)], 99, 99.0),
    ([float(i) for i in range(1, 101)], 100, 100.0),
    ([float(i) for i in range(1, 1001)], 99, 990.0),
    ([float(i) for i in range(1, 11)], 99, 10.0),  # few samples: p99 is the worst one
])
def test_percentile_is_nearest_rank(xs: list[float], q: float, want: float) -> None:
    assert percentile(xs, q) == want


@pytest.mark.parametrize("q", [0, -1, 101])
def test_percentile_rejects_bad_quantiles(q: float) -> None:
    with pytest.raises(ValueError):
        percentile([1.0], q)


def test_percentile_needs_samples() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)


def test_summary_of_a_run() -> None:
    s = Summary.of([0.003, 0.001, 0.002, 0.010], seconds=2.0, errors=1)
    assert (s.count, s.rate, s.p50, s.p99, s.max, s.errors) == (4, 2.0, 0.002, 0.010, 0.010, 1)


def test_summary_of_an_empty_run_has_no_latencies() -> None:
    s = Summary.of([], seconds=1.0)
    assert s.count == 0 and s.rate == 0.0 and math.isnan(s.p50) and math.isnan(s.p99)


def test_median_summary_is_field_wise_and_sums_errors() -> None:
    runs = [Summary(10, 100.0, 0.001, 0.010, 0.02, 0), Summary(30, 300.0, 0.003, 0.030, 0.05, 2),
            Summary(20, 200.0, 0.002, 0.020, 0.04, 1)]
    assert median_summary(runs) == Summary(20, 200.0, 0.002, 0.020, 0.04, 3)
    with pytest.raises(ValueError):
        median_summary([])
