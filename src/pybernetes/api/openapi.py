"""OpenAPI v3 (per group-version) and v2 (Swagger) documents, built from the schema facts and the registry.

Clients read these for three things: kubectl decides that the server validates fields itself when the PATCH
operation of a kind's path declares a ``fieldValidation`` query parameter and carries that kind's
``x-kubernetes-group-version-kind`` (cli-runtime's query param verifier, v3 from 1.29, v2 protobuf before);
``kubectl explain`` walks ``components.schemas`` by ``x-kubernetes-group-version-kind``; and kubectl 1.27/1.28
parse every v2 definition (kube-openapi ``proto.NewOpenAPIData``), so every ``$ref`` must resolve and every array
must have ``items``.

The shapes copy upstream's generators, without descriptions (the facts have none):

- definition names are the Go package path with its domain reversed (``k8s.io/api/apps/v1`` →
  ``io.k8s.api.apps.v1.Deployment``); CRD kinds use the reversed group (``com.example.stable.v1.CronTab``);
- a property is ``required`` when it is neither ``omitempty`` nor marked optional (kube-openapi's rule, which
  ignores the declarative-validation ``+k8s:required`` markers);
- v3 gives value structs ``default: {}`` and non-``omitempty`` scalars their zero value, and wraps a ``$ref``
  that has siblings in ``allOf`` (OpenAPI 3.0 ignores ``$ref`` siblings); v2 has no defaults and plain ``$ref``;
- operations, operation ids, tags and parameters follow the apiserver's installer (``list``/``watch``/``read``/
  ``create``/``replace``/``patch``/``delete``/``connect``), and parameters that every operation of a path shares
  move to the path item.

Documents depend on the registry (CRDs add kinds), so everything is cached per ``registry.generation``; the
per-message schemas, which do not, are cached for the life of the process and shared between documents. The
returned dicts are shared: callers must not mutate them.
"""

from __future__ import annotations

import functools
import hashlib
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from pybernetes.api.resources import Registry, Resource, Subresource
from pybernetes.api.schema import SCALARS, Field, schema

META = "k8s.io.apimachinery.pkg.apis.meta.v1."
OBJECT_META, LIST_META = META + "ObjectMeta", META + "ListMeta"
STATUS, PATCH, RESOURCE_LIST = META + "Status", META + "Patch", META + "APIResourceList"
DELETE_OPTIONS, WATCH_EVENT = META + "DeleteOptions", META + "WatchEvent"

JSON, YAML, PROTOBUF = "application/json", "application/yaml", "application/vnd.kubernetes.protobuf"
_PRODUCES = (JSON, PROTOBUF, YAML)
_PRODUCES_LIST = (JSON, JSON + ";stream=watch", PROTOBUF, PROTOBUF + ";stream=watch", YAML)
_PRODUCES_CUSTOM = (JSON, YAML)
_PATCH_TYPES = ("application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
                "application/strategic-merge-patch+json")
_PATCH_TYPES_CUSTOM = _PATCH_TYPES[:3]                      # no strategic merge patch for custom resources
_CODES = {"200": "OK", "201": "Created", "202": "Accepted"}
_BEARER = {"BearerToken": {"description": "Bearer Token authentication", "in": "header", "name": "authorization",
                           "type": "apiKey"}}
_INFO = {"title": "Kubernetes", "version": "unversioned"}

# Scalar proto types → (JSON schema type, format).
_SCALAR: dict[str, tuple[str, str | None]] = {
    "string": ("string", None), "bool": ("boolean", None), "bytes": ("string", "byte"),
    "int32": ("integer", "int32"), "sint32": ("integer", "int32"), "sfixed32": ("integer", "int32"),
    "int64": ("integer", "int64"), "sint64": ("integer", "int64"), "sfixed64": ("integer", "int64"),
    "uint32": ("integer", "int64"), "fixed32": ("integer", "int64"), "uint64": ("integer", "int64"),
    "fixed64": ("integer", "int64"), "double": ("number", "double"), "float": ("number", "float"),
}
_ZERO: dict[str, Any] = {"string": "", "boolean": False, "integer": 0, "number": 0}
_NO_DEFAULT = object()
# Connect subresources: their operations carry the options kind (pods/exec → v1 PodExecOptions).
_CONNECT = {"attach": "PodAttachOptions", "exec": "PodExecOptions", "portforward": "PodPortForwardOptions",
            "proxy": "ProxyOptions"}
