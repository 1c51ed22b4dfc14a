"""The EndpointSlice controller against the fake API: slice shape and labels, conditions, ports, 100 per slice,
minimal churn, placeholders, address types, missing nodes and our own writes echoing back."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.controllers.fakeclient import Harness, harness

from pybernetes.client.resources import ENDPOINTSLICES, NODES, PODS, SERVICES
from pybernetes.controllers import endpointslice as es
from pybernetes.controllers.endpointslice import EndpointSliceController, StaleSlices

Obj = dict[str, Any]


def service(name: str = "web", *, cluster_ip: str = "10.43.0.9", families: list[str] | None = None,
            ports: list | None = None, publish: bool = False, labels: dict | None = None) -> Obj:
    spec: Obj = {"type": "ClusterIP", "clusterIP": cluster_ip, "clusterIPs": [cluster_ip],
                 "ipFamilies": families if families is not None else ["IPv4"], "selector": {"app": "web"},
                 "ports": ports if ports is not None else [{"name": "http", "port": 80, "protocol": "TCP",
                                                            "targetPort": "http"}]}
    if publish:
        spec["publishNotReadyAddresses"] = True
    return {"metadata": {"name": name, "namespace": "ns", "labels": labels or {}}, "spec": spec}


async def run(h: Harness, name: str, ip: str, *, ready: bool = True, node: str = "n1", port: int = 8080) -> Obj:
    await h.client.create(PODS, {"metadata": {"name": name, "namespace": "ns", "labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [
                                     {"name": "http", "containerPort": port, "protocol": "TCP"}]}]}}, "ns")
    p = await h.client.get(PODS, name, "ns")
    p["spec"]["nodeName"] = node
    p = await h.client.update(PODS, p)
    p["status"] = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": h.client._now()}]}
    return await h.client.update(PODS, p, subresource="status")


async def started(h: Harness, *nodes: str, options: dict | None = None) -> EndpointSliceController:
    for n in nodes or ("n1",):
        await h.client.create(NODES, {"metadata": {"name": n, "labels": {es.ZONE_LABEL: f"zone-{n}"}}})
    c = EndpointSliceController(h.ctx)
    await h.start()
    return c


async def sync(h: Harness, c: EndpointSliceController, key: str = "ns/web") -> None:
    await h.settle()
    await c.reconcile(key)
    await h.settle()


def slices(h: Harness) -> list[Obj]:
    return h.client.objects(ENDPOINTSLICES, "ns")


async def test_slice_shape_labels_owner_and_conditions() -> None:
    async with harness() as h:
        c = await started(h)
        svc = await h.client.create(SERVICES, service(labels={"tier": "front"}), "ns")
        a = await run(h, "a", "10.42.0.5")
        await run(h, "b", "10.42.0.6", ready=False)
        await sync(h, c)
        (sl,) = slices(h)
        meta = sl["metadata"]
        assert meta["name"].startswith("web-")
        assert meta["labels"] == {"tier": "front", es.SERVICE_NAME_LABEL: "web",
                                  es.MANAGED_BY_LABEL: "endpointslice-controller.k8s.io"}
        assert meta["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                            "uid": svc["metadata"]["uid"], "controller": True,
                                            "blockOwnerDeletion": True}]
        assert sl["addressType"] == "IPv4"
        assert sl["ports"] == [{"name": "http", "protocol": "TCP", "port": 8080}]
        by_ip = {e["addresses"][0]: e for e in sl["endpoints"]}
        assert by_ip["10.42.0.5"] == {"addresses": ["10.42.0.5"],
                                      "conditions": {"ready": True, "serving": True, "terminating": False},
                                      "targetRef": {"kind": "Pod", "namespace": "ns", "name": "a",
                                                    "uid": a["metadata"]["uid"]},
                                      "nodeName": "n1", "zone": "zone-n1"}
        assert by_ip["10.42.0.6"]["conditions"] == {"ready": False, "serving": False, "terminating": False}


async def test_terminating_pods_stay_listed_as_terminating() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(SERVICES, service(), "ns")
        await run(h, "a", "10.42.0.5")
        await sync(h, c)
        await h.client.delete(PODS, "a", "ns")
        await sync(h, c)
        (sl,) = slices(h)
        assert sl["endpoints"][0]["conditions"] == {"ready": False, "serving": True, "terminating": True}


async def test_publish_not_ready_addresses_marks_ready() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(SERVICES, service(publish=True), "ns")
        await run(h, "a", "10.42.0.5", ready=False)
        await sync(h, c)
        assert slices(h)[0]["endpoints"][0]["conditions"] == {"ready": True, "serving": False, "terminating": False}


async def test_at_most_100_per_slice_and_minimal_churn() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(SERVICES, service(), "ns")
        for i in range(150):
            await run(h, f"p{i}", f"10.42.{i // 200}.{i % 200 + 2}")
        await sync(h, c)
        got = slices(h)
        assert sorted(len(s["endpoints"]) for s in got) == [50, 100]
        before = {s["metadata"]["name"]: s["metadata"]["resourceVersion"] for s in got}
        # One more pod: it goes into the slice with room; the full one is not touched.
        await run(h, "new", "10.42.1.1")
        h.client.clear_actions()
        await sync(h, c)
        assert h.client.count("create", "endpointslices.discovery.k8s.io") == 0
        assert h.client.count("update", "endpointslices.discovery.k8s.io") == 1
        after = {s["metadata"]["name"]: (s["metadata"]["resourceVersion"], len(s["endpoints"])) for s in slices(h)}
        assert set(after) == set(before)
        assert sorted(n for _, n in after.values()) == [51, 100]
        full = next(n for n, (_, k) in after.items() if k == 100)
        assert after[full][0] == before[full]


async def test_no_write_when_nothing_changed() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(SERVICES, service(), "ns")
        await run(h, "a", "10.42.0.5")
        await sync(h, c)
        h.client.clear_actions()
        await sync(h, c)
        assert [a.verb for a in h.client.actions if a.resource == "endpointslices.discovery.k8s.io"] == []


async def test_placeholder_slice_when_no_endpoints_and_reused_later() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(SERVICES, service(), "ns")
        await sync(h, c)
        (ph,) = slices(h)
        assert ph["endpoints"] == [] and ph["ports"] == []
        await sync(h, c)
        assert [s["metadata"]["name"] for s in slices(h)] == [ph["metadata"]["name"]], "placeholder kept, not churned"
        await run(h, "a", "10.42.0.5")
        await sync(h, c)
        (sl,) = slices(h)
        assert sl["metadata"]["name"] == ph["metadata"]["name"], "a create paired with a delete becomes an update"
        assert len(sl["endpoints"]) == 1


async def test_named_ports_split_slices_per_port_list() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(SERVICES, service(), "ns")
        await run(h, "a", "10.42.0.5", port=8080)
        await run(h, "b", "10.42.0.6", port=9090)
        await sync(h, c)
        got = sorted((s["ports"][0]["port"], [e["addresses"][0] for e in s["endpoints"]]) for s in slices(h))
        assert got == [(8080, ["10.42.0.5"]), (9090, ["10.42.0.6"])]


async def test_pod_on_missing_node_is_skipped_and_retried() -> None:
    async with harness() as h:
        c = await started(h, "n1")
        await h.client.create(SERVICES, service(), "ns")
        await run(h, "a", "10.42.0.5")
        await run(h, "b", "10.42.0.6", node="ghost")
        await h.settle()
        with pytest.raises(RuntimeError, match="Node not found"):
            await c.reconcile("ns/web")
        await h.settle()
        assert [e["addresses"][0] for e in slices(h)[0]["endpoints"]] == ["10.42.0.5"]


async def test_dual_stack_service_gets_a_slice_per_family() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(SERVICES, service(families=["IPv4", "IPv6"]), "ns")
        p = await run(h, "a", "10.42.0.5")
        p["status"]["podIPs"] = [{"ip": "10.42.0.5"}, {"ip": "fd00::5"}]
        await h.client.update(PODS, p, subresource="status")
        await sync(h, c)
        got = sorted((s["addressType"], s["endpoints"][0]["addresses"]) for s in slices(h))
        assert got == [("IPv4", ["10.42.0.5"]), ("IPv6", ["fd00::5"])]


async def test_own_writes_do_not_resync_and_stale_cache_is_detected() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(SERVICES, service(), "ns")
        await run(h, "a", "10.42.0.5")
        await h.settle()
        h.client.hold()
        await c.reconcile("ns/web")                 # creates a slice the cache has not seen
        with pytest.raises(StaleSlices):
            await c.reconcile("ns/web")
        h.client.release()
        await h.settle()
        assert "ns/web" not in c.queue._waiting, "the echo of our own create is not a reason to sync"
        await c.reconcile("ns/web")
        assert len(slices(h)) == 1


async def test_foreign_edit_of_a_slice_is_repaired() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(SERVICES, service(), "ns")
        await run(h, "a", "10.42.0.5")
        await sync(h, c)
        (sl,) = slices(h)
        sl["endpoints"] = []
        await h.client.update(ENDPOINTSLICES, sl)
        await h.settle()
        assert "ns/web" in c.queue._waiting, "a change we did not make queues the service (after a delay)"
        await sync(h, c)
        assert len(slices(h)[0]["endpoints"]) == 1


# ------------------------------------------------------------------ pure helpers
@pytest.mark.parametrize(("spec", "want"), [
    ({"ipFamilies": ["IPv6", "IPv4"], "clusterIP": "fd00::1"}, ["IPv4", "IPv6"]),
    ({"clusterIP": "10.43.0.1"}, ["IPv4"]),
    ({"clusterIP": "fd00::1"}, ["IPv6"]),
    ({"clusterIP": "None"}, ["IPv4", "IPv6"]),
])
def test_address_types(spec: Obj, want: list[str]) -> None:
    assert es.address_types({"spec": spec}) == want


def test_slice_to_fill_prefers_closest_to_full() -> None:
    a = {"endpoints": [{}] * 90}
    b = {"endpoints": [{}] * 95}
    c = {"endpoints": [{}] * 99}
    assert es._slice_to_fill([a, b, c], 5, 100) is b
    assert es._slice_to_fill([c], 5, 100) is None


def test_plan_moves_nothing_already_in_place() -> None:
    svc = service()
    svc["metadata"]["uid"] = "u1"
    pod = {"metadata": {"name": "a", "namespace": "ns", "uid": "p1"},
           "spec": {"nodeName": "n1", "containers": [{"ports": [{"name": "http", "containerPort": 80}]}]},
           "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.1"}],
                      "conditions": [{"type": "Ready", "status": "True"}]}}
    plan, missing = es.plan_address_type(svc, [pod], [], {"n1": {"metadata": {"name": "n1"}}}, "IPv4")
    assert not missing and len(plan.create) == 1 and not plan.update and not plan.delete
    existing = {**plan.create[0], "metadata": {**plan.create[0]["metadata"], "name": "web-x", "uid": "s1"}}
    plan2, _ = es.plan_address_type(svc, [pod], [existing], {"n1": {"metadata": {"name": "n1"}}}, "IPv4")
    assert (plan2.create, plan2.update, plan2.delete) == ([], [], [])
