"""The proxy subresources of pods, services and nodes: where requests go (upstream ResourceLocation rules) and
HTTP passed through the API server's handler chain to a service endpoint and to a node's kubelet."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from tests.unit.apiserver.test_proxy import Cluster, cluster  # noqa: F401 - the fixture

from pybernetes.api import errors
from pybernetes.apiserver import resource_proxy as rp
from pybernetes.apiserver.app import error_response

Obj = dict[str, Any]


@pytest.mark.parametrize("ident,expected", [
    ("web", ("", "web", "")), ("web:80", ("", "web", "80")), ("https:web:443", ("https", "web", "443")),
    ("web:http", ("", "web", "http")), ("ftp:web:21", None), (":80", None), ("a:b:c:d", None),
])
def test_split_scheme_name_port(ident: str, expected: tuple[str, str, str] | None) -> None:
    assert rp.split_scheme_name_port(ident) == expected


@pytest.mark.parametrize("raw,name,path", [
    ("/api/v1/namespaces/ns/pods/web/proxy", "web", "/"),
    ("/api/v1/namespaces/ns/pods/web/proxy/", "web", "/"),
    ("/api/v1/namespaces/ns/pods/web:80/proxy/a/b/", "web:80", "/a/b/"),
    ("/api/v1/nodes/n1/proxy/healthz", "n1", "/healthz"),
])
def test_proxy_path_keeps_the_trailing_slash(raw: str, name: str, path: str) -> None:
    assert rp.proxy_path(raw, name) == path


def pod(ip: str, ports: list[int]) -> Obj:
    return {"spec": {"containers": [{"name": "a"}, {"name": "b", "ports": [{"containerPort": p} for p in ports]}]},
            "status": {"podIP": ip, "podIPs": [{"ip": ip}]}}


@pytest.mark.parametrize("p,scheme,port,expected", [
    (pod("10.42.0.5", [8080]), "", "", ("http", "10.42.0.5", 8080)),
    (pod("10.42.0.5", []), "", "", ("http", "10.42.0.5", 80)),
    (pod("10.42.0.5", [8080]), "https", "9443", ("https", "10.42.0.5", 9443)),
    (pod("fd00::5", []), "", "81", ("http", "fd00::5", 81)),
])
def test_pod_locations(p: Obj, scheme: str, port: str, expected: tuple[str, str, int]) -> None:
    assert rp.pod_location(p, scheme, port) == expected


@pytest.mark.parametrize("ip", ["127.0.0.1", "169.254.0.1", "", "0.0.0.0", "224.0.0.1"])
def test_pod_addresses_not_allowed(ip: str) -> None:
    with pytest.raises(errors.BadRequest, match="address not allowed"):
        rp.pod_location(pod(ip, [80]), "", "")


SVC = {"metadata": {"name": "web"}, "spec": {"ports": [{"name": "http", "port": 80}, {"name": "", "port": 81}]}}


def test_service_locations() -> None:
    eps = {"subsets": [{"addresses": [], "ports": [{"name": "http", "port": 8080}]},
                       {"addresses": [{"ip": "10.42.0.7"}, {"ip": "10.42.0.8"}],
                        "ports": [{"name": "http", "port": 8080}, {"name": "", "port": 9090}]}]}
    seen = {rp.service_location(SVC, eps, "web:80", "", "80", random.Random(i)) for i in range(20)}
    assert seen == {("http", "10.42.0.7", 8080), ("http", "10.42.0.8", 8080)}
    assert rp.service_location(SVC, eps, "web", "https", "", random.Random(1))[::2] == ("https", 9090)
    assert rp.service_location(SVC, eps, "web:81", "", "81", random.Random(1))[2] == 9090


@pytest.mark.parametrize("eps,ident,port,message", [
    (None, "web", "", 'no endpoints available for service "web"'),
    ({"subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"name": "other", "port": 1}]}]}, "web:http",
     "http", 'no endpoints available for service "web:http"'),
    ({"subsets": []}, "web:99", "99", 'no service port 99 found for service "web"'),
])
def test_services_without_endpoints(eps: Obj | None, ident: str, port: str, message: str) -> None:
    with pytest.raises(errors.ServiceUnavailable) as e:
        rp.service_location(SVC, eps, ident, "", port)
    assert e.value.message == message and e.value.code == 503


@pytest.fixture()
async def backend() -> AsyncIterator[int]:
    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response({"method": request.method, "path": request.path_qs, "body": body.decode(),
                                  "auth": request.headers.get("Authorization", ""),
                                  "forwarded": request.headers.get("X-Forwarded-For", "")},
                                 headers={"X-Backend": "yes"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    finally:
        await runner.cleanup()


async def forwarder(target_port: int) -> tuple[web.AppRunner, int]:
    """An app whose every request goes through :func:`resource_proxy.forward` to 127.0.0.1:``target_port``
    (Endpoints may not hold loopback addresses, so the pass-through is driven directly)."""
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return await rp.forward(request, f"http://127.0.0.1:{target_port}{request.path_qs}", ssl_ctx=False)
        except errors.APIError as e:                   # what the dispatcher does with every APIError
            return error_response(e)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


async def test_http_passes_through(backend: int) -> None:
    runner, port = await forwarder(backend)
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(f"http://127.0.0.1:{port}/hello/?x=1", headers={"Authorization": "Bearer t"}) as r:
                body = await r.json()
                assert r.headers["X-Backend"] == "yes"
            assert body["method"] == "GET" and body["path"] == "/hello/?x=1"
            assert body["auth"] == "" and body["forwarded"] == "127.0.0.1"     # credentials stay here
            async with s.post(f"http://127.0.0.1:{port}/submit", data=b"payload") as r:
                body = await r.json()
            assert (body["method"], body["body"]) == ("POST", "payload")
    finally:
        await runner.cleanup()


async def test_unreachable_backends_are_503() -> None:
    runner, port = await forwarder(1)
    try:
        async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/") as r:
            assert r.status == 503
            body = await r.json()
    finally:
        await runner.cleanup()
    assert (body["reason"], body["message"]) == (
        "ServiceUnavailable", "error trying to reach service: dial tcp 127.0.0.1:1: connect: connection refused")


async def test_service_proxy_without_endpoints(cluster: Cluster) -> None:  # noqa: F811
    await cluster.create("/api/v1/namespaces/ns/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"ports": [{"name": "http", "port": 80}], "selector": {"app": "web"}}})
    code, body = await cluster.req("GET", "/api/v1/namespaces/ns/services/web:80/proxy/")
    assert (code, body["reason"], body["message"]) == (503, "ServiceUnavailable",
                                                       'no endpoints available for service "web"')
    code, body = await cluster.req("GET", "/api/v1/namespaces/ns/services/web:8080/proxy/")
    assert (code, body["message"]) == (503, 'no service port 8080 found for service "web"')


async def test_node_proxy_reaches_the_kubelet(cluster: Cluster) -> None:  # noqa: F811
    assert await cluster.req("GET", "/api/v1/nodes/n1/proxy/healthz") == (200, "ok")
    cluster.rt.log("c-app", "stdout", b"via the node proxy")
    assert await cluster.req("GET", "/api/v1/nodes/n1/proxy/containerLogs/ns/web/app") == (
        200, "via the node proxy\n")


async def test_pod_proxy_refuses_bad_names_and_loopback_pods(cluster: Cluster) -> None:  # noqa: F811
    code, body = await cluster.req("GET", "/api/v1/namespaces/ns/pods/a:b:c:d/proxy/")
    assert (code, body["message"]) == (400, 'invalid pod request "a:b:c:d"')
    code, body = await cluster.req("GET", "/api/v1/namespaces/ns/pods/web/proxy/")
    assert (code, body["message"]) == (400, "address not allowed")        # no IP (the test pod has none)
    code, body = await cluster.req("GET", "/api/v1/namespaces/ns/pods/nope:80/proxy/")
    assert (code, body["message"]) == (404, 'pods "nope" not found')
