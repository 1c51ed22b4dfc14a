"""The Deployment controller, with the ReplicaSet controller and a fake kubelet, against the fake API:
rollouts (RollingUpdate within maxSurge/maxUnavailable, Recreate), revisions and rollback, history cleanup,
pause/resume, proportional scaling, progress deadline, hash collisions, conditions, events and status."""

from __future__ import annotations

from typing import Any

from tests.unit.controllers.fakeclient import FakeKubelet, Harness, drain, harness

from pybernetes.client.resources import DEPLOYMENTS, PODS, REPLICASETS
from pybernetes.controllers import deployment_util as du
from pybernetes.controllers.deployment import DeploymentController
from pybernetes.controllers.replicaset import ReplicaSetController

Obj = dict[str, Any]
LABELS = {"app": "web"}


def dep_body(replicas: int = 3, image: str = "nginx:1.19.1", **spec: Any) -> Obj:
    return {"metadata": {"name": "web", "namespace": "ns"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": LABELS},
                     "template": {"metadata": {"labels": LABELS},
                                  "spec": {"containers": [{"name": "nginx", "image": image}]}}, **spec}}


async def start(h: Harness) -> tuple[DeploymentController, ReplicaSetController]:
    dc, rsc = DeploymentController(h.ctx), ReplicaSetController(h.ctx)
    await h.start()
    return dc, rsc


def rss(h: Harness) -> list[Obj]:
    return sorted(h.client.objects(REPLICASETS, "ns"), key=lambda r: r["metadata"]["creationTimestamp"] +
                  r["metadata"]["name"])


def dstatus(h: Harness) -> Obj:
    return h.client.peek(DEPLOYMENTS, "web", "ns")["status"]        # type: ignore[index]


def cond(status: Obj, type_: str) -> Obj:
    return next(c for c in status.get("conditions") or () if c["type"] == type_)


async def set_image(h: Harness, image: str) -> None:
    d = await h.client.get(DEPLOYMENTS, "web", "ns")
    d["spec"]["template"]["spec"]["containers"][0]["image"] = image
    await h.client.update(DEPLOYMENTS, d)


async def test_create_rolls_out_a_new_replica_set_and_reports_rollout_status() -> None:
    async with harness() as h:
        dc, rsc = await start(h)
        d = await h.client.create(DEPLOYMENTS, dep_body(), "ns")
        await drain(h, dc, rsc, kubelet=FakeKubelet(h.client))
        [rs] = rss(h)
        pod_hash = rs["metadata"]["labels"][du.POD_TEMPLATE_HASH]
        assert rs["metadata"]["name"] == f"web-{pod_hash}"
        assert rs["metadata"]["labels"] == {**LABELS, du.POD_TEMPLATE_HASH: pod_hash}
        assert rs["spec"]["selector"] == {"matchLabels": {**LABELS, du.POD_TEMPLATE_HASH: pod_hash}}
        assert rs["spec"]["template"]["metadata"]["labels"] == rs["metadata"]["labels"]
        assert rs["metadata"]["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                                      "uid": d["metadata"]["uid"], "controller": True,
                                                      "blockOwnerDeletion": True}]
        assert {k: v for k, v in rs["metadata"]["annotations"].items()} == {
            du.REVISION: "1", du.DESIRED_REPLICAS: "3", du.MAX_REPLICAS: "4"}
        pods = h.client.objects(PODS, "ns")
        assert len(pods) == 3 and all(p["metadata"]["labels"][du.POD_TEMPLATE_HASH] == pod_hash for p in pods)
        st = dstatus(h)
        assert {k: st.get(k) for k in ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas",
                                        "availableReplicas")} == {"observedGeneration": 1, "replicas": 3,
                                                                  "updatedReplicas": 3, "readyReplicas": 3,
                                                                  "availableReplicas": 3}
        assert not st.get("unavailableReplicas")
        avail, prog = cond(st, "Available"), cond(st, "Progressing")
        assert (avail["status"], avail["reason"], avail["message"]) == (
            "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
        assert (prog["status"], prog["reason"], prog["message"]) == (
            "True", "NewReplicaSetAvailable", f'ReplicaSet "web-{pod_hash}" has successfully progressed.')
        assert h.recorder.messages("ScalingReplicaSet") == [f"Scaled up replica set web-{pod_hash} from 0 to 3"]
        # The revision goes onto the Deployment through its status, as upstream's status strategy allows.
        status_writes = [a.body for a in h.client.actions if a.resource == "deployments.apps"
                         and a.subresource == "status"]
        assert any((b["metadata"].get("annotations") or {}).get(du.REVISION) == "1" for b in status_writes)


async def test_rolling_update_respects_max_surge_and_max_unavailable() -> None:
    async with harness() as h:
        dc, rsc = await start(h)
        await h.client.create(DEPLOYMENTS, dep_body(4), "ns")       # 25%: surge 1, unavailable 1
        kubelet = FakeKubelet(h.client)
        await drain(h, dc, rsc, kubelet=kubelet)
        [old] = rss(h)
        await set_image(h, "nginx:1.20")
        seen: list[tuple[int, int]] = []

        class Watching(FakeKubelet):
            async def step(self) -> bool:
                changed = await super().step()
                sets = rss(h)
                seen.append((sum(r["spec"]["replicas"] for r in sets),
                             sum(r["status"].get("availableReplicas", 0) for r in sets)))
                return changed
        await drain(h, dc, rsc, kubelet=Watching(h.client))
        assert max(total for total, _ in seen) <= 5         # replicas + maxSurge
        assert min(avail for _, avail in seen) >= 3         # replicas - maxUnavailable
        old_now, new = rss(h)
        assert old_now["metadata"]["uid"] == old["metadata"]["uid"]
        assert (old_now["spec"]["replicas"], new["spec"]["replicas"]) == (0, 4)
        assert new["metadata"]["annotations"][du.REVISION] == "2"
        st = dstatus(h)
        assert (st["replicas"], st["updatedReplicas"], st["availableReplicas"]) == (4, 4, 4)
        assert cond(st, "Progressing")["message"] == f'ReplicaSet "{new["metadata"]["name"]}" has successfully ' \
                                                     "progressed."
        msgs = h.recorder.messages("ScalingReplicaSet")
        assert f"Scaled up replica set {new['metadata']['name']} from 0 to 1" in msgs
        assert f"Scaled down replica set {old['metadata']['name']} from 4 to 3" in msgs
        assert any(m.startswith(f"Scaled down replica set {old['metadata']['name']} from ") and m.endswith(" to 0")
                   for m in msgs)
        assert len([p for p in h.client.objects(PODS, "ns")]) == 4


async def test_recreate_scales_old_to_zero_before_creating_the_new_replica_set() -> None:
    async with harness() as h:
        dc, rsc = await start(h)
        await h.client.create(DEPLOYMENTS, dep_body(2, strategy={"type": "Recreate"}), "ns")
        kubelet = FakeKubelet(h.client)
        await drain(h, dc, rsc, kubelet=kubelet)
        await set_image(h, "nginx:1.20")
        await h.settle()
        await dc.reconcile("ns/web")
        await h.settle()
        [old] = rss(h)                                  # no new ReplicaSet while old pods run
        assert old["spec"]["replicas"] == 0
        await drain(h, dc, rsc, kubelet=kubelet)
        old, new = rss(h)
        assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 2)
        assert all(p["metadata"]["labels"][du.POD_TEMPLATE_HASH] == new["metadata"]["labels"][du.POD_TEMPLATE_HASH]
                   for p in h.client.objects(PODS, "ns"))


async def test_rollback_reuses_the_old_replica_set_with_a_new_revision() -> None:
    async with harness() as h:
        dc, rsc = await start(h)
        await h.client.create(DEPLOYMENTS, dep_body(2), "ns")
        kubelet = FakeKubelet(h.client)
        await drain(h, dc, rsc, kubelet=kubelet)
        await set_image(h, "nginx:1.20")
        await drain(h, dc, rsc, kubelet=kubelet)
        first, second = rss(h)
        await set_image(h, "nginx:1.19.1")               # what `kubectl rollout undo` does
        await drain(h, dc, rsc, kubelet=kubelet)
        assert len(rss(h)) == 2
        first, second = (h.client.peek(REPLICASETS, r["metadata"]["name"], "ns") for r in (first, second))
        assert (first["spec"]["replicas"], second["spec"]["replicas"]) == (2, 0)        # type: ignore[index]
        ann = first["metadata"]["annotations"]                                          # type: ignore[index]
        assert (ann[du.REVISION], ann[du.REVISION_HISTORY]) == ("3", "1")


