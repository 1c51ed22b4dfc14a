"""Pod volume validation (upstream ``validateVolumes``/``validateVolumeSource`` and the per-source checks).

The in-tree sources people use (emptyDir, hostPath, secret, configMap, downwardAPI, projected,
persistentVolumeClaim, nfs, csi, ephemeral) are checked field by field; the legacy cloud sources are only
counted, so a volume still has to name exactly one source.
"""

from __future__ import annotations

import posixpath
from typing import Any

from pybernetes.api.field import FieldError, Path, duplicate, forbidden, invalid, not_supported, required
from pybernetes.api.kinds.common import dns_label, dns_subdomain
from pybernetes.api.kinds.resource_list import parse
from pybernetes.api.validation.known_valid import KnownValid

Obj = dict[str, Any]

# In the order upstream's validateVolumeSource checks them (the second one set is the one reported).
VOLUME_SOURCES = (
    "emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs", "iscsi",
    "glusterfs", "flocker", "persistentVolumeClaim", "rbd", "cinder", "cephfs", "quobyte", "downwardAPI", "fc",
    "flexVolume", "configMap", "azureFile", "vsphereVolume", "photonPersistentDisk", "portworxVolume", "azureDisk",
    "storageos", "projected", "scaleIO", "csi", "ephemeral", "image",
)
FILE_MODE_MSG = "must be a number between 0 and 0777 (octal), both inclusive"
HOST_PATH_TYPES = ("", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate",
                   "Socket")
STORAGE_MEDIA = ("", "HugePages", "Memory")
VOLUME_DOWNWARD_FIELDS = ("metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace",
                          "metadata.uid")
RESOURCE_FIELD_REFS = ("limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu",
                       "requests.ephemeral-storage", "requests.memory")


def no_backsteps(p: str, path: Path) -> list[FieldError]:
    parts = p.replace("\\", "/").split("/")
    if ".." in parts:
        return [invalid(path, p, "must not contain '..'")]
    return []


def local_descending_path(p: str, path: Path) -> list[FieldError]:
    """Upstream ``validateLocalDescendingPath``: relative, no '..' element."""
    errs = []
    if posixpath.isabs(p):
        errs.append(invalid(path, p, "must be a relative path"))
    errs.extend(no_backsteps(p, path))
    return errs


def local_non_reserved_path(p: str, path: Path) -> list[FieldError]:
    errs = local_descending_path(p, path)
    if p.startswith(".."):
        errs.append(invalid(path, p, "must not start with '..'"))
    return errs


def _file_mode(mode: Any, path: Path) -> list[FieldError]:
    if mode is not None and (not isinstance(mode, int) or mode < 0 or mode > 0o777):
        return [invalid(path, mode, FILE_MODE_MSG)]
    return []


