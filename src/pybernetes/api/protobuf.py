"""The Kubernetes protobuf wire format, driven by the upstream field facts in :mod:`pybernetes.api.schema`.

kubectl 1.32+ sends ``application/vnd.kubernetes.protobuf`` request bodies (``k8s\\0`` + ``runtime.Unknown``), so
the API server must turn them into exactly the JSON object that Go's ``encoding/json`` would write for the same Go
value: field order and ``jsonName`` from the struct, inline (embedded) structs flattened, ``omitempty``/``omitzero``
and pointer rules for absent and zero values, map keys sorted, and the types that marshal themselves (Time,
MicroTime, Duration, Quantity, IntOrString, RawExtension/FieldsV1/JSON, the CRD schema unions) in their own form.

Per message we compile a small plan once (field by number, wire kind, JSON key, what an absent value renders as),
so decoding a Deployment is one pass over the bytes plus one pass over its fields. Malformed input of any shape
raises :class:`ProtobufError` (a ``ValueError``); nothing loops without consuming bytes.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from pybernetes.api.schema import Message, schema

try:                                   # the Quantity parser lives in its own module (api/quantity.py)
    from pybernetes.api import quantity as _quantity
except ImportError:                    # pragma: no cover - only while that module is being written
    _quantity = None  # type: ignore[assignment]

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
_ZERO_TIME_SECONDS = -62135596800   # time.Time{} (0001-01-01T00:00:00Z) in Unix seconds


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


# ---------------------------------------------------------------------------------------------------- decoding

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


def _sub_plan(f: _Field) -> _Plan:
    f.plan = _plan(f.sub)  # type: ignore[arg-type]
    return f.plan


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


# ---------------------------------------------------------------------------------------------------- special forms

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


def rfc3339(seconds: int) -> str:
    """Go's ``t.UTC().Format(time.RFC3339)`` for a Unix time in whole seconds (any int64)."""
    days, rem = divmod(seconds, 86400)
    y, m, d = _civil(days)
    hh, rem = divmod(rem, 3600)
    mm, ss = divmod(rem, 60)
    year = f"-{-y:04d}" if y < 0 else f"{y:04d}"
    return f"{year}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}Z"


def _civil(days: int) -> tuple[int, int, int]:
    """Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's civil_from_days)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


def _timestamp(plan: _Plan, buf: bytes, pos: int, end: int) -> tuple[int, int]:
    ts = _fields(_plan("k8s.io.apimachinery.pkg.apis.meta.v1.Timestamp"), buf, pos, end)
    return ts.get(1, 0), ts.get(2, 0)


def _decode_time(plan: _Plan, buf: bytes, pos: int, end: int) -> str | None:
    # metav1.Time: empty bytes are the zero time (null); nanos are dropped (only whole seconds travel in JSON).
    if pos == end:
        return None
    seconds, _ = _timestamp(plan, buf, pos, end)
    return None if seconds == _ZERO_TIME_SECONDS else rfc3339(seconds)


def _decode_micro_time(plan: _Plan, buf: bytes, pos: int, end: int) -> str | None:
    if pos == end:
        return None
    seconds, nanos = _timestamp(plan, buf, pos, end)
    micros = abs(nanos) // 1000 * 1000           # Duration.Truncate(time.Microsecond): toward zero
    nanos = micros if nanos >= 0 else -micros
    extra, nanos = divmod(nanos, 1_000_000_000)
    seconds += extra
    if seconds == _ZERO_TIME_SECONDS and nanos == 0:
        return None
    return rfc3339(seconds)[:-1] + f".{nanos // 1000:06d}Z"


def go_duration(d: int) -> str:
    """Go's ``time.Duration.String()`` of a nanosecond count."""
    if d == 0:
        return "0s"
    neg, u = d < 0, abs(d)
    if u < 1_000_000_000:
        if u < 1_000:
            s = f"{u}ns"
        elif u < 1_000_000:
            s = _frac(u, 3) + "\u00b5s"
        else:
            s = _frac(u, 6) + "ms"
    else:
        secs, frac = divmod(u, 1_000_000_000)
        s = str(secs % 60) + (f".{frac:09d}".rstrip("0") if frac else "") + "s"
        mins = secs // 60
        if mins:
            s = f"{mins % 60}m" + s
            if mins >= 60:
                s = f"{mins // 60}h" + s
    return "-" + s if neg else s


