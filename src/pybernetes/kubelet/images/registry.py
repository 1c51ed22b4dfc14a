"""An asyncio client of the OCI distribution protocol (``/v2/<name>/manifests|blobs/<reference>``).

One :class:`RegistryClient` serves every endpoint (registries and mirrors alike, HTTP or HTTPS): an
:class:`~pybernetes.kubelet.images.config.Endpoint` carries the API root, TLS settings and credentials, so the
puller decides *where* to ask and this module only knows *how*:

- authentication is lazy, as in containerd: a request goes out with what worked before for that endpoint and
  scope; a 401 is answered by its ``WWW-Authenticate`` challenge (``Basic``, or ``Bearer`` through the token server,
  trying each credential in turn), then retried once;
- redirects (blob storage on S3/GCS/a CDN) are followed by hand, never sending ``Authorization`` to another
  origin (a pre-signed URL must not receive the registry's token);
- everything fetched is verified: a manifest against the digest asked for and ``Docker-Content-Digest``, a blob
  against its descriptor's digest and size while it streams to disk. Nothing unverified reaches the store;
- failures are :class:`~pybernetes.kubelet.images.errors.RegistryError` with the registry's reason.

Pushing (monolithic uploads and manifests) exists for the project's own test images.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pathlib
import ssl
import urllib.parse
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from pybernetes.kubelet.images.auth import (
    AuthError,
    Challenge,
    TokenCache,
    basic_header,
    fetch_token,
    parse_challenges,
    token_scopes,
)
from pybernetes.kubelet.images.config import Credential, Endpoint, TLSConfig
from pybernetes.kubelet.images.errors import RegistryError, connection_error, status_error
from pybernetes.kubelet.images.manifest import (
    ACCEPT,
    MAX_MANIFEST_BYTES,
    Descriptor,
    ManifestError,
    detect_media_type,
    sha256_digest,
)

log = logging.getLogger(__name__)
USER_AGENT = "pybernetes/0.1"
MAX_REDIRECTS = 10
CHUNK = 1 << 20
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True, slots=True)
class FetchedManifest:
    media_type: str
    digest: str
    body: bytes
    doc: dict[str, Any]


def _origin(url: str) -> tuple[str, str]:
    u = urllib.parse.urlsplit(url)
    return u.scheme, u.netloc


class RegistryClient:
    """Shared by all pulls of a node: one connection pool, one token cache."""

    def __init__(self, *, user_agent: str = USER_AGENT, tokens: TokenCache | None = None,
                 connect_timeout: float = 10.0, read_timeout: float = 60.0, trust_env: bool = False) -> None:
        self.user_agent = user_agent
        self.tokens = tokens or TokenCache()
        self._timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=read_timeout)
        self._trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None
        self._ssl: dict[TLSConfig, ssl.SSLContext | bool] = {}
        # what answered the last 401 for (endpoint, scope): the next request sends it up front
        self._auth: dict[tuple[str, str], tuple[Challenge, Credential | None]] = {}

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, trust_env=self._trust_env,
                headers={"User-Agent": self.user_agent, "Accept-Encoding": "identity"},
                connector=aiohttp.TCPConnector(limit=32, limit_per_host=8))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def ssl_for(self, ep: Endpoint) -> ssl.SSLContext | bool:
        """The ``ssl`` argument for an endpoint: default verification, or its CA / client cert / no checks."""
        tls = ep.tls
        if tls is None or not ep.api.startswith("https:"):
            return True
        ctx = self._ssl.get(tls)
        if ctx is None:
            if tls.insecure_skip_verify:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            else:
                ctx = ssl.create_default_context(cafile=tls.ca_file or None)
            if tls.cert_file:
                ctx.load_cert_chain(tls.cert_file, tls.key_file or None)
            self._ssl[tls] = ctx
        return ctx

    # ------------------------------------------------------------------------------------------ transport
    async def _follow(self, method: str, url: str, *, headers: dict[str, str], data: bytes | None,
                      ssl_: ssl.SSLContext | bool) -> aiohttp.ClientResponse:
        """One request with redirects followed by hand (no credentials to another origin)."""
        origin = _origin(url)
        for _ in range(MAX_REDIRECTS + 1):
            try:
                resp = await self.session.request(method, url, headers=headers, data=data,
                                                  ssl=ssl_ if _origin(url) == origin else True,
                                                  allow_redirects=False)
            except (aiohttp.ClientError, TimeoutError, OSError) as e:
                raise connection_error(method, url, e) from None
            location = resp.headers.get("Location")
            if resp.status not in _REDIRECTS or not location:
                return resp
            resp.release()
            url = urllib.parse.urljoin(str(resp.url), location)
            if _origin(url) != origin:
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            if resp.status == 303 or (resp.status in (301, 302) and method == "POST"):
                method, data = "GET", None
        raise RegistryError(f"failed to do request: {method} {url}: stopped after {MAX_REDIRECTS} redirects")

    async def _header_for(self, ep: Endpoint, challenge: Challenge, cred: Credential | None, scope: str,
                          *, fresh: bool = False) -> str:
        if challenge.scheme == "basic":
            if cred is None:
                raise AuthError("unauthorized: authentication required")
            return basic_header(cred)
        scopes = token_scopes(challenge, scope)
        key = (challenge.params.get("realm", ""), challenge.params.get("service", ""), scopes, cred)
        if not fresh and (cached := self.tokens.get(key)):
            return cached
        header, lifetime = await fetch_token(self.session, challenge, scopes=scopes, credential=cred,
                                             ssl=self.ssl_for(ep), user_agent=self.user_agent)
        self.tokens.put(key, header, lifetime)
        return header

    async def request(self, method: str, ep: Endpoint, url: str, *, scope: str,
                      headers: dict[str, str] | None = None, data: bytes | None = None) -> aiohttp.ClientResponse:
        """A request with the endpoint's authentication; the caller reads and releases the response."""
        hdrs = dict(headers or {})
        ssl_ = self.ssl_for(ep)
        known = self._auth.get((ep.api, scope))
        if known is not None:
            try:
                hdrs["Authorization"] = await self._header_for(ep, known[0], known[1], scope)
            except AuthError:
                self._auth.pop((ep.api, scope), None)
        resp = await self._follow(method, url, headers=hdrs, data=data, ssl_=ssl_)
        if resp.status != 401:
            return resp
        challenges = parse_challenges(resp.headers.getall("WWW-Authenticate", []))
        first = status_error(method, url, resp.status, resp.reason or "", await _read(resp, 65536))
        resp.release()
        challenge = next((c for c in challenges if c.scheme == "bearer"), None) or next(
            (c for c in challenges if c.scheme == "basic"), None)
        if challenge is None:
            raise first
        last: Exception = first
        for cred in ep.credentials or (None,):
            try:
                hdrs["Authorization"] = await self._header_for(ep, challenge, cred, scope, fresh=True)
            except AuthError as e:
                last = e
                continue
            resp = await self._follow(method, url, headers=hdrs, data=data, ssl_=ssl_)
            if resp.status != 401:
                self._auth[(ep.api, scope)] = (challenge, cred)
                return resp
            last = status_error(method, url, resp.status, resp.reason or "", await _read(resp, 65536))
            resp.release()
        if isinstance(last, AuthError):
            raise RegistryError(str(last), status=401) from None
        raise last

    # ------------------------------------------------------------------------------------------ pulling
    async def get_manifest(self, ep: Endpoint, repo: str, reference: str) -> FetchedManifest:
        """The manifest or index ``reference`` (a tag or a digest) names, verified."""
        url = f"{ep.api}/{repo}/manifests/{reference}"
        resp = await self.request("GET", ep, url, scope=f"repository:{repo}:pull", headers={"Accept": ACCEPT})
        try:
            if resp.status != 200:
                raise status_error("GET", url, resp.status, resp.reason or "", await _read(resp, 65536))
            length = resp.content_length
            if length is not None and length > MAX_MANIFEST_BYTES:
                raise RegistryError(f"manifest of {repo}:{reference} is too large ({length} bytes)")
            body = await _read(resp, MAX_MANIFEST_BYTES + 1)
            content_type = resp.headers.get("Content-Type", "")
            header_digest = resp.headers.get("Docker-Content-Digest", "")
        finally:
            resp.release()
        if len(body) > MAX_MANIFEST_BYTES:
            raise RegistryError(f"manifest of {repo}:{reference} is too large")
        digest = sha256_digest(body)
        if reference.startswith("sha256:") and digest != reference:
            raise RegistryError(f"manifest digest mismatch: asked for {reference}, content is {digest}")
        if header_digest.startswith("sha256:") and header_digest != digest:
            raise RegistryError(f"manifest digest mismatch: Docker-Content-Digest is {header_digest}, "
                                f"content is {digest}")
        try:
            doc = orjson.loads(body)
            if not isinstance(doc, dict):
                raise ManifestError("not a JSON object")
            media_type = detect_media_type(doc, content_type)
        except (orjson.JSONDecodeError, ManifestError) as e:
            raise RegistryError(f"invalid manifest for {repo}:{reference}: {e}") from None
        return FetchedManifest(media_type=media_type, digest=digest, body=body, doc=doc)

    async def fetch_blob(self, ep: Endpoint, repo: str, desc: Descriptor, dest: pathlib.Path) -> None:
        """Stream blob ``desc`` into ``dest`` (a temporary path: on error it may hold a partial file), checking
        size and digest as the bytes arrive."""
        url = f"{ep.api}/{repo}/blobs/{desc.digest}"
        resp = await self.request("GET", ep, url, scope=f"repository:{repo}:pull")
        try:
            if resp.status != 200:
                raise status_error("GET", url, resp.status, resp.reason or "", await _read(resp, 65536))
            _check_header_digest(resp, desc)
            h = hashlib.sha256()
            n = 0
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
            try:
                async for chunk in resp.content.iter_chunked(CHUNK):
                    n += len(chunk)
                    if n > desc.size:
                        raise RegistryError(f"blob {desc.digest}: more than the {desc.size} bytes its "
                                            "descriptor announces")
                    h.update(chunk)
                    _write_all(fd, chunk)
            except (aiohttp.ClientError, TimeoutError) as e:
                raise connection_error("GET", url, e) from None
            finally:
                os.close(fd)
        finally:
            resp.release()
        if n != desc.size:
            raise RegistryError(f"blob {desc.digest}: got {n} bytes, its descriptor announces {desc.size}")
        got = "sha256:" + h.hexdigest()
        if got != desc.digest:
            raise RegistryError(f"blob digest mismatch: expected {desc.digest}, content is {got}")

    async def fetch_blob_bytes(self, ep: Endpoint, repo: str, desc: Descriptor, *, limit: int) -> bytes:
        """A small blob (an image config) in memory, verified."""
        if desc.size > limit:
            raise RegistryError(f"blob {desc.digest} is too large ({desc.size} bytes)")
        url = f"{ep.api}/{repo}/blobs/{desc.digest}"
        resp = await self.request("GET", ep, url, scope=f"repository:{repo}:pull")
        try:
            if resp.status != 200:
                raise status_error("GET", url, resp.status, resp.reason or "", await _read(resp, 65536))
            _check_header_digest(resp, desc)
            body = await _read(resp, desc.size + 1)
        finally:
            resp.release()
        if len(body) != desc.size or sha256_digest(body) != desc.digest:
            raise RegistryError(f"blob digest mismatch: expected {desc.digest} ({desc.size} bytes), content is "
                                f"{sha256_digest(body)} ({len(body)} bytes)")
        return body

    # ------------------------------------------------------------------------------------------ pushing
    async def blob_exists(self, ep: Endpoint, repo: str, digest: str, *, scope: str = "") -> bool:
        url = f"{ep.api}/{repo}/blobs/{digest}"
        resp = await self.request("HEAD", ep, url, scope=scope or f"repository:{repo}:pull")
        resp.release()
        if resp.status in (200, 404):
            return resp.status == 200
        raise status_error("HEAD", url, resp.status, resp.reason or "", b"")

    async def push_blob(self, ep: Endpoint, repo: str, digest: str, data: bytes) -> None:
        """Upload one blob in a single PUT (skipped when the registry has it)."""
        scope = f"repository:{repo}:pull,push"
        if await self.blob_exists(ep, repo, digest, scope=scope):
            return
        url = f"{ep.api}/{repo}/blobs/uploads/"
        resp = await self.request("POST", ep, url, scope=scope)
        location = resp.headers.get("Location", "")
        body = await _read(resp, 65536)
        resp.release()
        if resp.status != 202 or not location:
            raise status_error("POST", url, resp.status, resp.reason or "", body)
        put = urllib.parse.urljoin(str(resp.url), location)
        put += ("&" if "?" in put else "?") + urllib.parse.urlencode({"digest": digest})
        resp = await self.request("PUT", ep, put, scope=scope, data=data,
                                  headers={"Content-Type": "application/octet-stream"})
        body = await _read(resp, 65536)
        resp.release()
        if resp.status != 201:
            raise status_error("PUT", put, resp.status, resp.reason or "", body)

    async def push_manifest(self, ep: Endpoint, repo: str, reference: str, body: bytes, media_type: str) -> str:
        """PUT a manifest or index under a tag or its digest; its digest."""
        url = f"{ep.api}/{repo}/manifests/{reference}"
        resp = await self.request("PUT", ep, url, scope=f"repository:{repo}:pull,push", data=body,
                                  headers={"Content-Type": media_type})
        answer = await _read(resp, 65536)
        resp.release()
        if resp.status != 201:
            raise status_error("PUT", url, resp.status, resp.reason or "", answer)
        return resp.headers.get("Docker-Content-Digest") or sha256_digest(body)


def _check_header_digest(resp: aiohttp.ClientResponse, desc: Descriptor) -> None:
    """A registry that names another digest than the one asked for is serving the wrong content (storage
    behind a redirect sends no such header: only the content check applies there)."""
    header = resp.headers.get("Docker-Content-Digest", "")
    if header.startswith("sha256:") and header != desc.digest:
        raise RegistryError(f"blob digest mismatch: asked for {desc.digest}, Docker-Content-Digest is {header}")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


async def _read(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """At most ``limit`` bytes of a body (a hostile registry cannot make us buffer gigabytes)."""
    try:
        chunks: list[bytes] = []
        n = 0
        async for chunk in resp.content.iter_chunked(65536):
            chunks.append(chunk)
            n += len(chunk)
            if n >= limit:
                break
        return b"".join(chunks)[:limit]
    except (aiohttp.ClientError, TimeoutError) as e:
        raise connection_error(resp.method, str(resp.url), e) from None
