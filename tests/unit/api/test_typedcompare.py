"""The create walk (``typedcompare.created_fields``) against the general comparison, byte for byte.

``update_managed_fields(None, obj)`` takes the fast path; ``update_managed_fields({}, obj)`` compares with an
empty old object, which is what the general path does for a create, so the two must write identical entries.
Objects: every upstream round-trip fixture of ``../shared/k8s-api/testdata`` (all fields of every kind filled),
the cluster-recorded creates of ``test_managedfields``, and shapes a client may send (nulls, empty lists,
duplicates, wrongly typed values, items missing their keys).
"""

from __future__ import annotations

import copy
import pathlib
from typing import Any

import orjson
import pytest
from tests.unit.api.test_managedfields import CREATES

from pybernetes.api.fieldset import FieldSet, sorted_tree, union
from pybernetes.api.managedfields import reset_fields, update_managed_fields
from pybernetes.api.ssatypes import root_node
from pybernetes.api.typedcompare import compare_trees, created_fields
from pybernetes.api.typeinfo import TypeInfo, from_openapi, of_kind, of_message

TESTDATA = pathlib.Path(__file__).resolve().parents[3] / ".." / "shared" / "k8s-api" / "testdata"
MAIN = reset_fields(has_status_subresource=True)
STATUS = reset_fields(subresource="status", has_status_subresource=True)
POD = of_kind("v1", "Pod")
T0 = "2024-09-30T19:31:32Z"


def _fixtures() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for p in sorted(TESTDATA.glob("*.json")):
        obj = orjson.loads(p.read_bytes())
        if isinstance(obj, dict) and isinstance(obj.get("metadata"), dict):
            obj["metadata"].pop("managedFields", None)
            out.append((p.stem, obj))
    return out


FIXTURES = _fixtures()


def _record(old: dict[str, Any] | None, obj: dict[str, Any], ti: TypeInfo, ignored: FieldSet | None,
            subresource: str = "") -> bytes:
    new = copy.deepcopy(obj)
    update_managed_fields(old, new, manager="m", ti=ti, now=T0, api_version=str(obj.get("apiVersion") or "v1"),
                          ignored=ignored, subresource=subresource)
    return orjson.dumps(new["metadata"].get("managedFields"))


def _same_as_general(obj: dict[str, Any], ti: TypeInfo, ignored: FieldSet | None, subresource: str = "") -> bytes:
    fast = _record(None, obj, ti, ignored, subresource)
    assert fast == _record({}, obj, ti, ignored, subresource)
    assert fast == _record(None, obj, ti, ignored, subresource)       # again: the spec's fields remembered
    return fast


def test_fixtures_are_there() -> None:
    assert len(FIXTURES) > 150


@pytest.mark.parametrize("ignored", [MAIN, STATUS, None], ids=["main", "status", "none"])
@pytest.mark.parametrize(("stem", "obj"), FIXTURES, ids=[s for s, _ in FIXTURES])
def test_fixture_create_is_recorded_as_the_general_path_does(stem: str, obj: dict[str, Any],
                                                             ignored: FieldSet | None) -> None:
    ti = of_message(stem)
    assert ti is not None
    assert _same_as_general(obj, ti, ignored) != b"null"