def _frac(v: int, prec: int) -> str:
    whole, frac = divmod(v, 10 ** prec)
    return str(whole) + (f".{frac:0{prec}d}".rstrip("0") if frac else "")


def _decode_duration(plan: _Plan, buf: bytes, pos: int, end: int) -> str:
    return go_duration(_fields(plan, buf, pos, end).get(1, 0))


def _decode_quantity(plan: _Plan, buf: bytes, pos: int, end: int) -> str:
    s = _fields(plan, buf, pos, end).get(1, "")
    if s == "" and pos == end:
        return "0"
    if _quantity is None:
        return s
    try:
        return _quantity.canonical(s)
    except ValueError as e:
        raise ProtobufError(str(e)) from None


def _decode_int_or_string(plan: _Plan, buf: bytes, pos: int, end: int) -> int | str:
    v = _fields(plan, buf, pos, end)
    t = v.get(1, 0)
    if t == 0:
        return int(v.get(2, 0))
    if t == 1:
        return str(v.get(3, ""))
    raise ProtobufError("impossible IntOrString.Type")


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


def _decode_string_list(plan: _Plan, buf: bytes, pos: int, end: int) -> list[str] | None:
    items = _fields(plan, buf, pos, end).get(1)
    return items if items else None


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


def _decode_timestamp_object(plan: _Plan, buf: bytes, pos: int, end: int) -> dict[str, int]:
    v = _fields(plan, buf, pos, end)
    return {"seconds": v.get(1, 0), "nanos": v.get(2, 0)}


def _decode_group_version(plan: _Plan, buf: bytes, pos: int, end: int) -> str:
    v = _fields(plan, buf, pos, end)
    g, ver = v.get(1, ""), v.get(2, "")
    return f"{g}/{ver}" if g else ver


