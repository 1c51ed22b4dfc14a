"""ReplicaSet defaults, validation and generation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pybernetes.api.kinds.replicaset import ReplicaSetStrategy

S = ReplicaSetStrategy()


def rs(**spec: Any) -> dict[str, Any]:
    base = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-5d8f", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    base["spec"].update(spec)
    return base


def created(obj: dict[str, Any]) -> dict[str, Any]:
    S.default(obj)
    S.prepare_for_create(obj)
    return obj


def test_defaults() -> None:
    d = created(rs())
    assert d["spec"]["replicas"] == 1 and d["metadata"]["generation"] == 1
    assert S.validate(d) == []


@pytest.mark.parametrize(("spec", "expected"), [
    ({"replicas": -1}, ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]),
    ({"minReadySeconds": -1}, ["spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0"]),
    ({"selector": {"matchExpressions": [{"key": "app", "operator": "Near"}]}},
     ['spec.selector.matchExpressions[0].operator: Invalid value: "Near": not a valid selector operator',
      'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), '
      'MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"app", Operator:"Near", '
      "Values:[]string(nil)}}}: invalid label selector"]),
])
def test_common_mistakes(spec: dict[str, Any], expected: list[str]) -> None:
    d = created(rs())
    d["spec"].update(spec)
    assert [str(e) for e in S.validate(d)] == expected


def test_annotation_changes_do_not_bump_generation() -> None:
    old = created(rs())
    new = copy.deepcopy(old)
    new["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "2"}
    S.prepare_for_update(new, old)
    assert new["metadata"]["generation"] == 1
    new["spec"]["replicas"] = 0
    S.prepare_for_update(new, old)
    assert new["metadata"]["generation"] == 2


def test_status_bounds() -> None:
    old = created(rs())
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 1, "fullyLabeledReplicas": 2, "observedGeneration": -1}
    assert [str(e) for e in S.status_strategy().validate_update(new, old)] == [
        "status.observedGeneration: Invalid value: -1: must be greater than or equal to 0",
        "status.fullyLabeledReplicas: Invalid value: 2: cannot be greater than status.replicas"]
