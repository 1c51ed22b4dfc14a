"""Request bodies → objects, checked against their type the way upstream's strict decoding does.

Upstream decodes a create/update body in two steps that we mirror:

1. :func:`parse_body` (in :mod:`pybernetes.api.bodyparse`, re-exported here) — bytes to a JSON-compatible dict:
   JSON, YAML as ``sigs.k8s.io/yaml`` reads it, or protobuf; syntax errors and duplicate keys worded as Go's.
2. :func:`check_object` — the typed decode: unknown fields (reported as strict errors and pruned), JSON type
   mismatches with Go's ``json: cannot unmarshal X into Go struct field S.path of type T`` wording (a 400 even
   in Ignore mode), and the values Go re-writes on the way through its types (Quantity, Time, Duration) made
   canonical in place. Custom resources are pruned by their structural schema as the CRD handler does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from pybernetes.api.bodyparse import (
    BodyError,
    _json_type,
    cannot_handle,
    go_json_syntax_error,
    go_yaml_scalar,
    parse_body,
    summarize,
)
from pybernetes.api.gotime import go_duration, parse_go_duration, parse_rfc3339, rfc3339
from pybernetes.api.quantity import canonical as _canonical_quantity
from pybernetes.api.schema import OBJECT_META, Field, schema
from pybernetes.api.typeinfo import TypeInfo

__all__ = ["BodyError", "CheckResult", "Mode", "cannot_handle", "check_object", "go_json_syntax_error",
           "go_yaml_scalar", "parse_body", "summarize"]

Mode = Literal["Strict", "Warn", "Ignore"]


# ---------------------------------------------------------------------------------------------------- check_object

@dataclass(slots=True)
class CheckResult:
    """What the typed decode found. ``unknown`` holds field paths (``spec.template.spec.containers[0].bogus``);
    ``type_errors`` the fatal messages, upstream's one first (Go reports only that one: a custom unmarshaller's
    error, else the earliest type mismatch)."""

    unknown: list[str] = field(default_factory=list)
    type_errors: list[str] = field(default_factory=list)

    def strict_errors(self, duplicates: list[str] | tuple[str, ...] = ()) -> list[str]:
        """The strict-decoding messages (``duplicate field "x"`` from :func:`parse_body`, ``unknown field "y"``)
        that Strict mode turns into ``strict decoding error: a, b`` and Warn mode into warnings."""
        return [*duplicates, *(f'unknown field "{p}"' for p in self.unknown)]


S_STRING, S_INT, S_BOOL, S_FLOAT, S_BYTES, S_MSG, S_LIST, S_MAP = range(8)
S_TIME, S_MICRO, S_DURATION, S_QUANTITY, S_INTSTR, S_RAW, S_STRLIST, S_OR_ARRAY, S_OR_BOOL, S_OR_STRARRAY = \
    range(8, 18)
_SPECIAL_CODE = {"rfc3339": S_TIME, "rfc3339micro": S_MICRO, "go-duration": S_DURATION, "quantity": S_QUANTITY,
                 "int-or-string": S_INTSTR, "raw-json": S_RAW, "string-list": S_STRLIST,
                 "schema-or-array": S_OR_ARRAY, "bool-or-schema": S_OR_BOOL,
                 "schema-or-string-array": S_OR_STRARRAY, "group-version-string": S_STRING}
_SCALAR = {"string": (S_STRING, "string"), "bool": (S_BOOL, "bool"), "bytes": (S_BYTES, "[]uint8"),
           "double": (S_FLOAT, "float64"), "float": (S_FLOAT, "float32"), "int32": (S_INT, "int32"),
           "int64": (S_INT, "int64"), "sint32": (S_INT, "int32"), "sint64": (S_INT, "int64"),
           "sfixed32": (S_INT, "int32"), "sfixed64": (S_INT, "int64"), "uint32": (S_INT, "uint32"),
           "uint64": (S_INT, "uint64"), "fixed32": (S_INT, "uint32"), "fixed64": (S_INT, "uint64")}
_RANGE = {"int32": (-(1 << 31), (1 << 31) - 1), "int64": (-(1 << 63), (1 << 63) - 1), "uint32": (0, (1 << 32) - 1),
          "uint64": (0, (1 << 64) - 1)}


@dataclass(frozen=True, slots=True)
class _Node:
    code: int
    go_type: str
    message: str | None = None       # struct and union nodes: the schema message
    elem: _Node | None = None        # lists and maps


_PROPS: dict[str, dict[str, _Node]] = {}


def _props(message: str) -> dict[str, _Node]:
    props = _PROPS.get(message)
    if props is None:
        props = _PROPS[message] = {k: _field_node(f) for k, f in schema().properties(message).items()}
    return props


_OMIT: dict[str, dict[str, bool]] = {}


def _omitted_when_empty(message: str) -> dict[str, bool]:
    """The JSON keys Go leaves out once decoded, each mapped to whether an empty value counts: ``omitempty`` maps
    and slices go when empty or null (True), ``omitempty`` pointers only when null (False; ``{}`` stays). A real
    server never stores ``labels: {}`` (``kubectl label x a-`` of the last label leaves no ``labels`` key)."""
    keys = _OMIT.get(message)
    if keys is None:
        keys = _OMIT[message] = {
            k: f.repeated or f.map_key is not None for k, f in schema().properties(message).items()
            if f.omitempty and (f.repeated or f.map_key is not None or f.pointer)}
    return keys


def _go_type(message: str) -> str:
    pkg, _, name = message.rpartition(".")
    return f"{pkg.rpartition('.')[2]}.{name}"


def _type_node(t: str) -> _Node:
    if t in _SCALAR:
        code, go = _SCALAR[t]
        return _Node(code, go)
    msg = schema().messages.get(t)
    special = msg.special if msg else None
    if special == "timestamp-object" or special is None:
        return _Node(S_MSG if msg else S_RAW, _go_type(t), t)
    return _Node(_SPECIAL_CODE.get(special, S_RAW), _go_type(t), t)


def _field_node(f: Field) -> _Node:
    if f.map_key is not None:
        elem = _type_node(f.map_value or "string")
        return _Node(S_MAP, f"map[string]{elem.go_type}", elem=elem)
    elem = _type_node(f.type)
    if f.repeated:
        return _Node(S_LIST, f"[]{elem.go_type}", elem=elem)
    return elem


class _Acc:
    __slots__ = ("fatal", "lenient", "saved", "unknown")

    def __init__(self) -> None:
        self.unknown: list[str] = []
        self.fatal: list[str] = []
        self.saved: list[str] = []
        self.lenient = 0                 # inside a CRD schema union: unknown fields are dropped silently

    def mismatch(self, value: Any, go_type: str, struct: str, fld: str, *, fatal: bool = False) -> None:
        what = _json_type(value)
        if what == "number" and go_type[:3] in ("int", "uin") and isinstance(value, (int, float)):
            what = f"number {value!r}" if isinstance(value, float) else f"number {value}"
        where = f"Go struct field {struct}.{fld}" if struct else "Go value"
        (self.fatal if fatal else self.saved).append(f"json: cannot unmarshal {what} into {where} of type {go_type}")


_SAME = object()


def _check_struct(d: dict[str, Any], message: str, path: str, ctx: str, acc: _Acc, *, memo: bool = False) -> None:
    """``memo``: the object's top level, whose struct fields are looked up in ``_CLEAN`` (see there)."""
    props = _props(message)
    omit = _omitted_when_empty(message)
    struct = message.rpartition(".")[2]
    drop = None
    for k, v in d.items():
        node = props.get(k)
        if node is None:
            if not acc.lenient:
                acc.unknown.append(f"{path}.{k}" if path else k)
            drop = [k] if drop is None else [*drop, k]
            continue
        if k in omit and (v is None or (omit[k] and (v == {} or v == []))):
            drop = [k] if drop is None else [*drop, k]
            continue
        if v is None or node.code == S_RAW:
            continue
        if memo and node.code == S_MSG and type(v) is dict and k != "metadata":     # metadata: never the same
            _check_remembered(v, node.message, f"{path}.{k}" if path else k, f"{ctx}.{k}" if ctx else k, acc)
            continue
        new = _check_value(node, v, f"{path}.{k}" if path else k, struct, f"{ctx}.{k}" if ctx else k, acc)
        if new is not _SAME:
            d[k] = new
    if drop:
        for k in drop:
            del d[k]


