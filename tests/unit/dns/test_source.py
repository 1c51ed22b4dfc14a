"""The informer feed: a fake API client (lists, then watch events pushed by the test) behind the real informers,
answered by the real DNS server over UDP."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from dnslib import QTYPE, RCODE, DNSRecord
from tests.unit.dns.test_records import ep, eps, svc

from pybernetes.client.resources import ResourceRef
from pybernetes.dns.cluster import ClusterRecords
from pybernetes.dns.forward import Forwarder
from pybernetes.dns.records import Resolver
from pybernetes.dns.server import DNSServer
from pybernetes.dns.source import RUNNING_PODS, ClusterSource

Obj = dict[str, Any]


class FakeClient:
    def __init__(self, items: dict[str, list[Obj]]) -> None:
        self.items = items
        self.events: dict[str, asyncio.Queue[Obj]] = defaultdict(asyncio.Queue)
        self.selectors: dict[str, Any] = {}

    async def list(self, res: ResourceRef, namespace: str | None = None, **params: Any) -> Obj:
        self.selectors[res.plural] = params.get("field_selector")
        items = [{**o, "metadata": {**o["metadata"], "resourceVersion": "1"}} for o in self.items.get(res.plural, [])]
        return {"items": items, "metadata": {"resourceVersion": "1"}}

    async def watch(self, res: ResourceRef, namespace: str | None = None, **params: Any) -> AsyncIterator[Obj]:
        q = self.events[res.plural]
        while True:
            yield await q.get()


async def until(check: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def ask(port: int, name: str) -> DNSRecord:
    raw = await asyncio.to_thread(DNSRecord.question(name).send, "127.0.0.1", port, timeout=5)
    return DNSRecord.parse(raw)


async def test_answers_follow_the_informers() -> None:
    client = FakeClient({
        "namespaces": [{"metadata": {"name": "default"}}],
        "services": [svc("default", "nginx", ip="10.43.0.20"), svc("default", "web", ip="None")],
        "endpointslices": [eps("default", "web-a", "web", [ep("10.42.0.5", hostname="web-0")])],
        "pods": [{"metadata": {"namespace": "default", "name": "p"}, "status": {"phase": "Running",
                                                                                "podIP": "10.42.0.5"}}]})
    records = ClusterRecords()
    source = ClusterSource(client, records)          # type: ignore[arg-type]
    server = DNSServer(Resolver(records), Forwarder([]), host="127.0.0.1", port=0)
    await server.start()
    task = asyncio.create_task(source.run())
    try:
        await asyncio.wait_for(source.synced.wait(), 5)
        assert client.selectors["pods"] == RUNNING_PODS
        got = await ask(server.port, "web-0.web.default.svc.cluster.local")
        assert [str(rr.rdata) for rr in got.rr] == ["10.42.0.5"]
        got = await ask(server.port, "10-42-0-5.default.pod.cluster.local")
        assert [str(rr.rdata) for rr in got.rr] == ["10.42.0.5"]

        moved = svc("default", "nginx", ip="10.43.0.99")
        moved["metadata"]["resourceVersion"] = "2"
        client.events["services"].put_nowait({"type": "MODIFIED", "object": moved})
        await until(lambda: records.services[("default", "nginx")].cluster_ips == ("10.43.0.99",))
        got = await ask(server.port, "nginx.default.svc.cluster.local")
        assert [(QTYPE.get(rr.rtype), str(rr.rdata)) for rr in got.rr] == [("A", "10.43.0.99")]

        gone = {**moved, "metadata": {**moved["metadata"], "resourceVersion": "3"}}
        client.events["services"].put_nowait({"type": "DELETED", "object": gone})
        await until(lambda: ("default", "nginx") not in records.services)
        assert (await ask(server.port, "nginx.default.svc.cluster.local")).header.rcode == RCODE.NXDOMAIN
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await server.stop()


async def test_an_unsynced_source_never_denies_names() -> None:
    records = ClusterRecords()
    server = DNSServer(Resolver(records), Forwarder([]), host="127.0.0.1", port=0)
    await server.start()
    try:
        assert (await ask(server.port, "nginx.default.svc.cluster.local")).header.rcode == RCODE.SERVFAIL
    finally:
        await server.stop()
