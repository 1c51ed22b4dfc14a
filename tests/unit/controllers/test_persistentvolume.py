"""The PersistentVolume binder and the local-path provisioner against the fake API."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.controllers.fakeclient import Harness, harness

from pybernetes.client.resources import NODES, PODS, PVCS, PVS, STORAGECLASSES
from pybernetes.controllers import localpath
from pybernetes.controllers import persistentvolume as pvm
from pybernetes.controllers.persistentvolume import PersistentVolumeController

Obj = dict[str, Any]


def pv(name: str, size: str = "1Gi", *, modes: list[str] | None = None, cls: str = "", labels: dict | None = None,
       policy: str = "Retain", claim_ref: Obj | None = None, mode: str | None = None,
       affinity_node: str | None = None) -> Obj:
    spec: Obj = {"capacity": {"storage": size}, "accessModes": modes or ["ReadWriteOnce"],
                 "hostPath": {"path": f"/data/{name}"}, "persistentVolumeReclaimPolicy": policy}
    if cls:
        spec["storageClassName"] = cls
    if claim_ref is not None:
        spec["claimRef"] = claim_ref
    if mode:
        spec["volumeMode"] = mode
    if affinity_node:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [affinity_node]}]}]}}
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec}


def pvc(name: str = "data", size: str = "1Gi", *, cls: str | None = "", modes: list[str] | None = None,
        selector: Obj | None = None, volume: str = "", annotations: dict | None = None) -> Obj:
    spec: Obj = {"accessModes": modes or ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if cls is not None:
        spec["storageClassName"] = cls
    if selector is not None:
        spec["selector"] = selector
    if volume:
        spec["volumeName"] = volume
    return {"metadata": {"name": name, "namespace": "ns", "annotations": annotations or {}}, "spec": spec}


async def started(h: Harness, *, local_path: bool = False) -> PersistentVolumeController:
    if local_path:
        await h.client.create(STORAGECLASSES, localpath.default_storage_class())
    c = PersistentVolumeController(h.ctx)
    await h.start()
    return c


async def sync_all(h: Harness, c: PersistentVolumeController, rounds: int = 8) -> None:
    """Drain the controller's queue as its workers would, a few rounds (each write triggers more work)."""
    for _ in range(rounds):
        await h.settle()
        keys = list(c.queue._queue)
        c.queue._queue.clear()
        c.queue._dirty.clear()
        if not keys:
            return
        for k in keys:
            await c.reconcile(str(k))
    await h.settle()


def claim(h: Harness, name: str = "data") -> Obj:
    got = h.client.peek(PVCS, name, "ns")
    assert got is not None
    return got


def volume(h: Harness, name: str) -> Obj | None:
    return h.client.peek(PVS, name)


async def test_binds_the_smallest_matching_volume() -> None:
    async with harness() as h:
        c = await started(h)
        for v in (pv("big", "10Gi"), pv("small", "2Gi"), pv("tiny", "500Mi"), pv("rwx", "1Gi", modes=["ReadWriteMany"]),
                  pv("classy", "1Gi", cls="fast"), pv("block", "1Gi", mode="Block")):
            await h.client.create(PVS, v)
        await sync_all(h, c)
        await h.client.create(PVCS, pvc(size="1Gi"), "ns")
        await sync_all(h, c)
        got = claim(h)
        assert got["spec"]["volumeName"] == "small"
        assert got["metadata"]["annotations"] == {pvm.BIND_COMPLETED: "yes", pvm.BOUND_BY_CONTROLLER: "yes"}
        assert got["status"]["phase"] == "Bound"
        assert got["status"]["capacity"] == {"storage": "2Gi"}
        assert got["status"]["accessModes"] == ["ReadWriteOnce"]
        vol = volume(h, "small")
        assert vol["status"]["phase"] == "Bound"                                  # type: ignore[index]
        assert vol["metadata"]["annotations"] == {pvm.BOUND_BY_CONTROLLER: "yes"}  # type: ignore[index]
        ref = vol["spec"]["claimRef"]                                               # type: ignore[index]
        assert (ref["kind"], ref["namespace"], ref["name"], ref["uid"]) == ("PersistentVolumeClaim", "ns", "data",
                                                                            got["metadata"]["uid"])
        assert volume(h, "big")["status"]["phase"] == "Available"                 # type: ignore[index]