# Top-level structs (a Pod's spec ...) the check left exactly as they were and found nothing in, by message and
# JSON: the replicas of a workload are created with one spec, and checking it again would find nothing again
# (the check is a function of the value). Bounded in count and in the size of the values remembered.
_CLEAN: set[tuple[str, bytes]] = set()
_CLEAN_ENTRIES = 2048
_CLEAN_MAX_BYTES = 16384


def _check_remembered(v: dict[str, Any], message: str | None, path: str, ctx: str, acc: _Acc) -> None:
    try:
        before = orjson.dumps(v)
    except TypeError:                          # beyond JSON (a 65-bit integer): checked, never remembered
        before = b""
    key = (message or "", before)
    if before and key in _CLEAN:
        return
    found = (len(acc.unknown), len(acc.fatal), len(acc.saved))
    _check_struct(v, message, path, ctx, acc)  # type: ignore[arg-type]
    if not before or len(before) > _CLEAN_MAX_BYTES or found != (len(acc.unknown), len(acc.fatal), len(acc.saved)):
        return
    if orjson.dumps(v) == before:              # nothing pruned or made canonical
        if len(_CLEAN) >= _CLEAN_ENTRIES:
            _CLEAN.clear()
        _CLEAN.add(key)


def _check_value(node: _Node, v: Any, path: str, struct: str, ctx: str, acc: _Acc) -> Any:
    code = node.code
    if code == S_STRING:
        if not isinstance(v, str):
            acc.mismatch(v, node.go_type, struct, ctx)
    elif code == S_MSG:
        if isinstance(v, dict):
            _check_struct(v, node.message, path, ctx, acc)  # type: ignore[arg-type]
        else:
            acc.mismatch(v, node.go_type, struct, ctx)
    elif code == S_LIST or code == S_STRLIST:
        if not isinstance(v, list):
            acc.mismatch(v, node.go_type, struct, ctx)
            return _SAME
        elem = node.elem or _Node(S_STRING, "string")
        for i, x in enumerate(v):
            if x is not None:
                new = _check_value(elem, x, f"{path}[{i}]", struct, ctx, acc)
                if new is not _SAME:
                    v[i] = new
    elif code == S_MAP:
        if not isinstance(v, dict):
            acc.mismatch(v, node.go_type, struct, ctx)
            return _SAME
        for k, x in v.items():
            if x is not None:
                new = _check_value(node.elem, x, f"{path}.{k}", struct, ctx, acc)  # type: ignore[arg-type]
                if new is not _SAME:
                    v[k] = new
    elif code == S_INT or code == S_INTSTR:
        if code == S_INTSTR and isinstance(v, str):
            return _SAME
        lo, hi = _RANGE.get(node.go_type if code == S_INT else "int32", _RANGE["int64"])
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            acc.mismatch(v, node.go_type if code == S_INT else "int32", struct, ctx, fatal=code == S_INTSTR)
    elif code == S_BOOL:
        if not isinstance(v, bool):
            acc.mismatch(v, "bool", struct, ctx)
    elif code == S_FLOAT:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            acc.mismatch(v, node.go_type, struct, ctx)
    else:
        return _check_special(node, v, path, struct, ctx, acc)
    return _SAME


