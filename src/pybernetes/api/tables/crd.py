"""Tables of custom resources: NAME, then the CRD version's ``additionalPrinterColumns``.

As upstream's apiextensions table convertor: each column's ``jsonPath`` is read with the Kubernetes JSONPath
dialect (missing keys allowed) and only its *first* result is used; a column that finds nothing, or whose value
has the wrong JSON type for the column's ``type``, is a null cell. ``string`` columns print the value as
``kubectl -o jsonpath`` would (maps and lists as JSON); ``integer`` truncates floats; ``number`` widens ints;
``date`` columns are sent as an age ("5m") — the server converts, not kubectl — with "<invalid>" for text that
is not RFC 3339. A CRD version without columns gets one: Age, a date column on ``.metadata.creationTimestamp``.

A column's description defaults to "Custom resource definition column (in JSONPath format): <path>". If a
``jsonPath`` does not parse, the table keeps the columns before it, as upstream does when it falls back.

Compiled columns are cached per resource and recompiled only when the CRD's column list object changes.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from pybernetes.api.meta import parse_time
from pybernetes.api.resources import Resource
from pybernetes.api.tables.age import human_duration
from pybernetes.api.tables.descriptions import DOCS
from pybernetes.api.tables.jsonpath import JSONPath, JSONPathError, parse_column, print_value
from pybernetes.api.tables.printer import NAME, Column, Obj, Printer, column

__all__ = ["DEFAULT_COLUMNS", "cell_value", "crd_printer"]

log = logging.getLogger(__name__)

DEFAULT_COLUMNS = ({"name": "Age", "type": "date", "description": DOCS["meta.ObjectMeta.creationTimestamp"],
                    "jsonPath": ".metadata.creationTimestamp"},)

_cache: dict[tuple[str, str, str], tuple[tuple[dict[str, Any], ...], Printer]] = {}


def cell_value(type_: str, value: Any, now: datetime) -> Any:
    """``cellForJSONValue``: a found value as a cell of a non-string column; None when the type does not fit."""
    if value is None:
        return None
    if type_ == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value) if value == value and abs(value) != float("inf") else None
    elif type_ == "number":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif type_ == "boolean":
        if isinstance(value, bool):
            return value
    elif type_ == "string":
        if isinstance(value, str):
            return value
    elif type_ == "date" and isinstance(value, str):
        if value in ("", "null"):
            return "<unknown>"
        try:
            t = parse_time(value)
        except ValueError:
            return "<invalid>"
        return human_duration(now - t)
    return None


def _compile(columns: tuple[dict[str, Any], ...]) -> Printer:
    defs: list[Column] = [NAME]
    paths: list[tuple[JSONPath, str]] = []
    for col in columns or DEFAULT_COLUMNS:
        json_path = col.get("jsonPath") or ""
        try:
            path = parse_column(json_path)
        except JSONPathError as err:
            log.warning("invalid printer column, falling back", extra={"jsonPath": json_path, "error": str(err)})
            break
        desc = col.get("description") or f"Custom resource definition column (in JSONPath format): {json_path}"
        defs.append(column(col.get("name") or "", col.get("type") or "", desc, format=col.get("format") or "",
                           priority=int(col.get("priority") or 0)))
        paths.append((path, col.get("type") or ""))
    frozen_paths = tuple(paths)

    def cells(obj: Obj, now: datetime) -> list[Any]:
        out: list[Any] = [(obj.get("metadata") or {}).get("name", "")]
        for path, type_ in frozen_paths:
            found, value = path.first(obj)
            if not found:
                out.append(None)
            elif type_ == "string":
                out.append(print_value(value))
            else:
                out.append(cell_value(type_, value, now))
        return out

    return Printer(tuple(defs), cells)


def crd_printer(res: Resource) -> Printer:
    """The printer of a custom resource version, compiled once per CRD column list."""
    key = (res.group, res.version, res.plural)
    cached = _cache.get(key)
    if cached is not None and cached[0] is res.printer_columns:
        return cached[1]
    printer = _compile(res.printer_columns)
    _cache[key] = (res.printer_columns, printer)
    return printer
