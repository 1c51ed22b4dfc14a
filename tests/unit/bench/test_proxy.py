"""bench/proxy.py's figures: percentiles, the throughput ratio (median of alternated pairs) and the Markdown."""

from __future__ import annotations

import pytest
from bench.proxy import ProxyBench, parse_args


def test_summary_and_markdown() -> None:
    b = ProxyBench(services=1000, initial_sync=0.5, endpoint_change=[0.010, 0.012, 0.030],
                   service_create=[0.02], direct_rps=[1000.0, 2000.0, 900.0], clusterip_rps=[950.0, 2100.0, 450.0])
    s = b.summary()
    assert s["endpoint_change_s"] == {"p50": 0.012, "p99": 0.030, "max": 0.030, "n": 3}
    assert (s["direct_rps"], s["clusterip_rps"]) == (1000.0, 950.0)
    assert s["ratio"] == pytest.approx(0.95)                 # pairs 0.95, 1.05, 0.5 → median 0.95
    md = b.markdown()
    assert "### Service proxy (nftables), 1,000 Services" in md
    assert "| EndpointSlice update (endpoint moves) | 12.0 ms | 30.0 ms | 30.0 ms | 3 |" in md
    assert "| ratio ClusterIP / pod IP (median of 3 alternated pairs) | 0.95× |" in md


def test_no_samples() -> None:
    md = ProxyBench(services=10).markdown()
    assert "| new Service + EndpointSlice | — | — | — | 0 |" in md


def test_defaults() -> None:
    args = parse_args([])
    assert (args.services, args.samples, args.rounds, args.seconds) == (1000, 100, 15, 1.0)
