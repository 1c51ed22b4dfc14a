"""The StatefulSet controller against the fake API: ordered and parallel creation, claims that outlive pods,
ordered scale-down, ControllerRevisions, rolling updates with a partition, OnDelete, retention policies, status."""

from __future__ import annotations

from typing import Any

from tests.unit.controllers.fakeclient import FakeClient, FakeKubelet, Harness, drain, harness

from pybernetes.client.resources import CONTROLLERREVISIONS, PODS, PVCS, STATEFULSETS
from pybernetes.controllers.statefulset import StatefulSetController

Obj = dict[str, Any]
LABELS = {"app": "nginx"}


def sts_body(*, replicas: int = 3, policy: str = "OrderedReady", image: str = "nginx:1.19.1",
             claims: bool = True, strategy: Obj | None = None, retention: Obj | None = None) -> Obj:
    spec: Obj = {"replicas": replicas, "serviceName": "nginx", "podManagementPolicy": policy,
                 "selector": {"matchLabels": LABELS},
                 "template": {"metadata": {"labels": LABELS},
                              "spec": {"containers": [{"name": "nginx", "image": image}]}}}
    if claims:
        spec["volumeClaimTemplates"] = [{"metadata": {"name": "www"},
                                         "spec": {"accessModes": ["ReadWriteOnce"],
                                                  "resources": {"requests": {"storage": "1Gi"}}}}]
    if strategy is not None:
        spec["updateStrategy"] = strategy
    if retention is not None:
        spec["persistentVolumeClaimRetentionPolicy"] = retention
    return {"metadata": {"name": "web", "namespace": "ns"}, "spec": spec}


async def started(h: Harness) -> StatefulSetController:
    c = StatefulSetController(h.ctx)
    await h.start()
    return c


async def sync(h: Harness, c: StatefulSetController) -> float | None:
    await h.settle()
    out = await c.reconcile("ns/web")
    await h.settle()
    return out


async def run(fake: FakeClient, name: str, *, ready: bool = True, phase: str = "Running") -> None:
    """Scheduler + kubelet: bind the pod and report it running (and ready)."""
    pod = await fake.get(PODS, name, "ns")
    if not pod["spec"].get("nodeName"):
        pod["spec"]["nodeName"] = "n1"
        pod = await fake.update(PODS, pod)
    pod["status"] = {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": fake._now()}]}
    await fake.update(PODS, pod, subresource="status")


async def finish_deletions(fake: FakeClient) -> None:
    for p in fake.objects(PODS, "ns"):
        if p["metadata"].get("deletionTimestamp"):
            await fake.delete(PODS, p["metadata"]["name"], "ns", grace_period_seconds=0)


def names(fake: FakeClient, res: Any = PODS) -> list[str]:
    return [o["metadata"]["name"] for o in fake.objects(res, "ns") if not o["metadata"].get("deletionTimestamp")]


def status(fake: FakeClient) -> Obj:
    return fake.peek(STATEFULSETS, "web", "ns")["status"]    # type: ignore[index,no-any-return]


async def bring_up(h: Harness, c: StatefulSetController, count: int = 3) -> None:
    for i in range(count):
        await sync(h, c)
        await run(h.client, f"web-{i}")
    await sync(h, c)


async def set_spec(fake: FakeClient, **changes: Any) -> None:
    sts = await fake.get(STATEFULSETS, "web", "ns")
    for k, v in changes.items():
        sts["spec"][k] = v
    await fake.update(STATEFULSETS, sts)


async def test_ordered_ready_creates_one_pod_at_a_time_with_its_claim() -> None:
    async with harness() as h:
        c = await started(h)
        sts = await h.client.create(STATEFULSETS, sts_body(), "ns")
        await sync(h, c)
        assert names(h.client) == ["web-0"] and names(h.client, PVCS) == ["www-web-0"]
        await sync(h, c)                                       # web-0 is not running and ready yet: wait
        assert names(h.client) == ["web-0"]
        await run(h.client, "web-0", ready=False)
        await sync(h, c)
        assert names(h.client) == ["web-0"]
        await run(h.client, "web-0")
        await sync(h, c)
        assert names(h.client) == ["web-0", "web-1"]
        await run(h.client, "web-1")
        await sync(h, c)
        assert names(h.client) == ["web-0", "web-1", "web-2"]
        assert names(h.client, PVCS) == ["www-web-0", "www-web-1", "www-web-2"]
        pod = h.client.peek(PODS, "web-1", "ns")
        assert pod is not None
        meta, spec = pod["metadata"], pod["spec"]
        revisions = h.client.objects(CONTROLLERREVISIONS, "ns")
        assert len(revisions) == 1 and revisions[0]["revision"] == 1
        rev = revisions[0]["metadata"]["name"]
        assert rev.startswith("web-")
        assert meta["labels"] == {"app": "nginx", "statefulset.kubernetes.io/pod-name": "web-1",
                                  "apps.kubernetes.io/pod-index": "1", "controller-revision-hash": rev}
        assert meta["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web",
                                            "uid": sts["metadata"]["uid"], "controller": True,
                                            "blockOwnerDeletion": True}]
        assert (spec["hostname"], spec["subdomain"]) == ("web-1", "nginx")
        assert spec["volumes"] == [{"name": "www", "persistentVolumeClaim": {"claimName": "www-web-1"}}]
        claim = h.client.peek(PVCS, "www-web-1", "ns")
        assert claim is not None and claim["metadata"]["labels"] == LABELS
        assert "ownerReferences" not in claim["metadata"]      # Retain: claims are nobody's dependents
        assert h.recorder.messages("SuccessfulCreate")[:2] == [
            "create Claim www-web-0 Pod web-0 in StatefulSet web success",
            "create Pod web-0 in StatefulSet web successful"]


