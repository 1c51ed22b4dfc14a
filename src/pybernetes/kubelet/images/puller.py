"""Pulling an image into the node's store: what the OCI runtime's ``pull_image`` does.

    puller = ImagePuller(ImageStore(data_dir / "images"), registries=config.load(path))
    ref = await puller.pull_image("nginx:1.25", auth=keyring_from_secrets(pull_secrets))
    layers = puller.rootfs_layers(ref.name)          # overlayfs lowerdirs, lowest first

A pull resolves the reference on the registry's endpoints in order (mirrors, then the registry itself — see
``config``), picks this node's manifest from an index, fetches the config and the layers that are not there yet
(a few at a time, from the endpoint that resolved the name first, then the others), unpacks each layer once, in
order, in a worker thread, and only then records the name: a half-pulled image is never visible. Two pulls of
the same reference share one piece of work, and pulls of different images share their common blobs and layers.

Whether to pull at all is ``imagePullPolicy``, which belongs to the kubelet (it asks :meth:`image_status` first);
``policy`` here only lets a caller hand that decision down. Every failure is an
:class:`~pybernetes.kubelet.runtime.interface.ImagePullFailure` whose message carries the registry's reason, in
containerd's words: ``failed to pull and unpack image "docker.io/library/nginx:nope": failed to resolve
reference "docker.io/library/nginx:nope": manifest unknown: manifest unknown``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import orjson

from pybernetes.kubelet.images.config import Credential, Endpoint, Keyring, RegistriesConfig
from pybernetes.kubelet.images.config import load as load_registries
from pybernetes.kubelet.images.errors import RegistryError
from pybernetes.kubelet.images.manifest import (
    INDEX_TYPES,
    MAX_CONFIG_BYTES,
    Descriptor,
    ManifestError,
    diff_ids,
    parse_index,
    parse_manifest,
)
from pybernetes.kubelet.images.platform import Platform, host_platform, select
from pybernetes.kubelet.images.reference import ImageName, InvalidReference, parse
from pybernetes.kubelet.images.registry import FetchedManifest, RegistryClient
from pybernetes.kubelet.images.store import Image, ImageConfig, ImageStore, Layer, StoreError
from pybernetes.kubelet.images.unpack import UnpackError
from pybernetes.kubelet.runtime.interface import ImagePullFailure, ImageRef

log = logging.getLogger(__name__)
T = TypeVar("T")
POLICIES = ("Always", "IfNotPresent", "Never")

Auth = Keyring | Credential | Sequence[Credential] | Mapping[str, str] | None
"""Credentials for a pull: a pod's keyring (``config.keyring_from_secrets``), one credential, several (tried in
turn), or a CRI-style mapping (``username``/``password``/``auth``/``identitytoken``/``registrytoken``)."""


def credentials_for(auth: Auth, image: str) -> tuple[Credential, ...]:
    if auth is None:
        return ()
    if isinstance(auth, Keyring):
        return auth.lookup(image)
    if isinstance(auth, Credential):
        return (auth,)
    if isinstance(auth, Mapping):
        return (Credential.from_cri(auth),) if any(auth.values()) else ()
    return tuple(auth)


def _best_error(errors: Sequence[RegistryError]) -> RegistryError:
    """The error to show when every endpoint failed: the first one that is a registry's answer (a mirror's
    ``manifest unknown`` says more than the upstream's unreachable host), else the first."""
    return next((e for e in errors if e.status), errors[0])


