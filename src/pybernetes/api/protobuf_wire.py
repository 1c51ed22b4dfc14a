"""Protobuf wire primitives and per-message plans, shared by the codec modules of :mod:`pybernetes.api.protobuf`.

This is the layer below JSON: varints, lengths, fixed-width and packed scalars, skipping unknown fields, and
writing the same things back. A *plan* is what one schema message compiles to, once per process (field by number
and by tag, wire kind, JSON key, how a present value renders and what an absent one renders as, per Go's
``omitempty``/``omitzero``/pointer rules), so the hot decode loop only looks things up.

The names keep their leading underscore: they are internal to the protobuf codec (``protobuf.py`` and
``protobuf_special.py``), not an API for the rest of the server. Malformed input raises :class:`ProtobufError`.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass, field
from typing import Any

from pybernetes.api.schema import Message, schema

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"


class ProtobufError(ValueError):
    """Malformed or undecodable protobuf input (the API server answers 400)."""


# Field kinds: scalar wire handling, then messages and maps.
_VARINT_KINDS = {"int32": 1, "int64": 2, "uint32": 3, "uint64": 4, "bool": 5, "sint32": 6, "sint64": 7}
_FIXED_KINDS = {"double": 10, "float": 11, "fixed32": 12, "fixed64": 13, "sfixed32": 14, "sfixed64": 15}
STRING, BYTES, MSG, MAP = 20, 21, 30, 31
_KIND = {**_VARINT_KINDS, **_FIXED_KINDS, "string": STRING, "bytes": BYTES}
_WIRE_OF = {**{k: 0 for k in _VARINT_KINDS.values()}, 10: 1, 13: 1, 15: 1, 11: 5, 12: 5, 14: 5,
            STRING: 2, BYTES: 2, MSG: 2, MAP: 2}
_GO_ZERO = {1: 0, 2: 0, 3: 0, 4: 0, 5: False, 6: 0, 7: 0, 10: 0, 11: 0, 12: 0, 13: 0, 14: 0, 15: 0, STRING: ""}
_OMIT = object()          # "leave the key out" marker for absent values
_M64 = (1 << 64) - 1


@dataclass(slots=True)
class _Field:
    number: int
    key: str | None              # JSON key; None for inline sub-messages
    kind: int
    wire: int                    # expected wire type (repeated numeric scalars also accept packed, 2)
    repeated: bool
    pointer: bool
    omitempty: bool
    omitzero: bool
    sub: str | None = None       # message name (element / map value)
    key_kind: int = STRING       # maps: key kind
    val_kind: int = STRING       # maps: value kind (MSG for messages)
    go_name: str = ""
    plan: _Plan | None = None    # the sub-message plan, resolved on first use
    mode: int = 0
    absent: Any = None


@dataclass(slots=True)
class _Plan:
    name: str
    go_name: str
    special: str | None
    fields: tuple[_Field, ...]
    by_number: dict[int, _Field] = field(default_factory=dict)
    by_tag: dict[int, _Field] = field(default_factory=dict)     # number << 3 | expected wire type


_PLANS: dict[str, _Plan] = {}


def _plan(name: str) -> _Plan:
    p = _PLANS.get(name)
    if p is None:
        p = _PLANS[name] = _compile(name)
    return p


def _compile(name: str) -> _Plan:
    sch = schema()
    msg: Message | None = sch.messages.get(name)
    if msg is None:
        raise ProtobufError(f"no protobuf message {name!r} is known")
    raw_fields = {f["number"]: f for f in sch.raw["messages"][name].get("fields", ())}
    fields = []
    for f in msg.fields:
        raw = raw_fields[f.number]
        if f.map_key is not None:
            vk = _KIND.get(f.map_value or "", MSG)
            if vk == MSG and f.map_value not in sch.messages:
                continue
            fields.append(_Field(f.number, f.json, MAP, 2, False, False, bool(raw.get("omitempty")), False,
                                 sub=f.map_value if vk == MSG else None, key_kind=_KIND.get(f.map_key, STRING),
                                 val_kind=vk, go_name=f.json))
            continue
        kind = _KIND.get(f.type, MSG)
        if kind == MSG and f.type not in sch.messages:
            continue                  # a field of a dropped alpha type (not served): skipped like an unknown number
        key = None if f.inline and kind == MSG else (f.json if f.json != "-" else None)
        if key is None and not f.inline:
            key = ""                                   # json:"-": decoded, never rendered
        fields.append(_Field(f.number, key, kind, _WIRE_OF[kind], f.repeated, f.pointer, bool(raw.get("omitempty")),
                             bool(raw.get("omitzero")), sub=f.type if kind == MSG else None, go_name=f.json))
    for fl in fields:
        fl.mode, fl.absent = _modes(fl)
    plan = _Plan(name, name.rpartition(".")[2], msg.special, tuple(fields))
    plan.by_number = {f.number: f for f in fields}
    plan.by_tag = {f.number << 3 | f.wire: f for f in fields}
    return plan


M_HIDDEN, M_PLAIN, M_OMITEMPTY, M_MSG, M_INLINE, M_MAP, M_BYTES, M_BYTES_LIST = range(8)
_ZERO_MSG, _ZERO_INLINE = object(), object()


def _modes(f: _Field) -> tuple[int, Any]:
    """How a present value is rendered, and what an absent one renders as (``_OMIT``: left out), per Go's rules."""
    omit = f.omitempty or f.omitzero
    if f.key is None:
        return M_INLINE, _ZERO_INLINE
    if not f.key:
        return M_HIDDEN, _OMIT                      # json:"-"
    if f.kind == MSG and not f.repeated:
        if f.pointer:
            return M_MSG, _OMIT if f.omitempty else None
        return M_MSG, _OMIT if f.omitzero else _ZERO_MSG   # a struct is never "empty" for omitempty
    absent = _OMIT if omit else None if (f.pointer or f.repeated or f.kind in (MAP, BYTES)) else _GO_ZERO[f.kind]
    if f.kind == MAP:
        return M_MAP, absent
    if f.kind == BYTES:
        return (M_BYTES_LIST if f.repeated else M_BYTES), absent
    if omit and not f.pointer and not f.repeated:
        return M_OMITEMPTY, absent
    return M_PLAIN, absent


