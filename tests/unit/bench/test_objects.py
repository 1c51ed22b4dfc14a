"""The objects the API benchmark writes."""

from __future__ import annotations

import pytest
from bench import objects


@pytest.mark.parametrize("kind", objects.KINDS)
def test_make_and_change_keep_identity_and_carry_the_stamp(kind: str) -> None:
    obj = objects.make(kind, "ns", "a", seq=3, stamp=12.5)
    assert obj["metadata"]["name"] == "a" and objects.stamp_of(obj) == 12.5
    stored = {**obj, "metadata": {**obj["metadata"], "resourceVersion": "7"}}
    changed = objects.changed(stored, seq=4, stamp=13.25)
    assert changed["metadata"]["resourceVersion"] == "7"
    assert changed["metadata"]["annotations"]["bench.pybernetes.io/seq"] == "4"
    assert objects.stamp_of(changed) == 13.25
    assert stored["metadata"].get("annotations") == {objects.STAMP: "12.5"}     # the input is left alone


def test_unknown_kind() -> None:
    with pytest.raises(ValueError):
        objects.make("secrets", "ns", "a")


def test_paths() -> None:
    assert objects.path("pods", "ns") == "/api/v1/namespaces/ns/pods"
    assert objects.path("pods", "ns", "x", query="watch=1") == "/api/v1/namespaces/ns/pods/x?watch=1"
