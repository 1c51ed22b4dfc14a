"""The ReplicaSet/ReplicationController controller against the fake API: creation with owner references,
expectations, deletion ranking, status, adoption and release, failures, self-healing."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.controllers.fakeclient import FakeClient, Harness, harness, status_error

from pybernetes.client.resources import NAMESPACES, PODS, RCS, REPLICASETS
from pybernetes.controllers.replicaset import (
    ReplicaSetController,
    ReplicationControllerController,
    calculate_status,
)

Obj = dict[str, Any]
LABELS = {"app": "web"}


def rs_body(name: str = "web", replicas: int = 3, *, labels: dict[str, str] | None = None, min_ready: int = 0) -> Obj:
    labels = labels or LABELS
    return {"metadata": {"name": name, "namespace": "ns"},
            "spec": {"replicas": replicas, "minReadySeconds": min_ready, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "nginx:1.19.1"}]}}}}


async def run_pod(fake: FakeClient, pod: Obj, *, node: str = "n1", ready: bool = True, phase: str = "Running") -> Obj:
    """Act as scheduler + kubelet: bind the pod and report it running (and ready)."""
    pod = await fake.get(PODS, pod["metadata"]["name"], "ns")
    pod["spec"]["nodeName"] = node
    pod = await fake.update(PODS, pod)
    pod["status"] = {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": fake._now()}]}
    return await fake.update(PODS, pod, subresource="status")


def pods_of(fake: FakeClient) -> list[Obj]:
    return fake.objects(PODS, "ns")


async def started(h: Harness, cls: type[ReplicaSetController] = ReplicaSetController) -> ReplicaSetController:
    c = cls(h.ctx)
    await h.start()
    return c


async def sync(h: Harness, c: ReplicaSetController, key: str = "ns/web") -> float | None:
    await h.settle()
    out = await c.reconcile(key)
    await h.settle()
    return out


async def test_creates_pods_with_controller_refs_and_reports_status() -> None:
    async with harness() as h:
        c = await started(h)
        rs = await h.client.create(REPLICASETS, rs_body(), "ns")
        await sync(h, c)
        pods = pods_of(h.client)
        assert len(pods) == 3
        for p in pods:
            assert p["metadata"]["name"].startswith("web-")
            assert p["metadata"]["labels"] == LABELS
            assert p["metadata"]["ownerReferences"] == [{
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": rs["metadata"]["uid"],
                "controller": True, "blockOwnerDeletion": True}]
        assert h.recorder.messages("SuccessfulCreate") == [f"Created pod: {p['metadata']['name']}"
                                                           for p in sorted(pods, key=lambda p: p["metadata"]["uid"])]
        # The status written with the creations counted pods it had not seen yet: a second sync fixes it.
        await sync(h, c)
        st = h.client.peek(REPLICASETS, "web", "ns")["status"]       # type: ignore[index]
        assert st == {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 0, "availableReplicas": 0,
                      "observedGeneration": 1}
        for p in pods:
            await run_pod(h.client, p)
        await sync(h, c)
        st = h.client.peek(REPLICASETS, "web", "ns")["status"]       # type: ignore[index]
        assert (st["readyReplicas"], st["availableReplicas"]) == (3, 3)


async def test_expectations_stop_a_stale_cache_from_over_creating() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(REPLICASETS, rs_body(replicas=2), "ns")
        await h.settle()
        h.client.hold()                          # the pod informer will not see the creations for a while
        await c.reconcile("ns/web")
        await c.reconcile("ns/web")
        await c.reconcile("ns/web")
        assert h.client.count("create", "pods") == 2
        h.client.release()
        await sync(h, c)
        assert h.client.count("create", "pods") == 2 and len(pods_of(h.client)) == 2


async def test_expectations_expire_after_five_minutes() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(REPLICASETS, rs_body(replicas=1), "ns")
        await h.settle()
        h.client.hold()
        await c.reconcile("ns/web")
        await c.reconcile("ns/web")
        assert h.client.count("create", "pods") == 1
        h.clock.advance(301)                     # the watch event was "lost": expectations time out
        await c.reconcile("ns/web")
        assert h.client.count("create", "pods") == 2


async def test_self_healing_replaces_deleted_and_failed_pods() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(REPLICASETS, rs_body(), "ns")
        await sync(h, c)
        first = pods_of(h.client)
        await h.client.delete(PODS, first[0]["metadata"]["name"], "ns")
        await run_pod(h.client, first[1], phase="Failed", ready=False)
        await sync(h, c)
        active = [p for p in pods_of(h.client) if p["status"].get("phase") != "Failed"]
        assert len(active) == 3
        assert h.client.count("create", "pods") == 5


async def test_scale_down_deletes_the_least_useful_pods_first() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(REPLICASETS, rs_body(replicas=4), "ns")
        await sync(h, c)
        pods = pods_of(h.client)
        await run_pod(h.client, pods[0])                      # running and ready
        await run_pod(h.client, pods[1], ready=False)         # running, not ready
        await run_pod(h.client, pods[2], phase="Pending", ready=False)
        # pods[3] stays unscheduled
        rs = await h.client.get(REPLICASETS, "web", "ns")
        rs["spec"]["replicas"] = 1
        await h.client.update(REPLICASETS, rs)
        await sync(h, c)
        left = [p for p in pods_of(h.client) if not p["metadata"].get("deletionTimestamp")]
        assert [p["metadata"]["name"] for p in left] == [pods[0]["metadata"]["name"]]
        assert h.client.peek(PODS, pods[3]["metadata"]["name"], "ns") is None    # unscheduled: gone at once
        assert len(h.recorder.messages("SuccessfulDelete")) == 3


async def test_graceful_deletion_counts_as_observed() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(REPLICASETS, rs_body(replicas=2), "ns")
        await sync(h, c)
        for p in pods_of(h.client):
            await run_pod(h.client, p)
        rs = await h.client.get(REPLICASETS, "web", "ns")
        rs["spec"]["replicas"] = 1
        await h.client.update(REPLICASETS, rs)
        await sync(h, c)
        # The pod on a node stays with a deletionTimestamp until "the kubelet" finishes it ...
        terminating = [p for p in pods_of(h.client) if p["metadata"].get("deletionTimestamp")]
        assert len(terminating) == 1
        # ... but the controller already saw its deletion: expectations are satisfied and it counts 1 replica.
        assert c.expectations.satisfied("ns/web")
        await sync(h, c)
        assert h.client.peek(REPLICASETS, "web", "ns")["status"]["replicas"] == 1   # type: ignore[index]
        assert h.client.count("delete", "pods") == 1


async def test_adopts_matching_orphans_and_releases_mismatching_pods() -> None:
    async with harness() as h:
        c = await started(h)
        orphan = await h.client.create(PODS, {"metadata": {"name": "orphan", "labels": LABELS},
                                              "spec": {"containers": [{"name": "c", "image": "i"}]}}, "ns")
        other = await h.client.create(PODS, {"metadata": {"name": "other", "labels": {"app": "db"}},
                                             "spec": {"containers": [{"name": "c", "image": "i"}]}}, "ns")
        rs = await h.client.create(REPLICASETS, rs_body(replicas=1), "ns")
        h.client.clear_actions()
        await sync(h, c)
        adopted = h.client.peek(PODS, "orphan", "ns")
        assert adopted["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]   # type: ignore[index]
        assert h.client.count("create", "pods") == 0          # the orphan counts: nothing to create
        assert "ownerReferences" not in h.client.peek(PODS, "other", "ns")["metadata"]       # type: ignore[index]
        # Relabel the adopted pod: it no longer matches, so it is released and replaced.
        pod = await h.client.get(PODS, "orphan", "ns")
        pod["metadata"]["labels"] = {"app": "moved"}
        await h.client.update(PODS, pod)
        await sync(h, c)
        released = h.client.peek(PODS, "orphan", "ns")
        assert not released["metadata"].get("ownerReferences")                          # type: ignore[index]
        assert h.client.count("create", "pods") == 1
        assert orphan["metadata"]["uid"] and other["metadata"]["uid"]


async def test_does_not_adopt_when_owner_is_being_deleted_or_pods_owned_elsewhere() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(PODS, {"metadata": {"name": "taken", "labels": LABELS, "ownerReferences": [
            {"apiVersion": "v1", "kind": "ReplicationController", "name": "x", "uid": "other", "controller": True}]},
            "spec": {"containers": [{"name": "c", "image": "i"}]}}, "ns")
        await h.client.create(REPLICASETS, {**rs_body(replicas=1),
                                            "metadata": {"name": "web", "namespace": "ns", "finalizers": ["x/y"]}},
                              "ns")
        await h.client.delete(REPLICASETS, "web", "ns")          # stays: finalizer
        h.client.clear_actions()
        await sync(h, c)
        assert h.client.count("create", "pods") == 0           # no spec work while being deleted
        assert h.client.count("patch", "pods") == 0            # and no adoption


async def test_create_failure_stops_slow_start_and_sets_replica_failure() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(REPLICASETS, rs_body(replicas=10), "ns")
        await h.settle()
        err = status_error(403, "Forbidden", 'pods "web-x" is forbidden: exceeded quota: q, requested: pods=1, '
                                             "used: pods=10, limited: pods=10")
        h.client.fail("create", "pods", err)
        with pytest.raises(Exception, match="exceeded quota"):
            await c.reconcile("ns/web")
        assert h.client.count("create", "pods") == 1           # slow start: the first batch of one failed
        assert c.expectations.satisfied("ns/web")              # skipped creations are not expected
        st = h.client.peek(REPLICASETS, "web", "ns")["status"]  # type: ignore[index]
        cond = st["conditions"][0]
        assert (cond["type"], cond["status"], cond["reason"]) == ("ReplicaFailure", "True", "FailedCreate")
        assert cond["message"] == err.status["message"]
        assert h.recorder.messages("FailedCreate") == [f"Error creating: {err.status['message']}"]
        h.client._reactors.clear()
        await sync(h, c)
        await sync(h, c)
        st = h.client.peek(REPLICASETS, "web", "ns")["status"]  # type: ignore[index]
        assert "conditions" not in st and st["replicas"] == 10


async def test_namespace_terminating_is_not_an_error() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(NAMESPACES, {"metadata": {"name": "ns"}})
        await h.client.create(REPLICASETS, rs_body(replicas=2), "ns")
        await h.client.delete(NAMESPACES, "ns")                # Terminating: creates are refused
        await sync(h, c)                                        # ... which is not an error (no raise)
        assert h.client.count("create", "pods") == 2 and not pods_of(h.client)
        assert not h.recorder.messages("FailedCreate")


async def test_min_ready_seconds_requeues_until_available() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(REPLICASETS, rs_body(replicas=1, min_ready=10), "ns")
        await sync(h, c)
        await run_pod(h.client, pods_of(h.client)[0])
        assert await sync(h, c) == 10.0
        st = h.client.peek(REPLICASETS, "web", "ns")["status"]  # type: ignore[index]
        assert (st["readyReplicas"], st["availableReplicas"]) == (1, 0)
        h.clock.advance(11)
        assert await sync(h, c) is None
        assert h.client.peek(REPLICASETS, "web", "ns")["status"]["availableReplicas"] == 1   # type: ignore[index]


async def test_replication_controller_uses_its_map_selector() -> None:
    async with harness() as h:
        c = await started(h, ReplicationControllerController)
        rc = {"metadata": {"name": "web", "namespace": "ns"},
              "spec": {"replicas": 2, "selector": LABELS,
                       "template": {"metadata": {"labels": LABELS},
                                    "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
        created = await h.client.create(RCS, rc, "ns")
        await sync(h, c)
        pods = pods_of(h.client)
        assert len(pods) == 2
        assert pods[0]["metadata"]["ownerReferences"][0] == {
            "apiVersion": "v1", "kind": "ReplicationController", "name": "web", "uid": created["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}
        await sync(h, c)
        assert h.client.peek(RCS, "web", "ns")["status"]["replicas"] == 2               # type: ignore[index]


async def test_handlers_enqueue_owner_and_deleted_owner_forgets_expectations() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(REPLICASETS, rs_body(replicas=1), "ns")
        await h.settle()
        assert len(c.queue) == 1
        h.client.hold()
        await c.reconcile("ns/web")
        assert not c.expectations.satisfied("ns/web")
        h.client.release()
        await h.client.delete(REPLICASETS, "web", "ns")
        await h.settle()
        assert c.expectations.get("ns/web") is None
        assert await c.reconcile("ns/web") is None


@pytest.mark.parametrize(("pods", "ready", "available", "fully"), [
    ([], 0, 0, 0),
    ([{"labels": LABELS, "ready": True}], 1, 1, 1),
    ([{"labels": {**LABELS, "x": "y"}, "ready": False}], 0, 0, 1),
    ([{"labels": {}, "ready": True}], 1, 1, 0),
])
def test_calculate_status(pods: list[Obj], ready: int, available: int, fully: int) -> None:
    import datetime
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    rs = {"metadata": {"generation": 2}, "spec": {"replicas": 1, "template": {"metadata": {"labels": LABELS}}},
          "status": {"observedGeneration": 1}}
    objs = [{"metadata": {"labels": p["labels"]}, "status": {"conditions": [
        {"type": "Ready", "status": "True" if p["ready"] else "False"}]}} for p in pods]
    st = calculate_status(rs, objs, None, now)
    assert st == {"observedGeneration": 1, "replicas": len(pods), "fullyLabeledReplicas": fully,
                  "readyReplicas": ready, "availableReplicas": available}
