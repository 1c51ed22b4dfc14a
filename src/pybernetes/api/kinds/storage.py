"""PersistentVolume and PersistentVolumeClaim (upstream ``ValidatePersistentVolume*``,
``ValidatePersistentVolumeClaim*``, the pv/pvc registry strategies and ``SetDefaults_PersistentVolume*``).

A PVC's spec is immutable once created except ``resources.requests`` (storage may grow, or shrink back towards
``status.capacity`` — RecoverVolumeExpansionFailure is on in 1.33) and a one-time ``volumeName`` bind.
"""

from __future__ import annotations

import posixpath
from typing import Any, ClassVar

from pybernetes.api.field import FieldError, Path, forbidden, not_supported, required
from pybernetes.api.kinds.common import dns_subdomain, immutable, validate_label_selector
from pybernetes.api.kinds.pod import semantic_equal
from pybernetes.api.kinds.pod_defaults import default_volume_source
from pybernetes.api.kinds.pod_validation import validate_node_selector
from pybernetes.api.kinds.resource_list import parse, validate_positive_quantity, validate_quantity_value
from pybernetes.api.kinds.volumes import validate_volume_source
from pybernetes.api.strategy import ClusterStrategy, Obj, Strategy

ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
VOLUME_MODES = ("Block", "Filesystem")
RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
PV_SOURCES = ("gcePersistentDisk", "awsElasticBlockStore", "hostPath", "glusterfs", "nfs", "rbd", "iscsi", "cinder",
              "cephfs", "fc", "flocker", "flexVolume", "azureFile", "vsphereVolume", "quobyte", "azureDisk",
              "photonPersistentDisk", "portworxVolume", "scaleIO", "local", "storageos", "csi")
PVC_SPEC_IMMUTABLE = ("spec is immutable after creation except resources.requests and volumeAttributesClassName "
                      "for bound claims")
BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"