@pytest.mark.parametrize(("stem", "obj"), FIXTURES[::7], ids=[s for s, _ in FIXTURES[::7]])
def test_fixture_as_unstructured_custom_resource(stem: str, obj: dict[str, Any]) -> None:
    crd = from_openapi({"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    _same_as_general(obj, crd, MAIN)


@pytest.mark.parametrize(("ti", "manager", "obj", "want"), CREATES)
def test_cluster_recorded_creates(ti: TypeInfo, manager: str, obj: dict[str, Any], want: str) -> None:
    fast = _same_as_general(obj, ti, MAIN)
    assert orjson.loads(fast)[0]["fieldsV1"] == orjson.loads(want)


def _pod(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default", "labels": {"a": "b"}},
            "spec": spec, "status": {"phase": "Pending"}}


C = {"name": "c", "image": "nginx"}
ODD_PODS = {
    "empty": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}},
    "spec_null": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": None},
    "spec_not_a_map": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": "x"},
    "metadata_only_stripped": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "generation": 3}},
    "containers_null": _pod(containers=None),
    "containers_empty": _pod(containers=[]),
    "containers_not_a_list": _pod(containers={"name": "c"}),
    "duplicate_containers": _pod(containers=[C, C, {"name": "d", "image": "x"}]),
    "duplicates_differ": _pod(containers=[C, {**C, "image": "other"}]),
    "item_without_key": _pod(containers=[{"image": "x"}]),
    "item_not_a_map": _pod(containers=["c"]),
    "item_null": _pod(containers=[None]),
    "unsorted_items": _pod(containers=[{"name": "z", "image": "x"}, {"name": "a", "image": "y"}],
                           tolerations=[{"key": "b"}, {"key": "a", "operator": "Exists"}]),
    "set_with_duplicates": _pod(containers=[{**C, "args": ["a", "a"]}],
                                securityContext={"supplementalGroups": [3, 1, 3]}),
    "zero_values": _pod(containers=[{**C, "resources": {}, "ports": [{"containerPort": 80, "protocol": "TCP"}]}],
                        securityContext={}, hostNetwork=False, priority=0),
    "unknown_fields": _pod(containers=[{**C, "bogus": {"x": 1}}], bogus=[1, 2]),
    "status_set": {**_pod(containers=[C]), "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
    "non_ascii_keys": {**_pod(containers=[C]), "metadata": {"name": "p", "labels": {"é": "1", "z": "2", "a": "3"}}},
    "annotations_and_owners": {**_pod(containers=[C]), "metadata": {
        "name": "p", "annotations": {"b": "", "a": "x"}, "finalizers": ["f", "f"],
        "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "n", "uid": "2"},
                            {"apiVersion": "v1", "kind": "X", "name": "n", "uid": "1"}]}},
}


@pytest.mark.parametrize("ignored", [MAIN, STATUS, None], ids=["main", "status", "none"])
@pytest.mark.parametrize("subresource", ["", "scale"])
@pytest.mark.parametrize("name", sorted(ODD_PODS))
def test_odd_pods(name: str, ignored: FieldSet | None, subresource: str) -> None:
    assert POD is not None
    _same_as_general(ODD_PODS[name], POD, ignored, subresource)


@pytest.mark.parametrize("name", sorted(ODD_PODS))
def test_created_fields_is_the_sorted_union_of_modified_and_added(name: str) -> None:
    assert POD is not None
    root = root_node(POD)
    obj = ODD_PODS[name]
    _, mod, add = compare_trees(None, obj, root)
    got = created_fields(obj, root)
    assert got == union(mod, add)
    assert orjson.dumps(got) == orjson.dumps(sorted_tree(got))


def test_request_managed_fields_take_the_general_path() -> None:
    """A create that sends valid managed fields starts from them (upstream decodeLiveOrNew)."""
    assert POD is not None
    obj = copy.deepcopy(ODD_PODS["duplicate_containers"])
    obj["metadata"]["managedFields"] = [{"manager": "other", "operation": "Update", "apiVersion": "v1",
                                         "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {}}}}]
    entries = orjson.loads(_same_as_general(obj, POD, MAIN))
    assert [e["manager"] for e in entries] == ["m"]      # the other manager's only field was taken over


def test_replicas_share_the_spec_walk_but_not_their_metadata() -> None:
    """Two Pods with one spec: the second one's spec fields come from the memo; its own labels still count."""
    assert POD is not None
    a = copy.deepcopy(ODD_PODS["unsorted_items"])
    b = copy.deepcopy(a)
    b["metadata"] = {"name": "q", "labels": {"other": "x"}, "annotations": {"n": "1"}}
    ea, eb = orjson.loads(_same_as_general(a, POD, MAIN)), orjson.loads(_same_as_general(b, POD, MAIN))
    assert ea[0]["fieldsV1"]["f:spec"] == eb[0]["fieldsV1"]["f:spec"]
    assert eb[0]["fieldsV1"]["f:metadata"] == {"f:annotations": {".": {}, "f:n": {}},
                                               "f:labels": {".": {}, "f:other": {}}}
    c = copy.deepcopy(a)
    c["spec"]["containers"][0]["image"] = ""                  # same shape, another value: still its own entry
    c["spec"]["hostNetwork"] = False
    ec = orjson.loads(_same_as_general(c, POD, MAIN))
    assert ec[0]["fieldsV1"]["f:spec"] == {**ea[0]["fieldsV1"]["f:spec"]} | {"f:hostNetwork": {}}
