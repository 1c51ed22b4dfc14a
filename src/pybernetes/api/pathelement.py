"""Path elements of structured-merge-diff field paths: their spellings, order and printed form, as upstream has them.

A field path is a tuple of path elements, each kept as its *serialized* string, the form ``FieldsV1`` uses as JSON
keys (kubernetes-sigs/structured-merge-diff ``fieldpath.PathElement``):

- ``f:<name>``                 a field of a struct or a key of a map (``f:spec``, ``f:app.kubernetes.io/name``)
- ``k:{"name":"web"}``         an element of a map-list, by its key fields (sorted by name, Go JSON values)
- ``v:"x"``                    an element of a set-list, by its value
- ``i:0``                      an element by index (only ever in paths, never produced for ownership)

This module makes and parses them, gives their canonical spelling (Go's ``encoding/json`` for values, so the
bytes match a real cluster's), their ``PathElement.Compare`` sort order and the ``.spec.containers[name="web"]``
text upstream prints in conflict messages. Parsing, canonical spellings and sort keys are memoised: the same few
elements recur in every managed-fields entry. The sets built from paths live in :mod:`pybernetes.api.fieldset`.
"""

from __future__ import annotations

import decimal
import json
import re
from collections.abc import Iterable
from typing import Any

Path = tuple[str, ...]

_ESCAPE = re.compile(r'[\x00-\x1f"\\<>&\u2028\u2029]')
_GO_HTML = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_json(v: Any) -> str:
    """JSON as Go's encoding/json writes it (HTML-safe escapes, Go float format, map keys sorted)."""
    t = type(v)
    if t is str:
        if _ESCAPE.search(v) is None:
            return '"' + str(v) + '"'
        s = json.dumps(v, ensure_ascii=False)
        for c, e in _GO_HTML.items():
            s = s.replace(c, e)
        return s
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return str(v)
    if t is float:
        return _go_float(v)
    if v is None:
        return "null"
    if t is list:
        return "[" + ",".join(go_json(x) for x in v) + "]"
    if t is dict:
        return "{" + ",".join(go_json(k) + ":" + go_json(v[k]) for k in sorted(v)) + "}"
    raise TypeError(f"not a JSON value: {v!r}")


def _go_float(f: float) -> str:
    if f == int(f) and abs(f) < 1e21:
        return str(int(f))
    a = abs(f)
    if a < 1e-6 or a >= 1e21:
        s = repr(f)
        return re.sub(r"e([+-])0(\d)$", r"e\1\2", s) if "e-0" in s else s
    s = repr(f)
    return format(decimal.Decimal(s), "f") if "e" in s else s


def field(name: str) -> str:
    """Path element for a struct field or map key."""
    return "f:" + name


def key(fields: dict[str, Any]) -> str:
    """Path element for a map-list element with these key fields."""
    return "k:{" + ",".join(go_json(n) + ":" + go_json(fields[n]) for n in sorted(fields)) + "}"


def value(v: Any) -> str:
    """Path element for a set-list element."""
    return "v:" + go_json(v)


def index(i: int) -> str:
    return "i:" + str(i)


def make_path(*parts: Any) -> Path:
    """``make_path("spec", "containers", {"name": "web"}, "image")``: str → field, dict → key, int → index."""
    out = []
    for p in parts:
        if isinstance(p, str):
            out.append(p if p[:2] in ("f:", "k:", "v:", "i:") else field(p))
        elif isinstance(p, dict):
            out.append(key(p))
        elif isinstance(p, int) and not isinstance(p, bool):
            out.append(index(p))
        else:
            raise TypeError(f"bad path part {p!r}")
    return tuple(out)


_PARSED: dict[str, tuple[str, Any]] = {}


def parse_pe(pe: str) -> tuple[str, Any]:
    """("f", name) | ("k", ((name, value), ...)) | ("v", value) | ("i", int); ValueError when malformed."""
    got = _PARSED.get(pe)
    if got is not None:
        return got
    if len(pe) < 2 or pe[1] != ":":
        raise ValueError(f"invalid path element {pe!r}")
    t = pe[0]
    if t == "f":
        got = ("f", pe[2:])
    elif t == "k":
        d = json.loads(pe[2:])
        if type(d) is not dict:
            raise ValueError(f"invalid key path element {pe!r}")
        got = ("k", tuple(sorted(d.items(), key=lambda kv: kv[0])))
    elif t == "v":
        got = ("v", json.loads(pe[2:]))
    elif t == "i":
        got = ("i", int(pe[2:]))
    else:
        got = ("?", pe)
    if len(_PARSED) > 50000:
        _PARSED.clear()
    _PARSED[pe] = got
    return got


