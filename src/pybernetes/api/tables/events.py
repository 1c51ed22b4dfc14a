"""The Event table, for core/v1 and events.k8s.io/v1 Events alike.

Upstream prints the internal Event type, so both served versions show the same columns: LAST SEEN, TYPE, REASON,
OBJECT ("pod/nginx"), MESSAGE, and with ``-o wide`` SUBOBJECT, SOURCE, FIRST SEEN, COUNT and NAME. Events written
through the new API carry ``eventTime``/``series`` instead of first/last timestamps and a count, so the cells fall
back: first seen from ``eventTime``, last seen from the series' ``lastObservedTime``, a count of 1 for a singleton.
An events.k8s.io/v1 object is read through the same field renaming the API uses to convert it (``regarding`` →
``involvedObject``, ``note`` → ``message``, ``deprecated*`` → the old fields).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pybernetes.api.conversion import event_events_to_core
from pybernetes.api.tables.age import since
from pybernetes.api.tables.descriptions import DOCS
from pybernetes.api.tables.printer import NAME, Obj, Printer, column

__all__ = ["PRINTERS", "event_cells"]

_EMPTY: dict[str, Any] = {}

COLUMNS = (
    column("Last Seen", "string", DOCS["core.Event.lastTimestamp"]),
    column("Type", "string", DOCS["core.Event.type"]),
    column("Reason", "string", DOCS["core.Event.reason"]),
    column("Object", "string", DOCS["core.Event.involvedObject"]),
    column("Subobject", "string", DOCS["core.ObjectReference.fieldPath"], priority=1),
    column("Source", "string", DOCS["core.Event.source"], priority=1),
    column("Message", "string", DOCS["core.Event.message"]),
    column("First Seen", "string", DOCS["core.Event.firstTimestamp"], priority=1),
    column("Count", "string", DOCS["core.Event.count"], priority=1),
    {**NAME, "priority": 1},
)


def _source(event: Obj) -> str:
    """``formatEventSource``: component (or reporting controller), then ", host" (or reporting instance) if set."""
    src = event.get("source") or _EMPTY
    component = src.get("component") or event.get("reportingComponent") or ""
    instance = src.get("host") or event.get("reportingInstance") or ""
    return f"{component}, {instance}" if instance else component


def event_cells(event: Obj, now: datetime) -> list[Any]:
    if "regarding" in event or "note" in event or event.get("apiVersion") == "events.k8s.io/v1":
        event = event_events_to_core(event)
    first = since(event.get("firstTimestamp"), now) if event.get("firstTimestamp") else since(
        event.get("eventTime"), now)
    last = since(event.get("lastTimestamp"), now) if event.get("lastTimestamp") else first
    count = event.get("count") or 0
    series = event.get("series")
    if series is not None:
        last = since(series.get("lastObservedTime"), now)
        count = series.get("count") or 0
    elif count == 0:
        count = 1
    ref = event.get("involvedObject") or _EMPTY
    kind = (ref.get("kind") or "").lower()
    target = f"{kind}/{ref['name']}" if ref.get("name") else kind
    return [last, event.get("type") or "", event.get("reason") or "", target, ref.get("fieldPath") or "",
            _source(event), (event.get("message") or "").strip(), first, count,
            (event.get("metadata") or _EMPTY).get("name", "")]


_PRINTER = Printer(COLUMNS, event_cells)
PRINTERS = {("", "Event"): _PRINTER, ("events.k8s.io", "Event"): _PRINTER}
