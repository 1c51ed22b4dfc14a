"""Tables of storage.k8s.io/v1: StorageClass ("local-path (default)"), CSIDriver, CSINode, VolumeAttachment and
CSIStorageCapacity."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pybernetes.api.tables.descriptions import DOCS
from pybernetes.api.tables.printer import AGE, NAME, Obj, Printer, age_of, column, quantity

__all__ = ["PRINTERS", "is_default_class"]

_EMPTY: dict[str, Any] = {}
_DEFAULT_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                        "storageclass.beta.kubernetes.io/is-default-class")


def _name(obj: Obj) -> str:
    name: str = (obj.get("metadata") or _EMPTY).get("name", "")
    return name


def is_default_class(obj: Obj) -> bool:
    """``IsDefaultAnnotation``: the GA or beta is-default-class annotation is exactly "true"."""
    annotations = (obj.get("metadata") or _EMPTY).get("annotations") or _EMPTY
    return any(annotations.get(a) == "true" for a in _DEFAULT_ANNOTATIONS)


def _storage_class(obj: Obj, now: datetime) -> list[Any]:
    name = _name(obj) + (" (default)" if is_default_class(obj) else "")
    return [name, obj.get("provisioner") or "", obj.get("reclaimPolicy") or "Delete",
            obj.get("volumeBindingMode") or "Immediate", bool(obj.get("allowVolumeExpansion")), age_of(obj, now)]


def _csi_driver(obj: Obj, now: datetime) -> list[Any]:
    spec = obj.get("spec") or _EMPTY
    attach = spec.get("attachRequired")
    tokens = spec.get("tokenRequests")
    audiences = "<unset>" if tokens is None else ",".join(t.get("audience") or "" for t in tokens)
    return [_name(obj), True if attach is None else bool(attach), bool(spec.get("podInfoOnMount")),
            bool(spec.get("storageCapacity")), audiences, bool(spec.get("requiresRepublish")),
            ",".join(spec.get("volumeLifecycleModes") or ()) or "<none>", age_of(obj, now)]


def _csi_node(obj: Obj, now: datetime) -> list[Any]:
    return [_name(obj), len((obj.get("spec") or _EMPTY).get("drivers") or ()), age_of(obj, now)]


def _volume_attachment(obj: Obj, now: datetime) -> list[Any]:
    spec = obj.get("spec") or _EMPTY
    pv = (spec.get("source") or _EMPTY).get("persistentVolumeName")
    return [_name(obj), spec.get("attacher") or "", pv or "", spec.get("nodeName") or "",
            bool((obj.get("status") or _EMPTY).get("attached")), age_of(obj, now)]


def _csi_storage_capacity(obj: Obj, now: datetime) -> list[Any]:
    return [_name(obj), obj.get("storageClassName") or "", quantity(obj.get("capacity"), missing="<unset>")]


PRINTERS = {
    ("storage.k8s.io", "StorageClass"): Printer((
        NAME,
        column("Provisioner", "string", DOCS["storage.StorageClass.provisioner"]),
        column("ReclaimPolicy", "string", DOCS["storage.StorageClass.reclaimPolicy"]),
        column("VolumeBindingMode", "string", DOCS["storage.StorageClass.volumeBindingMode"]),
        column("AllowVolumeExpansion", "string", DOCS["storage.StorageClass.allowVolumeExpansion"]),
        AGE,
    ), _storage_class),
    ("storage.k8s.io", "CSIDriver"): Printer((
        NAME,
        column("AttachRequired", "boolean", DOCS["storage.CSIDriverSpec.attachRequired"]),
        column("PodInfoOnMount", "boolean", DOCS["storage.CSIDriverSpec.podInfoOnMount"]),
        column("StorageCapacity", "boolean", DOCS["storage.CSIDriverSpec.storageCapacity"]),
        column("TokenRequests", "string", DOCS["storage.CSIDriverSpec.tokenRequests"]),
        column("RequiresRepublish", "boolean", DOCS["storage.CSIDriverSpec.requiresRepublish"]),
        column("Modes", "string", DOCS["storage.CSIDriverSpec.volumeLifecycleModes"]),
        AGE,
    ), _csi_driver),
    ("storage.k8s.io", "CSINode"): Printer((
        NAME,
        column("Drivers", "integer", "Drivers indicates the number of CSI drivers registered on the node"),
        AGE,
    ), _csi_node),
    ("storage.k8s.io", "VolumeAttachment"): Printer((
        NAME,
        column("Attacher", "string", DOCS["storage.VolumeAttachmentSpec.attacher"], format="name"),
        column("PV", "string", DOCS["storage.VolumeAttachmentSource.persistentVolumeName"]),
        column("Node", "string", DOCS["storage.VolumeAttachmentSpec.nodeName"]),
        column("Attached", "boolean", DOCS["storage.VolumeAttachmentStatus.attached"]),
        AGE,
    ), _volume_attachment),
    ("storage.k8s.io", "CSIStorageCapacity"): Printer((
        NAME,
        column("StorageClassName", "string", DOCS["storage.CSIStorageCapacity.storageClassName"]),
        column("Capacity", "string", DOCS["storage.CSIStorageCapacity.capacity"]),
    ), _csi_storage_capacity),
}
