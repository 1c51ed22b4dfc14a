"""Small images for the image tests, built in memory with the project's own image builder."""

from __future__ import annotations

from pybernetes.kubelet.images import manifest as mt
from pybernetes.kubelet.images.platform import Platform
from pybernetes.testing.images import Blob, BuiltImage, Rootfs, make_image

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64", "v8")


def small_image(name: str = "docker.io/library/app:1", *, files: dict[str, str] | None = None, oci: bool = True,
                index: bool = True, platform: Platform = AMD64, compress: bool = True,
                layers: list[bytes] | None = None) -> BuiltImage:
    """A one-layer image (or ``layers`` as given) whose files say which platform it is for."""
    if layers is None:
        fs = Rootfs()
        for path, text in (files or {"etc/release": f"app for {platform}\n"}).items():
            fs.file(path, text)
        layers = [fs.tar()]
    return make_image(name, layers, config={"Cmd": ["app"], "Env": ["A=1"]}, oci=oci, platform=platform,
                      index=index, compress=compress)


def multi_platform(name: str, images: list[tuple[Platform, BuiltImage]], *, extra: list[dict] | None = None
                   ) -> tuple[Blob, list[BuiltImage]]:
    """An OCI index over single-platform images (their manifests), plus raw ``extra`` descriptors."""
    entries = []
    for p, img in images:
        plat = {"architecture": p.architecture, "os": p.os, **({"variant": p.variant} if p.variant else {})}
        entries.append(img.manifest.descriptor(platform=plat))
    entries += extra or []
    index = Blob(mt.OCI_INDEX, mt_json({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": entries}))
    return index, [img for _, img in images]


def mt_json(doc: dict) -> bytes:
    import json
    return json.dumps(doc, separators=(",", ":")).encode()
