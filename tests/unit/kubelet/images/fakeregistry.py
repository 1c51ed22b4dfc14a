"""A small OCI distribution registry for tests, served by aiohttp's test server on loopback.

It behaves as docker-registry and Docker Hub do where the client cares: manifests by tag or digest with
``Docker-Content-Digest``, 404 for an OCI manifest when ``Accept`` lacks the OCI types, distribution's error
bodies, optional bearer-token auth with a token endpoint (anonymous or basic), optional basic auth, blob redirects
to a second server, and switches to misbehave (wrong digests, corrupt blobs). Every request is logged.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.test_utils import TestServer

from pybernetes.kubelet.images import manifest as mt
from pybernetes.testing.images import BuiltImage


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"errors": [{"code": code, "message": message, "detail": None}]}, status=status)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class FakeRegistry:
    """State and switches; ``app()`` builds the aiohttp application."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    manifests: dict[tuple[str, str], tuple[str, bytes]] = field(default_factory=dict)  # (repo, ref) → (type, body)
    log: list[Request] = field(default_factory=list)
    token_auth: bool = False                   # 401 + Bearer challenge unless a valid token is sent
    basic_auth: tuple[str, str] | None = None  # required credentials (token endpoint, or Basic challenge)
    anonymous_pull: bool = True                # the token endpoint hands out pull tokens without credentials
    redirect_blobs_to: str = ""                # base URL of a storage server for blobs
    wrong_content_digest: bool = False
    corrupt_blobs: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)
    anonymous_tokens: set[str] = field(default_factory=set)
    url: str = ""
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def add(self, image: BuiltImage, repo: str | None = None) -> None:
        repo = repo or image.repository.partition("/")[2]
        for b in image.blobs():
            self.blobs[b.digest] = b.data
        for m in (image.manifest, *([image.index] if image.index else [])):
            self.manifests[(repo, m.digest)] = (m.media_type, m.data)
        self.manifests[(repo, image.tag)] = (image.target.media_type, image.target.data)

    # ------------------------------------------------------------------------------------------ auth
    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if self.token_auth:
            tok = header[7:] if header.startswith("Bearer ") else ""
            return tok in self.tokens or (self.anonymous_pull and tok in self.anonymous_tokens)
        if self.basic_auth:
            return header == "Basic " + base64.b64encode(":".join(self.basic_auth).encode()).decode()
        return True

    def _challenge(self, request: web.Request, repo: str) -> web.Response:
        resp = _error(401, "UNAUTHORIZED", "authentication required")
        if self.token_auth:
            resp.headers["WWW-Authenticate"] = (f'Bearer realm="{self.url}/token",service="fake-registry",'
                                                f'scope="repository:{repo}:pull"')
        else:
            resp.headers["WWW-Authenticate"] = 'Basic realm="fake"'
        return resp

    async def token(self, request: web.Request) -> web.Response:
        self.token_requests.append({"service": request.query.get("service", ""),
                                    "scope": " ".join(request.query.getall("scope", [])),
                                    "authorization": request.headers.get("Authorization", "")})
        header = request.headers.get("Authorization", "")
        tok = secrets.token_hex(8)
        if not header:                          # as Docker Hub: anyone gets a token, with no rights if private
            self.anonymous_tokens.add(tok)
            return web.json_response({"token": tok, "expires_in": 300})
        expected = "Basic " + base64.b64encode(":".join(self.basic_auth or ("", "")).encode()).decode()
        if header != expected:
            return web.json_response({"details": "incorrect username or password"}, status=401)
        self.tokens.add(tok)
        return web.json_response({"token": tok, "expires_in": 300})

    # ------------------------------------------------------------------------------------------ API
    async def v2(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["tail"]
        self.log.append(Request(request.method, request.path, dict(request.headers)))
        if not path:
            return web.json_response({})
        repo, kind, ref = self._split(path)
        if kind is None:
            return _error(404, "NAME_UNKNOWN", "repository name not known to registry")
        if not self._authorized(request):
            return self._challenge(request, repo)
        if kind == "manifests":
            return self._manifest(request, repo, ref)
        return self._blob(request, ref)

    @staticmethod
    def _split(path: str) -> tuple[str, str | None, str]:
        for kind in ("manifests", "blobs"):
            repo, sep, ref = path.rpartition(f"/{kind}/")
            if sep:
                return repo, kind, ref
        return path, None, ""

    def _manifest(self, request: web.Request, repo: str, ref: str) -> web.Response:
        found = self.manifests.get((repo, ref))
        if found is None:
            return _error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        media_type, body = found
        accept = request.headers.get("Accept", "")
        if media_type in (mt.OCI_MANIFEST, mt.OCI_INDEX) and media_type not in accept:
            return _error(404, "MANIFEST_UNKNOWN", "OCI manifest found, but accept header does not support "
                                                   "OCI manifests")
        digest = mt.sha256_digest(body)
        if self.wrong_content_digest:
            digest = mt.sha256_digest(body + b" ")
        return web.Response(body=body, headers={"Content-Type": media_type, "Docker-Content-Digest": digest})

    def _blob(self, request: web.Request, digest: str) -> web.StreamResponse:
        data = self.blobs.get(digest)
        if data is None:
            return _error(404, "BLOB_UNKNOWN", "blob unknown to registry")
        if self.redirect_blobs_to:
            raise web.HTTPTemporaryRedirect(f"{self.redirect_blobs_to}/storage/{digest}?sig=x")
        if digest in self.corrupt_blobs:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        header = mt.sha256_digest(data + b" ") if self.wrong_content_digest else digest
        return web.Response(body=data, headers={"Content-Type": "application/octet-stream",
                                                "Docker-Content-Digest": header})

    async def storage(self, request: web.Request) -> web.Response:
        self.log.append(Request(request.method, request.path, dict(request.headers)))
        data = self.blobs.get(request.match_info["digest"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/token", self.token)
        app.router.add_route("*", "/v2/{tail:.*}", self.v2)
        app.router.add_get("/storage/{digest}", self.storage)
        return app


async def serve(reg: FakeRegistry) -> TestServer:
    server = TestServer(reg.app(), host="127.0.0.1")
    await server.start_server()
    reg.url = str(server.make_url("")).rstrip("/")
    return server
