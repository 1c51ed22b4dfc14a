"""The ``proxy`` subresources: ``pods/{name}/proxy``, ``services/{name}/proxy`` and ``nodes/{name}/proxy``, HTTP
passed through to a pod, a service endpoint or a node's kubelet (upstream ``ResourceLocation`` of each kind and
apimachinery's proxy transport).

The name may carry a scheme and a port: ``name``, ``name:port`` or ``scheme:name:port`` (scheme ``http`` or
``https``; a service port may be named). Where the request goes:

- pod: its first IP (which must be a global unicast address) and the port given, else the first declared
  container port;
- service: a random ready address of its Endpoints that serves the port (a number is first mapped to the service
  port's name); none is a 503 ``no endpoints available for service "…"``;
- node: its kubelet (HTTPS with the API server's client certificate) unless another port is named.

Everything after ``…/proxy`` (trailing slash included) and the query go along, with the method, body and headers
(minus credentials and hop-by-hop headers); the answer comes back as it is, streamed. A backend that cannot be
reached is a 503 ``error trying to reach service: …``. Upgrade requests (websockets) are spliced as exec's are.
Not done: upstream rewrites links in proxied HTML pages and ``Location`` headers to point back through the proxy.
"""

from __future__ import annotations

import contextlib
import ipaddress
import random
import ssl
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from pybernetes.api import errors
from pybernetes.api.errors import APIError, BadRequest
from pybernetes.api.resources import Resource
from pybernetes.apiserver import proxy
from pybernetes.apiserver.authn import UserInfo
from pybernetes.apiserver.requestinfo import RequestInfo

if TYPE_CHECKING:
    from pybernetes.apiserver.handlers import ResourceHandler

Obj = dict[str, Any]
SCHEMES = ("", "http", "https")
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "transfer-encoding", "upgrade", "host", "authorization", "content-length"})


def split_scheme_name_port(ident: str) -> tuple[str, str, str] | None:
    """``name`` / ``name:port`` / ``scheme:name:port`` → (scheme, name, port), or None (upstream
    ``SplitSchemeNamePort``)."""
    parts = ident.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3:
        scheme, name, port = parts
    else:
        return None
    if not name or scheme not in SCHEMES:
        return None
    return scheme, name, port


def proxy_path(raw_path: str, name: str) -> str:
    """What follows ``…/{name}/proxy`` in the request path, always starting with ``/``."""
    marker = f"/{name}/proxy"
    i = raw_path.find(marker)
    rest = raw_path[i + len(marker):] if i >= 0 else ""
    return rest if rest.startswith("/") else "/" + rest