_CANON: dict[str, str | None] = {}


def canonical_pe(pe: str) -> str | None:
    """The canonical spelling of a path element; None for an unknown element type (upstream drops those)."""
    if pe[:2] == "f:":
        return pe
    got = _CANON.get(pe, "")
    if got != "":
        return got
    t, payload = parse_pe(pe)
    if t == "k":
        got = "k:{" + ",".join(go_json(n) + ":" + go_json(v) for n, v in payload) + "}"
    elif t == "v":
        got = "v:" + go_json(payload)
    elif t == "i":
        got = "i:" + str(payload)
    else:
        got = None
    if len(_CANON) > 50000:
        _CANON.clear()
    _CANON[pe] = got
    return got


def _vkey(v: Any) -> tuple[Any, ...]:
    """Sort key giving SMD's ``value.Compare`` order: numbers, strings, bools, lists, maps, null."""
    t = type(v)
    if t is bool:
        return (2, v)
    if t is int or t is float:
        return (0, v)
    if t is str:
        return (1, v)
    if t is list:
        return (3, tuple(_vkey(x) for x in v))
    if t is dict:
        return (4, tuple((k, _vkey(v[k])) for k in sorted(v)))
    return (5,)


_SORT_KEYS: dict[str, tuple[Any, ...]] = {}


def pe_sort_key(pe: str) -> tuple[Any, ...]:
    """Sort key giving SMD's ``PathElement.Compare`` order: fields, keys, values, indices."""
    if pe[:2] == "f:":
        return (0, pe[2:])
    got = _SORT_KEYS.get(pe)
    if got is None:
        t, payload = parse_pe(pe)
        if t == "k":
            got = (1, tuple((n, _vkey(v)) for n, v in payload))
        elif t == "v":
            got = (2, _vkey(payload))
        else:
            got = (3, payload) if t == "i" else (4, payload)
        if len(_SORT_KEYS) > 50000:
            _SORT_KEYS.clear()
        _SORT_KEYS[pe] = got
    return got


def _pe_less(a: str, b: str) -> bool:
    if a[:2] == "f:" and b[:2] == "f:":
        return a < b
    return pe_sort_key(a) < pe_sort_key(b)


def go_quote(s: str) -> str:
    """Go's ``%q``: printable characters kept, the rest escaped."""
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return '"' + s + '"'
    out = ['"']
    short = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
             '"': '\\"', "\\": "\\\\"}
    for c in s:
        if c in short:
            out.append(short[c])
        elif c.isprintable():
            out.append(c)
        elif ord(c) < 0x80:
            out.append(f"\\x{ord(c):02x}")
        elif ord(c) < 0x10000:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    out.append('"')
    return "".join(out)


def _go_string(v: Any) -> str:
    """SMD ``value.ToString``, used in conflict messages."""
    t = type(v)
    if v is None:
        return "null"
    if t is str:
        return go_quote(v)
    if t is bool:
        return "true" if v else "false"
    if t is float:
        return str(int(v)) if v == int(v) and abs(v) < 1e21 else repr(v)
    if t is list:
        return "[" + ",".join(_go_string(x) for x in v) + "]"
    if t is dict:
        return "".join(f"{k}={_go_string(x)}" for k, x in v.items())
    return str(v)


def pe_string(pe: str) -> str:
    t, payload = parse_pe(pe)
    if t == "f":
        return "." + str(payload)
    if t == "k":
        return "[" + ",".join(f"{n}={_go_string(v)}" for n, v in payload) + "]"
    if t == "v":
        return "[=" + _go_string(payload) + "]"
    if t == "i":
        return f"[{payload}]"
    return "{{invalid path element}}"


def path_string(path: Iterable[str]) -> str:
    """``.spec.template.spec.containers[name="web"].image``, as upstream prints a ``fieldpath.Path``."""
    return "".join(pe_string(pe) for pe in path)
