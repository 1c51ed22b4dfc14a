"""The status manager: pod statuses computed by the pod workers reach the API through here (upstream
``pkg/kubelet/status/status_manager.go``).

- *Coalescing*: a pod's status can change many times while a write is in flight; only the latest is written, and
  a status equal to what the API already holds is not written at all. Keys go through a client-go-style work
  queue, so one pod is never written by two workers at once and failures retry with back-off.
- *Writes* are strategic-merge PATCHes of ``pods/{name}/status`` carrying only the changed top-level fields
  (removed ones as null) plus ``metadata.uid`` — as upstream's ``PatchPodStatus`` does, the UID makes the write
  fail rather than land on a newer pod of the same name. No resourceVersion is sent, so writes do not conflict
  with other writers of the pod (the scheduler's conditions, label changes).
- *Graceful deletion ends here*: once the pod worker reports a pod with ``deletionTimestamp`` terminated (every
  container stopped, sandbox gone), the final status is written and the pod deleted with
  ``gracePeriodSeconds=0`` and a UID precondition, which removes the object and lets ``kubectl delete`` return.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from pybernetes.api.meta import is_being_deleted
from pybernetes.client.clock import REAL, Clock
from pybernetes.client.resources import PODS
from pybernetes.client.rest import APIStatusError, Client
from pybernetes.client.workqueue import RateLimiter, WorkQueue
from pybernetes.kubelet.podstatus import status_patch

log = logging.getLogger(__name__)
Obj = dict[str, Any]


@dataclass(slots=True)
class _Entry:
    namespace: str
    name: str
    uid: str
    status: Obj                 # the latest status the pod worker computed
    base: Obj                   # what the API holds, as far as we know (our last write, else the API's)
    deleting: bool = False
    terminated: bool = False
    deleted: bool = False


class StatusManager:
    def __init__(self, client: Client, *, clock: Clock = REAL, workers: int = 32) -> None:
        self.client = client
        self.clock = clock
        self.workers = workers
        self.queue = WorkQueue(clock=clock, name="pod-status",
                               limiter=RateLimiter(base=0.1, cap=10.0, qps=100.0, burst=1000, clock=clock))
        self._entries: dict[str, _Entry] = {}
        self._busy = 0
        self._quiet = asyncio.Event()
        self._quiet.set()
        self.writes = 0
        self.deletes = 0
        self.failures = 0

    def get(self, uid: str) -> Obj | None:
        """The latest status computed for ``uid`` (the basis of the next one: transition times, startTime)."""
        e = self._entries.get(uid)
        return e.status if e else None

    def set_pod_status(self, pod: Obj, status: Obj, *, terminated: bool = False) -> None:
        meta = pod.get("metadata") or {}
        uid = meta.get("uid", "")
        e = self._entries.get(uid)
        if e is None:
            e = self._entries[uid] = _Entry(meta.get("namespace", ""), meta.get("name", ""), uid, status,
                                            pod.get("status") or {})
        else:
            e.status = status
        e.deleting = is_being_deleted(pod)
        e.terminated = e.terminated or terminated
        if e.status != e.base or (e.terminated and e.deleting and not e.deleted):
            self._quiet.clear()
            self.queue.add(uid)

    def forget(self, uid: str) -> None:
        self._entries.pop(uid, None)
        self.queue.forget(uid)

    def __len__(self) -> int:
        return len(self._entries)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for i in range(self.workers):
                tg.create_task(self._worker(), name=f"pod-status-{i}")

    async def _worker(self) -> None:
        while (uid := await self.queue.get()) is not None:
            self._busy += 1
            try:
                await self._sync(str(uid))
                self.queue.forget(uid)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.failures += 1
                level = logging.WARNING if self.failures % 100 == 1 else logging.DEBUG
                log.log(level, "pod status write failed", extra={"pod_uid": uid, "error": repr(e),
                                                                 "failures": self.failures})
                self.queue.add_rate_limited(uid)
            finally:
                self._busy -= 1
                self.queue.done(uid)
                if not self._busy and not len(self.queue):
                    self._quiet.set()

    async def _sync(self, uid: str) -> None:
        e = self._entries.get(uid)
        if e is None:
            return
        status = e.status
        if status != e.base:
            body = {"metadata": {"uid": uid}, "status": status_patch(e.base, status)}
            try:
                await self.client.patch(PODS, e.name, body, e.namespace, patch_type="strategic",
                                        subresource="status")
                self.writes += 1
            except APIStatusError as err:
                if err.code == 404:
                    self._drop(e)
                    return
                if err.code in (400, 422):
                    # Invalid will not heal by retrying the same status; wait for the next change.
                    log.error("pod status rejected", extra={"pod": f"{e.namespace}/{e.name}",
                                                            "error": err.status.get("message", "")})
                    e.base = status
                    return
                raise
            e.base = status
        if e.terminated and e.deleting and not e.deleted:
            try:
                await self.client.delete(PODS, e.name, e.namespace, grace_period_seconds=0,
                                         preconditions={"uid": uid})
                self.deletes += 1
            except APIStatusError as err:
                if err.code not in (404, 409):
                    raise
            e.deleted = True

    def _drop(self, e: _Entry) -> None:
        if self._entries.get(e.uid) is e:
            del self._entries[e.uid]

    async def idle(self) -> None:
        """Wait until nothing is queued or being written (tests and orderly shutdown)."""
        await self._quiet.wait()
