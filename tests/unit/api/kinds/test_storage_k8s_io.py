"""storage.k8s.io: StorageClass, CSIDriver, CSINode and VolumeAttachment."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pybernetes.api.kinds.storage_k8s_io import (
    CSIDriverStrategy,
    CSINodeStrategy,
    StorageClassStrategy,
    VolumeAttachmentStrategy,
)

SC, DRIVER, NODE, VA = StorageClassStrategy(), CSIDriverStrategy(), CSINodeStrategy(), VolumeAttachmentStrategy()


def msgs(errs: list[Any]) -> list[str]:
    return [str(e) for e in errs]


def storage_class(**over: Any) -> dict[str, Any]:
    sc = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fast"},
          "provisioner": "ebs.csi.aws.com", "parameters": {"type": "gp3"}}
    sc.update(over)
    return sc


def test_storage_class_defaults() -> None:
    sc = storage_class()
    SC.default(sc)
    assert sc["reclaimPolicy"] == "Delete" and sc["volumeBindingMode"] == "Immediate"
    assert SC.validate(sc) == []


@pytest.mark.parametrize(("over", "expected"), [
    ({"provisioner": ""}, ["provisioner: Required value"]),
    ({"reclaimPolicy": "Recycle"}, ['reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", '
                                    '"Retain"']),
    ({"volumeBindingMode": "Later"}, ['volumeBindingMode: Unsupported value: "Later": supported values: '
                                      '"Immediate", "WaitForFirstConsumer"']),
    ({"parameters": {"": "x"}}, ['parameters: Invalid value: "": field can not be empty.']),
])
def test_storage_class_mistakes(over: dict[str, Any], expected: list[str]) -> None:
    sc = storage_class(**over)
    SC.default(sc)
    assert msgs(SC.validate(sc)) == expected


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("parameters", {"type": "io2"}, "parameters: Forbidden: updates to parameters are forbidden."),
    ("provisioner", "other.csi.io", "provisioner: Forbidden: updates to provisioner are forbidden."),
    ("reclaimPolicy", "Retain", "reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden."),
    ("volumeBindingMode", "WaitForFirstConsumer",
     'volumeBindingMode: Invalid value: "WaitForFirstConsumer": field is immutable'),
])
def test_storage_class_is_frozen(field: str, value: Any, expected: str) -> None:
    old = storage_class()
    SC.default(old)
    new = copy.deepcopy(old)
    new[field] = value
    assert msgs(SC.validate_update(new, old)) == [expected]
    labelled = copy.deepcopy(old)
    labelled["metadata"]["labels"] = {"a": "b"}
    assert SC.validate_update(labelled, old) == []


def test_csi_driver_defaults_and_rules() -> None:
    d = {"metadata": {"name": "ebs.csi.aws.com"}, "spec": {}}
    DRIVER.default(d)
    assert d["spec"] == {"attachRequired": True, "podInfoOnMount": False, "storageCapacity": False,
                         "fsGroupPolicy": "ReadWriteOnceWithFSType", "volumeLifecycleModes": ["Persistent"],
                         "requiresRepublish": False, "seLinuxMount": False}
    assert DRIVER.validate(d) == []
    new = copy.deepcopy(d)
    new["spec"]["attachRequired"] = False
    new["spec"]["tokenRequests"] = [{"audience": "a", "expirationSeconds": 60}, {"audience": "a"}]
    assert msgs(DRIVER.validate_update(new, d)) == [
        "spec.tokenRequests[0].expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes",
        'spec.tokenRequests[1].audience: Duplicate value: "a"',
        "spec.attachedRequired: Invalid value: false: field is immutable"]


def test_csi_node() -> None:
    n = {"metadata": {"name": "n1"}, "spec": {"drivers": [
        {"name": "ebs.csi.aws.com", "nodeID": "i-1", "topologyKeys": ["topology.ebs.csi.aws.com/zone"]},
        {"name": "ebs.csi.aws.com", "nodeID": "", "allocatable": {"count": -1}}]}}
    assert msgs(NODE.validate(n)) == [
        'spec.drivers[1].name: Duplicate value: "ebs.csi.aws.com"',
        "spec.drivers[1].nodeID: Required value: nodeID of the driver must be defined",
        "spec.drivers[1].allocatable.count: Invalid value: -1: must be greater than or equal to 0"]


def test_volume_attachment() -> None:
    va = {"metadata": {"name": "csi-123"},
          "spec": {"attacher": "ebs.csi.aws.com", "nodeName": "n1", "source": {"persistentVolumeName": "pv1"}}}
    assert VA.validate(va) == []
    bad = copy.deepcopy(va)
    bad["spec"]["source"] = {}
    assert msgs(VA.validate(bad)) == [
        "spec.source: Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName"]
    moved = copy.deepcopy(va)
    moved["spec"]["nodeName"] = "n2"
    assert [e.field for e in VA.validate_update(moved, va)] == ["spec"]
    assert VA.has_status_subresource
