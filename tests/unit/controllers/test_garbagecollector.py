"""The garbage collector against the fake API: discovery, Background/Foreground/Orphan deletion, dangling and
virtual owners, custom resources."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.unit.controllers.fakeclient import FakeClient, Harness, drain, harness, status_error

from pybernetes.client.resources import CONFIGMAPS, DEPLOYMENTS, PODS, REPLICASETS, ResourceRef
from pybernetes.client.rest import APIStatusError
from pybernetes.controllers.garbagecollector import GarbageCollector, discover

Obj = dict[str, Any]
WIDGETS = ResourceRef("example.com", "v1", "widgets", True, "Widget")


def ref(owner: Obj, *, block: bool = True, controller: bool = True) -> Obj:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": controller, "blockOwnerDeletion": block}


def cm(name: str, *owners: Obj) -> Obj:
    return {"metadata": {"name": name, **({"ownerReferences": list(owners)} if owners else {})}, "data": {}}


@contextlib.asynccontextmanager
async def collector() -> AsyncIterator[tuple[Harness, GarbageCollector]]:
    async with harness() as h:
        gc = GarbageCollector(h.ctx)
        try:
            yield h, gc
        finally:
            await gc.stop_monitors()


async def started(h: Harness, gc: GarbageCollector) -> None:
    await gc.start_monitors(timeout=5)
    await h.settle()


def names(fake: FakeClient, res: ResourceRef = CONFIGMAPS) -> list[str]:
    return [o["metadata"]["name"] for o in fake.objects(res, "ns")]


async def test_discovery_prefers_versions_and_records_failures() -> None:
    fake = FakeClient()
    d = await discover(fake)
    refs = {(r.ref.group, r.ref.version, r.ref.plural) for r in d.resources}
    assert ("apps", "v1", "deployments") in refs and ("", "v1", "pods") in refs
    assert ("autoscaling", "v2", "horizontalpodautoscalers") in refs
    assert ("autoscaling", "v1", "horizontalpodautoscalers") not in refs
    assert d.resolve("autoscaling/v1", "HorizontalPodAutoscaler").version == "v1"      # type: ignore[union-attr]
    assert d.resolve("apps/v1beta9", "Deployment").version == "v1"                     # type: ignore[union-attr]
    assert d.resolve("nope/v1", "Thing") is None
    real = fake.request

    async def failing(method: str, path: str, **kw: Any) -> Obj:
        if path == "/apis/apps/v1":
            raise status_error(503, "ServiceUnavailable", "the server is currently unable to handle the request")
        return await real(method, path, **kw)
    fake.request = failing                                # type: ignore[method-assign]
    d = await discover(fake)
    assert d.failed == {"apps/v1": "the server is currently unable to handle the request"}
    assert d.error_message() == ("unable to retrieve the complete list of server APIs: apps/v1: the server is "
                                 "currently unable to handle the request")


async def test_background_deletion_collects_dependents_with_preconditions() -> None:
    async with collector() as (h, gc):
        owner = await h.client.create(CONFIGMAPS, cm("owner"), "ns")
        await h.client.create(CONFIGMAPS, cm("child", ref(owner)), "ns")
        await h.client.create(CONFIGMAPS, cm("unrelated"), "ns")
        await started(h, gc)
        assert "events" not in {r.plural for r in gc.informers}
        await h.client.delete(CONFIGMAPS, "owner", "ns")
        h.client.clear_actions()
        await drain(h, gc)
        assert names(h.client) == ["unrelated"]
        [delete] = [a for a in h.client.actions if a.verb == "delete"]
        assert delete.name == "child" and delete.body["propagationPolicy"] == "Background"
        assert set(delete.body["preconditions"]) == {"uid", "resourceVersion"}


async def test_owner_missing_from_the_start_is_detected_through_a_virtual_node() -> None:
    async with collector() as (h, gc):
        ghost = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ghost", "uid": "no-such-uid"}}
        await h.client.create(CONFIGMAPS, cm("child", ref(ghost)), "ns")
        await started(h, gc)
        await drain(h, gc)
        assert names(h.client) == []
        assert "no-such-uid" not in gc.graph


async def test_owner_replaced_under_the_same_name_counts_as_gone() -> None:
    async with collector() as (h, gc):
        owner = await h.client.create(CONFIGMAPS, cm("owner"), "ns")
        await h.client.create(CONFIGMAPS, cm("child", ref(owner)), "ns")
        await h.client.delete(CONFIGMAPS, "owner", "ns")
        await h.client.create(CONFIGMAPS, cm("owner"), "ns")          # same name, new uid
        await started(h, gc)
        await drain(h, gc)
        assert names(h.client) == ["owner"]


async def test_dangling_reference_is_removed_while_a_solid_owner_remains() -> None:
    async with collector() as (h, gc):
        a = await h.client.create(CONFIGMAPS, cm("a"), "ns")
        b = await h.client.create(CONFIGMAPS, cm("b"), "ns")
        await h.client.create(CONFIGMAPS, cm("child", ref(a, controller=False), ref(b, controller=False)), "ns")
        await started(h, gc)
        await h.client.delete(CONFIGMAPS, "a", "ns")
        await drain(h, gc)
        child = h.client.peek(CONFIGMAPS, "child", "ns")
        assert child is not None
        assert [o["name"] for o in child["metadata"]["ownerReferences"]] == ["b"]


def deployment_chain() -> tuple[Obj, Obj]:
    d = {"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
        "metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    return d, d["spec"]["template"]


async def make_chain(h: Harness) -> None:
    d_body, template = deployment_chain()
    d = await h.client.create(DEPLOYMENTS, d_body, "ns")
    rs = await h.client.create(REPLICASETS, {"metadata": {"name": "web-1", "ownerReferences": [ref(d)]},
                                             "spec": {"selector": {"matchLabels": {"app": "web"}},
                                                      "template": template}}, "ns")
    for i in range(2):
        await h.client.create(PODS, {"metadata": {"name": f"web-1-{i}", "labels": {"app": "web"},
                                                  "ownerReferences": [ref(rs)]}, "spec": template["spec"]}, "ns")


async def test_foreground_deletion_removes_dependents_first_then_the_owner() -> None:
    async with collector() as (h, gc):
        await make_chain(h)
        await started(h, gc)
        await h.client.delete(DEPLOYMENTS, "web", "ns", propagation_policy="Foreground")
        await h.settle()
        d = h.client.peek(DEPLOYMENTS, "web", "ns")
        assert d is not None and d["metadata"]["finalizers"] == ["foregroundDeletion"]
        await drain(h, gc)
        assert h.client.objects(PODS, "ns") == [] and h.client.objects(REPLICASETS, "ns") == []
        assert h.client.peek(DEPLOYMENTS, "web", "ns") is None
        order = [(a.resource, a.verb) for a in h.client.actions if a.verb in ("delete", "patch")]
        assert order.index(("pods", "delete")) < order.index(("deployments.apps", "patch"))
        rs_delete = next(a for a in h.client.actions if a.verb == "delete" and a.resource == "replicasets.apps")
        assert rs_delete.body["propagationPolicy"] == "Foreground"


async def test_foreground_waits_for_gracefully_terminating_pods() -> None:
    async with collector() as (h, gc):
        await make_chain(h)
        for p in h.client.objects(PODS, "ns"):
            p["spec"]["nodeName"] = "n1"                 # on a node: deleted gracefully
            await h.client.update(PODS, p)
        await started(h, gc)
        await h.client.delete(DEPLOYMENTS, "web", "ns", propagation_policy="Foreground")
        await drain(h, gc)
        assert h.client.peek(DEPLOYMENTS, "web", "ns") is not None       # still waiting for the pods
        assert all(p["metadata"].get("deletionTimestamp") for p in h.client.objects(PODS, "ns"))
        for p in h.client.objects(PODS, "ns"):           # the kubelet finishes them
            await h.client.delete(PODS, p["metadata"]["name"], "ns", grace_period_seconds=0)
        await drain(h, gc)
        assert h.client.peek(DEPLOYMENTS, "web", "ns") is None
        assert h.client.objects(REPLICASETS, "ns") == []


async def test_orphan_deletion_keeps_dependents_without_the_owner_reference() -> None:
    async with collector() as (h, gc):
        await make_chain(h)
        await started(h, gc)
        await h.client.delete(DEPLOYMENTS, "web", "ns", propagation_policy="Orphan")
        await drain(h, gc)
        assert h.client.peek(DEPLOYMENTS, "web", "ns") is None
        [rs] = h.client.objects(REPLICASETS, "ns")
        assert not rs["metadata"].get("ownerReferences")
        pods = h.client.objects(PODS, "ns")
        assert len(pods) == 2 and all(p["metadata"]["ownerReferences"][0]["name"] == "web-1" for p in pods)


async def test_custom_resources_are_discovered_later_and_collected_with_merge_patches() -> None:
    async with collector() as (h, gc):
        await started(h, gc)
        h.client.add_resource(WIDGETS)
        a = await h.client.create(WIDGETS, {"metadata": {"name": "a"}}, "ns")
        b = await h.client.create(WIDGETS, {"metadata": {"name": "b"}}, "ns")
        await h.client.create(WIDGETS, {"metadata": {"name": "child", "ownerReferences": [
            ref(a, controller=False), ref(b, controller=False)]}}, "ns")
        await gc.resync()                                # the periodic re-discovery
        await h.settle()
        assert WIDGETS in gc.informers
        await h.client.delete(WIDGETS, "a", "ns")
        await drain(h, gc)
        child = h.client.peek(WIDGETS, "child", "ns")
        assert child is not None and [o["name"] for o in child["metadata"]["ownerReferences"]] == ["b"]
        assert any(a.verb == "patch" and a.body[0] == "merge" for a in h.client.actions)
        await h.client.delete(WIDGETS, "b", "ns")
        await drain(h, gc)
        assert h.client.objects(WIDGETS, "ns") == []


async def test_unknown_owner_kind_is_retried() -> None:
    async with collector() as (h, gc):
        owner = {"apiVersion": "nowhere.io/v1", "kind": "Thing", "metadata": {"name": "t", "uid": "t-uid"}}
        await h.client.create(CONFIGMAPS, cm("child", ref(owner)), "ns")
        await started(h, gc)
        await h.settle()
        with pytest.raises(LookupError, match="unable to get REST mapping"):
            await gc.reconcile("delete:t-uid")
        assert names(h.client) == ["child"]


async def test_delete_conflict_with_unchanged_owners_retries_without_resource_version() -> None:
    async with collector() as (h, gc):
        owner = await h.client.create(CONFIGMAPS, cm("owner"), "ns")
        await h.client.create(CONFIGMAPS, cm("child", ref(owner)), "ns")
        await started(h, gc)
        await h.client.delete(CONFIGMAPS, "owner", "ns")
        await h.settle()
        calls = {"n": 0}

        def first_conflicts(a: Any) -> None:
            """Someone else writes the child between the collector's read and its delete (owners unchanged)."""
            calls["n"] += 1
            if calls["n"] == 1:
                r = h.client.registry.get("", "v1", "configmaps")
                child = copy.deepcopy(h.client.store["core/configmaps"][("ns", "child")])
                child["data"] = {"x": "y"}
                h.client._put(r, child, "MODIFIED")              # type: ignore[arg-type]
                raise APIStatusError(409, {"reason": "Conflict", "message": "precondition"})
        h.client.fail("delete", "configmaps", first_conflicts)
        await drain(h, gc)
        assert names(h.client) == []
        deletes = [a for a in h.client.actions if a.verb == "delete"]
        assert set(deletes[-1].body["preconditions"]) == {"uid"}


