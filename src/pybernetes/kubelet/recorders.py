"""Event recorders for the kubelet: one per node (``source.host`` is the node's name), created the first time a
node has something to say, all writing through one client of their own so an event storm never delays
heartbeats or pod statuses."""

from __future__ import annotations

from typing import Any

from pybernetes.client.clock import REAL, Clock
from pybernetes.client.events import EventRecorder
from pybernetes.client.rest import Client

Obj = dict[str, Any]
COMPONENT = "kubelet"


def node_ref(name: str) -> Obj:
    """The object events about a node point at: upstream's kubelet uses the node name as its UID here."""
    return {"kind": "Node", "apiVersion": "v1", "metadata": {"name": name, "uid": name}}


def reference(obj: Obj) -> Obj:
    """What an event needs of its object, taken now: a queued event must not keep a whole pod alive (30,000 queued
    events of 10,000 starting pods would hold every version of every pod)."""
    meta = obj.get("metadata") or {}
    return {"kind": obj.get("kind") or "Pod", "apiVersion": obj.get("apiVersion") or "v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion") if k in meta}}


class Recorders:
    def __init__(self, client: Client | None, *, clock: Clock = REAL, component: str = COMPONENT) -> None:
        self.client = client
        self.clock = clock
        self.component = component
        self._by_host: dict[str, EventRecorder] = {}

    def for_host(self, host: str) -> EventRecorder | None:
        if self.client is None:
            return None
        rec = self._by_host.get(host)
        if rec is None:
            rec = self._by_host[host] = EventRecorder(self.client, component=self.component, host=host,
                                                      clock=self.clock)
        return rec

    def event(self, host: str, obj: Obj, type_: str, reason: str, message: str, *, field_path: str = "") -> None:
        rec = self.for_host(host)
        if rec is not None:
            rec.event(reference(obj), type_, reason, message, field_path=field_path)

    def __len__(self) -> int:
        return len(self._by_host)

    async def close(self) -> None:
        for rec in self._by_host.values():
            await rec.close()
        self._by_host.clear()
