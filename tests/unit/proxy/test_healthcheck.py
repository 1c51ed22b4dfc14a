"""healthCheckNodePort answers: which Services get a server, the local endpoint count, and the HTTP answers of
the servers opening and closing with the Services (on loopback)."""

from __future__ import annotations

import socket
from typing import Any

import aiohttp

from pybernetes.proxy.healthcheck import HealthServers, health_checks

Obj = dict[str, Any]


def lb(name: str, hc: int, *, policy: str = "Local") -> Obj:
    return {"metadata": {"name": name, "namespace": "ns"},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.43.0.10", "externalTrafficPolicy": policy,
                     "healthCheckNodePort": hc, "ports": [{"name": "http", "port": 80, "nodePort": 30080},
                                                          {"name": "https", "port": 443, "nodePort": 30443}]}}


SLICE = {"addressType": "IPv4", "ports": [{"name": "http", "port": 8080}, {"name": "https", "port": 8443}],
         "endpoints": [{"addresses": ["10.42.0.5"], "nodeName": "n1"},
                       {"addresses": ["10.42.0.6"], "nodeName": "n1", "conditions": {"ready": False}},
                       {"addresses": ["10.42.1.5"], "nodeName": "n2"}]}


def test_health_checks_count_local_ready_endpoints_once_per_address() -> None:
    services = [lb("web", 32000), lb("cluster", 32001, policy="Cluster"), lb("empty", 32002)]
    slices = {"ns/web": [SLICE], "ns/empty": []}
    assert health_checks(services, lambda key: slices.get(key, []), node="n1") == {
        32000: ("ns", "web", 1), 32002: ("ns", "empty", 0)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_servers_answer_and_close() -> None:
    servers = HealthServers(host="127.0.0.1")
    up, down = free_port(), free_port()
    try:
        await servers.sync({up: ("ns", "web", 2), down: ("ns", "empty", 0)})
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{up}/") as r:
                assert r.status == 200 and r.headers["X-Load-Balancing-Endpoint-Weight"] == "2"
                assert await r.json() == {"service": {"namespace": "ns", "name": "web"}, "localEndpoints": 2,
                                          "serviceProxyHealthy": True}
            async with http.get(f"http://127.0.0.1:{down}/healthz") as r:
                assert r.status == 503 and (await r.json())["localEndpoints"] == 0
            await servers.sync({up: ("ns", "web", 0)})
            async with http.get(f"http://127.0.0.1:{up}/") as r:
                assert r.status == 503
        async with aiohttp.ClientSession() as fresh:              # no kept-alive connection to the old site
            try:
                async with fresh.get(f"http://127.0.0.1:{down}/") as r:
                    raise AssertionError(f"the closed port answered {r.status}")
            except aiohttp.ClientConnectionError:
                pass
    finally:
        await servers.close()


async def test_a_taken_port_is_skipped() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        servers = HealthServers(host="127.0.0.1")
        try:
            await servers.sync({port: ("ns", "web", 1)})
            assert servers.state == {port: ("ns", "web", 1)}
        finally:
            await servers.close()
