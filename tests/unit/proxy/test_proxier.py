"""The sync loop against the in-memory API with a recording nft runner: nothing before the informers listed, a
full atomic rewrite first and after any failure, then per-Service diffs; node CIDRs and policy inputs follow;
changes that touch no rule write nothing; the applied state always equals what the caches say."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.unit.controllers.fakeclient import Harness, harness

from pybernetes.client.resources import ENDPOINTSLICES, NAMESPACES, NETWORKPOLICIES, NODES, PODS, SERVICES
from pybernetes.proxy.proxier import Proxier, ProxyConfig
from pybernetes.proxy.runner import NftError

Obj = dict[str, Any]


class FakeRunner:
    def __init__(self) -> None:
        self.scripts: list[str] = []
        self.fail_next = 0
        self.crash_next = 0
        self.tables = {"pybernetes"}

    async def apply(self, script: str) -> None:
        if self.crash_next:
            self.crash_next -= 1
            raise RuntimeError("a bug")
        if self.fail_next:
            self.fail_next -= 1
            raise NftError("Error: Could not process rule: No such file or directory")
        self.scripts.append(script)

    async def list(self, what: str) -> str:
        if what.split()[2] not in self.tables:
            raise NftError("Error: No such file or directory")
        return ""


def service(name: str, ip: str, *, port: int = 80, ns: str = "default", **spec: Any) -> Obj:
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"type": "ClusterIP", "clusterIP": ip, "clusterIPs": [ip],
                     "ports": [{"name": "http", "port": port, "protocol": "TCP"}], **spec}}


def endpoint_slice(svc: str, *ips: str, name: str = "", ns: str = "default") -> Obj:
    return {"metadata": {"name": name or f"{svc}-1", "namespace": ns, "labels": {"kubernetes.io/service-name": svc}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}, "nodeName": "n1"} for ip in ips]}


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    async with harness() as h:
        yield h


async def started(h: Harness, *, network_policy: bool = False, **cfg: Any) -> tuple[Proxier, FakeRunner]:
    runner = FakeRunner()
    p = Proxier(config=ProxyConfig(node_name="n1", network_policy=network_policy, **cfg), runner=runner,
                informers=h.informers)
    await h.start()
    return p, runner


async def synced(h: Harness, p: Proxier) -> str:
    """Settle the informers, sync once, and return the script written (``""`` if none)."""
    await h.settle()
    before = len(p.runner.scripts)  # type: ignore[attr-defined]
    assert await p.sync()
    scripts = p.runner.scripts[before:]  # type: ignore[attr-defined]
    return scripts[0] if scripts else ""


async def test_first_sync_rewrites_the_whole_table(h: Harness) -> None:
    await h.client.create(SERVICES, service("web", "10.43.0.10"), "default")
    await h.client.create(ENDPOINTSLICES, endpoint_slice("web", "10.42.0.5"), "default")
    p, _runner = await started(h)
    script = await synced(h, p)
    assert script.startswith("add table ip pybernetes\ndelete table ip pybernetes\ntable ip pybernetes {\n")
    assert "meta l4proto tcp dnat to 10.42.0.5:8080" in script
    assert "10.43.0.10 . tcp . 80 : goto service-" in script
    assert p.stats.full_syncs == 1 and set(p.applied) == {"base", "svc:default/web"}
    assert await synced(h, p) == ""                                  # nothing changed: nothing written


async def test_an_endpoint_change_rewrites_only_that_service(h: Harness) -> None:
    for i in range(3):
        await h.client.create(SERVICES, service(f"s{i}", f"10.43.0.{10 + i}"), "default")
        await h.client.create(ENDPOINTSLICES, endpoint_slice(f"s{i}", f"10.42.0.{5 + i}"), "default")
    p, _runner = await started(h)
    await synced(h, p)
    sl = await h.client.get(ENDPOINTSLICES, "s1-1", "default")
    sl["endpoints"].append({"addresses": ["10.42.1.9"], "conditions": {"ready": True}})
    await h.client.update(ENDPOINTSLICES, sl)
    script = await synced(h, p)
    assert "delete table" not in script and "s0" not in script and "s2" not in script
    assert "add rule ip pybernetes endpoint-" in script and "dnat to 10.42.1.9:8080" in script
    assert "numgen random mod 2" in script
    assert p.applied == p.desired()


async def test_a_deleted_service_leaves_nothing(h: Harness) -> None:
    await h.client.create(SERVICES, service("web", "10.43.0.10"), "default")
    await h.client.create(ENDPOINTSLICES, endpoint_slice("web", "10.42.0.5"), "default")
    p, _ = await started(h)
    await synced(h, p)
    await h.client.delete(SERVICES, "web", "default")
    script = await synced(h, p)
    assert "delete element ip pybernetes service-ips { 10.43.0.10 . tcp . 80 }" in script
    assert script.count("delete chain") == 2
    assert set(p.applied) == {"base"}


async def test_a_failed_transaction_is_followed_by_a_full_rewrite(h: Harness) -> None:
    await h.client.create(SERVICES, service("web", "10.43.0.10"), "default")
    p, runner = await started(h)
    await synced(h, p)
    await h.client.create(ENDPOINTSLICES, endpoint_slice("web", "10.42.0.5"), "default")
    await h.settle()
    runner.fail_next = 1
    assert not await p.sync()
    assert p.stats.failures == 1
    script = await synced(h, p)
    assert script.startswith("add table ip pybernetes\ndelete table")
    assert "dnat to 10.42.0.5:8080" in script and p.stats.full_syncs == 2


async def test_node_pod_cidrs_become_the_cluster_cidrs(h: Harness) -> None:
    await h.client.create(NODES, {"metadata": {"name": "n1"}, "spec": {"podCIDR": "10.42.0.0/24"}})
    p, _ = await started(h)
    assert "add element ip pybernetes cluster-cidrs { 10.42.0.0/24 }" in await synced(h, p)
    await h.client.create(NODES, {"metadata": {"name": "n2"}, "spec": {"podCIDRs": ["10.42.1.0/24"]}})
    assert await synced(h, p) == ("delete element ip pybernetes cluster-cidrs { 10.42.0.0/24 }\n"
                                  "add element ip pybernetes cluster-cidrs { 10.42.0.0/23 }\n")
    node = await h.client.get(NODES, "n2")
    node["metadata"]["labels"] = {"x": "y"}
    await h.client.update(NODES, node)
    assert await synced(h, p) == ""


async def test_configured_cluster_cidrs_win(h: Harness) -> None:
    await h.client.create(NODES, {"metadata": {"name": "n1"}, "spec": {"podCIDR": "10.42.0.0/24"}})
    p, _ = await started(h, cluster_cidrs=("10.42.0.0/16",))
    script = await synced(h, p)
    assert "add element ip pybernetes cluster-cidrs { 10.42.0.0/16 }" in script


def pod(name: str, ip: str, *, ns: str = "default", node: str = "n1", **labels: str) -> Obj:
    return {"metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}}


async def make_pod(h: Harness, name: str, ip: str, **labels: str) -> None:
    obj = pod(name, ip, **labels)
    created = await h.client.create(PODS, {k: v for k, v in obj.items() if k != "status"}, "default")
    created["status"] = obj["status"]
    await h.client.update(PODS, created, subresource="status")


async def test_policies_follow_pods_labels_and_namespaces(h: Harness) -> None:
    await h.client.create(NAMESPACES, {"metadata": {"name": "default", "labels": {"team": "a"}}})
    await make_pod(h, "server", "10.42.0.5", app="server")
    await make_pod(h, "client", "10.42.0.6", app="client")
    p, _ = await started(h, network_policy=True)
    assert "np-in-" not in await synced(h, p)                        # no policy: no per-pod chains
    await h.client.create(NETWORKPOLICIES, {
        "metadata": {"name": "allow-client", "namespace": "default"},
        "spec": {"podSelector": {"matchLabels": {"app": "server"}}, "policyTypes": ["Ingress"],
                 "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}]}}, "default")
    script = await synced(h, p)
    peers = next(line.split()[4] for line in script.splitlines() if line.startswith("add set"))
    assert peers.startswith("np-") and peers.endswith("-default/allow-client/in0/0")
    assert f"ip saddr @{peers} return" in script and f"add element ip pybernetes {peers} {{ 10.42.0.6 }}" in script
    assert "add element ip pybernetes np-ingress { 10.42.0.5 : jump np-in-" in script
    # a new pod takes the client label: the rule follows, by one set element (no chain is rewritten)
    await make_pod(h, "client2", "10.42.0.7", app="client")
    assert await synced(h, p) == f"add element ip pybernetes {peers} {{ 10.42.0.7 }}\n"
    # a status change that does not touch the pod's address or labels writes nothing
    c2 = await h.client.get(PODS, "client2", "default")
    c2["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    await h.client.update(PODS, c2, subresource="status")
    assert await synced(h, p) == ""
    # relabel the server: no longer selected, its chain goes away
    srv = await h.client.get(PODS, "server", "default")
    srv["metadata"]["labels"] = {"app": "other"}
    await h.client.update(PODS, srv)
    script = await synced(h, p)
    assert "delete element ip pybernetes np-ingress { 10.42.0.5 }" in script and "delete chain" in script
    assert f"delete set ip pybernetes {peers}" in script
    assert not any(k.startswith(("np:", "npset:")) for k in p.applied)


async def test_applied_always_equals_desired_under_random_changes(h: Harness) -> None:
    rng = random.Random(7)
    p, _runner = await started(h)
    await synced(h, p)
    live: set[str] = set()
    for _ in range(60):
        i = rng.randrange(8)
        name = f"s{i}"
        op = rng.choice(["svc", "slice", "delete"])
        if op == "svc" and name not in live:
            await h.client.create(SERVICES, service(name, f"10.43.0.{10 + i}", sessionAffinity=rng.choice(
                ["None", "ClientIP"])), "default")
            live.add(name)
        elif op == "slice" and name in live:
            ips = [f"10.42.0.{rng.randrange(2, 9)}" for _ in range(rng.randrange(0, 3))]
            try:
                await h.client.delete(ENDPOINTSLICES, f"{name}-1", "default")
            except Exception:
                pass
            await h.client.create(ENDPOINTSLICES, endpoint_slice(name, *sorted(set(ips))), "default")
        elif op == "delete" and name in live:
            await h.client.delete(SERVICES, name, "default")
            live.discard(name)
        await synced(h, p)
        assert p.applied == p.desired()
    assert p.stats.full_syncs == 1 and p.stats.failures == 0


async def until(cond: Any, what: str) -> None:
    for _ in range(2000):
        if cond():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"never: {what}")


async def test_run_waits_for_the_informers_and_gathers_bursts(h: Harness) -> None:
    await h.client.create(SERVICES, service("web", "10.43.0.10"), "default")
    runner = FakeRunner()
    p = Proxier(config=ProxyConfig(node_name="n1", network_policy=False, coalesce=0.01), runner=runner,
                informers=h.informers, clock=h.clock)
    await h.start()
    gate = asyncio.Event()
    task = asyncio.create_task(p.run(gate.wait))
    await until(lambda: h.clock.waiting == 0, "the loop waiting for the gate")
    h.clock.advance(1)
    assert runner.scripts == []                                      # informers not "synced" yet
    gate.set()
    await until(lambda: h.clock.waiting == 1, "the coalescing pause")
    h.clock.advance(0.01)
    await until(lambda: len(runner.scripts) == 1, "the first sync")
    for i in range(5):                                               # a burst within one pause → one transaction
        await h.client.create(ENDPOINTSLICES, endpoint_slice("web", f"10.42.0.{i + 2}", name=f"web-{i}"), "default")
    await h.settle()
    for _ in range(100):                       # step the clock by the pause until the loop has written again
        h.clock.advance(0.01)
        await h.settle()
        if len(runner.scripts) > 1:
            break
    assert len(runner.scripts) == 2
    assert all(f"10.42.0.{i + 2}:8080" in runner.scripts[1] for i in range(5))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_run_retries_and_rewrites_a_table_someone_removed(h: Harness) -> None:
    runner = FakeRunner()
    runner.fail_next = 1
    p = Proxier(config=ProxyConfig(node_name="n1", network_policy=False, coalesce=0, resync_period=30,
                                   retry_min=0.5), runner=runner, informers=h.informers, clock=h.clock)
    await h.start()
    task = asyncio.create_task(p.run(lambda: asyncio.sleep(0)))
    await until(lambda: p.stats.failures == 1 and h.clock.waiting == 1, "a failed sync backing off")
    h.clock.advance(0.5)
    await until(lambda: len(runner.scripts) == 1, "the retried sync")
    await until(lambda: h.clock.waiting == 1, "the resync timer")
    h.clock.advance(30)                                              # the table is there: nothing to do
    await until(lambda: h.clock.waiting == 1, "the next resync timer")
    assert len(runner.scripts) == 1
    runner.tables.clear()                                            # nft delete table ip pybernetes
    h.clock.advance(30)
    await until(lambda: len(runner.scripts) == 2, "the rewrite")
    assert runner.scripts[1].startswith("add table ip pybernetes\ndelete table")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_udp_changes_are_flagged_for_conntrack_cleanup(h: Harness) -> None:
    await h.client.create(SERVICES, service("web", "10.43.0.10"), "default")
    dns = service("dns", "10.43.0.53")
    dns["spec"]["ports"] = [{"name": "http", "port": 53, "protocol": "UDP"}]
    await h.client.create(SERVICES, dns, "default")
    p, _ = await started(h)
    await synced(h, p)
    assert p.udp_changed                                             # a full sync with a UDP Service
    await h.client.create(ENDPOINTSLICES, endpoint_slice("web", "10.42.0.5"), "default")
    await synced(h, p)
    assert not p.udp_changed
    sl = endpoint_slice("dns", "10.42.0.9")
    sl["ports"][0]["protocol"] = "UDP"
    await h.client.create(ENDPOINTSLICES, sl, "default")
    await synced(h, p)
    assert p.udp_changed


async def test_two_services_wanting_one_external_ip_do_not_break_the_table(h: Harness) -> None:
    for name in ("a", "b"):
        await h.client.create(SERVICES, service(name, f"10.43.0.{ord(name)}", externalIPs=["192.0.2.9"]), "default")
        await h.client.create(ENDPOINTSLICES, endpoint_slice(name, "10.42.0.5"), "default")
    p, _ = await started(h)
    script = await synced(h, p)
    assert script.count("192.0.2.9 . tcp . 80 :") == 1 and "192.0.2.9 . tcp . 80 : goto external-" in script
    assert p.applied == p.desired()
    await h.client.delete(SERVICES, "a", "default")                 # the owner goes: b takes the address over
    script = await synced(h, p)
    assert "delete element ip pybernetes service-ips { 10.43.0.97 . tcp . 80, 192.0.2.9 . tcp . 80 }" in script
    assert "192.0.2.9 . tcp . 80 : goto external-" in script.split("add element", 1)[1]
    assert p.applied == p.desired() and p.claims.contested() == []


async def test_run_survives_an_unexpected_error(h: Harness) -> None:
    runner = FakeRunner()
    runner.crash_next = 1
    p = Proxier(config=ProxyConfig(node_name="n1", network_policy=False, coalesce=0, retry_min=0.5), runner=runner,
                informers=h.informers, clock=h.clock)
    await h.start()
    task = asyncio.create_task(p.run(lambda: asyncio.sleep(0)))
    await until(lambda: p.stats.failures == 1 and h.clock.waiting == 1, "the crash backing off")
    h.clock.advance(0.5)
    await until(lambda: len(runner.scripts) == 1, "the retried sync")
    assert runner.scripts[0].startswith("add table ip pybernetes\ndelete table")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
