"""Latency summaries: percentiles the way load-test reports mean them, and medians over repeated runs."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def percentile(sorted_xs: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` percentile (0 < q <= 100) of an ascending sequence: the smallest sample with at
    least q% of the samples at or below it, so a p99 is a latency that 1% of requests really exceeded, never an
    interpolation between two samples."""
    if not sorted_xs:
        raise ValueError("no samples")
    if not 0 < q <= 100:
        raise ValueError(f"percentile must be in (0, 100], not {q}")
    rank = math.ceil(q / 100 * len(sorted_xs))
    return sorted_xs[max(rank, 1) - 1]


@dataclass(frozen=True, slots=True)
class Summary:
    """Latency (seconds) and throughput (operations per second) of one measurement."""

    count: int
    rate: float
    p50: float
    p99: float
    max: float
    errors: int = 0

    @classmethod
    def of(cls, latencies: Iterable[float], *, seconds: float, errors: int = 0) -> Summary:
        """Summarise a run of ``seconds`` that completed ``latencies``; an empty run has NaN latencies."""
        xs = sorted(latencies)
        if not xs:
            nan = float("nan")
            return cls(0, 0.0, nan, nan, nan, errors)
        return cls(len(xs), len(xs) / seconds if seconds > 0 else 0.0, percentile(xs, 50), percentile(xs, 99),
                   xs[-1], errors)


def median_summary(runs: Sequence[Summary]) -> Summary:
    """Field-wise median of repeated runs of the same measurement (a shared machine makes single runs noisy)."""
    if not runs:
        raise ValueError("no runs")
    return Summary(count=int(statistics.median(r.count for r in runs)),
                   rate=statistics.median(r.rate for r in runs),
                   p50=statistics.median(r.p50 for r in runs),
                   p99=statistics.median(r.p99 for r in runs),
                   max=statistics.median(r.max for r in runs),
                   errors=sum(r.errors for r in runs))