async def test_status_reports_replicas_and_revisions_for_rollout_status() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(STATEFULSETS, sts_body(), "ns")
        await bring_up(h, c)
        rev = h.client.objects(CONTROLLERREVISIONS, "ns")[0]["metadata"]["name"]
        assert status(h.client) == {"observedGeneration": 1, "replicas": 3, "readyReplicas": 3,
                                    "currentReplicas": 3, "updatedReplicas": 3, "currentRevision": rev,
                                    "updateRevision": rev, "collisionCount": 0, "availableReplicas": 3}


async def test_deleted_pod_is_recreated_with_the_same_claim() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(STATEFULSETS, sts_body(), "ns")
        await bring_up(h, c)
        old_uid = h.client.peek(PODS, "web-1", "ns")["metadata"]["uid"]    # type: ignore[index]
        while len(c.queue):                                     # drain what the bring-up queued
            c.queue.done(await c.queue.get())
        await h.client.delete(PODS, "web-1", "ns", grace_period_seconds=0)
        await h.settle()
        assert await c.queue.get() == "ns/web"                 # the delete handler woke the set up
        c.queue.done("ns/web")
        await sync(h, c)
        pod = h.client.peek(PODS, "web-1", "ns")
        assert pod is not None and pod["metadata"]["uid"] != old_uid
        assert pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "www-web-1"
        assert h.client.count("create", "persistentvolumeclaims") == 3      # the claim was kept, not remade


async def test_scale_down_removes_the_highest_ordinal_first_one_at_a_time() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(STATEFULSETS, sts_body(), "ns")
        await bring_up(h, c)
        await set_spec(h.client, replicas=1)
        await sync(h, c)
        assert names(h.client) == ["web-0", "web-1"]           # web-2 terminating, web-1 untouched
        await sync(h, c)
        assert names(h.client) == ["web-0", "web-1"]           # waits for web-2 to be gone
        await finish_deletions(h.client)
        await sync(h, c)
        assert names(h.client) == ["web-0"]
        await finish_deletions(h.client)
        await sync(h, c)
        assert names(h.client, PVCS) == ["www-web-0", "www-web-1", "www-web-2"]    # claims are retained
        assert status(h.client)["replicas"] == 1
        assert h.recorder.messages("SuccessfulDelete") == ["delete Pod web-2 in StatefulSet web successful",
                                                           "delete Pod web-1 in StatefulSet web successful"]


async def test_parallel_creates_and_deletes_in_bursts() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(STATEFULSETS, sts_body(policy="Parallel", claims=False), "ns")
        await sync(h, c)
        assert names(h.client) == ["web-0", "web-1", "web-2"]
        await set_spec(h.client, replicas=0)
        await sync(h, c)
        assert names(h.client) == []


async def test_failed_pod_is_deleted_and_replaced() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(STATEFULSETS, sts_body(replicas=1, claims=False), "ns")
        await bring_up(h, c, 1)
        await run(h.client, "web-0", phase="Failed", ready=False)
        await sync(h, c)
        assert h.client.peek(PODS, "web-0", "ns") is None     # a failed pod is gone at once (no grace)
        await sync(h, c)
        assert names(h.client) == ["web-0"]