def _key_to_paths(items: list | None, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, it in enumerate(items or ()):
        ip = path.index(i)
        if not it.get("key"):
            errs.append(required(ip.child("key"), ""))
        if not it.get("path"):
            errs.append(required(ip.child("path"), ""))
        errs.extend(local_non_reserved_path(it.get("path", ""), ip.child("path")))
        errs.extend(_file_mode(it.get("mode"), ip.child("mode")))
    return errs


def _downward_items(items: list | None, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, it in enumerate(items or ()):
        ip = path.index(i)
        if not it.get("path"):
            errs.append(required(ip.child("path"), ""))
        errs.extend(local_non_reserved_path(it.get("path", ""), ip.child("path")))
        errs.extend(_file_mode(it.get("mode"), ip.child("mode")))
        fref, rref = it.get("fieldRef"), it.get("resourceFieldRef")
        if fref is not None and rref is not None:
            errs.append(invalid(ip, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
        elif fref is not None:
            from pybernetes.api.kinds.container import validate_object_field_selector
            errs.extend(validate_object_field_selector(fref, VOLUME_DOWNWARD_FIELDS, ip.child("fieldRef")))
        elif rref is not None:
            if not rref.get("containerName"):
                errs.append(required(ip.child("resourceFieldRef", "containerName"), ""))
            res = rref.get("resource", "")
            if not res:
                errs.append(required(ip.child("resourceFieldRef", "resource"), ""))
            elif res not in RESOURCE_FIELD_REFS and not res.startswith(("limits.hugepages-", "requests.hugepages-")):
                errs.append(not_supported(ip.child("resourceFieldRef", "resource"), res, RESOURCE_FIELD_REFS))
        else:
            errs.append(required(ip, "one of fieldRef and resourceFieldRef is required"))
    return errs


_PROJECTED_VALID = KnownValid()


def _projected(src: Obj, path: Path) -> list[FieldError]:
    """Every Pod gets the same projected service-account token volume from admission: validated once."""
    key = _PROJECTED_VALID.key(src)
    if _PROJECTED_VALID.known(key):
        return []
    errs = _projected_errors(src, path)
    if not errs:
        _PROJECTED_VALID.add(key)
    return errs


def _projected_errors(src: Obj, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    all_paths: set[str] = set()
    for i, s in enumerate(src.get("sources") or ()):
        sp = path.child("sources").index(i)
        n = 0
        for key in ("secret", "configMap", "downwardAPI", "serviceAccountToken", "clusterTrustBundle",
                    "podCertificate"):
            if s.get(key) is None:
                continue
            n += 1
            if n > 1:
                errs.append(forbidden(sp, "may not specify more than 1 volume type per source"))
                continue
            v = s[key]
            kp = sp.child(key)
            if key in ("secret", "configMap"):
                if not v.get("name"):
                    errs.append(required(kp.child("name"), ""))
                errs.extend(_key_to_paths(v.get("items"), kp.child("items")))
                paths = [it.get("path", "") for it in v.get("items") or ()]
            elif key == "downwardAPI":
                errs.extend(_downward_items(v.get("items"), kp.child("items")))
                paths = [it.get("path", "") for it in v.get("items") or ()]
            elif key == "serviceAccountToken":
                exp = v.get("expirationSeconds", 3600)
                if isinstance(exp, int) and exp < 600:
                    errs.append(invalid(kp.child("expirationSeconds"), exp,
                                        "may not specify a duration less than 10 minutes"))
                elif isinstance(exp, int) and exp > 1 << 32:
                    errs.append(invalid(kp.child("expirationSeconds"), exp,
                                        "may not specify a duration larger than 2^32 seconds"))
                if not v.get("path"):
                    errs.append(required(kp.child("path"), ""))
                paths = [v.get("path", "")]
            else:
                paths = [v.get("path", "")]
            for p in paths:
                if p in all_paths and p:
                    errs.append(invalid(sp, p, "conflicting duplicate paths"))
                all_paths.add(p)
    errs.extend(_file_mode(src.get("defaultMode"), path.child("defaultMode")))
    return errs


def _source(vol: Obj, key: str, path: Path) -> list[FieldError]:
    s = vol[key]
    if not isinstance(s, dict):
        return []
    p = path.child(key)
    errs: list[FieldError] = []
    if key == "emptyDir":
        medium = s.get("medium", "")
        if medium not in STORAGE_MEDIA:
            errs.append(not_supported(p.child("medium"), medium, STORAGE_MEDIA))
        if s.get("sizeLimit") is not None:
            q = parse(s["sizeLimit"])
            if q is None or q.milli_value() < 0:
                errs.append(forbidden(p.child("sizeLimit"), "SizeLimit field must be a valid resource quantity"))
    elif key == "hostPath":
        hp = s.get("path", "")
        if not hp:
            errs.append(required(p.child("path"), ""))
        errs.extend(no_backsteps(hp, p.child("path")))
        t = s.get("type")
        if t is not None and t not in HOST_PATH_TYPES:
            errs.append(not_supported(p.child("type"), t, HOST_PATH_TYPES))
    elif key == "secret":
        if not s.get("secretName"):
            errs.append(required(p.child("secretName"), ""))
        errs.extend(_file_mode(s.get("defaultMode"), p.child("defaultMode")))
        errs.extend(_key_to_paths(s.get("items"), p.child("items")))
    elif key == "configMap":
        if not s.get("name"):
            errs.append(required(p.child("name"), ""))
        errs.extend(_file_mode(s.get("defaultMode"), p.child("defaultMode")))
        errs.extend(_key_to_paths(s.get("items"), p.child("items")))
    elif key == "downwardAPI":
        errs.extend(_file_mode(s.get("defaultMode"), p.child("defaultMode")))
        errs.extend(_downward_items(s.get("items"), p.child("items")))
    elif key == "projected":
        errs.extend(_projected(s, p))
    elif key == "persistentVolumeClaim":
        if not s.get("claimName"):
            errs.append(required(p.child("claimName"), ""))
    elif key == "nfs":
        if not s.get("server"):
            errs.append(required(p.child("server"), ""))
        if not s.get("path"):
            errs.append(required(p.child("path"), ""))
        elif not posixpath.isabs(s["path"]):
            errs.append(invalid(p.child("path"), s["path"], "must be an absolute path"))
    elif key == "csi":
        if not s.get("driver"):
            errs.append(required(p.child("driver"), ""))
        else:
            errs.extend(dns_subdomain(s["driver"].lower(), p.child("driver")))
    elif key == "gitRepo":
        if not s.get("repository"):
            errs.append(required(p.child("repository"), ""))
        errs.extend(no_backsteps(s.get("directory", ""), p.child("directory")))
    elif key == "ephemeral":
        tmpl = s.get("volumeClaimTemplate")
        if tmpl is None:
            errs.append(required(p.child("volumeClaimTemplate"), ""))
        else:
            from pybernetes.api.kinds.storage import validate_pvc_spec
            errs.extend(validate_pvc_spec(tmpl.get("spec") or {}, p.child("volumeClaimTemplate", "spec")))
    return errs


_SOURCE_SET = frozenset(VOLUME_SOURCES)


def validate_volume_source(vol: Obj, path: Path, keys: tuple[str, ...] = VOLUME_SOURCES) -> list[FieldError]:
    if keys is VOLUME_SOURCES:
        # A volume names one source among its own two or three keys: found without probing all 30 names.
        # Any other count takes the ordered walk below (which source is reported as the extra one matters).
        found = [k for k in vol if k in _SOURCE_SET and vol[k] is not None]
        if len(found) == 1:
            return _source(vol, found[0], path)
    errs: list[FieldError] = []
    n = 0
    for key in keys:
        if vol.get(key) is None:
            continue
        if n > 0:
            errs.append(forbidden(path.child(key), "may not specify more than 1 volume type"))
            continue
        n += 1
        errs.extend(_source(vol, key, path))
    if n == 0:
        errs.append(required(path, "must specify a volume type"))
    return errs


def validate_volumes(volumes: list | None, path: Path) -> tuple[dict[str, Obj], list[FieldError]]:
    """Returns the valid volumes by name (what mounts may refer to) and the errors."""
    errs: list[FieldError] = []
    by_name: dict[str, Obj] = {}
    for i, vol in enumerate(volumes or ()):
        ip = path.index(i)
        np = ip.child("name")
        el = validate_volume_source(vol, ip)
        name = vol.get("name", "")
        if not name:
            el.append(required(np, ""))
        else:
            el.extend(dns_label(name, np))
        if name in by_name:
            el.append(duplicate(np, name))
        if el:
            errs.extend(el)
        else:
            by_name[name] = vol
    return by_name, errs
