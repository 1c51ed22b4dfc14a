from __future__ import annotations

import pytest

from pybernetes.dns.node import bridge_addresses, gateway_interface


@pytest.mark.parametrize(("cidr", "want"), [
    ("10.42.3.0/24", "10.42.3.1/24"), ("10.97.0.0/24", "10.97.0.1/24"), ("10.42.3.0/24,fd42::/64", "10.42.3.1/24"),
    ("fd42:0:0:1::/64", "fd42:0:0:1::1/64")])
def test_the_dns_address_is_the_pod_network_gateway(cidr: str, want: str) -> None:
    assert gateway_interface(cidr) == want


@pytest.mark.parametrize(("out", "want"), [
    ("", (False, [])),
    ("312: pyb0    inet 10.42.0.1/24 scope global pyb0\\       valid_lft forever", (True, [])),
    ("312: pyb0    inet 10.42.1.1/24 brd 10.42.1.255 scope global pyb0\\ x", (False, ["10.42.1.1/24"])),
    ("7: pyb0    inet6 fe80::1/64 scope link \\ x", (False, [])),
])
def test_bridge_addresses(out: str, want: tuple[bool, list[str]]) -> None:
    assert bridge_addresses(out, "10.42.0.1/24") == want
