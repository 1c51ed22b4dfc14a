from __future__ import annotations

import copy

import pytest

from pybernetes.api.kinds.storage import PersistentVolumeClaimStrategy, PersistentVolumeStrategy

from .helpers import create, errors, update

PVC, PV = PersistentVolumeClaimStrategy(), PersistentVolumeStrategy()


def pvc(**spec: object) -> dict:
    base = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    base.update(spec)
    return {"metadata": {"name": "data", "namespace": "default"}, "spec": base}


def test_pvc_defaults() -> None:
    out, errs = create(PVC, pvc())
    assert errs == []
    assert out["spec"]["volumeMode"] == "Filesystem"
    assert out["status"] == {"phase": "Pending"}


@pytest.mark.parametrize(("spec", "message"), [
    ({"accessModes": []}, "spec.accessModes: Required value: at least 1 access mode is required"),
    ({"accessModes": ["ReadWriteSometimes"]}, 'spec.accessModes: Unsupported value: "ReadWriteSometimes"'),
    ({"accessModes": ["ReadWriteOncePod", "ReadWriteOnce"]},
     "spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes"),
    ({"resources": {}}, "spec.resources[storage]: Required value"),
    ({"resources": {"requests": {"storage": "0"}}},
     'spec.resources[storage]: Invalid value: "0": must be greater than zero'),
    ({"volumeMode": "Raw"}, 'spec.volumeMode: Unsupported value: "Raw": supported values: "Block", "Filesystem"'),
])
def test_pvc_mistakes(spec: dict, message: str) -> None:
    _, errs = create(PVC, pvc(**spec))
    assert any(m.startswith(message) for m in errors(errs)), errors(errs)


def test_pvc_spec_immutable_except_requests_and_binding() -> None:
    old, _ = create(PVC, pvc())
    bound = copy.deepcopy(old)
    bound["spec"]["volumeName"] = "pv-1"
    bound["spec"]["resources"]["requests"]["storage"] = "2Gi"
    out, errs = update(PVC, bound, old)
    assert errs == []
    changed = copy.deepcopy(out)
    changed["spec"]["accessModes"] = ["ReadWriteMany"]
    _, errs = update(PVC, changed, out)
    assert errors(errs)[0].startswith("spec: Forbidden: spec is immutable after creation except resources.requests")
    shrunk = copy.deepcopy(out)
    out["status"] = {"phase": "Bound", "capacity": {"storage": "2Gi"}}
    shrunk["spec"]["resources"]["requests"]["storage"] = "1Gi"
    _, errs = update(PVC, shrunk, out)
    assert errors(errs) == ["spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"]


def pv(**spec: object) -> dict:
    base = {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/srv/pv1"}}
    base.update(spec)
    return {"metadata": {"name": "pv1"}, "spec": base}


def test_pv_defaults_and_status() -> None:
    out, errs = create(PV, pv())
    assert errs == []
    assert out["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert out["spec"]["volumeMode"] == "Filesystem"
    assert out["spec"]["hostPath"]["type"] == ""
    assert out["status"]["phase"] == "Pending" and out["status"]["lastPhaseTransitionTime"]


@pytest.mark.parametrize(("spec", "message"), [
    ({"capacity": {}}, "spec.capacity: Required value"),
    ({"hostPath": None}, "spec: Required value: must specify a volume type"),
    ({"nfs": {"server": "s", "path": "/x"}}, "spec.nfs: Forbidden: may not specify more than 1 volume type"),
    ({"persistentVolumeReclaimPolicy": "Keep"}, 'spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep"'),
    ({"hostPath": {"path": "/"}, "persistentVolumeReclaimPolicy": "Recycle"},
     "spec.persistentVolumeReclaimPolicy: Forbidden: may not be 'recycle' for a hostPath mount of '/'"),
])
def test_pv_mistakes(spec: dict, message: str) -> None:
    _, errs = create(PV, pv(**spec))
    assert any(m.startswith(message) for m in errors(errs)), errors(errs)


def test_pv_source_immutable() -> None:
    old, _ = create(PV, pv())
    new = copy.deepcopy(old)
    new["spec"]["hostPath"]["path"] = "/srv/other"
    _, errs = update(PV, new, old)
    assert errors(errs)[0].startswith("spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is "
                                      "immutable after creation")
