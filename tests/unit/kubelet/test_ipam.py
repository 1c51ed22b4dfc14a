"""Pod IP allocation from a podCIDR, as CNI host-local hands them out."""

from __future__ import annotations

import pytest

from pybernetes.kubelet.ipam import IPAllocator, PoolExhausted, fallback_pod_cidr


def test_skips_network_gateway_and_broadcast() -> None:
    a = IPAllocator("10.42.3.0/24")
    assert a.capacity == 253 and a.gateway == "10.42.3.1"
    ips = [a.allocate(f"p{i}") for i in range(253)]
    assert ips[0] == "10.42.3.2" and ips[-1] == "10.42.3.254"
    assert len(set(ips)) == 253
    with pytest.raises(PoolExhausted, match=r"no IP addresses available in range set: 10\.42\.3\.0/24"):
        a.allocate("one-too-many")


def test_same_owner_same_ip_and_round_robin_reuse() -> None:
    a = IPAllocator("10.42.0.0/29")             # hosts .2 .. .6
    assert a.allocate("x") == "10.42.0.2"
    assert a.allocate("x") == "10.42.0.2"
    assert a.allocate("y") == "10.42.0.3"
    a.release("x")
    assert a.allocate("z") == "10.42.0.4"       # a freed address is not reused at once
    assert [a.allocate(o) for o in ("p", "q", "r")] == ["10.42.0.5", "10.42.0.6", "10.42.0.2"]
    assert a.ip_of("r") == "10.42.0.2" and len(a) == 5


@pytest.mark.parametrize(("hint", "expected"), [
    ("10.42.0.9", "10.42.0.9"),       # free and in range: kept
    ("10.42.0.1", "10.42.0.2"),       # the gateway: never
    ("192.168.0.5", "10.42.0.2"),     # out of range
    ("garbage", "10.42.0.2"),
])
def test_hint(hint: str, expected: str) -> None:
    assert IPAllocator("10.42.0.0/24").allocate("x", hint=hint) == expected


def test_ipv6_range() -> None:
    a = IPAllocator("fd00:42::/64")
    assert a.allocate("x") == "fd00:42::2"


def test_fallback_ranges_are_distinct_24s_in_shared_space() -> None:
    assert fallback_pod_cidr(0) == "100.64.0.0/24"
    assert fallback_pod_cidr(1) == "100.64.1.0/24"
    assert fallback_pod_cidr(256) == "100.65.0.0/24"
    assert len({fallback_pod_cidr(i) for i in range(5000)}) == 5000
