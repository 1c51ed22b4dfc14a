"""``pods/{name}/log|exec|attach|portforward``: the API server's side of streaming, proxied to the pod's kubelet.

As upstream (``pkg/registry/core/pod/strategy.go`` ``LogLocation``/``streamLocation``, ``UpgradeAwareHandler``):
the pod is read, the container checked (or defaulted when the pod has exactly one), the node's kubelet located
(InternalIP first, as k3s prefers, and ``status.daemonEndpoints.kubeletEndpoint.Port``), and the request sent there
over TLS with the API server's own client certificate (CN ``system:apiserver``, group ``system:masters``; the
kubelet's self-signed serving certificate is not verified, as upstream's default).

- log: the kubelet's chunked ``text/plain`` answer is streamed through; a kubelet error becomes a Status the way
  upstream's ``GenericHttpResponseChecker`` words it;
- exec/attach/portforward: the request line and headers go to the kubelet unchanged (minus credentials); on its
  ``101`` the client's connection is taken over and bytes are spliced both ways until either side ends — so
  websocket, SPDY and the SPDY-in-websocket tunnel all pass through untouched. Any other answer is relayed.

Authorization is the verb of the HTTP method (GET ``get``, POST ``create``), as in 1.33 (the compound ``create``
check on websocket upgrades only arrives with 1.35's AuthorizePodWebsocketUpgradeCreatePermission).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import errno
import logging
import os
import pathlib
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import aiohttp
from aiohttp import web
from cryptography import x509

from pybernetes.api import errors
from pybernetes.api.errors import APIError, BadRequest, MethodNotAllowed
from pybernetes.api.resources import Resource
from pybernetes.apiserver.authn import UserInfo
from pybernetes.apiserver.requestinfo import RequestInfo
from pybernetes.streaming import hijack
from pybernetes.streaming.logoptions import QueryError, parse_pod_log_query, query_bool, validate

if TYPE_CHECKING:
    from pybernetes.apiserver.handlers import ResourceHandler
    from pybernetes.apiserver.state import ServerState

log = logging.getLogger(__name__)
Obj = dict[str, Any]
DEFAULT_KUBELET_PORT = 10250
ADDRESS_PREFERENCE = ("InternalIP", "ExternalIP", "Hostname")
CLIENT_CN, CLIENT_ORG = "system:apiserver", "system:masters"
MAX_HEAD = 64 * 1024
MAX_ERROR_BODY = 1 << 20
DIAL_TIMEOUT = 10.0
HOP_BY_HOP = frozenset({"host", "authorization", "proxy-authorization", "content-length", "transfer-encoding"})


# ------------------------------------------------------------------ the client certificate and TLS
def kubelet_client_ssl(state: ServerState) -> ssl.SSLContext:
    """The TLS context for kubelet connections, made once per server (issuing its client certificate from the
    cluster's client CA at the first call, kept beside the other PKI files)."""
    ctx = state.extra.get("kubelet_client_ssl")
    if ctx is None:
        pki = state.extra.get("pki")
        if pki is None:
            raise errors.ServiceUnavailable("the API server has no client certificate for kubelets")
        crt, key = ensure_client_cert(pki.dir)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.load_cert_chain(crt, key)
        ctx.set_alpn_protocols(["http/1.1"])
        state.extra["kubelet_client_ssl"] = ctx
    return ctx


def ensure_client_cert(tls_dir: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    from pybernetes.apiserver.certs import issue_client
    crt, key = tls_dir / "client-kube-apiserver.crt", tls_dir / "client-kube-apiserver.key"
    if crt.exists() and key.exists():
        try:
            cert = x509.load_pem_x509_certificate(crt.read_bytes())
            if cert.not_valid_after_utc > datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=30):
                return crt, key
        except ValueError:
            pass
    cert_pem, key_pem = issue_client(tls_dir.parent, cn=CLIENT_CN, org=CLIENT_ORG)
    tmp = key.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_pem)
    tmp.replace(key)
    crt.write_bytes(cert_pem)
    return crt, key


def client_ca_response(state: ServerState, user: UserInfo) -> web.Response:
    """``GET /v1-pybernetes/client-ca.crt``: the CA kubelets verify the API server's client certificate with;
    for ``system:masters`` only (agents ask with the join token)."""
    if "system:masters" not in user.groups:
        raise APIError(f'forbidden: User "{user.name}" cannot get path "/v1-pybernetes/client-ca.crt"', code=403,
                       reason="Forbidden", details={})
    pki = state.extra.get("pki")
    if pki is None:
        raise errors.resource_not_found()
    return web.Response(body=pki.client_ca.read_bytes(), content_type="application/x-pem-file")


