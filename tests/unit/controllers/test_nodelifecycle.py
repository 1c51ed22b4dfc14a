"""Node lifecycle and taint-based eviction against the fake API, with a fake clock: stale leases, Unknown
conditions, taints (rate limited per zone, zone disruption modes), pods marked not ready, evictions after
tolerationSeconds, recovery."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.controllers.fakeclient import Harness, harness

from pybernetes.api.meta import format_rfc3339_micro
from pybernetes.client.resources import LEASES, NODES, PODS
from pybernetes.controllers import nodelifecycle as nl
from pybernetes.controllers.nodelifecycle import NodeLifecycleController, TaintEvictionController

Obj = dict[str, Any]
OPTS = {"node_monitor_grace_period": 40.0, "node_monitor_period": 5.0}


async def add_node(h: Harness, name: str, *, ready: str = "True", zone: str = "", taints: list | None = None,
                   conditions: bool = True) -> None:
    labels = {"topology.kubernetes.io/zone": zone} if zone else {}
    node = await h.client.create(NODES, {"metadata": {"name": name, "labels": labels},
                                         "spec": {"taints": taints} if taints else {}})
    if conditions:
        now = h.client._now()
        node["status"] = {"conditions": [
            {"type": t, "status": s, "lastHeartbeatTime": now, "lastTransitionTime": now, "reason": "Kubelet",
             "message": "ok"}
            for t, s in (("Ready", ready), ("MemoryPressure", "False"), ("DiskPressure", "False"),
                         ("PIDPressure", "False"))]}
        await h.client.update(NODES, node, subresource="status")
    await h.client.create(LEASES, {"metadata": {"name": name, "namespace": nl.NODE_LEASE_NAMESPACE},
                                   "spec": {"holderIdentity": name, "leaseDurationSeconds": 40,
                                            "renewTime": format_rfc3339_micro(h.clock.now())}},
                          nl.NODE_LEASE_NAMESPACE)


async def renew(h: Harness, name: str) -> None:
    lease = await h.client.get(LEASES, name, nl.NODE_LEASE_NAMESPACE)
    lease["spec"]["renewTime"] = format_rfc3339_micro(h.clock.now())
    await h.client.update(LEASES, lease)
    await h.settle()


async def kubelet_posts(h: Harness, name: str, ready: str) -> None:
    node = await h.client.get(NODES, name)
    now = h.client._now()
    for c in node["status"]["conditions"]:
        c["lastHeartbeatTime"] = now
        if c["type"] == "Ready" and c["status"] != ready:
            c.update(status=ready, lastTransitionTime=now, reason="KubeletReady", message="kubelet is posting")
        elif c["type"] != "Ready":
            c.update(status="False", reason="KubeletHasSufficient")
    await h.client.update(NODES, node, subresource="status")
    await h.settle()


async def add_pod(h: Harness, name: str, node: str, *, tolerations: list | None = None) -> Obj:
    await h.client.create(PODS, {"metadata": {"name": name, "namespace": "ns"},
                                 "spec": {"containers": [{"name": "c", "image": "x"}], "nodeName": node,
                                          **({"tolerations": tolerations} if tolerations is not None else {})}},
                          "ns")
    p = await h.client.get(PODS, name, "ns")
    p["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True",
                                                       "lastTransitionTime": h.client._now()}]}
    return await h.client.update(PODS, p, subresource="status")


def node(h: Harness, name: str) -> Obj:
    n = h.client.peek(NODES, name)
    assert n is not None
    return n


def taints(h: Harness, name: str) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in node(h, name)["spec"].get("taints") or ()}


def ready(h: Harness, name: str) -> Obj:
    return next(c for c in node(h, name)["status"]["conditions"] if c["type"] == "Ready")


async def lifecycle(h: Harness, **opts: Any) -> NodeLifecycleController:
    h.ctx.options.update({**OPTS, **opts})
    c = NodeLifecycleController(h.ctx)
    await h.start()
    return c


async def sync(h: Harness, c: Any, *keys: str) -> list[float | None]:
    out = []
    for k in keys:
        await h.settle()
        out.append(await c.reconcile(k))
    await h.settle()
    return out


UNREACHABLE = {(nl.UNREACHABLE, "NoSchedule"), (nl.UNREACHABLE, "NoExecute")}
NOT_READY = {(nl.NOT_READY, "NoSchedule"), (nl.NOT_READY, "NoExecute")}


async def test_stale_lease_marks_node_unknown_taints_it_and_pods_not_ready() -> None:
    async with harness() as h:
        for n in ("n1", "n2", "n3"):
            await add_node(h, n)
        await add_pod(h, "a", "n1")
        c = await lifecycle(h)
        await c.handle_disruption()
        (after,) = await sync(h, c, "n1")
        assert after == pytest.approx(40.5), "next look when the grace period would end"
        h.clock.advance(30)
        await renew(h, "n2")
        await renew(h, "n3")
        await sync(h, c, "n1")
        assert ready(h, "n1")["status"] == "True", "within the grace period"
        h.clock.advance(11)
        await renew(h, "n2")
        await renew(h, "n3")
        await sync(h, c, "n1", "n2")
        await c.handle_disruption()
        await sync(h, c, "n1")
        cond = ready(h, "n1")
        assert (cond["status"], cond["reason"], cond["message"]) == ("Unknown", "NodeStatusUnknown",
                                                                     "Kubelet stopped posting node status.")
        assert cond["lastTransitionTime"] == h.client._now()
        assert {c2["type"]: c2["status"] for c2 in node(h, "n1")["status"]["conditions"]} == {
            "Ready": "Unknown", "MemoryPressure": "Unknown", "DiskPressure": "Unknown", "PIDPressure": "Unknown"}
        assert taints(h, "n1") == UNREACHABLE
        assert ready(h, "n2")["status"] == "True" and taints(h, "n2") == set()
        pod = h.client.peek(PODS, "a", "ns")
        assert pod["status"]["conditions"][0]["status"] == "False"           # type: ignore[index]
        assert [(e.kind, e.reason) for e in h.recorder.events] == [("Node", "NodeNotReady"), ("Pod", "NodeNotReady")]
        assert h.recorder.events[0].message == "Node n1 status is now: NodeNotReady"


async def test_recovery_removes_taints() -> None:
    async with harness() as h:
        for n in ("n1", "n2", "n3"):
            await add_node(h, n)
        c = await lifecycle(h)
        await sync(h, c, "n1")
        h.clock.advance(41)
        for n in ("n2", "n3"):
            await renew(h, n)
        await sync(h, c, "n1")
        assert taints(h, "n1") == {(nl.UNREACHABLE, "NoSchedule")}, "NoExecute waits for a zone pass"
        await c.handle_disruption()
        assert "n1" in c.queue._dirty, "a zone pass queues nodes it newly sees down"
        await sync(h, c, "n1")
        assert taints(h, "n1") == UNREACHABLE
        await renew(h, "n1")
        await kubelet_posts(h, "n1", "True")
        await sync(h, c, "n1")
        assert taints(h, "n1") == set()


async def test_ready_false_gets_not_ready_taints_swapped_at_once() -> None:
    async with harness() as h:
        await add_node(h, "n1", ready="False", taints=[{"key": nl.UNREACHABLE, "effect": "NoExecute"}])
        await add_node(h, "n2")
        c = await lifecycle(h)
        await sync(h, c, "n1")
        assert taints(h, "n1") == NOT_READY


async def test_cordon_taint_and_conditions() -> None:
    async with harness() as h:
        await add_node(h, "n1")
        c = await lifecycle(h)
        n = await h.client.get(NODES, "n1")
        n["spec"]["unschedulable"] = True
        await h.client.update(NODES, n)
        await sync(h, c, "n1")
        assert taints(h, "n1") == {(nl.UNSCHEDULABLE, "NoSchedule")}
        t = node(h, "n1")["spec"]["taints"][0]
        assert t["timeAdded"] == h.client._now()
        n = await h.client.get(NODES, "n1")
        n["spec"]["unschedulable"] = False
        await h.client.update(NODES, n)
        await sync(h, c, "n1")
        assert taints(h, "n1") == set()


async def test_never_posted_status_gets_startup_grace() -> None:
    async with harness() as h:
        await h.client.create(NODES, {"metadata": {"name": "n1"}})
        await add_node(h, "n2")
        await add_node(h, "n3")
        c = await lifecycle(h, node_startup_grace_period=60.0)
        await sync(h, c, "n1")
        h.clock.advance(45)
        await sync(h, c, "n1")
        assert "status" not in node(h, "n1") or not node(h, "n1")["status"].get("conditions")
        h.clock.advance(20)
        await sync(h, c, "n1")
        cond = ready(h, "n1")
        assert (cond["status"], cond["reason"], cond["message"]) == ("Unknown", "NodeStatusNeverUpdated",
                                                                     "Kubelet never posted node status.")


async def test_no_execute_tainting_is_rate_limited_per_zone() -> None:
    async with harness() as h:
        names = [f"n{i}" for i in range(7)]
        for n in names:
            await add_node(h, n)
        c = await lifecycle(h)
        await sync(h, c, *names)
        h.clock.advance(41)
        for n in names[2:]:
            await renew(h, n)
        await sync(h, c, "n0", "n1")
        await c.handle_disruption()
        await sync(h, c, "n0", "n1")
        assert taints(h, "n0") == UNREACHABLE
        assert taints(h, "n1") == {(nl.UNREACHABLE, "NoSchedule")}, "the second node waits for a token"
        h.clock.advance(10)
        await sync(h, c, "n1")
        assert taints(h, "n1") == UNREACHABLE


@pytest.mark.parametrize(("down", "total", "tainted"), [
    (3, 3, False),       # every node down: full disruption, nothing is evicted
    (3, 4, False),       # 75 % of a small zone down: partial disruption, eviction rate 0
    (3, 6, True),        # 50 %: normal
])
async def test_zone_disruption_modes(down: int, total: int, tainted: bool) -> None:
    async with harness() as h:
        names = [f"n{i}" for i in range(total)]
        for n in names:
            await add_node(h, n)
        c = await lifecycle(h)
        await sync(h, c, *names)
        h.clock.advance(41)
        for n in names[down:]:
            await renew(h, n)
        await sync(h, c, *names[:down])              # conditions go Unknown
        await c.handle_disruption()
        await sync(h, c, names[0])
        assert ((nl.UNREACHABLE, "NoExecute") in taints(h, names[0])) is tainted
        assert (nl.UNREACHABLE, "NoSchedule") in taints(h, names[0])


async def test_full_disruption_removes_no_execute_taints() -> None:
    async with harness() as h:
        await add_node(h, "n1", ready="Unknown", taints=[{"key": nl.UNREACHABLE, "effect": "NoExecute"}])
        c = await lifecycle(h)
        await c.handle_disruption()
        await h.settle()
        assert taints(h, "n1") == set()
        assert c.all_disrupted


# ------------------------------------------------------------------ taint-based eviction
async def evictor(h: Harness) -> TaintEvictionController:
    c = TaintEvictionController(h.ctx)
    await h.start()
    return c


NOEXEC = [{"key": nl.UNREACHABLE, "effect": "NoExecute", "timeAdded": "2026-01-01T00:00:00Z"}]


async def test_untolerated_pod_is_evicted_at_once() -> None:
    async with harness() as h:
        await add_node(h, "n1", taints=NOEXEC)
        await add_pod(h, "a", "n1", tolerations=[])
        c = await evictor(h)
        assert "ns/a" in c.queue._dirty
        await sync(h, c, "ns/a")
        pod = h.client.peek(PODS, "a", "ns")
        assert pod is not None and pod["metadata"]["deletionTimestamp"], "deleted (gracefully: it is on a node)"
        cond = next(x for x in pod["status"]["conditions"] if x["type"] == "DisruptionTarget")
        assert (cond["reason"], cond["message"]) == ("DeletionByTaintManager",
                                                     "Taint manager: deleting due to NoExecute taint")
        assert h.recorder.messages("TaintManagerEviction") == ["Marking for deletion Pod ns/a"]


async def test_toleration_seconds_delay_the_eviction() -> None:
    async with harness() as h:
        await add_node(h, "n1")
        await add_pod(h, "a", "n1", tolerations=[{"key": nl.UNREACHABLE, "operator": "Exists",
                                                  "effect": "NoExecute", "tolerationSeconds": 5},
                                                 {"key": nl.UNREACHABLE, "operator": "Exists",
                                                  "effect": "NoExecute", "tolerationSeconds": 300}])
        c = await evictor(h)
        n = await h.client.get(NODES, "n1")
        n["spec"]["taints"] = NOEXEC
        await h.client.update(NODES, n)
        await h.settle()
        assert "ns/a" in c.queue._dirty, "a new NoExecute taint enqueues the node's pods"
        (after,) = await sync(h, c, "ns/a")
        assert after == 5
        h.clock.advance(3)
        (after,) = await sync(h, c, "ns/a")
        assert after == 2
        assert not h.client.peek(PODS, "a", "ns")["metadata"].get("deletionTimestamp")   # type: ignore[index]
        h.clock.advance(2)
        await sync(h, c, "ns/a")
        assert h.client.peek(PODS, "a", "ns")["metadata"]["deletionTimestamp"]          # type: ignore[index]


async def test_taint_removed_in_time_cancels() -> None:
    async with harness() as h:
        await add_node(h, "n1", taints=NOEXEC)
        await add_pod(h, "a", "n1", tolerations=[{"operator": "Exists", "effect": "NoExecute",
                                                  "tolerationSeconds": 60}])
        c = await evictor(h)
        await sync(h, c, "ns/a")
        n = await h.client.get(NODES, "n1")
        n["spec"]["taints"] = []
        await h.client.update(NODES, n)
        await sync(h, c, "ns/a")
        assert h.recorder.messages("TaintManagerEviction") == ["Cancelling deletion of Pod ns/a"]
        h.clock.advance(120)
        await sync(h, c, "ns/a")
        assert not h.client.peek(PODS, "a", "ns")["metadata"].get("deletionTimestamp")   # type: ignore[index]


async def test_forever_toleration_never_evicts() -> None:
    async with harness() as h:
        await add_node(h, "n1", taints=NOEXEC)
        await add_pod(h, "a", "n1", tolerations=[{"key": nl.UNREACHABLE, "operator": "Exists"}])
        c = await evictor(h)
        (after,) = await sync(h, c, "ns/a")
        assert after is None
        assert not h.client.peek(PODS, "a", "ns")["metadata"].get("deletionTimestamp")   # type: ignore[index]


# ------------------------------------------------------------------ pure helpers
TAINT = {"key": "k", "value": "v", "effect": "NoExecute"}


@pytest.mark.parametrize(("tol", "want"), [
    ({"key": "k", "operator": "Equal", "value": "v", "effect": "NoExecute"}, True),
    ({"key": "k", "value": "v"}, True),                              # empty effect matches all, Equal default
    ({"key": "k", "operator": "Exists"}, True),
    ({"operator": "Exists"}, True),                                  # empty key + Exists tolerates everything
    ({"key": "k", "value": "w"}, False),
    ({"key": "k", "operator": "Exists", "effect": "NoSchedule"}, False),
    ({"key": "other", "operator": "Exists"}, False),
    ({"key": "k", "operator": "Lt", "value": "v"}, False),
])
def test_tolerates(tol: Obj, want: bool) -> None:
    assert nl.tolerates(tol, TAINT) is want


@pytest.mark.parametrize(("tols", "want"), [
    ([], 0.0), ([{"tolerationSeconds": 10}, {"tolerationSeconds": 5}], 5.0), ([{}], -1.0),
    ([{}, {"tolerationSeconds": 7}], 7.0), ([{"tolerationSeconds": 0}], 0.0), ([{"tolerationSeconds": -3}], 0.0),
])
def test_min_toleration_seconds(tols: list[Obj], want: float) -> None:
    assert nl.min_toleration_seconds(tols) == want


@pytest.mark.parametrize(("statuses", "want"), [
    (["Unknown", "False"], "FullDisruption"), (["True", "Unknown", "Unknown"], "Normal"),
    (["True", "Unknown", "Unknown", "Unknown"], "PartialDisruption"),
    (["True"] * 3 + ["Unknown"] * 3, "Normal"), ([], "Normal"),
])
def test_zone_state(statuses: list[str], want: str) -> None:
    assert nl.zone_state(statuses, threshold=0.55) == want


def test_token_bucket() -> None:
    b = nl.TokenBucket(0.1, 0.0)
    assert b.try_accept(0.0) and not b.try_accept(1.0)
    assert b.wait(1.0) == pytest.approx(9.0)
    assert b.try_accept(10.0)
    b.set_qps(0.0, 10.0)
    assert b.wait(100.0) is None and not b.try_accept(1000.0)
