"""One view of "the type at this place in an object", for built-in kinds and custom resources alike.

Strict decoding, strategic merge patch, server-side apply and CRD validation walk objects together with their
type. Built-in kinds take their facts from the upstream schema (``schema.py``); custom resources from the CRD's
OpenAPI v3 ``JSONSchemaProps``. Both are presented through :class:`TypeInfo` so those algorithms are written once.

Field-level facts (``listType``, ``patchMergeKey``, ...) live on the *value* TypeInfo returned by
:meth:`TypeInfo.field`: a repeated field yields a ``list`` TypeInfo carrying them, whose :meth:`elem` is the element.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pybernetes.api.schema import SCALARS, Field, Schema, schema

Shape = Literal["scalar", "struct", "map", "list", "any"]

# Scalar kinds as JSON sees them.
_JSON_SCALAR = {
    "string": "string", "bytes": "bytes", "bool": "boolean", "double": "number", "float": "number",
    "int32": "integer", "int64": "integer", "uint32": "integer", "uint64": "integer", "sint32": "integer",
    "sint64": "integer", "fixed32": "integer", "fixed64": "integer", "sfixed32": "integer", "sfixed64": "integer",
}
# specialJSON forms (see k8s-api README) → scalar kind; None means "any JSON" (raw-json).
_SPECIAL_SCALAR = {
    "rfc3339": "time", "rfc3339micro": "time", "go-duration": "duration", "quantity": "quantity",
    "int-or-string": "int-or-string", "group-version-string": "string",
}


@dataclass(frozen=True, slots=True)
class TypeInfo:
    shape: Shape
    scalar: str = ""                              # for scalars: string|integer|number|boolean|bytes|time|...
    message: str | None = None                    # built-in struct: schema message name
    openapi: dict[str, Any] | None = None          # custom resource: JSONSchemaProps of this node
    list_type: str | None = None                  # atomic | set | map (None: not marked)
    list_map_keys: tuple[str, ...] = ()
    patch_strategy: str | None = None             # e.g. "merge", "retainKeys", "merge,retainKeys"
    patch_merge_key: str | None = None
    map_type: str | None = None                   # granular | atomic for maps and structs
    enum: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    _elem: TypeInfo | None = None
    preserve_unknown: bool = False                # CRD x-kubernetes-preserve-unknown-fields
    embedded_resource: bool = False

    def field(self, name: str) -> TypeInfo | None:
        """Type of the value at key ``name`` of a struct; None when the key is unknown."""
        if self.shape != "struct":
            return None
        if self.message is not None:
            key = (self.message, name)
            if key not in _FIELD_CACHE:
                f = _schema().properties(self.message).get(name)
                _FIELD_CACHE[key] = from_field(f) if f is not None else None
            return _FIELD_CACHE[key]
        if self.openapi is not None:
            props = self.openapi.get("properties") or {}
            if name in props:
                return from_openapi(props[name])
            if self.embedded_resource and name in ("apiVersion", "kind", "metadata"):
                return _EMBEDDED_META[name]
        return None

    def fields(self) -> list[str]:
        if self.message is not None:
            return list(_schema().properties(self.message))
        if self.openapi is not None:
            return list((self.openapi.get("properties") or {}).keys())
        return []

    def elem(self) -> TypeInfo:
        """Element type of a list, or value type of a map."""
        return self._elem if self._elem is not None else ANY


ANY = TypeInfo("any")
_FIELD_CACHE: dict[tuple[str, str], TypeInfo | None] = {}


def _schema() -> Schema:
    return schema()


def of_message(message: str) -> TypeInfo:
    """TypeInfo of a whole message (struct, or a scalar for specialJSON types)."""
    msg = _schema().messages.get(message)
    if msg is None:
        return ANY
    if msg.special:
        if msg.special in _SPECIAL_SCALAR:
            return TypeInfo("scalar", scalar=_SPECIAL_SCALAR[msg.special])
        if msg.special == "string-list":
            return TypeInfo("list", list_type="atomic", _elem=TypeInfo("scalar", scalar="string"))
        return ANY                               # raw-json and the CRD schema unions
    required = tuple(f.json for f in msg.fields if f.required and f.json != "-")
    return TypeInfo("struct", message=message, required=required)


def _element(type_name: str) -> TypeInfo:
    if type_name in SCALARS:
        return TypeInfo("scalar", scalar=_JSON_SCALAR[type_name])
    return of_message(type_name)


def from_field(f: Field) -> TypeInfo:
    if f.map_key is not None:
        return TypeInfo("map", map_type=f.map_type, patch_strategy=f.patch_strategy,
                        _elem=_element(f.map_value or "string"))
    if f.repeated and f.type != "bytes":
        elem = _element(f.type)
        if elem.shape == "scalar" and f.enum:
            elem = TypeInfo("scalar", scalar=elem.scalar, enum=f.enum)
        return TypeInfo("list", list_type=f.list_type, list_map_keys=f.list_map_keys,
                        patch_strategy=f.patch_strategy, patch_merge_key=f.patch_merge_key, _elem=elem)
    t = _element(f.type)
    if f.enum or f.patch_strategy or (f.map_type and t.shape == "struct"):
        return TypeInfo(t.shape, scalar=t.scalar, message=t.message, enum=f.enum or t.enum,
                        patch_strategy=f.patch_strategy, map_type=f.map_type or t.map_type, required=t.required,
                        _elem=t._elem, list_type=t.list_type)
    return t


def from_openapi(s: dict[str, Any]) -> TypeInfo:
    """TypeInfo of a CRD structural schema node (JSONSchemaProps as a dict)."""
    if s.get("x-kubernetes-int-or-string"):
        return TypeInfo("scalar", scalar="int-or-string", openapi=s)
    typ = s.get("type")
    preserve = bool(s.get("x-kubernetes-preserve-unknown-fields"))
    embedded = bool(s.get("x-kubernetes-embedded-resource"))
    if typ == "object" or (typ is None and ("properties" in s or embedded)):
        if "additionalProperties" in s and s["additionalProperties"] not in (False, None) and not s.get("properties"):
            ap = s["additionalProperties"]
            elem = from_openapi(ap) if isinstance(ap, dict) else ANY
            return TypeInfo("map", openapi=s, map_type=s.get("x-kubernetes-map-type"), _elem=elem)
        if not s.get("properties") and preserve and not embedded:
            return TypeInfo("any", openapi=s, preserve_unknown=True)
        return TypeInfo("struct", openapi=s, map_type=s.get("x-kubernetes-map-type"),
                        required=tuple(s.get("required") or ()), preserve_unknown=preserve,
                        embedded_resource=embedded)
    if typ == "array":
        items = s.get("items")
        elem = from_openapi(items) if isinstance(items, dict) else ANY
        return TypeInfo("list", openapi=s, list_type=s.get("x-kubernetes-list-type"),
                        list_map_keys=tuple(s.get("x-kubernetes-list-map-keys") or ()), _elem=elem)
    if typ in ("string", "integer", "number", "boolean"):
        return TypeInfo("scalar", scalar=typ, openapi=s, enum=tuple(s.get("enum") or ()))
    return TypeInfo("any", openapi=s, preserve_unknown=preserve)


_EMBEDDED_META: dict[str, TypeInfo] = {
    "apiVersion": TypeInfo("scalar", scalar="string"),
    "kind": TypeInfo("scalar", scalar="string"),
    "metadata": TypeInfo("struct", message="k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
}


def of_kind(api_version: str, kind: str) -> TypeInfo | None:
    msg = _schema().kind(api_version, kind)
    return of_message(msg.name) if msg else None