async def test_rolling_update_goes_from_the_highest_ordinal_down_and_waits_for_ready() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(STATEFULSETS, sts_body(claims=False), "ns")
        await bring_up(h, c)
        old_rev = status(h.client)["currentRevision"]
        sts = await h.client.get(STATEFULSETS, "web", "ns")
        sts["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.20"
        await h.client.update(STATEFULSETS, sts)
        await sync(h, c)
        revisions = sorted(h.client.objects(CONTROLLERREVISIONS, "ns"), key=lambda r: r["revision"])
        assert [r["revision"] for r in revisions] == [1, 2]
        new_rev = revisions[1]["metadata"]["name"]
        assert names(h.client) == ["web-0", "web-1"]           # web-2 is being replaced first
        st = status(h.client)
        assert (st["currentRevision"], st["updateRevision"], st["currentReplicas"]) == (old_rev, new_rev, 2)
        await finish_deletions(h.client)
        await sync(h, c)
        pod = h.client.peek(PODS, "web-2", "ns")
        assert pod is not None and pod["metadata"]["labels"]["controller-revision-hash"] == new_rev
        assert pod["spec"]["containers"][0]["image"] == "nginx:1.20"
        await sync(h, c)
        assert names(h.client) == ["web-0", "web-1", "web-2"]  # the new web-2 is not ready: wait
        for ordinal in (2, 1, 0):
            await run(h.client, f"web-{ordinal}")
            await sync(h, c)
            await finish_deletions(h.client)
            await sync(h, c)
        await run(h.client, "web-0")
        await sync(h, c)
        st = status(h.client)
        assert (st["currentRevision"], st["updateRevision"]) == (new_rev, new_rev)
        assert (st["currentReplicas"], st["updatedReplicas"], st["readyReplicas"]) == (3, 3, 3)
        images = {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in h.client.objects(PODS, "ns")}
        assert images == {"web-0": "nginx:1.20", "web-1": "nginx:1.20", "web-2": "nginx:1.20"}


async def test_partition_keeps_lower_ordinals_at_the_current_revision() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(STATEFULSETS, sts_body(claims=False, strategy={
            "type": "RollingUpdate", "rollingUpdate": {"partition": 2}}), "ns")
        await bring_up(h, c)
        sts = await h.client.get(STATEFULSETS, "web", "ns")
        sts["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.20"
        await h.client.update(STATEFULSETS, sts)
        for _ in range(3):
            await sync(h, c)
            await finish_deletions(h.client)
            await sync(h, c)
            await run(h.client, "web-2")
        await sync(h, c)
        images = {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in h.client.objects(PODS, "ns")}
        assert images == {"web-0": "nginx:1.19.1", "web-1": "nginx:1.19.1", "web-2": "nginx:1.20"}
        st = status(h.client)
        assert (st["updatedReplicas"], st["currentReplicas"]) == (1, 2)
        assert st["currentRevision"] != st["updateRevision"]
        # A deleted pod below the partition comes back at the current revision.
        await h.client.delete(PODS, "web-0", "ns", grace_period_seconds=0)
        await sync(h, c)
        assert h.client.peek(PODS, "web-0", "ns")["spec"]["containers"][0]["image"] == "nginx:1.19.1"  # type: ignore


async def test_on_delete_updates_only_pods_the_user_deletes() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(STATEFULSETS, sts_body(replicas=2, claims=False, strategy={"type": "OnDelete"}), "ns")
        await bring_up(h, c, 2)
        sts = await h.client.get(STATEFULSETS, "web", "ns")
        sts["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.20"
        await h.client.update(STATEFULSETS, sts)
        await sync(h, c)
        assert h.client.count("delete", "pods") == 0
        await h.client.delete(PODS, "web-1", "ns", grace_period_seconds=0)
        await sync(h, c)
        images = {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in h.client.objects(PODS, "ns")}
        assert images == {"web-0": "nginx:1.19.1", "web-1": "nginx:1.20"}


async def test_rollback_renumbers_the_old_revision_and_history_is_trimmed() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(STATEFULSETS, sts_body(replicas=0, claims=False), "ns")
        await sync(h, c)
        first = h.client.objects(CONTROLLERREVISIONS, "ns")[0]["metadata"]["name"]
        for image in ("nginx:1.20", "nginx:1.19.1"):
            sts = await h.client.get(STATEFULSETS, "web", "ns")
            sts["spec"]["template"]["spec"]["containers"][0]["image"] = image
            await h.client.update(STATEFULSETS, sts)
            await sync(h, c)
        revisions = {r["metadata"]["name"]: r["revision"] for r in h.client.objects(CONTROLLERREVISIONS, "ns")}
        assert len(revisions) == 2 and revisions[first] == 3   # no duplicate: the first one is current again
        await set_spec(h.client, revisionHistoryLimit=0)
        await sync(h, c)
        assert [r["metadata"]["name"] for r in h.client.objects(CONTROLLERREVISIONS, "ns")] == [first]


async def test_retention_policy_sets_claim_owner_references() -> None:
    async with harness() as h:
        c = await started(h)
        sts = await h.client.create(STATEFULSETS, sts_body(replicas=2, retention={
            "whenDeleted": "Delete", "whenScaled": "Delete"}), "ns")
        await bring_up(h, c, 2)
        claim = h.client.peek(PVCS, "www-web-1", "ns")
        assert claim is not None
        assert [(r["kind"], r["uid"]) for r in claim["metadata"]["ownerReferences"]] == [
            ("StatefulSet", sts["metadata"]["uid"])]
        pod_uid = h.client.peek(PODS, "web-1", "ns")["metadata"]["uid"]     # type: ignore[index]
        await set_spec(h.client, replicas=1)
        await sync(h, c)
        claim = h.client.peek(PVCS, "www-web-1", "ns")
        assert claim is not None
        assert [(r["kind"], r["uid"]) for r in claim["metadata"]["ownerReferences"]] == [("Pod", pod_uid)]
        claim0 = h.client.peek(PVCS, "www-web-0", "ns")
        assert [r["kind"] for r in claim0["metadata"]["ownerReferences"]] == ["StatefulSet"]   # type: ignore[index]


async def test_stale_claim_blocks_recreation_until_it_is_gone() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(STATEFULSETS, sts_body(replicas=1, retention={"whenScaled": "Delete"}), "ns")
        await bring_up(h, c, 1)
        claim = await h.client.get(PVCS, "www-web-0", "ns")
        claim["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "Pod", "name": "web-0",
                                                 "uid": "an-earlier-web-0", "controller": True}]
        await h.client.update(PVCS, claim)
        await h.client.delete(PODS, "web-0", "ns", grace_period_seconds=0)
        await sync(h, c)
        assert names(h.client) == []                           # the garbage collector will remove the claim
        await h.client.delete(PVCS, "www-web-0", "ns")
        await sync(h, c)
        assert names(h.client) == ["web-0"] and names(h.client, PVCS) == ["www-web-0"]


async def test_adopts_orphan_member_pods_but_not_other_names() -> None:
    async with harness() as h:
        c = await started(h)
        tmpl = {"containers": [{"name": "nginx", "image": "nginx:1.19.1"}]}
        await h.client.create(PODS, {"metadata": {"name": "web-0", "labels": LABELS}, "spec": tmpl}, "ns")
        await h.client.create(PODS, {"metadata": {"name": "stray", "labels": LABELS}, "spec": tmpl}, "ns")
        sts = await h.client.create(STATEFULSETS, sts_body(replicas=1, claims=False), "ns")
        await sync(h, c)
        adopted = h.client.peek(PODS, "web-0", "ns")
        assert adopted is not None and adopted["metadata"]["ownerReferences"][0]["uid"] == sts["metadata"]["uid"]
        assert "statefulset.kubernetes.io/pod-name" not in adopted["metadata"]["labels"]   # not ready: walk stops
        await run(h.client, "web-0")
        await sync(h, c)
        adopted = h.client.peek(PODS, "web-0", "ns")
        assert adopted["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "web-0"   # type: ignore
        assert "ownerReferences" not in h.client.peek(PODS, "stray", "ns")["metadata"]          # type: ignore


async def test_min_ready_seconds_gates_ordered_creation_and_requeues() -> None:
    async with harness() as h:
        c = await started(h)
        body = sts_body(replicas=2, claims=False)
        body["spec"]["minReadySeconds"] = 10
        await h.client.create(STATEFULSETS, body, "ns")
        await sync(h, c)
        await run(h.client, "web-0")
        assert await sync(h, c) == 10.0
        assert names(h.client) == ["web-0"]                    # ready, but not yet available
        h.clock.advance(11)
        await sync(h, c)
        assert names(h.client) == ["web-0", "web-1"]


async def test_stale_pod_cache_only_costs_a_retry() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(STATEFULSETS, sts_body(replicas=1, claims=False), "ns")
        await h.settle()
        h.client.hold()
        await c.reconcile("ns/web")
        try:
            await c.reconcile("ns/web")
        except Exception as e:                                 # AlreadyExists: the name is the identity
            assert "already exists" in str(e)
        h.client.release()
        await sync(h, c)
        assert names(h.client) == ["web-0"]


async def test_event_handlers_alone_drive_the_set_to_ready() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(STATEFULSETS, sts_body(), "ns")
        assert await drain(h, c, kubelet=FakeKubelet(h.client)) == []
        assert names(h.client) == ["web-0", "web-1", "web-2"]
        assert status(h.client)["readyReplicas"] == 3
        await h.client.delete(PODS, "web-1", "ns")             # graceful: the kubelet finishes it
        assert await drain(h, c, kubelet=FakeKubelet(h.client)) == []
        assert names(h.client) == ["web-0", "web-1", "web-2"] and status(h.client)["readyReplicas"] == 3
