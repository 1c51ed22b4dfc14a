"""OpenAPI definitions (``components.schemas`` / ``definitions``): what each schema message and kind looks like.

One job: turn the upstream field facts (:mod:`pybernetes.api.schema`) and a resource's CRD schema into the
definitions upstream's kube-openapi and apiextensions builders publish, and name them as upstream does:

- definition names are the Go package path with its domain reversed (``k8s.io/api/apps/v1`` →
  ``io.k8s.api.apps.v1.Deployment``); CRD kinds use the reversed group (``com.example.stable.v1.CronTab``);
- a property is ``required`` when it is neither ``omitempty`` nor marked optional (kube-openapi's rule, which
  ignores the declarative-validation ``+k8s:required`` markers);
- v3 gives value structs ``default: {}`` and non-``omitempty`` scalars their zero value, and wraps a ``$ref``
  that has siblings in ``allOf`` (OpenAPI 3.0 ignores ``$ref`` siblings); v2 has no defaults and plain ``$ref``.

Per-message schemas do not depend on the registry, so they are cached for the life of the process and shared
between documents (callers must not mutate them). Operations live in :mod:`~pybernetes.api.openapi_paths`, the
documents and their per-registry cache in :mod:`~pybernetes.api.openapi`; the underscored names here are shared
with those two modules only.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson

from pybernetes.api.resources import Resource
from pybernetes.api.schema import SCALARS, Field, schema

META = "k8s.io.apimachinery.pkg.apis.meta.v1."
OBJECT_META, LIST_META = META + "ObjectMeta", META + "ListMeta"
STATUS, PATCH, RESOURCE_LIST = META + "Status", META + "Patch", META + "APIResourceList"
DELETE_OPTIONS, WATCH_EVENT = META + "DeleteOptions", META + "WatchEvent"

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
