"""Feeding :class:`~pybernetes.dns.cluster.ClusterRecords` from the API: one informer each for Namespaces,
Services, EndpointSlices and (pod mode ``verified``) Pods — running pods only, by the same field selector CoreDNS
uses, so finished pods never reach the cache.

Records are marked synced once every informer has listed; until then the resolver answers SERVFAIL instead of
NXDOMAIN (a cache that is still empty must not tell pods that names do not exist).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from pybernetes.client.informer import Informer
from pybernetes.client.resources import ENDPOINTSLICES, NAMESPACES, PODS, SERVICES
from pybernetes.client.rest import Client
from pybernetes.dns.cluster import ClusterRecords

log = logging.getLogger(__name__)
RUNNING_PODS = "status.phase!=Succeeded,status.phase!=Failed,status.phase!=Unknown"
Obj = dict[str, Any]


def _wire(inf: Informer, put: Callable[[Obj], None], drop: Callable[[Obj], None]) -> Informer:
    inf.add_handler(put, lambda _old, new: put(new), drop)
    return inf


class ClusterSource:
    """The informers behind one DNS server's records."""

    def __init__(self, client: Client, records: ClusterRecords, *, pods: bool = True) -> None:
        self.records = records
        self.synced = asyncio.Event()
        r = records
        self.informers = [
            _wire(Informer(client, NAMESPACES), r.set_namespace, r.remove_namespace),
            _wire(Informer(client, SERVICES), r.set_service, r.remove_service),
            _wire(Informer(client, ENDPOINTSLICES), r.set_slice, r.remove_slice),
        ]
        if pods:
            self.informers.append(_wire(Informer(client, PODS, field_selector=RUNNING_PODS), r.set_pod, r.remove_pod))

    async def run(self) -> None:
        """List and watch until cancelled; records are synced once every informer has listed."""
        tasks = [inf.start() for inf in self.informers]
        try:
            await asyncio.gather(*(inf.synced.wait() for inf in self.informers))
            self.records.synced = True
            self.synced.set()
            log.info("cluster DNS records synced", extra={"services": len(self.records.services),
                                                          "slices": len(self.records.slices)})
            await asyncio.gather(*tasks)
        finally:
            await asyncio.shield(asyncio.gather(*(inf.stop() for inf in self.informers)))