# ------------------------------------------------------------------ locating pods, containers and kubelets
def container_names(pod: Obj) -> list[str]:
    spec = pod.get("spec") or {}
    return [c.get("name", "") for key in ("initContainers", "containers", "ephemeralContainers")
            for c in spec.get(key) or ()]


def validate_container(container: str, pod: Obj) -> str:
    """The container to use (upstream ``validateContainer``); BadRequest when none can be chosen."""
    name = (pod.get("metadata") or {}).get("name", "")
    if not container:
        containers = (pod.get("spec") or {}).get("containers") or []
        if len(containers) == 1:
            return str(containers[0].get("name", ""))
        if not containers:
            raise BadRequest(f"a container name must be specified for pod {name}")
        raise BadRequest(f"a container name must be specified for pod {name}, choose one of: "
                         f"[{' '.join(container_names(pod))}]")
    if container not in container_names(pod):
        raise BadRequest(f"container {container} is not valid for pod {name}")
    return container


def node_address(node: Obj) -> tuple[str, int]:
    status = node.get("status") or {}
    runtime = (status.get("nodeInfo") or {}).get("containerRuntimeVersion", "")
    if runtime.startswith("sim://"):
        # Simulated nodes run no kubelet server and advertise benchmark addresses that must not be dialled.
        name = (node.get("metadata") or {}).get("name", "")
        raise APIError(f"node {name} is simulated: its containers have no logs, exec, attach or port-forward",
                       code=400, reason="BadRequest")
    addrs = status.get("addresses") or []
    host = ""
    for kind in ADDRESS_PREFERENCE:
        host = next((a.get("address", "") for a in addrs if a.get("type") == kind and a.get("address")), "")
        if host:
            break
    if not host:
        name = (node.get("metadata") or {}).get("name", "")
        raise APIError(f'no preferred addresses found; known addresses: {addrs}'
                       if addrs else f"node {name} has no addresses", code=500, reason="")
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or 0
    return host, int(port) if int(port) > 0 else DEFAULT_KUBELET_PORT


def host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def kubelet_of(handler: ResourceHandler, pod: Obj) -> tuple[str, int]:
    node_name = (pod.get("spec") or {}).get("nodeName", "")
    nodes = handler.state.resources.get("", "v1", "nodes")
    assert nodes is not None
    return node_address(await handler.rest.get(nodes, "", node_name))


def dial_error(host: str, port: int, err: BaseException) -> str:
    """Go's words for a failed dial (``dial tcp 10.0.0.1:10250: connect: connection refused``)."""
    target = host_port(host, port)
    if isinstance(err, TimeoutError):
        return f"dial tcp {target}: i/o timeout"
    code = getattr(err, "errno", None)
    if code == errno.ECONNREFUSED:
        return f"dial tcp {target}: connect: connection refused"
    if code in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return f"dial tcp {target}: connect: no route to host"
    if isinstance(err, ssl.SSLError):
        return f"dial tcp {target}: tls: {err.reason or err}"
    return f"dial tcp {target}: {getattr(err, 'strerror', None) or err}"


def response_error(code: int, body: str, resource: str, name: str) -> APIError:
    """A kubelet's non-2xx answer as upstream's ``GenericHttpResponseChecker`` turns it into a Status."""
    if code == 500:
        return APIError(f"Internal error occurred: {body}", code=500, reason="InternalError",
                        details={"causes": [{"message": body}]})
    if code == 400:
        return BadRequest(body)
    reasons = {404: ("NotFound", "the server could not find the requested resource"),
               401: ("Unauthorized", "the server has asked for the client to provide credentials"),
               403: ("Forbidden", body),
               405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
               422: ("Invalid", "the server rejected our request due to an error in our request"),
               429: ("TooManyRequests", "the server has received too many requests and has asked us to try again "
                                        "later"),
               503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
               504: ("Timeout", "the server was unable to return a response in the time allotted, but may still be "
                                "processing the request")}
    reason, message = reasons.get(code, ("", f"the server responded with the status code {code} but did not "
                                             "return more information"))
    if code > 500 and code not in reasons:
        reason, message = "InternalError", f'an error on the server ("{body}") has prevented the request from ' \
                                           "succeeding"
    return APIError(f"{message} ( {resource} {name})", code=code, reason=reason,
                    details={"name": name, "kind": resource})


