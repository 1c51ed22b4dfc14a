"""The Endpoints controller against the fake API: ready and not-ready addresses, named ports, headless services,
hostnames, trigger times, selector-less services left alone, orphans removed, stale caches waited out."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from tests.unit.controllers.fakeclient import Harness, harness

from pybernetes.client.resources import ENDPOINTS, PODS, SERVICES
from pybernetes.controllers import endpoints as ep
from pybernetes.controllers.endpoints import EndpointsController, StaleCache

Obj = dict[str, Any]


def service(name: str = "web", *, selector: Any = None, ports: list | None = None, cluster_ip: str = "10.43.0.9",
            labels: dict | None = None, publish: bool = False, svc_type: str = "ClusterIP") -> Obj:
    """A Service; ``selector=False`` makes it selector-less."""
    spec: Obj = {"type": svc_type, "clusterIP": cluster_ip, "clusterIPs": [cluster_ip], "ipFamilies": ["IPv4"],
                 "ports": ports if ports is not None else [{"name": "http", "port": 80, "protocol": "TCP",
                                                            "targetPort": "http"}]}
    if cluster_ip == "None":
        spec["clusterIPs"] = ["None"]
    if selector is not False:
        spec["selector"] = selector if selector is not None else {"app": "web"}
    if publish:
        spec["publishNotReadyAddresses"] = True
    return {"metadata": {"name": name, "namespace": "ns", "labels": labels or {}}, "spec": spec}


def pod_body(name: str, *, labels: dict | None = None, port: int = 8080, port_name: str = "http",
             hostname: str = "", subdomain: str = "") -> Obj:
    spec: Obj = {"containers": [{"name": "c", "image": "nginx",
                                 "ports": [{"name": port_name, "containerPort": port, "protocol": "TCP"}]}]}
    if hostname:
        spec["hostname"] = hostname
    if subdomain:
        spec["subdomain"] = subdomain
    return {"metadata": {"name": name, "namespace": "ns", "labels": labels if labels is not None else {"app": "web"}},
            "spec": spec}


async def run(h: Harness, name: str, ip: str, *, ready: bool = True, node: str = "n1", phase: str = "Running",
              **kw: Any) -> Obj:
    """Create the pod and act as scheduler and kubelet for it."""
    await h.client.create(PODS, pod_body(name, **kw), "ns")
    p = await h.client.get(PODS, name, "ns")
    p["spec"]["nodeName"] = node
    p = await h.client.update(PODS, p)
    p["status"] = {"phase": phase, "podIP": ip, "podIPs": [{"ip": ip}], "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": h.client._now()}]}
    return await h.client.update(PODS, p, subresource="status")


async def started(h: Harness) -> EndpointsController:
    c = EndpointsController(h.ctx)
    await h.start()
    return c


async def sync(h: Harness, c: EndpointsController, key: str = "ns/web") -> None:
    await h.settle()
    await c.reconcile(key)
    await h.settle()


def endpoints(h: Harness, name: str = "web") -> Obj | None:
    return h.client.peek(ENDPOINTS, name, "ns")


async def test_ready_and_not_ready_addresses_with_named_ports() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(SERVICES, service(labels={"tier": "front"}), "ns")
        a = await run(h, "a", "10.42.0.5")
        b = await run(h, "b", "10.42.1.6", ready=False, node="n2")
        await run(h, "other", "10.42.0.7", labels={"app": "db"})
        await sync(h, c)
        got = endpoints(h)
        assert got is not None
        assert got["metadata"]["labels"] == {"tier": "front"}
        assert got["subsets"] == [{
            "addresses": [{"ip": "10.42.0.5", "nodeName": "n1", "targetRef": {
                "kind": "Pod", "namespace": "ns", "name": "a", "uid": a["metadata"]["uid"]}}],
            "notReadyAddresses": [{"ip": "10.42.1.6", "nodeName": "n2", "targetRef": {
                "kind": "Pod", "namespace": "ns", "name": "b", "uid": b["metadata"]["uid"]}}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]


async def test_named_port_resolved_per_pod_splits_subsets() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(SERVICES, service(), "ns")
        await run(h, "a", "10.42.0.5", port=8080)
        await run(h, "b", "10.42.0.6", port=9090)
        await run(h, "c", "10.42.0.8", port_name="metrics")      # no port named http: not listed
        await sync(h, c)
        subsets = endpoints(h)["subsets"]                          # type: ignore[index]
        assert sorted((s["ports"][0]["port"], [a["ip"] for a in s["addresses"]]) for s in subsets) == [
            (8080, ["10.42.0.5"]), (9090, ["10.42.0.6"])]


async def test_follows_readiness_and_deletion() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(SERVICES, service(), "ns")
        p = await run(h, "a", "10.42.0.5", ready=False)
        await sync(h, c)
        assert "addresses" not in endpoints(h)["subsets"][0]          # type: ignore[index]
        p["status"]["conditions"][0]["status"] = "True"
        await h.client.update(PODS, p, subresource="status")
        await h.settle()
        assert "ns/web" in c.queue._dirty, "a readiness change enqueues the service"
        await sync(h, c)
        assert [a["ip"] for a in endpoints(h)["subsets"][0]["addresses"]] == ["10.42.0.5"]   # type: ignore[index]
        await h.client.delete(PODS, "a", "ns")                     # graceful: terminating pods leave at once
        await sync(h, c)
        assert "subsets" not in endpoints(h)                        # type: ignore[operator]


async def test_publish_not_ready_addresses_lists_everything_ready() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(SERVICES, service(publish=True), "ns")
        await run(h, "a", "10.42.0.5", ready=False)
        await sync(h, c)
        (subset,) = endpoints(h)["subsets"]                        # type: ignore[index]
        assert [a["ip"] for a in subset["addresses"]] == ["10.42.0.5"] and "notReadyAddresses" not in subset


async def test_headless_service_without_ports_and_hostnames() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(SERVICES, service("web", cluster_ip="None", ports=[]), "ns")
        await run(h, "web-0", "10.42.0.5", hostname="web-0", subdomain="web")
        await run(h, "x", "10.42.0.6", hostname="x", subdomain="elsewhere")
        await sync(h, c)
        got = endpoints(h)
        assert got["metadata"]["labels"] == {ep.HEADLESS_LABEL: ""}          # type: ignore[index]
        (subset,) = got["subsets"]                                             # type: ignore[index]
        assert "ports" not in subset
        assert [(a["ip"], a.get("hostname")) for a in subset["addresses"]] == [("10.42.0.5", "web-0"),
                                                                              ("10.42.0.6", None)]


async def test_selectorless_and_external_name_services_are_left_alone() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(SERVICES, service("manual", selector=False), "ns")
        await h.client.create(ENDPOINTS, {"metadata": {"name": "manual", "namespace": "ns"},
                                          "subsets": [{"addresses": [{"ip": "192.0.2.1"}],
                                                       "ports": [{"port": 80}]}]}, "ns")
        await h.client.create(SERVICES, service("ext", svc_type="ExternalName", selector={"app": "web"}), "ns")
        await run(h, "a", "10.42.0.5")
        h.client.clear_actions()
        await sync(h, c, "ns/manual")
        await sync(h, c, "ns/ext")
        assert [a for a in h.client.actions if a.resource == "endpoints" and a.verb != "list"] == []
        assert endpoints(h, "manual")["subsets"][0]["addresses"] == [{"ip": "192.0.2.1"}]   # type: ignore[index]


async def test_orphaned_endpoints_are_deleted_but_not_leader_records() -> None:
    async with harness() as h:
        await h.client.create(ENDPOINTS, {"metadata": {"name": "gone", "namespace": "ns"}}, "ns")
        await h.client.create(ENDPOINTS, {"metadata": {"name": "lock", "namespace": "ns", "annotations": {
            ep.LEADER_ANNOTATION: "{}"}}}, "ns")
        c = await started(h)
        assert {"ns/gone", "ns/lock"} <= set(c.queue._dirty), "leftovers are found at start"
        await sync(h, c, "ns/gone")
        await sync(h, c, "ns/lock")
        assert endpoints(h, "gone") is None
        assert endpoints(h, "lock") is not None


async def test_no_write_when_nothing_changed_and_labels_follow_the_service() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(SERVICES, service(), "ns")
        await run(h, "a", "10.42.0.5")
        await sync(h, c)
        h.client.clear_actions()
        await sync(h, c)
        assert h.client.count("update", "endpoints") == 0
        svc = await h.client.get(SERVICES, "web", "ns")
        svc["metadata"]["labels"] = {"new": "label"}
        await h.client.update(SERVICES, svc)
        await sync(h, c)
        assert endpoints(h)["metadata"]["labels"] == {"new": "label"}          # type: ignore[index]


async def test_trigger_time_annotation() -> None:
    async with harness() as h:
        c = await started(h)
        svc = await h.client.create(SERVICES, service(), "ns")
        await sync(h, c)
        ann = endpoints(h)["metadata"]["annotations"]                          # type: ignore[index]
        assert ann[ep.LAST_CHANGE_TRIGGER_TIME] == svc["metadata"]["creationTimestamp"]
        h.clock.advance(30)
        p = await run(h, "a", "10.42.0.5")
        await sync(h, c)
        ann = endpoints(h)["metadata"]["annotations"]                          # type: ignore[index]
        assert ann[ep.LAST_CHANGE_TRIGGER_TIME] == p["status"]["conditions"][0]["lastTransitionTime"]


async def test_stale_cache_is_waited_out() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(SERVICES, service(), "ns")
        await sync(h, c)
        await run(h, "a", "10.42.0.5")
        await h.settle()
        h.client.hold()
        await c.reconcile("ns/web")           # updates the Endpoints; the cache still has the old version
        await run(h, "b", "10.42.0.6")
        with pytest.raises(StaleCache):
            await c.reconcile("ns/web")
        h.client.release()
        await sync(h, c)
        assert sorted(a["ip"] for a in endpoints(h)["subsets"][0]["addresses"]) == [   # type: ignore[index]
            "10.42.0.5", "10.42.0.6"]


async def test_service_deleted_removes_endpoints() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(SERVICES, service(), "ns")
        await sync(h, c)
        await h.client.delete(SERVICES, "web", "ns")
        await sync(h, c)
        assert endpoints(h) is None


# ------------------------------------------------------------------ pure helpers
@pytest.mark.parametrize(("target", "ports", "proto", "want"), [
    (8080, [], "TCP", 8080),
    ("http", [{"name": "http", "containerPort": 80, "protocol": "TCP"}], "TCP", 80),
    ("http", [{"name": "http", "containerPort": 80}], "TCP", 80),                       # protocol defaults to TCP
    ("http", [{"name": "http", "containerPort": 80, "protocol": "UDP"}], "TCP", None),
    ("dns", [{"name": "dns", "containerPort": 53, "protocol": "UDP"}], "UDP", 53),
    ("nope", [{"name": "http", "containerPort": 80}], "TCP", None),
])
def test_find_port(target: Any, ports: list, proto: str, want: int | None) -> None:
    pod = {"spec": {"containers": [{"name": "c", "ports": ports}]}}
    assert ep.find_port(pod, {"port": 1, "targetPort": target, "protocol": proto}) == want


def test_find_port_in_sidecar_init_containers_only() -> None:
    port = [{"name": "p", "containerPort": 7}]
    pod = {"spec": {"containers": [], "initContainers": [{"name": "i", "ports": port},
                                                          {"name": "s", "restartPolicy": "Always", "ports": [
                                                              {"name": "q", "containerPort": 9}]}]}}
    assert ep.find_port(pod, {"targetPort": "p"}) is None
    assert ep.find_port(pod, {"targetPort": "q"}) == 9


@pytest.mark.parametrize(("old", "new", "want"), [
    ({"app": "web"}, {"app": "web"}, set()),                    # nothing that matters changed
    ({"app": "web"}, {"app": "db"}, {"ns/web", "ns/db"}),       # moved between services (symmetric difference)
    ({"app": "web", "x": "1"}, {"app": "web"}, set()),          # same services
])
def test_services_to_update_on_label_change(old: dict, new: dict, want: set) -> None:
    svcs = [service("web", selector={"app": "web"}), service("db", selector={"app": "db"})]
    for s in svcs:
        s["metadata"]["namespace"] = "ns"
    p_old = {"metadata": {"namespace": "ns", "labels": old, "resourceVersion": "1"}}
    p_new = {"metadata": {"namespace": "ns", "labels": new, "resourceVersion": "2"}}
    assert ep.services_to_update(svcs, p_old, p_new) == want


@pytest.mark.parametrize(("svc", "want"), [
    (service(selector={"app": "web"}), ["a"]),
    (service(selector={}), ["a", "b"]),                          # an empty selector selects every pod
    (service(selector=False), None),                             # no selector: endpoints written by hand
    (service(selector={"app": "web"}, svc_type="ExternalName"), None),
])
def test_selected_pods(svc: Obj, want: list[str] | None) -> None:
    pods = [pod_body("a", labels={"app": "web"}), pod_body("b", labels={"app": "db"})]
    got = ep.selected_pods(svc, pods)
    assert (None if got is None else [p["metadata"]["name"] for p in got]) == want


def test_truncate_keeps_ready_first() -> None:
    subsets = [{"addresses": [{"ip": f"10.0.0.{i}"} for i in range(6)],
                "notReadyAddresses": [{"ip": f"10.0.1.{i}"} for i in range(6)]}]
    assert ep.truncate(subsets, max_capacity=8)
    assert len(subsets[0]["addresses"]) == 6 and len(subsets[0]["notReadyAddresses"]) == 2
    subsets = [{"addresses": [{"ip": f"10.0.0.{i}"} for i in range(6)], "notReadyAddresses": [{"ip": "x"}]}]
    assert ep.truncate(subsets, max_capacity=4)
    assert len(subsets[0]["addresses"]) == 4 and "notReadyAddresses" not in subsets[0]
    assert not ep.truncate(subsets, max_capacity=4)


def test_over_capacity_annotation() -> None:
    svc = service()
    svc["metadata"]["namespace"] = "ns"
    subsets = [{"addresses": [{"ip": f"10.0.{i // 250}.{i % 250}"} for i in range(1001)]}]
    out = ep.build_endpoints(None, svc, subsets, None)
    assert out["metadata"]["annotations"] == {ep.OVER_CAPACITY: "truncated"}
    assert len(out["subsets"][0]["addresses"]) == 1000
    assert len(subsets[0]["addresses"]) == 1001, "the input is not modified"


@pytest.mark.parametrize(("t", "want"), [
    (datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC), "2026-01-02T03:04:05Z"),
    (datetime.datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=datetime.UTC), "2026-01-02T03:04:05.12Z"),
])
def test_rfc3339_nano(t: datetime.datetime, want: str) -> None:
    assert ep.format_rfc3339_nano(t) == want


def test_trigger_tracker_reports_earliest_new_change() -> None:
    tr = ep.TriggerTimeTracker()
    svc = {"metadata": {"name": "s", "creationTimestamp": "2026-01-01T00:00:00Z"}}

    def pod(name: str, t: str) -> Obj:
        return {"metadata": {"name": name}, "status": {"conditions": [{"type": "Ready", "lastTransitionTime": t}]}}
    first = tr.compute("ns/s", svc, [pod("a", "2026-01-01T00:00:10Z")])
    assert ep.format_rfc3339_nano(first) == "2026-01-01T00:00:00Z"            # type: ignore[arg-type]
    assert tr.compute("ns/s", svc, [pod("a", "2026-01-01T00:00:10Z")]) is None
    got = tr.compute("ns/s", svc, [pod("a", "2026-01-01T00:00:30Z"), pod("b", "2026-01-01T00:00:20Z")])
    assert ep.format_rfc3339_nano(got) == "2026-01-01T00:00:20Z"              # type: ignore[arg-type]
