"""Request body bytes → a JSON-compatible dict, read the way upstream's decoders read them.

This is the first of the two steps of :mod:`pybernetes.api.decode` (the second, the typed check, lives there).
JSON goes through orjson; YAML as ``sigs.k8s.io/yaml`` reads it (go-yaml v2 scalar rules: ``yes``/``on``/``y`` are
booleans, map keys become strings, timestamps stay strings); protobuf through :mod:`pybernetes.api.protobuf`.
Syntax errors read like Go's ``encoding/json`` ones, found by a small scanner that mirrors Go's, because clients
and tests match on them. Duplicate keys, which orjson drops silently, are found with a cheap count (colons in the
body vs. in the re-serialised object) so the common, duplicate-free body pays ~1 µs.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
import yaml  # type: ignore[import-untyped, unused-ignore]

from pybernetes.api import protobuf

_FIND_KIND = ('struct { APIVersion string "json:\\"apiVersion,omitempty\\""; '
              'Kind string "json:\\"kind,omitempty\\"" }')


class BodyError(ValueError):
    """A body that cannot be decoded at all; ``str()`` is upstream's decoder error."""

    def __init__(self, message: str, *, body: bytes = b"") -> None:
        super().__init__(message)
        self.message = message
        self.body = body

    def for_kind(self, kind: str) -> str:
        """The full 400 message upstream's create/update handlers give (``transformDecodeError`` without a GVK)."""
        return f"the object provided is unrecognized (must be of type {kind}): {self.message} ({summarize(self.body)})"


def summarize(data: bytes, limit: int = 30) -> str:
    """Upstream's ``summarizeData``: JSON-looking bodies as text, anything else as hex, cut at ``limit`` bytes."""
    if not data:
        return "<empty>"
    cut = data[:limit]
    text = cut.decode("utf-8", "replace") if data[:1] == b"{" else cut.hex()
    return text + " ..." if len(data) > limit else text


def cannot_handle(kind: str, version: str, message: str) -> str:
    """``transformDecodeError`` when the body's kind is known: ``Deployment in version "v1" cannot be handled...``."""
    return f"{kind} in version {orjson.dumps(version).decode()} cannot be handled as a {kind}: {message}"


# ---------------------------------------------------------------------------------------------------- parse_body

def parse_body(body: bytes, content_type: str, *, duplicates: list[str] | None = None) -> dict[str, Any]:
    """Decode a request body to a JSON-compatible dict (``null``/empty YAML give ``{}``, as upstream decodes
    them into an empty object). Pass a list as ``duplicates`` to receive the strict-decoding errors for repeated
    keys (``duplicate field "spec.replicas"``; for YAML, go-yaml's ``yaml: unmarshal errors: ...`` text)."""
    ct = content_type.partition(";")[0].strip().lower()
    if ct == protobuf.CONTENT_TYPE:
        try:
            return protobuf.decode(body)
        except protobuf.ProtobufError as e:
            raise BodyError(str(e), body=body) from None
    if ct.endswith("yaml"):
        obj = _parse_yaml(body, duplicates)
    elif ct.endswith("json"):
        obj = _parse_json(body, duplicates)
    else:
        raise BodyError(f"unsupported content type {content_type!r}", body=body)
    return _interpret(obj, body)


def _interpret(obj: Any, body: bytes) -> dict[str, Any]:
    """Upstream first reads apiVersion/kind into a tiny struct; its errors are the first a bad body gets."""
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise BodyError(f"couldn't get version/kind; json parse error: json: cannot unmarshal {_json_type(obj)} "
                        f"into Go value of type {_FIND_KIND}", body=body)
    for key in ("apiVersion", "kind"):
        v = obj.get(key)
        if v is not None and not isinstance(v, str):
            raise BodyError(f"couldn't get version/kind; json parse error: json: cannot unmarshal {_json_type(v)} "
                            f"into Go struct field .{key} of type string", body=body)
    av = obj.get("apiVersion") or ""
    if av.count("/") > 1:
        raise BodyError(f"unexpected GroupVersion string: {av}", body=body)
    return obj


def _json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def _parse_json(body: bytes, duplicates: list[str] | None) -> Any:
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        err = go_json_syntax_error(body)
        if err:
            raise BodyError(f"couldn't get version/kind; json parse error: {err}", body=body) from None
        obj = _parse_json_lenient(body)       # valid for Go (bad UTF-8, lone surrogates, huge numbers)
    if duplicates is not None and _may_have_duplicates(body, obj):
        duplicates.extend(_json_duplicates(body))
    return obj


