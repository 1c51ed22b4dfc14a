"""An asyncio REST client of the Kubernetes API (aiohttp), configured from a kubeconfig, a token, or the
in-cluster ServiceAccount files. Objects are plain dicts; failures raise :class:`APIStatusError` carrying the
server's ``metav1.Status``."""

from __future__ import annotations

import base64
import os
import pathlib
import ssl
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import yaml

from pybernetes.client.resources import ResourceRef

Obj = dict[str, Any]
SA_DIR = pathlib.Path("/var/run/secrets/kubernetes.io/serviceaccount")
PATCH_TYPES = {"merge": "application/merge-patch+json", "strategic": "application/strategic-merge-patch+json",
               "json": "application/json-patch+json", "apply": "application/apply-patch+yaml"}


class APIStatusError(Exception):
    def __init__(self, code: int, status: Obj) -> None:
        super().__init__(f"{code} {status.get('reason', '')}: {status.get('message', '')}")
        self.code = code
        self.status = status

    @property
    def reason(self) -> str:
        return str(self.status.get("reason", ""))


def is_not_found(e: BaseException) -> bool:
    return isinstance(e, APIStatusError) and e.code == 404


def is_conflict(e: BaseException) -> bool:
    return isinstance(e, APIStatusError) and e.code == 409 and e.reason == "Conflict"


def is_already_exists(e: BaseException) -> bool:
    return isinstance(e, APIStatusError) and e.code == 409 and e.reason == "AlreadyExists"


def has_status_cause(e: BaseException, cause: str) -> bool:
    """Upstream ``apierrors.HasStatusCause``: the Status details list a cause with this reason."""
    if not isinstance(e, APIStatusError):
        return False
    return any(c.get("reason") == cause for c in ((e.status.get("details") or {}).get("causes") or ()))


def is_namespace_terminating(e: BaseException) -> bool:
    """A create refused because its namespace is being deleted (403, cause ``NamespaceTerminating``): controllers
    drop such writes quietly, as the objects would be deleted with the namespace anyway."""
    return isinstance(e, APIStatusError) and e.code == 403 and has_status_cause(e, "NamespaceTerminating")


