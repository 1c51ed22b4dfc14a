"""DefaultBinder: bind through ``POST pods/<name>/binding`` (upstream ``plugins/defaultbinder``).

The Binding carries the pod's UID, so a pod deleted and recreated under the same name meanwhile is not bound
by mistake; the API server refuses pods already bound or being deleted (409), which ends the attempt.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pybernetes.client.resources import PODS
from pybernetes.client.rest import APIStatusError
from pybernetes.scheduler.framework import BindPlugin, CycleState, Status, as_error

Obj = dict[str, Any]
NAME = "DefaultBinder"


def binding_for(pod: Obj, node_name: str) -> Obj:
    meta = pod.get("metadata") or {}
    bmeta = {"name": meta.get("name", ""), "namespace": meta.get("namespace", "")}
    if meta.get("uid"):
        bmeta["uid"] = meta["uid"]
    return {"apiVersion": "v1", "kind": "Binding", "metadata": bmeta, "target": {"kind": "Node", "name": node_name}}


class DefaultBinder:
    name: ClassVar[str] = NAME

    def __init__(self, client: Any = None) -> None:
        self.client = client

    async def bind(self, state: CycleState, pod: Obj, node_name: str) -> Status | None:
        meta = pod.get("metadata") or {}
        try:
            await self.client.create(PODS, binding_for(pod, node_name), meta.get("namespace"),
                                     subresource="binding", name=meta.get("name"))
        except APIStatusError as e:
            return as_error(str(e.status.get("message") or e))
        return None


def new(args: dict[str, Any], handle: Any) -> DefaultBinder:
    return DefaultBinder(getattr(handle, "client", None))


_: BindPlugin = DefaultBinder()