# ------------------------------------------------------------------ pods/log
async def pod_log(handler: ResourceHandler, request: web.Request, res: Resource, info: RequestInfo,
                  user: UserInfo) -> web.StreamResponse:
    if info.verb != "get":
        raise MethodNotAllowed("pods/log", "", info.verb)
    try:
        q = parse_pod_log_query(request.query)
    except QueryError as e:
        raise BadRequest(str(e)) from None
    if errs := validate(q):
        raise errors.Invalid("PodLogOptions", "", info.name, errs)
    pod = await handler.rest.get(res, info.namespace, info.name)
    container = validate_container(q.container, pod)
    if not (pod.get("spec") or {}).get("nodeName"):
        return web.Response(status=200, body=b"", content_type="text/plain")
    host, port = await kubelet_of(handler, pod)
    path = f"/containerLogs/{quote(info.namespace)}/{quote(info.name)}/{quote(container)}"
    query = urlencode(q.kubelet_query())
    url = f"https://{host_port(host, port)}{path}" + (f"?{query}" if query else "")
    ctx = kubelet_client_ssl(handler.state)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=DIAL_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session:
        try:
            upstream = await session.get(url, ssl=ctx)
        except (aiohttp.ClientConnectorError, OSError, TimeoutError) as e:
            cause = getattr(e, "os_error", e)
            raise APIError(f'Get "{url}": {dial_error(host, port, cause)}', code=500, reason="") from None
        async with upstream:
            if not 200 <= upstream.status <= 206:
                body = (await upstream.content.read(MAX_ERROR_BODY)).decode("utf-8", "replace")
                raise response_error(upstream.status, body, "pods/log", info.name)
            resp = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            try:
                async for chunk in upstream.content.iter_any():
                    await resp.write(chunk)
            except (aiohttp.ClientError, ConnectionError, OSError):
                pass
            with contextlib.suppress(ConnectionError, OSError):
                await resp.write_eof()
            return resp


# ------------------------------------------------------------------ exec, attach, portforward
def exec_query(query: Mapping[str, str], commands: list[str], *, attach: bool) -> tuple[str, str]:
    """(container, the kubelet's query) for exec/attach (upstream ``streamParams``: flags as ``=1``)."""
    params: list[tuple[str, str]] = []
    if not attach:
        params += [("command", c) for c in commands]
    for ours, theirs in (("stderr", "error"), ("stdin", "input"), ("stdout", "output"), ("tty", "tty")):
        if query_bool(query.get(ours)):
            params.append((theirs, "1"))
    return query.get("container", ""), urlencode(sorted(params, key=lambda kv: kv[0]))


def port_forward_query(values: list[str]) -> str:
    ports: list[str] = []
    for v in values:
        for p in v.split(","):
            if not p.isdigit() or not 0 <= int(p) <= 65535:
                raise BadRequest(f'cannot convert to []int32: strconv.ParseUint: parsing "{p}": invalid syntax')
            ports.append(str(int(p)))
    return urlencode({"port": ",".join(ports)}) if ports else ""


async def connect(handler: ResourceHandler, request: web.Request, res: Resource, info: RequestInfo,
                  user: UserInfo) -> web.StreamResponse:
    kind = info.subresource
    if request.method not in ("GET", "POST"):
        raise MethodNotAllowed(f"pods/{kind}", "", info.verb)
    pod = await handler.rest.get(res, info.namespace, info.name)
    ns, name = quote(info.namespace), quote(info.name)
    if kind == "portforward":
        path, query = f"/portForward/{ns}/{name}", port_forward_query(request.query.getall("ports", []))
    else:
        container, query = exec_query(request.query, request.query.getall("command", []), attach=kind == "attach")
        container = validate_container(container, pod)
        path = f"/{kind}/{ns}/{name}/{quote(container)}"
    if not (pod.get("spec") or {}).get("nodeName"):
        raise BadRequest(f"pod {info.name} does not have a host assigned")
    host, port = await kubelet_of(handler, pod)
    return await upgrade_proxy(request, host, port, path + (f"?{query}" if query else ""),
                               ssl_context=kubelet_client_ssl(handler.state))


