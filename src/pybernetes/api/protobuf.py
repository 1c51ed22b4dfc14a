"""The Kubernetes protobuf wire format, driven by the upstream field facts in :mod:`pybernetes.api.schema`.

kubectl 1.32+ sends ``application/vnd.kubernetes.protobuf`` request bodies (``k8s\\0`` + ``runtime.Unknown``), so
the API server must turn them into exactly the JSON object that Go's ``encoding/json`` would write for the same Go
value: field order and ``jsonName`` from the struct, inline (embedded) structs flattened, ``omitempty``/``omitzero``
and pointer rules for absent and zero values, map keys sorted, and the types that marshal themselves (Time,
MicroTime, Duration, Quantity, IntOrString, RawExtension/FieldsV1/JSON, the CRD schema unions) in their own form.

Per message we compile a small plan once (field by number, wire kind, JSON key, what an absent value renders as),
so decoding a Deployment is one pass over the bytes plus one pass over its fields. Malformed input of any shape
raises :class:`ProtobufError` (a ``ValueError``); nothing loops without consuming bytes.

This module is the codec proper (messages to JSON and back, recursively) and the public API. The layers below it
live beside it: :mod:`~pybernetes.api.protobuf_wire` (plans, varints, scalars), :mod:`~pybernetes.api.protobuf_special`
(the self-marshalling leaf types) and :mod:`~pybernetes.api.gotime` (Go's time and duration strings, re-exported
here for older callers).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import orjson

from pybernetes.api import protobuf_special
from pybernetes.api.gotime import (
    RFC3339_LAYOUT,
    RFC3339_MICRO_LAYOUT,
    go_duration,
    go_quote_time,
    parse_go_duration,
    parse_rfc3339,
    rfc3339,
)
from pybernetes.api.protobuf_wire import (
    _GO_ZERO,
    _OMIT,
    _WIRE_OF,
    _ZERO_INLINE,
    _ZERO_MSG,
    BYTES,
    CONTENT_TYPE,
    M_BYTES,
    M_BYTES_LIST,
    M_INLINE,
    M_MAP,
    M_MSG,
    M_OMITEMPTY,
    M_PLAIN,
    MAGIC,
    MAP,
    MSG,
    STRING,
    ProtobufError,
    _Field,
    _fields,
    _go_string,
    _length,
    _Plan,
    _plan,
    _put_bytes,
    _put_scalar,
    _put_varint,
    _read_scalar,
    _skip,
    _sub_plan,
    _varint,
)
from pybernetes.api.schema import schema

__all__ = [
    "BYTES", "CONTENT_TYPE", "MAGIC", "MAP", "MSG", "RFC3339_LAYOUT", "RFC3339_MICRO_LAYOUT", "STRING",
    "ProtobufError", "decode", "decode_message", "encode", "encode_message", "go_duration", "go_quote_time",
    "message_for", "parse_go_duration", "parse_rfc3339", "rfc3339",
]


# ---------------------------------------------------------------------------------------------------- decoding

def _decode(plan: _Plan, buf: bytes, pos: int, end: int) -> Any:
    """Decode one message occupying ``buf[pos:end]`` into its JSON value."""
    if plan.special is not None:
        return _SPECIAL_DECODE[plan.special](plan, buf, pos, end)
    if pos == end:
        return _empty(plan)
    vals: dict[int, Any] = {}
    by_tag = plan.by_tag
    while pos < end:
        tag = buf[pos]
        pos += 1
        if tag >= 0x80:
            tag, pos = _varint(buf, pos - 1, end)
        f = by_tag.get(tag)
        if f is None:
            pos = _unexpected(plan, vals, tag, buf, pos, end)
            continue
        kind = f.kind
        if kind == STRING or kind == MSG or kind == MAP or kind == BYTES:
            n = buf[pos] if pos < end else 0x80
            pos += 1
            if n >= 0x80:
                pos, stop = _length(buf, pos - 1, end)
            else:
                stop = pos + n
                if stop > end:
                    raise ProtobufError("proto: unexpected EOF")
            if kind == STRING:
                raw = buf[pos:stop]
                try:
                    v: Any = raw.decode()
                except UnicodeDecodeError:
                    v = _go_string(raw)
            elif kind == MSG:
                if f.repeated:
                    sub = f.plan or _sub_plan(f)
                    vals.setdefault(f.number, []).append(_decode(sub, buf, pos, stop))
                else:
                    vals.setdefault(f.number, []).append((pos, stop))
                pos = stop
                continue
            elif kind == MAP:
                k, v = _map_entry(f, buf, pos, stop)
                vals.setdefault(f.number, {})[k] = v
                pos = stop
                continue
            else:
                v = buf[pos:stop]
            pos = stop
        else:
            v, pos = _read_scalar(kind, tag & 7, buf, pos, end)
        if f.repeated:
            vals.setdefault(f.number, []).append(v)
        else:
            vals[f.number] = v
    return _render(plan, vals, buf)


def _unexpected(plan: _Plan, vals: dict[int, Any], tag: int, buf: bytes, pos: int, end: int) -> int:
    """A tag with no field plan: an unknown field (skipped), a packed repeated scalar, or a wire-type error."""
    number, wire = tag >> 3, tag & 7
    if number == 0:
        raise ProtobufError(f"proto: {plan.go_name}: illegal tag 0 (wire type {wire})")
    f = plan.by_number.get(number)
    if f is None:
        return _skip(buf, pos, end, wire, number)
    if not (wire == 2 and f.repeated and f.wire != 2):
        raise ProtobufError(f"proto: wrong wireType = {wire} for field {f.go_name or f.number} of {plan.go_name}")
    start, pos = _length(buf, pos, end)          # packed repeated scalars
    lst = vals.setdefault(number, [])
    while start < pos:
        v, start = _read_scalar(f.kind, f.wire, buf, start, pos)
        lst.append(v)
    if start != pos:
        raise ProtobufError("proto: unexpected EOF")
    return pos


_EMPTY: dict[str, bytes] = {}


def _empty(plan: _Plan) -> Any:
    """The JSON of a message's Go zero value (a fresh copy: callers may mutate it)."""
    cached = _EMPTY.get(plan.name)
    if cached is None:
        cached = _EMPTY[plan.name] = orjson.dumps(_render(plan, {}, b""))
    return orjson.loads(cached)


