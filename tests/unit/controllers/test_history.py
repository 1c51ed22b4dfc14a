"""ControllerRevision helpers: Go-compatible data bytes, FNV-32 names, ordering, equality, collision handling."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.controllers.fakeclient import harness

from pybernetes.api.selectors import label_selector_from_dict
from pybernetes.client.resources import CONTROLLERREVISIONS
from pybernetes.controllers.history import (
    HASH_LABEL,
    History,
    equal_revision,
    fnv32,
    hash_revision,
    new_revision,
    next_revision,
    owned_revisions,
    raw,
    revision_name,
    safe_encode,
    sort_revisions,
    template_patch,
)

Obj = dict[str, Any]
PARENT = {"metadata": {"name": "web", "namespace": "ns", "uid": "u1"}}


@pytest.mark.parametrize(("data", "want"), [(b"", 0x811C9DC5), (b"a", 0x050C5D7E), (b"foobar", 0x31F0B262)])
def test_fnv32_is_fnv1_not_fnv1a(data: bytes, want: int) -> None:
    assert fnv32(data) == want


@pytest.mark.parametrize(("value", "want"), [
    ({"b": 1, "a": {"d": [1, 2], "c": None}}, b'{"a":{"c":null,"d":[1,2]},"b":1}'),
    ({"cmd": "a<b && c>d"}, b'{"cmd":"a\\u003cb \\u0026\\u0026 c\\u003ed"}'),
    ({"s": "\u2028"}, b'{"s":"\\u2028"}'),
])
def test_raw_is_go_json_marshal(value: Any, want: bytes) -> None:
    assert raw(value) == want


def test_names_use_the_safe_alphabet_and_collision_count() -> None:
    data = template_patch({"spec": {"template": {"metadata": {"labels": {"a": "b"}}}}})
    assert data == {"spec": {"template": {"metadata": {"labels": {"a": "b"}}, "$patch": "replace"}}}
    h0, h1 = hash_revision(data, None), hash_revision(data, 1)
    assert h0 != h1 and h0 == hash_revision(data, None)
    assert h0 == safe_encode(str(fnv32(raw(data))))
    assert set(h0) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert revision_name("x" * 300, h0) == "x" * 223 + "-" + h0


def test_new_revision_is_owned_and_labelled() -> None:
    data = template_patch({"spec": {"template": {}}})
    cr = new_revision(PARENT, api_version="apps/v1", kind="StatefulSet", template_labels={"app": "x"}, data=data,
                      revision=4, collision_count=0, annotations={"note": "y"})
    h = hash_revision(data, 0)
    assert cr["metadata"] == {"name": f"web-{h}", "namespace": "ns", "labels": {"app": "x", HASH_LABEL: h},
                              "annotations": {"note": "y"},
                              "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web",
                                                   "uid": "u1", "controller": True, "blockOwnerDeletion": True}]}
    assert (cr["revision"], cr["data"]) == (4, data)


def test_sorting_equality_and_ownership() -> None:
    def rev(name: str, n: int, data: Obj, ref: str | None = None, labels: dict[str, str] | None = None) -> Obj:
        meta: Obj = {"name": name, "labels": labels or {"app": "x"}}
        if ref:
            meta["ownerReferences"] = [{"uid": ref, "controller": True}]
        return {"metadata": meta, "revision": n, "data": data}
    a, b, c = rev("a", 2, {"x": 1}), rev("b", 1, {"x": 2}, "u1"), rev("c", 3, {"x": 1}, "other")
    assert [r["metadata"]["name"] for r in sort_revisions([a, b, c])] == ["b", "a", "c"]
    assert next_revision(sort_revisions([a, b])) == 3 and next_revision([]) == 1
    assert equal_revision(a, c) and not equal_revision(a, b) and equal_revision(None, None)
    sel = label_selector_from_dict({"matchLabels": {"app": "x"}})
    off = rev("d", 1, {}, labels={"app": "y"})
    assert owned_revisions([a, b, c, off], PARENT, sel) == [a, b]


async def test_create_renames_on_a_collision_with_other_data() -> None:
    async with harness() as h:
        hist = History(h.client, h.informers.informer(CONTROLLERREVISIONS))
        data = template_patch({"spec": {"template": {"metadata": {"labels": {"v": "1"}}}}})
        body = new_revision(PARENT, api_version="apps/v1", kind="StatefulSet", template_labels={}, data=data,
                            revision=1, collision_count=0)
        squatter = {"metadata": {"name": body["metadata"]["name"]}, "data": {"other": True}, "revision": 9}
        await h.client.create(CONTROLLERREVISIONS, squatter, "ns")
        created, count = await hist.create(PARENT, body, 0)
        assert count == 1 and created["metadata"]["name"] == f"web-{hash_revision(data, 1)}"
        # Creating the same data again finds the existing revision instead of failing.
        again, count = await hist.create(PARENT, dict(body, metadata=dict(body["metadata"])), 1)
        assert (again["metadata"]["uid"], count) == (created["metadata"]["uid"], 1)
        renumbered = await hist.update_revision(created, 7)
        assert renumbered["revision"] == 7
