"""OpenAPI v3 (per group-version) and v2 (Swagger) documents, built from the schema facts and the registry.

Clients read these for three things: kubectl decides that the server validates fields itself when the PATCH
operation of a kind's path declares a ``fieldValidation`` query parameter and carries that kind's
``x-kubernetes-group-version-kind`` (cli-runtime's query param verifier, v3 from 1.29, v2 protobuf before);
``kubectl explain`` walks ``components.schemas`` by ``x-kubernetes-group-version-kind``; and kubectl 1.27/1.28
parse every v2 definition (kube-openapi ``proto.NewOpenAPIData``), so every ``$ref`` must resolve and every array
must have ``items``.

The definitions are built in :mod:`~pybernetes.api.openapi_schemas` and the operations in
:mod:`~pybernetes.api.openapi_paths` (their public names are re-exported here); this module assembles the
documents served at ``/openapi/v3``, ``/openapi/v3/<path>`` and ``/openapi/v2`` (JSON and protobuf).

Documents depend on the registry (CRDs add kinds), so everything is cached per ``registry.generation``; the
per-message schemas, which do not, are cached for the life of the process and shared between documents. The
returned dicts are shared: callers must not mutate them.
"""

from __future__ import annotations

import functools
import hashlib
import weakref
from dataclasses import dataclass, field
from typing import Any

import orjson

from pybernetes.api.openapi_paths import (
    JSON,
    PROTOBUF,
    YAML,
    Param,
    _discovery_op,
    _group_ident,
    _gv_ops,
    _Op,
    _op_refs,
    _render_paths,
    operation_ident,
    options_params,
)
from pybernetes.api.openapi_schemas import (
    DELETE_OPTIONS,
    LIST_META,
    META,
    OBJECT_META,
    PATCH,
    RESOURCE_LIST,
    STATUS,
    WATCH_EVENT,
    _every_gv_messages,
    _gvk,
    _kind_name,
    _list_schema,
    _message_of,
    _opaque_schema,
    crd_schema,
    definition_name,
    message_schema,
    rest_friendly_name,
)
from pybernetes.api.resources import Registry, Resource
from pybernetes.api.schema import schema

__all__ = [
    "DELETE_OPTIONS", "JSON", "LIST_META", "META", "OBJECT_META", "PATCH", "PROTOBUF", "RESOURCE_LIST", "STATUS",
    "WATCH_EVENT", "YAML", "Param", "crd_schema", "definition_name", "message_schema", "operation_ident",
    "options_params", "rest_friendly_name", "v2_document", "v2_json", "v2_protobuf", "v3_document", "v3_etag",
    "v3_index", "v3_path_document",
]

_BEARER = {"BearerToken": {"description": "Bearer Token authentication", "in": "header", "name": "authorization",
                           "type": "apiKey"}}
_INFO = {"title": "Kubernetes", "version": "unversioned"}


# ------------------------------------------------------------------------------------------------ documents
@dataclass(slots=True)
class _Docs:
    """Everything built for one registry generation."""

    generation: int
    every_gv: list[dict[str, str]] = field(default_factory=list)
    v3: dict[str, tuple[dict[str, Any], bytes, str]] = field(default_factory=dict)          # path → doc, JSON, hash
    index: dict[str, Any] | None = None
    v2: dict[str, Any] | None = None
    v2_json: tuple[bytes, str] | None = None                                                 # JSON, hash
    v2_pb: bytes | None = None


_CACHE: weakref.WeakKeyDictionary[Registry, _Docs] = weakref.WeakKeyDictionary()


def _docs(registry: Registry) -> _Docs:
    d = _CACHE.get(registry)
    if d is None or d.generation != registry.generation:
        gvs = {(r.group, r.version) for r in registry if not r.custom} | {("", "v1")}
        d = _Docs(registry.generation, [_gvk(g, v, "") for g, v in sorted(gvs)])
        _CACHE[registry] = d
    return d


def _definitions(d: _Docs, resources: list[Resource], refs: set[str], v3: bool) -> dict[str, Any]:
    """Definitions for the kinds of ``resources`` plus every message reachable from them and from ``refs``."""
    defs: dict[str, Any] = {}
    by_name = _messages_by_name()
    stack = [by_name[n] for n in refs if n in by_name]
    for r in resources:
        if _message_of(r) is None:
            defs[_kind_name(r)] = crd_schema(r, v3) if r.custom else _opaque_schema(r, v3)
            defs[_kind_name(r, True)] = _list_schema(r, v3)
            stack += [OBJECT_META, LIST_META]
        else:
            stack += [m for m in (_message_of(r), _message_of(r, True)) if m]
    every = _every_gv_messages()
    seen: set[str] = set()
    while stack:
        m = stack.pop()
        if m in seen:
            continue
        seen.add(m)
        s, deps = message_schema(m, v3)
        if m in every:
            s = {**s, "x-kubernetes-group-version-kind": [{**g, "kind": m.rpartition(".")[2]} for g in d.every_gv]}
        defs[definition_name(m)] = s
        stack.extend(deps)
    return dict(sorted(defs.items()))


@functools.cache
def _messages_by_name() -> dict[str, str]:
    return {definition_name(m): m for m in schema().messages}


