"""In-memory stand-ins for the kubelet's collaborators: an API with the verbs the agent uses (strategic merge via
the project's own implementation, so patches are checked for what they really do) and an event sink."""

from __future__ import annotations

import copy
import itertools
import uuid
from typing import Any

from pybernetes.api.patch import mergepatch, strategic
from pybernetes.api.typeinfo import of_kind
from pybernetes.client.resources import ResourceRef
from pybernetes.client.rest import APIStatusError

Obj = dict[str, Any]


def status_error(code: int, reason: str, message: str = "") -> APIStatusError:
    return APIStatusError(code, {"kind": "Status", "status": "Failure", "reason": reason, "message": message,
                                 "code": code})


class FakeAPI:
    """Objects keyed by (plural, namespace, name); every call is recorded in ``calls`` as (verb, plural, name,
    subresource). ``fail`` maps (verb, plural) to a list of errors raised by the next calls."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.calls: list[tuple[str, str, str, str]] = []
        self.bodies: list[Any] = []
        self.fail: dict[tuple[str, str], list[APIStatusError]] = {}
        self._rv = itertools.count(1)

    def _maybe_fail(self, verb: str, res: ResourceRef) -> None:
        errs = self.fail.get((verb, res.plural))
        if errs:
            raise errs.pop(0)

    def _key(self, res: ResourceRef, name: str, namespace: str | None) -> tuple[str, str, str]:
        return (res.plural, (namespace or "") if res.namespaced else "", name)

    def _stamp(self, obj: Obj) -> Obj:
        obj.setdefault("metadata", {})["resourceVersion"] = str(next(self._rv))
        return copy.deepcopy(obj)

    def put(self, res: ResourceRef, obj: Obj) -> Obj:
        """Store an object as if someone else created it."""
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        self.objects[self._key(res, meta["name"], meta.get("namespace"))] = obj
        return self._stamp(obj)

    def stored(self, res: ResourceRef, name: str, namespace: str | None = None) -> Obj | None:
        return self.objects.get(self._key(res, name, namespace))

    def count(self, verb: str, plural: str, subresource: str = "") -> int:
        return sum(1 for c in self.calls if c[0] == verb and c[1] == plural and c[3] == subresource)

    async def get(self, res: ResourceRef, name: str, namespace: str | None = None, *,
                  subresource: str | None = None) -> Obj:
        self.calls.append(("get", res.plural, name, subresource or ""))
        self._maybe_fail("get", res)
        obj = self.objects.get(self._key(res, name, namespace))
        if obj is None:
            raise status_error(404, "NotFound", f'{res.plural} "{name}" not found')
        return copy.deepcopy(obj)

    async def create(self, res: ResourceRef, obj: Obj, namespace: str | None = None, **_: Any) -> Obj:
        meta = obj.get("metadata") or {}
        self.calls.append(("create", res.plural, meta.get("name", ""), ""))
        self.bodies.append(copy.deepcopy(obj))
        self._maybe_fail("create", res)
        key = self._key(res, meta["name"], namespace or meta.get("namespace"))
        if key in self.objects:
            raise status_error(409, "AlreadyExists", f'{res.plural} "{meta["name"]}" already exists')
        obj = copy.deepcopy(obj)
        obj["metadata"]["uid"] = str(uuid.uuid4())
        self.objects[key] = obj
        return self._stamp(obj)

    async def update(self, res: ResourceRef, obj: Obj, *, subresource: str | None = None, **_: Any) -> Obj:
        meta = obj["metadata"]
        self.calls.append(("update", res.plural, meta["name"], subresource or ""))
        self.bodies.append(copy.deepcopy(obj))
        self._maybe_fail("update", res)
        key = self._key(res, meta["name"], meta.get("namespace"))
        cur = self.objects.get(key)
        if cur is None:
            raise status_error(404, "NotFound")
        if meta.get("resourceVersion") and meta["resourceVersion"] != cur["metadata"]["resourceVersion"]:
            raise status_error(409, "Conflict", "the object has been modified")
        new = copy.deepcopy(obj)
        new["metadata"]["uid"] = cur["metadata"]["uid"]
        self.objects[key] = new
        return self._stamp(new)

    async def patch(self, res: ResourceRef, name: str, patch: Any, namespace: str | None = None, *,
                    patch_type: str = "merge", subresource: str | None = None, **_: Any) -> Obj:
        self.calls.append(("patch", res.plural, name, subresource or ""))
        self.bodies.append(copy.deepcopy(patch))
        self._maybe_fail("patch", res)
        key = self._key(res, name, namespace)
        cur = self.objects.get(key)
        if cur is None:
            raise status_error(404, "NotFound", f'{res.plural} "{name}" not found')
        uid = (patch.get("metadata") or {}).get("uid")
        if uid and uid != cur["metadata"]["uid"]:
            raise status_error(422, "Invalid", "metadata.uid: field is immutable")
        if patch_type == "strategic":
            ti = of_kind(res.api_version, res.kind)
            assert ti is not None
            new = strategic.apply(copy.deepcopy(cur), copy.deepcopy(patch), ti)
        else:
            new = mergepatch.apply(copy.deepcopy(cur), copy.deepcopy(patch))
        self.objects[key] = new
        return self._stamp(new)

    async def delete(self, res: ResourceRef, name: str, namespace: str | None = None, *,
                     grace_period_seconds: int | None = None, preconditions: dict[str, str] | None = None,
                     **_: Any) -> Obj:
        self.calls.append(("delete", res.plural, name, ""))
        self.bodies.append({"gracePeriodSeconds": grace_period_seconds, "preconditions": preconditions})
        self._maybe_fail("delete", res)
        key = self._key(res, name, namespace)
        cur = self.objects.get(key)
        if cur is None:
            raise status_error(404, "NotFound")
        if preconditions and preconditions.get("uid") not in (None, cur["metadata"]["uid"]):
            raise status_error(409, "Conflict", "Precondition failed: UID in precondition")
        del self.objects[key]
        return copy.deepcopy(cur)

    async def close(self) -> None:
        pass


class Events:
    """An event sink recording (reason, message, field_path) in order; also a NodeView for pod workers."""

    def __init__(self, name: str = "node-a", ip: str = "198.18.0.1", cidr: str = "10.42.0.0/24") -> None:
        self.events: list[tuple[str, str, str, str]] = []
        self._name, self._ip, self.cidr = name, ip, cidr

    @property
    def name(self) -> str:
        return self._name

    @property
    def host_ips(self) -> tuple[str, ...]:
        return (self._ip,)

    def pod_cidr_for_pods(self) -> str:
        return self.cidr

    def event(self, obj: Obj, type_: str, reason: str, message: str, *, field_path: str = "") -> None:
        self.events.append((type_, reason, message, field_path))

    def reasons(self) -> list[str]:
        return [e[1] for e in self.events]