def _map_entry(f: _Field, buf: bytes, pos: int, end: int) -> tuple[Any, Any]:
    key: Any = "" if f.key_kind == STRING else _GO_ZERO.get(f.key_kind, 0)
    val: Any = _OMIT
    while pos < end:
        tag, pos = _varint(buf, pos, end)
        number, wire = tag >> 3, tag & 7
        if number == 1 and wire == _WIRE_OF[f.key_kind]:
            key, pos = _read_scalar(f.key_kind, wire, buf, pos, end)
        elif number == 2 and wire == _WIRE_OF[f.val_kind]:
            if f.val_kind == MSG:
                start, pos = _length(buf, pos, end)
                val = _decode(_plan(f.sub), buf, start, pos)  # type: ignore[arg-type]
            else:
                val, pos = _read_scalar(f.val_kind, wire, buf, pos, end)
        elif number in (1, 2):
            raise ProtobufError(f"proto: wrong wireType = {wire} for map entry field {number} of {f.go_name}")
        else:
            pos = _skip(buf, pos, end, wire, number)
    if val is _OMIT:
        val = _decode(_plan(f.sub or ""), b"", 0, 0) if f.val_kind == MSG else ("" if f.val_kind == STRING else
                                                                             b"" if f.val_kind == BYTES else
                                                                             _GO_ZERO.get(f.val_kind, 0))
        if f.val_kind == MSG and _plan(f.sub).special == "string-list":  # type: ignore[arg-type]
            val = []                   # Go: *&ExtraValue{} is an empty, non-nil slice
    if isinstance(val, bytes):
        val = base64.b64encode(val).decode()
    return (str(key) if not isinstance(key, str) else key), val


