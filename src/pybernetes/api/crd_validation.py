"""Validating and defaulting custom resources against a CRD's structural OpenAPI v3 schema.

Covers what structural schemas allow (apiextensions ``pkg/apiserver/validation``): types (with
``x-kubernetes-int-or-string``, nullable), ``required``, ``enum``, numeric bounds (``minimum``/``maximum``
with exclusive variants, ``multipleOf``), string ``minLength``/``maxLength``/``pattern``/``format`` (the formats
upstream checks), array ``minItems``/``maxItems``/``uniqueItems`` and list-type uniqueness, object
``minProperties``/``maxProperties``, ``additionalProperties`` schemas, and defaults. Messages follow the
apiextensions wording (``Unsupported value``, ``Required value``, ``Invalid value: "string": spec.x in body must be
of type integer: "string"``). CEL rules (``x-kubernetes-validations``) are not evaluated.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from pybernetes.api import field as fe
from pybernetes.api.field import FieldError, Path

_TYPE_NAMES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    return _TYPE_NAMES.get(type(v), "unknown")


def _type_ok(v: Any, typ: str) -> bool:
    if typ == "integer":
        return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())
    if typ == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if typ == "string":
        return isinstance(v, str)
    if typ == "boolean":
        return isinstance(v, bool)
    if typ == "array":
        return isinstance(v, list)
    if typ == "object":
        return isinstance(v, dict)
    return True


def apply_defaults(obj: Any, schema: dict[str, Any]) -> None:
    """Fill ``default`` values of absent properties, recursively (as the structural defaulting does)."""
    if isinstance(obj, dict):
        props = schema.get("properties") or {}
        for name, sub in props.items():
            if name not in obj and "default" in sub:
                obj[name] = copy.deepcopy(sub["default"])
            if name in obj:
                apply_defaults(obj[name], sub)
        ap = schema.get("additionalProperties")
        if isinstance(ap, dict):
            for k, v in obj.items():
                if k not in props:
                    apply_defaults(v, ap)
    elif isinstance(obj, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for v in obj:
                apply_defaults(v, items)


def validate(obj: dict[str, Any], schema: dict[str, Any], *, skip_status: bool = False) -> list[FieldError]:
    errs: list[FieldError] = []
    props = schema.get("properties") or {}
    for name, sub in props.items():
        if name in ("metadata", "apiVersion", "kind"):
            continue
        if skip_status and name == "status":
            continue
        if name in obj:
            _check(obj[name], sub, Path(name), errs)
    for name in schema.get("required") or []:
        if name not in obj and name not in ("metadata", "apiVersion", "kind"):
            errs.append(fe.required(Path(name), ""))
    return errs


def _check(v: Any, s: dict[str, Any], path: Path, errs: list[FieldError]) -> None:
    if v is None:
        if s.get("nullable"):
            return
        if s.get("type") or s.get("x-kubernetes-int-or-string"):
            errs.append(fe.FieldError(fe.ErrorType.TYPE_INVALID, str(path), "null",
                                      f"{path} in body must be of type {s.get('type', 'string')}: \"null\""))
        return
    if s.get("x-kubernetes-int-or-string"):
        if not (isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool))):
            errs.append(fe.FieldError(fe.ErrorType.TYPE_INVALID, str(path), _json_type(v),
                                      f"{path} in body must be of type integer,string: \"{_json_type(v)}\""))
        return
    typ = s.get("type")
    if typ and not _type_ok(v, typ):
        errs.append(fe.FieldError(fe.ErrorType.TYPE_INVALID, str(path), _json_type(v),
                                  f"{path} in body must be of type {typ}: \"{_json_type(v)}\""))
        return
    if "enum" in s and v not in s["enum"]:
        errs.append(fe.not_supported(path, v, [e if isinstance(e, str) else str(e) for e in s["enum"]]))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        _numeric(v, s, path, errs)
    elif isinstance(v, str):
        _string(v, s, path, errs)
    elif isinstance(v, list):
        if "minItems" in s and len(v) < s["minItems"]:
            errs.append(fe.invalid(path, len(v), f"{path} in body should have at least {s['minItems']} items"))
        if "maxItems" in s and len(v) > s["maxItems"]:
            errs.append(fe.too_many(path, len(v), s["maxItems"]))
        if s.get("uniqueItems") or s.get("x-kubernetes-list-type") == "set":
            seen: list[Any] = []
            for i, item in enumerate(v):
                if item in seen:
                    errs.append(fe.duplicate(path.index(i), item))
                seen.append(item)
        items = s.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(v):
                _check(item, items, path.index(i), errs)
        if s.get("x-kubernetes-list-type") == "map":
            keys = s.get("x-kubernetes-list-map-keys") or []
            seen_keys: set[str] = set()
            for i, item in enumerate(v):
                if isinstance(item, dict):
                    k = repr([item.get(x) for x in keys])
                    if k in seen_keys:
                        errs.append(fe.duplicate(path.index(i), {x: item.get(x) for x in keys}))
                    seen_keys.add(k)
    elif isinstance(v, dict):
        props = s.get("properties") or {}
        for name, sub in props.items():
            if name in v:
                _check(v[name], sub, path.child(name), errs)
        for name in s.get("required") or []:
            if name not in v:
                errs.append(fe.required(path.child(name), ""))
        ap = s.get("additionalProperties")
        if isinstance(ap, dict):
            for k, item in v.items():
                if k not in props:
                    _check(item, ap, path.child(k), errs)
        if "minProperties" in s and len(v) < s["minProperties"]:
            errs.append(fe.invalid(path, len(v), f"{path} in body should have at least {s['minProperties']} "
                                   "properties"))
        if "maxProperties" in s and len(v) > s["maxProperties"]:
            errs.append(fe.too_many(path, len(v), s["maxProperties"]))


def _numeric(v: float, s: dict[str, Any], path: Path, errs: list[FieldError]) -> None:
    if "minimum" in s:
        lo = s["minimum"]
        if v < lo or (s.get("exclusiveMinimum") and v == lo):
            op = "greater than" if s.get("exclusiveMinimum") else "greater than or equal to"
            errs.append(fe.invalid(path, v, f"{path} in body should be {op} {lo}"))
    if "maximum" in s:
        hi = s["maximum"]
        if v > hi or (s.get("exclusiveMaximum") and v == hi):
            op = "less than" if s.get("exclusiveMaximum") else "less than or equal to"
            errs.append(fe.invalid(path, v, f"{path} in body should be {op} {hi}"))
    m = s.get("multipleOf")
    if m and (v / m) != int(v / m):
        errs.append(fe.invalid(path, v, f"{path} in body should be a multiple of {m}"))


_FORMATS = {
    "date-time": re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"),
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "ipv4": re.compile(r"^((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)$"),
    "uuid": re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"),
    "byte": re.compile(r"^[A-Za-z0-9+/]*={0,2}$"),
}


def _string(v: str, s: dict[str, Any], path: Path, errs: list[FieldError]) -> None:
    if "minLength" in s and len(v) < s["minLength"]:
        errs.append(fe.invalid(path, v, f"{path} in body should be at least {s['minLength']} chars long"))
    if "maxLength" in s and len(v) > s["maxLength"]:
        errs.append(fe.too_long(path, v, s["maxLength"]))
    pat = s.get("pattern")
    if pat:
        try:
            if not re.search(pat, v):
                errs.append(fe.invalid(path, v, f"{path} in body should match '{pat}'"))
        except re.error:
            pass
    fmt = s.get("format")
    rx = _FORMATS.get(fmt or "")
    if rx is not None and v and not rx.match(v):
        errs.append(fe.invalid(path, v, f"{path} in body must be of type {fmt}: \"{v}\""))
