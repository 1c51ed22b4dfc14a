"""Node registration, adoption, heartbeats (Lease every turn, Node status only on change or every 5 minutes),
and the node watch."""

from __future__ import annotations

import asyncio
import pathlib
import random
from typing import Any

import pytest
from tests.unit.kubelet.fakes import FakeAPI

from pybernetes.client.clock import FakeClock
from pybernetes.client.resources import LEASES, NODES
from pybernetes.kubelet.config import AgentConfig
from pybernetes.kubelet.node import REPORT_FREQUENCY, NodeManager, trim_node
from pybernetes.kubelet.runtime.interface import PodSandboxConfig
from pybernetes.kubelet.runtime.simulated import SimulatedRuntime

Obj = dict[str, Any]


class FakeRecorders:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def event(self, host: str, obj: Obj, type_: str, reason: str, message: str, *, field_path: str = "") -> None:
        self.events.append((host, reason, message))


class NoJitter(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return a


def manager(api: FakeAPI, clock: FakeClock, names: tuple[str, ...] = ("sim-0", "sim-1"), *,
            existing: list[Obj] = (), events: bool = True) -> tuple[NodeManager, FakeRecorders, SimulatedRuntime]:
    cfg = AgentConfig(server="https://x", token="t", data_dir=pathlib.Path("/nonexistent"), node_names=names,
                      capacity={"cpu": "4", "memory": "8Gi", "pods": "20"}, labels={"zone": "z1"},
                      node_events=events)
    rec = FakeRecorders()
    rt = SimulatedRuntime(clock=clock)
    m = NodeManager(client=api, heartbeat_client=api, runtime=rt, recorders=rec, config=cfg,  # type: ignore[arg-type]
                    clock=clock, rng=NoJitter())
    for obj in existing:
        trim_node(obj)
        m.informer.store[obj["metadata"]["name"]] = obj
    m.build()
    return m, rec, rt


async def test_register_creates_nodes_with_full_status_and_leases() -> None:
    api, clock = FakeAPI(), FakeClock()
    m, rec, _ = manager(api, clock)
    await m.register_all()
    node = api.stored(NODES, "sim-1")
    assert node is not None
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "sim-1"
    assert node["metadata"]["labels"]["zone"] == "z1"
    st = node["status"]
    assert st["addresses"][0] == {"type": "InternalIP", "address": "198.18.0.2"}
    assert st["capacity"]["pods"] == "20" and st["allocatable"]["memory"] == "8092Mi"
    assert [c["type"] for c in st["conditions"]] == ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
    assert api.stored(LEASES, "sim-1", "kube-node-lease") is None        # one request per node at start-up
    await m.heartbeat(m.nodes["sim-1"])                                   # the first heartbeat creates it
    lease = api.stored(LEASES, "sim-1", "kube-node-lease")
    assert lease is not None and lease["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]
    assert ("sim-1", "Starting", "Starting kubelet.") in rec.events
    assert ("sim-1", "NodeReady", "Node sim-1 status is now: NodeReady") in rec.events
    assert len(m.heartbeats) == 2 and all(n.registered for n in m.nodes.values())
    from kubernetes.client.models import V1Node
    V1Node.model_validate({**node, "metadata": {**node["metadata"], "creationTimestamp": "2026-01-01T00:00:00Z"}})


async def test_existing_node_is_adopted_and_keeps_its_address() -> None:
    api, clock = FakeAPI(), FakeClock()
    prior = api.put(NODES, {"apiVersion": "v1", "kind": "Node",
                            "metadata": {"name": "sim-1", "labels": {"kubernetes.io/hostname": "old"}},
                            "spec": {"podCIDR": "10.42.5.0/24"},
                            "status": {"addresses": [{"type": "InternalIP", "address": "198.18.0.7"}]}})
    other = {"metadata": {"name": "someone-else"},
             "status": {"addresses": [{"type": "InternalIP", "address": "198.18.0.1"}]}}
    m, _, _ = manager(api, clock, existing=[dict(prior), other])
    assert m.nodes["sim-1"].identity.internal_ip == "198.18.0.7"
    assert m.nodes["sim-0"].identity.internal_ip == "198.18.0.2"
    assert m.nodes["sim-1"].pod_cidr == "10.42.5.0/24"
    await m.register_all()
    node = api.stored(NODES, "sim-1")
    assert node["metadata"]["uid"] == prior["metadata"]["uid"]
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "sim-1"
    assert node["status"]["conditions"][-1]["type"] == "Ready"
    assert ("patch", "nodes", "sim-1", "status") in api.calls


async def test_heartbeat_writes_status_only_on_change_or_report_frequency() -> None:
    api, clock = FakeAPI(), FakeClock()
    m, _, rt = manager(api, clock, names=("sim-0",))
    await m.register_all()
    node = m.nodes["sim-0"]
    writes = api.count("patch", "nodes", "status")
    for _ in range(29):                          # 290 s of heartbeats: Lease only
        clock.advance(10)
        await m.heartbeat(node)
    assert api.count("patch", "nodes", "status") == writes
    assert api.count("create", "leases") == 1 and api.count("update", "leases") == 28
    clock.advance(REPORT_FREQUENCY - 290)
    await m.heartbeat(node)
    assert api.count("patch", "nodes", "status") == writes + 1
    sb = PodSandboxConfig(name="p", namespace="ns", uid="u", node_name="sim-0", pod_cidr="10.0.0.0/24")
    await rt.pull_image("redis:7", sandbox=sb)   # a new image on the node changes its status
    clock.advance(10)
    await m.heartbeat(node)
    assert api.count("patch", "nodes", "status") == writes + 2
    assert api.stored(NODES, "sim-0")["status"]["images"][0]["names"][1] == "docker.io/library/redis:7"
    hb = api.stored(NODES, "sim-0")["status"]["conditions"][-1]
    assert hb["lastHeartbeatTime"] == "2026-01-01T00:05:10Z" and hb["lastTransitionTime"] == "2026-01-01T00:00:00Z"


async def test_watch_updates_pod_cidr_and_a_foreign_not_ready_forces_a_write() -> None:
    api, clock = FakeAPI(), FakeClock()
    m, _, _ = manager(api, clock, names=("sim-0",))
    await m.register_all()
    node = m.nodes["sim-0"]
    assert node.pod_cidr_for_pods() == "100.64.0.0/24"          # fallback until IPAM runs
    seen = api.stored(NODES, "sim-0")
    seen = {**seen, "spec": {"podCIDR": "10.42.3.0/24"},
            "status": {**seen["status"], "conditions": [{"type": "Ready", "status": "Unknown"}]}}
    m._on_node(seen)
    assert node.pod_cidr_for_pods() == "10.42.3.0/24" and node.force
    assert seen["status"] == {"conditions": [{"type": "Ready", "status": "Unknown"}], "addresses": [
        {"type": "InternalIP", "address": "198.18.0.1"}]}
    writes = api.count("patch", "nodes", "status")
    clock.advance(10)
    await m.heartbeat(node)
    assert api.count("patch", "nodes", "status") == writes + 1 and not node.force


async def test_deleted_node_is_registered_again() -> None:
    api, clock = FakeAPI(), FakeClock()
    m, _, _ = manager(api, clock, names=("sim-0",), events=False)
    await m.register_all()
    old = api.stored(NODES, "sim-0")
    del api.objects[("nodes", "", "sim-0")]
    m._on_node_deleted(old)
    for _ in range(20):
        await asyncio.sleep(0)
    new = api.stored(NODES, "sim-0")
    assert new is not None and new["metadata"]["uid"] != old["metadata"]["uid"]
    assert m.nodes["sim-0"].lease.node_uid == new["metadata"]["uid"]
    await m.stop()


async def test_registration_retries_until_the_server_takes_it() -> None:
    from tests.unit.kubelet.fakes import status_error
    api, clock = FakeAPI(), FakeClock()
    api.fail[("create", "nodes")] = [status_error(503, "ServiceUnavailable")] * 3
    m, _, _ = manager(api, clock, names=("sim-0",), events=False)
    task = asyncio.create_task(m.register_all())
    for _ in range(10):
        clock.advance(1)
        for _ in range(20):
            await asyncio.sleep(0)
    await asyncio.wait_for(task, 1)
    assert api.count("create", "nodes") == 4 and m.nodes["sim-0"].registered


@pytest.mark.parametrize("count", [1, 50])
async def test_registration_is_bounded(count: int) -> None:
    api, clock = FakeAPI(), FakeClock()
    m, _, _ = manager(api, clock, names=tuple(f"n-{i}" for i in range(count)), events=False)
    await m.register_all()
    assert len([o for o in api.objects if o[0] == "nodes"]) == count
    assert len({n.identity.internal_ip for n in m.nodes.values()}) == count


async def test_status_reports_of_nodes_registered_together_are_spread() -> None:
    api, clock = FakeAPI(), FakeClock()
    m, _, _ = manager(api, clock, names=tuple(f"n-{i}" for i in range(300)), events=False)
    m.rng = random.Random(7)
    await m.register_all()
    writes = []
    for _ in range(30):                              # one report period in heartbeat turns
        clock.advance(10)
        before = api.count("patch", "nodes", "status")
        for node in m.nodes.values():
            await m.heartbeat(node)
        writes.append(api.count("patch", "nodes", "status") - before)
    assert sum(writes) == 300 and max(writes) <= 25          # ~10 per turn, not 300 at once
