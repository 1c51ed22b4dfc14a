"""storage.k8s.io/v1: StorageClass, CSIDriver, CSINode, VolumeAttachment (upstream ``pkg/apis/storage``).

(PersistentVolumes and claims, core kinds, live in ``storage.py``.) A StorageClass's provisioner, parameters and
reclaim policy are frozen: volumes already provisioned from the class were made with them, and a silent change would
make new volumes differ from old ones of "the same" class. A VolumeAttachment's spec is frozen too; only the
attacher writes its status.
"""

from __future__ import annotations

from typing import Any

from pybernetes.api.field import FieldError, Path, duplicate, forbidden, invalid, not_supported, required, too_long
from pybernetes.api.kinds.fieldchecks import immutable, non_negative
from pybernetes.api.strategy import Obj, Strategy
from pybernetes.api.validation.names import dns1123_subdomain, qualified_name

RECLAIM_POLICIES = ("Delete", "Retain")
BINDING_MODES = ("Immediate", "WaitForFirstConsumer")
FS_GROUP_POLICIES = ("File", "None", "ReadWriteOnceWithFSType")
LIFECYCLE_MODES = ("Ephemeral", "Persistent")
MAX_PARAMETERS = 512
MAX_PARAMETERS_SIZE = 256 * 1024
MAX_DRIVER_NAME = 63
MAX_NODE_ID = 256
MIN_TOKEN_SECONDS = 600
MAX_TOKEN_SECONDS = 1 << 32


# ---------------------------------------------------------------- StorageClass


def default_storage_class(obj: Obj) -> None:
    if obj.get("reclaimPolicy") is None:
        obj["reclaimPolicy"] = "Delete"
    if obj.get("volumeBindingMode") is None:
        obj["volumeBindingMode"] = "Immediate"


def _parameters(params: dict[str, str] | None, path: Path) -> list[FieldError]:
    params = params or {}
    if len(params) > MAX_PARAMETERS:
        return [too_long(path, "Provisioner Parameters exceeded max allowed", MAX_PARAMETERS)]
    errs: list[FieldError] = []
    total = 0
    for k, v in params.items():
        if not k:
            errs.append(invalid(path, k, "field can not be empty."))
        total += len(k) + len(v or "")
    if total > MAX_PARAMETERS_SIZE:
        errs.append(too_long(path, "", MAX_PARAMETERS_SIZE))
    return errs