async def test_selector_and_access_modes_must_match() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(PVS, pv("a", labels={"tier": "gold"}, modes=["ReadWriteOnce", "ReadOnlyMany"]))
        await h.client.create(PVS, pv("b", labels={"tier": "silver"}, modes=["ReadWriteOnce", "ReadOnlyMany"]))
        await h.client.create(PVCS, pvc(selector={"matchLabels": {"tier": "silver"}},
                                        modes=["ReadOnlyMany"]), "ns")
        await sync_all(h, c)
        assert claim(h)["spec"]["volumeName"] == "b"


async def test_no_volume_no_class_stays_pending_with_an_event() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(PVCS, pvc(), "ns")
        await sync_all(h, c)
        assert claim(h)["status"]["phase"] == "Pending"
        assert h.recorder.messages("FailedBinding") == [
            "no persistent volumes available for this claim and no storage class is set"]


async def test_volume_prebound_to_claim_wins_and_keeps_user_ownership() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(PVS, pv("smaller", "1Gi"))
        await h.client.create(PVS, pv("mine", "5Gi", claim_ref={"namespace": "ns", "name": "data"}))
        await h.client.create(PVCS, pvc(), "ns")
        await sync_all(h, c)
        assert claim(h)["spec"]["volumeName"] == "mine"
        assert pvm.BOUND_BY_CONTROLLER not in (volume(h, "mine")["metadata"].get("annotations") or {})  # type: ignore


async def test_claim_naming_a_volume_gets_it_without_bound_by_controller() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(PVS, pv("chosen", "1Gi"))
        await h.client.create(PVCS, pvc(volume="chosen"), "ns")
        await sync_all(h, c)
        got = claim(h)
        assert got["metadata"]["annotations"] == {pvm.BIND_COMPLETED: "yes"}
        assert got["status"]["phase"] == "Bound"
        assert volume(h, "chosen")["metadata"]["annotations"] == {pvm.BOUND_BY_CONTROLLER: "yes"}  # type: ignore


async def test_bound_claim_whose_volume_vanished_is_lost() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(PVCS, pvc(volume="gone", annotations={pvm.BIND_COMPLETED: "yes"}), "ns")
        await sync_all(h, c)
        assert claim(h)["status"]["phase"] == "Lost"
        assert h.recorder.messages("ClaimLost")


async def test_released_volumes_follow_their_reclaim_policy() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(PVS, pv("keep", policy="Retain"))
        await h.client.create(PVCS, pvc("one"), "ns")
        await sync_all(h, c)
        await h.client.create(PVS, pv("manual", policy="Delete"))
        await h.client.create(PVCS, pvc("two"), "ns")
        await sync_all(h, c)
        assert claim(h, "one")["spec"]["volumeName"] == "keep"
        assert claim(h, "two")["spec"]["volumeName"] == "manual"
        await h.client.delete(PVCS, "one", "ns")
        await h.client.delete(PVCS, "two", "ns")
        await sync_all(h, c)
        assert volume(h, "keep")["status"]["phase"] == "Released"               # type: ignore[index]
        manual = volume(h, "manual")
        assert manual["status"]["phase"] == "Failed"                             # type: ignore[index]
        assert "no deletable volume plugin matched" in manual["status"]["message"]  # type: ignore[index]


async def test_volume_bound_by_us_to_a_claim_bound_elsewhere_is_unbound() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(PVS, pv("other"))
        created = await h.client.create(PVCS, pvc(volume="other"), "ns")
        stray = pv("stray", claim_ref={"kind": "PersistentVolumeClaim", "namespace": "ns", "name": "data",
                                       "uid": created["metadata"]["uid"]})
        stray["metadata"]["annotations"] = {pvm.BOUND_BY_CONTROLLER: "yes"}
        await h.client.create(PVS, stray)
        await sync_all(h, c)
        vol = volume(h, "stray")
        assert "claimRef" not in vol["spec"] and vol["status"]["phase"] == "Available"   # type: ignore[index]