@dataclass(frozen=True, slots=True)
class ClientConfig:
    server: str
    ca_pem: bytes | None = None
    cert_pem: bytes | None = None
    key_pem: bytes | None = None
    token: str | None = None
    token_file: str | None = None
    insecure: bool = False
    user_agent: str = "pybernetes"

    @classmethod
    def from_kubeconfig(cls, path: str | os.PathLike[str], *, context: str | None = None,
                        user_agent: str = "pybernetes") -> ClientConfig:
        doc = yaml.safe_load(pathlib.Path(path).read_text())
        base = pathlib.Path(path).parent
        ctx_name = context or doc.get("current-context")
        ctx = next(c["context"] for c in doc["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == ctx["cluster"])
        user = next((u["user"] for u in doc.get("users") or [] if u["name"] == ctx.get("user")), {})

        def data(d: dict[str, Any], key: str) -> bytes | None:
            if d.get(f"{key}-data"):
                return base64.b64decode(d[f"{key}-data"])
            if d.get(key):
                return (base / d[key]).read_bytes()
            return None

        return cls(server=cluster["server"], ca_pem=data(cluster, "certificate-authority"),
                   cert_pem=data(user, "client-certificate"), key_pem=data(user, "client-key"),
                   token=user.get("token"), insecure=bool(cluster.get("insecure-skip-tls-verify")),
                   user_agent=user_agent)

    @classmethod
    def in_cluster(cls, *, user_agent: str = "pybernetes") -> ClientConfig:
        host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"]
        if ":" in host:
            host = f"[{host}]"
        return cls(server=f"https://{host}:{port}", ca_pem=(SA_DIR / "ca.crt").read_bytes(),
                   token_file=str(SA_DIR / "token"), user_agent=user_agent)

    def ssl_context(self) -> ssl.SSLContext | bool:
        if not self.server.startswith("https"):
            return False
        ctx = ssl.create_default_context()
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif self.ca_pem:
            ctx.load_verify_locations(cadata=self.ca_pem.decode())
        if self.cert_pem and self.key_pem:
            with tempfile.TemporaryDirectory() as d:
                c, k = pathlib.Path(d, "c.pem"), pathlib.Path(d, "k.pem")
                c.write_bytes(self.cert_pem)
                k.write_bytes(self.key_pem)
                os.chmod(k, 0o600)
                ctx.load_cert_chain(c, k)
        return ctx


class Client:
    def __init__(self, cfg: ClientConfig, *, limit: int = 100) -> None:
        self.cfg = cfg
        self._ssl = cfg.ssl_context()
        self._session: aiohttp.ClientSession | None = None
        self._limit = limit

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            conn = aiohttp.TCPConnector(ssl=self._ssl, limit=self._limit, keepalive_timeout=60)
            self._session = aiohttp.ClientSession(connector=conn, json_serialize=lambda o: orjson.dumps(o).decode(),
                                                  timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
        return self._session

    def _headers(self, content_type: str | None = None, accept: str = "application/json") -> dict[str, str]:
        h = {"Accept": accept, "User-Agent": self.cfg.user_agent}
        token = self.cfg.token
        if self.cfg.token_file:
            try:
                token = pathlib.Path(self.cfg.token_file).read_text().strip()
            except OSError:
                token = None
        if token:
            h["Authorization"] = f"Bearer {token}"
        if content_type:
            h["Content-Type"] = content_type
        return h

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      body: Any = None, content_type: str = "application/json", timeout: float = 60,
                      accept: str = "application/json") -> Obj:
        data = None if body is None else (body if isinstance(body, bytes) else orjson.dumps(body))
        q = {k: ("true" if v is True else "false" if v is False else str(v))
             for k, v in (params or {}).items() if v is not None}
        async with self.session.request(method, self.cfg.server + path, params=q, data=data,
                                        headers=self._headers(content_type if data is not None else None, accept),
                                        timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            raw = await resp.read()
            if resp.status >= 400:
                try:
                    status = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    status = {"message": raw.decode(errors="replace"), "code": resp.status}
                raise APIStatusError(resp.status, status if isinstance(status, dict) else {})
            return orjson.loads(raw) if raw else {}

    # ---------------------------------------------------------------- typed verbs
    async def get(self, res: ResourceRef, name: str, namespace: str | None = None, *,
                  subresource: str | None = None) -> Obj:
        return await self.request("GET", res.path(namespace, name, subresource))

    async def list(self, res: ResourceRef, namespace: str | None = None, *, accept: str = "application/json",
                   **params: Any) -> Obj:
        return await self.request("GET", res.path(namespace), params=_camel(params), accept=accept)

    async def create(self, res: ResourceRef, obj: Obj, namespace: str | None = None, *,
                     subresource: str | None = None, name: str | None = None, **params: Any) -> Obj:
        ns = namespace or obj.get("metadata", {}).get("namespace")
        path = res.path(ns, name, subresource) if subresource else res.path(ns)
        return await self.request("POST", path, body=obj, params=_camel(params))

    async def update(self, res: ResourceRef, obj: Obj, *, subresource: str | None = None, **params: Any) -> Obj:
        meta = obj["metadata"]
        return await self.request("PUT", res.path(meta.get("namespace"), meta["name"], subresource), body=obj,
                                  params=_camel(params))

    async def patch(self, res: ResourceRef, name: str, patch: Any, namespace: str | None = None, *,
                    patch_type: str = "merge", subresource: str | None = None, **params: Any) -> Obj:
        body = patch if patch_type != "apply" or isinstance(patch, bytes) else orjson.dumps(patch)
        return await self.request("PATCH", res.path(namespace, name, subresource), body=body,
                                  content_type=PATCH_TYPES[patch_type], params=_camel(params))

    async def delete(self, res: ResourceRef, name: str, namespace: str | None = None, *,
                     grace_period_seconds: int | None = None, propagation_policy: str | None = None,
                     preconditions: dict[str, str] | None = None) -> Obj:
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_seconds is not None:
            body["gracePeriodSeconds"] = grace_period_seconds
        if propagation_policy:
            body["propagationPolicy"] = propagation_policy
        if preconditions:
            body["preconditions"] = preconditions
        return await self.request("DELETE", res.path(namespace, name), body=body)

    async def watch(self, res: ResourceRef, namespace: str | None = None, *, resource_version: str = "",
                    timeout_seconds: int = 300, accept: str = "application/json",
                    **params: Any) -> AsyncIterator[Obj]:
        """Watch events as dicts ``{"type", "object"}``; ends when the server closes the stream. ``accept`` may
        ask for e.g. ``application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1``."""
        q = {"watch": "true", "allowWatchBookmarks": "true", "timeoutSeconds": str(timeout_seconds),
             **{k: str(v) for k, v in _camel(params).items() if v is not None}}
        if resource_version:
            q["resourceVersion"] = resource_version
        async with self.session.get(self.cfg.server + res.path(namespace), params=q,
                                    headers=self._headers(accept=accept),
                                    timeout=aiohttp.ClientTimeout(total=None, sock_read=timeout_seconds + 30)
                                    ) as resp:
            if resp.status >= 400:
                raw = await resp.read()
                try:
                    status = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    status = {"message": raw.decode(errors="replace")}
                raise APIStatusError(resp.status, status)
            pending: list[bytes] = []
            async for chunk in resp.content.iter_any():
                for line in complete_lines(pending, chunk):
                    if line.strip():
                        yield orjson.loads(line)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def complete_lines(pending: list[bytes], chunk: bytes) -> list[bytes]:
    """The lines ``chunk`` completes, given ``pending`` (the start of an unfinished line, kept in it for the next
    chunk). A client that falls behind gets thousands of events in one chunk: taking them off the front of a
    buffer one by one copied the rest each time (quadratic; most of a controller manager's CPU with 5,000 nodes),
    one split does not."""
    if b"\n" not in chunk:
        pending.append(chunk)
        return []
    if pending:
        pending.append(chunk)
        chunk = b"".join(pending)
        pending.clear()
    lines = chunk.split(b"\n")
    rest = lines.pop()
    if rest:
        pending.append(rest)
    return lines


def _camel(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in params.items():
        if v is None:
            continue
        parts = k.split("_")
        out[parts[0] + "".join(p.title() for p in parts[1:])] = v
    return out
