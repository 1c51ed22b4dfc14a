"""The distribution client against a fake registry: auth flows, verification, redirects, error messages."""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from tests.unit.kubelet.images.builders import small_image
from tests.unit.kubelet.images.fakeregistry import FakeRegistry, serve

from pybernetes.apiserver.certs import ensure_pki
from pybernetes.kubelet.images import manifest as mt
from pybernetes.kubelet.images.config import Credential, Endpoint, TLSConfig, endpoint_url
from pybernetes.kubelet.images.errors import RegistryError
from pybernetes.kubelet.images.manifest import Descriptor
from pybernetes.kubelet.images.registry import RegistryClient

IMAGE = small_image("docker.io/library/app:1")
REPO = "library/app"


def endpoint(url: str, *creds: Credential) -> Endpoint:
    registry, api, host = endpoint_url(url)
    return Endpoint(api=api, registry=registry, host=host, credentials=creds)


@pytest.fixture()
def reg() -> FakeRegistry:
    r = FakeRegistry()
    r.add(IMAGE)
    return r


@pytest.fixture()
async def server(reg: FakeRegistry) -> AsyncIterator[TestServer]:
    srv = await serve(reg)
    yield srv
    await srv.close()


@pytest.fixture()
async def client() -> AsyncIterator[RegistryClient]:
    c = RegistryClient()
    yield c
    await c.close()


def layer_desc() -> Descriptor:
    b = IMAGE.layers[0]
    return Descriptor(media_type=b.media_type, digest=b.digest, size=len(b.data))


async def test_manifest_by_tag_and_digest(reg: FakeRegistry, server: TestServer, client: RegistryClient) -> None:
    ep = endpoint(reg.url)
    top = await client.get_manifest(ep, REPO, "1")
    assert (top.media_type, top.digest) == (mt.OCI_INDEX, IMAGE.index.digest)
    man = await client.get_manifest(ep, REPO, IMAGE.manifest.digest)
    assert man.media_type == mt.OCI_MANIFEST and man.doc["layers"][0]["digest"] == IMAGE.layers[0].digest
    assert all(mt.OCI_INDEX in r.headers["Accept"] and mt.DOCKER_MANIFEST in r.headers["Accept"]
               for r in reg.log if "/manifests/" in r.path)


async def test_anonymous_token_flow_fetches_one_token(reg: FakeRegistry, server: TestServer,
                                                      client: RegistryClient, tmp_path: Path) -> None:
    reg.token_auth = True
    ep = endpoint(reg.url)
    await client.get_manifest(ep, REPO, "1")
    await client.get_manifest(ep, REPO, IMAGE.manifest.digest)
    await client.fetch_blob(ep, REPO, layer_desc(), tmp_path / "blob")
    assert reg.token_requests == [{"service": "fake-registry", "scope": "repository:library/app:pull",
                                   "authorization": ""}]
    assert [r.headers.get("Authorization", "")[:7] for r in reg.log] == ["", "Bearer ", "Bearer ", "Bearer "]


async def test_token_with_basic_credentials(reg: FakeRegistry, server: TestServer, client: RegistryClient) -> None:
    reg.token_auth, reg.basic_auth, reg.anonymous_pull = True, ("alice", "s3cret"), False
    await client.get_manifest(endpoint(reg.url, Credential(username="alice", password="s3cret")), REPO, "1")
    assert reg.token_requests[0]["authorization"].startswith("Basic ")


async def test_credentials_are_tried_in_turn(reg: FakeRegistry, server: TestServer, client: RegistryClient) -> None:
    reg.token_auth, reg.basic_auth, reg.anonymous_pull = True, ("alice", "s3cret"), False
    ep = endpoint(reg.url, Credential(username="alice", password="old"), Credential(username="alice",
                                                                                    password="s3cret"))
    top = await client.get_manifest(ep, REPO, "1")
    assert top.digest == IMAGE.index.digest


async def test_token_refused_is_unauthorized(reg: FakeRegistry, server: TestServer, client: RegistryClient) -> None:
    reg.token_auth, reg.basic_auth, reg.anonymous_pull = True, ("alice", "s3cret"), False
    with pytest.raises(RegistryError) as e:
        await client.get_manifest(endpoint(reg.url, Credential(username="alice", password="wrong")), REPO, "1")
    assert e.value.status == 401
    assert "401 Unauthorized: incorrect username or password" in str(e.value)


@pytest.mark.parametrize("creds", [(), (Credential(username="bob", password="nope"),)])
async def test_basic_challenge(reg: FakeRegistry, server: TestServer, client: RegistryClient,
                               creds: tuple[Credential, ...]) -> None:
    reg.basic_auth = ("alice", "s3cret")
    with pytest.raises(RegistryError, match=r"^unauthorized: authentication required$"):
        await client.get_manifest(endpoint(reg.url, *creds), REPO, "1")
    ok = await client.get_manifest(endpoint(reg.url, Credential(username="alice", password="s3cret")), REPO, "1")
    assert ok.digest == IMAGE.index.digest


