"""Pod GC: terminated pods beyond the threshold (evicted first, then oldest), terminating pods on out-of-service
NotReady nodes, pods of nodes that are gone after a 40 s quarantine, and unscheduled terminating pods — each
marked Failed (orphans with DisruptionTarget) and deleted with grace 0 and a uid precondition."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tests.unit.controllers.fakeclient import Harness, harness

from pybernetes.client.resources import NODES, PODS
from pybernetes.controllers import podgc
from pybernetes.controllers.podgc import PodGCController
from pybernetes.controllers.registry import all_controllers

Obj = dict[str, Any]


def pod(name: str, *, node: str = "", finalizers: list[str] | None = None) -> Obj:
    meta: Obj = {"name": name, "namespace": "ns"}
    if finalizers:
        meta["finalizers"] = finalizers
    spec: Obj = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {"metadata": meta, "spec": spec}


def node(name: str, *, ready: bool = True, out_of_service: bool = False) -> Obj:
    spec: Obj = {}
    if out_of_service:
        spec["taints"] = [{"key": podgc.OUT_OF_SERVICE, "value": "nodeshutdown", "effect": "NoExecute"}]
    return {"metadata": {"name": name}, "spec": spec,
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


async def make_pod(h: Harness, name: str, *, phase: str = "Running", reason: str = "", node_name: str = "",
                   finalizers: list[str] | None = None) -> Obj:
    created = await h.client.create(PODS, pod(name, node=node_name, finalizers=finalizers), "ns")
    created["status"] = {"phase": phase, **({"reason": reason} if reason else {})}
    out = await h.client.update(PODS, created, subresource="status")
    await h.settle()
    return out


def deletes(h: Harness) -> list[tuple[str, Any]]:
    return [(a.name, a.body) for a in h.client.actions if a.verb == "delete" and a.resource == "pods"]


def status_patches(h: Harness) -> dict[str, Any]:
    return {a.name: a.body[1] for a in h.client.actions if a.verb == "patch" and a.subresource == "status"}


async def spin() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def test_registered_with_the_controller_manager() -> None:
    assert PodGCController in all_controllers()


@pytest.mark.parametrize(("phase", "terminated"), [
    ("Pending", False), ("Running", False), ("Unknown", False), ("Succeeded", True), ("Failed", True),
    (None, True),                                   # upstream: any phase but the three live ones
])
def test_is_terminated(phase: str | None, terminated: bool) -> None:
    assert podgc.is_terminated({"status": {"phase": phase} if phase else {}}) is terminated


def test_collection_order() -> None:
    pods = [{"metadata": {"name": n, "creationTimestamp": ts}, "status": st} for n, ts, st in [
        ("new", "2026-01-03T00:00:00Z", {"phase": "Succeeded"}),
        ("old-b", "2026-01-01T00:00:00Z", {"phase": "Failed"}),
        ("old-a", "2026-01-01T00:00:00Z", {"phase": "Succeeded"}),
        ("evicted-new", "2026-01-09T00:00:00Z", {"phase": "Failed", "reason": "Evicted"}),
    ]]
    assert [p["metadata"]["name"] for p in sorted(pods, key=podgc.collection_order)] == [
        "evicted-new", "old-a", "old-b", "new"]
    assert [p["metadata"]["name"] for p in podgc.terminated_to_collect(pods, 2)] == ["evicted-new", "old-a"]
    assert podgc.terminated_to_collect(pods, 4) == [] and podgc.terminated_to_collect(pods, 0) == []


async def test_terminated_pods_beyond_the_threshold() -> None:
    async with harness(options={"terminated_pod_gc_threshold": 2}) as h:
        c = PodGCController(h.ctx)
        await h.start()
        await h.client.create(NODES, node("n1"))
        for name, phase, reason in [("done-1", "Succeeded", ""), ("failed-2", "Failed", ""),
                                    ("running", "Running", ""), ("done-3", "Succeeded", ""),
                                    ("evicted-4", "Failed", "Evicted")]:
            await make_pod(h, name, phase=phase, reason=reason, node_name="n1")
            h.clock.advance(60)
        await h.settle()
        h.client.clear_actions()
        assert await c.gc() == 2
        assert sorted(p["metadata"]["name"] for p in h.client.objects(PODS)) == ["done-3", "failed-2", "running"]
        assert [name for name, _ in deletes(h)] == ["evicted-4", "done-1"]
        assert all(body["gracePeriodSeconds"] == 0 and body["preconditions"]["uid"] for _, body in deletes(h))
        assert status_patches(h) == {}                  # finished pods are not re-marked
        await h.settle()
        assert await c.gc() == 0                        # at the threshold now


async def test_threshold_zero_keeps_terminated_pods() -> None:
    async with harness(options={"terminated_pod_gc_threshold": 0}) as h:
        c = PodGCController(h.ctx)
        await h.start()
        await h.client.create(NODES, node("n1"))
        for i in range(3):
            await make_pod(h, f"done-{i}", phase="Succeeded", node_name="n1")
        assert await c.gc() == 0 and len(h.client.objects(PODS)) == 3


async def test_default_threshold_is_upstreams() -> None:
    async with harness() as h:
        assert PodGCController(h.ctx).threshold == 12_500


@pytest.mark.parametrize(("ready", "tainted", "collected"), [
    (False, True, True), (True, True, False), (False, False, False), (True, False, False),
])
async def test_terminating_pods_on_out_of_service_nodes(ready: bool, tainted: bool, collected: bool) -> None:
    async with harness() as h:
        c = PodGCController(h.ctx)
        await h.start()
        await h.client.create(NODES, node("n1", ready=ready, out_of_service=tainted))
        await make_pod(h, "stuck", node_name="n1")
        await make_pod(h, "alive", node_name="n1")
        await h.client.delete(PODS, "stuck", "ns")           # graceful: stays terminating (no kubelet)
        await h.settle()
        stuck = h.client.peek(PODS, "stuck", "ns")
        assert stuck is not None and stuck["metadata"].get("deletionTimestamp")
        h.client.clear_actions()
        assert await c.gc() == (1 if collected else 0)
        assert (h.client.peek(PODS, "stuck", "ns") is None) is collected
        assert h.client.peek(PODS, "alive", "ns") is not None    # not terminating: never touched
        if collected:
            assert status_patches(h)["stuck"]["status"] == {"phase": "Failed"}


async def test_orphans_are_collected_after_the_quarantine() -> None:
    async with harness() as h:
        c = PodGCController(h.ctx)
        await h.start()
        await h.client.create(NODES, node("n1"))
        await make_pod(h, "orphan", node_name="gone")
        await make_pod(h, "finished-orphan", node_name="gone", phase="Succeeded")
        await make_pod(h, "home", node_name="n1")
        await make_pod(h, "pending")                             # not scheduled: not an orphan
        assert await c.gc() == 0                                 # quarantined first
        h.clock.advance(39)
        await spin()
        assert await c.gc() == 0
        h.clock.advance(1)
        await spin()
        h.client.clear_actions()
        assert await c.gc() == 2
        assert sorted(p["metadata"]["name"] for p in h.client.objects(PODS)) == ["home", "pending"]
        assert [a.name for a in h.client.actions if a.verb == "get" and a.resource == "nodes"] == ["gone"]
        patch = status_patches(h)
        assert list(patch) == ["orphan"]                        # Succeeded pods are not marked Failed
        (cond,) = patch["orphan"]["status"]["conditions"]
        assert patch["orphan"]["status"]["phase"] == "Failed"
        assert {k: cond[k] for k in ("type", "status", "reason", "message")} == {
            "type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
            "message": "PodGC: node no longer exists"}
        assert cond["lastTransitionTime"] == "2026-01-01T00:00:40Z"


async def test_a_node_missing_only_from_the_cache_is_not_gone() -> None:
    async with harness() as h:
        c = PodGCController(h.ctx)
        await h.start()
        await make_pod(h, "p", node_name="new-node")
        h.client.hold()                                         # the node informer has not seen it yet
        await h.client.create(NODES, node("new-node"))
        assert await c.gc() == 0
        h.clock.advance(40)
        await spin()
        assert await c.gc() == 0                                # the GET finds it
        assert h.client.peek(PODS, "p", "ns") is not None
        h.client.release()


async def test_unscheduled_terminating_pods() -> None:
    async with harness() as h:
        c = PodGCController(h.ctx)
        await h.start()
        await make_pod(h, "unscheduled", phase="Pending", finalizers=["example.com/hold"])
        await h.client.delete(PODS, "unscheduled", "ns")        # stays: a finalizer
        await h.settle()
        h.client.clear_actions()
        assert await c.gc() == 1
        assert status_patches(h)["unscheduled"]["status"] == {"phase": "Failed"}
        assert deletes(h)[0][1]["gracePeriodSeconds"] == 0
        left = h.client.peek(PODS, "unscheduled", "ns")
        assert left is not None and left["status"]["phase"] == "Failed"     # the finalizer still holds it


async def test_a_pod_changed_since_the_cache_is_left_for_the_next_pass() -> None:
    async with harness(options={"terminated_pod_gc_threshold": 1}) as h:
        c = PodGCController(h.ctx)
        await h.start()
        await make_pod(h, "orphan", node_name="gone")
        h.clock.advance(40)
        await spin()
        assert await c.gc() == 0
        h.client.hold()                                         # the cache goes stale ...
        fresh = h.client.peek(PODS, "orphan", "ns")
        assert fresh is not None
        fresh["metadata"]["labels"] = {"touched": "yes"}
        await h.client.update(PODS, fresh)                      # ... and the pod changes
        h.clock.advance(40)
        await spin()
        assert await c.gc() == 0                                # the pinned status patch conflicts
        assert h.client.peek(PODS, "orphan", "ns") is not None
        h.client.release()
        await h.settle()
        h.clock.advance(40)
        await spin()
        assert await c.gc() == 1


async def test_background_runs_every_period() -> None:
    async with harness(options={"terminated_pod_gc_threshold": 1}) as h:
        c = PodGCController(h.ctx)
        await h.start()
        await h.client.create(NODES, node("n1"))
        task = asyncio.ensure_future(c.run())
        await spin()
        for i in range(3):
            await make_pod(h, f"done-{i}", phase="Succeeded", node_name="n1")
        assert len(h.client.objects(PODS)) == 3
        h.clock.advance(podgc.GC_CHECK_PERIOD)
        await spin()
        await h.settle()
        assert len(h.client.objects(PODS)) == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
