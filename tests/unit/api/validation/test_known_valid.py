"""KnownValid, and the validators that remember valid pieces: a remembered verdict must never hide an error."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pybernetes.api.field import Path
from pybernetes.api.kinds.pod_validation import validate_tolerations
from pybernetes.api.kinds.resource_list import validate_resource_requirements
from pybernetes.api.kinds.volumes import validate_volumes
from pybernetes.api.validation.known_valid import KnownValid


def test_remembers_only_what_was_added() -> None:
    kv = KnownValid()
    k = kv.key({"a": [1, 2]})
    assert not kv.known(k)
    kv.add(k)
    assert kv.known(kv.key({"a": [1, 2]}))
    assert not kv.known(kv.key({"a": [1, 3]}))


@pytest.mark.parametrize("other", [1.0, True, "1", None, [1]])
def test_json_types_never_share_a_key(other: Any) -> None:
    kv = KnownValid()
    kv.add(kv.key({"x": 1}))
    assert not kv.known(kv.key({"x": other}))


def test_unencodable_values_are_never_remembered() -> None:
    kv = KnownValid()
    k = kv.key({"x": 1 << 70})
    assert k is None
    kv.add(k)
    assert not kv.known(k)
    assert len(kv) == 0


def test_large_values_are_never_remembered() -> None:
    kv = KnownValid(max_bytes=10)
    assert kv.key("x" * 8) is not None
    k = kv.key("x" * 9)                      # 11 bytes with its quotes
    assert k is None
    kv.add(k)
    assert len(kv) == 0


def test_bounded() -> None:
    kv = KnownValid(limit=3)
    for i in range(10):
        kv.add(kv.key(i))
        assert len(kv) <= 3
    assert kv.known(kv.key(9))


SA_VOLUME = {"name": "kube-api-access-abcde", "projected": {"defaultMode": 420, "sources": [
    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
    {"downwardAPI": {"items": [{"path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}


def _with(obj: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    cur: Any = out
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    return out


@pytest.mark.parametrize(("path", "value", "field"), [
    (("projected", "sources", 0, "serviceAccountToken", "expirationSeconds"), 60,
     "spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds"),
    (("projected", "sources", 0, "serviceAccountToken", "expirationSeconds"), True,
     "spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds"),
    (("projected", "sources", 0, "serviceAccountToken", "expirationSeconds"), 3608, None),
    (("projected", "sources", 1, "configMap", "items", 0, "path"), "../x",
     "spec.volumes[0].projected.sources[1].configMap.items[0].path"),
    (("projected", "defaultMode"), 4096, "spec.volumes[0].projected.defaultMode"),
])
def test_projected_volume_after_a_valid_one(path: tuple[Any, ...], value: Any, field: str | None) -> None:
    """The valid SA volume is remembered; a changed one is validated afresh, every time, at its own path."""
    assert validate_volumes([SA_VOLUME], Path("spec", "volumes"))[1] == []
    bad = _with(_with(SA_VOLUME, ("name",), "other"), path, value)
    for _ in range(2):
        errs = validate_volumes([SA_VOLUME, bad], Path("spec", "volumes"))[1]
        assert {e.field for e in errs} == ({field.replace("[0]", "[1]", 1)} if field else set())
        errs = validate_volumes([bad], Path("spec", "volumes"))[1]
        assert {e.field for e in errs} == ({field} if field else set())


RESOURCES = {"requests": {"cpu": "100m", "memory": "500Mi"}, "limits": {"cpu": "100m", "memory": "500Mi"}}


@pytest.mark.parametrize(("req", "claims", "fields"), [
    (RESOURCES, set(), []),
    ({"requests": {"cpu": "200m"}, "limits": {"cpu": "100m"}}, set(), ["c.resources.requests"]),
    ({"requests": {"cpu": "1", "nvidia.com/gpu": "1"}}, set(), ["c.resources.limits"]),
    ({**RESOURCES, "claims": [{"name": "gpu"}]}, set(), ["c.resources.claims[0].name"]),
    ({**RESOURCES, "claims": [{"name": "gpu"}]}, {"gpu"}, []),
    ({**RESOURCES, "claims": [{"name": "gpu"}]}, set(), ["c.resources.claims[0].name"]),
])
def test_resource_requirements_verdicts_stay_exact(req: dict[str, Any], claims: set[str],
                                                   fields: list[str]) -> None:
    for _ in range(2):
        errs = validate_resource_requirements(req, Path("c", "resources"), claim_names=claims)
        assert [e.field for e in errs] == fields


DEFAULT_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]


@pytest.mark.parametrize(("tolerations", "fields"), [
    (DEFAULT_TOLERATIONS, []),
    ([*DEFAULT_TOLERATIONS, {"key": "a", "operator": "Exists", "value": "v"}], ["t[2].operator"]),
    ([{**DEFAULT_TOLERATIONS[0], "effect": "NoSchedule"}], ["t[0].effect"]),
    (DEFAULT_TOLERATIONS, []),
])
def test_tolerations_verdicts_stay_exact(tolerations: list[dict[str, Any]], fields: list[str]) -> None:
    for _ in range(2):
        assert [e.field for e in validate_tolerations(tolerations, Path("t"))] == fields
