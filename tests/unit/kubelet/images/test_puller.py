"""Pulling into a store: platform selection, mirror fallback and rewrites, credentials, policies, failures."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from tests.unit.kubelet.images.builders import AMD64, ARM64, multi_platform, small_image
from tests.unit.kubelet.images.fakeregistry import FakeRegistry, serve

from pybernetes.kubelet.images.config import Credential, RegistriesConfig, keyring_from_secrets
from pybernetes.kubelet.images.puller import ImagePuller, credentials_for
from pybernetes.kubelet.images.store import ImageStore
from pybernetes.kubelet.runtime.interface import ImagePullFailure
from pybernetes.testing.images import Rootfs, make_image


@pytest.fixture()
async def servers() -> AsyncIterator[list[tuple[FakeRegistry, TestServer]]]:
    """Three fake registries: tests fill and configure them."""
    out = []
    for _ in range(3):
        reg = FakeRegistry()
        out.append((reg, await serve(reg)))
    yield out
    for _, srv in out:
        await srv.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_open: list[ImagePuller] = []


@pytest.fixture(autouse=True)
async def _close_pullers() -> AsyncIterator[None]:
    yield
    while _open:
        await _open.pop().close()


def puller(tmp_path: Path, registries: dict | None = None, **kw) -> ImagePuller:  # type: ignore[no-untyped-def]
    p = ImagePuller(ImageStore(tmp_path / "images"), registries=RegistriesConfig.parse(registries or {}),
                    platform=kw.pop("platform", AMD64), **kw)
    _open.append(p)
    return p


def host(reg: FakeRegistry) -> str:
    return reg.url.removeprefix("http://")


async def test_pull_records_repo_digest_and_unpacks(servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reg, _ = servers[0]
    img = small_image(f"{host(reg)}/team/app:1", files={"etc/hello": "hi\n"})
    reg.add(img)
    p = puller(tmp_path)
    ref = await p.pull_image(f"{host(reg)}/team/app:1")
    assert ref.name == f"{host(reg)}/team/app:1"
    assert ref.id == f"{host(reg)}/team/app@{img.index.digest}"
    assert ref.size == len(img.manifest.data) + len(img.config.data) + len(img.layers[0].data)
    [layer] = p.rootfs_layers(ref.name)
    assert (layer / "etc/hello").read_text() == "hi\n"
    assert p.image_config(ref.name).cmd == ("app",)
    assert await p.image_status(ref.name) == ref
    assert await p.list_images() == [ref]
    assert (await p.image_status(p.get(ref.name).id)).id == ref.id     # by image ID too


@pytest.mark.parametrize(("platform", "expected"), [(AMD64, "amd64"), (ARM64, "arm64")])
async def test_index_platform_selection(servers, tmp_path: Path, platform, expected: str) -> None:  # type: ignore[no-untyped-def]
    reg, _ = servers[0]
    name = f"{host(reg)}/multi:1"
    amd, arm = small_image(name, platform=AMD64, index=False), small_image(name, platform=ARM64, index=False)
    attestation = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "0" * 64,
                   "size": 10, "platform": {"architecture": "unknown", "os": "unknown"}}
    index, images = multi_platform(name, [(ARM64, arm), (AMD64, amd)], extra=[attestation])
    for i in images:
        reg.add(i)
    reg.manifests[("multi", "1")] = (index.media_type, index.data)
    p = puller(tmp_path, platform=platform)
    ref = await p.pull_image(name)
    assert ref.id == f"{host(reg)}/multi@{index.digest}"
    [layer] = p.rootfs_layers(name)
    assert (layer / "etc/release").read_text() == f"app for {platform}\n"
    assert p.image_config(name).architecture == expected


async def test_no_platform_match(servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reg, _ = servers[0]
    reg.add(small_image(f"{host(reg)}/armonly:1", platform=ARM64))
    with pytest.raises(ImagePullFailure, match="no match for platform linux/amd64"):
        await puller(tmp_path).pull_image(f"{host(reg)}/armonly:1")


async def test_mirror_fallback_in_order(servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (empty, _), (mirror, _), (upstream, _) = servers
    img = small_image("docker.io/library/app:1")
    mirror.add(img)
    upstream.add(img)
    cfg = {"mirrors": {"docker.io": {"endpoint": [f"127.0.0.1:{closed_port()}", empty.url, mirror.url]}},
           "disable_default_endpoint": True}
    ref = await puller(tmp_path, cfg).pull_image("app:1")
    assert ref.id == f"docker.io/library/app@{img.index.digest}"
    assert [r.path for r in empty.log] == ["/v2/library/app/manifests/1"]
    assert any(r.path.endswith("/blobs/" + img.layers[0].digest) for r in mirror.log)
    assert upstream.log == []


async def test_all_endpoints_fail_shows_the_registry_answer(servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (empty, _), _, _ = servers
    cfg = {"mirrors": {"docker.io": {"endpoint": [f"127.0.0.1:{closed_port()}", empty.url]}},
           "disable_default_endpoint": True}
    with pytest.raises(ImagePullFailure) as e:
        await puller(tmp_path, cfg).pull_image("nginx:nope")
    assert str(e.value) == ('failed to pull and unpack image "docker.io/library/nginx:nope": failed to resolve '
                            'reference "docker.io/library/nginx:nope": manifest unknown: manifest unknown')
    assert e.value.reason == "ErrImagePull"


async def test_connection_refused_message(tmp_path: Path) -> None:
    port = closed_port()
    with pytest.raises(ImagePullFailure, match=rf"dial tcp 127.0.0.1:{port}: connect: connection refused"):
        await puller(tmp_path).pull_image(f"127.0.0.1:{port}/app:1")


async def test_rewrite_applies_to_mirrors(servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (mirror, _), _, _ = servers
    img = small_image("docker.io/library/app:1")
    mirror.add(img, repo="mirrored/app")
    cfg = {"mirrors": {"docker.io": {"endpoint": [mirror.url], "rewrite": {"^library/(.*)": "mirrored/$1"}}},
           "disable_default_endpoint": True}
    ref = await puller(tmp_path, cfg).pull_image("docker.io/library/app:1")
    assert ref.id == f"docker.io/library/app@{img.index.digest}"        # the name is the one asked for
    assert mirror.log[0].path == "/v2/mirrored/app/manifests/1"


async def test_pull_secret_credentials(servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reg, _ = servers[0]
    reg.token_auth, reg.basic_auth, reg.anonymous_pull = True, ("alice", "s3cret"), False
    reg.add(small_image(f"{host(reg)}/private:1"))
    p = puller(tmp_path)
    with pytest.raises(ImagePullFailure, match=r"private:1\": unauthorized: authentication required$"):
        await p.pull_image(f"{host(reg)}/private:1")
    auths = {host(reg): {"auth": base64.b64encode(b"alice:s3cret").decode()}}
    secret = {"type": "kubernetes.io/dockerconfigjson",
              "data": {".dockerconfigjson": base64.b64encode(json.dumps({"auths": auths}).encode()).decode()}}
    ref = await p.pull_image(f"{host(reg)}/private:1", auth=keyring_from_secrets([secret]))
    assert ref.name == f"{host(reg)}/private:1"


async def test_registries_yaml_credentials(servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reg, _ = servers[0]
    reg.basic_auth = ("bob", "pw")
    reg.add(small_image("docker.io/library/app:1"))
    cfg = {"mirrors": {"docker.io": {"endpoint": [reg.url]}}, "disable_default_endpoint": True,
           "configs": {host(reg): {"auth": {"username": "bob", "password": "pw"}}}}
    assert (await puller(tmp_path, cfg).pull_image("app:1")).name == "docker.io/library/app:1"


async def test_concurrent_pulls_share_one_download(servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reg, _ = servers[0]
    base = Rootfs().file("bin/sh", "shell").tar()
    a = make_image(f"{host(reg)}/a:1", [base, Rootfs().file("a", "a").tar()], config={})
    b = make_image(f"{host(reg)}/b:1", [base, Rootfs().file("b", "b").tar()], config={})
    reg.add(a)
    reg.add(b)
    p = puller(tmp_path)
    refs = await asyncio.gather(p.pull_image(a.name), p.pull_image(a.name), p.pull_image(b.name))
    assert refs[0] == refs[1]
    assert sum(r.path == "/v2/a/manifests/1" for r in reg.log) == 1
    shared = a.layers[0].digest
    assert sum(r.path.endswith("/blobs/" + shared) for r in reg.log) == 1
    assert p.rootfs_layers(a.name)[0] == p.rootfs_layers(b.name)[0]


async def test_pull_policies(servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reg, _ = servers[0]
    reg.add(small_image(f"{host(reg)}/app:1"))
    p = puller(tmp_path)
    with pytest.raises(ImagePullFailure) as e:
        await p.pull_image(f"{host(reg)}/app:1", policy="Never")
    assert e.value.reason == "ErrImageNeverPull"
    assert reg.log == []
    ref = await p.pull_image(f"{host(reg)}/app:1", policy="IfNotPresent")
    n = len(reg.log)
    assert await p.pull_image(f"{host(reg)}/app:1", policy="IfNotPresent") == ref
    assert await p.pull_image(f"{host(reg)}/app:1", policy="Never") == ref
    assert len(reg.log) == n
    await p.pull_image(f"{host(reg)}/app:1", policy="Always")
    assert len(reg.log) > n


async def test_pull_by_digest(servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reg, _ = servers[0]
    img = small_image(f"{host(reg)}/app:1")
    reg.add(img)
    ref = await puller(tmp_path).pull_image(f"{host(reg)}/app@{img.index.digest}")
    assert ref.name == ref.id == f"{host(reg)}/app@{img.index.digest}"


async def test_invalid_reference(tmp_path: Path) -> None:
    with pytest.raises(ImagePullFailure) as e:
        await puller(tmp_path).pull_image("UPPER/case")
    assert e.value.reason == "InvalidImageName"


async def test_corrupt_layer_is_not_recorded(servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reg, _ = servers[0]
    img = small_image(f"{host(reg)}/app:1")
    reg.add(img)
    reg.corrupt_blobs.add(img.layers[0].digest)
    p = puller(tmp_path)
    with pytest.raises(ImagePullFailure, match=f"failed to copy {img.layers[0].digest}: blob digest mismatch"):
        await p.pull_image(img.name)
    assert await p.image_status(img.name) is None
    assert not p.store.has_blob(img.layers[0].digest)


async def test_diff_id_mismatch_rejected(servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reg, _ = servers[0]
    real = Rootfs().file("x", "x").tar()
    fake = make_image(f"{host(reg)}/app:1", [Rootfs().file("y", "y").tar()], config={})
    lying = make_image(f"{host(reg)}/app:1", [real], config={})
    # a manifest whose layer is ``real`` but whose config claims the diffID of another tar
    cfg = json.loads(lying.config.data)
    cfg["rootfs"]["diff_ids"] = json.loads(fake.config.data)["rootfs"]["diff_ids"]
    from pybernetes.testing.images import Blob
    config_blob = Blob(lying.config.media_type, json.dumps(cfg).encode())
    man = json.loads(lying.manifest.data)
    man["config"] = config_blob.descriptor()
    manifest_blob = Blob(lying.manifest.media_type, json.dumps(man).encode())
    reg.blobs.update({config_blob.digest: config_blob.data, lying.layers[0].digest: lying.layers[0].data})
    reg.manifests[("app", "1")] = (manifest_blob.media_type, manifest_blob.data)
    with pytest.raises(ImagePullFailure, match="diffID mismatch"):
        await puller(tmp_path).pull_image(f"{host(reg)}/app:1")


@pytest.mark.parametrize(("auth", "n"), [
    (None, 0),
    (Credential(username="u"), 1),
    ([Credential(username="u"), Credential(username="v")], 2),
    ({"username": "u", "password": "p"}, 1),
    ({"username": "", "password": ""}, 0),
])
def test_credentials_for(auth, n: int) -> None:  # type: ignore[no-untyped-def]
    assert len(credentials_for(auth, "docker.io/library/nginx:1")) == n


def test_for_agent(tmp_path: Path) -> None:
    yaml = tmp_path / "registries.yaml"
    yaml.write_text('mirrors:\n  docker.io:\n    endpoint: ["http://127.0.0.1:5000"]\n')
    p = ImagePuller.for_agent(tmp_path / "agent", registry_config=yaml, disable_default_endpoint=True)
    assert p.store.root == tmp_path / "agent" / "images"
    assert [e.api for e in p.registries.endpoints("docker.io")] == ["http://127.0.0.1:5000/v2"]
