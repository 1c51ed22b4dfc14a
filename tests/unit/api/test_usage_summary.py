"""The agents' usage summary: encoding, checking, indexing, and metrics-server's quantity forms."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from pybernetes.api import usage_summary as us
from pybernetes.api.quantity import BINARY_SI, Quantity

AT = datetime(2026, 1, 1, 0, 0, 15, 250_000, tzinfo=UTC)


@pytest.mark.parametrize(("nanocores", "text"), [
    (0, "0"), (1, "1n"), (1_500, "1500n"), (2_000, "2u"), (1_500_000, "1500u"), (250_000_000, "250m"),
    (1_000_000_000, "1"), (1_500_000_000, "1500m"), (64 * 10**9, "64"), (2000 * 10**9, "2k"), (1_234_567, "1234567n"),
])
def test_cpu_quantity(nanocores: int, text: str) -> None:
    assert us.cpu_quantity(nanocores) == text == str(Quantity.from_scaled(nanocores, -9))


@pytest.mark.parametrize(("n", "text"), [
    (0, "0"), (512, "512"), (1000, "1k"), (1023, "1023"), (1024, "1Ki"), (1536 * 1024, "1536Ki"),
    (64 << 20, "64Mi"), (1 << 30, "1Gi"), (424_390_528, "424390528"), (2_000_000, "2000000"), (10_366_976, "10124Ki"),
    (3 * (1 << 40), "3Ti"),
])
def test_memory_quantity(n: int, text: str) -> None:
    assert us.memory_quantity(n) == text == str(Quantity.from_int(n, BINARY_SI))


def test_quantity_forms_match_quantity_on_random_values() -> None:
    rng = random.Random(7)
    for _ in range(5000):
        n = rng.choice((rng.randrange(10**12), rng.randrange(4096) * 4096, rng.randrange(10**6) * 1000,
                        rng.randrange(100) * 10**rng.randrange(12), rng.randrange(64) << rng.randrange(50)))
        assert us.cpu_quantity(n) == str(Quantity.from_scaled(n, -9)), n
        assert us.memory_quantity(n) == str(Quantity.from_int(n, BINARY_SI)), n


def summary() -> dict:
    return us.encode(agent="a-0", period=15.0, timestamp=AT,
                     nodes=[us.NodeUsage("a-0", 15.0004, 50_000_000, 300 << 20)],
                     pods=[us.PodUsage("ns", "p", "a-0", 14.9, (us.ContainerUsage("c", 1_000, 4096),
                                                               us.ContainerUsage("d", 0, 0)))])


def test_encode_is_compact_positional_json() -> None:
    s = summary()
    assert s == {"kind": "UsageSummary", "apiVersion": "pybernetes.io/v1", "metadata": {"name": "a-0"},
                 "period": 15.0, "timestamp": "2026-01-01T00:00:15Z",
                 "nodes": [["a-0", 15.0, 50_000_000, 300 << 20]],
                 "pods": [["ns", "p", "a-0", 14.9, [["c", 1_000, 4096], ["d", 0, 0]]]]}
    assert us.check(s, "a-0") is None


def test_index() -> None:
    nodes, pods = us.index(summary())
    assert nodes["a-0"].usage == (("", 50_000_000, 300 << 20),) and nodes["a-0"].window_text() == "15s"
    p = pods[("ns", "p")]
    assert (p.node, p.timestamp, p.window_text()) == ("a-0", "2026-01-01T00:00:15Z", "14.9s")
    assert [list(c) for c in p.usage] == [["c", 1_000, 4096], ["d", 0, 0]]


@pytest.mark.parametrize(("change", "why"), [
    ({"period": True}, "period"),
    ({"period": 3601}, "period"),
    ({"timestamp": "2026-01-01T00:00:15.5Z"}, "timestamp"),
    ({"nodes": [["a-0", 15, 1]]}, "nodes"),
    ({"nodes": [["", 15, 1, 1]]}, "nodes"),
    ({"nodes": [["a-0", -1, 1, 1]]}, "nodes"),
    ({"nodes": [["a-0", 15, True, 1]]}, "nodes"),
    ({"pods": [["ns", "p", "a-0", 15, [["c", 1]]]]}, "pods"),
    ({"pods": [["ns", "p", "a-0", 15, "x"]]}, "pods"),
    ({"pods": {}}, "pods"),
    ({"metadata": []}, "metadata.name"),
    ({"apiVersion": "v1"}, "apiVersion"),
])
def test_check_rejects_malformed_summaries(change: dict, why: str) -> None:
    s = {**summary(), **change}
    assert why in (us.check(s, "a-0") or "")


@pytest.mark.parametrize(("agent", "ok"), [("node-1", True), ("vm-sim-0", True), ("a.b", True), ("Node", False),
                                           ("-a", False), ("a_b", False), ("", False)])
def test_agent_ids(agent: str, ok: bool) -> None:
    assert bool(us.AGENT_ID.fullmatch(agent)) is ok
