"""OpenAPI operations and path items: what the apiserver's installer publishes for each resource.

Operations, operation ids, tags and parameters follow the apiserver's installer (``list``/``watch``/``read``/
``create``/``replace``/``patch``/``delete``/``connect``, custom resources as the CRD handler's builder has them),
and parameters that every operation of a path shares move to the path item. kubectl reads these to decide that
the server validates fields itself: the PATCH operation of a kind's path must declare a ``fieldValidation`` query
parameter and carry that kind's ``x-kubernetes-group-version-kind``.

Operations are collected as small frozen records first, then rendered for v3 or v2; definitions they refer to are
named by :mod:`~pybernetes.api.openapi_schemas`. The underscored names are shared with :mod:`~pybernetes.api.openapi`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pybernetes.api.openapi_schemas import (
    _SCALAR,
    DELETE_OPTIONS,
    META,
    PATCH,
    RESOURCE_LIST,
    STATUS,
    WATCH_EVENT,
    _gvk,
    _kind_name,
    _ref,
    definition_name,
)
from pybernetes.api.resources import Registry, Resource, Subresource
from pybernetes.api.schema import schema

JSON, YAML, PROTOBUF = "application/json", "application/yaml", "application/vnd.kubernetes.protobuf"
_PRODUCES = (JSON, PROTOBUF, YAML)
_PRODUCES_LIST = (JSON, JSON + ";stream=watch", PROTOBUF, PROTOBUF + ";stream=watch", YAML)
_PRODUCES_CUSTOM = (JSON, YAML)
_PATCH_TYPES = ("application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
                "application/strategic-merge-patch+json")
_PATCH_TYPES_CUSTOM = _PATCH_TYPES[:3]                      # no strategic merge patch for custom resources
_CODES = {"200": "OK", "201": "Created", "202": "Accepted"}
# Connect subresources: their operations carry the options kind (pods/exec → v1 PodExecOptions).
_CONNECT = {"attach": "PodAttachOptions", "exec": "PodExecOptions", "portforward": "PodPortForwardOptions",
            "proxy": "ProxyOptions"}
_METHOD = {"get": "get", "create": "post", "update": "put", "patch": "patch", "delete": "delete"}


def operation_ident(s: str, capitalize: bool) -> str:
    """Upstream's ``ToValidOperationID``: keep letters, '_' and non-leading digits; capitalize after a cut."""
    out, cap = [], capitalize
    for i, ch in enumerate(s):
        if ch.isalpha() or ch == "_" or (i and ch.isdigit()):
            out.append(ch.upper() if cap else ch)
            cap = False
        else:
            cap = True
    return "".join(out)


def _group_ident(group: str, capitalize: bool) -> str:
    return operation_ident(group.removesuffix(".k8s.io") if group else "core", capitalize)


# ------------------------------------------------------------------------------------------------ operations
Param = tuple[str, str, str]                                  # (name, in: "path"|"query", JSON type)


@dataclass(frozen=True, slots=True)
class _Op:
    path: str
    method: str
    op_id: str
    action: str
    gvk: tuple[str, str, str]
    tag: str
    params: tuple[Param, ...]
    responses: tuple[str, ...]                                  # status codes answered with ``result``
    result: str | None                                          # definition name; None → a string body
    body: str | None = None                                     # request body definition name
    body_required: bool = True
    produces: tuple[str, ...] = _PRODUCES
    consumes: tuple[str, ...] = ("*/*",)


@functools.cache
def options_params(message: str, exclude: frozenset[str] = frozenset()) -> tuple[Param, ...]:
    """Query parameters of an options kind, as upstream's ``AddObjectParams``: every field except structs."""
    out = []
    for key, f in schema().properties(META + message if "." not in message else message).items():
        if f.number == 0 or key in exclude or f.map_key is not None:
            continue
        sub = schema().messages.get(f.type)
        if sub is not None and sub.special not in ("rfc3339", "rfc3339micro"):
            continue
        typ = "string" if sub is not None else _SCALAR[f.type][0]
        out.append((key, "query", typ))
    return tuple(out)


_PATH_NS: Param = ("namespace", "path", "string")
_PATH_NAME: Param = ("name", "path", "string")
_PRETTY: Param = ("pretty", "query", "string")