def _topologies(terms: list[Any] | None, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, term in enumerate(terms or []):
        exprs = (term or {}).get("matchLabelExpressions") or []
        tpath = path.index(i).child("matchLabelExpressions")
        keys: set[str] = set()
        for j, req in enumerate(exprs):
            req = req or {}
            rpath = tpath.index(j)
            key = req.get("key", "")
            errs += [invalid(rpath.child("key"), key, m) for m in qualified_name(key)]
            if not req.get("values"):
                errs.append(required(rpath.child("values"), "must specify as least one value"))
            if key in keys:
                errs.append(duplicate(rpath.child("key"), key))
            keys.add(key)
    return errs


def validate_storage_class(obj: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    prov = obj.get("provisioner", "")
    if not prov:
        errs.append(required("provisioner"))
    else:
        errs += [invalid("provisioner", prov.lower(), m) for m in qualified_name(prov.lower())]
    errs += _parameters(obj.get("parameters"), Path("parameters"))
    policy = obj.get("reclaimPolicy")
    if policy and policy not in RECLAIM_POLICIES:
        errs.append(not_supported("reclaimPolicy", policy, list(RECLAIM_POLICIES)))
    mode = obj.get("volumeBindingMode")
    if mode is None:
        errs.append(required("volumeBindingMode"))
    elif mode not in BINDING_MODES:
        errs.append(not_supported("volumeBindingMode", mode, list(BINDING_MODES)))
    errs += _topologies(obj.get("allowedTopologies"), Path("allowedTopologies"))
    return errs


class StorageClassStrategy(Strategy):
    def default(self, obj: Obj) -> None:
        default_storage_class(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_storage_class(obj)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        if (obj.get("parameters") or {}) != (old.get("parameters") or {}):
            errs.append(forbidden("parameters", "updates to parameters are forbidden."))
        if obj.get("provisioner", "") != old.get("provisioner", ""):
            errs.append(forbidden("provisioner", "updates to provisioner are forbidden."))
        if obj.get("reclaimPolicy") != old.get("reclaimPolicy"):
            errs.append(forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
        errs += immutable(obj.get("volumeBindingMode"), old.get("volumeBindingMode"), "volumeBindingMode")
        return errs


# ---------------------------------------------------------------- CSIDriver and CSINode


def driver_name_errors(name: str, path: Path | str) -> list[FieldError]:
    """``ValidateCSIDriverName``: a DNS subdomain (case-insensitive) of at most 63 characters."""
    errs: list[FieldError] = []
    if not name:
        errs.append(required(path))
    if len(name) > MAX_DRIVER_NAME:
        errs.append(too_long(path, name, MAX_DRIVER_NAME))
    errs += [invalid(path, name, m) for m in dns1123_subdomain(name.lower())] if name else []
    return errs


def default_csi_driver(obj: Obj) -> None:
    """``SetDefaults_CSIDriver`` (SELinuxMountReadWriteOncePod is on in 1.33, so ``seLinuxMount`` defaults too)."""
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    for key, value in (("attachRequired", True), ("podInfoOnMount", False), ("storageCapacity", False),
                       ("fsGroupPolicy", "ReadWriteOnceWithFSType")):
        if spec.get(key) is None:
            spec[key] = value
    if not spec.get("volumeLifecycleModes"):
        spec["volumeLifecycleModes"] = ["Persistent"]
    if spec.get("requiresRepublish") is None:
        spec["requiresRepublish"] = False
    if spec.get("seLinuxMount") is None:
        spec["seLinuxMount"] = False


def _token_requests(requests: list[Any] | None, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    audiences: set[str] = set()
    for i, req in enumerate(requests or []):
        req = req or {}
        aud = req.get("audience", "")
        if aud in audiences:
            errs.append(duplicate(path.index(i).child("audience"), aud))
        audiences.add(aud)
        secs = req.get("expirationSeconds")
        if secs is not None:
            spath = path.index(i).child("expirationSeconds")
            if secs < MIN_TOKEN_SECONDS:
                errs.append(invalid(spath, secs, "may not specify a duration less than 10 minutes"))
            if secs > MAX_TOKEN_SECONDS:
                errs.append(invalid(spath, secs, "may not specify a duration larger than 2^32 seconds"))
    return errs


def validate_csi_driver(obj: Obj) -> list[FieldError]:
    errs = driver_name_errors((obj.get("metadata") or {}).get("name") or "", "name")
    spec = obj.get("spec") or {}
    path = Path("spec")
    for key in ("attachRequired", "podInfoOnMount", "storageCapacity", "requiresRepublish", "seLinuxMount"):
        if spec.get(key) is None:
            errs.append(required(path.child(key)))
    policy = spec.get("fsGroupPolicy")
    if policy is not None and policy not in FS_GROUP_POLICIES:
        errs.append(not_supported(path.child("fsGroupPolicy"), policy, list(FS_GROUP_POLICIES)))
    for i, mode in enumerate(spec.get("volumeLifecycleModes") or []):
        if mode not in LIFECYCLE_MODES:
            errs.append(not_supported(path.child("volumeLifecycleModes").index(i), mode, list(LIFECYCLE_MODES)))
    errs += _token_requests(spec.get("tokenRequests"), path.child("tokenRequests"))
    return errs


class CSIDriverStrategy(Strategy):
    def default(self, obj: Obj) -> None:
        default_csi_driver(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_csi_driver(obj)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        spec, old_spec = obj.get("spec") or {}, old.get("spec") or {}
        # Upstream's path really says "attachedRequired".
        return validate_csi_driver(obj) + \
            immutable(spec.get("attachRequired"), old_spec.get("attachRequired"), Path("spec", "attachedRequired")) + \
            immutable(spec.get("volumeLifecycleModes"), old_spec.get("volumeLifecycleModes"),
                      Path("spec", "volumeLifecycleModes"))


def validate_csi_node(obj: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    path = Path("spec", "drivers")
    names: set[str] = set()
    for i, d in enumerate((obj.get("spec") or {}).get("drivers") or []):
        d = d or {}
        ipath = path.index(i)
        name = d.get("name", "")
        errs += driver_name_errors(name, ipath.child("name"))
        if name in names:
            errs.append(duplicate(ipath.child("name"), name))
        names.add(name)
        node_id = d.get("nodeID", "")
        if not node_id:
            errs.append(required(ipath.child("nodeID"), "nodeID of the driver must be defined"))
        elif len(node_id) > MAX_NODE_ID:
            errs.append(invalid(ipath.child("nodeID"), node_id, f"must be {MAX_NODE_ID} characters or less"))
        keys: set[str] = set()
        for j, key in enumerate(d.get("topologyKeys") or []):
            kpath = ipath.child("topologyKeys").index(j)
            if not key:
                errs.append(required(kpath))
            else:
                errs += [invalid(kpath, key, m) for m in qualified_name(key)]
            if key in keys:
                errs.append(duplicate(kpath, key))
            keys.add(key)
        errs += non_negative((d.get("allocatable") or {}).get("count"), ipath.child("allocatable", "count"))
    return errs


class CSINodeStrategy(Strategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_csi_node(obj)


# ---------------------------------------------------------------- VolumeAttachment


def validate_volume_attachment(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    path = Path("spec")
    errs: list[FieldError] = []
    attacher = spec.get("attacher", "")
    if not attacher:
        errs.append(required(path.child("attacher")))
    else:
        errs += driver_name_errors(attacher, path.child("attacher"))
    source = spec.get("source") or {}
    has_pv, has_inline = source.get("persistentVolumeName") is not None, source.get("inlineVolumeSpec") is not None
    if has_pv == has_inline:
        errs.append(required(path.child("source"),
                             "must specify exactly one of inlineVolumeSpec and persistentVolumeName"))
    elif has_pv and not source["persistentVolumeName"]:
        errs.append(required(path.child("source", "persistentVolumeName"),
                             "must specify non empty persistentVolumeName"))
    node = spec.get("nodeName", "")
    if not node:
        errs.append(required(path.child("nodeName")))
    else:
        errs += [invalid(path.child("nodeName"), node, m) for m in dns1123_subdomain(node)]
    return errs


class VolumeAttachmentStrategy(Strategy):
    has_status_subresource = True

    def reset_status(self, obj: Obj) -> None:
        """The status a real server stores at create: Go's zero status, non-omitempty fields included."""
        obj["status"] = {"attached": False}

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_volume_attachment(obj)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        errs = validate_volume_attachment(obj)
        if obj.get("spec") != old.get("spec"):
            errs.append(invalid("spec", obj.get("spec"), "field is immutable"))
        return errs
