"""What a printer is, and the cell formats several printers share.

A printer is upstream's ``TableHandler`` pair (column definitions + row function) as data: the columns are built
once at import and every call reuses them; ``cells`` turns one object into its row. Upstream's API server always
prints with ``Wide: true`` (kubectl hides ``priority: 1`` columns itself unless ``-o wide``), so every row
carries every column.

The helpers below are the Go formatting functions the printers lean on (``labels.FormatLabels``,
``metav1.FormatLabelSelector``, ``layoutContainerCells``, ``Quantity.String`` …), over plain dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pybernetes.api.quantity import parse_quantity_json
from pybernetes.api.selectors import label_selector_from_dict
from pybernetes.api.tables.age import since
from pybernetes.api.tables.descriptions import DOCS

Obj = dict[str, Any]
Column = dict[str, Any]
Cells = Callable[[Obj, datetime], list[Any]]

__all__ = [
    "AGE", "NAME", "Cells", "Column", "Obj", "Printer", "age_of", "bool_ptr", "column", "containers_of",
    "format_label_selector", "format_labels", "int_or_string", "layout_containers", "list_with_more", "quantity",
    "selector_string",
]


@dataclass(frozen=True, slots=True)
class Printer:
    """The table of one kind: fixed columns, a row function, and the extras a few kinds have."""

    columns: tuple[Column, ...]
    cells: Cells
    # Row conditions (only Pods have them: Completed for Succeeded/Failed pods).
    conditions: Callable[[Obj], list[dict[str, str]] | None] | None = None
    # The order upstream imposes on a list's rows (FlowSchemas by matching precedence); None keeps list order.
    sort_key: Callable[[Obj], Any] | None = None


def column(name: str, type_: str, description: str, *, format: str = "", priority: int = 0) -> Column:
    """A ``metav1.TableColumnDefinition`` as JSON (every field is always present, as upstream writes them)."""
    return {"name": name, "type": type_, "format": format, "description": description, "priority": priority}


NAME = column("Name", "string", DOCS["meta.ObjectMeta.name"], format="name")
AGE = column("Age", "string", DOCS["meta.ObjectMeta.creationTimestamp"])
CONTAINERS = "Names of each container in the template."
IMAGES = "Images referenced by each container in the template."


def age_of(obj: Obj, now: datetime) -> str:
    """The AGE cell: time since ``metadata.creationTimestamp``."""
    return since((obj.get("metadata") or {}).get("creationTimestamp"), now)


def format_labels(labels: Mapping[str, str] | None) -> str:
    """``labels.FormatLabels``: ``k=v`` sorted by key, comma-joined; "<none>" when empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def format_label_selector(selector: Mapping[str, Any] | None) -> str:
    """``metav1.FormatLabelSelector``: the selector's string form, "<none>" when empty or nil, "<error>" if bad."""
    try:
        text = str(label_selector_from_dict(selector))
    except (ValueError, TypeError, AttributeError):
        return "<error>"
    return text or "<none>"


def selector_string(selector: Mapping[str, Any] | None) -> str:
    """``LabelSelectorAsSelector(s).String()`` as the Deployment printer uses it: "" when empty, "<invalid>" if bad."""
    try:
        return str(label_selector_from_dict(selector))
    except (ValueError, TypeError, AttributeError):
        return "<invalid>"


def containers_of(pod_template: Mapping[str, Any] | None) -> list[Obj]:
    """``template.spec.containers`` of a pod template, [] when any level is missing."""
    return ((pod_template or {}).get("spec") or {}).get("containers") or []


def layout_containers(containers: Iterable[Mapping[str, Any]]) -> tuple[str, str]:
    """``layoutContainerCells``: container names and images, each comma-joined."""
    names: list[str] = []
    images: list[str] = []
    for c in containers:
        names.append(c.get("name") or "")
        images.append(c.get("image") or "")
    return ",".join(names), ",".join(images)


def quantity(value: Any, *, missing: str = "0") -> str:
    """``Quantity.String()`` of a JSON quantity: its canonical form; ``missing`` for an absent one (Go's zero
    value prints "0"; a nil pointer prints "<nil>"); an unparsable one is shown as given."""
    if value is None:
        return missing
    try:
        return str(parse_quantity_json(value))
    except (ValueError, TypeError):
        return str(value)


def int_or_string(value: Any) -> str:
    """``intstr.IntOrString.String()``."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def bool_ptr(value: Any) -> str:
    """``printBoolPtr``: "True", "False", or "<unset>" for a nil pointer."""
    if value is None:
        return "<unset>"
    return "True" if value else "False"


def list_with_more(items: list[str], count: int, limit: int) -> str:
    """``listWithMoreString``: at most ``limit`` items, then " + N more..."; "<unset>" when there are none."""
    text = ",".join(items[:limit])
    if count > limit:
        return f"{text} + {count - limit} more..."
    return text or "<unset>"
