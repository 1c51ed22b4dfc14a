"""PodInfo: requests as upstream PodRequests (init containers, sidecars, overhead), non-zero requests, ports,
affinity terms."""

from __future__ import annotations

import pytest
from tests.unit.scheduler.builders import pod

from pybernetes.api.selectors import NOTHING
from pybernetes.scheduler.podinfo import (
    DEFAULT_MEMORY_REQUEST,
    PodInfo,
    is_scalar_resource_name,
    new_affinity_term,
    pod_requests,
)


def c(name: str, restart: str | None = None, **reqs: str) -> dict:
    out: dict = {"name": name, "image": "x", "resources": {"requests": dict(reqs)}}
    if restart:
        out["restartPolicy"] = restart
    return out


@pytest.mark.parametrize(("containers", "inits", "overhead", "want"), [
    # upstream's example: max(sum of regular containers, each init container)
    ([c("c1", cpu="2", memory="1G"), c("c2", cpu="1", memory="1G")],
     [c("i1", cpu="2", memory="1G"), c("i2", cpu="2", memory="3G")], None,
     {"cpu": 3000, "memory": 3_000_000_000}),
    ([c("c1", cpu="100m")], [], {"cpu": "250m", "memory": "120Mi"}, {"cpu": 350, "memory": 120 * 2**20}),
    # a sidecar (restartable init container) adds to the sum and to every later init container
    ([c("c1", cpu="1")], [c("s1", "Always", cpu="500m"), c("i2", cpu="1200m")], None, {"cpu": 1700}),
    ([c("c1", cpu="1")], [c("i1", cpu="3"), c("s1", "Always", cpu="500m")], None, {"cpu": 3000}),
    # sums are exact: three 0.3m requests are 0.9m, rounded up once to 1m
    ([c("a", cpu="0.3m"), c("b", cpu="0.3m"), c("d", cpu="0.3m")], [], None, {"cpu": 1}),
    ([c("c1", **{"example.com/gpu": "2", "ephemeral-storage": "1Gi"})], [], None,
     {"example.com/gpu": 2, "ephemeral-storage": 2**30}),
])
def test_pod_requests(containers, inits, overhead, want):
    spec = {"initContainers": inits} if inits else {}
    if overhead:
        spec["overhead"] = overhead
    p = pod(containers=containers, **spec)
    assert pod_requests(p) == want
    pi = PodInfo(p)
    assert (pi.cpu, pi.mem) == (want.get("cpu", 0), want.get("memory", 0))


@pytest.mark.parametrize(("reqs", "nz"), [
    ({}, (100, DEFAULT_MEMORY_REQUEST)),
    ({"cpu": "250m"}, (250, DEFAULT_MEMORY_REQUEST)),
    ({"cpu": "0", "memory": "0"}, (0, 0)),          # an explicit zero is not "missing"
    ({"memory": "1Gi"}, (100, 2**30)),
])
def test_non_zero_requests(reqs, nz):
    one = PodInfo(pod(containers=[c("a", **reqs)]))
    assert (one.nz_cpu, one.nz_mem) == nz
    two = PodInfo(pod(containers=[c("a", **reqs), c("b", **reqs)]))     # the general path
    assert (two.nz_cpu, two.nz_mem) == (2 * nz[0], 2 * nz[1])


def test_host_ports_and_affinity_flags():
    p = pod(containers=[{"name": "a", "ports": [{"containerPort": 80, "hostPort": 8080},
                                                {"containerPort": 53, "hostPort": 53, "protocol": "UDP",
                                                 "hostIP": "10.0.0.1"},
                                                {"containerPort": 9}]}],
            affinity={"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "x"}}, "topologyKey": "kubernetes.io/hostname"}]}})
    pi = PodInfo(p)
    assert pi.host_ports == (("0.0.0.0", "TCP", 8080), ("10.0.0.1", "UDP", 53))
    assert pi.has_affinity and pi.has_required_anti_affinity
    assert not pi.required_affinity and len(pi.required_anti_affinity) == 1


def test_affinity_term_namespaces():
    own = new_affinity_term("ns1", {"labelSelector": {"matchLabels": {"a": "b"}}, "topologyKey": "k"})
    assert own.namespaces == {"ns1"} and own.namespace_selector is NOTHING
    listed = new_affinity_term("ns1", {"namespaces": ["x", "y"], "topologyKey": "k"})
    assert listed.namespaces == {"x", "y"}
    any_ns = new_affinity_term("ns1", {"namespaceSelector": {}, "labelSelector": {}, "topologyKey": "k"})
    other = PodInfo(pod(ns="elsewhere", labels={"a": "b"}))
    assert any_ns.matches(other, {})
    assert not own.matches(other, {})


@pytest.mark.parametrize(("name", "scalar"), [
    ("cpu", False), ("memory", False), ("pods", False), ("example.com/foo", True), ("hugepages-2Mi", True),
    ("attachable-volumes-csi-x", True), ("kubernetes.io/foo", True), ("requests.example.com/x", False),
])
def test_is_scalar_resource_name(name, scalar):
    assert is_scalar_resource_name(name) is scalar


def test_with_node_shares_facts_and_copies_shallowly():
    p = pod(cpu="1")
    pi = PodInfo(p)
    bound = pi.with_node("n9")
    assert bound.node_name == "n9" and bound.pod["spec"]["nodeName"] == "n9"
    assert "nodeName" not in p["spec"] and pi.node_name == ""
    assert bound.cpu == 1000 and bound.pod["metadata"] is p["metadata"]