class ImagePuller:
    def __init__(self, store: ImageStore, *, registries: RegistriesConfig | None = None,
                 platform: Platform | None = None, client: RegistryClient | None = None,
                 max_concurrent_downloads: int = 3) -> None:
        self.store = store
        self.registries = registries or RegistriesConfig()
        self.platform = platform or host_platform()
        self.client = client or RegistryClient()
        self._own_client = client is None
        self._slots = asyncio.Semaphore(max_concurrent_downloads)
        self._pulls: dict[tuple[str, tuple[Credential, ...]], asyncio.Future[ImageRef]] = {}
        self._blobs: dict[str, asyncio.Future[None]] = {}

    @classmethod
    def for_agent(cls, data_dir: Path, *, registry_config: Path | None = None,
                  disable_default_endpoint: bool = False, platform: Platform | None = None) -> ImagePuller:
        """The node agent's puller: the store in ``<data_dir>/images`` (where ``pybernetes images`` looks by
        default), ``registries.yaml`` from ``--registry-config`` or ``/etc/pybernetes/registries.yaml`` if
        present. Raises ``config.ConfigError`` for a bad registries file (the agent's exit code 2)."""
        registries = load_registries(registry_config, disable_default_endpoint=disable_default_endpoint)
        return cls(ImageStore(data_dir / "images"), registries=registries, platform=platform)

    async def close(self) -> None:
        if self._own_client:
            await self.client.close()

    # ------------------------------------------------------------------------------------------ queries
    async def image_status(self, image: str) -> ImageRef | None:
        """The stored image ``image`` names (a reference or an image ID), without asking any registry."""
        return self.store.image_ref(image)

    async def list_images(self) -> list[ImageRef]:
        return self.store.image_refs()

    def get(self, image: str) -> Image | None:
        return self.store.get(image)

    def rootfs_layers(self, image: str | Image) -> list[Path]:
        return self.store.rootfs_layers(image)

    def image_config(self, image: str | Image) -> ImageConfig:
        return self.store.image_config(image)

    # ------------------------------------------------------------------------------------------ pulling
    async def pull_image(self, image: str, *, policy: str = "Always", auth: Auth = None) -> ImageRef:
        """Make ``image`` present; its :class:`ImageRef` (``id`` is the repo digest for ``imageID``)."""
        if policy not in POLICIES:
            raise ValueError(f"unknown image pull policy {policy!r}")
        try:
            name = parse(image)
        except InvalidReference as e:
            raise ImagePullFailure(f'Failed to inspect image "{image}": {e}', reason="InvalidImageName") from None
        key = str(name)
        if policy != "Always":
            present = self.store.image_ref(key)
            if present is not None:
                return present
            if policy == "Never":
                raise ImagePullFailure(f'Container image "{image}" is not present with pull policy of Never',
                                       reason="ErrImageNeverPull")
        creds = credentials_for(auth, key)
        job = self._pulls.get((key, creds))
        if job is None:
            job = asyncio.ensure_future(self._pull(name, key, creds))
            self._pulls[(key, creds)] = job
            job.add_done_callback(functools.partial(self._done, self._pulls, (key, creds)))
        return await asyncio.shield(job)

    @staticmethod
    def _done(jobs: dict[Any, Any], key: object, fut: asyncio.Future[Any]) -> None:
        if jobs.get(key) is fut:
            del jobs[key]
        if not fut.cancelled():
            fut.exception()                  # retrieved: a waiter may have gone away

    def endpoints(self, name: ImageName, creds: Sequence[Credential]) -> list[Endpoint]:
        """Where to pull ``name`` from, in order; pull-secret credentials go to the registry itself (a mirror
        uses its own from ``configs``), as containerd's CRI plugin does."""
        eps = self.registries.endpoints(name.domain)
        return [ep.with_credentials(creds) if ep.default and creds else ep for ep in eps]

    async def _pull(self, name: ImageName, key: str, creds: tuple[Credential, ...]) -> ImageRef:
        started = time.monotonic()
        endpoints = self.endpoints(name, creds)
        reference = name.digest or name.tag
        try:
            first, top = await self._first(endpoints, lambda ep: self.client.get_manifest(
                ep, ep.repository(name.path), reference))
        except RegistryError as e:
            raise ImagePullFailure(f'failed to pull and unpack image "{key}": failed to resolve reference '
                                   f'"{key}": {e}') from None
        order = [first, *(ep for ep in endpoints if ep is not first)]
        try:
            image = await self._fetch(order, name, key, top)
        except (RegistryError, ManifestError, UnpackError, StoreError, OSError) as e:
            raise ImagePullFailure(f'failed to pull and unpack image "{key}": {e}') from None
        ref = self.store.image_ref(key)
        if ref is None:                      # removed meanwhile by a prune: report what we recorded
            ref = ImageRef(name=key, id=f"{name.repository}@{top.digest}", size=image.size)
        log.info("pulled image", extra={"image": key, "id": image.id, "size": image.size,
                                        "seconds": round(time.monotonic() - started, 3), "endpoint": first.api})
        return ref

    async def _first(self, endpoints: Sequence[Endpoint], fn: Callable[[Endpoint], Awaitable[T]]
                     ) -> tuple[Endpoint, T]:
        """The first endpoint that answers ``fn`` without error, and its answer."""
        errors: list[RegistryError] = []
        for ep in endpoints:
            try:
                return ep, await fn(ep)
            except RegistryError as e:
                log.debug("endpoint failed", extra={"endpoint": ep.api, "error": str(e)})
                errors.append(e)
        raise _best_error(errors)

    async def _fetch(self, order: Sequence[Endpoint], name: ImageName, key: str, top: FetchedManifest) -> Image:
        fetched = top
        if top.media_type in INDEX_TYPES:
            index = parse_index(top.doc, top.media_type)
            desc = select(index.manifests, self.platform)
            if desc is None:
                raise ManifestError(f"no match for platform {self.platform} in manifest {top.digest}: not found")
            _, fetched = await self._first(order, lambda ep: self.client.get_manifest(
                ep, ep.repository(name.path), desc.digest))
            self.store.write_blob(top.body, top.digest)
        manifest = parse_manifest(fetched.doc, fetched.media_type)
        self.store.write_blob(fetched.body, fetched.digest)
        config_desc = manifest.config
        if self.store.has_blob(config_desc.digest):
            config_body = self.store.read_blob(config_desc.digest)
        else:
            _, config_body = await self._first(order, lambda ep: self.client.fetch_blob_bytes(
                ep, ep.repository(name.path), config_desc, limit=MAX_CONFIG_BYTES))
            self.store.write_blob(config_body, config_desc.digest)
        try:
            ids = diff_ids(orjson.loads(config_body))
        except orjson.JSONDecodeError as e:
            raise ManifestError(f"image config {config_desc.digest} is not JSON: {e}") from None
        if len(ids) != len(manifest.layers):
            raise ManifestError(f"image config lists {len(ids)} layers, the manifest {len(manifest.layers)}")
        layers = [Layer(digest=d.digest, diff_id=i, media_type=d.media_type, size=d.size)
                  for d, i in zip(manifest.layers, ids, strict=True)]
        await self._materialize(order, name, manifest.layers, layers)
        size = len(fetched.body) + config_desc.size + sum(x.size for x in layers)
        return await asyncio.to_thread(
            self.store.record, key, target=top.digest, manifest_digest=fetched.digest,
            media_type=fetched.media_type, config_digest=config_desc.digest, layers=layers, size=size)

    async def _materialize(self, order: Sequence[Endpoint], name: ImageName, descs: Sequence[Descriptor],
                           layers: Sequence[Layer]) -> None:
        """Download the missing layer blobs (concurrently) and unpack each layer in order as it arrives."""
        downloads: dict[str, asyncio.Future[None]] = {}
        for desc, layer in zip(descs, layers, strict=True):
            if layer.digest in downloads or self.store.has_layer(layer.diff_id) or self.store.has_blob(desc.digest):
                continue
            job = self._blobs.get(desc.digest)
            if job is None:
                job = asyncio.ensure_future(self._download(order, name, desc))
                self._blobs[desc.digest] = job
                job.add_done_callback(functools.partial(self._done, self._blobs, desc.digest))
            downloads[layer.digest] = job
        # downloads are shielded and never cancelled: another pull may share them, and a fetched blob is kept
        below: list[Path] = []
        for layer in layers:
            if not self.store.has_layer(layer.diff_id):
                if layer.digest in downloads:
                    await asyncio.shield(downloads[layer.digest])
                await asyncio.to_thread(self.store.unpack, layer, parents=below[::-1])
            below.append(self.store.layer_path(layer.diff_id))

    async def _download(self, order: Sequence[Endpoint], name: ImageName, desc: Descriptor) -> None:
        async with self._slots:
            if self.store.has_blob(desc.digest):
                return
            tmp = self.store.temp_path("blob")
            try:
                await self._first(order, lambda ep: self.client.fetch_blob(ep, ep.repository(name.path), desc, tmp))
                self.store.commit_blob(tmp, desc.digest)
            except RegistryError as e:
                raise RegistryError(f"failed to copy {desc.digest}: {e}", status=e.status, code=e.code) from None
            finally:
                tmp.unlink(missing_ok=True)
