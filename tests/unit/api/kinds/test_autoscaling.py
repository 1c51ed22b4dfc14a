"""HorizontalPodAutoscaler (autoscaling/v2 storage version): defaults and validation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pybernetes.api.conversion import convert
from pybernetes.api.kinds.autoscaling import HorizontalPodAutoscalerStrategy, quantity_sign

S = HorizontalPodAutoscalerStrategy()


def hpa(**spec: Any) -> dict[str, Any]:
    base = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "maxReplicas": 5}}
    base["spec"].update(spec)
    return base


def test_defaults() -> None:
    h = hpa()
    S.default(h)
    S.prepare_for_create(h)
    assert h["spec"] == {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                         "maxReplicas": 5, "minReplicas": 1,
                         "metrics": [{"type": "Resource", "resource": {
                             "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]}
    assert "generation" not in h["metadata"]        # upstream gives HPAs no generation
    assert S.validate(h) == []


def test_behavior_is_completed_only_when_present() -> None:
    h = hpa(behavior={"scaleDown": {"stabilizationWindowSeconds": 60}})
    S.default(h)
    assert h["spec"]["behavior"] == {
        "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                    "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                 {"type": "Percent", "value": 100, "periodSeconds": 15}]},
        "scaleDown": {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
                      "stabilizationWindowSeconds": 60}}
    assert list(h["spec"]["behavior"]) == ["scaleUp", "scaleDown"]


def test_v1_kubectl_autoscale_body_becomes_a_valid_v2_object() -> None:
    v1 = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
          "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                   "maxReplicas": 3, "targetCPUUtilizationPercentage": 60}}
    v2 = convert(v1, "autoscaling/v2")
    S.default(v2)
    assert S.validate(v2) == []
    assert v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 60


@pytest.mark.parametrize(("spec", "expected"), [
    ({"minReplicas": 0}, ["spec.minReplicas: Invalid value: 0: must be greater than or equal to 1"]),
    ({"maxReplicas": 0}, ["spec.maxReplicas: Invalid value: 0: must be greater than 0",
                          "spec.maxReplicas: Invalid value: 0: must be greater than or equal to `minReplicas`"]),
    ({"scaleTargetRef": {"kind": "Deployment"}}, ["spec.scaleTargetRef.name: Required value"]),
    ({"scaleTargetRef": {"kind": "Deploy/ment", "name": "web"}},
     ["spec.scaleTargetRef.kind: Invalid value: \"Deploy/ment\": may not contain '/'"]),
    ({"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization"}}}]},
     ["spec.metrics[0].resource.target.averageUtilization: Required value: must set either a target raw value or "
      "a target utilization"]),
    ({"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 0}}}]},
     ["spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0"]),
    ({"metrics": [{"type": "Pods"}]},
     ["spec.metrics[0].pods: Required value: must populate information for the given metric source"]),
    ({"metrics": [{"type": "Nodes"}]},
     ['spec.metrics[0].type: Unsupported value: "Nodes": supported values: "ContainerResource", "External", '
      '"Object", "Pods", "Resource"']),
    ({"metrics": [{"type": "External", "external": {"metric": {"name": "q"},
                                                    "target": {"type": "Value", "value": "-1"}}}]},
     ['spec.metrics[0].external.target.value: Invalid value: "-1": must be positive']),
    ({"behavior": {"scaleUp": {"selectPolicy": "Most", "policies": [{"type": "Pods", "value": 1,
                                                                     "periodSeconds": 0}]}}},
     ['spec.behavior.scaleUp.selectPolicy: Unsupported value: "Most": supported values: "Disabled", "Max", "Min"',
      "spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 0: must be greater than zero"]),
])
def test_common_mistakes(spec: dict[str, Any], expected: list[str]) -> None:
    h = hpa(**spec)
    S.default(h)
    assert [str(e) for e in S.validate(h)] == expected


def test_status_is_kept_on_spec_writes() -> None:
    old = hpa()
    S.default(old)
    old["status"] = {"currentReplicas": 2, "desiredReplicas": 2}
    new = copy.deepcopy(old)
    new["status"] = {}
    S.prepare_for_update(new, old)
    assert new["status"] == {"currentReplicas": 2, "desiredReplicas": 2}


@pytest.mark.parametrize(("q", "sign"), [("1", 1), ("500m", 1), ("0", 0), ("0Mi", 0), ("-1", -1), ("+2k", 1),
                                         ("1e3", 1), (3, 1)])
def test_quantity_sign(q: Any, sign: int) -> None:
    assert quantity_sign(q) == sign


def test_alpha_tolerance_is_dropped_unless_already_stored() -> None:
    h = hpa(behavior={"scaleUp": {"tolerance": "0.05"}})
    S.default(h)
    S.prepare_for_create(h)
    assert "tolerance" not in h["spec"]["behavior"]["scaleUp"]
    old = copy.deepcopy(h)
    old["spec"]["behavior"]["scaleUp"]["tolerance"] = "0.1"
    new = copy.deepcopy(old)
    S.prepare_for_update(new, old)
    assert new["spec"]["behavior"]["scaleUp"]["tolerance"] == "0.1"

