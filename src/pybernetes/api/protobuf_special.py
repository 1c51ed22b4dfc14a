"""The protobuf forms of the Kubernetes types that marshal themselves, as leaf values.

Go's ``encoding/json`` does not render these types field by field: ``metav1.Time`` and ``MicroTime`` become RFC 3339
strings (zero time: ``null``), ``metav1.Duration`` a Go duration string, ``resource.Quantity`` its canonical string,
``IntOrString`` an int or a string, ``ExtraValue`` a list, ``Timestamp`` an object, ``GroupVersion`` one string.
Each form here turns one such message's bytes into that JSON value and back, keyed by the ``special`` name the
schema gives the message. None of them contains another message, so they need no recursion into the codec; the
recursive forms (RawExtension-like raw JSON that may nest a protobuf object, the CRD schema unions) stay in
:mod:`pybernetes.api.protobuf`, which merges these tables with its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from pybernetes.api import quantity as _quantity
from pybernetes.api.gotime import go_duration, parse_go_duration, parse_rfc3339, rfc3339
from pybernetes.api.protobuf_wire import (
    STRING,
    ProtobufError,
    _fields,
    _Plan,
    _plan,
    _put_bytes,
    _put_scalar,
    _put_varint,
)

_ZERO_TIME_SECONDS = -62135596800   # time.Time{} (0001-01-01T00:00:00Z) in Unix seconds


# ---------------------------------------------------------------------------------------------------- decoding

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


def _decode_duration(plan: _Plan, buf: bytes, pos: int, end: int) -> str:
    return go_duration(_fields(plan, buf, pos, end).get(1, 0))


def _decode_quantity(plan: _Plan, buf: bytes, pos: int, end: int) -> str:
    s = _fields(plan, buf, pos, end).get(1, "")
    if s == "" and pos == end:
        return "0"
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


def _decode_string_list(plan: _Plan, buf: bytes, pos: int, end: int) -> list[str] | None:
    items = _fields(plan, buf, pos, end).get(1)
    return items if items else None


def _decode_timestamp_object(plan: _Plan, buf: bytes, pos: int, end: int) -> dict[str, int]:
    v = _fields(plan, buf, pos, end)
    return {"seconds": v.get(1, 0), "nanos": v.get(2, 0)}


def _decode_group_version(plan: _Plan, buf: bytes, pos: int, end: int) -> str:
    v = _fields(plan, buf, pos, end)
    g, ver = v.get(1, ""), v.get(2, "")
    return f"{g}/{ver}" if g else ver


# ---------------------------------------------------------------------------------------------------- encoding

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


def _encode_timestamp_object(plan: _Plan, value: Any, out: bytearray) -> None:
    value = value or {}
    _put_scalar(out, 1, 2, value.get("seconds", 0))
    _put_scalar(out, 2, 1, value.get("nanos", 0))


def _encode_group_version(plan: _Plan, value: Any, out: bytearray) -> None:
    g, _, v = (value or "").rpartition("/")
    _put_bytes(out, 1, g.encode())
    _put_bytes(out, 2, v.encode())


DECODERS: dict[str, Callable[[_Plan, bytes, int, int], Any]] = {
    "rfc3339": _decode_time, "rfc3339micro": _decode_micro_time, "go-duration": _decode_duration,
    "quantity": _decode_quantity, "int-or-string": _decode_int_or_string, "string-list": _decode_string_list,
    "timestamp-object": _decode_timestamp_object, "group-version-string": _decode_group_version,
}
"""Leaf special forms by schema ``special`` name: (plan, buf, pos, end) → JSON value."""

ENCODERS: dict[str, Callable[[_Plan, Any, bytearray], None]] = {
    "rfc3339": _encode_time, "rfc3339micro": _encode_time, "go-duration": _encode_duration,
    "quantity": _encode_quantity, "int-or-string": _encode_int_or_string, "raw-json": _encode_raw,
    "string-list": _encode_string_list, "timestamp-object": _encode_timestamp_object,
    "group-version-string": _encode_group_version,
}
"""Special forms by schema ``special`` name: (plan, JSON value, out) appends the message's bytes to ``out``."""
