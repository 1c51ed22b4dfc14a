"""Test images made on this machine, and a local registry to serve them (issue 4, "Test images").

Nothing is downloaded: the images are built from the host's Debian packages.

- ``docker.io/library/busybox:{latest,1.36}``: ``/bin/busybox`` from ``busybox-static``, a symlink per applet
  where ``busybox --list-full`` puts it, ``/etc/passwd``, ``/etc/group``, ``/tmp``. Docker schema 2 media types
  (a manifest list over one manifest), ``Cmd ["sh"]``.
- ``docker.io/library/nginx:{latest,1.19.1,1.20,1.21,1.25}``: the busybox layer (shared, so ``ls`` and ``sh``
  work in ``kubectl exec``) plus a layer with Debian's ``/usr/sbin/nginx`` (``nginx-light``), the libraries
  ``ldd`` lists and the loader, ``mime.types``, an ``index.html`` saying "Welcome to nginx!", and an
  ``nginx.conf`` that stays in the foreground (``daemon off;``), logs to stdout/stderr, keeps its pid in
  ``/tmp`` and listens on port 80. OCI media types (an index over one manifest). Tags differ only in their
  config (``NGINX_VERSION``), so each has its own image ID while the layers are shared; ``latest`` is ``1.25``.

Builds are deterministic (fixed mtimes, owners and gzip headers): the same host packages give the same digests.
:func:`start_registry` runs Debian's ``docker-registry`` on a loopback port with a generated config,
:func:`push_images` uploads with the project's own registry client, :func:`write_registries_yaml` points
``docker.io`` at the registry for an agent, and :func:`write_oci_layout` writes an OCI image layout (for
``pybernetes images import`` or ``skopeo``).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pybernetes.kubelet.images import manifest as mt
from pybernetes.kubelet.images.platform import Platform, host_platform

MTIME = 1_700_000_000
DOCKER_REGISTRY = "/usr/bin/docker-registry"
BUSYBOX = "/bin/busybox"
NGINX = "/usr/sbin/nginx"
BUSYBOX_TAGS = ("1.36", "latest")
NGINX_TAGS = ("1.19.1", "1.20", "1.21", "1.25", "latest")
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

NGINX_CONF = """\
user root;
worker_processes 1;
daemon off;
pid /tmp/nginx.pid;
error_log stderr notice;