async def test_manifest_unknown(reg: FakeRegistry, server: TestServer, client: RegistryClient) -> None:
    with pytest.raises(RegistryError, match=r"^manifest unknown: manifest unknown$") as e:
        await client.get_manifest(endpoint(reg.url), REPO, "nope")
    assert e.value.not_found


async def test_content_digest_mismatch_rejected(reg: FakeRegistry, server: TestServer,
                                                client: RegistryClient) -> None:
    reg.wrong_content_digest = True
    with pytest.raises(RegistryError, match="Docker-Content-Digest"):
        await client.get_manifest(endpoint(reg.url), REPO, "1")


async def test_blob_content_digest_header_checked(reg: FakeRegistry, server: TestServer,
                                                  client: RegistryClient, tmp_path: Path) -> None:
    reg.wrong_content_digest = True
    with pytest.raises(RegistryError, match="Docker-Content-Digest is"):
        await client.fetch_blob(endpoint(reg.url), REPO, layer_desc(), tmp_path / "blob")


async def test_manifest_must_match_the_digest_asked_for(reg: FakeRegistry, server: TestServer,
                                                        client: RegistryClient) -> None:
    reg.manifests[(REPO, IMAGE.manifest.digest)] = (mt.OCI_MANIFEST, IMAGE.manifest.data + b" ")
    with pytest.raises(RegistryError, match="manifest digest mismatch: asked for"):
        await client.get_manifest(endpoint(reg.url), REPO, IMAGE.manifest.digest)


async def test_corrupt_blob_rejected(reg: FakeRegistry, server: TestServer, client: RegistryClient,
                                     tmp_path: Path) -> None:
    reg.corrupt_blobs.add(IMAGE.layers[0].digest)
    with pytest.raises(RegistryError, match="blob digest mismatch"):
        await client.fetch_blob(endpoint(reg.url), REPO, layer_desc(), tmp_path / "blob")


async def test_blob_size_checked(reg: FakeRegistry, server: TestServer, client: RegistryClient,
                                 tmp_path: Path) -> None:
    d = layer_desc()
    short = Descriptor(media_type=d.media_type, digest=d.digest, size=d.size - 1)
    with pytest.raises(RegistryError, match="more than the"):
        await client.fetch_blob(endpoint(reg.url), REPO, short, tmp_path / "blob")


async def test_redirect_to_storage_drops_credentials(reg: FakeRegistry, server: TestServer,
                                                     client: RegistryClient, tmp_path: Path) -> None:
    storage_reg = FakeRegistry(blobs=reg.blobs)
    storage = await serve(storage_reg)
    try:
        reg.token_auth = True
        reg.redirect_blobs_to = storage_reg.url.replace("127.0.0.1", "localhost")    # another origin
        await client.fetch_blob(endpoint(reg.url), REPO, layer_desc(), tmp_path / "blob")
    finally:
        await storage.close()
    assert (tmp_path / "blob").read_bytes() == IMAGE.layers[0].data
    [fetch] = [r for r in storage_reg.log if r.path.startswith("/storage/")]
    assert "Authorization" not in fetch.headers
    assert any(r.headers.get("Authorization", "").startswith("Bearer ") for r in reg.log)


async def test_connection_refused(client: RegistryClient) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(RegistryError, match=rf"dial tcp 127.0.0.1:{port}: connect: connection refused") as e:
        await client.get_manifest(endpoint(f"127.0.0.1:{port}"), REPO, "1")
    assert e.value.status == 0


@pytest.fixture()
async def tls(reg: FakeRegistry, tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """The fake registry over HTTPS with a certificate from a private CA: (base URL, CA file)."""
    pki = ensure_pki(tmp_path / "pki")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pki.serving_cert, pki.serving_key)
    srv = TestServer(reg.app(), host="127.0.0.1")
    await srv.start_server(ssl=ctx)
    reg.url = str(srv.make_url("")).rstrip("/")
    yield reg.url, pki.server_ca
    await srv.close()


@pytest.mark.parametrize(("settings", "error"), [
    ({}, "tls: failed to verify certificate"),
    ({"ca_file": "CA"}, None),
    ({"insecure_skip_verify": True}, None),
])
async def test_https_registry(tls: tuple[str, Path], client: RegistryClient, settings: dict,
                              error: str | None) -> None:
    url, ca = tls
    registry, api, host = endpoint_url(url)
    assert api.startswith("https://127.0.0.1:")
    cfg = TLSConfig(**{k: str(ca) if v == "CA" else v for k, v in settings.items()})
    ep = Endpoint(api=api, registry=registry, host=host, tls=cfg)
    if error:
        with pytest.raises(RegistryError, match=error):
            await client.get_manifest(ep, REPO, "1")
    else:
        assert (await client.get_manifest(ep, REPO, "1")).digest == IMAGE.index.digest
