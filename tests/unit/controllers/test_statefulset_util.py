"""Pure StatefulSet helpers: ordinals, identity and storage, claim retention owner references, status."""

from __future__ import annotations

from typing import Any

import pytest

from pybernetes.controllers import statefulset_util as su

Obj = dict[str, Any]


def sts(replicas: int = 2, when_deleted: str = "Retain", when_scaled: str = "Retain", start: int = 0) -> Obj:
    spec: Obj = {"replicas": replicas, "serviceName": "svc", "selector": {"matchLabels": {"app": "a"}},
                 "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c"}]}},
                 "volumeClaimTemplates": [{"metadata": {"name": "data", "labels": {"tier": "db"}},
                                           "spec": {}, "status": {"phase": "Pending"}}],
                 "persistentVolumeClaimRetentionPolicy": {"whenDeleted": when_deleted, "whenScaled": when_scaled}}
    if start:
        spec["ordinals"] = {"start": start}
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "set-uid"}, "spec": spec}


def pod(ordinal: int, uid: str = "pod-uid") -> Obj:
    return {"metadata": {"name": f"web-{ordinal}", "namespace": "ns", "uid": uid}}


@pytest.mark.parametrize(("name", "want"), [
    ("web-0", ("web", 0)), ("my-web-12", ("my-web", 12)), ("web", ("", -1)), ("web-x", ("", -1)),
    ("web-99999999999", ("web", -1)), ("web--3", ("web-", 3)),
])
def test_parent_and_ordinal(name: str, want: tuple[str, int]) -> None:
    assert su.parent_and_ordinal(name) == want


def test_ordinal_range_honours_spec_ordinals_start() -> None:
    s = sts(replicas=2, start=5)
    assert [su.in_ordinal_range(pod(i), s) for i in (4, 5, 6, 7)] == [False, True, True, False]


def test_new_pod_has_identity_storage_and_revision() -> None:
    p = su.new_pod(sts(), 1, "web-abc")
    assert p["metadata"]["name"] == "web-1" and "generateName" not in p["metadata"]
    assert p["metadata"]["labels"] == {"app": "a", su.POD_NAME_LABEL: "web-1", su.POD_INDEX_LABEL: "1",
                                       "controller-revision-hash": "web-abc"}
    assert (p["spec"]["hostname"], p["spec"]["subdomain"]) == ("web-1", "svc")
    assert su.identity_matches(sts(), p) and su.storage_matches(sts(), p)
    claim = su.claims_for(sts(), 1)["data"]
    assert claim["metadata"] == {"name": "data-web-1", "labels": {"tier": "db", "app": "a"}, "namespace": "ns"}
    assert "status" not in claim
    assert sts()["spec"]["template"]["metadata"]["labels"] == {"app": "a"}      # the template is not touched


def test_update_storage_keeps_other_volumes() -> None:
    p = {"metadata": {"name": "web-0"}, "spec": {"volumes": [{"name": "data", "emptyDir": {}},
                                                             {"name": "tmp", "emptyDir": {}}]}}
    assert not su.storage_matches(sts(), p)
    su.update_storage(sts(), p)
    assert p["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}},
                                    {"name": "tmp", "emptyDir": {}}]


def ref(kind: str, name: str, uid: str) -> Obj:
    return {"apiVersion": "apps/v1" if kind == "StatefulSet" else "v1", "kind": kind, "name": name, "uid": uid,
            "controller": True, "blockOwnerDeletion": True}


SET_REF, POD_REF = ref("StatefulSet", "web", "set-uid"), ref("Pod", "web-3", "pod-uid")


@pytest.mark.parametrize(("policy", "ordinal", "refs", "up_to_date", "want"), [
    (("Retain", "Retain"), 0, [], True, []),
    (("Retain", "Retain"), 0, [SET_REF], False, []),
    (("Delete", "Retain"), 0, [], False, [SET_REF]),
    (("Delete", "Retain"), 3, [SET_REF], True, [SET_REF]),
    (("Retain", "Delete"), 0, [], True, []),
    (("Retain", "Delete"), 3, [], False, [POD_REF]),
    (("Delete", "Delete"), 0, [], False, [SET_REF]),
    (("Delete", "Delete"), 3, [SET_REF], False, [POD_REF]),
    (("Delete", "Delete"), 3, [POD_REF], True, [POD_REF]),
    # Another controller owns the claim: leave it alone.
    (("Delete", "Delete"), 0, [ref("Other", "x", "o")], True, [ref("Other", "x", "o")]),
    # An earlier incarnation of the set owns it: do not touch.
    (("Delete", "Delete"), 0, [ref("StatefulSet", "web", "old")], True, None),
])
def test_claim_owner_references_follow_the_retention_policy(policy: tuple[str, str], ordinal: int, refs: list[Obj],
                                                           up_to_date: bool, want: list[Obj] | None) -> None:
    s = sts(replicas=2, when_deleted=policy[0], when_scaled=policy[1])
    p = pod(ordinal)
    claim = {"metadata": {"name": f"data-web-{ordinal}", "ownerReferences": refs}}
    assert su.claim_owner_up_to_date(claim, s, p) is up_to_date
    if want is not None:
        got = su.claim_owner_refs(claim, s, p)
        assert [(r["kind"], r["uid"]) for r in got] == [(r["kind"], r["uid"]) for r in want]


def test_complete_rolling_update_and_status_json() -> None:
    s = sts(replicas=2)
    s["spec"]["updateStrategy"] = {"type": "RollingUpdate"}
    st = {"observedGeneration": 2, "replicas": 2, "readyReplicas": 2, "availableReplicas": 2,
          "currentReplicas": 0, "updatedReplicas": 2, "currentRevision": "web-a", "updateRevision": "web-b",
          "collisionCount": 0}
    su.complete_rolling_update(s, st)
    assert (st["currentRevision"], st["currentReplicas"]) == ("web-b", 2)
    assert su.inconsistent_status(s, st)
    zero = dict(st, readyReplicas=0, currentReplicas=0, updatedReplicas=0, availableReplicas=0, replicas=0,
                observedGeneration=0)
    assert su.status_json(s, zero) == {"replicas": 0, "currentRevision": "web-b", "updateRevision": "web-b",
                                       "collisionCount": 0, "availableReplicas": 0}
