"""Custom resource tables: additionalPrinterColumns read with JSONPath, typed cells, the default Age column."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pybernetes.api.resources import Resource
from pybernetes.api.tables.crd import cell_value, crd_printer

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
COLUMNS = (
    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
    {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
     "description": "Whether the widget is ready"},
    {"name": "Selector", "type": "string", "jsonPath": ".spec.selector", "priority": 1},
    {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio"},
    {"name": "Paused", "type": "boolean", "jsonPath": ".spec.paused"},
    {"name": "Started", "type": "date", "jsonPath": ".status.startTime"},
    {"name": "Phase", "type": "string", "format": "byte", "jsonPath": ".status.phase"},
)


def crd(columns: tuple[dict[str, Any], ...] = COLUMNS, version: str = "v1") -> Resource:
    return Resource(group="example.com", version=version, kind="Widget", plural="widgets", singular="widget",
                    namespaced=True, custom=True, crd_name="widgets.example.com", printer_columns=columns)


WIDGET = {"apiVersion": "example.com/v1", "kind": "Widget",
          "metadata": {"name": "w1", "namespace": "default", "creationTimestamp": "2025-03-01T11:00:00Z"},
          "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "w"}}, "ratio": 1, "paused": False},
          "status": {"conditions": [{"type": "Synced", "status": "True"}, {"type": "Ready", "status": "False"}],
                     "startTime": "2025-03-01T11:57:57Z", "phase": None}}


def test_columns() -> None:
    cols = crd_printer(crd()).columns
    assert [(c["name"], c["type"], c["format"], c["priority"]) for c in cols] == [
        ("Name", "string", "name", 0), ("Replicas", "integer", "", 0), ("Ready", "string", "", 0),
        ("Selector", "string", "", 1), ("Ratio", "number", "", 0), ("Paused", "boolean", "", 0),
        ("Started", "date", "", 0), ("Phase", "string", "byte", 0)]
    assert cols[1]["description"] == "Custom resource definition column (in JSONPath format): .spec.replicas"
    assert cols[2]["description"] == "Whether the widget is ready"


def test_cells() -> None:
    assert crd_printer(crd()).cells(WIDGET, NOW) == [
        "w1", 3, "False", '{"matchLabels":{"app":"w"}}', 1.0, False, "2m3s", "<no value>"]
    bare = {"metadata": {"name": "w2"}}
    assert crd_printer(crd()).cells(bare, NOW) == ["w2", None, None, None, None, None, None, None]


def test_default_age_column() -> None:
    p = crd_printer(crd(columns=()))
    assert [(c["name"], c["type"]) for c in p.columns] == [("Name", "string"), ("Age", "date")]
    assert p.columns[1]["description"].startswith("CreationTimestamp is a timestamp")
    assert p.cells(WIDGET, NOW) == ["w1", "60m"]


def test_invalid_column_keeps_the_columns_before_it() -> None:
    cols = (COLUMNS[0], {"name": "Bad", "type": "string", "jsonPath": ".spec[x]"}, COLUMNS[1])
    p = crd_printer(crd(columns=cols, version="v2"))
    assert [c["name"] for c in p.columns] == ["Name", "Replicas"]
    assert p.cells(WIDGET, NOW) == ["w1", 3]


def test_printer_is_cached_until_the_columns_change() -> None:
    r = crd(version="v3")
    assert crd_printer(r) is crd_printer(r)
    changed = crd(columns=COLUMNS[:1], version="v3")
    assert [c["name"] for c in crd_printer(changed).columns] == ["Name", "Replicas"]


@pytest.mark.parametrize(("type_", "value", "want"), [
    ("integer", 3, 3), ("integer", 2.9, 2), ("integer", -2.9, -2), ("integer", "3", None), ("integer", True, None),
    ("number", 2, 2.0), ("number", 2.5, 2.5), ("number", "2.5", None), ("number", False, None),
    ("boolean", True, True), ("boolean", "true", None), ("boolean", 1, None),
    ("string", "x", "x"), ("string", 1, None),
    ("date", "2025-03-01T11:55:00Z", "5m"), ("date", "2025-03-01T13:55:00+02:00", "5m"),
    ("date", "2025-03-01 11:55:00", "<invalid>"), ("date", "yesterday", "<invalid>"), ("date", "", "<unknown>"),
    ("date", "null", "<unknown>"), ("date", 12, None),
    ("object", {"a": 1}, None), ("integer", None, None),
])
def test_cell_value(type_: str, value: Any, want: Any) -> None:
    got = cell_value(type_, value, NOW)
    assert got == want and type(got) is type(want)
