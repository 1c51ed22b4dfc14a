"""The controller manager: shared informers, an event recorder, and every controller, under leader election.

Controllers are constructed first (they register their informer handlers), then informers start; workers begin
once every informer has listed, so a reconcile never acts on a half-filled cache.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from pybernetes.client.events import EventRecorder
from pybernetes.client.informers import InformerFactory
from pybernetes.client.leaderelection import LeaderElector
from pybernetes.client.rest import Client, ClientConfig
from pybernetes.controllers.base import ControllerContext
from pybernetes.controllers.registry import all_controllers

log = logging.getLogger(__name__)


async def run_controller_manager(*, kubeconfig: str, leader_elect: bool = True, controllers: list[str] | None = None,
                                 options: dict[str, Any] | None = None) -> None:
    client = Client(ClientConfig.from_kubeconfig(kubeconfig, user_agent="kube-controller-manager/pybernetes"),
                    limit=200)
    recorder = EventRecorder(client, component="controller-manager", host=socket.gethostname())

    async def lead() -> None:
        informers = InformerFactory(client)
        ctx = ControllerContext(client=client, informers=informers, recorder=recorder, options=options or {})
        wanted = set(controllers or []) or None
        ctls = [cls(ctx) for cls in all_controllers() if wanted is None or cls.name in wanted]
        log.info("starting controllers", extra={"controllers": [c.name for c in ctls]})
        informers.start()
        await informers.wait_synced()
        try:
            async with asyncio.TaskGroup() as tg:
                for c in ctls:
                    tg.create_task(c.run(), name=f"controller-{c.name}")
        finally:
            await informers.stop()

    try:
        if leader_elect:
            await LeaderElector(client, name="kube-controller-manager").run(lead)
        else:
            await lead()
    finally:
        await recorder.close()
        await client.close()
