"""Cluster-wide secrets shared by every API server through the datastore (as k3s's bootstrap data).

Several API servers on one etcd must present certificates from the same CAs and sign ServiceAccount tokens with
the same key. The first server to start generates them and stores them, encrypted with a key derived from the
join token (AES-256-GCM, PBKDF2-SHA256), under ``/bootstrap/pki`` with create-if-absent; every later server
reads them into its own ``<data-dir>/tls`` before issuing its serving certificate. A server that does not know
the token cannot read them.
"""

from __future__ import annotations

import base64
import hashlib
import os
import pathlib

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pybernetes.storage import interface as st

KEY = "/bootstrap/pki"
FILES = ("server-ca.crt", "server-ca.key", "client-ca.crt", "client-ca.key", "service-account.key")
ITERATIONS = 100_000


class BootstrapError(Exception):
    pass


def _key(token: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", token.encode(), salt, ITERATIONS, 32)


def seal(files: dict[str, bytes], token: str) -> bytes:
    salt, nonce = os.urandom(16), os.urandom(12)
    plain = orjson.dumps({k: base64.b64encode(v).decode() for k, v in files.items()})
    return orjson.dumps({"v": 1, "salt": base64.b64encode(salt).decode(), "nonce": base64.b64encode(nonce).decode(),
                         "data": base64.b64encode(AESGCM(_key(token, salt)).encrypt(nonce, plain, None)).decode()})


def unseal(blob: bytes, token: str) -> dict[str, bytes]:
    try:
        d = orjson.loads(blob)
        salt, nonce = base64.b64decode(d["salt"]), base64.b64decode(d["nonce"])
        plain = AESGCM(_key(token, salt)).decrypt(nonce, base64.b64decode(d["data"]), None)
    except Exception as e:
        raise BootstrapError("cannot read the cluster's bootstrap data: is --token the cluster's token?") from e
    return {k: base64.b64decode(v) for k, v in orjson.loads(plain).items()}


def _write(tls: pathlib.Path, files: dict[str, bytes]) -> None:
    tls.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name, data in files.items():
        path = tls / name
        if path.exists() and path.read_bytes() == data:
            continue
        tmp = path.with_suffix(path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        # Leaf certificates from other CAs are stale now: let ensure_pki issue new ones.
        for leaf in ("serving.crt", "client-admin.crt"):
            (tls / leaf).unlink(missing_ok=True)


async def sync_pki(store: st.Store, data_dir: pathlib.Path, token: str) -> None:
    """Make ``<data-dir>/tls`` hold the cluster's CAs: adopt the stored ones, or publish ours if we are first."""
    from pybernetes.apiserver.certs import ensure_pki
    tls = data_dir / "tls"
    kv = await store.get(KEY)
    if kv is None:
        ensure_pki(data_dir)                     # generates the CAs if this data dir has none yet
        files = {n: (tls / n).read_bytes() for n in FILES}
        try:
            await store.create(KEY, seal(files, token))
            return
        except st.KeyExists:
            kv = await store.get(KEY)            # another server won the race: adopt its CAs
    assert kv is not None
    _write(tls, unseal(kv.value, token))