async def test_revision_history_limit_deletes_the_oldest_scaled_down_replica_sets() -> None:
    async with harness() as h:
        dc, rsc = await start(h)
        await h.client.create(DEPLOYMENTS, dep_body(1, revisionHistoryLimit=1), "ns")
        kubelet = FakeKubelet(h.client)
        await drain(h, dc, rsc, kubelet=kubelet)
        for image in ("nginx:2", "nginx:3", "nginx:4"):
            await set_image(h, image)
            await drain(h, dc, rsc, kubelet=kubelet)
        revisions = sorted(int(r["metadata"]["annotations"][du.REVISION]) for r in rss(h))
        assert revisions == [3, 4]


async def test_paused_deployment_does_not_roll_but_scales_and_resumes() -> None:
    async with harness() as h:
        dc, rsc = await start(h)
        await h.client.create(DEPLOYMENTS, dep_body(2), "ns")
        kubelet = FakeKubelet(h.client)
        await drain(h, dc, rsc, kubelet=kubelet)
        d = await h.client.get(DEPLOYMENTS, "web", "ns")
        d["spec"]["paused"] = True
        d["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
        d["spec"]["replicas"] = 3
        await h.client.update(DEPLOYMENTS, d)
        await drain(h, dc, rsc, kubelet=kubelet)
        [rs] = rss(h)
        assert rs["spec"]["replicas"] == 3                  # scaled, not rolled
        prog = cond(dstatus(h), "Progressing")
        assert (prog["status"], prog["reason"], prog["message"]) == ("Unknown", "DeploymentPaused",
                                                                     "Deployment is paused")
        d = await h.client.get(DEPLOYMENTS, "web", "ns")
        d["spec"]["paused"] = False
        await h.client.update(DEPLOYMENTS, d)
        await h.settle()
        await dc.reconcile("ns/web")
        resumed = [a.body for a in h.client.actions if a.subresource == "status" and a.resource == "deployments.apps"
                   and any(c.get("reason") == "DeploymentResumed" for c in a.body["status"].get("conditions", []))]
        assert resumed and cond(resumed[0]["status"], "Progressing")["message"] == "Deployment is resumed"
        await drain(h, dc, rsc, kubelet=kubelet)
        assert [r["spec"]["replicas"] for r in rss(h)] == [0, 3]


async def test_scaling_mid_rollout_is_proportional() -> None:
    async with harness() as h:
        dc, rsc = await start(h)
        await h.client.create(DEPLOYMENTS, dep_body(10), "ns")
        kubelet = FakeKubelet(h.client)
        await drain(h, dc, rsc, kubelet=kubelet)
        kubelet.ready = False                               # the new version never becomes ready
        await set_image(h, "nginx:bad")
        await drain(h, dc, rsc, kubelet=kubelet)
        old, new = rss(h)
        assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (8, 5)   # 10 - maxUnavailable 2; 13 total
        d = await h.client.get(DEPLOYMENTS, "web", "ns")
        d["spec"]["replicas"] = 20                          # surge 5: 25 allowed in all
        await h.client.update(DEPLOYMENTS, d)
        await drain(h, dc, rsc, kubelet=kubelet)
        old, new = rss(h)
        assert old["spec"]["replicas"] + new["spec"]["replicas"] == 25
        assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (15, 10)
        assert old["metadata"]["annotations"][du.DESIRED_REPLICAS] == "20"


async def test_progress_deadline_exceeded() -> None:
    async with harness() as h:
        dc, rsc = await start(h)
        await h.client.create(DEPLOYMENTS, dep_body(1, progressDeadlineSeconds=10), "ns")
        await drain(h, dc, rsc, kubelet=FakeKubelet(h.client, ready=False))
        st = dstatus(h)
        assert cond(st, "Progressing")["reason"] == "ReplicaSetUpdated" or \
            cond(st, "Progressing")["reason"] == "NewReplicaSetCreated"
        assert cond(st, "Available")["reason"] == "MinimumReplicasUnavailable"
        h.clock.advance(11)
        await h.settle()
        await dc.reconcile("ns/web")
        prog = cond(dstatus(h), "Progressing")
        [rs] = rss(h)
        assert (prog["status"], prog["reason"], prog["message"]) == (
            "False", "ProgressDeadlineExceeded", f'ReplicaSet "{rs["metadata"]["name"]}" has timed out progressing.')


async def test_stuck_deployment_is_requeued_for_its_deadline() -> None:
    async with harness() as h:
        dc, rsc = await start(h)
        await h.client.create(DEPLOYMENTS, dep_body(1, progressDeadlineSeconds=30), "ns")
        await drain(h, dc, rsc, kubelet=FakeKubelet(h.client, ready=False))
        await dc.reconcile("ns/web")                       # nothing changes: schedules the deadline check
        assert len(dc.queue) == 0
        h.clock.advance(32)
        await h.settle()
        assert len(dc.queue) == 1


async def test_hash_collision_bumps_collision_count() -> None:
    async with harness() as h:
        dc, rsc = await start(h)
        d = await h.client.create(DEPLOYMENTS, dep_body(1), "ns")
        pod_hash = du.compute_hash(d["spec"]["template"], None)
        squatter = {"metadata": {"name": f"web-{pod_hash}", "labels": {"other": "x"}},
                    "spec": {"replicas": 0, "selector": {"matchLabels": {"other": "x"}},
                             "template": {"metadata": {"labels": {"other": "x"}},
                                          "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
        await h.client.create(REPLICASETS, squatter, "ns")
        errors = await drain(h, dc, rsc, kubelet=FakeKubelet(h.client))
        assert any("already exists" in e for e in errors)
        assert dstatus(h)["collisionCount"] == 1
        ours = [r for r in rss(h) if r["metadata"]["name"] != f"web-{pod_hash}"]
        assert len(ours) == 1 and ours[0]["metadata"]["name"] == f"web-{du.compute_hash(d['spec']['template'], 1)}"


async def test_adopts_orphan_replica_set_and_releases_mismatching_one() -> None:
    async with harness() as h:
        dc, rsc = await start(h)
        template = dep_body()["spec"]["template"]
        await h.client.create(REPLICASETS, {"metadata": {"name": "orphan", "labels": LABELS},
                                            "spec": {"replicas": 3, "selector": {"matchLabels": LABELS},
                                                     "template": template}}, "ns")
        d = await h.client.create(DEPLOYMENTS, dep_body(), "ns")
        await drain(h, dc, rsc, kubelet=FakeKubelet(h.client))
        [rs] = rss(h)                                    # the orphan has the same template: it is the new RS
        assert rs["metadata"]["name"] == "orphan"
        assert rs["metadata"]["ownerReferences"][0]["uid"] == d["metadata"]["uid"]
        rs = await h.client.get(REPLICASETS, "orphan", "ns")
        rs["metadata"]["labels"] = {"app": "elsewhere"}
        await h.client.update(REPLICASETS, rs)
        await drain(h, dc, rsc, kubelet=FakeKubelet(h.client))
        assert not h.client.peek(REPLICASETS, "orphan", "ns")["metadata"].get("ownerReferences")  # type: ignore
        assert len(rss(h)) == 2


async def test_empty_selector_is_refused_with_an_event() -> None:
    async with harness() as h:
        dc, _ = await start(h)
        body = dep_body()
        body["spec"]["selector"] = {}
        await h.client.create(DEPLOYMENTS, body, "ns")
        await h.settle()
        await dc.reconcile("ns/web")
        assert h.recorder.messages("SelectingAll") == [
            "This deployment is selecting all pods. A non-empty selector is required."]
        assert not rss(h)


async def test_deleting_deployment_only_syncs_status() -> None:
    async with harness() as h:
        dc, rsc = await start(h)
        await h.client.create(DEPLOYMENTS, {**dep_body(), "metadata": {"name": "web", "namespace": "ns",
                                                                       "finalizers": ["example.com/hold"]}}, "ns")
        await drain(h, dc, rsc, kubelet=FakeKubelet(h.client))
        await h.client.delete(DEPLOYMENTS, "web", "ns")
        await set_image(h, "nginx:2")
        await drain(h, dc, rsc, kubelet=FakeKubelet(h.client))
        assert len(rss(h)) == 1                          # no new ReplicaSet for a Deployment being deleted
