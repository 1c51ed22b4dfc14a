"""Legacy discovery: /api, /apis, /apis/{group}, /api/v1 and /apis/{group}/{version}.

Every client understands these. Aggregated discovery (``as=APIGroupDiscoveryList``) is not offered: we answer
such requests with the legacy documents and a plain ``application/json`` Content-Type, from which kubectl
(every version) falls back to legacy discovery, as CLIENTS.md describes. Documents are cached per registry
generation, since CRDs change them.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson

from pybernetes.api.resources import Registry, Resource

Obj = dict[str, Any]


def storage_version_hash(group: str, version: str, kind: str) -> str:
    digest = hashlib.sha256(f"{group}/{version}/{kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def api_versions(address: str) -> Obj:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]}


def _group(reg: Registry, group: str, versions: list[str]) -> Obj:
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}


def api_group_list(reg: Registry) -> Obj:
    groups = [_group(reg, g, vs) for g, vs in reg.groups() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(reg: Registry, group: str) -> Obj | None:
    for g, vs in reg.groups():
        if g == group and g:
            return {"kind": "APIGroup", "apiVersion": "v1", **_group(reg, g, vs)}
    return None


def _resource_entry(r: Resource) -> Obj:
    e: Obj = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
              "verbs": list(r.verbs)}
    if r.short_names:
        e["shortNames"] = list(r.short_names)
    if r.categories:
        e["categories"] = list(r.categories)
    sv_group, _, sv_version = r.storage_version.rpartition("/")
    if r.verbs != ("create",):
        e["storageVersionHash"] = storage_version_hash(sv_group, sv_version, r.kind)
    return e


def _sub_entry(r: Resource, sub: Any) -> Obj:
    e: Obj = {"name": f"{r.plural}/{sub.name}", "singularName": "", "namespaced": r.namespaced}
    if sub.kind:
        e["group"], e["version"], e["kind"] = sub.group or "", sub.version or "", sub.kind
    else:
        e["kind"] = r.kind
    e["verbs"] = list(sub.verbs)
    return e


def api_resource_list(reg: Registry, group: str, version: str) -> Obj | None:
    rs = reg.in_group_version(group, version)
    if not rs:
        return None
    entries: list[Obj] = []
    for r in rs:
        entries.append(_resource_entry(r))
        for sub in sorted(r.subresources, key=lambda s: s.name):
            entries.append(_sub_entry(r, sub))
    gv = f"{group}/{version}" if group else version
    out: Obj = {"kind": "APIResourceList", "groupVersion": gv, "resources": entries}
    if group:
        out = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": entries}
    return out


class DiscoveryCache:
    """Encoded discovery documents, rebuilt when the registry changes."""

    def __init__(self, reg: Registry) -> None:
        self.reg = reg
        self._gen = -1
        self._docs: dict[str, bytes | None] = {}

    def get(self, key: str, build: Any) -> bytes | None:
        if self._gen != self.reg.generation:
            self._docs.clear()
            self._gen = self.reg.generation
        if key not in self._docs:
            doc = build()
            self._docs[key] = orjson.dumps(doc) if doc is not None else None
        return self._docs[key]
