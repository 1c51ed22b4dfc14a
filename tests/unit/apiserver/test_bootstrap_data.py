"""Bootstrap data: the cluster's CAs and ServiceAccount key sealed with the join token in the datastore, so that
every API server on one store serves certificates from the same CAs and signs tokens with the same key."""

from __future__ import annotations

import asyncio
import pathlib

import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pybernetes.apiserver.bootstrap_data import FILES, KEY, BootstrapError, seal, sync_pki, unseal
from pybernetes.apiserver.certs import ensure_pki, issue_client

try:
    from tests.unit.storage.memstore import MemStore
except ModuleNotFoundError:  # pytest's default (prepend) import mode
    from memstore import MemStore  # type: ignore[no-redef]

FILESET = {"server-ca.crt": b"-----CERT-----\n", "server-ca.key": bytes(range(256)), "empty": b""}


def test_seal_unseal_round_trip() -> None:
    blob = seal(FILESET, "token-1")
    assert unseal(blob, "token-1") == FILESET
    doc = orjson.loads(blob)
    assert set(doc) == {"v", "salt", "nonce", "data"} and doc["v"] == 1
    assert b"CERT" not in blob and b"server-ca" not in blob                 # names and contents are encrypted


def test_each_seal_uses_a_fresh_salt_and_nonce() -> None:
    a, b = orjson.loads(seal(FILESET, "t")), orjson.loads(seal(FILESET, "t"))
    assert a["salt"] != b["salt"] and a["nonce"] != b["nonce"] and a["data"] != b["data"]


@pytest.mark.parametrize("blob", [
    b"", b"not json", b"{}", b'{"v":1,"salt":"AAAA","nonce":"AAAA","data":"AAAA"}', b"[1,2]",
])
def test_garbage_is_a_clear_error(blob: bytes) -> None:
    with pytest.raises(BootstrapError, match="is --token the cluster's token"):
        unseal(blob, "t")


def test_wrong_token_is_a_clear_error() -> None:
    blob = seal(FILESET, "right")
    with pytest.raises(BootstrapError) as ei:
        unseal(blob, "wrong")
    assert str(ei.value) == "cannot read the cluster's bootstrap data: is --token the cluster's token?"


def test_tampering_is_detected() -> None:
    doc = orjson.loads(seal(FILESET, "t"))
    data = bytearray(doc["data"].encode())
    data[5] = ord("A") if data[5] != ord("A") else ord("B")
    doc["data"] = data.decode()
    with pytest.raises(BootstrapError):
        unseal(orjson.dumps(doc), "t")


def ca_of(d: pathlib.Path, name: str = "server-ca") -> bytes:
    return (d / "tls" / f"{name}.crt").read_bytes()


def issued_by(cert_pem: bytes, ca_pem: bytes) -> bool:
    cert = x509.load_pem_x509_certificate(cert_pem)
    ca = x509.load_pem_x509_certificate(ca_pem)
    try:
        cert.verify_directly_issued_by(ca)
    except Exception:                                   # InvalidSignature, ValueError, TypeError
        return False
    return True


async def test_first_server_publishes_and_the_second_adopts(tmp_path: pathlib.Path) -> None:
    store = MemStore()
    a, b = tmp_path / "a", tmp_path / "b"
    await sync_pki(store, a, "tok")
    kv = await store.get(KEY)
    assert kv is not None
    assert set(unseal(kv.value, "tok")) == set(FILES)
    ensure_pki(a)
    ensure_pki(b)                                        # b had a CA of its own before it joined
    own_b = ca_of(b)
    assert own_b != ca_of(a)
    await sync_pki(store, b, "tok")
    pki_b = ensure_pki(b)
    for name in FILES:
        assert (b / "tls" / name).read_bytes() == (a / "tls" / name).read_bytes(), name
    # b's leaf certificates were re-issued from the adopted CAs
    assert issued_by(pki_b.serving_cert.read_bytes(), ca_of(a))
    assert issued_by(pki_b.admin_cert.read_bytes(), ca_of(a, "client-ca"))
    assert not issued_by(pki_b.serving_cert.read_bytes(), own_b)
    # a client certificate issued on b is one a verifies (same client CA), and a's admin cert is one b accepts
    cert, _ = issue_client(b, cn="jane", org="dev")
    assert issued_by(cert, ca_of(a, "client-ca"))
    assert issued_by((a / "tls" / "client-admin.crt").read_bytes(), ca_of(b, "client-ca"))
    # the same ServiceAccount signing key
    assert (a / "tls" / "service-account.key").read_bytes() == (b / "tls" / "service-account.key").read_bytes()
    assert (await store.get(KEY)).mod_revision == kv.mod_revision           # type: ignore[union-attr]


async def test_adopting_twice_changes_nothing(tmp_path: pathlib.Path) -> None:
    store = MemStore()
    await sync_pki(store, tmp_path / "a", "tok")
    await sync_pki(store, tmp_path / "b", "tok")
    pki = ensure_pki(tmp_path / "b")
    serving = pki.serving_cert.read_bytes()
    await sync_pki(store, tmp_path / "b", "tok")         # a restart
    assert ensure_pki(tmp_path / "b").serving_cert.read_bytes() == serving


async def test_two_servers_starting_at_once_agree(tmp_path: pathlib.Path) -> None:
    store = MemStore()
    dirs = [tmp_path / f"s{i}" for i in range(3)]
    await asyncio.gather(*(sync_pki(store, d, "tok") for d in dirs))
    cas = {ca_of(d) for d in dirs}
    assert len(cas) == 1
    (winner,) = cas
    assert unseal((await store.get(KEY)).value, "tok")["server-ca.crt"] == winner   # type: ignore[union-attr]


async def test_a_server_with_the_wrong_token_cannot_join(tmp_path: pathlib.Path) -> None:
    store = MemStore()
    await sync_pki(store, tmp_path / "a", "tok")
    with pytest.raises(BootstrapError, match="is --token the cluster's token"):
        await sync_pki(store, tmp_path / "b", "not-the-token")
    assert not (tmp_path / "b" / "tls" / "server-ca.key").exists()            # nothing adopted


async def test_private_files_are_private(tmp_path: pathlib.Path) -> None:
    store = MemStore()
    await sync_pki(store, tmp_path / "a", "tok")
    await sync_pki(store, tmp_path / "b", "tok")
    for name in ("server-ca.key", "client-ca.key", "service-account.key"):
        assert (tmp_path / "b" / "tls" / name).stat().st_mode & 0o077 == 0, name
    assert (tmp_path / "b" / "tls").stat().st_mode & 0o077 == 0


def test_sealed_keys_are_usable(tmp_path: pathlib.Path) -> None:
    ensure_pki(tmp_path)
    files = {n: (tmp_path / "tls" / n).read_bytes() for n in FILES}
    out = unseal(seal(files, "t"), "t")
    key = serialization.load_pem_private_key(out["service-account.key"], None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
