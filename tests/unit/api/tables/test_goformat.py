"""Go's fmt and encoding/json renderings of decoded JSON values."""

from __future__ import annotations

from typing import Any

import pytest

from pybernetes.api.tables.goformat import go_json, go_text


@pytest.mark.parametrize(("value", "want"), [
    (1.0, "1"), (0.5, "0.5"), (123456.0, "123456"), (1e6, "1e+06"), (1234567.5, "1.2345675e+06"),
    (0.0001, "0.0001"), (0.00001, "1e-05"), (-2.5, "-2.5"), (-0.0, "-0"), (float("nan"), "NaN"),
    (float("inf"), "+Inf"), (True, "true"), (7, "7"), ("s", "s"), (None, "<no value>"), ([1, "a"], '[1,"a"]'),
])
def test_go_text(value: Any, want: str) -> None:
    assert go_text(value) == want


@pytest.mark.parametrize(("value", "want"), [
    ({"b": 1, "a": [True, None]}, '{"a":[true,null],"b":1}'),
    ({"x": "<a&b>"}, '{"x":"\\u003ca\\u0026b\\u003e"}'),
    ("line\nbreak\ttab\x01", '"line\\nbreak\\ttab\\u0001"'),
    (1.0, "1"), (1e20, "100000000000000000000"), (1e21, "1e+21"), (1e-7, "1e-7"), (0.000001, "0.000001"),
    ("é", '"é"'),
])
def test_go_json(value: Any, want: str) -> None:
    assert go_json(value) == want
