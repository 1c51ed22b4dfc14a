"""EndpointSlice defaults, validation and generation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pybernetes.api.kinds.discovery import EndpointSliceStrategy

S = EndpointSliceStrategy()


def eps(**over: Any) -> dict[str, Any]:
    obj = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": "web-abc", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
           "addressType": "IPv4",
           "endpoints": [{"addresses": ["10.42.0.5"], "conditions": {"ready": True}, "nodeName": "n1"}],
           "ports": [{"port": 80}]}
    obj.update(over)
    return obj


def test_port_defaults_and_generation() -> None:
    obj = eps()
    S.default(obj)
    S.prepare_for_create(obj)
    assert obj["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]
    assert obj["metadata"]["generation"] == 1
    assert S.validate(obj) == []
    new = copy.deepcopy(obj)
    new["endpoints"][0]["conditions"]["ready"] = False
    S.prepare_for_update(new, obj)
    assert new["metadata"]["generation"] == 2
    same = copy.deepcopy(obj)
    same["metadata"]["annotations"] = {"a": "b"}
    S.prepare_for_update(same, obj)
    assert same["metadata"]["generation"] == 1


@pytest.mark.parametrize(("over", "expected"), [
    ({"addressType": ""}, ["addressType: Required value"]),
    ({"addressType": "IP"}, ['addressType: Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"']),
    ({"endpoints": [{"addresses": ["fe80::1"]}]},
     ['endpoints[0].addresses[0]: Invalid value: "fe80::1": must be a valid IPv4 address']),
    ({"endpoints": [{"addresses": ["127.0.0.1"]}]},
     ['endpoints[0].addresses[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, '
      "::1/128)"]),
    ({"endpoints": [{"addresses": []}]}, ["endpoints[0].addresses: Required value: must contain at least 1 address"]),
    ({"ports": [{"name": "http", "protocol": "TCP"}, {"name": "http", "protocol": "HTTP"}]},
     ['ports[1].name: Duplicate value: "http"',
      'ports[1].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"']),
])
def test_mistakes(over: dict[str, Any], expected: list[str]) -> None:
    obj = eps(**over)
    S.default(obj)
    assert [str(e) for e in S.validate(obj)] == expected


def test_address_type_is_immutable() -> None:
    old = eps()
    new = eps(addressType="IPv6", endpoints=[])
    S.default(new)
    assert [str(e) for e in S.validate_update(new, old)] == ['addressType: Invalid value: "IPv6": field is immutable']
