"""LoadBalancer ingress IPs from the nodes' addresses (k3s servicelb): which addresses, which Services, and the
status writes against the in-memory API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.unit.controllers.fakeclient import Harness, harness

from pybernetes.client.resources import NODES, SERVICES
from pybernetes.proxy import servicelb
from pybernetes.proxy.servicelb import ServiceLB

Obj = dict[str, Any]


def node(name: str, *addresses: tuple[str, str], ready: bool = True) -> Obj:
    return {"metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                       "addresses": [{"type": t, "address": a} for t, a in addresses]}}


@pytest.mark.parametrize("nodes, expected", [
    ([], []),
    ([node("a", ("InternalIP", "10.0.0.2"), ("Hostname", "a"))], ["10.0.0.2"]),
    ([node("a", ("InternalIP", "10.0.0.2"), ("ExternalIP", "192.0.2.2"))], ["192.0.2.2"]),     # ExternalIP wins
    ([node("b", ("InternalIP", "10.0.0.10")), node("a", ("InternalIP", "10.0.0.9"))], ["10.0.0.9", "10.0.0.10"]),
    ([node("a", ("InternalIP", "10.0.0.2"), ready=False)], []),
    ([node("a", ("InternalIP", "fd00::2"), ("InternalIP", "10.0.0.2"))], ["10.0.0.2", "fd00::2"]),
    ([node("a", ("InternalIP", "not-an-ip"))], []),
])
def test_node_addresses(nodes: list[Obj], expected: list[str]) -> None:
    assert servicelb.node_addresses(nodes) == expected


@pytest.mark.parametrize("spec, wanted", [
    ({"type": "LoadBalancer"}, True),
    ({"type": "LoadBalancer", "loadBalancerClass": "example.com/lb"}, False),
    ({"type": "NodePort"}, False),
    ({}, False),
])
def test_wants_ingress(spec: Obj, wanted: bool) -> None:
    assert servicelb.wants_ingress({"spec": spec}) is wanted


def lb_service(name: str, **spec: Any) -> Obj:
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.10"],
                     "allocateLoadBalancerNodePorts": True,
                     "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}], **spec}}


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    async with harness() as h:
        yield h


async def test_status_follows_the_ready_nodes(h: Harness) -> None:
    await h.client.create(NODES, node("n1", ("InternalIP", "10.0.0.2")))
    await h.client.create(SERVICES, lb_service("web"), "default")
    await h.client.create(SERVICES, lb_service("other", loadBalancerClass="example.com/lb"), "default")
    lb = ServiceLB(client=h.client, services=h.informers.informer(SERVICES),  # type: ignore[arg-type]
                   nodes=h.informers.informer(NODES))
    await h.start()
    for key in ("default/web", "default/other"):
        await lb.reconcile(key)
    await h.settle()
    web = await h.client.get(SERVICES, "web", "default")
    assert web["status"]["loadBalancer"]["ingress"] == [{"ip": "10.0.0.2", "ipMode": "VIP"}]
    assert not ((await h.client.get(SERVICES, "other", "default")).get("status") or {}).get(
        "loadBalancer", {}).get("ingress")
    writes = h.client.count("patch", "services", subresource="status")
    await lb.reconcile("default/web")                                # already right: no write
    assert h.client.count("patch", "services", subresource="status") == writes
    # a second node becomes Ready: the Service is queued again and gets both addresses
    await h.client.create(NODES, node("n2", ("InternalIP", "10.0.0.3")))
    await h.settle()
    assert len(lb.queue) == 1 and await lb.queue.get() == "default/web"
    await lb.reconcile("default/web")
    web = await h.client.get(SERVICES, "web", "default")
    assert [i["ip"] for i in web["status"]["loadBalancer"]["ingress"]] == ["10.0.0.2", "10.0.0.3"]


async def test_a_deleted_service_is_ignored(h: Harness) -> None:
    lb = ServiceLB(client=h.client, services=h.informers.informer(SERVICES),  # type: ignore[arg-type]
                   nodes=h.informers.informer(NODES))
    await h.start()
    await lb.reconcile("default/gone")
    assert h.client.count("patch", "services", subresource="status") == 0
