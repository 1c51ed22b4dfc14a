"""Tables of storage.k8s.io kinds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pybernetes.api.tables.storage import PRINTERS

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def obj(annotations: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "x", "creationTimestamp": "2025-02-28T12:00:00Z"}
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta, **fields}


def cells(kind: str, o: dict[str, Any]) -> list[Any]:
    return PRINTERS[("storage.k8s.io", kind)].cells(o, NOW)


@pytest.mark.parametrize(("annotations", "name"), [
    (None, "x"),
    ({"storageclass.kubernetes.io/is-default-class": "true"}, "x (default)"),
    ({"storageclass.beta.kubernetes.io/is-default-class": "true"}, "x (default)"),
    ({"storageclass.kubernetes.io/is-default-class": "True"}, "x"),
])
def test_storage_class(annotations: dict[str, str] | None, name: str) -> None:
    sc = obj(annotations, provisioner="rancher.io/local-path")
    assert cells("StorageClass", sc) == [name, "rancher.io/local-path", "Delete", "Immediate", False, "24h"]


def test_storage_class_explicit_fields() -> None:
    sc = obj(provisioner="p", reclaimPolicy="Retain", volumeBindingMode="WaitForFirstConsumer",
             allowVolumeExpansion=True)
    assert cells("StorageClass", sc) == ["x", "p", "Retain", "WaitForFirstConsumer", True, "24h"]


def test_csi_driver() -> None:
    assert cells("CSIDriver", obj(spec={})) == ["x", True, False, False, "<unset>", False, "<none>", "24h"]
    full = obj(spec={"attachRequired": False, "podInfoOnMount": True, "storageCapacity": True,
                     "tokenRequests": [{"audience": "vault"}, {"audience": ""}], "requiresRepublish": True,
                     "volumeLifecycleModes": ["Persistent", "Ephemeral"]})
    assert cells("CSIDriver", full) == ["x", False, True, True, "vault,", True, "Persistent,Ephemeral", "24h"]
    assert [c["name"] for c in PRINTERS[("storage.k8s.io", "CSIDriver")].columns] == [
        "Name", "AttachRequired", "PodInfoOnMount", "StorageCapacity", "TokenRequests", "RequiresRepublish", "Modes",
        "Age"]


def test_csi_node_and_volume_attachment() -> None:
    assert cells("CSINode", obj(spec={"drivers": [{"name": "a"}, {"name": "b"}]})) == ["x", 2, "24h"]
    va = obj(spec={"attacher": "csi.example", "nodeName": "n1", "source": {"persistentVolumeName": "pv-1"}},
             status={"attached": True})
    assert cells("VolumeAttachment", va) == ["x", "csi.example", "pv-1", "n1", True, "24h"]
    assert cells("VolumeAttachment", obj(spec={})) == ["x", "", "", "", False, "24h"]
    assert PRINTERS[("storage.k8s.io", "VolumeAttachment")].columns[1]["format"] == "name"


def test_csi_storage_capacity() -> None:
    assert cells("CSIStorageCapacity", obj(storageClassName="fast", capacity="1024Mi")) == ["x", "fast", "1Gi"]
    assert cells("CSIStorageCapacity", obj(storageClassName="fast")) == ["x", "fast", "<unset>"]
