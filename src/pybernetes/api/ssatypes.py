"""Structured-merge-diff's view of a type, compiled once per type: what a field is and how list items are named.

Server-side apply and managed fields walk objects *with* their type, as kubernetes-sigs/structured-merge-diff
does with its schema: a struct has declared fields, a map granular keys, a list is atomic, a set (``v:`` items)
or a map keyed by some fields (``k:{...}`` items), and schemaless values are untyped (always a leaf) or deduced
(``x-kubernetes-preserve-unknown-fields``: maps granular, lists atomic). :class:`TypeNode` holds those facts for
one :class:`~pybernetes.api.typeinfo.TypeInfo`, compiled on first use and cached per built-in message and per CRD
schema node, so the walks in :mod:`pybernetes.api.managedfields` and :mod:`pybernetes.api.apply` only look up.

Built-in kinds are Go structs upstream, so :meth:`TypeNode.zero` knows the keys Go's JSON always writes for a zero
struct (what makes a new container's ``f:resources: {}`` appear, as on a cluster). :func:`item_pe` names a list
element as SMD's ``listItemToPathElement`` does.
"""

from __future__ import annotations

import json
from typing import Any

from pybernetes.api.fieldset import ABSENT
from pybernetes.api.pathelement import go_json, go_quote
from pybernetes.api.schema import OBJECT_META, SCALARS, schema
from pybernetes.api.typeinfo import TypeInfo, of_message

SCALAR, STRUCT, MAP, LIST, UNTYPED, DEDUCED = range(6)
_STRINGISH = {"string": "string", "bytes": "string", "time": "string", "duration": "string",
              "integer": "numeric", "number": "numeric", "boolean": "boolean"}


class TypeNode:
    """Per-type facts in SMD's terms (scalar, struct, map, list atomic|set|map, untyped, deduced), cached.

    ``UNTYPED`` is SMD's ``__untyped_atomic_`` (RawExtension and other schemaless values: always a leaf);
    ``DEDUCED`` is ``__untyped_deduced_`` (``x-kubernetes-preserve-unknown-fields``: maps granular, lists atomic).
    """

    __slots__ = ("_fields", "_zero", "atomic", "elem", "key_defaults", "keys", "kind", "message", "rel", "scalar",
                 "ti")

    def __init__(self, kind: int, ti: TypeInfo | None = None) -> None:
        self.kind = kind
        self.ti = ti
        self.atomic = kind in (SCALAR, UNTYPED)
        self.scalar = "untyped"
        self.rel = ""
        self.keys: tuple[str, ...] = ()
        self.key_defaults: dict[str, Any] = {}
        self.elem: TypeNode | None = None
        self.message: str | None = None
        self._fields: dict[str, TypeNode] = {}
        self._zero: dict[str, Any] | None = None

    def field(self, name: str) -> TypeNode | None:
        """Type of key ``name``: a declared struct field, else the element type (maps, preserved unknowns)."""
        f = self._fields.get(name)
        if f is not None:
            return f
        if self.kind == STRUCT and self.ti is not None:
            sub = self.ti.field(name)
            if sub is not None:
                f = self._fields[name] = node_of(sub)
                return f
        return self.elem

    def declared(self, name: str) -> bool:
        """Whether ``name`` is a declared struct field (SMD ``Map.FindField``)."""
        return self.kind == STRUCT and (name in self._fields or (self.ti is not None
                                                                 and self.ti.field(name) is not None))

    def zero(self) -> dict[str, Any] | None:
        """For a built-in struct: the keys Go's JSON always writes for a zero value, with those values."""
        if self._zero is None:
            self._zero = _zero_struct(self.message) if self.message else {}
        return self._zero or None


UNTYPED_NODE = TypeNode(UNTYPED)
DEDUCED_NODE = TypeNode(DEDUCED)
DEDUCED_NODE.elem = DEDUCED_NODE
_BY_ID: dict[int, tuple[Any, TypeNode]] = {}
_BY_MESSAGE: dict[tuple[str, bool], TypeNode] = {}


def node_of(ti: TypeInfo | None) -> TypeNode:
    """The compiled node of a TypeInfo (cached per built-in type and per CRD schema node)."""
    if ti is None:
        return UNTYPED_NODE
    if ti.shape == "struct" and ti.message is not None and ti.openapi is None:
        atomic = ti.map_type == "atomic" or _struct_atomic(ti.message)
        got = _BY_MESSAGE.get((ti.message, atomic))
        if got is None:
            got = _BY_MESSAGE[(ti.message, atomic)] = _compile(ti)
        return got
    ref = ti.openapi if ti.openapi is not None else ti
    hit = _BY_ID.get(id(ref))
    if hit is not None and hit[0] is ref:
        return hit[1]
    n = _compile(ti)
    if len(_BY_ID) > 20000:
        _BY_ID.clear()
    _BY_ID[id(ref)] = (ref, n)
    return n


def root_node(ti: TypeInfo) -> TypeNode:
    """The node of a whole object: metadata is always ObjectMeta, as the API server's SMD schema has it."""
    n = node_of(ti)
    if n.kind == STRUCT and ti.message is not None:
        return n
    hit = _BY_ID.get(id(n))
    if hit is not None and hit[0] is n:
        return hit[1]
    root = TypeNode(STRUCT, ti if ti.shape == "struct" else None)
    root.elem = n.elem if n.kind == STRUCT else (DEDUCED_NODE if ti.preserve_unknown else None)
    root.atomic = False
    string = TypeNode(SCALAR)
    string.scalar = "string"
    root._fields.update(apiVersion=string, kind=string, metadata=node_of(of_message(OBJECT_META)))
    _BY_ID[id(n)] = (n, root)
    return root


