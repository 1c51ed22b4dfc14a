"""Trusting the server: CA fetched once, kept, pinned by a K10 token."""

from __future__ import annotations

import datetime
import hashlib
import pathlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pybernetes.kubelet import trust


def _cert(ca: bool) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def test_token_hash() -> None:
    digest = "ab" * 32
    assert trust.token_ca_hash(f"K10{digest}::server:secret") == digest
    assert trust.token_ca_hash("plain-token") is None
    assert trust.token_ca_hash("K10short::x") is None


def test_check_ca() -> None:
    pem = _cert(True)
    trust.check_ca(pem, "plain")
    trust.check_ca(pem, f"K10{hashlib.sha256(pem).hexdigest()}::node:x")
    with pytest.raises(trust.TrustError, match="does not match"):
        trust.check_ca(pem, f"K10{'0' * 64}::node:x")
    with pytest.raises(trust.TrustError, match="no CA certificate"):
        trust.check_ca(_cert(False), "plain")
    with pytest.raises(trust.TrustError, match="not a PEM"):
        trust.check_ca(b"hello", "plain")


async def test_fetched_once_then_kept(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pem = _cert(True)
    fetched = []

    async def fake_fetch(server: str, *, timeout: float = 10.0) -> bytes:
        fetched.append(server)
        return pem

    monkeypatch.setattr(trust, "fetch_ca", fake_fetch)
    assert await trust.server_ca("https://s:6443", tmp_path, "tok") == pem
    assert (tmp_path / trust.CA_FILE).read_bytes() == pem
    assert await trust.server_ca("https://s:6443", tmp_path, "tok") == pem
    assert fetched == ["https://s:6443"]
    assert await trust.server_ca("http://s:8080", tmp_path, "tok") is None
