"""NetworkPolicy, Ingress and IngressClass defaults and validation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pybernetes.api.kinds.networking import IngressClassStrategy, IngressStrategy, NetworkPolicyStrategy

NP, ING, CLS = NetworkPolicyStrategy(), IngressStrategy(), IngressClassStrategy()


def msgs(errs: list[Any]) -> list[str]:
    return [str(e) for e in errs]


@pytest.mark.parametrize(("spec", "policy_types"), [
    ({"podSelector": {}}, ["Ingress"]),
    ({"podSelector": {}, "egress": [{}]}, ["Ingress", "Egress"]),
    ({"podSelector": {}, "policyTypes": ["Egress"]}, ["Egress"]),
])
def test_policy_types_default(spec: dict[str, Any], policy_types: list[str]) -> None:
    obj = {"spec": spec, "metadata": {"name": "np"}}
    NP.default(obj)
    assert obj["spec"]["policyTypes"] == policy_types


def test_port_protocol_defaults_to_tcp() -> None:
    obj = {"metadata": {"name": "np"}, "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]}}
    NP.default(obj)
    assert obj["spec"]["ingress"][0]["ports"] == [{"port": 80, "protocol": "TCP"}]
    assert NP.validate(obj) == []


@pytest.mark.parametrize(("rule", "expected"), [
    ({"ports": [{"port": 80, "endPort": 70}]},
     ["spec.ingress[0].ports[0].endPort: Invalid value: 80: must be greater than or equal to `port`"]),
    ({"ports": [{"port": "http", "endPort": 90}]},
     ["spec.ingress[0].ports[0].endPort: Invalid value: 90: may not be specified when `port` is non-numeric"]),
    ({"ports": [{"protocol": "ICMP"}]},
     ['spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"']),
    ({"from": [{}]}, ["spec.ingress[0].from[0]: Required value: must specify a peer"]),
    ({"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]},
     ["spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and another peer"]),
    ({"from": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.1.0.0/24"]}}]},
     ['spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.1.0.0/24": must be a strict subset of `cidr`']),
])
def test_policy_mistakes(rule: dict[str, Any], expected: list[str]) -> None:
    obj = {"metadata": {"name": "np"}, "spec": {"podSelector": {}, "ingress": [rule]}}
    NP.default(obj)
    assert msgs(NP.validate(obj)) == expected


def ingress(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"rules": [{"host": "example.com", "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}
    base["spec"].update(spec)
    return base


def test_valid_ingress_and_generation() -> None:
    obj = ingress()
    ING.default(obj)
    ING.prepare_for_create(obj)
    assert ING.validate(obj) == [] and obj["metadata"]["generation"] == 1


@pytest.mark.parametrize(("path", "expected"), [
    ({"path": "api", "pathType": "Prefix"},
     ['spec.rules[0].http.paths[0].path: Invalid value: "api": must be an absolute path']),
    ({"path": "/a//b", "pathType": "Exact"},
     ["spec.rules[0].http.paths[0].path: Invalid value: \"/a//b\": must not contain '//'"]),
    ({"path": "/", "pathType": "Regex"},
     ['spec.rules[0].http.paths[0].pathType: Unsupported value: "Regex": supported values: "Exact", '
      '"ImplementationSpecific", "Prefix"']),
    ({"path": "/", "pathType": None}, ["spec.rules[0].http.paths[0].pathType: Required value: pathType must be "
                                       "specified"]),
])
def test_ingress_path_rules(path: dict[str, Any], expected: list[str]) -> None:
    obj = ingress()
    target = obj["spec"]["rules"][0]["http"]["paths"][0]
    target.update(path)
    if target["pathType"] is None:
        del target["pathType"]
    assert msgs(ING.validate(obj)) == expected


@pytest.mark.parametrize(("backend", "expected"), [
    ({"service": {"name": "web", "port": {}}},
     ["spec.rules[0].http.paths[0].backend: Required value: port name or number is required"]),
    ({"service": {"name": "web", "port": {"name": "http", "number": 80}}},
     ['spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both port name & port number']),
    ({}, ['spec.rules[0].http.paths[0].backend: Invalid value: "": resource or service backend is required']),
    ({"service": {"name": "Web", "port": {"number": 80}}},
     ['spec.rules[0].http.paths[0].backend.service.name: Invalid value: "Web": a DNS-1035 label must consist of '
      "lower case alphanumeric characters or '-', start with an alphabetic character, and end with an "
      "alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
      "'[a-z]([-a-z0-9]*[a-z0-9])?')"]),
])
def test_ingress_backend_rules(backend: dict[str, Any], expected: list[str]) -> None:
    obj = ingress()
    obj["spec"]["rules"][0]["http"]["paths"][0]["backend"] = backend
    assert msgs(ING.validate(obj)) == expected


def test_ingress_needs_rules_or_default_backend_and_no_ip_hosts() -> None:
    assert msgs(ING.validate({"spec": {}})) == [
        "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"]
    obj = ingress()
    obj["spec"]["rules"][0]["host"] = "10.0.0.1"
    assert msgs(ING.validate(obj))[0] == 'spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an ' \
                                         "IP address"


def test_ingress_class() -> None:
    obj = {"metadata": {"name": "nginx"},
           "spec": {"controller": "k8s.io/ingress-nginx", "parameters": {"kind": "Config", "name": "c"}}}
    CLS.default(obj)
    assert obj["spec"]["parameters"]["scope"] == "Cluster"
    assert CLS.validate(obj) == []
    new = copy.deepcopy(obj)
    new["spec"]["controller"] = "example.com/other"
    assert msgs(CLS.validate_update(new, obj)) == [
        'spec.controller: Invalid value: "example.com/other": field is immutable']
    bad = copy.deepcopy(obj)
    bad["spec"]["controller"] = "nginx"
    bad["spec"]["parameters"].update(scope="Namespace")
    assert msgs(CLS.validate(bad)) == [
        'spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")',
        "spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'"]