def _document_v3(d: _Docs, registry: Registry, path: str) -> dict[str, Any] | None:
    parts = path.strip("/").split("/")
    groups = dict(registry.groups())
    if parts == ["api"] and "" in groups:
        ops = [_discovery_op("/api/", "getCoreAPIVersions", "core", META + "APIVersions")]
    elif parts == ["apis"]:
        ops = [_discovery_op("/apis/", "getAPIVersions", "apis", META + "APIGroupList")]
    elif len(parts) == 2 and parts[0] == "apis" and parts[1] in groups and parts[1]:
        g = parts[1]
        ops = [_discovery_op(f"/apis/{g}/", f"get{_group_ident(g, True)}APIGroup", _group_ident(g, False),
                             META + "APIGroup")]
    else:
        if parts[:1] == ["api"] and len(parts) == 2:
            group, version = "", parts[1]
        elif parts[:1] == ["apis"] and len(parts) == 3:
            group, version = parts[1], parts[2]
        else:
            return None
        if version not in groups.get(group, ()) or (group == "" and parts[0] != "api"):
            return None
        ops, resources = _gv_ops(registry, group, version)
        return _v3_shell(_definitions(d, resources, _op_refs(ops), True), _render_paths(ops, True))
    return _v3_shell(_definitions(d, [], _op_refs(ops), True), _render_paths(ops, True))


def _v3_shell(defs: dict[str, Any], paths: dict[str, Any]) -> dict[str, Any]:
    return {"openapi": "3.0.0", "info": _INFO, "paths": paths,
            "components": {"schemas": defs, "securitySchemes": _BEARER}}


def _doc_paths(registry: Registry) -> list[str]:
    out = []
    for group, versions in registry.groups():
        if group:
            out.append(f"apis/{group}")
            out += [f"apis/{group}/{v}" for v in versions]
        else:
            out += ["api", *(f"api/{v}" for v in versions)]
    return out


def v3_path_document(registry: Registry, path: str) -> tuple[dict[str, Any], bytes, str] | None:
    """The v3 document served at ``/openapi/v3/<path>`` (``api``, ``api/v1``, ``apis``, ``apis/apps``,
    ``apis/apps/v1``), its JSON bytes and content hash; None when nothing is served there."""
    d = _docs(registry)
    path = path.strip("/")
    got = d.v3.get(path)
    if got is None:
        doc = _document_v3(d, registry, path)
        if doc is None:
            return None                                 # not cached: clients could name endless unknown paths
        body = orjson.dumps(doc)
        got = d.v3[path] = (doc, body, _hash(body))
    return got


def _hash(body: bytes) -> str:
    """Upstream's ETag: upper-case hex SHA-512 of the serialized document."""
    return hashlib.sha512(body).hexdigest().upper()


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def v3_document(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    """The OpenAPI 3.0 document of one group-version (None: not served)."""
    got = v3_path_document(registry, _gv_path(group, version))
    return got[0] if got else None


def v3_etag(registry: Registry, group: str, version: str) -> str:
    """Content hash of a group-version's document (the ``hash`` in the index); '' when not served."""
    got = v3_path_document(registry, _gv_path(group, version))
    return got[2] if got else ""


def v3_index(registry: Registry) -> dict[str, Any]:
    """``/openapi/v3``: every document path with a ``serverRelativeURL`` whose hash changes with its content."""
    d = _docs(registry)
    if d.index is None:
        paths = {}
        for p in ["apis", *_doc_paths(registry)]:
            got = v3_path_document(registry, p)
            if got is not None:
                paths[p] = {"serverRelativeURL": f"/openapi/v3/{p}?hash={got[2]}"}
        d.index = {"paths": dict(sorted(paths.items()))}
    return d.index


def v2_document(registry: Registry) -> dict[str, Any]:
    """``/openapi/v2``: one Swagger 2.0 document for every served group-version."""
    d = _docs(registry)
    if d.v2 is None:
        ops: list[_Op] = [_discovery_op("/api/", "getCoreAPIVersions", "core", META + "APIVersions"),
                          _discovery_op("/apis/", "getAPIVersions", "apis", META + "APIGroupList")]
        resources: list[Resource] = []
        for group, versions in registry.groups():
            if group:
                ops.append(_discovery_op(f"/apis/{group}/", f"get{_group_ident(group, True)}APIGroup",
                                         _group_ident(group, False), META + "APIGroup"))
            for version in versions:
                gv_ops, gv_res = _gv_ops(registry, group, version)
                ops += gv_ops
                resources += gv_res
        d.v2 = {"swagger": "2.0", "info": _INFO, "paths": _render_paths(ops, False),
                "definitions": _definitions(d, resources, _op_refs(ops), False),
                "securityDefinitions": _BEARER, "security": [{"BearerToken": []}]}
    return d.v2


def v2_json(registry: Registry) -> tuple[bytes, str]:
    """The v2 document's JSON bytes and their content hash (for ``ETag``)."""
    d = _docs(registry)
    if d.v2_json is None:
        body = orjson.dumps(v2_document(registry))
        d.v2_json = (body, _hash(body))
    return d.v2_json


def v2_protobuf(registry: Registry) -> bytes:
    """``/openapi/v2`` as the gnostic ``openapi.v2.Document`` message (Accept ``application/com.github.proto-
    openapi.spec.v2@v1.0+protobuf``), which kubectl 1.27/1.28 request."""
    from pybernetes.api.openapi_v2pb import encode_document

    d = _docs(registry)
    if d.v2_pb is None:
        d.v2_pb = encode_document(v2_document(registry))
    return d.v2_pb
