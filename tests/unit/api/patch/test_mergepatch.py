"""JSON merge patch as the API server applies it (evanphx/json-patch v4 MergePatch)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pybernetes.api.patch import PatchError, mergepatch

CASES = [
    # RFC 7386 appendix A, where v4 agrees with it
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    # deleting what is not there, empty patches
    ({"a": 1}, {"x": None}, {"a": 1}),
    ({"a": 1}, {}, {"a": 1}),
    # v4: a value landing where there was nothing (or no object) loses its nulls, even inside arrays...
    ({}, {"a": [{"b": None, "c": 1}, None]}, {"a": [{"c": 1}, None]}),
    ({"a": "x"}, {"a": {"b": None, "c": {"d": None}}}, {"a": {"c": {}}}),
    ({"a": None}, {"a": {"b": None}}, {"a": {}}),
    # ...but an array replacing an object is taken as it is
    ({"a": {"x": 1}}, {"a": [{"b": None}]}, {"a": [{"b": None}]}),
    ({"a": {"x": 1}}, {"a": 5}, {"a": 5}),
]


@pytest.mark.parametrize(("doc", "patch", "want"), CASES)
def test_apply(doc: Any, patch: Any, want: Any) -> None:
    doc_before, patch_before = copy.deepcopy(doc), copy.deepcopy(patch)
    assert mergepatch.apply(doc, patch) == want
    assert (doc, patch) == (doc_before, patch_before), "an input was mutated"


@pytest.mark.parametrize("patch", [None, "x", 1, True])
def test_patch_that_is_not_a_document_is_400(patch: Any) -> None:
    with pytest.raises(PatchError) as info:
        mergepatch.apply({"a": 1}, patch)
    assert (info.value.code, info.value.reason, info.value.message) == (400, "BadRequest", "Invalid JSON Patch")


def test_null_document_is_a_500() -> None:
    with pytest.raises(PatchError) as info:
        mergepatch.apply(None, {"a": 1})
    assert (info.value.code, info.value.message) == (500, "Invalid JSON Document")


def test_result_shares_nothing_with_inputs() -> None:
    doc = {"keep": {"x": [1]}, "m": {"y": 1}}
    patch = {"m": {"z": {"deep": 1}}}
    got = mergepatch.apply(doc, patch)
    got["keep"]["x"].append(2)
    got["m"]["z"]["deep"] = 2
    assert doc == {"keep": {"x": [1]}, "m": {"y": 1}}
    assert patch == {"m": {"z": {"deep": 1}}}


DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "front"},
                 "annotations": {"note": "x"}},
    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "web", "image": "nginx:1.20"}]}}},
}


@pytest.mark.parametrize(("command", "patch", "check"), [
    ("kubectl label deployment web env=prod", {"metadata": {"labels": {"env": "prod"}}},
     lambda d: d["metadata"]["labels"] == {"app": "web", "tier": "front", "env": "prod"}),
    ("kubectl label deployment web tier-", {"metadata": {"labels": {"tier": None}}},
     lambda d: d["metadata"]["labels"] == {"app": "web"}),
    ("kubectl annotate deployment web note=y --overwrite", {"metadata": {"annotations": {"note": "y"}}},
     lambda d: d["metadata"]["annotations"] == {"note": "y"}),
    ("kubectl scale deployment web --replicas=3", {"spec": {"replicas": 3}},
     lambda d: d["spec"]["replicas"] == 3 and d["spec"]["template"] == DEPLOYMENT["spec"]["template"]),
    # merge patch replaces lists whole: a container list patch drops the others
    ("kubectl patch --type merge (containers)", {"spec": {"template": {"spec": {"containers": [{"name": "x"}]}}}},
     lambda d: d["spec"]["template"]["spec"]["containers"] == [{"name": "x"}]),
])
def test_kubectl_merge_patches(command: str, patch: Any, check: Any) -> None:
    before = copy.deepcopy(DEPLOYMENT)
    assert check(mergepatch.apply(DEPLOYMENT, patch)), command
    assert before == DEPLOYMENT


def test_strict_decoding_wants_an_object() -> None:
    assert mergepatch.strict_errors({"a": None}) == []
    assert mergepatch.strict_errors(None) == []
    with pytest.raises(PatchError) as info:
        mergepatch.strict_errors(["c"])
    assert (info.value.code, info.value.message) == (
        400, "error decoding patch: json: cannot unmarshal array into Go value of type map[string]interface {}")
