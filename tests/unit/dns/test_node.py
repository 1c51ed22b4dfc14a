from __future__ import annotations

import pytest

from pybernetes.dns.node import gateway_interface


@pytest.mark.parametrize(("cidr", "want"), [
    ("10.42.3.0/24", "10.42.3.1/24"), ("10.97.0.0/24", "10.97.0.1/24"), ("10.42.3.0/24,fd42::/64", "10.42.3.1/24"),
    ("fd42:0:0:1::/64", "fd42:0:0:1::1/64")])
def test_the_dns_address_is_the_pod_network_gateway(cidr: str, want: str) -> None:
    assert gateway_interface(cidr) == want