# ---------------------------------------------------------------------------------------------------- wire reading

def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise ProtobufError("proto: unexpected EOF")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & _M64, pos
        shift += 7
        if shift >= 70:
            raise ProtobufError("proto: integer overflow")


def _skip(buf: bytes, pos: int, end: int, wire: int, number: int) -> int:
    """Skip an unknown field, as gogo's generated ``skipGenerated`` does (groups are not used by Kubernetes)."""
    if wire == 0:
        return _varint(buf, pos, end)[1]
    if wire == 1:
        pos += 8
    elif wire == 2:
        n, pos = _varint(buf, pos, end)
        pos += n
    elif wire == 5:
        pos += 4
    else:
        raise ProtobufError(f"proto: illegal wireType {wire} for field {number}")
    if pos > end:
        raise ProtobufError("proto: unexpected EOF")
    return pos


def _length(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    n, pos = _varint(buf, pos, end)
    stop = pos + n
    if n >= 1 << 63:
        raise ProtobufError("proto: negative length found during unmarshaling")
    if stop > end:
        raise ProtobufError("proto: unexpected EOF")
    return pos, stop


def _go_string(b: bytes) -> str:
    """Go copies proto strings byte for byte; encoding/json then writes each invalid UTF-8 byte as U+FFFD."""
    try:
        return b.decode()
    except UnicodeDecodeError:
        out, i, n = [], 0, len(b)
        while i < n:
            for size in (1, 2, 3, 4):
                try:
                    out.append(b[i:i + size].decode())
                    i += size
                    break
                except UnicodeDecodeError:
                    continue
            else:
                out.append("\ufffd")
                i += 1
        return "".join(out)


def _scalar(kind: int, v: int) -> int | bool:
    """A varint's value as the Go field type sees it (two's complement truncation as gogo does)."""
    if kind == 1:
        v &= 0xFFFFFFFF
        return v - (1 << 32) if v >= 1 << 31 else v
    if kind == 2:
        return v - (1 << 64) if v >= 1 << 63 else v
    if kind == 3:
        return v & 0xFFFFFFFF
    if kind == 5:
        return v != 0
    if kind in (6, 7):
        return (v >> 1) ^ -(v & 1)
    return v


_FIXED = {10: struct.Struct("<d"), 11: struct.Struct("<f"), 12: struct.Struct("<I"), 13: struct.Struct("<Q"),
          14: struct.Struct("<i"), 15: struct.Struct("<q")}


def _fixed(kind: int, buf: bytes, pos: int, end: int) -> tuple[Any, int]:
    st = _FIXED[kind]
    stop = pos + st.size
    if stop > end:
        raise ProtobufError("proto: unexpected EOF")
    v = st.unpack_from(buf, pos)[0]
    if kind in (10, 11):
        if v != v or v in (float("inf"), float("-inf")):
            raise ProtobufError(f"json: unsupported value: {v!r}")
        if v.is_integer() and abs(v) < 1 << 63:
            v = int(v)                     # Go writes 1.0 as 1
    return v, stop


def _read_scalar(f_kind: int, wire: int, buf: bytes, pos: int, end: int) -> tuple[Any, int]:
    if f_kind == STRING:
        pos, stop = _length(buf, pos, end)
        return _go_string(buf[pos:stop]), stop
    if f_kind == BYTES:
        pos, stop = _length(buf, pos, end)
        return buf[pos:stop], stop
    if wire == 0:
        if pos < end and buf[pos] < 0x80:
            v, pos = buf[pos], pos + 1
            return (v != 0 if f_kind == 5 else v if f_kind < 6 else (v >> 1) ^ -(v & 1)), pos
        v, pos = _varint(buf, pos, end)
        return _scalar(f_kind, v), pos
    return _fixed(f_kind, buf, pos, end)


def _sub_plan(f: _Field) -> _Plan:
    f.plan = _plan(f.sub)  # type: ignore[arg-type]
    return f.plan


def _fields(plan: _Plan, buf: bytes, pos: int, end: int) -> dict[int, Any]:
    """Raw field values of a small special message (last value wins; repeated fields collected)."""
    vals: dict[int, Any] = {}
    while pos < end:
        tag, pos = _varint(buf, pos, end)
        number, wire = tag >> 3, tag & 7
        f = plan.by_number.get(number)
        if f is None:
            if number == 0:
                raise ProtobufError(f"proto: {plan.go_name}: illegal tag 0 (wire type {wire})")
            pos = _skip(buf, pos, end, wire, number)
            continue
        if wire != f.wire:
            raise ProtobufError(f"proto: wrong wireType = {wire} for field {f.go_name} of {plan.go_name}")
        if f.kind == MSG:
            start, pos = _length(buf, pos, end)
            v: Any = (start, pos)
        else:
            v, pos = _read_scalar(f.kind, wire, buf, pos, end)
        if f.repeated:
            vals.setdefault(number, []).append(v)
        else:
            vals[number] = v
    return vals


# ---------------------------------------------------------------------------------------------------- writing

def _put_varint(out: bytearray, v: int) -> None:
    v &= _M64
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def _put_bytes(out: bytearray, number: int, b: bytes | bytearray) -> None:
    _put_varint(out, number << 3 | 2)
    _put_varint(out, len(b))
    out += b



def _put_scalar(out: bytearray, number: int, kind: int, v: Any) -> None:
    try:
        if kind == STRING:
            if not isinstance(v, str):
                raise TypeError
            _put_bytes(out, number, v.encode("utf-8", "surrogatepass"))
        elif kind == BYTES:
            _put_bytes(out, number, v if isinstance(v, bytes) else base64.b64decode(v, validate=True))
        elif kind == 5:
            if not isinstance(v, bool):
                raise TypeError
            _put_varint(out, number << 3)
            out.append(1 if v else 0)
        elif kind in _FIXED:
            _put_varint(out, number << 3 | _WIRE_OF[kind])
            out += _FIXED[kind].pack(v)
        else:
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError
            _put_varint(out, number << 3)
            _put_varint(out, (v << 1) ^ (v >> 63) if kind in (6, 7) else v)
    except (TypeError, ValueError, struct.error):
        raise ProtobufError(f"cannot encode {v!r} as field {number} ({kind})") from None

