"""The Go formatting helpers the printers share."""

from __future__ import annotations

from typing import Any

import pytest

from pybernetes.api.tables.printer import (
    bool_ptr,
    column,
    format_label_selector,
    format_labels,
    int_or_string,
    layout_containers,
    list_with_more,
    quantity,
    selector_string,
)


@pytest.mark.parametrize(("labels", "want"), [
    (None, "<none>"), ({}, "<none>"), ({"b": "2", "a": "1"}, "a=1,b=2"), ({"k": ""}, "k="),
])
def test_format_labels(labels: dict[str, str] | None, want: str) -> None:
    assert format_labels(labels) == want


@pytest.mark.parametrize(("selector", "formatted", "plain"), [
    (None, "<none>", ""),
    ({}, "<none>", ""),
    ({"matchLabels": {"app": "web"}}, "app=web", "app=web"),
    ({"matchLabels": {"b": "1"}, "matchExpressions": [{"key": "a", "operator": "In", "values": ["y", "x"]}]},
     "a in (x,y),b=1", "a in (x,y),b=1"),
    ({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}, "<error>", "<invalid>"),
    ({"matchLabels": {"bad key!": "x"}}, "<error>", "<invalid>"),
])
def test_selectors(selector: dict[str, Any] | None, formatted: str, plain: str) -> None:
    assert format_label_selector(selector) == formatted
    assert selector_string(selector) == plain


def test_layout_containers() -> None:
    assert layout_containers([{"name": "a", "image": "x"}, {"name": "b"}]) == ("a,b", "x,")
    assert layout_containers([]) == ("", "")


@pytest.mark.parametrize(("value", "missing", "want"), [
    ("1024Mi", "0", "1Gi"), ("0.5", "0", "500m"), (2, "0", "2"), (None, "0", "0"), (None, "<nil>", "<nil>"),
    ("bogus", "0", "bogus"),
])
def test_quantity(value: Any, missing: str, want: str) -> None:
    assert quantity(value, missing=missing) == want


def test_small_formats() -> None:
    assert (int_or_string(3), int_or_string("50%")) == ("3", "50%")
    assert (bool_ptr(None), bool_ptr(True), bool_ptr(False)) == ("<unset>", "True", "False")
    assert list_with_more([], 0, 3) == "<unset>"
    assert list_with_more(["a", "b"], 2, 3) == "a,b"
    assert list_with_more(["a", "b", "c", "d"], 7, 3) == "a,b,c + 4 more..."
    assert column("X", "integer", "d", priority=1) == {"name": "X", "type": "integer", "format": "",
                                                        "description": "d", "priority": 1}