_METHOD = {"get": "get", "create": "post", "update": "put", "patch": "patch", "delete": "delete"}
# Built-in kinds whose types are not in the schema facts (served schema-less) keep upstream's names.
_OPAQUE_PACKAGES = {"apiregistration.k8s.io": "io.k8s.kube-aggregator.pkg.apis.apiregistration"}


# ---------------------------------------------------------------------------------------------------- names
def rest_friendly_name(name: str) -> str:
    """Upstream's ``util.ToRESTFriendlyName``: reverse the dotted first path segment, then join with dots."""
    first, _, rest = name.partition("/")
    if "." in first:
        first = ".".join(reversed(first.split(".")))
    return f"{first}.{rest.replace('/', '.')}" if rest else first


@functools.cache
def definition_name(message: str) -> str:
    """OpenAPI name of a schema message: ``k8s.io.api.apps.v1.Deployment`` → ``io.k8s.api.apps.v1.Deployment``."""
    msg = schema().messages[message]
    go = schema().packages.get(msg.package, {}).get("goPackage")
    if not go:
        return rest_friendly_name(message.replace("k8s.io.", "k8s.io/", 1))
    return rest_friendly_name(go) + "." + message.rpartition(".")[2]


def _kind_name(r: Resource, list_kind: bool = False) -> str:
    kind = (r.list_kind or r.kind + "List") if list_kind else r.kind
    msg = _message_of(r, list_kind)
    if msg is not None:
        return definition_name(msg)
    if not r.custom and r.group in _OPAQUE_PACKAGES:
        return f"{_OPAQUE_PACKAGES[r.group]}.{r.version}.{kind}"
    return rest_friendly_name(f"{r.group}/{r.version}/{kind}")


def _message_of(r: Resource, list_kind: bool = False) -> str | None:
    if r.custom:
        return None
    if not list_kind and r.message:
        return r.message
    return schema().kinds.get(f"{r.api_version}/{(r.list_kind or r.kind + 'List') if list_kind else r.kind}")


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


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "kind": kind, "version": version}


# ------------------------------------------------------------------------------------------- message schemas
@functools.cache
def _raw_fields() -> dict[int, dict[str, Any]]:
    """Raw facts per Field object (by identity; the schema is cached for the process, so ids are stable).

    ``optional`` and field-level ``structType`` are not on :class:`~pybernetes.api.schema.Field`, and
    ``Schema.properties`` flattens inline members, which loses the owning message; identity keeps both.
    """
    sch, out = schema(), {}
    for name, msg in sch.messages.items():
        for f, raw in zip(msg.fields, sch.raw["messages"][name].get("fields", ()), strict=False):
            out[id(f)] = raw
    return out


