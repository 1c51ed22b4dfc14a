"""The node's image store: content-addressed blobs, unpacked layers and the names that point at them.

Layout under ``root`` (the agent's ``<data-dir>/images``)::

    blobs/sha256/<hex>                 manifests, indexes, configs, layer archives — each verified before it lands
    layers/sha256/<diffid hex>/fs      one directory per unpacked layer (an overlayfs lowerdir), shared by images
    index.json                         names → (target digest, manifest digest); manifests → config and layers
    tmp/                               downloads and unpacks in progress (renamed into place when complete)

Everything is written to ``tmp/`` and renamed into place, so a crash never leaves a half blob or half layer
under its final name, and two processes (the agent and ``pybernetes images import``) racing to add the same
content both succeed: the second rename finds the work done. A layer is unpacked once per diffID whatever number
of images or pods use it (a lock per diffID inside the process, the rename across processes).

The image ID is the config digest, as Docker and containerd have it; the *repo digest* (a container's
``imageID``) is ``<repository>@<digest the name resolved to>`` — the index digest for multi-platform images,
which is what ``docker pull`` prints and what a pod can pin.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import shutil
import stat
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from pybernetes.kubelet.images.manifest import check_digest, digest_hex, sha256_digest
from pybernetes.kubelet.images.reference import InvalidReference, parse
from pybernetes.kubelet.images.unpack import UnpackError, apply_layer
from pybernetes.kubelet.runtime.interface import ImageRef

log = logging.getLogger(__name__)
INDEX_VERSION = 1
STALE_TMP_SECONDS = 3600.0
PRUNE_GRACE_SECONDS = 600.0


class StoreError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Layer:
    digest: str                        # the blob as fetched (compressed)
    diff_id: str                       # the uncompressed tar's digest: names the unpacked directory
    media_type: str
    size: int


@dataclass(frozen=True, slots=True)
class Image:
    manifest_digest: str
    media_type: str
    config_digest: str                 # the image ID
    layers: tuple[Layer, ...]
    size: int                          # manifest + config + layer blobs, as CRI reports an image's size
    names: tuple[str, ...] = ()        # normalised references pointing here (tags, or digests when pulled so)
    repo_digests: tuple[str, ...] = ()  # repository@digest for each name

    @property
    def id(self) -> str:
        return self.config_digest


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """What a runtime needs from an image config (``config`` of the OCI image config)."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    working_dir: str = ""
    user: str = ""
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    stop_signal: str = ""
    os: str = ""
    architecture: str = ""

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ImageConfig:
        c = doc.get("config") or {}

        def strings(v: object) -> tuple[str, ...]:
            return tuple(str(x) for x in v) if isinstance(v, list) else ()

        return cls(entrypoint=strings(c.get("Entrypoint")), cmd=strings(c.get("Cmd")), env=strings(c.get("Env")),
                   working_dir=str(c.get("WorkingDir") or ""), user=str(c.get("User") or ""),
                   exposed_ports=tuple(sorted(c.get("ExposedPorts") or {})),
                   volumes=tuple(sorted(c.get("Volumes") or {})), labels=dict(c.get("Labels") or {}),
                   stop_signal=str(c.get("StopSignal") or ""), os=str(doc.get("os") or ""),
                   architecture=str(doc.get("architecture") or ""))


class _Snapshot:
    """One read of ``index.json``: never changed once built, so threads and the event loop can share it."""

    __slots__ = ("images", "manifests", "names", "sig")

    def __init__(self, *, sig: tuple[int, int, int], names: dict[str, Any], manifests: dict[str, Any]) -> None:
        self.sig = sig
        self.names = names
        self.manifests = manifests
        self.images: dict[str, Image] = {}            # manifest digest → record, built on first use

    def image(self, manifest_digest: str) -> Image | None:
        image = self.images.get(manifest_digest)
        if image is not None:
            return image
        entry = self.manifests.get(manifest_digest)
        if entry is None:
            return None
        names = sorted(n for n, v in self.names.items() if v.get("manifest") == manifest_digest)
        image = Image(manifest_digest=manifest_digest, media_type=entry.get("mediaType", ""),
                      config_digest=entry["config"],
                      layers=tuple(Layer(digest=d, diff_id=i, media_type=t, size=s) for d, i, t, s in entry["layers"]),
                      size=int(entry.get("size", 0)), names=tuple(names),
                      repo_digests=tuple(sorted({f"{parse(n).repository}@{self.names[n]['target']}" for n in names})))
        self.images[manifest_digest] = image
        return image

    def ref(self, name: str, image: Image) -> ImageRef:
        return ImageRef(name=name, id=f"{parse(name).repository}@{self.names[name]['target']}", size=image.size)