def pod_location(pod: Obj, scheme: str, port: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a pod (upstream pod ``ResourceLocation``)."""
    if not port:
        for c in (pod.get("spec") or {}).get("containers") or ():
            ports = c.get("ports") or ()
            if ports:
                port = str(ports[0].get("containerPort", ""))
                break
    status = pod.get("status") or {}
    ips = [p.get("ip", "") for p in status.get("podIPs") or ()] or [status.get("podIP", "")]
    try:
        ip = ipaddress.ip_address(ips[0])
        # Go's IsGlobalUnicast: anything but loopback, link-local, multicast, unspecified and broadcast.
        if ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified or \
                str(ip) == "255.255.255.255":
            raise ValueError
    except ValueError:
        raise BadRequest("address not allowed") from None
    scheme = scheme or "http"
    return scheme, str(ip), int(port) if port.isdigit() else (443 if scheme == "https" else 80)


def service_location(service: Obj, endpoints: Obj | None, ident: str, scheme: str, port: str,
                     rng: random.Random | None = None) -> tuple[str, str, int]:
    """(scheme, host, port) of a random ready endpoint of a service serving ``port`` (upstream service
    ``ResourceLocation``)."""
    name = (service.get("metadata") or {}).get("name", "")
    if port.isdigit():
        match = next((p for p in (service.get("spec") or {}).get("ports") or () if str(p.get("port")) == port), None)
        if match is None:
            raise errors.ServiceUnavailable(f'no service port {port} found for service "{name}"')
        port = match.get("name", "")
    subsets = (endpoints or {}).get("subsets") or []
    if not subsets:
        raise errors.ServiceUnavailable(f'no endpoints available for service "{name}"')
    rng = rng or random.Random()
    start = rng.randrange(len(subsets))
    for k in range(len(subsets)):
        ss = subsets[(start + k) % len(subsets)]
        addrs = ss.get("addresses") or []
        if not addrs:
            continue
        for p in ss.get("ports") or ():
            if p.get("name", "") == port:
                addr = addrs[rng.randrange(len(addrs))]
                return scheme or "http", addr.get("ip", ""), int(p.get("port", 0))
    raise errors.ServiceUnavailable(f'no endpoints available for service "{ident}"')


async def proxy_subresource(handler: ResourceHandler, request: web.Request, res: Resource, info: RequestInfo,
                            user: UserInfo) -> web.StreamResponse:
    kind = res.singular
    parsed = split_scheme_name_port(info.name)
    if parsed is None:
        raise BadRequest(f'invalid {kind} request "{info.name}"')
    scheme, name, port = parsed
    obj = await handler.rest.get(res, info.namespace, name)
    ssl_ctx: ssl.SSLContext | bool = False
    if res.plural == "pods":
        scheme, host, port_n = pod_location(obj, scheme, port)
    elif res.plural == "services":
        eps_res = handler.state.resources.get("", "v1", "endpoints")
        assert eps_res is not None
        try:
            eps = await handler.rest.get(eps_res, info.namespace, name)
        except errors.NotFound:
            eps = None
        scheme, host, port_n = service_location(obj, eps, info.name, scheme, port)
    else:
        host, kubelet_port = proxy.node_address(obj)
        if not port or port == str(kubelet_port):
            scheme, port_n = "https", kubelet_port
            ssl_ctx = proxy.kubelet_client_ssl(handler.state)
        else:
            scheme, port_n = scheme or "http", int(port) if port.isdigit() else 80
    path = proxy_path(request.raw_path.split("?", 1)[0], info.name)
    query = request.raw_path.partition("?")[2]
    target = path + (f"?{query}" if query else "")
    if request.headers.get("Upgrade"):
        return await proxy.upgrade_proxy(request, host, port_n, target,
                                         ssl_context=ssl_ctx if isinstance(ssl_ctx, ssl.SSLContext) else None)
    return await forward(request, f"{scheme}://{proxy.host_port(host, port_n)}{target}", ssl_ctx=ssl_ctx)


async def forward(request: web.Request, url: str, *, ssl_ctx: ssl.SSLContext | bool) -> web.StreamResponse:
    """One HTTP exchange passed through, both bodies streamed."""
    headers = {k: v for k, v in request.headers.items()
               if k.lower() not in HOP_BY_HOP and not k.lower().startswith("impersonate-")}
    if request.remote:
        prior = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{prior}, {request.remote}" if prior else request.remote
    data = request.content if request.body_exists else None
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=proxy.DIAL_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session:
        try:
            upstream = await session.request(request.method, url, headers=headers, data=data, ssl=ssl_ctx,
                                             allow_redirects=False)
        except (aiohttp.ClientConnectorError, OSError, TimeoutError) as e:
            host = url.split("://", 1)[1].split("/", 1)[0]
            h, _, p = host.rpartition(":")
            cause = getattr(e, "os_error", e)
            raise errors.ServiceUnavailable(
                f"error trying to reach service: {proxy.dial_error(h.strip('[]'), int(p), cause)}") from None
        except aiohttp.ClientError as e:
            raise errors.ServiceUnavailable(f"error trying to reach service: {e}") from None
        async with upstream:
            resp = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for k, v in upstream.headers.items():
                if k.lower() not in HOP_BY_HOP:
                    resp.headers.add(k, v)
            if upstream.headers.get("Content-Length") is not None and request.method != "HEAD":
                resp.content_length = int(upstream.headers["Content-Length"])
            await resp.prepare(request)
            with contextlib.suppress(aiohttp.ClientError, ConnectionError, OSError):
                async for chunk in upstream.content.iter_any():
                    await resp.write(chunk)
            with contextlib.suppress(ConnectionError, OSError):
                await resp.write_eof()
            return resp


def install(handler: ResourceHandler) -> None:
    async def run(request: web.Request, res: Resource, info: RequestInfo, user: UserInfo) -> web.StreamResponse:
        if res.plural not in ("pods", "services", "nodes"):
            raise APIError("the server could not find the requested resource", code=404, reason="NotFound",
                           details={})
        return await proxy_subresource(handler, request, res, info, user)

    handler.subresources["proxy"] = run