def _struct_atomic(message: str) -> bool:
    markers = schema().raw["messages"].get(message, {}).get("markers") or {}
    return markers.get("structType") == "atomic"


def _compile(ti: TypeInfo) -> TypeNode:
    shape = ti.shape
    if shape == "scalar":
        n = TypeNode(SCALAR, ti)
        n.scalar = _STRINGISH.get(ti.scalar, "untyped")
        fmt = (ti.openapi or {}).get("format")
        if n.scalar == "string" and fmt not in (None, "", "byte", "date-time"):
            n.scalar = "untyped"               # schemaconv: unknown string formats are untyped scalars
        return n
    if shape == "struct":
        n = TypeNode(STRUCT, ti)
        n.message = ti.message
        n.atomic = ti.map_type == "atomic" or (ti.message is not None and _struct_atomic(ti.message))
        n.elem = DEDUCED_NODE if ti.preserve_unknown else None
        return n
    if shape == "map":
        n = TypeNode(MAP, ti)
        n.atomic = ti.map_type == "atomic"
        n.elem = node_of(ti.elem())
        return n
    if shape == "list":
        n = TypeNode(LIST, ti)
        rel, keys = ti.list_type, ti.list_map_keys
        strategies = (ti.patch_strategy or "").split(",")
        if rel is None and "merge" in strategies:
            rel, keys = ("map", (ti.patch_merge_key,)) if ti.patch_merge_key else ("set", ())
        if rel == "map" and not keys:
            rel = "atomic"
        n.rel = rel if rel in ("set", "map") else "atomic"
        n.atomic = n.rel == "atomic"
        n.keys = tuple(sorted(keys)) if n.rel == "map" else ()
        n.elem = node_of(ti.elem())
        if n.keys:
            n.key_defaults = _key_defaults(ti.elem(), n.keys)
        return n
    return DEDUCED_NODE if ti.preserve_unknown else UNTYPED_NODE


def _key_defaults(elem: TypeInfo, keys: tuple[str, ...]) -> dict[str, Any]:
    """Defaults of map-list key fields (``protocol: TCP`` for ports), as SMD ``getAssociativeKeyDefault``."""
    out: dict[str, Any] = {}
    for k in keys:
        if elem.message is not None:
            f = schema().properties(elem.message).get(k)
            if f is not None and f.default is not None:
                try:
                    out[k] = json.loads(f.default)
                except ValueError:
                    pass
        elif elem.openapi is not None:
            prop = (elem.openapi.get("properties") or {}).get(k) or {}
            if "default" in prop:
                out[k] = prop["default"]
    return out


_ZERO_SPECIAL = {"rfc3339": None, "rfc3339micro": None, "quantity": "0", "int-or-string": 0, "go-duration": "0s",
                 "raw-json": None, "group-version-string": ""}
_ZEROS: dict[str, dict[str, Any]] = {}


def _zero_struct(message: str, _seen: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The JSON keys a zero Go struct of ``message`` always has (non-omitempty fields, embedded structs)."""
    got = _ZEROS.get(message)
    if got is not None:
        return got
    sch = schema()
    out: dict[str, Any] = {}
    for name, f in sch.properties(message).items():
        if f.number == 0:                      # synthetic apiVersion/kind: TypeMeta's are omitempty
            continue
        if f.repeated or f.map_key is not None or f.pointer or f.type in SCALARS:
            if not f.omitempty:
                out[name] = _scalar_zero(f.type) if not (f.repeated or f.map_key or f.pointer) else None
            continue
        msg = sch.messages.get(f.type)
        if msg is None:
            continue
        if msg.special:
            if msg.special in _ZERO_SPECIAL:
                out[name] = _ZERO_SPECIAL[msg.special]
            elif not f.omitempty:
                out[name] = None
        elif f.type not in _seen:
            out[name] = _zero_struct(f.type, _seen | {message})
    _ZEROS[message] = out
    return out


def _scalar_zero(t: str) -> Any:
    if t == "string":
        return ""
    if t == "bool":
        return False
    if t in ("double", "float"):
        return 0.0
    return None if t == "bytes" else 0



class PathElementError(ValueError):
    """A list element that has no path element (missing key field, map in a set, ...)."""


def item_pe(item: Any, t: TypeNode) -> str:
    """Path element of an element of an associative list (SMD ``listItemToPathElement``)."""
    if t.rel == "map":
        if item is None:
            raise PathElementError("associative list with keys may not have a null element")
        if type(item) is not dict:
            raise PathElementError("associative list with keys may not have non-map elements")
        parts = []
        for k in t.keys:
            v = item.get(k, ABSENT)
            if v is ABSENT:
                v = t.key_defaults.get(k, ABSENT)
                if v is ABSENT:
                    raise PathElementError("associative list with keys has an element that omits key field "
                                           f"{go_quote(k)} (and doesn't have default value)")
            parts.append('"' + k + '":' + go_json(v) if k.isidentifier() else go_json(k) + ":" + go_json(v))
        return "k:{" + ",".join(parts) + "}"
    if type(item) is dict:
        raise PathElementError("associative list without keys has an element that's a map type")
    if type(item) is list:
        raise PathElementError("not supported: associative list with lists as elements")
    if item is None:
        raise PathElementError("associative list without keys has an element that's an explicit null")
    return "v:" + go_json(item)