def _may_have_duplicates(body: bytes, obj: Any) -> bool:
    """Every key in a JSON text is followed by a colon, and no other colon can sit outside a string; orjson keeps
    colons verbatim. So if the body and the re-serialised object hold as many colons, no key was dropped."""
    if b"\\u003" in body or b"\\U003" in body:
        return True                           # an escaped colon would spoil the count
    return body.count(b":") != orjson.dumps(obj).count(b":")


def _parse_json_lenient(body: bytes) -> Any:
    text = body.decode("utf-8", "replace")
    obj = json.loads(text)
    return _fix_surrogates(obj) if "\\u" in text or "\\U" in text else obj


_SURROGATE = re.compile("[\ud800-\udfff]")


def _fix_surrogates(v: Any) -> Any:
    if isinstance(v, str):
        return _SURROGATE.sub("\ufffd", v)
    if isinstance(v, list):
        return [_fix_surrogates(x) for x in v]
    if isinstance(v, dict):
        return {_fix_surrogates(k): _fix_surrogates(x) for k, x in v.items()}
    return v


def _json_duplicates(body: bytes) -> list[str]:
    """Upstream's ``duplicate field "path"`` errors, in document order, each path once."""
    seen: dict[int, list[str]] = {}

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        d: dict[str, Any] = {}
        dups: list[str] = []
        for k, v in pairs:
            if k in d and k not in dups:
                dups.append(k)
            d[k] = v
        if dups:
            seen[id(d)] = dups
        return d

    root = json.loads(body.decode("utf-8", "replace"), object_pairs_hook=hook)
    out: list[str] = []

    def walk(v: Any, path: str) -> None:
        if isinstance(v, dict):
            for k in seen.get(id(v), ()):
                out.append(f'duplicate field "{path + "." if path else ""}{k}"')
            for k, x in v.items():
                walk(x, f"{path}.{k}" if path else k)
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, f"{path}[{i}]")

    walk(root, "")
    return out


def _quote_char(c: int) -> str:
    """Go's ``quoteChar``: the offending byte as a (Latin-1) rune in Go quoting."""
    if c == 0x27:
        return "'\\''"
    if c == 0x22:
        return "'\"'"
    ch = chr(c)
    if ch.isprintable() and c != 0x5C:
        return f"'{ch}'"
    named = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v", 0x5C: "\\\\"}
    if c in named:
        return f"'{named[c]}'"
    return f"'\\x{c:02x}'" if c < 0x80 else f"'\\u{c:04x}'"