_SPECIAL_DECODE: dict[str, Callable[[_Plan, bytes, int, int], Any]] = {
    "rfc3339": _decode_time, "rfc3339micro": _decode_micro_time, "go-duration": _decode_duration,
    "quantity": _decode_quantity, "int-or-string": _decode_int_or_string, "raw-json": _decode_raw,
    "string-list": _decode_string_list, "schema-or-array": _decode_schema_or_array,
    "bool-or-schema": _decode_bool_or_schema, "schema-or-string-array": _decode_schema_or_string_array,
    "timestamp-object": _decode_timestamp_object, "group-version-string": _decode_group_version,
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


def _put_message(out: bytearray, number: int, plan: _Plan, value: Any) -> None:
    sub = bytearray()
    _encode(plan, value, sub)
    _put_bytes(out, number, sub)


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


def _encode_time(plan: _Plan, value: Any, out: bytearray) -> None:
    if value is None:
        return
    seconds, nanos = parse_rfc3339(value, micro=plan.special == "rfc3339micro")
    if plan.special == "rfc3339":
        nanos = 0
    _put_varint(out, 0x08)
    _put_varint(out, seconds)
    _put_varint(out, 0x10)
    _put_varint(out, nanos // 1000 * 1000)


def _encode_duration(plan: _Plan, value: Any, out: bytearray) -> None:
    _put_varint(out, 0x08)
    _put_varint(out, parse_go_duration(value) if value is not None else 0)


def _encode_quantity(plan: _Plan, value: Any, out: bytearray) -> None:
    s = "0" if value is None else str(value)
    if _quantity is not None:
        try:
            s = _quantity.canonical(s)
        except ValueError as e:
            raise ProtobufError(str(e)) from None
    _put_bytes(out, 1, s.encode())


def _encode_int_or_string(plan: _Plan, value: Any, out: bytearray) -> None:
    is_str = isinstance(value, str)
    _put_varint(out, 0x08)
    out.append(1 if is_str else 0)
    _put_scalar(out, 2, 1, 0 if is_str or value is None else value)
    _put_bytes(out, 3, value.encode() if is_str else b"")


def _encode_raw(plan: _Plan, value: Any, out: bytearray) -> None:
    if value is not None:
        _put_bytes(out, 1, orjson.dumps(value))


def _encode_string_list(plan: _Plan, value: Any, out: bytearray) -> None:
    for s in value or ():
        _put_scalar(out, 1, STRING, s)


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


def _encode_timestamp_object(plan: _Plan, value: Any, out: bytearray) -> None:
    value = value or {}
    _put_scalar(out, 1, 2, value.get("seconds", 0))
    _put_scalar(out, 2, 1, value.get("nanos", 0))


def _encode_group_version(plan: _Plan, value: Any, out: bytearray) -> None:
    g, _, v = (value or "").rpartition("/")
    _put_bytes(out, 1, g.encode())
    _put_bytes(out, 2, v.encode())


_SPECIAL_ENCODE: dict[str, Callable[[_Plan, Any, bytearray], None]] = {
    "rfc3339": _encode_time, "rfc3339micro": _encode_time, "go-duration": _encode_duration,
    "quantity": _encode_quantity, "int-or-string": _encode_int_or_string, "raw-json": _encode_raw,
    "string-list": _encode_string_list, "schema-or-array": _encode_schema_or_array,
    "bool-or-schema": _encode_bool_or_schema, "schema-or-string-array": _encode_schema_or_string_array,
    "timestamp-object": _encode_timestamp_object, "group-version-string": _encode_group_version,
}


# ---------------------------------------------------------------------------------------------------- Go value forms

RFC3339_LAYOUT = "2006-01-02T15:04:05Z07:00"
RFC3339_MICRO_LAYOUT = "2006-01-02T15:04:05.000000Z07:00"


def go_quote_time(s: str) -> str:
    """The quoting Go's time package uses in its error messages."""
    out = ['"']
    for c in s:
        if c >= "\x80" or c < " ":
            out.extend(f"\\x{b:02x}" for b in c.encode("utf-8", "surrogatepass"))
        else:
            out.append("\\" + c if c in '"\\' else c)
    out.append('"')
    return "".join(out)


def _getnum(s: str, fixed: bool) -> tuple[int, str] | None:
    if not s or not s[0].isascii() or not s[0].isdigit():
        return None
    if len(s) < 2 or not s[1].isascii() or not s[1].isdigit():
        return None if fixed else (int(s[0]), s[1:])
    return int(s[:2]), s[2:]


def _atoi(s: str) -> int | None:
    neg = s[:1] in ("-", "+")
    digits = s[1:] if neg else s
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    return -int(digits) if s[:1] == "-" else int(digits)


def _days_in(month: int, year: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _days_from_civil(y: int, m: int, d: int) -> int:
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_rfc3339(value: str, *, micro: bool = False) -> tuple[int, int]:
    """Go's ``time.Parse(time.RFC3339 | metav1.RFC3339Micro, value)``: (Unix seconds, nanoseconds).

    Raises ValueError with Go's exact ``parsing time ...`` message, which upstream returns as the 400 reason.
    """
    layout = RFC3339_MICRO_LAYOUT if micro else RFC3339_LAYOUT
    if not isinstance(value, str):
        raise ValueError("value must be a string")
    chunks = [("", "2006"), ("-", "01"), ("-", "02"), ("T", "15"), (":", "04"), (":", "05")]
    if micro:
        chunks.append(("", ".000000"))
    chunks += [("", "Z07:00"), ("", "")]

    def fail(elem: str, layout_elem: str, msg: str = "") -> ValueError:
        if msg:
            return ValueError(f"parsing time {go_quote_time(value)}{msg}")
        return ValueError(f"parsing time {go_quote_time(value)} as {go_quote_time(layout)}: cannot parse "
                          f"{go_quote_time(elem)} as {go_quote_time(layout_elem)}")

    v = value
    parts = {"year": 0, "month": 1, "day": 1, "hour": 0, "min": 0, "sec": 0, "nsec": 0, "off": 0}
    for prefix, std in chunks:
        if not v.startswith(prefix):
            raise fail(v, prefix)
        v = v[len(prefix):]
        if not std:
            if v:
                raise fail(v, "", f": extra text: {go_quote_time(v)}")
            break
        hold, rng, bad = v, "", False
        if std == "2006":
            year = _atoi(v[:4]) if len(v) >= 4 else None
            bad = year is None
            parts["year"], v = (year or 0), v[4:]
        elif std in ("01", "02", "04", "05", "15"):
            got = _getnum(v, std != "15")
            bad = got is None
            if got is not None:
                n, v = got
                name = {"01": "month", "02": "day", "04": "min", "05": "sec", "15": "hour"}[std]
                parts[name] = n
                if std == "01" and not 1 <= n <= 12:
                    rng = "month"
                elif std == "15" and n >= 24:
                    rng = "hour"
                elif std == "04" and n >= 60:
                    rng = "minute"
                elif std == "05":
                    if n >= 60:
                        rng = "second"
                    elif not micro and len(v) >= 2 and v[0] in ".," and v[1].isascii() and v[1].isdigit():
                        k = 2
                        while k < len(v) and v[k].isascii() and v[k].isdigit():
                            k += 1
                        parts["nsec"], v = int((v[1:k] + "000000000")[:9]), v[k:]
        elif std == ".000000":
            digits = v[1:7]
            ns = _atoi(digits) if len(v) >= 7 and v[0] in ".," else None
            if ns is None:
                bad = True
            elif ns < 0:
                rng = "fractional second"
            else:
                parts["nsec"], v = ns * 1000, v[7:]
        else:                                   # Z07:00
            if v[:1] == "Z":
                v = v[1:]
            elif len(v) < 6 or v[3] != ":":
                bad = True
            else:
                sign, hh, mm = v[0], _getnum(v[1:3], True), _getnum(v[4:6], True)
                if hh is None or mm is None or sign not in "+-":
                    bad = True
                else:
                    if hh[0] > 24:
                        rng = "time zone offset hour"
                    if mm[0] > 60:
                        rng = "time zone offset minute"
                    off = (hh[0] * 60 + mm[0]) * 60
                    parts["off"], v = (off if sign == "+" else -off), v[6:]
        if rng:
            raise fail(v, std, f": {rng} out of range")
        if bad:
            raise fail(hold, std)
    if not 1 <= parts["day"] <= _days_in(parts["month"], parts["year"]):
        raise fail(v, "", ": day out of range")
    days = _days_from_civil(parts["year"], parts["month"], parts["day"])
    seconds = days * 86400 + parts["hour"] * 3600 + parts["min"] * 60 + parts["sec"] - parts["off"]
    return seconds, parts["nsec"]


_UNITS = {"ns": 1, "us": 1_000, "\u00b5s": 1_000, "\u03bcs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
          "m": 60_000_000_000, "h": 3_600_000_000_000}


def parse_go_duration(s: str) -> int:
    """Go's ``time.ParseDuration`` in nanoseconds; ValueError with Go's message (``time: invalid duration "x"``)."""
    if not isinstance(s, str):
        raise ValueError("value must be a string")
    orig, neg = s, False
    invalid = ValueError(f"time: invalid duration {go_quote_time(orig)}")
    if s[:1] in ("-", "+"):
        neg, s = s[0] == "-", s[1:]
    if s == "0":
        return 0
    if not s:
        raise invalid
    total = 0
    while s:
        if not (s[0] == "." or "0" <= s[0] <= "9"):
            raise invalid
        k = 0
        while k < len(s) and "0" <= s[k] <= "9":
            k += 1
        whole = int(s[:k]) if k else 0
        if whole >= 1 << 63:
            raise invalid
        pre, s = k > 0, s[k:]
        frac, scale, post = 0, 1.0, False
        if s[:1] == ".":
            s = s[1:]
            k = 0
            overflow = False
            while k < len(s) and "0" <= s[k] <= "9":
                if not overflow:
                    nxt = frac * 10 + int(s[k])
                    if nxt >= 1 << 63:
                        overflow = True
                    else:
                        frac, scale = nxt, scale * 10
                k += 1
            post, s = k > 0, s[k:]
        if not pre and not post:
            raise invalid
        k = 0
        while k < len(s) and not (s[k] == "." or "0" <= s[k] <= "9"):
            k += 1
        if k == 0:
            raise ValueError(f"time: missing unit in duration {go_quote_time(orig)}")
        unit_name, s = s[:k], s[k:]
        unit = _UNITS.get(unit_name)
        if unit is None:
            raise ValueError(f"time: unknown unit {go_quote_time(unit_name)} in duration {go_quote_time(orig)}")
        if whole > (1 << 63) // unit:
            raise invalid
        whole *= unit
        if frac > 0:
            whole += int(float(frac) * (float(unit) / scale))
            if whole > 1 << 63:
                raise invalid
        total += whole
        if total > 1 << 63:
            raise invalid
    if neg:
        return -total
    if total > (1 << 63) - 1:
        raise invalid
    return total