def _check_special(node: _Node, v: Any, path: str, struct: str, ctx: str, acc: _Acc) -> Any:
    code = node.code
    if code == S_QUANTITY:
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            acc.fatal.append(_quantity_error())
            return _SAME
        text = v.strip() if isinstance(v, str) else repr(v) if isinstance(v, float) else str(v)
        try:
            return _canonical(code, text)
        except ValueError as e:
            acc.fatal.append(str(e))
    elif code in (S_TIME, S_MICRO, S_DURATION):
        if not isinstance(v, str):
            acc.mismatch(v, "string", struct, ctx, fatal=True)
            return _SAME
        try:
            return _canonical(code, v)
        except ValueError as e:
            acc.fatal.append(str(e))
            return _SAME
    elif code == S_BYTES:
        if not isinstance(v, str):
            acc.mismatch(v, node.go_type, struct, ctx)
        elif (bad := _base64_error(v)) is not None:
            acc.saved.append(f"illegal base64 data at input byte {bad}")
    elif code in (S_OR_ARRAY, S_OR_BOOL, S_OR_STRARRAY):
        _check_union(node, v, path, struct, ctx, acc)
    return _SAME


_CANONICAL: dict[tuple[int, str], tuple[str, bool]] = {}


def _canonical(code: int, text: str) -> str:
    """The canonical text of a quantity, time or duration (ValueError with upstream's message when invalid).

    Memoised: the same few values recur in nearly every object (request sizes, the current second, the
    timestamps of an object's every version), and parsing them was ~10% of decoding a Pod update."""
    key = (code, text)
    got = _CANONICAL.get(key)
    if got is None:
        try:
            got = (_canonicalize(code, text), True)
        except ValueError as e:
            got = (str(e), False)
        if len(_CANONICAL) >= 8192:
            _CANONICAL.clear()
        _CANONICAL[key] = got
    if not got[1]:
        raise ValueError(got[0])
    return got[0]


