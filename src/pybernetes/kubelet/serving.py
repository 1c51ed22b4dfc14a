"""The kubelet server's TLS: its self-signed serving certificate and the cluster's client CA it trusts.

The serving certificate is made at first start and kept in ``<data-dir>/kubelet`` (upstream's self-signed
default; the API server does not verify it). Clients are verified against the cluster's client CA, which the agent
fetches from the API server at start with its join token (``GET /v1-pybernetes/client-ca.crt``, for
``system:masters`` only); certificates are optional at the TLS layer so the server can answer 401 itself.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import pathlib
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from typing import Any

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CLIENT_CA_PATH = "/v1-pybernetes/client-ca.crt"


def ensure_serving_cert(directory: pathlib.Path, *, names: Iterable[str] = (), ips: Iterable[str] = ()
                        ) -> tuple[pathlib.Path, pathlib.Path]:
    """A self-signed serving certificate kept in ``directory`` (made at first start, remade when it expires
    within 30 days or lacks a requested name)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    crt, key = directory / "serving-kubelet.crt", directory / "serving-kubelet.key"
    dns = sorted({"localhost", socket.gethostname(), *names} - {""})
    addrs = sorted({"127.0.0.1", *ips} - {""})
    if crt.exists() and key.exists() and _still_good(crt, dns, addrs):
        return crt, key
    k = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{socket.gethostname()}@{int(time.time())}")])
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in addrs]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(k.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, content_commitment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(k, hashes.SHA256()))
    tmp = key.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))
    tmp.replace(key)
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return crt, key


def _still_good(crt: pathlib.Path, dns: list[str], ips: list[str]) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(crt.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    if cert.not_valid_after_utc < datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=30):
        return False
    have_ips = {str(i) for i in san.get_values_for_type(x509.IPAddress)}
    return set(dns) <= set(san.get_values_for_type(x509.DNSName)) and set(ips) <= have_ips


async def fetch_client_ca(server: str, *, token: str, server_ca: bytes | None, attempts: int = 30,
                          sleep: Callable[[float], Any] = asyncio.sleep) -> bytes:
    """The cluster's client CA from the API server (authenticated with the join token), retried while the
    server starts. Raises RuntimeError when it cannot be had."""
    ctx: ssl.SSLContext | bool = False
    if server_ca is not None:
        ctx = ssl.create_default_context(cadata=server_ca.decode())
        ctx.check_hostname = False          # the server is pinned by its CA, whatever address we reach it at
    url = server.rstrip("/") + CLIENT_CA_PATH
    delay = 0.2
    last = ""
    for i in range(attempts):
        try:
            async with aiohttp.ClientSession() as s, s.get(
                    url, ssl=ctx, headers={"Authorization": f"Bearer {token}"},
                    timeout=aiohttp.ClientTimeout(total=10)) as resp:
                body = await resp.read()
                if resp.status == 200:
                    x509.load_pem_x509_certificates(body)     # raises ValueError if it is not PEM
                    return body
                last = f"GET {url} answered {resp.status}: {body[:200]!r}"
                if resp.status in (401, 403):
                    break
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as e:
            last = f"GET {url}: {e!r}"
        if i < attempts - 1:
            await sleep(delay)
            delay = min(delay * 2, 5.0)
    raise RuntimeError(f"cannot fetch the cluster's client CA: {last}")


def server_ssl_context(cert: pathlib.Path, key: pathlib.Path, client_ca: bytes) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(cadata=client_ca.decode())
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx
