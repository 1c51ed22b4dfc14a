"""The DaemonSet controller against the fake API: one pod per eligible node (selectors, affinity, taints and the
tolerations daemon pods get), node-name affinity instead of nodeName, ControllerRevisions, RollingUpdate with
maxUnavailable and maxSurge, OnDelete, failed pods, status counters."""

from __future__ import annotations

from typing import Any

from tests.unit.controllers.fakeclient import FakeClient, FakeKubelet, Harness, drain, harness

from pybernetes.client.resources import CONTROLLERREVISIONS, DAEMONSETS, NODES, PODS
from pybernetes.controllers import daemonset_util as du
from pybernetes.controllers.daemonset import DaemonSetController

Obj = dict[str, Any]
LABELS = {"app": "agent"}


def ds_body(*, node_selector: dict[str, str] | None = None, strategy: Obj | None = None, host_network: bool = False,
            image: str = "agent:1") -> Obj:
    spec: Obj = {"containers": [{"name": "agent", "image": image}]}
    if node_selector:
        spec["nodeSelector"] = node_selector
    if host_network:
        spec["hostNetwork"] = True
    body: Obj = {"metadata": {"name": "agent", "namespace": "ns"},
                 "spec": {"selector": {"matchLabels": LABELS},
                          "template": {"metadata": {"labels": LABELS}, "spec": spec}}}
    if strategy is not None:
        body["spec"]["updateStrategy"] = strategy
    return body


async def add_node(fake: FakeClient, name: str, *, labels: dict[str, str] | None = None,
                   taints: list[Obj] | None = None) -> None:
    spec: Obj = {"taints": taints} if taints else {}
    await fake.create(NODES, {"metadata": {"name": name, "labels": labels or {}}, "spec": spec})


async def started(h: Harness) -> DaemonSetController:
    c = DaemonSetController(h.ctx)
    await h.start()
    return c


async def sync(h: Harness, c: DaemonSetController) -> float | None:
    await h.settle()
    out = await c.reconcile("ns/agent")
    await h.settle()
    return out


def live(fake: FakeClient) -> list[Obj]:
    return [p for p in fake.objects(PODS, "ns") if not p["metadata"].get("deletionTimestamp")]


def placement(fake: FakeClient) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in live(fake):
        node = du.target_node(p) or ""
        out[node] = out.get(node, 0) + 1
    return out


async def schedule_and_run(fake: FakeClient, *, ready: bool = True) -> None:
    """The scheduler binds each pod to its pinned node; the kubelet runs it."""
    for p in live(fake):
        if (p.get("status") or {}).get("phase") in ("Running", "Failed"):
            continue
        pod = await fake.get(PODS, p["metadata"]["name"], "ns")
        pod["spec"]["nodeName"] = du.target_node(pod)
        pod = await fake.update(PODS, pod)
        pod["status"] = {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": fake._now()}]}
        await fake.update(PODS, pod, subresource="status")


async def finish_deletions(fake: FakeClient) -> None:
    for p in fake.objects(PODS, "ns"):
        if p["metadata"].get("deletionTimestamp"):
            await fake.delete(PODS, p["metadata"]["name"], "ns", grace_period_seconds=0)


def ds_status(fake: FakeClient) -> Obj:
    return fake.peek(DAEMONSETS, "agent", "ns")["status"]     # type: ignore[index,no-any-return]


async def test_one_pod_per_eligible_node_pinned_by_affinity() -> None:
    async with harness() as h:
        c = await started(h)
        await add_node(h.client, "n1", labels={"disk": "ssd"})
        await add_node(h.client, "n2", labels={"disk": "ssd"})
        await add_node(h.client, "n3")
        ds = await h.client.create(DAEMONSETS, ds_body(node_selector={"disk": "ssd"}), "ns")
        await sync(h, c)
        assert placement(h.client) == {"n1": 1, "n2": 1}
        pod = next(p for p in live(h.client) if du.target_node(p) == "n1")
        assert "nodeName" not in pod["spec"]
        assert pod["spec"]["affinity"] == {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}}}
        keys = [(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]]
        assert keys == [("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
                        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
                        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
                        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
                        ("node.kubernetes.io/unschedulable", "NoSchedule")]
        revisions = h.client.objects(CONTROLLERREVISIONS, "ns")
        assert len(revisions) == 1 and revisions[0]["revision"] == 1
        hash_ = revisions[0]["metadata"]["labels"]["controller-revision-hash"]
        assert revisions[0]["metadata"]["name"] == f"agent-{hash_}"
        assert pod["metadata"]["labels"] == {"app": "agent", "controller-revision-hash": hash_,
                                             "pod-template-generation": "1"}
        assert pod["metadata"]["ownerReferences"][0]["uid"] == ds["metadata"]["uid"]
        await sync(h, c)
        assert ds_status(h.client) == {"currentNumberScheduled": 2, "numberMisscheduled": 0,
                                       "desiredNumberScheduled": 2, "numberReady": 0, "observedGeneration": 1,
                                       "updatedNumberScheduled": 2, "numberUnavailable": 2}
        await schedule_and_run(h.client)
        await sync(h, c)
        assert ds_status(h.client) == {"currentNumberScheduled": 2, "numberMisscheduled": 0,
                                       "desiredNumberScheduled": 2, "numberReady": 2, "observedGeneration": 1,
                                       "updatedNumberScheduled": 2, "numberAvailable": 2}


async def test_taints_and_the_automatic_tolerations() -> None:
    async with harness() as h:
        c = await started(h)
        await add_node(h.client, "cordoned", taints=[{"key": "node.kubernetes.io/unschedulable",
                                                      "effect": "NoSchedule"}])
        await add_node(h.client, "notready", taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}])
        await add_node(h.client, "gpu", taints=[{"key": "gpu", "value": "true", "effect": "NoSchedule"}])
        await add_node(h.client, "netless", taints=[{"key": "node.kubernetes.io/network-unavailable",
                                                     "effect": "NoSchedule"}])
        await h.client.create(DAEMONSETS, ds_body(), "ns")
        await sync(h, c)
        assert placement(h.client) == {"cordoned": 1, "notready": 1}