def go_json_syntax_error(data: bytes) -> str | None:
    """The message Go's ``encoding/json`` gives for the first syntax error in ``data``; None when it is valid."""
    n, i = len(data), 0
    ws = b" \t\r\n"

    def bad(pos: int, what: str) -> str:
        return f"invalid character {_quote_char(data[pos])} {what}"

    def skip(i: int) -> int:
        while i < n and data[i] in ws:
            i += 1
        return i

    def value(i: int) -> tuple[int, str | None]:
        i = skip(i)
        if i >= n:
            return i, "unexpected end of JSON input"
        c = data[i]
        if c == 0x7B:
            return obj(i + 1)
        if c == 0x5B:
            return arr(i + 1)
        if c == 0x22:
            return string(i + 1)
        if c == 0x2D or 0x30 <= c <= 0x39:
            return number(i)
        for word in (b"true", b"false", b"null"):
            if c == word[0]:
                for k in range(1, len(word)):
                    if i + k >= n:
                        return i + k, "unexpected end of JSON input"
                    if data[i + k] != word[k]:
                        return i + k, bad(i + k, f"in literal {word.decode()} (expecting {_quote_char(word[k])})")
                return i + len(word), None
        return i, bad(i, "looking for beginning of value")

    def obj(i: int) -> tuple[int, str | None]:
        i = skip(i)
        if i < n and data[i] == 0x7D:
            return i + 1, None
        while True:
            i = skip(i)
            if i >= n:
                return i, "unexpected end of JSON input"
            if data[i] != 0x22:
                return i, bad(i, "looking for beginning of object key string")
            i, err = string(i + 1)
            if err:
                return i, err
            i = skip(i)
            if i >= n:
                return i, "unexpected end of JSON input"
            if data[i] != 0x3A:
                return i, bad(i, "after object key")
            i, err = value(i + 1)
            if err:
                return i, err
            i = skip(i)
            if i >= n:
                return i, "unexpected end of JSON input"
            if data[i] == 0x7D:
                return i + 1, None
            if data[i] != 0x2C:
                return i, bad(i, "after object key:value pair")
            i += 1

    def arr(i: int) -> tuple[int, str | None]:
        i = skip(i)
        if i < n and data[i] == 0x5D:
            return i + 1, None
        while True:
            i, err = value(i)
            if err:
                return i, err
            i = skip(i)
            if i >= n:
                return i, "unexpected end of JSON input"
            if data[i] == 0x5D:
                return i + 1, None
            if data[i] != 0x2C:
                return i, bad(i, "after array element")
            i += 1

    def string(i: int) -> tuple[int, str | None]:
        while i < n:
            c = data[i]
            if c == 0x22:
                return i + 1, None
            if c < 0x20:
                return i, bad(i, "in string literal")
            if c == 0x5C:
                i += 1
                if i >= n:
                    break
                if data[i] == 0x75:
                    for k in range(1, 5):
                        if i + k >= n:
                            return i + k, "unexpected end of JSON input"
                        if chr(data[i + k]) not in "0123456789abcdefABCDEF":
                            return i + k, bad(i + k, "in \\u hexadecimal character escape")
                    i += 4
                elif data[i] not in b'"\\/bfnrt':
                    return i, bad(i, "in string escape code")
            i += 1
        return i, "unexpected end of JSON input"

    def digits(i: int) -> int:
        while i < n and 0x30 <= data[i] <= 0x39:
            i += 1
        return i

    def number(i: int) -> tuple[int, str | None]:
        if data[i] == 0x2D:
            i += 1
            if i >= n:
                return i, "unexpected end of JSON input"
            if not 0x30 <= data[i] <= 0x39:
                return i, bad(i, "in numeric literal")
        i = i + 1 if data[i] == 0x30 else digits(i)
        if i < n and data[i] == 0x2E:
            i += 1
            if i >= n:
                return i, "unexpected end of JSON input"
            if not 0x30 <= data[i] <= 0x39:
                return i, bad(i, "after decimal point in numeric literal")
            i = digits(i)
        if i < n and data[i] in b"eE":
            i += 1
            if i < n and data[i] in b"+-":
                i += 1
            if i >= n:
                return i, "unexpected end of JSON input"
            if not 0x30 <= data[i] <= 0x39:
                return i, bad(i, "in exponent of numeric literal")
            i = digits(i)
        return i, None

    try:
        i, err = value(0)
    except RecursionError:
        return "exceeded max depth"
    if err:
        return err
    i = skip(i)
    return bad(i, "after top-level value") if i < n else None


# ---------------------------------------------------------------------------------------------------- YAML

_YAML_BASE: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_GO_PLAIN = "!go-plain"
_MERGE = "tag:yaml.org,2002:merge"
_YAML_MAP: dict[str, Any] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), float("nan")),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), float("inf")),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), float("-inf")),
}
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_GO_INT = re.compile(r"[-+]?(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[1-9][0-9]*|0)")


def _go_int(s: str) -> int | None:
    """``strconv.ParseInt(s, 0, 64)``, falling back to ParseUint, as go-yaml v2 tries them."""
    if not _GO_INT.fullmatch(s):
        return None
    sign, body = (-1, s[1:]) if s[0] == "-" else (1, s[1:] if s[0] == "+" else s)
    low = body[:2].lower()
    base = 16 if low == "0x" else 8 if low == "0o" else 2 if low == "0b" else 8 if body[:1] == "0" else 10
    v = sign * int(body[2:] if low in ("0x", "0o", "0b") else body, base)
    if -(1 << 63) <= v < 1 << 63 or (0 <= v < 1 << 64 and s[0] != "+" and sign > 0):
        return v
    return None