def _canonicalize(code: int, text: str) -> str:
    if code == S_QUANTITY:
        return _canonical_quantity(text)
    if code == S_DURATION:
        return go_duration(parse_go_duration(text))
    seconds, nanos = parse_rfc3339(text, micro=code == S_MICRO)
    out = rfc3339(seconds)
    return out if code == S_TIME else f"{out[:-1]}.{nanos // 1000:06d}Z"


def _quantity_error() -> str:
    return "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


_B64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _base64_error(s: str) -> int | None:
    """The offset Go's ``base64.StdEncoding.Decode`` reports for the first bad byte (it skips CR and LF), or None."""
    src = s.encode()
    n, si = len(src), 0
    while True:
        j = 0
        while j < 4:
            if si == n:
                return None if j == 0 else si - j
            c = src[si]
            si += 1
            if c in _B64:
                j += 1
                continue
            if c in (0x0A, 0x0D):
                continue
            if c != 0x3D or j < 2:
                return si - 1
            if j == 2:                                   # "==" expected; the first "=" is consumed
                while si < n and src[si] in (0x0A, 0x0D):
                    si += 1
                if si == n:
                    return n
                if src[si] != 0x3D:
                    return si - 1
                si += 1
            while si < n and src[si] in (0x0A, 0x0D):
                si += 1
            return si if si < n else None


def _check_union(node: _Node, v: Any, path: str, struct: str, ctx: str, acc: _Acc) -> None:
    """JSONSchemaProps unions decode their schemas with a plain (non-strict) Unmarshal: unknown keys vanish."""
    props_msg = _props(node.message).get("schema") if node.message else None
    schema_msg = props_msg.message if props_msg else None
    acc.lenient += 1
    try:
        if isinstance(v, dict) and schema_msg:
            _check_struct(v, schema_msg, path, ctx, acc)
        elif isinstance(v, list):
            for i, x in enumerate(v):
                if isinstance(x, dict) and schema_msg and node.code == S_OR_ARRAY:
                    _check_struct(x, schema_msg, f"{path}[{i}]", ctx, acc)
                elif node.code == S_OR_STRARRAY and not isinstance(x, str):
                    acc.mismatch(x, "string", "", "", fatal=True)
        elif node.code == S_OR_BOOL and not isinstance(v, bool):
            acc.fatal.append("boolean or JSON schema expected")
    finally:
        acc.lenient -= 1