def _resource_ops(r: Resource) -> list[_Op]:
    """Every operation the apiserver installs for a resource and its subresources (custom: the CRD builder's)."""
    base = f"/apis/{r.group}/{r.version}" if r.group else f"/api/{r.version}"
    ns, kind, plural, custom = r.namespaced, r.kind, r.plural, r.custom
    n = "Namespaced" if ns else ""
    coll = f"{base}/namespaces/{{namespace}}/{plural}" if ns else f"{base}/{plural}"
    wcoll = f"{base}/watch/namespaces/{{namespace}}/{plural}" if ns else f"{base}/watch/{plural}"
    gv_ident = _group_ident(r.group, True) + operation_ident(r.version, True)
    tag = f"{_group_ident(r.group, False)}_{operation_ident(r.version, False)}"
    gvk = (r.group, r.version, r.kind)
    obj, lst = _kind_name(r), _kind_name(r, True)
    coll_p = (_PATH_NS, _PRETTY) if ns else (_PRETTY,)
    item_p = (_PATH_NAME, *coll_p)
    list_p = options_params("ListOptions")
    produces = _PRODUCES_CUSTOM if custom else _PRODUCES
    consumes = (JSON, YAML) if custom else ("*/*",)
    patch_types = _PATCH_TYPES_CUSTOM if custom else _PATCH_TYPES
    ops: list[_Op] = []

    def op(path: str, method: str, verb: str, rest: str, action: str, params: tuple[Param, ...], codes: tuple[str, ...],
           result: str | None, **kw: Any) -> None:
        ops.append(_Op(path, method, verb + gv_ident + operation_ident(rest, True), action, kw.pop("gvk", gvk), tag,
                       params, codes, result, **{"produces": produces, "consumes": consumes, **kw}))

    verbs = set(r.verbs)
    if "list" in verbs:
        if ns:
            op(f"{base}/{plural}", "get", "list", f"{kind}ForAllNamespaces", "list", (_PRETTY, *list_p), ("200",), lst,
               produces=_PRODUCES_CUSTOM if custom else _PRODUCES_LIST)
        op(coll, "get", "list", n + kind, "list", (*coll_p, *list_p), ("200",), lst,
           produces=_PRODUCES_CUSTOM if custom else _PRODUCES_LIST)
    if "watch" in verbs and not custom:
        watch_p = (_PRETTY, *list_p)
        if ns:
            op(f"{base}/watch/{plural}", "get", "watch", f"{kind}ListForAllNamespaces", "watchlist", watch_p, ("200",),
               definition_name(WATCH_EVENT), produces=_PRODUCES_LIST)
        op(wcoll, "get", "watch", f"{n}{kind}List", "watchlist", (*coll_p, *list_p), ("200",),
           definition_name(WATCH_EVENT), produces=_PRODUCES_LIST)
        op(f"{wcoll}/{{name}}", "get", "watch", n + kind, "watch", (*item_p, *list_p), ("200",),
           definition_name(WATCH_EVENT), produces=_PRODUCES_LIST)
    if "create" in verbs:
        op(coll, "post", "create", n + kind, "post", (*coll_p, *options_params("CreateOptions")), ("200", "201", "202"),
           obj, body=obj)
    if "deletecollection" in verbs:
        params = (*coll_p, *options_params("DeleteOptions"),
                  *options_params("ListOptions", frozenset({"watch", "allowWatchBookmarks"})))
        op(coll, "delete", "delete", f"Collection{n}{kind}", "deletecollection", params, ("200",),
           definition_name(STATUS), body=definition_name(DELETE_OPTIONS), body_required=False)
    item = f"{coll}/{{name}}"
    _object_ops(op, item, n + kind, obj, item_p, verbs, patch_types, with_delete=True)
    for sub in r.subresources:
        _subresource_ops(op, r, sub, f"{item}/{sub.name}", n + kind, item_p, patch_types)
    return ops


_OpFn = Callable[..., None]


def _object_ops(op: _OpFn, path: str, name: str, obj: str, params: tuple[Param, ...], verbs: set[str],
                patch_types: tuple[str, ...], *, with_delete: bool, **kw: Any) -> None:
    if "get" in verbs:
        op(path, "get", "read", name, "get", params, ("200",), obj, **kw)
    if "update" in verbs:
        op(path, "put", "replace", name, "put", (*params, *options_params("UpdateOptions")), ("200", "201"), obj,
           body=obj, **kw)
    if "patch" in verbs:
        op(path, "patch", "patch", name, "patch", (*params, *options_params("PatchOptions")), ("200", "201"), obj,
           body=definition_name(PATCH), consumes=patch_types, **kw)
    if "delete" in verbs and with_delete:
        op(path, "delete", "delete", name, "delete", (*params, *options_params("DeleteOptions")), ("200", "202"),
           definition_name(STATUS), body=definition_name(DELETE_OPTIONS), body_required=False, **kw)
    if "create" in verbs and not with_delete:
        op(path, "post", "create", name, "post", (*params, *options_params("CreateOptions")), ("200", "201", "202"),
           obj, body=obj, **kw)


