"""The API server's aiohttp application: one dispatcher for every path.

A single catch-all route parses the path itself (as upstream's handler chain does) instead of registering a
route per resource: custom resources come and go at run time, and one string split is cheaper than a router
walk. The dispatcher is also the one place where errors become ``metav1.Status`` bodies, authentication
happens, warnings become headers and request metrics are recorded.
"""

from __future__ import annotations

import logging
import platform
import time
from typing import Any

from aiohttp import web

from pybernetes import KUBE_VERSION, __version__
from pybernetes.api import errors
from pybernetes.api.errors import APIError
from pybernetes.apiserver import discovery, impersonation, metrics, metrics_api, requestinfo
from pybernetes.apiserver import warnings as warn
from pybernetes.apiserver.authn import ANONYMOUS_USER_INVALID, Authenticator, UserInfo
from pybernetes.apiserver.authz import Attributes as AuthzAttributes
from pybernetes.apiserver.handlers import ResourceHandler
from pybernetes.apiserver.respond import body_response, dumps
from pybernetes.apiserver.state import ServerState

log = logging.getLogger(__name__)

PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version", "/version/", "/cacerts"})
HEALTH_PREFIXES = ("/healthz", "/livez", "/readyz")
STATE = web.AppKey("state", ServerState)


def version_info() -> dict[str, Any]:
    major, minor = KUBE_VERSION.lstrip("v").split(".")[:2]
    return {"major": major, "minor": minor, "emulationMajor": major, "emulationMinor": minor,
            "minCompatibilityMajor": major, "minCompatibilityMinor": str(int(minor) - 1),
            "gitVersion": f"{KUBE_VERSION}+pybernetes.{__version__}", "gitCommit": "pybernetes",
            "gitTreeState": "clean", "buildDate": "2026-11-27T00:00:00Z",
            "goVersion": f"python{platform.python_version()}", "compiler": "cpython",
            "platform": f"linux/{_arch()}"}


def _arch() -> str:
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


_CHILDREN: dict[tuple[tuple[str, ...], int], tuple[Any, Any]] = {}


# apiserver_request_total's verb label as upstream's endpoint installer names its routes (dashboards and SLO
# rules select writes with verb=~"POST|PUT|PATCH|DELETE"); a server-side apply PATCH reads APPLY.
_METRIC_VERBS = {"create": "POST", "update": "PUT", "patch": "PATCH", "delete": "DELETE",
                 "deletecollection": "DELETECOLLECTION", "get": "GET", "list": "LIST", "watch": "WATCH"}
_CONNECT_SUBRESOURCES = frozenset({"exec", "attach", "portforward", "proxy"})


def metric_verb(verb: str, subresource: str, content_type: str) -> str:
    if subresource in _CONNECT_SUBRESOURCES:
        return "CONNECT"
    if verb == "patch" and content_type == "application/apply-patch+yaml":
        return "APPLY"
    return _METRIC_VERBS.get(verb) or verb.upper()


def _metric_children(labels: tuple[str, ...], code: int) -> tuple[Any, Any]:
    """The request counter and duration histogram children for these labels: prometheus_client's ``labels()``
    validates and locks on every call (~15 µs a request for the two); the label space is bounded, so cache them."""
    key = (labels, code)
    got = _CHILDREN.get(key)
    if got is None:
        if len(_CHILDREN) > 10_000:           # URLs of unknown resources make new label sets: stay bounded
            _CHILDREN.clear()
        got = _CHILDREN[key] = (metrics.REQUESTS.labels(*labels, str(code)), metrics.DURATION.labels(*labels))
    return got


def error_response(err: APIError) -> web.Response:
    resp = web.Response(body=err.body(), status=err.code, content_type="application/json")
    for k, v in err.headers.items():
        resp.headers[k] = v
    return resp


class Dispatcher:
    def __init__(self, state: ServerState, authenticator: Authenticator) -> None:
        self.state = state
        self.authn = authenticator
        self.resources = ResourceHandler(state)
        self.discovery = discovery.DiscoveryCache(state.resources)
        self.metrics = metrics_api.install(state, self.resources)
        self.ready = False

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        t0 = time.perf_counter()
        warnings = warn.start()
        info: requestinfo.RequestInfo | None = None
        code = 500
        try:
            path = request.path
            user = self.authn.authenticate(request.transport, request.headers.get("Authorization"))
            if path in PUBLIC_PATHS or path.startswith(HEALTH_PREFIXES):
                if user is ANONYMOUS_USER_INVALID:
                    raise errors.Unauthorized()
                resp = await self.public(request, path)
            else:
                if user.anonymous:
                    raise errors.Unauthorized()
                if impersonation.requested(request.headers):
                    user = await impersonation.impersonate(user, request.headers, self.state.authorizer)
                request["user"] = user
                info = requestinfo.parse(request.method, path, request.query)
                if info.is_resource:
                    if info.group == metrics_api.GROUP:
                        resp = await self.metrics.handle(request, info, user)
                    else:
                        resp = await self.resources.handle(request, info, user)
                else:
                    resp = await self.non_resource(request, path, user)
        except APIError as e:
            resp = error_response(e)
        except web.HTTPException:
            raise
        except ConnectionResetError:
            raise
        except Exception as e:
            log.exception("request failed", extra={"method": request.method, "path": request.path})
            resp = error_response(errors.InternalError(type(e).__name__ + ": " + str(e)[:200]))
        code = resp.status
        if warnings and not resp.prepared:
            for w in warnings:
                resp.headers.add("Warning", warn.header_value(w))
        if info is not None and info.is_resource:
            scope = "resource" if info.name else ("namespace" if info.namespace else "cluster")
            verb = metric_verb(info.verb, info.subresource, request.content_type)
            labels = (verb, info.group, info.version, info.resource, info.subresource, scope, "apiserver")
            count, duration = _metric_children(labels, code)
            count.inc()
            if info.verb != "watch":
                duration.observe(time.perf_counter() - t0)
        return resp

    async def public(self, request: web.Request, path: str) -> web.StreamResponse:
        if path == "/cacerts":
            # The CA a joining agent should trust (as k3s serves it); the agent checks it against its token.
            pki = self.state.extra["pki"]
            return web.Response(body=pki.server_ca.read_bytes(), content_type="text/plain")
        if path.startswith("/version"):
            return body_response(dumps(version_info()))
        if path.startswith("/readyz") and not self.ready:
            return web.Response(text="[-]poststarthook/pybernetes-bootstrap failed: not finished\nreadyz check "
                                "failed\n", status=500, content_type="text/plain")
        if "verbose" in request.query:
            name = path.strip("/").split("/")[0]
            return web.Response(text=f"[+]ping ok\n[+]log ok\n[+]etcd ok\n{name} check passed\n",
                                content_type="text/plain")
        return web.Response(text="ok", content_type="text/plain")

    async def non_resource(self, request: web.Request, path: str, user: UserInfo) -> web.StreamResponse:
        if path.startswith(metrics_api.SUMMARY_PATH):       # agents' usage reports: authorized by node identity
            return await self.metrics.serve_summary(request, path, user)
        attrs = AuthzAttributes(user=user, verb=request.method.lower(), resource_request=False, path=path)
        d = await self.state.authorizer.authorize(attrs)
        if not d.allowed:
            from pybernetes.apiserver.authz_messages import forbidden_message
            raise APIError(forbidden_message(attrs, d.reason), code=403, reason="Forbidden", details={})
        reg = self.state.resources
        p = path.rstrip("/") or "/"
        if request.method not in ("GET", "HEAD"):
            raise errors.resource_not_found()
        if p == "/api":
            cfg = self.state.config
            return body_response(dumps(discovery.api_versions(f"{cfg.advertise_address}:{cfg.port}")))
        if p == "/apis":
            return body_response(self.discovery.get("/apis", lambda: discovery.api_group_list(reg)) or b"")
        segs = p.strip("/").split("/")
        if segs[0] == "api" and len(segs) == 2:
            doc = self.discovery.get(p, lambda: discovery.api_resource_list(reg, "", segs[1]))
            if doc is not None:
                return body_response(doc)
        elif segs[0] == "apis" and len(segs) == 2:
            doc = self.discovery.get(p, lambda: discovery.api_group(reg, segs[1]))
            if doc is not None:
                return body_response(doc)
        elif segs[0] == "apis" and len(segs) == 3:
            doc = self.discovery.get(p, lambda: discovery.api_resource_list(reg, segs[1], segs[2]))
            if doc is not None:
                return body_response(doc)
        elif segs[0] == "openapi":
            from pybernetes.apiserver.openapi_handlers import serve_openapi
            return await serve_openapi(self.state, request, segs)
        elif p == "/openid/v1/jwks":
            return body_response(dumps(self.state.extra["sa_signer"].jwks()), content_type="application/jwk-set+json")
        elif p == "/.well-known/openid-configuration":
            from pybernetes.apiserver.sa_tokens import openid_configuration
            cfg = self.state.config
            return body_response(dumps(openid_configuration(f"{cfg.advertise_address}:{cfg.port}")))
        elif p == "/v1-pybernetes/client-ca.crt":     # agents fetch it to verify the API server at their kubelet
            from pybernetes.apiserver.proxy import client_ca_response
            return client_ca_response(self.state, user)
        elif p == "/metrics":
            return web.Response(body=metrics.render(), content_type="text/plain",
                                charset="utf-8", headers={"X-Content-Type-Options": "nosniff"})
        elif p == "/":
            paths = sorted({"/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/metrics", "/openapi/v2",
                            "/openapi/v3", "/version"} | {f"/apis/{g}" for g, _ in reg.groups() if g}
                           | {f"/apis/{g}/{v}" for g, vs in reg.groups() if g for v in vs})
            return body_response(dumps({"paths": paths}))
        raise errors.resource_not_found()


def make_app(state: ServerState, authenticator: Authenticator) -> tuple[web.Application, Dispatcher]:
    # auto_decompress off: like Go's server, a Content-Encoding on a request body is not undone (a gzip body is a
    # 400 decoding error, not silently accepted; an unknown encoding is not a plain-text 400 from the HTTP parser).
    app = web.Application(client_max_size=state.config.max_body_bytes + 1024 * 1024, handler_args={
        "max_field_size": 65536, "auto_decompress": False})
    app[STATE] = state
    dispatcher = Dispatcher(state, authenticator)
    from pybernetes.apiserver import reviews, subresources
    subresources.install(dispatcher.resources)
    reviews.install(dispatcher.resources)
    app.router.add_route("*", "/{tail:.*}", dispatcher)
    return app, dispatcher
