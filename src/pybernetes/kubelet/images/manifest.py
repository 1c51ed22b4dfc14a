"""OCI and Docker schema 2 manifests: media types, descriptors, digests (pure, no I/O).

A registry answers a tag with either an *index* (OCI image index / Docker manifest list: one manifest per
platform) or a *manifest* (config + layers). Both formats are accepted everywhere; the Docker ones are what Docker
Hub and ``docker-registry`` serve for images pushed by Docker, the OCI ones what newer tools push. Schema 1 is
refused, as containerd 2 does: a registry that can only offer it gets a clear error instead of a silent
conversion (DESIGN.md "Facts measured": send an ``Accept`` listing every type we take).

Digests are checked as ``sha256:<64 lowercase hex>`` before they are used in a path or a URL: a digest from a
registry or a tarball is untrusted input that names files in the store.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_FOREIGN_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_ND = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_ND_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_ND_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
SCHEMA1_TYPES = frozenset({DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED})
CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})
LAYER_TYPES = frozenset({DOCKER_LAYER, DOCKER_LAYER_GZIP, DOCKER_LAYER_FOREIGN_GZIP, OCI_LAYER, OCI_LAYER_GZIP,
                         OCI_LAYER_ZSTD, OCI_LAYER_ND, OCI_LAYER_ND_GZIP, OCI_LAYER_ND_ZSTD})

ACCEPT = ", ".join((OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
"""The ``Accept`` header of a manifest request: without the OCI types docker-registry answers 404 for OCI
manifests; without the Docker ones it converts schema 2 to schema 1."""

MAX_MANIFEST_BYTES = 4 << 20            # containerd's limit for a manifest or index body
MAX_CONFIG_BYTES = 16 << 20

_SHA256 = re.compile(r"sha256:[0-9a-f]{64}")


class ManifestError(ValueError):
    """A manifest, index, descriptor or digest is malformed or of a kind we cannot use."""


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_digest(digest: object) -> str:
    """``digest`` if it is a well-formed sha256 digest, else :class:`ManifestError` (other algorithms are refused:
    every registry and tool in use writes sha256)."""
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        if isinstance(digest, str) and ":" in digest and not digest.startswith("sha256:"):
            raise ManifestError(f"unsupported digest algorithm: {digest}")
        raise ManifestError(f"invalid digest: {digest!r}")
    return digest


def digest_hex(digest: str) -> str:
    return check_digest(digest)[7:]


@dataclass(frozen=True, slots=True)
class Descriptor:
    """An OCI content descriptor: what a manifest or an index says about one blob."""

    media_type: str
    digest: str
    size: int
    platform: Mapping[str, Any] | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    urls: tuple[str, ...] = ()

    @classmethod
    def parse(cls, obj: object, *, what: str = "descriptor") -> Descriptor:
        if not isinstance(obj, dict):
            raise ManifestError(f"{what}: not an object")
        size = obj.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ManifestError(f"{what}: invalid size {size!r}")
        platform = obj.get("platform")
        if platform is not None and not isinstance(platform, dict):
            raise ManifestError(f"{what}: invalid platform")
        annotations = obj.get("annotations") or {}
        if not isinstance(annotations, dict):
            raise ManifestError(f"{what}: invalid annotations")
        urls = obj.get("urls") or ()
        return cls(media_type=str(obj.get("mediaType") or ""), digest=check_digest(obj.get("digest")), size=size,
                   platform=platform, annotations=annotations, urls=tuple(str(u) for u in urls))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.platform:
            out["platform"] = dict(self.platform)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@dataclass(frozen=True, slots=True)
class Index:
    media_type: str
    manifests: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Manifest:
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]


def detect_media_type(doc: Mapping[str, Any], content_type: str = "") -> str:
    """The media type of a manifest document: its own ``mediaType`` field, else the response's content type when
    it is a manifest type, else the document's shape (OCI allows omitting ``mediaType``)."""
    declared = doc.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    ct = content_type.split(";", 1)[0].strip()
    if ct in INDEX_TYPES or ct in MANIFEST_TYPES or ct in SCHEMA1_TYPES:
        return ct
    if doc.get("schemaVersion") == 1 or "fsLayers" in doc:
        return DOCKER_SCHEMA1
    if "manifests" in doc:
        return OCI_INDEX
    if "config" in doc and "layers" in doc:
        cfg = doc.get("config")
        if isinstance(cfg, dict) and cfg.get("mediaType") == DOCKER_CONFIG:
            return DOCKER_MANIFEST
        return OCI_MANIFEST
    raise ManifestError("unknown manifest format")


def parse_index(doc: Mapping[str, Any], media_type: str) -> Index:
    items = doc.get("manifests")
    if not isinstance(items, list):
        raise ManifestError("image index without a manifests list")
    return Index(media_type=media_type,
                 manifests=tuple(Descriptor.parse(m, what=f"manifests[{i}]") for i, m in enumerate(items)),
                 annotations=doc.get("annotations") or {})


def parse_manifest(doc: Mapping[str, Any], media_type: str) -> Manifest:
    if media_type in SCHEMA1_TYPES:
        raise ManifestError("schema 1 image manifests are not supported: push the image again with a current "
                            "client (Docker schema 2 or OCI)")
    if media_type not in MANIFEST_TYPES:
        raise ManifestError(f"unsupported manifest media type {media_type!r}")
    config = Descriptor.parse(doc.get("config"), what="config")
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise ManifestError("manifest without a layers list")
    parsed = tuple(Descriptor.parse(d, what=f"layers[{i}]") for i, d in enumerate(layers))
    for i, d in enumerate(parsed):
        if d.media_type and d.media_type not in LAYER_TYPES:
            raise ManifestError(f"layers[{i}]: unsupported layer media type {d.media_type!r}")
    return Manifest(media_type=media_type, config=config, layers=parsed)


def diff_ids(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The uncompressed digests of the layers, from the image config's ``rootfs``."""
    rootfs = config.get("rootfs")
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(ids, list):
        raise ManifestError("image config without rootfs.diff_ids")
    return tuple(check_digest(d) for d in ids)
