"""A shared informer factory: one informer (one list+watch) per resource per process, however many
controllers use it (client-go ``SharedInformerFactory``)."""

from __future__ import annotations

import asyncio

from pybernetes.client.informer import Informer
from pybernetes.client.resources import ResourceRef
from pybernetes.client.rest import Client


class InformerFactory:
    def __init__(self, client: Client) -> None:
        self.client = client
        self._informers: dict[tuple[ResourceRef, str | None, str | None], Informer] = {}

    def informer(self, res: ResourceRef, *, namespace: str | None = None,
                 field_selector: str | None = None) -> Informer:
        key = (res, namespace, field_selector)
        inf = self._informers.get(key)
        if inf is None:
            inf = self._informers[key] = Informer(self.client, res, namespace=namespace,
                                                  field_selector=field_selector)
        return inf

    def start(self) -> None:
        for inf in self._informers.values():
            inf.start()

    async def wait_synced(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(asyncio.gather(*(i.synced.wait() for i in self._informers.values())), timeout)

    async def stop(self) -> None:
        for inf in self._informers.values():
            await inf.stop()