def go_yaml_scalar(s: str) -> Any:
    """go-yaml v2's ``resolve`` for a plain (unquoted, untagged) scalar decoded into ``interface{}``."""
    if s in _YAML_MAP:
        return _YAML_MAP[s]
    c = s[:1]
    if c == ".":
        if "_" not in s:
            try:
                return float(s)
            except ValueError:
                pass
    elif c and c in "+-0123456789":
        plain = s.replace("_", "")
        v = _go_int(plain)
        if v is not None:
            return v
        if _YAML_FLOAT.fullmatch(plain):
            return float(plain)
        if plain.startswith("-0b") and plain[3:] and set(plain[3:]) <= {"0", "1"}:
            v = -int(plain[3:], 2)
            if v >= -(1 << 63):                     # ParseInt(..., 64); beyond int64 go-yaml keeps the string
                return v
    return s


def _float32_key(f: float) -> str:
    """``strconv.FormatFloat(f, 'g', -1, 32)``: sigs.k8s.io/yaml writes float map keys at float32 precision."""
    if f != f:
        return ".nan"
    if f in (float("inf"), float("-inf")):
        return ".inf" if f > 0 else "-.inf"
    import struct
    try:
        target = struct.unpack("<f", struct.pack("<f", f))[0]
    except OverflowError:                           # Go's float32(f) is ±Inf beyond float32's range
        return ".inf" if f > 0 else "-.inf"
    for digits in range(1, 10):
        s = f"{target:.{digits}g}"
        if struct.unpack("<f", struct.pack("<f", float(s)))[0] == target:
            break
    mant, _, exp = s.partition("e")
    if exp:
        sign, num = (exp[0], exp[1:]) if exp[0] in "+-" else ("+", exp)
        s = f"{mant}e{sign}{int(num):02d}"
    return s


class _GoYAMLLoader(_YAML_BASE):  # type: ignore[misc]
    """PyYAML with go-yaml v2's scalar resolution and sigs.k8s.io/yaml's JSON conversion of keys and values."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.dup_errors: list[str] = []

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            return _MERGE if value == "<<" else _GO_PLAIN
        return super().resolve(kind, value, implicit)

    def construct_sequence(self, node: Any, deep: bool = False) -> list[Any]:
        return [_jsonable(self.construct_object(child, deep=True)) for child in node.value]

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[str, Any]:
        self.flatten_mapping(node)
        out: dict[str, Any] = {}
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            value = _jsonable(self.construct_object(value_node, deep=True))
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(None, None, f"invalid map key: {key!r}",
                                                        key_node.start_mark) from None
            marker = (type(key), key)
            if marker in seen:
                shown = orjson.dumps(key).decode() if isinstance(key, str) else _key_string(key, value)
                self.dup_errors.append(f"line {value_node.start_mark.line + 1}: key {shown} already set in map")
            seen.add(marker)
            out[_key_string(key, value)] = value
        return out


def _key_string(key: Any, value: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        return _float32_key(key)
    raise BodyError(f"unsupported map key of type: {type(key).__name__}, key: {key!r}, value: {value!r}")


def _jsonable(v: Any) -> Any:
    """The value as sigs.k8s.io/yaml hands it to encoding/json (which writes integral floats as integers)."""
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise BodyError(f"json: unsupported value: {'NaN' if v != v else '+Inf' if v > 0 else '-Inf'}")
        return int(v) if v.is_integer() and abs(v) < 1e21 else v
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, (set, frozenset)):
        return dict.fromkeys(sorted(map(str, v)))
    return v


_GoYAMLLoader.add_constructor(_GO_PLAIN, lambda loader, node: go_yaml_scalar(node.value))
_GoYAMLLoader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: node.value)
_GoYAMLLoader.add_constructor("tag:yaml.org,2002:map", _GoYAMLLoader.construct_mapping)
_GoYAMLLoader.add_constructor("tag:yaml.org,2002:seq", _GoYAMLLoader.construct_sequence)


def _parse_yaml(body: bytes, duplicates: list[str] | None) -> Any:
    loader = _GoYAMLLoader(body.decode("utf-8", "replace"))
    try:
        obj = _jsonable(loader.get_single_data())
    except BodyError as e:
        raise BodyError(e.message, body=body) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        if "expected a single document" in str(e):
            raise BodyError("yaml: a request body holds one object, not a multi-document stream", body=body) from None
        raise BodyError(f"yaml: {where}{problem}", body=body) from None
    finally:
        loader.dispose()
    if duplicates is not None and loader.dup_errors:
        duplicates.append("yaml: unmarshal errors:\n  " + "\n  ".join(loader.dup_errors))
    return obj