@functools.cache
def _gvk_index() -> dict[str, list[dict[str, str]]]:
    """message → its registered kinds, as upstream lists them in ``x-kubernetes-group-version-kind``."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for key, msg in schema().kinds.items():
        if msg in _every_gv_messages():
            continue
        gv, _, kind = key.rpartition("/")
        group, _, version = gv.rpartition("/")
        out.setdefault(msg, []).append((group, version, kind))
    return {m: [_gvk(*t) for t in sorted(v)] for m, v in out.items()}


@functools.cache
def _every_gv_messages() -> frozenset[str]:
    """DeleteOptions, WatchEvent, ...: registered in every group-version, so their GVK list follows the registry."""
    return frozenset(schema().raw.get("kindsInEveryGroupVersion", {}).values())


def _ref(name: str, v3: bool) -> str:
    return ("#/components/schemas/" if v3 else "#/definitions/") + name


def _type_schema(t: str, v3: bool, deps: set[str]) -> tuple[dict[str, Any], Any]:
    """Schema of a value of proto type ``t`` and the zero default upstream gives it (or ``_NO_DEFAULT``)."""
    if t in SCALARS:
        typ, fmt = _SCALAR[t]
        s: dict[str, Any] = {"type": typ}
        if fmt:
            s["format"] = fmt
        return s, (_NO_DEFAULT if t == "bytes" else _ZERO[typ])
    msg = schema().messages.get(t)
    if msg is None:
        return {}, _NO_DEFAULT
    if msg.special == "string-list":                    # ExtraValue, Verbs: named []string, inlined
        items: dict[str, Any] = {"type": "string", "default": ""} if v3 else {"type": "string"}
        return {"type": "array", "items": items}, _NO_DEFAULT
    if msg.special == "group-version-string":
        return {"type": "string"}, _NO_DEFAULT
    deps.add(t)
    # Types with their own JSON form (Time, Quantity, IntOrString, ...) get no default; plain structs get {}.
    return {"$ref": _ref(definition_name(t), v3)}, (_NO_DEFAULT if msg.special else {})


def _finish(s: dict[str, Any], v3: bool) -> dict[str, Any]:
    """OpenAPI 3.0 ignores siblings of ``$ref``: wrap it in ``allOf`` when there are any (as upstream's v3)."""
    if v3 and "$ref" in s and len(s) > 1:
        rest = {k: v for k, v in s.items() if k != "$ref"}
        return {"allOf": [{"$ref": s["$ref"]}], **rest}
    return s


def _field_schema(f: Field, raw: dict[str, Any], v3: bool, deps: set[str]) -> dict[str, Any]:
    if f.map_key is not None:
        vs, zero = _type_schema(f.map_value or "string", v3, deps)
        if v3 and zero is not _NO_DEFAULT:
            vs["default"] = zero
        s: dict[str, Any] = {"type": "object", "additionalProperties": _finish(vs, v3)}
    elif f.repeated:
        es, zero = _type_schema(f.type, v3, deps)
        if f.enum:
            es["enum"] = list(f.enum)
        if v3 and zero is not _NO_DEFAULT:
            es["default"] = zero
        s = {"type": "array", "items": _finish(es, v3)}
    else:
        s, zero = _type_schema(f.type, v3, deps)
        if f.enum:
            s["enum"] = list(f.enum)
        if v3:
            default = _marker_default(f.default)
            if default is _NO_DEFAULT and not f.pointer and zero is not _NO_DEFAULT and (zero == {} or not f.omitempty):
                default = zero
            if default is not _NO_DEFAULT:
                s["default"] = default
    for key, value in (("x-kubernetes-list-map-keys", list(f.list_map_keys)), ("x-kubernetes-list-type", f.list_type),
                       ("x-kubernetes-map-type", f.map_type or raw.get("structType")),
                       ("x-kubernetes-patch-merge-key", f.patch_merge_key),
                       ("x-kubernetes-patch-strategy", f.patch_strategy)):
        if value:
            s[key] = value
    return _finish(s, v3)


def _marker_default(raw: str | None) -> Any:
    """A ``+default=`` marker value when it is JSON; ``ref(Const)`` forms name Go constants we cannot resolve."""
    if raw is None:
        return _NO_DEFAULT
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _NO_DEFAULT


def _special_schema(message: str, special: str, v3: bool) -> dict[str, Any]:
    if special in ("rfc3339", "rfc3339micro"):
        return {"type": "string", "format": "date-time"}
    if special == "quantity":
        return {"oneOf": [{"type": "string"}, {"type": "number"}]} if v3 else {"type": "string"}
    if special == "int-or-string":
        if v3:
            return {"format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]}
        return {"type": "string", "format": "int-or-string"}
    if special == "go-duration":
        return {"type": "string"}
    if special == "raw-json" and not message.endswith(".JSON"):
        return {"type": "object"}                       # RawExtension, FieldsV1, Unknown
    return {}                                           # apiextensions JSON and the JSONSchemaProps unions: any value


@functools.cache
def message_schema(message: str, v3: bool) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The definition of one schema message and the messages it references (cached for the process)."""
    sch = schema()
    msg = sch.messages[message]
    if msg.special and msg.special != "timestamp-object":
        return _special_schema(message, msg.special, v3), ()
    raw_fields, deps = _raw_fields(), set[str]()
    props: dict[str, Any] = {}
    required: list[str] = []
    for key, f in sch.properties(message).items():
        if f.number == 0:                               # apiVersion/kind synthesised for TypeMeta
            props[key] = {"type": "string"}
            continue
        raw = raw_fields.get(id(f), {})
        props[key] = _field_schema(f, raw, v3, deps)
        if not f.omitempty and not raw.get("optional"):
            required.append(key)
    s: dict[str, Any] = {"type": "object"}
    if props:
        s["properties"] = props
    if required:
        s["required"] = required
    struct_type = (sch.raw["messages"][message].get("markers") or {}).get("structType")
    if struct_type:
        s["x-kubernetes-map-type"] = struct_type
    if message in _gvk_index():
        s["x-kubernetes-group-version-kind"] = _gvk_index()[message]
    return s, tuple(sorted(deps))


# ------------------------------------------------------------------------------------------ custom resources
_V2_KEEP = frozenset({"type", "properties", "items", "additionalProperties", "description", "title", "required"})
_TYPE_META = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}}


def crd_schema(r: Resource, v3: bool) -> dict[str, Any]:
    """A custom resource's kind schema, as apiextensions' OpenAPI builder publishes it.

    The CRD version's schema gets ``apiVersion``/``kind`` and ``metadata`` → ObjectMeta. For v2 it is reduced to
    what kubectl's v2 parser copes with, and a schema that keeps unknown fields at its root becomes a bare object.
    """
    src = r.openapi_schema
    if not src or (not v3 and src.get("x-kubernetes-preserve-unknown-fields")):
        s: dict[str, Any] = {"type": "object"}
    else:
        s = _crd_node(src, v3)
        s["properties"] = {**s.get("properties", {}), "metadata": {"$ref": _ref(definition_name(OBJECT_META), v3)},
                           **_TYPE_META}
        s.setdefault("type", "object")
    s["x-kubernetes-group-version-kind"] = [_gvk(r.group, r.version, r.kind)]
    return s


def _crd_node(src: dict[str, Any], v3: bool) -> dict[str, Any]:
    if v3:
        s = dict(src)
    else:
        s = {k: v for k, v in src.items() if k in _V2_KEEP or k.startswith("x-kubernetes-")}
        if src.get("nullable") or src.get("x-kubernetes-preserve-unknown-fields"):
            s.pop("items", None)
            s.pop("properties", None)
            if src.get("nullable"):
                s.pop("type", None)
        if s.get("type") == "array" and "items" not in s:
            s.pop("type")
    if isinstance(s.get("properties"), dict):
        s["properties"] = {k: _crd_node(v, v3) for k, v in s["properties"].items()}
        if not v3 and s.get("required"):
            s["required"] = [k for k in s["required"] if not (src["properties"].get(k) or {}).get("nullable")]
    if isinstance(s.get("items"), dict):
        s["items"] = _crd_node(s["items"], v3)
    if isinstance(s.get("additionalProperties"), dict):
        s["additionalProperties"] = _crd_node(s["additionalProperties"], v3)
    for key in ("allOf", "anyOf", "oneOf"):
        if v3 and isinstance(s.get(key), list):
            s[key] = [_crd_node(x, v3) if isinstance(x, dict) else x for x in s[key]]
    if s.get("x-kubernetes-embedded-resource") and (v3 or not s.get("x-kubernetes-preserve-unknown-fields")):
        s["properties"] = {**s.get("properties", {}), **_TYPE_META,
                           "metadata": {"$ref": _ref(definition_name(OBJECT_META), v3)}}
        s["required"] = [*s.get("required", ()), *(k for k in ("kind", "apiVersion") if k not in s.get("required", ()))]
    return s


def _list_schema(r: Resource, v3: bool) -> dict[str, Any]:
    return {"type": "object", "properties": {
        **_TYPE_META, "items": {"type": "array", "items": {"$ref": _ref(_kind_name(r), v3)}},
        "metadata": {"$ref": _ref(definition_name(LIST_META), v3)}}, "required": ["items"],
        "x-kubernetes-group-version-kind": [_gvk(r.group, r.version, r.list_kind or r.kind + "List")]}


def _opaque_schema(r: Resource, v3: bool) -> dict[str, Any]:
    """Kinds served without schema facts: typed metadata, anything else allowed."""
    meta = {"$ref": _ref(definition_name(OBJECT_META), v3)}
    return {"type": "object", "properties": {**_TYPE_META, "metadata": meta},
            "x-kubernetes-preserve-unknown-fields": True,
            "x-kubernetes-group-version-kind": [_gvk(r.group, r.version, r.kind)]}


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