# ------------------------------------------------------------------ classes and local-path provisioning
async def test_default_storage_class_created_once_and_assigned_retroactively() -> None:
    async with harness() as h:
        c = await started(h)
        await c.ensure_storage_class()
        await h.settle()
        sc = h.client.peek(STORAGECLASSES, "local-path")
        assert sc is not None
        assert (sc["provisioner"], sc["volumeBindingMode"], sc["reclaimPolicy"]) == (
            "rancher.io/local-path", "WaitForFirstConsumer", "Delete")
        assert sc["metadata"]["annotations"] == {localpath.DEFAULT_CLASS_ANNOTATION: "true"}
        h.client.clear_actions()
        await c.ensure_storage_class()
        assert h.client.count("create", "storageclasses.storage.k8s.io") == 0
        await h.client.create(PVCS, pvc(cls=None), "ns")
        await sync_all(h, c)
        assert claim(h)["spec"]["storageClassName"] == "local-path"


async def test_wait_for_first_consumer_then_provision_on_the_pods_node_and_bind() -> None:
    async with harness() as h:
        c = await started(h, local_path=True)
        await h.client.create(NODES, {"metadata": {"name": "node-1", "labels": {"kubernetes.io/hostname": "node-1"}}})
        created = await h.client.create(PVCS, pvc(cls="local-path", size="2Gi"), "ns")
        await sync_all(h, c)
        assert not h.client.objects(PVS)
        assert h.recorder.messages("WaitForFirstConsumer") == [
            "waiting for first consumer to be created before binding"]
        await h.client.create(PODS, {"metadata": {"name": "app", "namespace": "ns"}, "spec": {
            "containers": [{"name": "c", "image": "x"}], "nodeName": "node-1",
            "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}}, "ns")
        await sync_all(h, c)
        got = claim(h)
        uid = created["metadata"]["uid"]
        assert got["metadata"]["annotations"][pvm.SELECTED_NODE] == "node-1"
        assert got["metadata"]["annotations"][pvm.STORAGE_PROVISIONER] == "rancher.io/local-path"
        assert got["spec"]["volumeName"] == f"pvc-{uid}"
        assert got["status"]["phase"] == "Bound"
        vol = volume(h, f"pvc-{uid}")
        assert vol is not None
        assert vol["metadata"]["annotations"][localpath.PROVISIONED_BY] == "rancher.io/local-path"
        assert vol["spec"]["hostPath"] == {"path": f"/var/lib/pybernetes/storage/pvc-{uid}_ns_data",
                                           "type": "DirectoryOrCreate"}
        assert vol["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"] == [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-1"]}]}]
        assert vol["spec"]["capacity"] == {"storage": "2Gi"}
        assert vol["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
        assert vol["status"]["phase"] == "Bound"
        assert h.recorder.messages("ProvisioningSucceeded") == [f"Successfully provisioned volume pvc-{uid}"]
        # The claim goes: the volume is released and, being ours with Delete, removed.
        await h.client.delete(PVCS, "data", "ns")
        await sync_all(h, c)
        assert volume(h, f"pvc-{uid}") is None


async def test_selected_node_from_the_scheduler_is_used() -> None:
    async with harness() as h:
        c = await started(h, local_path=True)
        created = await h.client.create(PVCS, pvc(cls="local-path", annotations={pvm.SELECTED_NODE: "n7"}), "ns")
        await sync_all(h, c)
        vol = volume(h, f"pvc-{created['metadata']['uid']}")
        assert vol is not None
        assert vol["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == [
            "n7"]


async def test_waiting_claim_binds_a_static_volume_on_the_selected_node() -> None:
    async with harness() as h:
        c = await started(h, local_path=True)
        await h.client.create(NODES, {"metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}}})
        await h.client.create(PVS, pv("elsewhere", cls="local-path", affinity_node="n2"))
        await h.client.create(PVS, pv("here", cls="local-path", affinity_node="n1"))
        await h.client.create(PVCS, pvc(cls="local-path", annotations={pvm.SELECTED_NODE: "n1"}), "ns")
        await sync_all(h, c)
        assert claim(h)["spec"]["volumeName"] == "here"


async def test_provisioner_refuses_selectors() -> None:
    async with harness() as h:
        c = await started(h, local_path=True)
        await h.client.create(PVCS, pvc(cls="local-path", selector={"matchLabels": {"a": "b"}},
                                        annotations={pvm.SELECTED_NODE: "n1"}), "ns")
        await sync_all(h, c)
        assert not h.client.objects(PVS)
        assert any("Selector is not supported" in m for m in h.recorder.messages("ProvisioningFailed"))


async def test_external_provisioner_is_told_through_annotations() -> None:
    async with harness() as h:
        c = await started(h)
        await h.client.create(STORAGECLASSES, {"metadata": {"name": "csi"}, "provisioner": "ebs.csi.aws.com"})
        await h.client.create(PVCS, pvc(cls="csi"), "ns")
        await sync_all(h, c)
        ann = claim(h)["metadata"]["annotations"]
        assert ann[pvm.STORAGE_PROVISIONER] == ann[pvm.BETA_STORAGE_PROVISIONER] == "ebs.csi.aws.com"
        assert h.recorder.messages("ExternalProvisioning")
        assert not h.client.objects(PVS)


# ------------------------------------------------------------------ pure helpers
@pytest.mark.parametrize(("expr", "labels", "want"), [
    ({"key": "zone", "operator": "In", "values": ["a", "b"]}, {"zone": "a"}, True),
    ({"key": "zone", "operator": "In", "values": ["a"]}, {}, False),
    ({"key": "zone", "operator": "NotIn", "values": ["a"]}, {"zone": "c"}, True),
    ({"key": "zone", "operator": "Exists"}, {"zone": ""}, True),
    ({"key": "zone", "operator": "DoesNotExist"}, {"zone": "a"}, False),
    ({"key": "cpus", "operator": "Gt", "values": ["4"]}, {"cpus": "8"}, True),
    ({"key": "cpus", "operator": "Lt", "values": ["4"]}, {"cpus": "8"}, False),
    ({"key": "cpus", "operator": "Gt", "values": ["4"]}, {"cpus": "many"}, False),
])
def test_node_matches_term(expr: Obj, labels: dict, want: bool) -> None:
    assert pvm.node_matches_term({"metadata": {"name": "n", "labels": labels}}, {"matchExpressions": [expr]}) is want


def test_match_fields_on_node_name() -> None:
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}
    assert pvm.node_matches_term({"metadata": {"name": "n1"}}, term)
    assert not pvm.node_matches_term({"metadata": {"name": "n2"}}, term)


def test_claims_of_pod_include_ephemeral_volumes() -> None:
    pod = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"volumes": [
        {"name": "a", "persistentVolumeClaim": {"claimName": "data"}}, {"name": "scratch", "ephemeral": {}},
        {"name": "cfg", "configMap": {"name": "x"}}]}}
    assert pvm.claims_of_pod(pod) == ["ns/data", "ns/p-scratch"]


def test_local_path_volume_shape() -> None:
    c = {"metadata": {"name": "www", "namespace": "web", "uid": "u-1", "resourceVersion": "7"},
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    out = localpath.provision(c, localpath.default_storage_class(), "node-a", base="/tmp/s")
    assert out["metadata"] == {"name": "pvc-u-1", "annotations": {localpath.PROVISIONED_BY: localpath.PROVISIONER}}
    assert out["spec"]["hostPath"]["path"] == "/tmp/s/pvc-u-1_web_www"
    assert out["spec"]["claimRef"] == {"kind": "PersistentVolumeClaim", "namespace": "web", "name": "www",
                                       "uid": "u-1", "apiVersion": "v1", "resourceVersion": "7"}
    assert out["spec"]["storageClassName"] == "local-path"
