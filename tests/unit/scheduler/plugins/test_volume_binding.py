"""VolumeBinding: missing and deleting claims, unbound Immediate claims, bound volumes' node affinity,
WaitForFirstConsumer claims (dynamic provisioning with allowedTopologies, static volumes), the selected-node
annotation."""

from __future__ import annotations

import pytest
from tests.unit.scheduler.builders import cache_with, node, pod, state_for

from pybernetes.scheduler.framework import SKIP, Code, StaticListers
from pybernetes.scheduler.plugins.volume_binding import VolumeBinding, claim_names
from pybernetes.scheduler.runtime import Handle

HOST = "kubernetes.io/hostname"
NODES = [node("a", labels={"zone": "z1"}), node("b", labels={"zone": "z2"})]


def pvc(name: str, *, volume: str = "", cls: str = "local-path", deleting: bool = False, size: str = "1Gi") -> dict:
    meta: dict = {"name": name, "namespace": "default"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    spec = {"storageClassName": cls, "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if volume:
        spec["volumeName"] = volume
    return {"metadata": meta, "spec": spec, "status": {"phase": "Bound" if volume else "Pending"}}


def pv(name: str, *, on: str | None = None, cls: str = "local-path", claimed: bool = False, size: str = "1Gi") -> dict:
    spec: dict = {"storageClassName": cls, "accessModes": ["ReadWriteOnce"], "capacity": {"storage": size}}
    if on:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": HOST, "operator": "In", "values": [on]}]}]}}
    if claimed:
        spec["claimRef"] = {"name": "other", "namespace": "default"}
    return {"metadata": {"name": name}, "spec": spec, "status": {"phase": "Bound" if claimed else "Available"}}


def sc(name: str, mode: str = "WaitForFirstConsumer", provisioner: str = "rancher.io/local-path",
       topologies: list | None = None) -> dict:
    out = {"metadata": {"name": name}, "provisioner": provisioner, "volumeBindingMode": mode}
    if topologies:
        out["allowedTopologies"] = topologies
    return out


CLASSES = [sc("local-path"), sc("fast", "Immediate"), sc("static", provisioner="kubernetes.io/no-provisioner"),
           sc("zonal", topologies=[{"matchLabelExpressions": [{"key": "zone", "values": ["z2"]}]}])]


def using(*claims: str) -> dict:
    return pod(volumes=[{"name": f"v{i}", "persistentVolumeClaim": {"claimName": c}} for i, c in enumerate(claims)])


def verdicts(p: dict, pvcs=(), pvs=(), client=None):
    listers = StaticListers(pvcs=pvcs, pvs=pvs, storage_classes=CLASSES)
    pl = VolumeBinding(Handle(snapshot=cache_with(NODES), listers=listers, client=client))
    state = state_for(p)
    _, st = pl.pre_filter(state, p)
    if st is not None:
        return st
    return {n.name: (None if (s := pl.filter(state, p, n)) is None else s.reasons[0])
            for n in pl.handle.snapshot.node_list()}


NODE_CONFLICT = "node(s) didn't match PersistentVolume's node affinity"
BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"


@pytest.mark.parametrize(("claims", "pvcs", "pvs", "want"), [
    (["data"], [pvc("data", volume="pv1")], [pv("pv1", on="a")], {"a": None, "b": NODE_CONFLICT}),
    (["data"], [pvc("data", volume="pv1")], [pv("pv1")], {"a": None, "b": None}),
    (["data"], [pvc("data", volume="gone")], [],
     {"a": "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)",
      "b": "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"}),
    (["data"], [pvc("data")], [], {"a": None, "b": None}),                    # local-path provisions anywhere
    (["data"], [pvc("data", cls="zonal")], [], {"a": BIND_CONFLICT, "b": None}),
    (["data"], [pvc("data", cls="static")], [pv("s1", on="b", cls="static"), pv("s2", on="a", cls="static",
                                                                                claimed=True)],
     {"a": BIND_CONFLICT, "b": None}),
    (["data"], [pvc("data", cls="static", size="5Gi")], [pv("s1", on="b", cls="static")],
     {"a": BIND_CONFLICT, "b": BIND_CONFLICT}),
    (["one", "two"], [pvc("one", volume="pv1"), pvc("two", volume="pv2")], [pv("pv1", on="a"), pv("pv2", on="b")],
     {"a": NODE_CONFLICT, "b": NODE_CONFLICT}),
])
def test_filter(claims, pvcs, pvs, want):
    assert verdicts(using(*claims), pvcs, pvs) == want


@pytest.mark.parametrize(("pvcs", "reason"), [
    ([], 'persistentvolumeclaim "data" not found'),
    ([pvc("data", deleting=True)], 'persistentvolumeclaim "data" is being deleted'),
    ([pvc("data", cls="fast")], "pod has unbound immediate PersistentVolumeClaims"),
    ([pvc("data", cls="")], "pod has unbound immediate PersistentVolumeClaims"),     # until a default class is set
])
def test_prefilter_rejections(pvcs, reason):
    st = verdicts(using("data"), pvcs)
    assert st.code == Code.UNRESOLVABLE and st.reasons == (reason,)


def test_pods_without_claims_skip():
    p = pod()
    pl = VolumeBinding(Handle(snapshot=cache_with(NODES)))
    assert pl.pre_filter(state_for(p), p)[1] is SKIP


def test_claim_names():
    p = pod("web-0", volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}},
                              {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
                              {"name": "cfg", "configMap": {"name": "c"}}])
    assert claim_names(p) == ["data-web-0", "web-0-scratch"]


class FakeClient:
    def __init__(self) -> None:
        self.patches: list[tuple[str, dict]] = []

    async def patch(self, res, name, body, namespace=None, **kw):
        self.patches.append((name, body))
        return {}


async def test_prebind_selects_the_node_for_delayed_claims():
    client = FakeClient()
    listers = StaticListers(pvcs=[pvc("data"), pvc("old", volume="pv1")], pvs=[pv("pv1")], storage_classes=CLASSES)
    pl = VolumeBinding(Handle(snapshot=cache_with(NODES), listers=listers, client=client))
    p = using("data", "old")
    state = state_for(p)
    pl.pre_filter(state, p)
    assert await pl.pre_bind(state, p, "b") is None
    assert client.patches == [("data", {"metadata": {"annotations": {"volume.kubernetes.io/selected-node": "b"}}})]
