"""The kubelet's event recorder: one for every node of the agent (``source.host`` is set per event to the node's
name), writing through a client of its own so an event storm never delays heartbeats or pod statuses."""

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
        self._recorder = EventRecorder(client, component=component, clock=clock) if client is not None else None
        self._hosts: set[str] = set()

    def event(self, host: str, obj: Obj, type_: str, reason: str, message: str, *, field_path: str = "") -> None:
        if self._recorder is not None:
            self._hosts.add(host)
            self._recorder.event(reference(obj), type_, reason, message, field_path=field_path, host=host)

    def __len__(self) -> int:
        """How many nodes have recorded events."""
        return len(self._hosts)

    async def close(self) -> None:
        if self._recorder is not None:
            await self._recorder.close()
        self._hosts.clear()