def test_host_network_pods_tolerate_network_unavailable() -> None:
    node = {"metadata": {"name": "n"}, "spec": {"taints": [{"key": "node.kubernetes.io/network-unavailable",
                                                              "effect": "NoSchedule"}]}}
    assert du.should_run(node, ds_body(host_network=True)) == (True, True)
    assert du.should_run(node, ds_body()) == (False, True)     # may keep running: only NoSchedule is untolerated
    no_exec = {"metadata": {"name": "n"}, "spec": {"taints": [{"key": "x", "effect": "NoExecute"}]}}
    assert du.should_run(no_exec, ds_body()) == (False, False)


async def test_new_and_relabelled_nodes_are_followed() -> None:
    async with harness() as h:
        c = await started(h)
        await add_node(h.client, "n1", labels={"role": "edge"})
        await h.client.create(DAEMONSETS, ds_body(node_selector={"role": "edge"}), "ns")
        await sync(h, c)
        await add_node(h.client, "n2", labels={"role": "edge"})
        await h.settle()
        assert "ns/agent" in [await c.queue.get()]
        c.queue.done("ns/agent")
        await sync(h, c)
        assert placement(h.client) == {"n1": 1, "n2": 1}
        node = await h.client.get(NODES, "n1")
        node["metadata"]["labels"] = {}
        await h.client.update(NODES, node)
        await sync(h, c)
        assert placement(h.client) == {"n2": 1}
        assert ds_status(h.client)["desiredNumberScheduled"] == 1


async def test_rolling_update_respects_max_unavailable() -> None:
    async with harness() as h:
        c = await started(h)
        for i in range(3):
            await add_node(h.client, f"n{i}")
        await h.client.create(DAEMONSETS, ds_body(), "ns")        # default: maxUnavailable 1, maxSurge 0
        await sync(h, c)
        await schedule_and_run(h.client)
        await sync(h, c)
        ds = await h.client.get(DAEMONSETS, "agent", "ns")
        ds["spec"]["template"]["spec"]["containers"][0]["image"] = "agent:2"
        await h.client.update(DAEMONSETS, ds)
        await sync(h, c)
        assert len(live(h.client)) == 2                          # one old pod deleted at a time
        assert len(h.client.objects(CONTROLLERREVISIONS, "ns")) == 2
        for _ in range(6):
            await finish_deletions(h.client)
            await sync(h, c)
            await schedule_and_run(h.client)
            await sync(h, c)
        images = sorted(p["spec"]["containers"][0]["image"] for p in live(h.client))
        assert images == ["agent:2"] * 3
        st = ds_status(h.client)
        assert (st["updatedNumberScheduled"], st["numberAvailable"], st["observedGeneration"]) == (3, 3, 2)


