"""Parsing ``pybernetes agent`` flags."""

from __future__ import annotations

import pytest

from pybernetes.kubelet.config import (
    ConfigError,
    parse_capacity,
    parse_labels,
    sim_node_ips,
    simulated_names,
)


def test_capacity() -> None:
    assert parse_capacity("cpu=8, memory=32Gi,pods=110,") == {"cpu": "8", "memory": "32Gi", "pods": "110"}


@pytest.mark.parametrize(("text", "msg"), [
    ("cpu", "is not name=quantity"), ("cpu=", "is not name=quantity"), ("memory=lots", "memory"),
    ("cpu=-1", "must not be negative"),
])
def test_bad_capacity(text: str, msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        parse_capacity(text)


def test_labels() -> None:
    assert parse_labels("zone=a,example.com/tier=db,empty=") == {"zone": "a", "example.com/tier": "db", "empty": ""}


@pytest.mark.parametrize("text", ["novalue", "bad key=x", "k=has space", "k=" + "x" * 64, "UPPER.com/k=v"])
def test_bad_labels(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_labels(text)


def test_names() -> None:
    assert simulated_names(3, prefix="sim-") == ("sim-0", "sim-1", "sim-2")
    assert simulated_names(1, prefix="sim-", node_name="edge") == ("edge",)
    assert simulated_names(2, prefix="sim-", node_name="edge") == ("sim-0", "sim-1")
    assert all(n.endswith(("-sim-0", "-sim-1")) for n in simulated_names(2))


@pytest.mark.parametrize(("count", "prefix"), [(0, "x-"), (1, "Bad_"), (200_000, "x-")])
def test_bad_names(count: int, prefix: str) -> None:
    with pytest.raises(ConfigError):
        simulated_names(count, prefix=prefix)


def test_node_ips_skip_taken_addresses_of_the_benchmark_range() -> None:
    assert sim_node_ips(set(), 2) == ["198.18.0.1", "198.18.0.2"]
    assert sim_node_ips({"198.18.0.1", "198.18.0.3"}, 3) == ["198.18.0.2", "198.18.0.4", "198.18.0.5"]
    ips = sim_node_ips(set(), 5000)
    assert len(set(ips)) == 5000 and ips[-1] == "198.18.19.136"
