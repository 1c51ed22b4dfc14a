"""Path elements: their spellings as upstream's FieldsV1 keys, Go's JSON for values, and the re-exports in fieldset."""

from __future__ import annotations

import pytest

from pybernetes.api import fieldset, pathelement
from pybernetes.api.pathelement import go_json, index, key, value


@pytest.mark.parametrize(("pe", "want"), [
    (key({"name": "web"}), 'k:{"name":"web"}'),
    (key({"protocol": "UDP", "containerPort": 53}), 'k:{"containerPort":53,"protocol":"UDP"}'),
    (value("x"), 'v:"x"'), (value(1.0), "v:1"), (value(True), "v:true"), (index(3), "i:3"),
])
def test_path_element_spelling(pe: str, want: str) -> None:
    assert pe == want


@pytest.mark.parametrize(("v", "want"), [
    ("a<b>&\u2028", '"a\\u003cb\\u003e\\u0026\\u2028"'), ("é\n", '"é\\n"'), (1e21, "1e+21"), (1e-7, "1e-7"),
    (0.5, "0.5"), (100.0, "100"), ({"b": 1, "a": [None, False]}, '{"a":[null,false],"b":1}'),
])
def test_go_json(v: object, want: str) -> None:
    assert go_json(v) == want


@pytest.mark.parametrize("name", ["Path", "canonical_pe", "field", "go_json", "go_quote", "index", "key", "make_path",
                                  "parse_pe", "path_string", "pe_sort_key", "pe_string", "value"])
def test_fieldset_still_exports_the_path_element_names(name: str) -> None:
    assert getattr(fieldset, name) is getattr(pathelement, name)