async def test_cluster_scoped_object_with_a_namespaced_owner_is_not_retried() -> None:
    from pybernetes.client.resources import NAMESPACES
    async with collector() as (h, gc):
        owner = await h.client.create(CONFIGMAPS, cm("owner"), "ns")
        await h.client.create(NAMESPACES, {"metadata": {"name": "odd", "ownerReferences": [ref(owner)]}})
        await started(h, gc)
        odd = h.client.peek(NAMESPACES, "odd")
        assert await gc.reconcile(f"delete:{odd['metadata']['uid']}") is None       # type: ignore[index]
        assert h.client.peek(NAMESPACES, "odd") is not None


async def test_a_crd_change_asks_for_rediscovery() -> None:
    crds = ResourceRef("apiextensions.k8s.io", "v1", "customresourcedefinitions", False,
                       "CustomResourceDefinition")
    async with collector() as (h, gc):
        await started(h, gc)
        assert not gc._crds_changed
        await h.client.create(crds, {"metadata": {"name": "widgets.example.com"}, "spec": {
            "group": "example.com", "names": {"plural": "widgets", "kind": "Widget"}, "scope": "Namespaced",
            "versions": [{"name": "v1", "served": True, "storage": True}]}})
        await h.settle()
        assert gc._crds_changed


async def test_owner_that_exists_but_is_never_observed_is_rechecked_with_backoff() -> None:
    gadgets = ResourceRef("example.com", "v1", "gadgets", True, "Gadget")
    async with collector() as (h, gc):
        h.client.add_resource(gadgets, verbs=("create", "delete", "get", "list"))      # not watchable
        owner = await h.client.create(gadgets, {"metadata": {"name": "g"}}, "ns")
        await h.client.create(CONFIGMAPS, cm("child", ref(owner)), "ns")
        await started(h, gc)
        key = f"delete:{owner['metadata']['uid']}"
        assert [await gc.reconcile(key) for _ in range(3)] == [1.0, 2.0, 4.0]
        assert names(h.client) == ["child"]                  # the owner exists: nothing is collected
