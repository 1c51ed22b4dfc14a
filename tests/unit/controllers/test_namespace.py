"""The namespace controller against the fake API: content deletion through discovery, conditions with upstream's
messages, waiting for finalizers and graceful pods, finalize."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from tests.unit.controllers.fakeclient import Harness, harness, status_error

from pybernetes.client.resources import CONFIGMAPS, DEPLOYMENTS, NAMESPACES, PODS, ResourceRef
from pybernetes.controllers.namespace import Conditions, NamespaceController, Remaining

Obj = dict[str, Any]
WIDGETS = ResourceRef("example.com", "v1", "widgets", True, "Widget")
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


async def setup(h: Harness) -> NamespaceController:
    c = NamespaceController(h.ctx)
    await h.start()
    await h.client.create(NAMESPACES, {"metadata": {"name": "ns"}})
    return c


def conditions(h: Harness) -> dict[str, tuple[str, str, str]]:
    writes = [a.body for a in h.client.actions if a.resource == "namespaces" and a.subresource == "status"]
    last = writes[-1]["status"]["conditions"]
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in last}


POD = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}


async def test_deleting_a_namespace_deletes_its_content_then_finalizes_it() -> None:
    async with harness() as h:
        h.client.add_resource(WIDGETS, verbs=("create", "delete", "get", "list", "patch", "update", "watch"))
        c = await setup(h)
        await h.client.create(CONFIGMAPS, {"metadata": {"name": "cm"}}, "ns")
        await h.client.create(PODS, POD, "ns")
        await h.client.create(WIDGETS, {"metadata": {"name": "w"}}, "ns")
        await h.client.create(CONFIGMAPS, {"metadata": {"name": "elsewhere"}}, "other")
        await h.client.delete(NAMESPACES, "ns")
        await h.settle()
        ns = h.client.peek(NAMESPACES, "ns")
        assert ns is not None and ns["status"]["phase"] == "Terminating"
        assert await c.reconcile("ns") is None
        assert h.client.peek(NAMESPACES, "ns") is None
        for res in (CONFIGMAPS, PODS, WIDGETS):
            assert h.client.objects(res, "ns") == []
        assert [o["metadata"]["name"] for o in h.client.objects(CONFIGMAPS)] == ["elsewhere"]
        assert h.client.count("deletecollection", "configmaps") == 1
        assert h.client.count("delete", "widgets.example.com") == 1           # no deletecollection: one by one
        assert conditions(h) == {
            "NamespaceDeletionDiscoveryFailure": ("False", "ResourcesDiscovered",
                                                  "All resources successfully discovered"),
            "NamespaceDeletionGroupVersionParsingFailure": ("False", "ParsedGroupVersions",
                                                            "All legacy kube types successfully parsed"),
            "NamespaceDeletionContentFailure": ("False", "ContentDeleted",
                                                "All content successfully deleted, may be waiting on finalization"),
            "NamespaceContentRemaining": ("False", "ContentRemoved", "All content successfully removed"),
            "NamespaceFinalizersRemaining": ("False", "ContentHasNoFinalizers",
                                             "All content-preserving finalizers finished")}
        [fin] = [a for a in h.client.actions if a.subresource == "finalize"]
        assert fin.body["spec"]["finalizers"] == []


async def test_content_held_by_finalizers_requeues_and_reports() -> None:
    async with harness() as h:
        c = await setup(h)
        await h.client.create(CONFIGMAPS, {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}, "ns")
        await h.client.create(DEPLOYMENTS, {"metadata": {"name": "d", "finalizers": ["example.com/hold"]},
                                            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
                                                "metadata": {"labels": {"a": "b"}},
                                                "spec": {"containers": [{"name": "c", "image": "i"}]}}}}, "ns")
        await h.client.delete(NAMESPACES, "ns")
        await h.settle()
        assert await c.reconcile("ns") == 8.0                  # 15 s estimate: look again after half
        got = conditions(h)
        assert got["NamespaceContentRemaining"] == (
            "True", "SomeResourcesRemain",
            "Some resources are remaining: configmaps. has 1 resource instances, deployments.apps has 1 resource "
            "instances")
        assert got["NamespaceFinalizersRemaining"] == (
            "True", "SomeFinalizersRemain",
            "Some content in the namespace has finalizers remaining: example.com/hold in 2 resource instances")
        assert h.client.peek(NAMESPACES, "ns") is not None
        for res, name in ((CONFIGMAPS, "held"), (DEPLOYMENTS, "d")):
            obj = await h.client.get(res, name, "ns")
            obj["metadata"]["finalizers"] = []
            await h.client.update(res, obj)
        assert await c.reconcile("ns") is None
        assert h.client.peek(NAMESPACES, "ns") is None


async def test_pods_in_their_grace_period_are_waited_for() -> None:
    async with harness() as h:
        c = await setup(h)
        await h.client.create(PODS, {**POD, "spec": {**POD["spec"], "nodeName": "n1",
                                                     "terminationGracePeriodSeconds": 30}}, "ns")
        await h.client.delete(NAMESPACES, "ns")
        await h.settle()
        assert await c.reconcile("ns") == 16.0
        [pod] = h.client.objects(PODS, "ns")
        assert pod["metadata"].get("deletionTimestamp")
        await h.client.delete(PODS, "p", "ns", grace_period_seconds=0)       # the kubelet is done
        assert await c.reconcile("ns") is None
        assert h.client.peek(NAMESPACES, "ns") is None


async def test_discovery_failure_is_reported_and_holds_the_namespace() -> None:
    async with harness() as h:
        c = await setup(h)
        await h.client.create(CONFIGMAPS, {"metadata": {"name": "cm"}}, "ns")
        real = h.client.request

        async def failing(method: str, path: str, **kw: Any) -> Obj:
            if path == "/apis/batch/v1":
                raise status_error(503, "ServiceUnavailable", "the server is currently unable to handle the request")
            return await real(method, path, **kw)
        h.client.request = failing                          # type: ignore[method-assign]
        await h.client.delete(NAMESPACES, "ns")
        await h.settle()
        with pytest.raises(RuntimeError, match="unable to retrieve the complete list of server APIs"):
            await c.reconcile("ns")
        assert conditions(h)["NamespaceDeletionDiscoveryFailure"] == (
            "True", "DiscoveryFailed",
            "Discovery failed for some groups, 1 failing: unable to retrieve the complete list of server APIs: "
            "batch/v1: the server is currently unable to handle the request")
        # What could be discovered is gone, but the namespace stays until discovery works again.
        assert h.client.objects(CONFIGMAPS, "ns") == [] and h.client.peek(NAMESPACES, "ns") is not None
        h.client.request = real                             # type: ignore[method-assign]
        h.clock.advance(10)                                 # past the discovery cache
        assert await c.reconcile("ns") is None
        assert h.client.peek(NAMESPACES, "ns") is None


async def test_active_namespaces_are_left_alone() -> None:
    async with harness() as h:
        c = await setup(h)
        await h.client.create(CONFIGMAPS, {"metadata": {"name": "cm"}}, "ns")
        await h.settle()
        assert len(c.queue) == 0
        h.client.clear_actions()
        assert await c.reconcile("ns") is None
        assert [a.verb for a in h.client.actions] == ["get"]
        assert await c.reconcile("missing") is None


def test_content_failure_condition_lists_errors() -> None:
    cond = Conditions(delete_errors=["b failed", "a failed"])
    status: Obj = {}
    assert cond.apply(status, NOW)
    c = next(c for c in status["conditions"] if c["type"] == "NamespaceDeletionContentFailure")
    assert (c["status"], c["reason"], c["message"]) == (
        "True", "ContentDeletionFailed", "Failed to delete all resource types, 2 remaining: a failed, b failed")
    assert not Conditions(delete_errors=["b failed", "a failed"]).apply(status, NOW)     # unchanged: no write


@pytest.mark.parametrize(("remaining", "message"), [
    ({PODS: Remaining(0, 2)}, "Some resources are remaining: pods. has 2 resource instances"),
    ({}, None),
])
def test_content_totals(remaining: dict[ResourceRef, Remaining], message: str | None) -> None:
    cond = Conditions()
    cond.content_totals(remaining)
    assert cond.failures.get("NamespaceContentRemaining", (None, None))[1] == message