def _subresource_ops(op: _OpFn, r: Resource, sub: Subresource, path: str, name: str, params: tuple[Param, ...],
                     patch_types: tuple[str, ...]) -> None:
    title = sub.name[:1].upper() + sub.name[1:]
    if sub.name in _CONNECT and not r.group:
        opts = _CONNECT[sub.name] if sub.name != "proxy" else r.kind + "ProxyOptions"
        gvk, qp = ("", "v1", opts), options_params(f"k8s.io.api.core.v1.{opts}")
        methods = [_METHOD[v] for v in sub.verbs if v in _METHOD] + (["head", "options"] if sub.name == "proxy" else [])
        for method in methods:
            verb_name = method[:1].upper() + method[1:]
            op(path, method, "connect", f"{verb_name}{name}{title}", "connect", (*params, *qp), ("200",), None,
               gvk=gvk, produces=("*/*",), consumes=("*/*",))
            if sub.name == "proxy":
                op(f"{path}/{{path}}", method, "connect", f"{verb_name}{name}{title}WithPath", "connect",
                   (*params, ("path", "path", "string"), *qp), ("200",), None, gvk=gvk, produces=("*/*",),
                   consumes=("*/*",))
        return
    if sub.name == "log" and not r.group:
        op(path, "get", "read", name + title, "get", (*params, *options_params("k8s.io.api.core.v1.PodLogOptions")),
           ("200",), None, produces=("text/plain", JSON, YAML, PROTOBUF))
        return
    group, version, kind = (sub.group, sub.version, sub.kind) if sub.kind else (r.group, r.version, r.kind)
    if sub.name == "binding" and not sub.kind:
        group, version, kind = "", "v1", "Binding"
    if sub.name == "scale" and not sub.kind:
        group, version, kind = "autoscaling", "v1", "Scale"
    msg = schema().kinds.get(f"{group}/{version}/{kind}" if group else f"{version}/{kind}")
    obj = definition_name(msg) if msg else _kind_name(r)
    _object_ops(op, path, name + title, obj, params, set(sub.verbs), patch_types, with_delete=False,
                gvk=(group, version, kind))


def _discovery_op(path: str, op_id: str, tag: str, message: str) -> _Op:
    """The discovery endpoints (``/api/``, ``/apis/``, ``/apis/G/``, ``/apis/G/V/``): no action, no kind."""
    return _Op(path, "get", op_id, "", ("", "", ""), tag, (), ("200",), definition_name(message))


# --------------------------------------------------------------------------------------------------- render
def _param(p: Param, v3: bool) -> dict[str, Any]:
    name, where, typ = p
    if v3:
        out: dict[str, Any] = {"in": where, "name": name, "schema": {"type": typ, "uniqueItems": True}}
    else:
        out = {"in": where, "name": name, "type": typ, "uniqueItems": True}
    if where == "path":
        out["required"] = True
    return out


def _render_op(o: _Op, params: list[Param], v3: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"$ref": _ref(o.result, v3)} if o.result else {"type": "string"}
    out: dict[str, Any] = {"operationId": o.op_id}
    rendered = [_param(p, v3) for p in params]
    if v3:
        content = {mt: {"schema": result} for mt in o.produces}
        out["responses"] = {**{c: {"content": content, "description": _CODES[c]} for c in o.responses},
                            "401": {"description": "Unauthorized"}}
        if o.body:
            body: dict[str, Any] = {"content": {mt: {"schema": {"$ref": _ref(o.body, v3)}} for mt in o.consumes}}
            if o.body_required:
                body["required"] = True
            out["requestBody"] = body
    else:
        out.update(consumes=list(o.consumes), produces=list(o.produces), schemes=["https"])
        if o.body:
            rendered.append({"in": "body", "name": "body", "required": o.body_required,
                             "schema": {"$ref": _ref(o.body, v3)}})
            rendered.sort(key=lambda p: p["name"])
        out["responses"] = {**{c: {"description": _CODES[c], "schema": result} for c in o.responses},
                            "401": {"description": "Unauthorized"}}
    if rendered:
        out["parameters"] = rendered
    out["tags"] = [o.tag]
    if o.action:
        out["x-kubernetes-action"] = o.action
        out["x-kubernetes-group-version-kind"] = _gvk(*o.gvk)
    return out


def _render_paths(ops: list[_Op], v3: bool) -> dict[str, Any]:
    """Path items; parameters shared by every operation of a path move to the path item (sorted, as upstream)."""
    by_path: dict[str, list[_Op]] = {}
    for o in ops:
        by_path.setdefault(o.path, []).append(o)
    paths: dict[str, Any] = {}
    for path in sorted(by_path):
        group = by_path[path]
        common = set(group[0].params).intersection(*(o.params for o in group[1:]))
        item: dict[str, Any] = {}
        for o in group:
            item[o.method] = _render_op(o, sorted((p for p in o.params if p not in common), key=_pkey), v3)
        if common:
            item["parameters"] = [_param(p, v3) for p in sorted(common, key=_pkey)]
        paths[path] = item
    return paths


def _pkey(p: Param) -> tuple[str, str]:
    return p[0], p[1]


def _op_refs(ops: list[_Op]) -> set[str]:
    return {n for o in ops for n in (o.result, o.body) if n}


def _gv_ops(registry: Registry, group: str, version: str) -> tuple[list[_Op], list[Resource]]:
    resources = registry.in_group_version(group, version)
    ident = _group_ident(group, True) + operation_ident(version, True)
    tag = f"{_group_ident(group, False)}_{operation_ident(version, False)}"
    base = f"/apis/{group}/{version}/" if group else f"/api/{version}/"
    ops = [_discovery_op(base, f"get{ident}APIResources", tag, RESOURCE_LIST)]
    for r in resources:
        ops += _resource_ops(r)
    return ops, resources
