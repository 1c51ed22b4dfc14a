"""Loading images from files into the store, for nodes that cannot reach a registry (``pybernetes images import``).

Two formats, told apart by their contents (as ``ctr images import`` does), as a tarball or an unpacked directory:

- an **OCI image layout** (``oci-layout``, ``index.json``, ``blobs/sha256/…``), as skopeo, buildah, buildkit and
  ``docker save`` since Docker 25 write it. Each entry of ``index.json`` is one image, named by its
  ``io.containerd.image.name`` annotation, else ``org.opencontainers.image.ref.name`` (a full reference, or a tag
  joined to ``base_name``). An entry may be an index: this node's platform is taken from it.
- a **docker save** archive (``manifest.json`` listing ``Config``, ``RepoTags``, ``Layers``). It has no registry
  manifest, so one is written (Docker schema 2, the layers as they are in the archive), as containerd does; its
  digest is what the repo digest names.

Every blob is verified against its digest while it is copied in; layers are unpacked as a pull would.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import orjson

from pybernetes.kubelet.images import manifest as mt
from pybernetes.kubelet.images.platform import Platform, host_platform, select
from pybernetes.kubelet.images.reference import InvalidReference, parse
from pybernetes.kubelet.images.store import ImageStore, Layer
from pybernetes.kubelet.images.unpack import UnpackError, clean_name
from pybernetes.kubelet.runtime.interface import ImageRef

CONTAINERD_NAME = "io.containerd.image.name"
OCI_REF_NAME = "org.opencontainers.image.ref.name"
_CHUNK = 1 << 20


class ArchiveError(Exception):
    """The file is not an image archive we can read, or names no image."""


class _Source:
    """Files of an archive by name: a tarball (random access) or a directory."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self.tar: tarfile.TarFile | None = None
        self.members: dict[str, tarfile.TarInfo] = {}
        if path.is_dir():
            return
        try:
            self.tar = tarfile.open(path, "r:*")
        except (tarfile.TarError, OSError) as e:
            raise ArchiveError(f"{path}: not a tar archive: {e}") from None
        for m in self.tar.getmembers():
            try:
                name = clean_name(m.name)
            except UnpackError:
                continue
            if m.isreg():
                self.members[name] = m

    def close(self) -> None:
        if self.tar is not None:
            self.tar.close()

    def exists(self, name: str) -> bool:
        if self.tar is not None:
            return name in self.members
        return (self.path / name).is_file()

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        if self.tar is not None:
            m = self.members.get(clean_name(name))
            f = self.tar.extractfile(m) if m is not None else None
            if f is None:
                raise ArchiveError(f"{self.path}: {name} is missing from the archive")
            with f:
                yield f
            return
        target = (self.path / name).resolve()
        if not str(target).startswith(str(self.path.resolve()) + os.sep):
            raise ArchiveError(f"{self.path}: {name} is outside the layout")
        try:
            with open(target, "rb") as f:
                yield f
        except FileNotFoundError:
            raise ArchiveError(f"{self.path}: {name} is missing") from None

    def read(self, name: str, limit: int = mt.MAX_CONFIG_BYTES) -> bytes:
        with self.open(name) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise ArchiveError(f"{self.path}: {name} is too large")
        return data

    def json(self, name: str) -> Any:
        try:
            return orjson.loads(self.read(name))
        except orjson.JSONDecodeError as e:
            raise ArchiveError(f"{self.path}: {name} is not JSON: {e}") from None


def _ingest(store: ImageStore, src: _Source, name: str, digest: str | None) -> tuple[str, int]:
    """Copy file ``name`` of the archive into the store (checked against ``digest`` if given); (digest, size)."""
    if digest is not None and store.has_blob(digest):
        return digest, store.blob_path(digest).stat().st_size
    tmp = store.temp_path("import")
    h = hashlib.sha256()
    size = 0
    try:
        with src.open(name) as f, open(tmp, "wb") as out:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
                out.write(chunk)
                size += len(chunk)
        got = "sha256:" + h.hexdigest()
        if digest is not None and got != digest:
            raise ArchiveError(f"{src.path}: {name}: digest mismatch: expected {digest}, content is {got}")
        if not store.has_blob(got):
            store.commit_blob(tmp, got)
        return got, size
    finally:
        tmp.unlink(missing_ok=True)


def _full_name(annotations: dict[str, str], base_name: str) -> str:
    name = annotations.get(CONTAINERD_NAME) or ""
    ref = annotations.get(OCI_REF_NAME) or ""
    if not name and ("/" in ref or ":" in ref or "@" in ref):
        name = ref
    elif not name and ref and base_name:
        name = f"{base_name}:{ref}"
    elif not name and base_name:
        name = base_name
    if not name:
        raise ArchiveError("an image in index.json has no name: pass a base name (--name REPOSITORY)")
    try:
        return str(parse(name))
    except InvalidReference as e:
        raise ArchiveError(str(e)) from None


def _unpack_and_record(store: ImageStore, name: str, *, target: str, manifest_digest: str, manifest_len: int,
                       media_type: str, config_digest: str, layers: list[Layer]) -> ImageRef:
    below: list[pathlib.Path] = []
    for layer in layers:
        below.append(store.unpack(layer, parents=below[::-1]))
    size = manifest_len + store.blob_path(config_digest).stat().st_size + sum(x.size for x in layers)
    store.record(name, target=target, manifest_digest=manifest_digest, media_type=media_type,
                 config_digest=config_digest, layers=layers, size=size)
    ref = store.image_ref(name)
    assert ref is not None
    return ref


