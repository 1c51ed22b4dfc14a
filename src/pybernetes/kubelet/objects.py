"""The API objects a real node reads for its pods: Services (environment variables), ConfigMaps and Secrets (env
and volumes), PersistentVolumeClaims and PersistentVolumes (volumes), and TokenRequests (projected tokens).

Services, ConfigMaps and Secrets come from informers of this agent (one list+watch each, cluster-wide: a real
node runs tens of pods, and a watch keeps mounted ConfigMaps current without a GET per refresh); they are
started on first use, so a simulated agent that never asks costs nothing. Claims and volumes are read with
GETs when a pod mounts them. Implements :class:`pybernetes.kubelet.env.Objects` and
:class:`pybernetes.kubelet.volumes.manager.VolumeAPI`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from pybernetes.client.informer import Informer
from pybernetes.client.resources import CONFIGMAPS, PVCS, PVS, SECRETS, SERVICEACCOUNTS, SERVICES, ResourceRef
from pybernetes.client.rest import APIStatusError, Client

Obj = dict[str, Any]
SYNC_WAIT = 30.0


class APIObjects:
    def __init__(self, client: Client) -> None:
        self.client = client
        self._informers: dict[str, Informer] = {}

    def _informer(self, res: ResourceRef) -> Informer:
        inf = self._informers.get(res.plural)
        if inf is None:
            inf = self._informers[res.plural] = Informer(self.client, res)
            inf.start()
        return inf

    def informer(self, res: ResourceRef) -> Informer:
        """This agent's informer for ``res`` (started on first use)."""
        return self._informer(res)

    def start(self) -> None:
        """Begin watching Services now (env needs them before the first container of the first pod)."""
        self._informer(SERVICES)

    async def _cached(self, res: ResourceRef, namespace: str, name: str) -> Obj | None:
        inf = self._informer(res)
        if not inf.synced.is_set():
            try:
                await asyncio.wait_for(inf.synced.wait(), SYNC_WAIT)
            except TimeoutError:
                return await self._get(res, name, namespace)
        return inf.get(f"{namespace}/{name}")

    async def _get(self, res: ResourceRef, name: str, namespace: str | None = None) -> Obj | None:
        try:
            return await self.client.get(res, name, namespace)
        except APIStatusError as e:
            if e.code == 404:
                return None
            raise

    async def configmap(self, namespace: str, name: str) -> Obj | None:
        return await self._cached(CONFIGMAPS, namespace, name)

    async def secret(self, namespace: str, name: str) -> Obj | None:
        return await self._cached(SECRETS, namespace, name)

    def services(self) -> Iterable[Obj] | None:
        inf = self._informer(SERVICES)
        return inf.store.values() if inf.synced.is_set() else None

    async def wait_services(self, timeout: float = SYNC_WAIT) -> None:
        inf = self._informer(SERVICES)
        try:
            await asyncio.wait_for(inf.synced.wait(), timeout)
        except TimeoutError:
            pass

    async def pvc(self, namespace: str, name: str) -> Obj | None:
        return await self._get(PVCS, name, namespace)

    async def pv(self, name: str) -> Obj | None:
        return await self._get(PVS, name)

    async def request_token(self, namespace: str, service_account: str, body: Obj) -> Obj:
        return await self.client.create(SERVICEACCOUNTS, body, namespace, subresource="token",
                                        name=service_account)

    async def stop(self) -> None:
        for inf in self._informers.values():
            await inf.stop()
        self._informers.clear()