events {
    worker_connections 1024;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /dev/stdout;
    sendfile on;
    keepalive_timeout 65;

    server {
        listen 80;
        server_name localhost;
        location / {
            root /usr/share/nginx/html;
            index index.html index.htm;
        }
    }
}
"""

INDEX_HTML = """\
<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and working.</p>
<p><em>Thank you for using nginx.</em></p>
</body>
</html>
"""


class BuildError(RuntimeError):
    """A prerequisite (a Debian package, a binary) is missing."""


# --------------------------------------------------------------------------------------------- layers

@dataclass
class Rootfs:
    """Entries of one layer, written as a deterministic tar (sorted, fixed times, root-owned by default)."""

    entries: dict[str, tarfile.TarInfo] = field(default_factory=dict)
    data: dict[str, bytes] = field(default_factory=dict)

    def _info(self, path: str, kind: bytes, mode: int, uid: int = 0, gid: int = 0) -> tarfile.TarInfo:
        name = path.strip("/")
        parent = name.rpartition("/")[0]
        if parent and parent not in self.entries:
            self.dir(parent)
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.uid, ti.gid, ti.mtime = kind, mode, uid, gid, MTIME
        self.entries[name] = ti
        return ti

    def dir(self, path: str, mode: int = 0o755, *, uid: int = 0, gid: int = 0) -> Rootfs:
        self._info(path, tarfile.DIRTYPE, mode, uid, gid)
        return self

    def file(self, path: str, content: bytes | str, mode: int = 0o644, *, uid: int = 0, gid: int = 0) -> Rootfs:
        data = content.encode() if isinstance(content, str) else content
        ti = self._info(path, tarfile.REGTYPE, mode, uid, gid)
        ti.size = len(data)
        self.data[ti.name] = data
        return self

    def copy(self, path: str, source: str, mode: int | None = None) -> Rootfs:
        real = os.path.realpath(source)
        return self.file(path, pathlib.Path(real).read_bytes(), mode if mode is not None else os.stat(real).st_mode
                         & 0o7777)

    def symlink(self, path: str, target: str) -> Rootfs:
        self._info(path, tarfile.SYMTYPE, 0o777).linkname = target
        return self

    def hardlink(self, path: str, target: str) -> Rootfs:
        self._info(path, tarfile.LNKTYPE, 0o644).linkname = target.strip("/")
        return self

    def whiteout(self, path: str) -> Rootfs:
        parent, _, base = path.strip("/").rpartition("/")
        return self.file(f"{parent}/.wh.{base}" if parent else f".wh.{base}", b"", 0o000)

    def opaque(self, path: str) -> Rootfs:
        return self.file(f"{path.strip('/')}/.wh..wh..opq", b"", 0o000)

    def tar(self) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
            for name in sorted(self.entries):
                ti = self.entries[name]
                data = self.data.get(name)
                tf.addfile(ti, io.BytesIO(data) if data is not None else None)
        return buf.getvalue()


def gzip_bytes(data: bytes, *, level: int = 1) -> bytes:
    """Deterministic gzip (no name, mtime 0). Level 1: a test image builds in a fraction of the time of level 6
    for a few percent more bytes, and unpacks as fast."""
    return gzip.compress(data, compresslevel=level, mtime=0)


# --------------------------------------------------------------------------------------------- images

@dataclass(frozen=True, slots=True)
class Blob:
    media_type: str
    data: bytes = field(repr=False)

    @property
    def digest(self) -> str:
        return mt.sha256_digest(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data), **extra}


def _json(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=False).encode()


@dataclass(frozen=True, slots=True)
class BuiltImage:
    name: str                                   # full reference: docker.io/library/nginx:1.25
    manifest: Blob
    config: Blob
    layers: tuple[Blob, ...]
    index: Blob | None = None

    @property
    def repository(self) -> str:
        return self.name.rpartition(":")[0]

    @property
    def tag(self) -> str:
        return self.name.rpartition(":")[2]

    @property
    def target(self) -> Blob:
        """What the tag points at: the index if there is one, else the manifest."""
        return self.index or self.manifest

    def blobs(self) -> list[Blob]:
        return [self.config, *self.layers]


def make_image(name: str, layers: Sequence[bytes], *, config: dict[str, Any], oci: bool = True,
               platform: Platform | None = None, index: bool = True, compress: bool = True,
               extra_manifests: Sequence[tuple[dict[str, Any], Blob]] = (),
               compressed: dict[str, bytes] | None = None) -> BuiltImage:
    """An image from uncompressed layer tars: config (with ``rootfs.diff_ids``), manifest and, if ``index``, an
    index listing it for ``platform`` (plus ``extra_manifests``: (platform, manifest) pairs for tests).
    ``compressed`` caches gzipped layers by diffID across calls."""
    p = platform or host_platform()
    layer_type = (mt.OCI_LAYER_GZIP if compress else mt.OCI_LAYER) if oci else (
        mt.DOCKER_LAYER_GZIP if compress else mt.DOCKER_LAYER)
    cache = {} if compressed is None else compressed

    def packed(x: bytes) -> bytes:
        if not compress:
            return x
        key = mt.sha256_digest(x)
        if key not in cache:
            cache[key] = gzip_bytes(x)
        return cache[key]

    layer_blobs = tuple(Blob(layer_type, packed(x)) for x in layers)
    cfg = {"architecture": p.architecture, "os": p.os, **({"variant": p.variant} if p.variant else {}),
           "created": "2023-11-14T22:13:20Z", "config": config,
           "rootfs": {"type": "layers", "diff_ids": [mt.sha256_digest(x) for x in layers]},
           "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "pybernetes.testing.images"}
                       for _ in layers]}
    config_blob = Blob(mt.OCI_CONFIG if oci else mt.DOCKER_CONFIG, _json(cfg))
    man_type = mt.OCI_MANIFEST if oci else mt.DOCKER_MANIFEST
    man = {"schemaVersion": 2, "mediaType": man_type, "config": config_blob.descriptor(),
           "layers": [b.descriptor() for b in layer_blobs]}
    manifest_blob = Blob(man_type, _json(man))
    index_blob = None
    if index:
        plat = {"architecture": p.architecture, "os": p.os, **({"variant": p.variant} if p.variant else {})}
        entries = [manifest_blob.descriptor(platform=plat),
                   *(m.descriptor(platform=pl) for pl, m in extra_manifests)]
        idx_type = mt.OCI_INDEX if oci else mt.DOCKER_MANIFEST_LIST
        index_blob = Blob(idx_type, _json({"schemaVersion": 2, "mediaType": idx_type, "manifests": entries}))
    return BuiltImage(name=name, manifest=manifest_blob, config=config_blob, layers=layer_blobs, index=index_blob)


def busybox_rootfs(busybox: str = BUSYBOX) -> Rootfs:
    if not os.path.exists(busybox):
        raise BuildError(f"{busybox} is missing: install the busybox-static package")
    ldd = subprocess.run(["ldd", busybox], capture_output=True, text=True, check=False)
    if "not a dynamic executable" not in (ldd.stdout + ldd.stderr):
        raise BuildError(f"{busybox} is not statically linked: install the busybox-static package")
    fs = Rootfs()
    for d, mode in (("bin", 0o755), ("sbin", 0o755), ("usr/bin", 0o755), ("usr/sbin", 0o755), ("etc", 0o755),
                    ("root", 0o700), ("tmp", 0o1777), ("var", 0o755), ("home", 0o755), ("dev", 0o755),
                    ("proc", 0o555), ("sys", 0o555)):
        fs.dir(d, mode)
    fs.copy("bin/busybox", busybox, 0o755)
    applets = subprocess.run([busybox, "--list-full"], capture_output=True, text=True, check=True).stdout.split()
    for path in applets:
        if path.rpartition("/")[2] in ("busybox", "linuxrc"):
            continue
        fs.symlink(path, "/bin/busybox")
    fs.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    fs.file("etc/group", "root:x:0:\nnogroup:x:65534:\n")
    return fs


def _ldd_paths(binary: str) -> list[str]:
    """The shared libraries and the loader of ``binary``, as the paths the loader will look for."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    paths = []
    for line in out.splitlines():
        m = re.search(r"=>\s*(/\S+)", line) or re.match(r"\s*(/\S+)\s*\(", line)
        if m:
            paths.append(m.group(1))
    return paths


