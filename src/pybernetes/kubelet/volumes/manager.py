"""Setting up, refreshing and tearing down a pod's volumes on a real node (upstream's volume manager and the
in-tree plugins for emptyDir, hostPath, configMap, secret, downwardAPI, projected and persistentVolumeClaim).

Layout as upstream's kubelet: ``<root>/<pod uid>/volumes/kubernetes.io~<plugin>/<volume>``; hostPath and
PersistentVolume paths are used where they are. ``emptyDir`` with ``medium: Memory`` is a tmpfs (``sizeLimit`` as
its size); Secret and projected volumes are tmpfs too when the agent runs as root, so secrets never reach the
disk. ConfigMap, Secret, downward API and projected volumes are written with the atomic writer and rewritten by
:meth:`VolumeManager.refresh` (the pod worker calls it periodically), which is how an updated ConfigMap or a
rotated token reaches a running pod. A PersistentVolumeClaim is followed to its bound PersistentVolume; its
``hostPath`` (the local-path provisioner's ``DirectoryOrCreate`` directories, made world-writable as the
provisioner makes them) or ``local`` path is mounted. With ``securityContext.fsGroup`` the pod's emptyDir and
projected-kind volumes are given to that group (upstream ``SetVolumeOwnership``), tokens written 0600 first.

Failures are :class:`VolumeError`, whose text is upstream's ``FailedMount`` event message.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pathlib
import shutil
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from pybernetes.controllers.localpath import PROVISIONED_BY
from pybernetes.controllers.localpath import PROVISIONER as LOCAL_PATH_PROVISIONER
from pybernetes.kubelet.volumes.atomic import PayloadError, write_payload
from pybernetes.kubelet.volumes.hostpath import check_host_path, set_volume_ownership
from pybernetes.kubelet.volumes.projection import (
    MountError,
    Payload,
    TokenSpec,
    configmap_payload,
    downward_payload,
    projected_payload,
    referenced_names,
    secret_payload,
)
from pybernetes.kubelet.volumes.tokens import TokenManager

log = logging.getLogger(__name__)
Obj = dict[str, Any]
PLUGIN_DIRS = {"emptyDir": "kubernetes.io~empty-dir", "configMap": "kubernetes.io~configmap",
               "secret": "kubernetes.io~secret", "downwardAPI": "kubernetes.io~downward-api",
               "projected": "kubernetes.io~projected"}
ATOMIC = ("configMap", "secret", "downwardAPI", "projected")


class VolumeError(Exception):
    def __init__(self, volume: str, message: str) -> None:
        self.volume = volume
        self.detail = message
        super().__init__(f'MountVolume.SetUp failed for volume "{volume}" : {message}')


class VolumeAPI(Protocol):
    """The API reads volumes need (None: the object does not exist)."""

    async def configmap(self, namespace: str, name: str) -> Obj | None: ...
    async def secret(self, namespace: str, name: str) -> Obj | None: ...
    async def pvc(self, namespace: str, name: str) -> Obj | None: ...
    async def pv(self, name: str) -> Obj | None: ...
    async def request_token(self, namespace: str, service_account: str, body: Obj) -> Obj: ...


def volume_kind(volume: Obj) -> str:
    for k in volume:
        if k != "name":
            return str(k)
    return ""


def pv_path(pv: Obj) -> tuple[str, str | None]:
    """A PersistentVolume's node path and hostPath type (``local`` volumes must exist: type ``Directory``...
    upstream accepts a file or directory, so no type check)."""
    spec = pv.get("spec") or {}
    if (hp := spec.get("hostPath")) is not None:
        return hp.get("path", ""), hp.get("type") or ""
    if (local := spec.get("local")) is not None:
        return local.get("path", ""), None
    raise MountError(f"persistent volume {(pv.get('metadata') or {}).get('name', '')} has a source this node "
                     "cannot mount (only hostPath and local)")


def _mounts_under(prefix: str) -> list[str]:
    """Mount points at or below ``prefix`` (deepest first), from /proc/self/mountinfo."""
    out = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                point = line.split(" ")[4].encode().decode("unicode_escape")
                if point == prefix or point.startswith(prefix.rstrip("/") + "/"):
                    out.append(point)
    except OSError:
        return []
    return sorted(out, key=len, reverse=True)


class VolumeManager:
    def __init__(self, *, root: pathlib.Path | str, api: VolumeAPI, tokens: TokenManager,
                 allocatable: Mapping[str, str] | None = None, tmpfs: bool | None = None) -> None:
        self.root = pathlib.Path(root)
        self.api = api
        self.tokens = tokens
        self.allocatable = dict(allocatable or {})
        self.tmpfs = os.geteuid() == 0 if tmpfs is None else tmpfs
        self._mounted: set[str] = set()

    def pod_dir(self, uid: str) -> pathlib.Path:
        return self.root / uid

    def volume_dir(self, uid: str, kind: str, name: str) -> pathlib.Path:
        return self.pod_dir(uid) / "volumes" / PLUGIN_DIRS[kind] / name

    # ------------------------------------------------------------------ setup
    async def setup(self, pod: Obj, *, pod_ips: tuple[str, ...] = (), host_ips: tuple[str, ...] = ()
                    ) -> dict[str, str]:
        """Set up every volume of the pod; returns volume name → host path. Raises VolumeError for the first
        volume that fails (the others stay set up; setup is idempotent and is simply called again)."""
        uid = (pod.get("metadata") or {}).get("uid", "")
        out: dict[str, str] = {}
        for vol in (pod.get("spec") or {}).get("volumes") or ():
            name = vol.get("name", "")
            try:
                out[name] = await self._setup_one(pod, uid, vol, pod_ips=pod_ips, host_ips=host_ips)
            except MountError as e:
                raise VolumeError(name, str(e)) from None
            except (OSError, PayloadError) as e:
                raise VolumeError(name, str(e)) from None
        return out

    async def _setup_one(self, pod: Obj, uid: str, vol: Obj, *, pod_ips: tuple[str, ...],
                         host_ips: tuple[str, ...]) -> str:
        kind = volume_kind(vol)
        name = vol.get("name", "")
        if kind == "hostPath":
            hp = vol["hostPath"] or {}
            await asyncio.to_thread(check_host_path, hp.get("path", ""), hp.get("type"))
            return str(hp.get("path", ""))
        if kind == "persistentVolumeClaim":
            return await self._pvc_path(pod, vol["persistentVolumeClaim"] or {})
        fs_group = fs_group_of(pod)
        if kind == "emptyDir":
            d = self.volume_dir(uid, kind, name)
            src = vol["emptyDir"] or {}
            await asyncio.to_thread(_make_dir, d, 0o777)
            if src.get("medium") == "Memory":
                await self._tmpfs(d, size=src.get("sizeLimit"), mode="0777")
            if fs_group is not None:
                await asyncio.to_thread(set_volume_ownership, str(d), fs_group, read_only=False)
            return str(d)
        if kind in ATOMIC:
            d = self.volume_dir(uid, kind, name)
            await asyncio.to_thread(_make_dir, d, 0o755)
            if kind in ("secret", "projected") and self.tmpfs:
                await self._tmpfs(d, size=None, mode="0755")
            payload = await self.payload(pod, vol, pod_ips=pod_ips, host_ips=host_ips)
            await asyncio.to_thread(write_payload, d, payload, set_perms=_perms(fs_group))
            if fs_group is not None:
                await asyncio.to_thread(set_volume_ownership, str(d), fs_group, read_only=True)
            return str(d)
        raise MountError(f"volume type {kind!r} is not supported on this node")

    async def payload(self, pod: Obj, vol: Obj, *, pod_ips: tuple[str, ...] = (),
                      host_ips: tuple[str, ...] = ()) -> Payload:
        """The files of a configMap/secret/downwardAPI/projected volume now."""
        ns = (pod.get("metadata") or {}).get("namespace", "")
        kind = volume_kind(vol)
        cm_names, secret_names = referenced_names(vol)
        cms = {n: await self.api.configmap(ns, n) for n in cm_names}
        secs = {n: await self.api.secret(ns, n) for n in secret_names}
        if kind == "configMap":
            src = vol["configMap"] or {}
            return configmap_payload(src, cms.get(src.get("name", "")))
        if kind == "secret":
            src = vol["secret"] or {}
            return secret_payload(src, secs.get(src.get("secretName", "")))
        if kind == "downwardAPI":
            src = vol["downwardAPI"] or {}
            return downward_payload(src.get("items"), pod, default_mode=int(src.get("defaultMode") or 0o644),
                                    pod_ips=pod_ips, host_ips=host_ips, allocatable=self.allocatable)
        src = vol["projected"] or {}
        tokens: dict[TokenSpec, str] = {}
        for s in src.get("sources") or ():
            if (tok := s.get("serviceAccountToken")) is not None:
                spec = TokenSpec(audience=tok.get("audience") or "",
                                 expiration_seconds=int(tok.get("expirationSeconds") or 3600))
                tokens[spec] = await self.tokens.get(pod, spec)
        return projected_payload(src, pod, configmaps=cms, secrets=secs, token=tokens.__getitem__,
                                 pod_ips=pod_ips, host_ips=host_ips, allocatable=self.allocatable,
                                 token_mode=0o600 if fs_group_of(pod) is not None else None)

    async def _pvc_path(self, pod: Obj, src: Obj) -> str:
        ns = (pod.get("metadata") or {}).get("namespace", "")
        claim = src.get("claimName", "")
        pvc = await self.api.pvc(ns, claim)
        if pvc is None:
            raise MountError(f'persistentvolumeclaim "{claim}" not found')
        pv_name = (pvc.get("spec") or {}).get("volumeName") or ""
        if not pv_name or (pvc.get("status") or {}).get("phase") != "Bound":
            raise MountError(f"error processing PVC {ns}/{claim}: PVC is not bound")
        pv = await self.api.pv(pv_name)
        if pv is None:
            raise MountError(f'persistentvolume "{pv_name}" not found')
        path, kind = pv_path(pv)
        annotations = (pv.get("metadata") or {}).get("annotations") or {}
        if annotations.get(PROVISIONED_BY) == LOCAL_PATH_PROVISIONER:
            # the local-path provisioner's directories are world-writable (its setup script: mkdir -m 0777)
            await asyncio.to_thread(_make_missing_dir, path, 0o777)
        if kind is None:
            if not await asyncio.to_thread(os.path.exists, path):
                raise MountError(f"path {path!r} does not exist")
        else:
            await asyncio.to_thread(check_host_path, path, kind)
        return path

    async def _tmpfs(self, path: pathlib.Path, *, size: str | None, mode: str) -> None:
        key = str(path)
        if key in self._mounted or await asyncio.to_thread(os.path.ismount, key):
            self._mounted.add(key)
            return
        opts = f"mode={mode}" + (f",size={_size_bytes(size)}" if size else "")
        proc = await asyncio.create_subprocess_exec("mount", "-t", "tmpfs", "-o", opts, "tmpfs", key,
                                                    stdout=asyncio.subprocess.DEVNULL,
                                                    stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate()
        if proc.returncode != 0:
            raise MountError(f"mount failed: {err.decode(errors='replace').strip()}")
        self._mounted.add(key)

    # ------------------------------------------------------------------ refresh and teardown
    async def refresh(self, pod: Obj, *, pod_ips: tuple[str, ...] = (), host_ips: tuple[str, ...] = ()) -> int:
        """Rewrite the pod's configMap/secret/downwardAPI/projected volumes from the current objects (a no-op
        for unchanged ones). Returns how many changed; failures are logged and leave the old files."""
        uid = (pod.get("metadata") or {}).get("uid", "")
        changed = 0
        for vol in (pod.get("spec") or {}).get("volumes") or ():
            kind = volume_kind(vol)
            if kind not in ATOMIC:
                continue
            d = self.volume_dir(uid, kind, vol.get("name", ""))
            if not await asyncio.to_thread(d.is_dir):
                continue
            try:
                payload = await self.payload(pod, vol, pod_ips=pod_ips, host_ips=host_ips)
                changed += bool(await asyncio.to_thread(write_payload, d, payload,
                                                        set_perms=_perms(fs_group_of(pod))))
            except (MountError, OSError, PayloadError) as e:
                log.warning("volume refresh failed", extra={"pod_uid": uid, "volume": vol.get("name"),
                                                            "error": str(e)})
        return changed

    async def teardown(self, uid: str) -> None:
        """Unmount what was mounted for the pod and remove its directory (volumes included; hostPath and
        PersistentVolume data are elsewhere and stay)."""
        self.tokens.forget(uid)
        d = self.pod_dir(uid)
        for point in await asyncio.to_thread(_mounts_under, str(d)):
            proc = await asyncio.create_subprocess_exec("umount", "-l", point, stdout=asyncio.subprocess.DEVNULL,
                                                        stderr=asyncio.subprocess.DEVNULL)
            await proc.wait()
            self._mounted.discard(point)
        await asyncio.to_thread(shutil.rmtree, d, True)

    def known_pods(self) -> Iterable[str]:
        try:
            return [p.name for p in self.root.iterdir() if p.is_dir()]
        except OSError:
            return []


def fs_group_of(pod: Obj) -> int | None:
    value = ((pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup")
    return int(value) if value is not None else None


def _perms(fs_group: int | None) -> Callable[[pathlib.Path], None] | None:
    if fs_group is None:
        return None
    return lambda path: set_volume_ownership(str(path), fs_group, read_only=True)


def _make_missing_dir(path: str, mode: int) -> None:
    if not os.path.lexists(path):
        os.makedirs(path, exist_ok=True)
        os.chmod(path, mode)


def _make_dir(path: pathlib.Path, mode: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, mode)


def _size_bytes(size: str) -> int:
    from pybernetes.api.quantity import parse_quantity
    return max(parse_quantity(size).value(), 4096)