def _rmtree(path: Path) -> None:
    """Remove a tree even where unpacked directories are read-only for us (mode 0555 in the image)."""
    def retry(func: Any, p: str, _exc: Any) -> None:
        parent = os.path.dirname(p)
        with contextlib.suppress(OSError):
            os.chmod(parent, stat.S_IRWXU)
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, stat.S_IRWXU)
        func(p)
    shutil.rmtree(path, onerror=retry)


class ImageStore:
    def __init__(self, root: Path | str, *, privileged: bool | None = None) -> None:
        self.root = Path(root)
        self.blobs = self.root / "blobs" / "sha256"
        self.layers = self.root / "layers" / "sha256"
        self.tmp = self.root / "tmp"
        self.privileged = os.geteuid() == 0 if privileged is None else privileged
        for d in (self.blobs, self.layers, self.tmp):
            d.mkdir(parents=True, exist_ok=True)
        self._index_path = self.root / "index.json"
        self._lock_path = self.root / "index.lock"
        self._mutex = threading.Lock()
        self._layer_locks: dict[str, threading.Lock] = {}
        self._snap: _Snapshot | None = None
        self._configs: dict[str, ImageConfig] = {}
        self.last_used: dict[str, float] = {}         # image id → wall clock of last use (GC input)
        self._clean_tmp()
        self._snapshot()

    # ------------------------------------------------------------------------------------------ blobs
    def blob_path(self, digest: str) -> Path:
        return self.blobs / digest_hex(digest)

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).exists()

    def temp_path(self, hint: str = "") -> Path:
        return self.tmp / f"{hint or 'tmp'}-{secrets.token_hex(6)}"

    def commit_blob(self, tmp: Path, digest: str) -> Path:
        """Move a verified temporary file into place as blob ``digest``."""
        dest = self.blob_path(digest)
        os.replace(tmp, dest)
        return dest

    def write_blob(self, data: bytes, digest: str | None = None) -> str:
        got = sha256_digest(data)
        if digest is not None and got != digest:
            raise StoreError(f"blob digest mismatch: expected {digest}, content is {got}")
        if not self.has_blob(got):
            tmp = self.temp_path("blob")
            tmp.write_bytes(data)
            self.commit_blob(tmp, got)
        return got

    def read_blob(self, digest: str) -> bytes:
        try:
            return self.blob_path(digest).read_bytes()
        except FileNotFoundError:
            raise StoreError(f"blob {digest} is not in the store") from None

    # ------------------------------------------------------------------------------------------ layers
    def layer_path(self, diff_id: str) -> Path:
        """The unpacked directory of a layer (an overlayfs lowerdir)."""
        return self.layers / digest_hex(diff_id) / "fs"

    def has_layer(self, diff_id: str) -> bool:
        return self.layer_path(diff_id).is_dir()

    def unpack(self, layer: Layer, *, parents: Sequence[Path] = ()) -> Path:
        """Unpack ``layer`` unless it is already (blocking: call it in a thread); its directory."""
        final = self.layers / digest_hex(layer.diff_id)
        if (final / "fs").is_dir():
            return final / "fs"
        with self._mutex:
            lock = self._layer_locks.setdefault(layer.diff_id, threading.Lock())
        with lock:
            if (final / "fs").is_dir():
                return final / "fs"
            work = self.temp_path("layer")
            (work / "fs").mkdir(parents=True)
            try:
                got = apply_layer(self.blob_path(layer.digest), work / "fs", parents=parents,
                                  privileged=self.privileged)
                if got != layer.diff_id:
                    raise UnpackError(f"layer {layer.digest}: diffID mismatch: the image config says "
                                      f"{layer.diff_id}, the content is {got}")
                try:
                    os.rename(work, final)
                except OSError:
                    if not (final / "fs").is_dir():
                        raise
                    _rmtree(work)               # another process unpacked it meanwhile
            except BaseException:
                if work.exists():
                    _rmtree(work)
                raise
        return final / "fs"

    # ------------------------------------------------------------------------------------------ index
    def _clean_tmp(self) -> None:
        cutoff = time.time() - STALE_TMP_SECONDS
        for p in self.tmp.iterdir():
            with contextlib.suppress(OSError):
                if p.lstat().st_mtime < cutoff:
                    _rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()

    def _snapshot(self) -> _Snapshot:
        """The current index, re-read if another process (or this one) replaced ``index.json`` since."""
        try:
            st = os.stat(self._index_path)
            sig = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            sig = (0, 0, 0)
        snap = self._snap
        if snap is not None and snap.sig == sig:
            return snap
        doc: dict[str, Any] = {}
        if sig != (0, 0, 0):
            try:
                doc = orjson.loads(self._index_path.read_bytes())
            except (OSError, orjson.JSONDecodeError) as e:
                raise StoreError(f"image index {self._index_path} is unreadable: {e}") from None
        snap = self._snap = _Snapshot(sig=sig, names=doc.get("names") or {}, manifests=doc.get("manifests") or {})
        return snap

    def _update(self, change: Any) -> None:
        """Read-modify-write of the index under an exclusive lock shared with other processes. ``change`` gets
        fresh copies of (names, manifests) to edit; readers keep using the snapshot they hold meanwhile."""
        with self._mutex:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                snap = self._snapshot()
                names, manifests = dict(snap.names), dict(snap.manifests)
                change(names, manifests)
                data = orjson.dumps({"version": INDEX_VERSION, "names": names, "manifests": manifests},
                                    option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
                tmp = self.temp_path("index")
                with open(tmp, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self._index_path)
                self._snapshot()
            finally:
                os.close(fd)

    def record(self, name: str, *, target: str, manifest_digest: str, media_type: str, config_digest: str,
               layers: Sequence[Layer], size: int) -> Image:
        """Point ``name`` (a normalised reference) at a manifest whose blobs and layers are all in the store."""
        check_digest(target)
        entry = {"mediaType": media_type, "config": config_digest, "size": size,
                 "layers": [[x.digest, x.diff_id, x.media_type, x.size] for x in layers]}

        def change(names: dict[str, Any], manifests: dict[str, Any]) -> None:
            manifests[manifest_digest] = entry
            names[name] = {"target": target, "manifest": manifest_digest, "created": int(time.time())}
        self._update(change)
        image = self._snapshot().image(manifest_digest)
        assert image is not None
        return image

    def remove(self, name: str) -> bool:
        """Forget one name; the content stays until :meth:`prune`."""
        key = _normalize(name)
        found = False

        def change(names: dict[str, Any], _manifests: dict[str, Any]) -> None:
            nonlocal found
            found = names.pop(key, None) is not None
        self._update(change)
        return found

    # ------------------------------------------------------------------------------------------ lookups
    def resolve(self, ref: str) -> tuple[Image, ImageRef] | None:
        """The image ``ref`` names — a reference (``nginx``, ``nginx:1.25``, ``repo@sha256:…``) or an image ID
        (``sha256:<config>``) — and the :class:`ImageRef` to report for it; None if absent."""
        snap = self._snapshot()
        if ref.startswith("sha256:"):
            for n in sorted(snap.names):
                image = snap.image(snap.names[n]["manifest"])
                if image is not None and image.config_digest == ref:
                    return image, snap.ref(n, image)
            return None
        try:
            name = parse(ref)
        except InvalidReference:
            return None
        key = str(name)
        hit = snap.names.get(key)
        if hit is not None:
            image = snap.image(hit["manifest"])
            if image is not None:
                return image, snap.ref(key, image)
        if name.digest:
            for n, v in snap.names.items():
                if name.digest in (v.get("target"), v.get("manifest")) and parse(n).repository == name.repository:
                    image = snap.image(v["manifest"])
                    if image is not None:
                        return image, ImageRef(name=key, id=f"{name.repository}@{name.digest}", size=image.size)
        return None

    def get(self, ref: str) -> Image | None:
        found = self.resolve(ref)
        return found[0] if found else None

    def image_ref(self, ref: str) -> ImageRef | None:
        found = self.resolve(ref)
        return found[1] if found else None

    def images(self) -> list[Image]:
        snap = self._snapshot()
        manifests = {v["manifest"] for v in snap.names.values()}
        return [img for d in sorted(manifests) if (img := snap.image(d)) is not None]

    def image_refs(self) -> list[ImageRef]:
        """One :class:`ImageRef` per stored name (what ``list_images`` reports)."""
        snap = self._snapshot()
        return [snap.ref(n, img) for n, v in sorted(snap.names.items())
                if (img := snap.image(v["manifest"])) is not None]

    def image_config(self, image: Image | str) -> ImageConfig:
        img = self._need(image)
        cfg = self._configs.get(img.config_digest)
        if cfg is None:
            try:
                cfg = ImageConfig.from_json(orjson.loads(self.read_blob(img.config_digest)))
            except orjson.JSONDecodeError as e:
                raise StoreError(f"config {img.config_digest} is not JSON: {e}") from None
            self._configs[img.config_digest] = cfg
        return cfg

    def rootfs_layers(self, image: Image | str) -> list[Path]:
        """The unpacked layer directories of ``image``, lowest first (overlayfs wants them reversed in
        ``lowerdir=top:…:bottom``). A layer missing on disk is unpacked again from its blob (blocking)."""
        img = self._need(image)
        self.last_used[img.id] = time.time()
        out: list[Path] = []
        for layer in img.layers:
            path = self.layer_path(layer.diff_id)
            if not path.is_dir():
                if not self.has_blob(layer.digest):
                    raise StoreError(f"layer {layer.digest} of image {img.id} is missing from the store")
                path = self.unpack(layer, parents=out[::-1])
            out.append(path)
        return out

    def _need(self, image: Image | str) -> Image:
        if isinstance(image, Image):
            return image
        img = self.get(image)
        if img is None:
            raise StoreError(f"image {image!r} is not in the store")
        return img

    # ------------------------------------------------------------------------------------------ cleanup
    def prune(self) -> int:
        """Delete manifests no name points at, then blobs and unpacked layers nothing references; bytes freed."""
        keep_blobs: set[str] = set()
        keep_layers: set[str] = set()

        def change(names: dict[str, Any], manifests: dict[str, Any]) -> None:
            live = {v["manifest"] for v in names.values()}
            for d in [d for d in manifests if d not in live]:
                del manifests[d]
            keep_blobs.update(v["target"] for v in names.values())
            keep_blobs.update(live)
            for m in manifests.values():
                keep_blobs.add(m["config"])
                for d, i, _, _ in m["layers"]:
                    keep_blobs.add(d)
                    keep_layers.add(i)
        self._update(change)
        # content younger than a pull may take is kept: it may belong to a pull that has not recorded its name yet
        young = time.time() - PRUNE_GRACE_SECONDS
        freed = 0
        for p in self.blobs.iterdir():
            with contextlib.suppress(OSError):
                st = p.stat()
                if "sha256:" + p.name not in keep_blobs and st.st_mtime < young:
                    p.unlink()
                    freed += st.st_size
        for p in self.layers.iterdir():
            with contextlib.suppress(OSError):
                if "sha256:" + p.name not in keep_layers and p.lstat().st_mtime < young:
                    _rmtree(p)
        return freed

    def disk_usage(self) -> int:
        return sum(p.stat().st_size for p in self.blobs.iterdir() if p.is_file())


def _normalize(name: str) -> str:
    try:
        return str(parse(name))
    except InvalidReference as e:
        raise StoreError(str(e)) from None