def nginx_rootfs(nginx: str = NGINX, mime_types: str = "/etc/nginx/mime.types") -> Rootfs:
    if not os.path.exists(nginx) or not os.path.exists(mime_types):
        raise BuildError(f"{nginx} or {mime_types} is missing: install the nginx-light package")
    fs = Rootfs()
    fs.copy("usr/sbin/nginx", nginx, 0o755)
    for lib in _ldd_paths(nginx):
        fs.copy(lib, lib, 0o755)
    fs.file("etc/nginx/nginx.conf", NGINX_CONF)
    fs.copy("etc/nginx/mime.types", mime_types, 0o644)
    fs.file("usr/share/nginx/html/index.html", INDEX_HTML)
    fs.dir("var/lib/nginx", 0o755).dir("var/cache/nginx", 0o755).dir("run", 0o755)
    fs.symlink("var/log/nginx/access.log", "/dev/stdout").symlink("var/log/nginx/error.log", "/dev/stderr")
    return fs


def build_test_images(platform: Platform | None = None) -> list[BuiltImage]:
    """Every test image, one per tag (tags of the same content share manifests)."""
    base = busybox_rootfs().tar()
    nginx = nginx_rootfs().tar()
    packed: dict[str, bytes] = {}
    out = []
    busybox_cfg = {"Env": [PATH_ENV], "Cmd": ["sh"], "Entrypoint": None, "WorkingDir": "/"}
    for tag in BUSYBOX_TAGS:
        out.append(make_image(f"docker.io/library/busybox:{tag}", [base], config=busybox_cfg, oci=False,
                              platform=platform, compressed=packed))
    for tag in NGINX_TAGS:
        version = NGINX_TAGS[-2] if tag == "latest" else tag
        cfg: dict[str, Any] = {"Env": [PATH_ENV, f"NGINX_VERSION={version}"], "Entrypoint": None, "Cmd": ["nginx"],
               "ExposedPorts": {"80/tcp": {}}, "WorkingDir": "/", "StopSignal": "SIGQUIT",
               "Labels": {"org.opencontainers.image.version": version}}
        out.append(make_image(f"docker.io/library/nginx:{tag}", [base, nginx], config=cfg, oci=True,
                              platform=platform, compressed=packed))
    return out


