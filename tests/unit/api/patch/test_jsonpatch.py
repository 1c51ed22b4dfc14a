"""JSON patch as the API server applies it (gopkg.in/evanphx/json-patch.v4), quirks and messages included."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pybernetes.api.patch import GENERIC_INVALID, PatchError, jsonpatch


def doc() -> dict[str, Any]:
    return {"foo": "bar", "arr": [1, 2, 3], "obj": {"a": {"b": 1}, "nil": None}, "a/b": 1, "m~n": 2}


def changed(**members: Any) -> dict[str, Any]:
    d = doc()
    d.update(members)
    return d


OK = [
    # RFC 6902 basics
    ("add member", [{"op": "add", "path": "/baz", "value": "qux"}], changed(baz="qux")),
    ("add replaces a member", [{"op": "add", "path": "/foo", "value": [1]}], changed(foo=[1])),
    ("add inserts into array", [{"op": "add", "path": "/arr/1", "value": 9}], changed(arr=[1, 9, 2, 3])),
    ("add appends with -", [{"op": "add", "path": "/arr/-", "value": 4}], changed(arr=[1, 2, 3, 4])),
    ("add at len appends", [{"op": "add", "path": "/arr/3", "value": 4}], changed(arr=[1, 2, 3, 4])),
    ("add an array value", [{"op": "add", "path": "/obj/l", "value": ["x", "y"]}],
     changed(obj={"a": {"b": 1}, "nil": None, "l": ["x", "y"]})),
    ("add null", [{"op": "add", "path": "/n", "value": None}], changed(n=None)),
    ("add without value adds null", [{"op": "add", "path": "/n"}], changed(n=None)),
    ("remove member", [{"op": "remove", "path": "/foo"}], {k: v for k, v in doc().items() if k != "foo"}),
    ("remove array element", [{"op": "remove", "path": "/arr/0"}], changed(arr=[2, 3])),
    ("replace member", [{"op": "replace", "path": "/obj/a/b", "value": "x"}],
     changed(obj={"a": {"b": "x"}, "nil": None})),
    ("replace array element", [{"op": "replace", "path": "/arr/2", "value": 0}], changed(arr=[1, 2, 0])),
    ("move member", [{"op": "move", "from": "/foo", "path": "/obj/foo"}],
     {"arr": [1, 2, 3], "obj": {"a": {"b": 1}, "nil": None, "foo": "bar"}, "a/b": 1, "m~n": 2}),
    ("move within array", [{"op": "move", "from": "/arr/0", "path": "/arr/2"}], changed(arr=[2, 3, 1])),
    ("copy member", [{"op": "copy", "from": "/obj/a", "path": "/c"}], changed(c={"b": 1})),
    ("test then replace", [{"op": "test", "path": "/foo", "value": "bar"},
                           {"op": "replace", "path": "/foo", "value": "baz"},
                           {"op": "test", "path": "/foo", "value": "baz"}], changed(foo="baz")),
    ("test object ignores member order", [{"op": "test", "path": "/obj", "value": {"nil": None, "a": {"b": 1}}}],
     doc()),
    ("escapes ~1 and ~0", [{"op": "replace", "path": "/a~1b", "value": 5}, {"op": "remove", "path": "/m~0n"}],
     {"foo": "bar", "arr": [1, 2, 3], "obj": {"a": {"b": 1}, "nil": None}, "a/b": 5}),
    ("null body is no operation", None, doc()),
    ("empty list is no operation", [], doc()),
    # v4 behaviour that differs from the RFC's letter
    ("negative index reads from the end", [{"op": "replace", "path": "/arr/-1", "value": 0}], changed(arr=[1, 2, 0])),
    ("add at -1 appends", [{"op": "add", "path": "/arr/-1", "value": 9}], changed(arr=[1, 2, 3, 9])),
    ("add at -len-1 prepends", [{"op": "add", "path": "/arr/-4", "value": 9}], changed(arr=[9, 1, 2, 3])),
    ("remove at -1 removes the last", [{"op": "remove", "path": "/arr/-1"}], changed(arr=[1, 2])),
    ("replace of a missing member adds it", [{"op": "replace", "path": "/new", "value": 1}], changed(new=1)),
    ("copy of a missing member copies null", [{"op": "copy", "from": "/nope", "path": "/c"}], changed(c=None)),
    ("path without leading slash", [{"op": "replace", "path": "x/foo", "value": "y"}], changed(foo="y")),
    ("test of a missing member against null", [{"op": "test", "path": "/nope", "value": None},
                                               {"op": "test", "path": "/obj/nil", "value": None}], doc()),
    ("replace of the whole document by a scalar does nothing", [{"op": "replace", "path": "", "value": "x"}], doc()),
    ("replace the whole document", [{"op": "replace", "path": "", "value": {"x": 1}}], {"x": 1}),
    ("test the whole document", [{"op": "test", "path": "", "value": doc()}], doc()),
    ("array index with sign and zeros", [{"op": "replace", "path": "/arr/+01", "value": 7}], changed(arr=[1, 7, 3])),
]


@pytest.mark.parametrize(("ops", "want"), [pytest.param(o, w, id=n) for n, o, w in OK])
def test_apply(ops: Any, want: Any) -> None:
    original, original_ops = doc(), copy.deepcopy(ops)
    got = jsonpatch.apply(original, ops)
    assert got == want
    assert original == doc(), "the input document was mutated"
    assert ops == original_ops, "the operations were mutated"


def test_scalars_compare_by_json_type() -> None:
    jsonpatch.apply({"n": 1}, [{"op": "test", "path": "/n", "value": 1}])
    for other in (1.0, True, "1"):
        with pytest.raises(PatchError):
            jsonpatch.apply({"n": 1}, [{"op": "test", "path": "/n", "value": other}])


def test_result_shares_nothing_with_inputs() -> None:
    value = {"deep": {"x": 1}}
    ops = [{"op": "add", "path": "/v", "value": value}, {"op": "copy", "from": "/v", "path": "/w"}]
    d = {"keep": {"y": [1]}}
    got = jsonpatch.apply(d, ops)
    got["keep"]["y"].append(2)
    got["v"]["deep"]["x"] = 2
    assert got["w"] == {"deep": {"x": 1}}
    assert d == {"keep": {"y": [1]}}
    assert value == {"deep": {"x": 1}}


FAIL = [
    ([{"op": "add", "path": "/missing/x", "value": 1}],
     'add operation does not apply: doc is missing path: "/missing/x": missing value'),
    ([{"op": "add", "path": "", "value": {}}], 'add operation does not apply: doc is missing path: "": missing value'),
    ([{"op": "add", "path": "/foo/x", "value": 1}],
     'add operation does not apply: doc is missing path: "/foo/x": missing value'),
    ([{"op": "add", "path": "/obj/nil/x", "value": 1}],
     'add operation does not apply: doc is missing path: "/obj/nil/x": missing value'),
    ([{"op": "add", "path": "/arr/9", "value": 1}],
     "error in add for path: '/arr/9': Unable to access invalid index: 9: invalid index referenced"),
    ([{"op": "add", "path": "/arr/-5", "value": 1}],
     "error in add for path: '/arr/-5': Unable to access invalid index: -5: invalid index referenced"),
    ([{"op": "add", "path": "/arr/x", "value": 1}],
     "error in add for path: '/arr/x': value was not a proper array index: 'x': "
     'strconv.Atoi: parsing "x": invalid syntax'),
    ([{"op": "add", "value": 1}], "add operation failed to decode path: missing value"),
    ([{"op": "add", "path": 3, "value": 1}], "add operation failed to decode path: missing value"),
    ([{"op": "remove", "path": "/nope"}],
     "error in remove for path: '/nope': Unable to remove nonexistent key: nope: missing value"),
    ([{"op": "remove", "path": "/arr/-"}], "error in remove for path: '/arr/-': strconv.Atoi: parsing \"-\": "
     "invalid syntax"),
    ([{"op": "remove", "path": "/arr/3"}],
     "error in remove for path: '/arr/3': Unable to access invalid index: 3: invalid index referenced"),
    ([{"op": "remove", "path": ""}], 'remove operation does not apply: doc is missing path: "": missing value'),
    ([{"op": "replace", "path": "/arr/5", "value": 1}],
     "replace operation does not apply: doc is missing key: /arr/5: missing value"),
    ([{"op": "replace", "path": "/x/y", "value": 1}],
     "replace operation does not apply: doc is missing path: /x/y: missing value"),
    ([{"op": "replace", "path": 5, "value": 1}],
     "replace operation failed to decode path: json: cannot unmarshal number into Go value of type string"),
    ([{"op": "replace", "value": 1}],
     "replace operation failed to decode path: operation missing path field: missing value"),
    ([{"op": "move", "from": "/nope/x", "path": "/y"}],
     "move operation does not apply: doc is missing from path: /nope/x: missing value"),
    ([{"op": "move", "from": "/nope", "path": "/y"}],
     "error in move for path: 'nope': Unable to remove nonexistent key: nope: missing value"),
    ([{"op": "move", "from": "/obj", "path": "/obj/a/c"}],
     "move operation does not apply: doc is missing destination path: /obj/a/c: missing value"),
    ([{"op": "move", "path": "/y"}],
     "move operation failed to decode from: operation, missing from field: missing value"),
    ([{"op": "move", "from": "/foo", "path": "/arr/7"}],
     "error in move for path: '/arr/7': Unable to access invalid index: 7: invalid index referenced"),
    ([{"op": "test", "path": "/foo", "value": "baz"}], "testing value /foo failed: test failed"),
    ([{"op": "test", "path": "/foo"}], "testing value /foo failed: test failed"),
    ([{"op": "test", "path": "/arr", "value": [1, 2, "3"]}], "testing value /arr failed: test failed"),
    ([{"op": "test", "path": "/foo/x", "value": 1}],
     "test operation does not apply: is missing path: /foo/x: missing value"),
    ([{"op": "test", "path": "", "value": {}}], "testing value  failed: test failed"),
    ([{"op": "test", "path": "/arr/99999999999999999999", "value": 1}],
     "error in test for path: '/arr/99999999999999999999': strconv.Atoi: parsing \"99999999999999999999\": "
     "value out of range"),
    ([{"op": "copy", "from": "/foo", "path": "/nope/x"}],
     "copy operation does not apply: doc is missing destination path: /nope/x: missing value"),
    ([{"op": "copy", "from": "/arr/8", "path": "/x"}],
     "error in copy for from: '/arr/8': Unable to access invalid index: 8: invalid index referenced"),
    ([{"op": "copy", "from": "/foo", "path": "/arr/8"}],
     "error while adding value during copy: Unable to access invalid index: 8: invalid index referenced"),
    ([{"op": "frob", "path": "/foo"}], "Unexpected kind: frob"),
    ([{"path": "/foo"}], "Unexpected kind: unknown"),
    ([{"op": 1, "path": "/foo"}], "Unexpected kind: unknown"),
    ([None], "Unexpected kind: unknown"),
]


@pytest.mark.parametrize(("ops", "detail"), FAIL)
def test_failures_are_422_without_detail(ops: Any, detail: str) -> None:
    original = doc()
    with pytest.raises(PatchError) as info:
        jsonpatch.apply(original, ops)
    err = info.value
    assert (err.code, err.reason, err.message, err.detail) == (422, "Invalid", GENERIC_INVALID, detail)
    assert original == doc()


def test_first_failing_operation_stops_the_patch() -> None:
    with pytest.raises(PatchError) as info:
        jsonpatch.apply(doc(), [{"op": "add", "path": "/x", "value": 1}, {"op": "test", "path": "/x", "value": 2},
                                {"op": "remove", "path": "/nope"}])
    assert info.value.detail == "testing value /x failed: test failed"


@pytest.mark.parametrize(("ops", "message"), [
    ({"op": "add"}, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"),
    (5, "json: cannot unmarshal number into Go value of type jsonpatch.Patch"),
    ("x", "json: cannot unmarshal string into Go value of type jsonpatch.Patch"),
    ([{"op": "add", "path": "/a", "value": 1}, "x"],
     "json: cannot unmarshal string into Go value of type jsonpatch.Operation"),
    ([[]], "json: cannot unmarshal array into Go value of type jsonpatch.Operation"),
])
def test_undecodable_body_is_400(ops: Any, message: str) -> None:
    with pytest.raises(PatchError) as info:
        jsonpatch.apply(doc(), ops)
    assert (info.value.code, info.value.reason, info.value.message) == (400, "BadRequest", message)


def test_more_than_10000_operations_is_413() -> None:
    test = {"op": "test", "path": "/foo", "value": "bar"}
    assert jsonpatch.apply(doc(), [test] * 10000) == doc()
    with pytest.raises(PatchError) as info:
        jsonpatch.apply(doc(), [test] * 10001)
    assert (info.value.code, info.value.reason, info.value.message) == (
        413, "RequestEntityTooLarge",
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001")


def test_copies_are_limited_in_size() -> None:
    ops = [{"op": "copy", "from": "/foo", "path": f"/c{i}"} for i in range(3)]
    assert jsonpatch.apply(doc(), ops[:2], max_copy_bytes=10)["c1"] == "bar"   # '"bar"' is 5 bytes
    with pytest.raises(PatchError) as info:
        jsonpatch.apply(doc(), ops, max_copy_bytes=10)
    assert info.value.detail == ("Unable to complete the copy, the accumulated size increase of copy is 15, "
                                 "exceeding the limit 10")
    big = {"s": "x" * (jsonpatch.MAX_COPY_BYTES // 2)}
    with pytest.raises(PatchError):
        jsonpatch.apply(big, [{"op": "copy", "from": "/s", "path": f"/c{i}"} for i in range(3)])


@pytest.mark.parametrize("op", [{"op": "replace", "path": ""}, {"op": "test", "path": ""},
                                {"op": "test", "path": "/nope"}, {"op": "test", "path": "/obj/nil"}])
def test_missing_value_where_v4_12_dereferences_it_is_a_500(op: dict[str, Any]) -> None:
    with pytest.raises(PatchError) as info:
        jsonpatch.apply(doc(), [op])
    assert info.value.code == 500


def test_array_document() -> None:
    assert jsonpatch.apply([1, {"a": 2}], [{"op": "replace", "path": "/1/a", "value": 3},
                                           {"op": "add", "path": "/0", "value": 0}]) == [0, 1, {"a": 3}]


def test_kubectl_rollout_undo() -> None:
    """kubectl rollout undo replaces the pod template and the annotations with a revision's (rollback.go)."""
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "generation": 2,
                     "annotations": {"deployment.kubernetes.io/revision": "2"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1.21"}]}}}}
    template = {"metadata": {"creationTimestamp": None, "labels": {"app": "web"}},
                "spec": {"containers": [{"image": "nginx:1.20", "name": "web", "resources": {}}],
                         "restartPolicy": "Always"}}
    ops = [{"op": "replace", "path": "/spec/template", "value": template},
           {"op": "replace", "path": "/metadata/annotations",
            "value": {"deployment.kubernetes.io/revision": "2"}}]
    got = jsonpatch.apply(deployment, ops)
    assert got["spec"]["template"] == template
    assert got["spec"]["replicas"] == 3
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.21"


@pytest.mark.parametrize(("ops", "want"), [
    (None, []),
    ([{"op": "add", "path": "/a", "value": {"x": 1}, "from": None}], []),
    ([{"op": "add", "path": "/a", "valu": 1}, None, {"op": "test", "path": "/b", "extra": 1}],
     ['json patch unknown field "[0].valu"', 'json patch unknown field "[2].extra"']),
])
def test_strict_errors(ops: Any, want: list[str]) -> None:
    assert jsonpatch.strict_errors(ops) == want


@pytest.mark.parametrize(("ops", "message"), [
    ({}, "error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp"),
    ([1], "error decoding patch: json: cannot unmarshal number into Go value of type handlers.jsonPatchOp"),
    ([{"op": "add", "path": 1}],
     "error decoding patch: json: cannot unmarshal number into Go struct field jsonPatchOp.path of type string"),
])
def test_strict_decoding_failures_are_400(ops: Any, message: str) -> None:
    with pytest.raises(PatchError) as info:
        jsonpatch.strict_errors(ops)
    assert (info.value.code, info.value.message) == (400, message)
