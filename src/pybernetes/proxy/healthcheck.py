"""``healthCheckNodePort`` servers: an external load balancer asks each node whether it has local endpoints.

A LoadBalancer Service with ``externalTrafficPolicy: Local`` drops traffic on nodes without a local endpoint,
so the apiserver gives it a ``healthCheckNodePort`` and every node's proxy answers HTTP there: 200 when this
node has ready endpoints of the Service, else 503, with upstream's JSON body
(``{"service":{"namespace":…,"name":…},"localEndpoints":N,"serviceProxyHealthy":true}``) and the
``X-Load-Balancing-Endpoint-Weight`` header. One aiohttp runner serves every port; ports open and close as
Services come and go.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from aiohttp import web

from pybernetes.proxy.rules import endpoints_for, service_ports

log = logging.getLogger(__name__)
Obj = Mapping[str, Any]


def health_checks(services: Iterable[Obj], slices_of: Any, *, node: str) -> dict[int, tuple[str, str, int]]:
    """``healthCheckNodePort`` → (namespace, name, local ready endpoints) for Services that need one;
    ``slices_of(ns/name)`` lists a Service's EndpointSlices."""
    out: dict[int, tuple[str, str, int]] = {}
    for svc in services:
        ports = service_ports(svc)
        if not ports or not ports[0].health_check_node_port or not ports[0].external_local:
            continue
        sp0 = ports[0]
        slices = list(slices_of(f"{sp0.namespace}/{sp0.name}"))
        local = {e.ip for sp in ports for e in endpoints_for(sp, slices) if e.node == node and e.ready}
        out[sp0.health_check_node_port] = (sp0.namespace, sp0.name, len(local))
    return out


def body(namespace: str, name: str, count: int) -> bytes:
    return orjson.dumps({"service": {"namespace": namespace, "name": name}, "localEndpoints": count,
                         "serviceProxyHealthy": True})


class HealthServers:
    def __init__(self, *, host: str = "0.0.0.0") -> None:
        self.host = host
        self.state: dict[int, tuple[str, str, int]] = {}
        self._sites: dict[int, web.TCPSite] = {}
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        sock = request.transport.get_extra_info("sockname") if request.transport else None
        entry = self.state.get(int(sock[1])) if sock else None
        if entry is None:
            return web.Response(status=404)
        ns, name, count = entry
        return web.Response(status=200 if count else 503, body=body(ns, name, count),
                            headers={"Content-Type": "application/json", "X-Content-Type-Options": "nosniff",
                                     "X-Load-Balancing-Endpoint-Weight": str(count)})

    async def sync(self, state: dict[int, tuple[str, str, int]]) -> None:
        """Serve exactly ``state``'s ports (a port that cannot be bound is logged and retried next time)."""
        self.state = state
        if not state and self._runner is None:
            return
        if self._runner is None:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
        for port in [p for p in self._sites if p not in state]:
            await self._sites.pop(port).stop()
        for port in state:
            if port in self._sites:
                continue
            site = web.TCPSite(self._runner, self.host, port, reuse_address=True)
            try:
                await site.start()
            except OSError as e:
                log.warning("cannot serve a health check node port", extra={"port": port, "error": str(e)})
                continue
            self._sites[port] = site

    async def close(self) -> None:
        for site in self._sites.values():
            await site.stop()
        self._sites.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
