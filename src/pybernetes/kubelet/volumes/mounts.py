"""A container's ``volumeMounts`` as runtime mounts (upstream ``makeMounts`` in ``kubelet_pods.go``).

``subPath`` mounts a path inside the volume, ``subPathExpr`` the same after ``$(VAR)`` expansion from the
container's environment (a variable that is missing or empty fails). A sub path must be relative, without
``..``, and must resolve — symlinks followed — to a place inside the volume; a missing one is created as a
directory with the volume's mode. ConfigMap, Secret, downward API and projected volumes are always mounted
read-only, as their plugins say. Errors are :class:`~pybernetes.kubelet.env.ConfigError`: the container waits in
``CreateContainerConfigError``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from pybernetes.kubelet.env import ConfigError, expand
from pybernetes.kubelet.runtime.interface import Mount

Obj = dict[str, Any]
READ_ONLY_SOURCES = ("configMap", "secret", "downwardAPI", "projected")
PROPAGATION = {"None": "None", "HostToContainer": "HostToContainer", "Bidirectional": "Bidirectional"}


def expand_sub_path(expr: str, env: Sequence[tuple[str, str]]) -> str:
    values = dict(env)
    missing: set[str] = set()

    def lookup(key: str) -> str:
        v = values.get(key, "")
        if not v:
            missing.add(key)
        return v

    out = expand(expr, lookup)
    if missing:
        raise ConfigError(f"missing value for {', '.join(sorted(missing))}")
    return out


def _inside(path: str, root: str) -> bool:
    real, base = os.path.realpath(path), os.path.realpath(root)
    return real == base or real.startswith(base.rstrip("/") + "/")


def sub_path_host_path(volume_path: str, sub_path: str, *, mount_name: str, container: str) -> str:
    """The host path of ``sub_path`` inside ``volume_path``, created as a directory if missing. Blocking."""
    if os.path.isabs(sub_path):
        raise ConfigError(f"error SubPath `{sub_path}` must not be an absolute path")
    if ".." in sub_path.split("/"):
        raise ConfigError(f"unable to provision SubPath `{sub_path}`: must not contain '..'")
    host = os.path.join(volume_path, sub_path)
    if not os.path.lexists(host):
        if not _inside(os.path.dirname(host) or volume_path, volume_path):
            raise ConfigError(f'failed to create subPath directory for volumeMount "{mount_name}" of container '
                              f'"{container}"')
        try:
            os.makedirs(host, mode=os.stat(volume_path).st_mode & 0o7777, exist_ok=True)
        except OSError:
            raise ConfigError(f'failed to create subPath directory for volumeMount "{mount_name}" of container '
                              f'"{container}"') from None
    if not _inside(host, volume_path):
        raise ConfigError(f'failed to prepare subPath for volumeMount "{mount_name}" of container "{container}"')
    return os.path.realpath(host)


def container_mounts(pod: Obj, container: Obj, volume_paths: Mapping[str, str], *,
                     env: Sequence[tuple[str, str]] = ()) -> tuple[Mount, ...]:
    """The runtime mounts for ``container``; ``volume_paths`` maps each set-up volume to its host path.
    Blocking (sub paths touch the file system)."""
    sources = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or ()}
    name = container.get("name", "")
    out: list[Mount] = []
    for vm in container.get("volumeMounts") or ():
        vol = vm.get("name", "")
        host = volume_paths.get(vol)
        if host is None:
            raise ConfigError(f'cannot find volume "{vol}" to mount into container "{name}"')
        sub = vm.get("subPath") or ""
        if vm.get("subPathExpr"):
            sub = expand_sub_path(vm["subPathExpr"], env)
        if sub:
            host = sub_path_host_path(host, sub, mount_name=vol, container=name)
        source = sources.get(vol) or {}
        forced_ro = any(k in source for k in READ_ONLY_SOURCES)
        out.append(Mount(container_path=vm.get("mountPath", ""), host_path=host,
                         read_only=bool(vm.get("readOnly")) or forced_ro,
                         propagation=PROPAGATION.get(vm.get("mountPropagation") or "None", "None")))
    return tuple(out)