_META_FIELDS = ("apiVersion", "kind", "metadata")


def check_object(obj: dict[str, Any], ti: TypeInfo, *, mode: Mode = "Strict") -> CheckResult:
    """Check ``obj`` against its type as upstream's typed decode does, pruning unknown fields in place.

    Built-in kinds (``ti.message``): unknown fields anywhere, Go type mismatches (fatal even in Ignore mode), and
    Quantity/Time/Duration values rewritten to the form Go's types give them back in. Custom resources
    (``ti.openapi``): structural-schema pruning as the CRD handler does (paths sorted), ``metadata`` checked as
    ObjectMeta. ``mode`` does not change what is found; callers decide what Strict/Warn/Ignore do with it.
    """
    if mode not in ("Strict", "Warn", "Ignore"):
        raise ValueError(f"unknown field validation mode {mode!r}")
    acc = _Acc()
    if ti.message is not None:
        _check_struct(obj, ti.message, "", "", acc, memo=True)
    elif ti.openapi is not None:
        _prune(obj, ti.openapi, "", acc, embedded=True)
        acc.unknown.sort()
    return CheckResult(unknown=acc.unknown, type_errors=acc.fatal[:1] + acc.saved)


def _check_meta(x: dict[str, Any], path: str, acc: _Acc) -> None:
    meta = x.get("metadata")
    if isinstance(meta, dict):
        _check_struct(meta, OBJECT_META, f"{path}.metadata" if path else "metadata", "metadata", acc)
    elif meta is not None:
        acc.mismatch(meta, "v1.ObjectMeta", "", "", fatal=True)


def _prune(x: Any, s: dict[str, Any] | None, path: str, acc: _Acc, *, embedded: bool = False) -> None:
    """apiextensions-apiserver's structural pruning: drop (and record) what the schema does not name."""
    if s is not None and s.get("x-kubernetes-preserve-unknown-fields"):
        _skip_prune(x, s, path, acc, embedded=embedded)
        return
    if isinstance(x, dict):
        if s is None:
            for k in list(x):
                acc.unknown.append(f"{path}.{k}" if path else k)
                del x[k]
            return
        embedded = embedded or bool(s.get("x-kubernetes-embedded-resource"))
        if embedded:
            _check_meta(x, path, acc)
        props = s.get("properties") or {}
        extra = s.get("additionalProperties")
        for k in list(x):
            child = f"{path}.{k}" if path else k
            if embedded and k in _META_FIELDS:
                continue
            if k in props:
                _prune(x[k], props[k], child, acc)
            elif isinstance(extra, dict):
                _prune(x[k], extra, child, acc)
            elif extra is True:
                continue
            else:
                if k not in _META_FIELDS or path:
                    acc.unknown.append(child)
                del x[k]
    elif isinstance(x, list):
        items = s.get("items") if s is not None else None
        for i, v in enumerate(x):
            _prune(v, items if isinstance(items, dict) else None, f"{path}[{i}]", acc)


def _skip_prune(x: Any, s: dict[str, Any], path: str, acc: _Acc, *, embedded: bool = False) -> None:
    embedded = embedded or bool(s.get("x-kubernetes-embedded-resource"))
    if isinstance(x, dict):
        if embedded:
            _check_meta(x, path, acc)
        props = s.get("properties") or {}
        extra = s.get("additionalProperties")
        for k, v in x.items():
            if embedded and k in _META_FIELDS:
                continue
            child = f"{path}.{k}" if path else k
            if k in props:
                _prune(v, props[k], child, acc)
            elif isinstance(extra, dict):
                _prune(v, extra, child, acc)
    elif isinstance(x, list):
        items = s.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(x):
                _skip_prune(v, items, f"{path}[{i}]", acc)