def _import_oci(store: ImageStore, src: _Source, base_name: str, platform: Platform) -> list[ImageRef]:
    index = mt.parse_index(src.json("index.json"), mt.OCI_INDEX)
    out = []
    for desc in index.manifests:
        name = _full_name(dict(desc.annotations), base_name)
        top = src.read(f"blobs/sha256/{mt.digest_hex(desc.digest)}", mt.MAX_MANIFEST_BYTES)
        if mt.sha256_digest(top) != desc.digest:
            raise ArchiveError(f"{src.path}: blob {desc.digest} does not match its digest")
        doc = orjson.loads(top)
        media_type = mt.detect_media_type(doc, desc.media_type)
        body, man_digest = top, desc.digest
        if media_type in mt.INDEX_TYPES:
            chosen = select(mt.parse_index(doc, media_type).manifests, platform)
            if chosen is None:
                raise ArchiveError(f"{name}: no manifest for platform {platform}")
            body = src.read(f"blobs/sha256/{mt.digest_hex(chosen.digest)}", mt.MAX_MANIFEST_BYTES)
            if mt.sha256_digest(body) != chosen.digest:
                raise ArchiveError(f"{src.path}: blob {chosen.digest} does not match its digest")
            store.write_blob(top, desc.digest)
            doc, man_digest = orjson.loads(body), chosen.digest
            media_type = mt.detect_media_type(doc, chosen.media_type)
        man = mt.parse_manifest(doc, media_type)
        store.write_blob(body, man_digest)
        _ingest(store, src, f"blobs/sha256/{mt.digest_hex(man.config.digest)}", man.config.digest)
        diff_ids = mt.diff_ids(orjson.loads(store.read_blob(man.config.digest)))
        if len(diff_ids) != len(man.layers):
            raise ArchiveError(f"{name}: the config lists {len(diff_ids)} layers, the manifest {len(man.layers)}")
        layers = []
        for d, diff_id in zip(man.layers, diff_ids, strict=True):
            _ingest(store, src, f"blobs/sha256/{mt.digest_hex(d.digest)}", d.digest)
            layers.append(Layer(digest=d.digest, diff_id=diff_id, media_type=d.media_type, size=d.size))
        out.append(_unpack_and_record(store, name, target=desc.digest, manifest_digest=man_digest,
                                      manifest_len=len(body), media_type=media_type,
                                      config_digest=man.config.digest, layers=layers))
    return out


def _layer_media_type(store: ImageStore, digest: str) -> str:
    with open(store.blob_path(digest), "rb") as f:
        magic = f.read(2)
    return mt.DOCKER_LAYER_GZIP if magic == b"\x1f\x8b" else mt.DOCKER_LAYER


def _import_docker(store: ImageStore, src: _Source, base_name: str) -> list[ImageRef]:
    entries = src.json("manifest.json")
    if not isinstance(entries, list):
        raise ArchiveError(f"{src.path}: manifest.json is not a list")
    out = []
    for entry in entries:
        tags = entry.get("RepoTags") or ([base_name] if base_name else [])
        if not tags:
            raise ArchiveError(f"{src.path}: an image has no RepoTags: pass a name (--name REPOSITORY:TAG)")
        config_digest, config_size = _ingest(store, src, str(entry.get("Config", "")), None)
        diff_ids = mt.diff_ids(orjson.loads(store.read_blob(config_digest)))
        paths = entry.get("Layers") or []
        if len(paths) != len(diff_ids):
            raise ArchiveError(f"{src.path}: the config lists {len(diff_ids)} layers, manifest.json {len(paths)}")
        layers = []
        for path, diff_id in zip(paths, diff_ids, strict=True):
            digest, size = _ingest(store, src, str(path), None)
            layers.append(Layer(digest=digest, diff_id=diff_id, media_type=_layer_media_type(store, digest),
                                size=size))
        doc = {"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST,
               "config": {"mediaType": mt.DOCKER_CONFIG, "size": config_size, "digest": config_digest},
               "layers": [{"mediaType": x.media_type, "size": x.size, "digest": x.digest} for x in layers]}
        body = orjson.dumps(doc)
        man_digest = store.write_blob(body)
        for tag in tags:
            try:
                name = str(parse(tag))
            except InvalidReference as e:
                raise ArchiveError(str(e)) from None
            out.append(_unpack_and_record(store, name, target=man_digest, manifest_digest=man_digest,
                                          manifest_len=len(body), media_type=mt.DOCKER_MANIFEST,
                                          config_digest=config_digest, layers=layers))
    return out


def import_archive(store: ImageStore, path: pathlib.Path | str, *, base_name: str = "",
                   platform: Platform | None = None) -> list[ImageRef]:
    """Import every image of an OCI layout or ``docker save`` archive (tarball, possibly gzipped, or directory);
    blocking. ``base_name`` names images whose archive gives only a tag (or nothing)."""
    src = _Source(pathlib.Path(path))
    try:
        if src.exists("index.json") and src.exists("oci-layout"):
            return _import_oci(store, src, base_name, platform or host_platform())
        if src.exists("manifest.json"):
            return _import_docker(store, src, base_name)
        raise ArchiveError(f"{path}: neither an OCI image layout (oci-layout, index.json) nor a docker save "
                           "archive (manifest.json)")
    except (mt.ManifestError, orjson.JSONDecodeError) as e:
        raise ArchiveError(f"{path}: {e}") from None
    finally:
        src.close()