def forwarded_head(request: web.Request, host: str, port: int, target: str) -> bytes:
    """The request line and headers for the kubelet: the client's own (so its upgrade negotiation reaches the
    kubelet as sent), without credentials, with the kubelet as Host and the client in X-Forwarded-For."""
    lines = [f"{request.method} {target} HTTP/1.1", f"Host: {host_port(host, port)}"]
    forwarded = ""
    for raw_name, raw_value in request.raw_headers:
        name = raw_name.decode("latin-1")
        low = name.lower()
        if low in HOP_BY_HOP or low.startswith("impersonate-"):
            continue
        if low == "x-forwarded-for":
            forwarded = raw_value.decode("latin-1")
            continue
        lines.append(f"{name}: {raw_value.decode('latin-1')}")
    chain = ", ".join(x for x in (forwarded, request.remote or "") if x)
    if chain:
        lines.append(f"X-Forwarded-For: {chain}")
    if request.method == "POST":
        lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def parse_head(head: bytes) -> tuple[int, str, dict[str, str]]:
    """(status, reason, headers with lowercase names) of an HTTP/1.1 response head."""
    text = head.decode("latin-1")
    status_line, _, rest = text.partition("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"malformed HTTP response: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for line in rest.split("\r\n"):
        k, sep, v = line.partition(":")
        if sep:
            headers[k.strip().lower()] = v.strip()
    return int(parts[1]), parts[2] if len(parts) > 2 else "", headers


async def upgrade_proxy(request: web.Request, host: str, port: int, target: str, *,
                        ssl_context: ssl.SSLContext | None) -> web.StreamResponse:
    """Forward an upgrade request to the kubelet; on its 101 splice the two connections (upstream
    ``UpgradeAwareHandler``), otherwise relay its answer."""
    try:
        kr, kw = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=ssl_context), DIAL_TIMEOUT)
    except (OSError, TimeoutError) as e:
        raise APIError(f"error dialing backend: {dial_error(host, port, e)}", code=500, reason="") from None
    try:
        kw.write(forwarded_head(request, host, port, target))
        await kw.drain()
        head = await kr.readuntil(b"\r\n\r\n")
        if len(head) > MAX_HEAD:
            raise ValueError("response head too large")
        status, reason, headers = parse_head(head)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
        kw.close()
        raise APIError(f"error proxying to the kubelet: {e}", code=500, reason="") from None
    if status != 101:
        try:
            body = await _read_body(kr, headers)
        finally:
            kw.close()
        resp = web.Response(status=status, reason=reason or None, body=body)
        if "content-type" in headers:
            resp.headers["Content-Type"] = headers["content-type"]
        return resp
    channel = hijack.take_over(request)
    try:
        await channel.write(head)
        await _splice(channel, kr, kw)
    finally:
        kw.close()
        await channel.close()
    return hijack.done()


async def _read_body(reader: asyncio.StreamReader, headers: Mapping[str, str]) -> bytes:
    with contextlib.suppress(ValueError, asyncio.IncompleteReadError, OSError, asyncio.TimeoutError):
        if "content-length" in headers:
            n = min(int(headers["content-length"]), MAX_ERROR_BODY)
            return await asyncio.wait_for(reader.readexactly(n), DIAL_TIMEOUT)
        if "chunked" not in headers.get("transfer-encoding", ""):
            return await asyncio.wait_for(reader.read(MAX_ERROR_BODY), DIAL_TIMEOUT)
    return b""


async def _splice(client: hijack.HijackedChannel, kr: asyncio.StreamReader, kw: asyncio.StreamWriter) -> None:
    async def up() -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await client.read():
                kw.write(data)
                await kw.drain()

    async def down() -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await kr.read(65536):
                await client.write(data)

    tasks = [asyncio.ensure_future(up()), asyncio.ensure_future(down())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def install(handler: ResourceHandler) -> None:
    """Register the streaming subresources (called from ``subresources.install``); the kubelet client
    certificate is issued now if the server has its PKI, so the first exec does not pay for it."""
    def bind(fn: Any) -> Any:
        async def run(request: web.Request, res: Resource, info: RequestInfo, user: UserInfo) -> Any:
            return await fn(handler, request, res, info, user)
        return run

    handler.subresources.update({"log": bind(pod_log), "exec": bind(connect), "attach": bind(connect),
                                 "portforward": bind(connect)})
    from pybernetes.apiserver import resource_proxy
    resource_proxy.install(handler)
    if handler.state.extra.get("pki") is not None:
        try:
            kubelet_client_ssl(handler.state)
        except (OSError, ValueError, ssl.SSLError):
            log.exception("cannot prepare the kubelet client certificate")
