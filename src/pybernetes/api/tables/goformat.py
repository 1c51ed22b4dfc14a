"""Go's renderings of decoded JSON values, as kubectl and the API server print JSONPath results.

A JSONPath result is printed by client-go with ``fmt.Print`` for scalars and ``encoding/json`` for maps and
lists, and CRD string columns show exactly that text. The two differ from Python's defaults in small visible
ways: ``fmt`` prints float64 with ``%v`` (shortest digits, exponent from 1e+06 up and below 1e-04), JSON sorts
map keys, escapes ``<``, ``>`` and ``&``, and writes floats without exponent between 1e-6 and 1e21. Python's
``repr`` gives the same shortest digits as Go, so only the layout is redone here.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

__all__ = ["go_json", "go_text"]


def _go_float_digits(f: float) -> tuple[str, int]:
    """Shortest round-trip digits of ``abs(f)`` and the decimal exponent of the first digit (Go's and Python's
    shortest representations agree)."""
    _, digits, exp = Decimal(repr(abs(f))).as_tuple()
    text = "".join(map(str, digits))
    significant = text.lstrip("0")
    point = len(text) + int(exp) - (len(text) - len(significant))     # digits before the decimal point
    return significant.rstrip("0") or "0", point - 1


def _format_float(f: float, *, e_low: int, e_high: int, e_digits: int) -> str:
    if f == 0:
        return "-0" if repr(f).startswith("-") else "0"
    ds, exp = _go_float_digits(f)
    sign = "-" if f < 0 else ""
    if exp < e_low or exp >= e_high:
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        e = f"{abs(exp):0{e_digits}d}"
        return f"{sign}{mant}e{'-' if exp < 0 else '+'}{e}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{ds}"
    whole = ds[:exp + 1].ljust(exp + 1, "0")
    frac = ds[exp + 1:]
    return f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"


def go_text(v: Any) -> str:
    """A scalar as ``fmt.Print`` writes the decoded JSON value (float64 as ``%v``: ``1e+06``, ``0.5``)."""
    if v is None:
        return "<no value>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v:
            return "NaN"
        if v in (float("inf"), float("-inf")):
            return "+Inf" if v > 0 else "-Inf"
        return _format_float(v, e_low=-4, e_high=6, e_digits=2)     # %v is %g with shortest digits
    if isinstance(v, str):
        return v
    return go_json(v)


_JSON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "<": "\\u003c", ">": "\\u003e",
                 "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_NEEDS_ESCAPE = re.compile('["\\\\\x00-\x1f<>&\u2028\u2029]')


def _json_string(s: str) -> str:
    def esc(m: re.Match[str]) -> str:
        c = m.group(0)
        return _JSON_ESCAPES.get(c) or f"\\u{ord(c):04x}"
    return '"' + _NEEDS_ESCAPE.sub(esc, s) + '"'


def go_json(v: Any) -> str:
    """``encoding/json.Marshal`` of a decoded JSON value: sorted keys, HTML-safe escapes, Go's float format."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _format_float(v, e_low=-6, e_high=21, e_digits=1 if abs(v) < 1 else 2)
    if isinstance(v, str):
        return _json_string(v)
    if isinstance(v, dict):
        return "{" + ",".join(f"{_json_string(k)}:{go_json(v[k])}" for k in sorted(v)) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(go_json(x) for x in v) + "]"
    return _json_string(str(v))
