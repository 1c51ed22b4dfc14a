"""Trusting the server a joining agent is pointed at (k3s's bootstrap).

The first time, the CA is fetched from the unauthenticated ``GET <server>/cacerts`` without verification and kept
in ``<data-dir>/server-ca.crt``; every connection after that verifies the server with it, and the join token is
sent only over verified connections. A token of k3s's secure form ``K10<sha256 of the CA bundle>::…`` pins the CA:
a CA that does not hash to it is refused. With a plain token the first fetch is trust-on-first-use.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import pathlib

import aiohttp
from cryptography import x509

from pybernetes.client.clock import REAL, Clock

log = logging.getLogger(__name__)
CA_FILE = "server-ca.crt"


class TrustError(Exception):
    pass


def token_ca_hash(token: str) -> str | None:
    """The CA hash a ``K10<hex>::…`` token pins, or None for a plain token."""
    if token.startswith("K10") and "::" in token:
        digest = token[3:].split("::", 1)[0]
        if len(digest) == 64 and all(c in "0123456789abcdef" for c in digest.lower()):
            return digest.lower()
    return None


def check_ca(pem: bytes, token: str) -> None:
    """Raise TrustError unless ``pem`` holds at least one CA certificate (and matches a pinning token)."""
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as e:
        raise TrustError(f"the server's /cacerts is not a PEM certificate bundle: {e}") from None
    if not any(_is_ca(c) for c in certs):
        raise TrustError("the server's /cacerts holds no CA certificate")
    want = token_ca_hash(token)
    if want is not None and hashlib.sha256(pem).hexdigest() != want:
        raise TrustError("the server's CA does not match the hash in the join token")


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


async def fetch_ca(server: str, *, timeout: float = 10.0) -> bytes:
    async with aiohttp.ClientSession() as s, s.get(server.rstrip("/") + "/cacerts", ssl=False,
                                                   timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
        if resp.status != 200:
            raise TrustError(f"GET {server}/cacerts answered {resp.status}")
        return await resp.read()


async def server_ca(server: str, data_dir: pathlib.Path, token: str, *, attempts: int = 30,
                    clock: Clock = REAL) -> bytes | None:
    """The CA to verify ``server`` with (None for plain http): the kept one, else fetched (retrying while the
    server starts) and kept."""
    if not server.startswith("https://"):
        return None
    path = data_dir / CA_FILE
    kept = await asyncio.to_thread(_read, path)
    if kept is not None:
        check_ca(kept, token)
        return kept
    delay = 0.2
    for i in range(attempts):
        try:
            pem = await fetch_ca(server)
            break
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            if i == attempts - 1:
                raise TrustError(f"cannot reach {server}/cacerts: {e!r}") from None
            log.info("server not reachable yet; retrying", extra={"server": server, "error": repr(e)})
            await clock.sleep(delay)
            delay = min(delay * 2, 5.0)
    check_ca(pem, token)
    if token_ca_hash(token) is None:
        log.warning("trusting the server CA on first use (the join token does not pin it)",
                    extra={"server": server, "ca_sha256": hashlib.sha256(pem).hexdigest()})
    await asyncio.to_thread(_keep, path, pem)
    return pem


def _read(path: pathlib.Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _keep(path: pathlib.Path, pem: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pem)
    os.chmod(tmp, 0o644)
    tmp.replace(path)
