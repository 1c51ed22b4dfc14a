"""Server-side Table printing: what ``kubectl get`` shows.

kubectl asks for ``application/json;as=Table;v=v1;g=meta.k8s.io`` and prints the columns the server sends, so the
columns and cells here are upstream 1.33's, kind by kind (``pkg/printers/internalversion/printers.go`` for the
built-ins, kube-aggregator for APIService, the apiextensions convertor for custom resources, the generic
NAME/CREATED AT table for every other kind). Upstream's server prints "wide": ``priority: 1`` columns are always
sent and kubectl shows them with ``-o wide`` only.

    table = to_table(res, objs)                     # rows with PartialObjectMetadata objects
    table["metadata"] = {"resourceVersion": rv}     # the caller owns the list metadata

Modules split by API group; each exposes ``PRINTERS``, a map from (group, kind) to a :class:`Printer`, the kind's
fixed columns plus its row function. Column definitions are built once at import.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pybernetes.api.errors import BadRequest
from pybernetes.api.meta import format_rfc3339
from pybernetes.api.resources import Resource
from pybernetes.api.tables import (
    apps,
    autoscaling,
    batch,
    controlplane,
    core,
    events,
    networking,
    pod,
    rbac,
    storage,
)
from pybernetes.api.tables.age import parse_timestamp
from pybernetes.api.tables.crd import crd_printer
from pybernetes.api.tables.descriptions import DOCS
from pybernetes.api.tables.printer import NAME, Column, Obj, Printer, column

__all__ = ["DEFAULT_PRINTER", "INCLUDE_OBJECT", "PRINTERS", "Printer", "column_definitions", "printer_for",
           "to_table"]

INCLUDE_OBJECT = ("None", "Metadata", "Object")
_ZERO_TIME = "0001-01-01T00:00:00Z"


def _created_at(value: Any) -> str:
    """``creationTimestamp.UTC().Format(time.RFC3339)``; Go's zero time when unset."""
    if isinstance(value, str) and len(value) == 20 and value.endswith("Z"):
        return value
    t = parse_timestamp(value)
    return _ZERO_TIME if t is None else format_rfc3339(t)


def _default_cells(obj: Obj, now: datetime) -> list[Any]:
    meta = obj.get("metadata") or {}
    return [meta.get("name", ""), _created_at(meta.get("creationTimestamp"))]


# The generic table (``rest.NewDefaultTableConvertor``): kinds without a printer (Role, LimitRange, CRDs, …).
DEFAULT_PRINTER = Printer((NAME, column("Created At", "date", DOCS["meta.ObjectMeta.creationTimestamp"])),
                          _default_cells)

PRINTERS: dict[tuple[str, str], Printer] = {}
for _module in (pod, core, events, apps, batch, networking, storage, rbac, autoscaling, controlplane):
    PRINTERS.update(_module.PRINTERS)


def printer_for(res: Resource) -> Printer:
    """The printer of a served resource: its kind's, the CRD's columns, or the default table."""
    if res.custom:
        return crd_printer(res)
    return PRINTERS.get((res.group, res.kind), DEFAULT_PRINTER)


def column_definitions(res: Resource) -> list[Column]:
    """The ``columnDefinitions`` of ``res``'s Tables."""
    return list(printer_for(res).columns)


def _row_object(obj: Obj, mode: str, api_version: str) -> Obj | None:
    if mode == "Metadata":
        return {"kind": "PartialObjectMetadata", "apiVersion": api_version, "metadata": obj.get("metadata") or {}}
    if mode == "Object":
        return obj
    return None


def to_table(res: Resource, objs: list[dict[str, Any]], *, include_object: str = "Metadata",
             api_version: str = "meta.k8s.io/v1", now: datetime | None = None,
             no_headers: bool = False) -> dict[str, Any]:
    """A ``metav1.Table`` of ``objs`` (objects of ``res``, in the served version) as JSON.

    ``include_object`` is the ``includeObject`` table option: "Metadata" (also for "") puts a
    PartialObjectMetadata of ``api_version`` in each row, "Object" the object itself, "None" a null; anything
    else is a 400 as upstream. ``no_headers`` is upstream's internal ``TableOptions.NoHeaders`` (not a query
    parameter): null column definitions — upstream's watch sends headers with the first event only and sets
    it for every later one. ``now`` is the clock for ages (default: now, UTC).
    The Table's ``metadata`` is left empty: the caller fills ``resourceVersion``/``continue`` (for a single
    object upstream uses the object's resourceVersion).
    """
    mode = include_object or "Metadata"
    if mode not in INCLUDE_OBJECT:
        raise BadRequest(f'unrecognized includeObject value: "{mode}"')
    printer = printer_for(res)
    clock = now or datetime.now(UTC)
    if printer.sort_key is not None and len(objs) > 1:
        objs = sorted(objs, key=printer.sort_key)
    cells, conditions = printer.cells, printer.conditions
    rows: list[dict[str, Any]] = []
    append = rows.append
    for obj in objs:
        row: dict[str, Any] = {"cells": cells(obj, clock)}
        if conditions is not None and (conds := conditions(obj)):
            row["conditions"] = conds
        row["object"] = _row_object(obj, mode, api_version)
        append(row)
    return {"kind": "Table", "apiVersion": api_version, "metadata": {},
            "columnDefinitions": None if no_headers else list(printer.columns), "rows": rows}