def write_oci_layout(dest: pathlib.Path, images: Iterable[BuiltImage]) -> pathlib.Path:
    """An OCI image layout directory; each image's target is annotated with its full name (containerd's
    ``io.containerd.image.name``) and its tag (``org.opencontainers.image.ref.name``)."""
    blobs = dest / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    (dest / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    manifests = []
    for img in images:
        for b in (*img.blobs(), img.manifest, *([img.index] if img.index else [])):
            path = blobs / b.digest[7:]
            if not path.exists():
                path.write_bytes(b.data)
        manifests.append(img.target.descriptor(annotations={"io.containerd.image.name": img.name,
                                                            "org.opencontainers.image.ref.name": img.tag}))
    (dest / "index.json").write_bytes(_json({"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                                              "manifests": manifests}))
    return dest


# --------------------------------------------------------------------------------------------- registry

@dataclass(frozen=True, slots=True)
class LocalRegistry:
    pid: int
    port: int
    data_dir: pathlib.Path

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_registry(data_dir: pathlib.Path, *, port: int = 0, binary: str = DOCKER_REGISTRY,
                   timeout: float = 15.0) -> LocalRegistry:
    """Run ``docker-registry serve`` on 127.0.0.1 (a free port unless given), storing under ``data_dir``; it
    runs in its own session (it outlives the caller until :func:`stop_registry`). Returns once ``/v2/`` answers."""
    if not os.path.exists(binary):
        raise BuildError(f"{binary} is missing: install the docker-registry package")
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    config = data_dir / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {data_dir / 'storage'}\n  delete:\n    enabled: true\n"
        "  cache:\n    blobdescriptor: inmemory\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: pybernetes-test-registry\n")
    log = open(data_dir / "registry.log", "ab")
    try:
        proc = subprocess.Popen([binary, "serve", str(config)], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)
    finally:
        log.close()
    reg = LocalRegistry(pid=proc.pid, port=port, data_dir=data_dir)
    deadline = time.monotonic() + timeout
    while not _answers(f"{reg.url}/v2/"):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_registry(reg)
            tail = (data_dir / "registry.log").read_text(errors="replace")[-2000:]
            raise BuildError(f"docker-registry did not start on {reg.host}:\n{tail}")
        time.sleep(0.05)
    (data_dir / "registry.pid").write_text(f"{proc.pid} {port}\n")
    return reg


def stop_registry(registry: LocalRegistry | int, *, timeout: float = 5.0) -> None:
    """Stop a registry started by :func:`start_registry` (by its PID): TERM, then KILL after ``timeout``."""
    pid = registry.pid if isinstance(registry, LocalRegistry) else registry
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:             # not our child (started by another process): poll for it instead
            done = 0 if _alive(pid) else pid
        if done:
            return
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def write_registries_yaml(path: pathlib.Path, registry: LocalRegistry | str, *,
                          mirrors: Sequence[str] = ("docker.io",), disable_default_endpoint: bool = True
                          ) -> pathlib.Path:
    """A k3s-style ``registries.yaml`` sending ``mirrors`` to ``registry`` (a :class:`LocalRegistry` or a URL).

    ``disable_default_endpoint`` (default on, so tests never reach the internet when the mirror lacks an
    image) is pybernetes's extension; k3s ignores the key."""
    url = registry.url if isinstance(registry, LocalRegistry) else registry
    lines = ["mirrors:"]
    for m in mirrors:
        lines += [f'  "{m}":', "    endpoint:", f'      - "{url}"']
    if disable_default_endpoint:
        lines.append("disable_default_endpoint: true")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


async def push_images(registry: LocalRegistry | str, images: Iterable[BuiltImage]) -> None:
    """Upload ``images`` to ``registry`` under their Docker Hub paths (``library/nginx``), tags included."""
    from pybernetes.kubelet.images.config import Endpoint, endpoint_url
    from pybernetes.kubelet.images.registry import RegistryClient

    url = registry.url if isinstance(registry, LocalRegistry) else registry
    name, api, host = endpoint_url(url)
    ep = Endpoint(api=api, registry=name, host=host)
    client = RegistryClient()
    try:
        for img in images:
            repo = img.repository.partition("/")[2]
            for b in img.blobs():
                await client.push_blob(ep, repo, b.digest, b.data)
            await client.push_manifest(ep, repo, img.manifest.digest, img.manifest.data, img.manifest.media_type)
            if img.index is not None:
                await client.push_manifest(ep, repo, img.index.digest, img.index.data, img.index.media_type)
            await client.push_manifest(ep, repo, img.tag, img.target.data, img.target.media_type)
    finally:
        await client.close()