def _access_modes(modes: list, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    rwop = other = False
    for m in modes:
        if m not in ACCESS_MODES:
            errs.append(not_supported(path, m, ACCESS_MODES))
        if m == "ReadWriteOncePod":
            rwop = True
        elif m in ACCESS_MODES:
            other = True
    if rwop and other:
        errs.append(forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return errs


def validate_pvc_spec(spec: Obj, path: Path) -> list[FieldError]:
    """Upstream ``ValidatePersistentVolumeClaimSpec``."""
    errs: list[FieldError] = []
    modes = spec.get("accessModes") or []
    if not modes:
        errs.append(required(path.child("accessModes"), "at least 1 access mode is required"))
    if spec.get("selector") is not None:
        errs.extend(validate_label_selector(spec["selector"], path.child("selector")))
    errs.extend(_access_modes(modes, path.child("accessModes")))
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    sp = path.child("resources").key("storage")
    if storage is None:
        errs.append(required(sp, ""))
    else:
        perrs = validate_positive_quantity(storage, sp)[1]
        errs.extend(perrs or validate_quantity_value("storage", storage, sp)[1])
    sc = spec.get("storageClassName")
    if sc:
        errs.extend(dns_subdomain(sc, path.child("storageClassName")))
    vm = spec.get("volumeMode")
    if vm is not None and vm not in VOLUME_MODES:
        errs.append(not_supported(path.child("volumeMode"), vm, VOLUME_MODES))
    return errs


def _default_pvc_spec(spec: Any) -> None:
    if isinstance(spec, dict) and spec.get("volumeMode") is None:
        spec["volumeMode"] = "Filesystem"


class PersistentVolumeClaimStrategy(Strategy):
    has_status_subresource: ClassVar[bool] = True

    def default(self, obj: Obj) -> None:
        _default_pvc_spec(obj.get("spec"))
        status = obj.get("status")
        if isinstance(status, dict) and not status.get("phase"):
            status["phase"] = "Pending"

    def reset_status(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Pending"}

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_pvc_spec(obj.get("spec") or {}, Path("spec"))

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        errs = self.validate(obj)
        spec, old_spec = dict(obj.get("spec") or {}), dict(old.get("spec") or {})
        if not old_spec.get("volumeName"):
            if "volumeName" in spec:
                old_spec["volumeName"] = spec["volumeName"]
            else:
                old_spec.pop("volumeName", None)
        old_ann = ((old.get("metadata") or {}).get("annotations") or {}).get(BETA_CLASS_ANNOTATION)
        new_ann = ((obj.get("metadata") or {}).get("annotations") or {}).get(BETA_CLASS_ANNOTATION)
        if old_ann is not None and old_spec.get("storageClassName") is None and spec.get("storageClassName") == old_ann:
            spec.pop("storageClassName", None)
        else:
            errs.extend(immutable(new_ann, old_ann, Path("metadata", "annotations").key(BETA_CLASS_ANNOTATION)))
            if old_ann is None and old_spec.get("storageClassName") is None and spec.get("storageClassName"):
                spec.pop("storageClassName", None)
        for s in (spec, old_spec):      # requests may change; compare everything else
            res = dict(s.get("resources") or {})
            res.pop("requests", None)
            s["resources"] = res
        if not semantic_equal(spec, old_spec):
            errs.append(forbidden(Path("spec"), PVC_SPEC_IMMUTABLE + "\n"))
        new_size = parse((((obj.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage"))
        old_size = parse((((old.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage"))
        status_size = parse(((old.get("status") or {}).get("capacity") or {}).get("storage"))
        if new_size is not None and old_size is not None and new_size < old_size:
            if new_size.milli_value() <= (status_size.milli_value() if status_size is not None else 0):
                errs.append(forbidden(Path("spec", "resources", "requests", "storage"),
                                      "field can not be less than status.capacity"))
        errs.extend(immutable((obj.get("spec") or {}).get("volumeMode"), (old.get("spec") or {}).get("volumeMode"),
                              Path("volumeMode")))
        return errs

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        status = obj.get("status") or {}
        if status.get("accessModes"):
            errs.extend(_access_modes(status["accessModes"], Path("status", "accessModes")))
        for k, v in (status.get("capacity") or {}).items():
            errs.extend(validate_quantity_value(k, v, Path("status", "capacity").key(k))[1])
        return errs


def validate_pv(pv: Obj) -> list[FieldError]:
    spec = pv.get("spec") or {}
    path = Path("spec")
    errs: list[FieldError] = []
    modes = spec.get("accessModes") or []
    if not modes:
        errs.append(required(path.child("accessModes"), ""))
    errs.extend(_access_modes(modes, path.child("accessModes")))
    capacity = spec.get("capacity") or {}
    if not capacity:
        errs.append(required(path.child("capacity"), ""))
    if "storage" not in capacity or len(capacity) > 1:
        errs.append(not_supported(path.child("capacity"), capacity, ("storage",)))
    for k, v in capacity.items():
        cp = path.child("capacity").key(k)
        errs.extend(validate_positive_quantity(v, cp)[1])
    if spec.get("storageClassName"):
        errs.extend(dns_subdomain(spec["storageClassName"], path.child("storageClassName")))
    vm = spec.get("volumeMode")
    if vm is not None and vm not in VOLUME_MODES:
        errs.append(not_supported(path.child("volumeMode"), vm, VOLUME_MODES))
    policy = spec.get("persistentVolumeReclaimPolicy", "")
    if policy and policy not in RECLAIM_POLICIES:
        errs.append(not_supported(path.child("persistentVolumeReclaimPolicy"), policy, RECLAIM_POLICIES))
    affinity = spec.get("nodeAffinity")
    if affinity is not None and affinity.get("required") is not None:
        errs.extend(validate_node_selector(affinity["required"], path.child("nodeAffinity", "required")))
    local_errs = [e for e in validate_volume_source(spec, path, PV_SOURCES) if not e.field.startswith("spec.local.")]
    errs.extend(local_errs)
    hp = spec.get("hostPath")
    if hp is not None and posixpath.normpath(hp.get("path") or ".") == "/" and policy == "Recycle":
        errs.append(forbidden(path.child("persistentVolumeReclaimPolicy"), "may not be 'recycle' for a hostPath "
                                                                            "mount of '/'"))
    local = spec.get("local")
    if local is not None:
        if not local.get("path"):
            errs.append(required(path.child("local", "path"), ""))
        if affinity is None:
            errs.append(required(path.child("nodeAffinity"), "Local volume requires node affinity"))
    return errs


class PersistentVolumeStrategy(ClusterStrategy):
    has_status_subresource: ClassVar[bool] = True

    def default(self, obj: Obj) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict):
            if not spec.get("persistentVolumeReclaimPolicy"):
                spec["persistentVolumeReclaimPolicy"] = "Retain"
            if spec.get("volumeMode") is None:
                spec["volumeMode"] = "Filesystem"
            default_volume_source(spec)
        status = obj.get("status")
        if isinstance(status, dict) and not status.get("phase"):
            status["phase"] = "Pending"

    def reset_status(self, obj: Obj) -> None:
        from pybernetes.api.kinds.common import now_rfc3339
        obj["status"] = {"phase": "Pending", "lastPhaseTransitionTime": now_rfc3339()}

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_pv(obj)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        errs = validate_pv(obj)
        spec, old_spec = obj.get("spec") or {}, old.get("spec") or {}
        if not all(semantic_equal(spec.get(k), old_spec.get(k)) for k in PV_SOURCES):
            errs.append(forbidden(Path("spec", "persistentvolumesource"),
                                  "spec.persistentvolumesource is immutable after creation\n"))
        errs.extend(immutable(spec.get("volumeMode"), old_spec.get("volumeMode"), Path("volumeMode")))
        if old_spec.get("nodeAffinity") is not None:
            errs.extend(immutable(spec.get("nodeAffinity"), old_spec.get("nodeAffinity"), Path("nodeAffinity")))
        return errs

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return []

    def status_strategy(self) -> Strategy:
        return PersistentVolumeStatusStrategy(self)


class PersistentVolumeStatusStrategy(ClusterStrategy):
    """``persistentvolumes/status``: a phase change stamps ``lastPhaseTransitionTime`` (GA since 1.31)."""

    def __init__(self, main: PersistentVolumeStrategy) -> None:
        self.main = main

    def default(self, obj: Obj) -> None:
        self.main.default(obj)

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        from pybernetes.api.kinds.common import now_rfc3339
        from pybernetes.api.strategy import StatusStrategy
        StatusStrategy(self.main).prepare_for_update(obj, old)
        status = obj.get("status") or {}
        old_status = old.get("status") or {}
        if status.get("phase") != old_status.get("phase") and status.get("lastPhaseTransitionTime") == \
                old_status.get("lastPhaseTransitionTime"):
            status["lastPhaseTransitionTime"] = now_rfc3339()

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return []
