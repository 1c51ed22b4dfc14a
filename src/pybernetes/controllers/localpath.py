"""The local-path dynamic provisioner, as k3s ships it (rancher/local-path-provisioner): a PersistentVolume is a
directory on the node the claim's first consumer was scheduled to.

- The default StorageClass ``local-path`` (provisioner ``rancher.io/local-path``, ``WaitForFirstConsumer``,
  reclaim ``Delete``) is created when absent and annotated as the cluster default.
- A volume is named ``pvc-<claim uid>`` (as the external-provisioner library names them), is a ``hostPath``
  ``DirectoryOrCreate`` at ``/var/lib/pybernetes/storage/<volume>_<namespace>_<claim>``, pinned to the node by
  required node affinity on ``kubernetes.io/hostname``, sized and moded as the claim asked, and pre-bound to the
  claim so that the binder completes the bind.
- The directory is created by the node agent when a pod mounts the volume (``DirectoryOrCreate``) and removed by
  the node agent once the PersistentVolume is deleted; nothing here touches the file system, since the
  controller may run on another machine than the node.
"""

from __future__ import annotations

import posixpath
from typing import Any

Obj = dict[str, Any]

PROVISIONER = "rancher.io/local-path"
STORAGE_CLASS = "local-path"
BASE_PATH = "/var/lib/pybernetes/storage"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
BETA_DEFAULT_CLASS_ANNOTATION = "storageclass.beta.kubernetes.io/is-default-class"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
HOSTNAME_LABEL = "kubernetes.io/hostname"


def default_storage_class() -> Obj:
    """The StorageClass k3s installs: default, local-path, bound when a pod first uses the claim."""
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": STORAGE_CLASS, "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
            "provisioner": PROVISIONER, "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer"}


def is_default_class(sc: Obj) -> bool:
    ann = (sc.get("metadata") or {}).get("annotations") or {}
    return ann.get(DEFAULT_CLASS_ANNOTATION) == "true" or ann.get(BETA_DEFAULT_CLASS_ANNOTATION) == "true"


def volume_name(claim: Obj) -> str:
    return f"pvc-{(claim.get('metadata') or {}).get('uid', '')}"


def volume_path(claim: Obj, *, base: str = BASE_PATH) -> str:
    meta = claim.get("metadata") or {}
    return posixpath.join(base, f"{volume_name(claim)}_{meta.get('namespace', '')}_{meta.get('name', '')}")


def provision(claim: Obj, storage_class: Obj, hostname: str, *, base: str = BASE_PATH) -> Obj:
    """The PersistentVolume for ``claim`` on the node whose ``kubernetes.io/hostname`` label is ``hostname``,
    pre-bound to the claim."""
    meta = claim.get("metadata") or {}
    spec = claim.get("spec") or {}
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    return {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": volume_name(claim), "annotations": {PROVISIONED_BY: PROVISIONER}},
        "spec": {
            "capacity": {"storage": storage} if storage is not None else {},
            "hostPath": {"path": volume_path(claim, base=base), "type": "DirectoryOrCreate"},
            "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
            "claimRef": {"kind": "PersistentVolumeClaim", "namespace": meta.get("namespace", ""),
                         "name": meta.get("name", ""), "uid": meta.get("uid", ""), "apiVersion": "v1",
                         "resourceVersion": meta.get("resourceVersion", "")},
            "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy") or "Delete",
            "storageClassName": (storage_class.get("metadata") or {}).get("name", STORAGE_CLASS),
            "volumeMode": spec.get("volumeMode") or "Filesystem",
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": HOSTNAME_LABEL, "operator": "In", "values": [hostname]}]}]}},
        },
    }


def provision_error(claim: Obj) -> str | None:
    """Why the provisioner refuses the claim, in its own words, or None."""
    spec = claim.get("spec") or {}
    if spec.get("selector") is not None:
        return "claim.Spec.Selector is not supported"
    if spec.get("volumeMode") == "Block":
        return "Block volume mode is not supported"
    if not ((spec.get("resources") or {}).get("requests") or {}).get("storage"):
        return "claim has no storage request"
    return None