def _render(plan: _Plan, vals: dict[int, Any], buf: bytes) -> dict[str, Any]:
    """Build the JSON object in Go struct order, applying omitempty/omitzero/pointer rules."""
    out: dict[str, Any] = {}
    get = vals.get
    for f in plan.fields:
        v = get(f.number, _OMIT)
        mode = f.mode
        if v is _OMIT:
            a = f.absent
            if a is _OMIT:
                continue
            if a is _ZERO_MSG:
                out[f.key] = _decode(f.plan or _sub_plan(f), b"", 0, 0)  # type: ignore[index]
            elif a is _ZERO_INLINE:
                out.update(_decode(f.plan or _sub_plan(f), b"", 0, 0))
            else:
                out[f.key] = a  # type: ignore[index]
        elif mode == M_PLAIN:
            out[f.key] = v  # type: ignore[index]
        elif mode == M_OMITEMPTY:
            if v:
                out[f.key] = v  # type: ignore[index]
        elif mode == M_MSG or mode == M_INLINE:
            sub = f.plan or _sub_plan(f)
            if len(v) == 1:
                v = _decode(sub, buf, v[0][0], v[0][1])
            elif sub.special in (None, "int-or-string", "go-duration"):   # proto2 merges repeated occurrences
                v = _decode(sub, b"".join(buf[s:e] for s, e in v), 0, sum(e - s for s, e in v))
            else:
                v = _decode(sub, buf, v[-1][0], v[-1][1])
            if mode == M_INLINE:
                out.update(v)
            elif not (f.omitzero and not f.pointer and _is_zero(sub, v)):
                out[f.key] = v  # type: ignore[index]
        elif mode == M_MAP:
            out[f.key] = dict(sorted(v.items())) if len(v) > 1 else v  # type: ignore[index]
        elif mode == M_BYTES:
            if v or f.pointer or not (f.omitempty or f.omitzero):
                out[f.key] = base64.b64encode(v).decode()  # type: ignore[index]
        elif mode == M_BYTES_LIST:
            out[f.key] = [base64.b64encode(x).decode() for x in v]  # type: ignore[index]
    return out


def _is_zero(plan: _Plan, v: Any) -> bool:
    if plan.special in ("rfc3339", "rfc3339micro", "raw-json"):
        return v is None
    return bool(v == _decode(plan, b"", 0, 0))


# ------------------------------------------------------------------------------------------ recursive special forms

def _decode_raw(plan: _Plan, buf: bytes, pos: int, end: int) -> Any:
    raw = _fields(plan, buf, pos, end).get(1, b"")
    if not raw:
        return None
    if raw.startswith(MAGIC):
        return decode(raw)           # a nested protobuf object (e.g. a WatchEvent's object)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ProtobufError(f"json: error calling MarshalJSON for type {plan.go_name}: {e}") from None


def _sub(plan: _Plan, vals: dict[int, Any], number: int, buf: bytes) -> Any:
    f = plan.by_number[number]
    start, stop = vals[number]
    return _decode(_plan(f.sub), buf, start, stop)  # type: ignore[arg-type]


def _decode_schema_or_array(plan: _Plan, buf: bytes, pos: int, end: int) -> Any:
    v = _fields(plan, buf, pos, end)
    if v.get(2):
        sub = _plan(plan.by_number[2].sub)  # type: ignore[arg-type]
        return [_decode(sub, buf, s, e) for s, e in v[2]]
    return _sub(plan, v, 1, buf) if 1 in v else None


def _decode_bool_or_schema(plan: _Plan, buf: bytes, pos: int, end: int) -> Any:
    v = _fields(plan, buf, pos, end)
    if 2 in v:
        return _sub(plan, v, 2, buf)
    return bool(v.get(1, False))


