from __future__ import annotations

from typing import Any

import pytest

from pybernetes.kubelet.routes import desired_routes, parse_routes, plan


def node(name: str, ip: str, *cidrs: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"podCIDR": cidrs[0], "podCIDRs": list(cidrs)} if cidrs else {},
            "status": {"addresses": [{"type": "Hostname", "address": name}, {"type": "InternalIP", "address": ip}]
                       if ip else []}}


@pytest.mark.parametrize(("nodes", "want"), [
    ([node("n1", "10.99.0.11", "10.42.0.0/24"), node("n2", "10.99.0.12", "10.42.1.0/24"),
      node("n3", "10.99.0.13", "10.42.2.0/24")],
     {"10.42.1.0/24": "10.99.0.12", "10.42.2.0/24": "10.99.0.13"}),
    ([node("n1", "10.99.0.11", "10.42.0.0/24"), node("n2", "10.99.0.12")], {}),            # no podCIDR yet
    ([node("n1", "10.99.0.11", "10.42.0.0/24"), node("n2", "", "10.42.1.0/24")], {}),     # no address yet
    ([node("n1", "10.99.0.11", "10.42.0.0/24"), node("sim-1", "198.18.0.5", "10.42.1.0/24")], {}),
    ([node("n1", "10.99.0.11", "10.42.0.0/24"), node("twin", "10.99.0.11", "10.42.1.0/24")], {}),  # same host
    ([node("n1", "10.99.0.11", "10.42.0.0/24"), node("n2", "127.0.0.1", "10.42.1.0/24")], {}),
    ([node("n1", "10.99.0.11", "10.42.0.0/24", "fd42::/64"),
      node("n2", "10.99.0.12", "10.42.1.0/24", "fd42:0:0:1::/64")], {"10.42.1.0/24": "10.99.0.12"}),
    ([node("n2", "fd99::12", "fd42:0:0:1::/64")], {"fd42:0:0:1::/64": "fd99::12"}),
])
def test_desired_routes(nodes: list[dict[str, Any]], want: dict[str, str]) -> None:
    assert desired_routes(nodes, self_name="n1") == want


def test_parse_routes() -> None:
    text = '[{"dst":"10.42.7.0/24","gateway":"10.99.9.3","dev":"v0","flags":[]},{"dst":"10.42.8.0/24","dev":"x"}]'
    assert parse_routes(text) == {"10.42.7.0/24": "10.99.9.3", "10.42.8.0/24": ""}
    assert parse_routes("") == {} and parse_routes("not json") == {}


def test_plan_adds_fixes_and_removes() -> None:
    current = {"10.42.1.0/24": "10.99.0.12", "10.42.2.0/24": "10.99.0.99", "10.42.9.0/24": "10.99.0.19"}
    desired = {"10.42.1.0/24": "10.99.0.12", "10.42.2.0/24": "10.99.0.13", "10.42.3.0/24": "10.99.0.14"}
    assert plan(current, desired) == ({"10.42.2.0/24": "10.99.0.13", "10.42.3.0/24": "10.99.0.14"},
                                      ["10.42.9.0/24"])
