"""The node's half of the local-path provisioner (``pybernetes.controllers.localpath``): the controller only
writes PersistentVolumes; the node creates a volume's directory when a pod first mounts it (``DirectoryOrCreate``)
and removes it here, once the PersistentVolume is deleted (reclaim policy ``Delete``). Only directories of PVs
provisioned by local-path, pinned to this node and under the provisioner's base path are ever removed."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from typing import Any

from pybernetes.controllers.localpath import BASE_PATH, HOSTNAME_LABEL, PROVISIONED_BY, PROVISIONER

log = logging.getLogger(__name__)
Obj = dict[str, Any]


def pinned_hostnames(pv: Obj) -> set[str]:
    """The ``kubernetes.io/hostname`` values of a PV's required node affinity."""
    out: set[str] = set()
    required = (((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {})
    for term in required.get("nodeSelectorTerms") or ():
        for expr in term.get("matchExpressions") or ():
            if expr.get("key") == HOSTNAME_LABEL and expr.get("operator") == "In":
                out.update(expr.get("values") or ())
    return out


def cleanup_path(pv: Obj, *, hostname: str, base: str = BASE_PATH) -> str | None:
    """The directory to remove for a deleted PV, or None when it is not this node's local-path volume."""
    meta, spec = pv.get("metadata") or {}, pv.get("spec") or {}
    if (meta.get("annotations") or {}).get(PROVISIONED_BY) != PROVISIONER:
        return None
    if spec.get("persistentVolumeReclaimPolicy", "Delete") != "Delete":
        return None
    if hostname not in pinned_hostnames(pv):
        return None
    path = ((spec.get("hostPath") or spec.get("local") or {}).get("path")) or ""
    norm = os.path.normpath(path)
    if not path or os.path.dirname(norm) != os.path.normpath(base):
        return None
    return norm


async def remove_volume_dir(pv: Obj, *, hostname: str, base: str = BASE_PATH) -> bool:
    path = cleanup_path(pv, hostname=hostname, base=base)
    if path is None:
        return False
    await asyncio.to_thread(shutil.rmtree, path, True)
    log.info("removed local-path volume directory", extra={"pv": (pv.get("metadata") or {}).get("name"),
                                                          "path": path})
    return True