def _decode_schema_or_string_array(plan: _Plan, buf: bytes, pos: int, end: int) -> Any:
    v = _fields(plan, buf, pos, end)
    if v.get(2):
        return v[2]
    return _sub(plan, v, 1, buf) if 1 in v else None


_SPECIAL_DECODE: dict[str, Callable[[_Plan, bytes, int, int], Any]] = {
    **protobuf_special.DECODERS, "raw-json": _decode_raw, "schema-or-array": _decode_schema_or_array,
    "bool-or-schema": _decode_bool_or_schema, "schema-or-string-array": _decode_schema_or_string_array,
}


# ---------------------------------------------------------------------------------------------------- public API

_UNKNOWN = "k8s.io.apimachinery.pkg.runtime.Unknown"
_TYPE_META = "k8s.io.apimachinery.pkg.runtime.TypeMeta"


def message_for(api_version: str, kind: str) -> str | None:
    """The schema message registered for ``apiVersion``/``kind`` (the meta kinds exist in every group/version)."""
    sch = schema()
    return sch.kinds.get(f"{api_version}/{kind}") or sch.raw["kindsInEveryGroupVersion"].get(kind)


def _go_quote(s: str) -> str:
    return orjson.dumps(s).decode()


def decode(data: bytes, *, default_api_version: str = "", default_kind: str = "") -> dict[str, Any]:
    """Decode a ``k8s\\0`` + ``runtime.Unknown`` body into the JSON object Go would write for it.

    ``kind`` and ``apiVersion`` come from the envelope (filled from the defaults when empty, as upstream fills
    them from the endpoint) and lead the result, as TypeMeta leads Go's JSON.
    """
    if not data:
        raise ProtobufError("empty data")
    if not data.startswith(MAGIC):
        raise ProtobufError("provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]")
    if len(data) == len(MAGIC):
        raise ProtobufError("empty body")
    env = _fields(_plan(_UNKNOWN), data, len(MAGIC), len(data))
    api_version = kind = ""
    if 1 in env:
        tm = _fields(_plan(_TYPE_META), data, *env[1])
        api_version, kind = tm.get(1, ""), tm.get(2, "")
    type_meta = f"runtime.TypeMeta{{APIVersion:{_go_quote(api_version)}, Kind:{_go_quote(kind)}}}"
    kind = kind or default_kind
    api_version = api_version or default_api_version
    if not kind:
        raise ProtobufError(f"Object 'Kind' is missing in '{type_meta}'")
    if not api_version:
        raise ProtobufError(f"Object 'apiVersion' is missing in '{type_meta}'")
    name = message_for(api_version, kind)
    if name is None:
        raise ProtobufError(f"no kind {_go_quote(kind)} is registered for version {_go_quote(api_version)}")
    raw = env.get(2, b"")
    body = _decode_top(_plan(name), raw)
    out: dict[str, Any] = {"kind": kind, "apiVersion": api_version}
    out.update(body)
    return out


def decode_message(data: bytes, message: str) -> dict[str, Any]:
    """Decode the bytes of one message (no envelope) into its JSON value."""
    return _decode_top(_plan(message), data)  # type: ignore[no-any-return]


def _decode_top(plan: _Plan, data: bytes) -> Any:
    try:
        return _decode(plan, data, 0, len(data))
    except RecursionError:
        raise ProtobufError("proto: message nested too deeply") from None


def encode(obj: dict[str, Any]) -> bytes:
    """``k8s\\0`` + ``runtime.Unknown`` carrying ``obj`` (which must have apiVersion and kind), as Go writes it."""
    api_version, kind = obj.get("apiVersion") or "", obj.get("kind") or ""
    name = message_for(api_version, kind)
    if name is None:
        raise ProtobufError(f"no kind {_go_quote(kind)} is registered for version {_go_quote(api_version)}")
    tm = bytearray()
    _put_bytes(tm, 1, api_version.encode())
    _put_bytes(tm, 2, kind.encode())
    out = bytearray(MAGIC)
    _put_bytes(out, 1, tm)
    _put_bytes(out, 2, encode_message(obj, name))
    _put_bytes(out, 3, b"")
    _put_bytes(out, 4, b"")
    return bytes(out)


