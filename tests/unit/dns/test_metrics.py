from __future__ import annotations

import asyncio
import urllib.request
from collections import Counter

from pybernetes.dns import metrics
from pybernetes.dns.forward import Forwarder
from pybernetes.testing.images import free_port


def test_render_names_the_counters_as_coredns_does() -> None:
    fwd = Forwarder([])
    fwd.hits, fwd.misses, fwd.failures = 4, 2, 1
    text = metrics.render(Counter({"udp": 7, "tcp": 1, "NOERROR": 5, "NXDOMAIN": 3, "forwarded": 2}), fwd)
    for line in ('coredns_dns_requests_total{proto="udp"} 7', 'coredns_dns_requests_total{proto="tcp"} 1',
                 'coredns_dns_responses_total{rcode="NXDOMAIN"} 3', 'coredns_dns_responses_total{rcode="SERVFAIL"} 0',
                 "coredns_forward_requests_total 2", "coredns_forward_failures_total 1",
                 "coredns_cache_hits_total 4", "coredns_cache_misses_total 2"):
        assert line in text.splitlines()


async def test_metrics_and_health_are_served() -> None:
    counts: Counter[str] = Counter()
    port = free_port()
    runner = await metrics.start(counts, Forwarder([]), host="127.0.0.1", port=port)
    try:
        counts["udp"] += 3

        def get(path: str) -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                return r.read().decode()
        assert 'coredns_dns_requests_total{proto="udp"} 3' in await asyncio.to_thread(get, "/metrics")
        assert await asyncio.to_thread(get, "/health") == "OK"
    finally:
        await runner.cleanup()