async def test_rolling_update_with_surge_starts_new_pods_beside_old_ones() -> None:
    async with harness() as h:
        c = await started(h)
        for i in range(2):
            await add_node(h.client, f"n{i}")
        await h.client.create(DAEMONSETS, ds_body(strategy={"type": "RollingUpdate", "rollingUpdate": {
            "maxSurge": 1, "maxUnavailable": 0}}), "ns")
        await sync(h, c)
        await schedule_and_run(h.client)
        ds = await h.client.get(DAEMONSETS, "agent", "ns")
        ds["spec"]["template"]["spec"]["containers"][0]["image"] = "agent:2"
        await h.client.update(DAEMONSETS, ds)
        await sync(h, c)
        assert len(live(h.client)) == 3 and max(placement(h.client).values()) == 2   # one surge pod
        await schedule_and_run(h.client)
        await sync(h, c)                                         # the new one is available: the old one goes
        await finish_deletions(h.client)
        for _ in range(4):
            await sync(h, c)
            await schedule_and_run(h.client)
            await finish_deletions(h.client)
        await sync(h, c)
        assert placement(h.client) == {"n0": 1, "n1": 1}
        assert sorted(p["spec"]["containers"][0]["image"] for p in live(h.client)) == ["agent:2", "agent:2"]


async def test_on_delete_keeps_old_pods_until_deleted() -> None:
    async with harness() as h:
        c = await started(h)
        await add_node(h.client, "n0")
        await h.client.create(DAEMONSETS, ds_body(strategy={"type": "OnDelete"}), "ns")
        await sync(h, c)
        await schedule_and_run(h.client)
        ds = await h.client.get(DAEMONSETS, "agent", "ns")
        ds["spec"]["template"]["spec"]["containers"][0]["image"] = "agent:2"
        await h.client.update(DAEMONSETS, ds)
        await sync(h, c)
        assert [p["spec"]["containers"][0]["image"] for p in live(h.client)] == ["agent:1"]
        assert ds_status(h.client).get("updatedNumberScheduled", 0) == 0
        await h.client.delete(PODS, live(h.client)[0]["metadata"]["name"], "ns", grace_period_seconds=0)
        await sync(h, c)
        assert [p["spec"]["containers"][0]["image"] for p in live(h.client)] == ["agent:2"]


async def test_failed_pods_are_replaced_with_backoff() -> None:
    async with harness() as h:
        c = await started(h)
        await add_node(h.client, "n0")
        await h.client.create(DAEMONSETS, ds_body(), "ns")
        await sync(h, c)
        await schedule_and_run(h.client)

        async def fail() -> None:
            pod = live(h.client)[0]
            pod["status"] = {"phase": "Failed"}
            await h.client.update(PODS, pod, subresource="status")

        await fail()
        await sync(h, c)
        assert h.recorder.messages("FailedDaemonPod")
        await sync(h, c)
        assert len(live(h.client)) == 1 and live(h.client)[0]["status"]["phase"] == "Pending"
        await schedule_and_run(h.client)
        await fail()
        assert await sync(h, c) == 1.0                           # deleted a failed pod 0 s ago: back off 1 s
        assert live(h.client)[0]["status"]["phase"] == "Failed"
        h.clock.advance(1)
        await sync(h, c)
        assert len(h.recorder.messages("FailedDaemonPod")) == 2


async def test_expectations_stop_a_stale_cache_from_doubling_pods() -> None:
    async with harness() as h:
        c = await started(h)
        await add_node(h.client, "n0")
        await h.client.create(DAEMONSETS, ds_body(), "ns")
        await h.settle()
        h.client.hold()
        await c.reconcile("ns/agent")
        await c.reconcile("ns/agent")
        assert h.client.count("create", "pods") == 1
        h.client.release()
        await sync(h, c)
        assert placement(h.client) == {"n0": 1}


async def test_empty_selector_is_refused() -> None:
    async with harness() as h:
        c = await started(h)
        body = ds_body()
        body["spec"]["selector"] = {}
        await h.client.create(DAEMONSETS, body, "ns")
        await sync(h, c)
        assert h.recorder.messages("SelectingAll") == [
            "This daemon set is selecting all pods. A non-empty selector is required."]


async def test_event_handlers_alone_keep_a_pod_on_the_node() -> None:
    async with harness() as h:
        c = await started(h)
        await add_node(h.client, "node-1")
        await h.client.create(DAEMONSETS, ds_body(), "ns")
        assert await drain(h, c, kubelet=FakeKubelet(h.client)) == []
        assert placement(h.client) == {"node-1": 1} and ds_status(h.client)["numberReady"] == 1
        await h.client.delete(PODS, live(h.client)[0]["metadata"]["name"], "ns")
        assert await drain(h, c, kubelet=FakeKubelet(h.client)) == []
        assert placement(h.client) == {"node-1": 1} and ds_status(h.client)["numberAvailable"] == 1