def encode_message(obj: Any, message: str) -> bytes:
    """The protobuf bytes of one message from its JSON value (Go's gogo marshal: ascending field numbers, non-pointer
    fields always written, map entries sorted by key)."""
    out = bytearray()
    try:
        _encode(_plan(message), obj, out)
    except RecursionError:
        raise ProtobufError("proto: message nested too deeply") from None
    return bytes(out)


# ---------------------------------------------------------------------------------------------------- encoding

def _put_message(out: bytearray, number: int, plan: _Plan, value: Any) -> None:
    sub = bytearray()
    _encode(plan, value, sub)
    _put_bytes(out, number, sub)


def _encode(plan: _Plan, value: Any, out: bytearray) -> None:
    if plan.special is not None:
        _SPECIAL_ENCODE[plan.special](plan, value, out)
        return
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ProtobufError(f"cannot encode {type(value).__name__} as {plan.go_name}")
    for f in sorted(plan.fields, key=lambda f: f.number):
        if f.key is None:                                  # inline: the parent's own keys
            _put_message(out, f.number, _plan(f.sub), value)  # type: ignore[arg-type]
            continue
        v = value.get(f.key) if f.key else None
        if f.kind == MAP:
            v = v or {}
            for k in sorted(v):
                entry = bytearray()
                _put_scalar(entry, 1, f.key_kind, k if f.key_kind == STRING else int(k))
                if f.val_kind == MSG:
                    _put_message(entry, 2, _plan(f.sub), v[k])  # type: ignore[arg-type]
                else:
                    _put_scalar(entry, 2, f.val_kind, v[k] if v[k] is not None else _GO_ZERO.get(f.val_kind, b""))
                _put_bytes(out, f.number, entry)
        elif f.repeated:
            for item in v or ():
                if f.kind == MSG:
                    _put_message(out, f.number, _plan(f.sub), item)  # type: ignore[arg-type]
                else:
                    _put_scalar(out, f.number, f.kind, item)
        elif v is None and (f.pointer or f.kind == BYTES):
            continue                                       # nil pointer / nil []byte: not on the wire
        elif f.kind == MSG:
            _put_message(out, f.number, _plan(f.sub), v)  # type: ignore[arg-type]
        else:
            _put_scalar(out, f.number, f.kind, _GO_ZERO.get(f.kind) if v is None else v)


def _encode_schema_or_array(plan: _Plan, value: Any, out: bytearray) -> None:
    sub = _plan(plan.by_number[1].sub)  # type: ignore[arg-type]
    if isinstance(value, list):
        for item in value:
            _put_message(out, 2, sub, item)
    elif value is not None:
        _put_message(out, 1, sub, value)


def _encode_bool_or_schema(plan: _Plan, value: Any, out: bytearray) -> None:
    _put_varint(out, 0x08)
    out.append(0 if value is False or value is None else 1)
    if isinstance(value, dict):
        _put_message(out, 2, _plan(plan.by_number[2].sub), value)  # type: ignore[arg-type]


def _encode_schema_or_string_array(plan: _Plan, value: Any, out: bytearray) -> None:
    if isinstance(value, dict):
        _put_message(out, 1, _plan(plan.by_number[1].sub), value)  # type: ignore[arg-type]
    else:
        for s in value or ():
            _put_scalar(out, 2, STRING, s)


_SPECIAL_ENCODE: dict[str, Callable[[_Plan, Any, bytearray], None]] = {
    **protobuf_special.ENCODERS, "schema-or-array": _encode_schema_or_array, "bool-or-schema": _encode_bool_or_schema,
    "schema-or-string-array": _encode_schema_or_string_array,
}
