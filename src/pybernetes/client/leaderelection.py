"""Leader election through a coordination.k8s.io/v1 Lease (client-go ``tools/leaderelection``).

A candidate takes the Lease when it is absent or its holder's renewTime + leaseDurationSeconds has passed, by a
compare-and-swap update on the Lease's resourceVersion; the leader renews every ``retry_period`` and gives up
leadership when it could not renew within ``renew_deadline``. Only the leader runs its loops, so two
schedulers or controller managers can run for availability without acting twice.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import socket
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from pybernetes.api.meta import format_rfc3339_micro, parse_time
from pybernetes.client.clock import REAL, Clock
from pybernetes.client.resources import LEASES
from pybernetes.client.rest import APIStatusError, Client, is_conflict, is_not_found

log = logging.getLogger(__name__)


def default_identity() -> str:
    return f"{socket.gethostname()}_{uuid.uuid4()}"


class LeaderElector:
    def __init__(self, client: Client, *, name: str, namespace: str = "kube-system", identity: str | None = None,
                 lease_duration: float = 15.0, renew_deadline: float = 10.0, retry_period: float = 2.0,
                 clock: Clock = REAL) -> None:
        self.client = client
        self.name, self.namespace = name, namespace
        self.identity = identity or default_identity()
        self.lease_duration, self.renew_deadline, self.retry_period = lease_duration, renew_deadline, retry_period
        self.clock = clock
        self.is_leader = False

    def _lease(self, rv: str | None, transitions: int, acquire_time: str) -> dict[str, Any]:
        now = format_rfc3339_micro(self.clock.now())
        meta: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if rv:
            meta["resourceVersion"] = rv
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
                "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.lease_duration),
                         "acquireTime": acquire_time or now, "renewTime": now,
                         "leaseTransitions": transitions}}

    async def try_acquire_or_renew(self) -> bool:
        try:
            lease = await self.client.get(LEASES, self.name, self.namespace)
        except APIStatusError as e:
            if not is_not_found(e):
                raise
            try:
                await self.client.create(LEASES, self._lease(None, 0, ""), self.namespace)
                return True
            except APIStatusError:
                return False
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        transitions = int(spec.get("leaseTransitions") or 0)
        if holder and holder != self.identity:
            renew = spec.get("renewTime")
            duration = float(spec.get("leaseDurationSeconds") or self.lease_duration)
            if renew:
                expires = parse_time(renew) + datetime.timedelta(seconds=duration)
                if expires > self.clock.now():
                    return False
        if holder != self.identity:
            transitions += 1                # a new holder, also after a released (empty) one, as client-go
        acquire = spec.get("acquireTime", "") if holder == self.identity else ""
        try:
            await self.client.update(LEASES, self._lease(lease["metadata"]["resourceVersion"], transitions, acquire))
            return True
        except APIStatusError as e:
            if is_conflict(e):
                return False
            raise

    async def run(self, lead: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Block until leader, then run ``lead()`` while renewing; returns (after cancelling ``lead``) when
        leadership is lost, so the caller can exit or campaign again."""
        while True:
            try:
                if await self.try_acquire_or_renew():
                    break
            except Exception as e:
                log.warning("leader election attempt failed", extra={"lease": self.name, "error": repr(e)})
            await self.clock.sleep(self.retry_period)
        self.is_leader = True
        log.info("became leader", extra={"lease": self.name, "identity": self.identity})
        task = asyncio.create_task(lead(), name=f"leader-{self.name}")
        last_renew = self.clock.monotonic()
        try:
            while not task.done():
                await self.clock.sleep(self.retry_period)
                try:
                    if await self.try_acquire_or_renew():
                        last_renew = self.clock.monotonic()
                        continue
                except Exception as e:
                    log.warning("lease renewal failed", extra={"lease": self.name, "error": repr(e)})
                if self.clock.monotonic() - last_renew > self.renew_deadline:
                    log.error("lost leadership", extra={"lease": self.name})
                    break
        finally:
            self.is_leader = False
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
