"""Version conversion: HPA autoscaling/v1 <-> v2 (with the round-trip annotations) and Event core <-> events.k8s.io."""

from __future__ import annotations

import copy
import json
import pathlib
from typing import Any

import pytest

from pybernetes.api.conversion import (
    BEHAVIOR_ANNOTATION,
    CONDITIONS_ANNOTATION,
    CURRENT_METRICS_ANNOTATION,
    METRICS_ANNOTATION,
    convert,
)

SHARED = pathlib.Path(__file__).resolve().parents[3] / ".." / "shared" / "k8s-api" / "testdata"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((SHARED / name).read_text())


def hpa_v2(**spec: Any) -> dict[str, Any]:
    base = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": 1, "maxReplicas": 10,
                     "metrics": [{"type": "Resource", "resource": {
                         "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}}
    base["spec"].update(spec)
    return base


MEMORY = {"type": "Resource", "resource": {"name": "memory",
                                           "target": {"type": "AverageValue", "averageValue": "500Mi"}}}
PODS = {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}}}
EXTERNAL = {"type": "External", "external": {
    "metric": {"name": "queue", "selector": {"matchLabels": {"q": "a"}}}, "target": {"type": "Value", "value": "30"}}}
OBJECT = {"type": "Object", "object": {
    "describedObject": {"kind": "Ingress", "name": "main", "apiVersion": "networking.k8s.io/v1"},
    "target": {"type": "Value", "value": "2k"}, "metric": {"name": "rps"}}}
CPU50 = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}


def test_v2_cpu_only_becomes_plain_v1() -> None:
    v1 = convert(hpa_v2(), "autoscaling/v1")
    assert v1 == {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
                  "metadata": {"name": "web", "namespace": "default"},
                  "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                           "minReplicas": 1, "maxReplicas": 10, "targetCPUUtilizationPercentage": 50}}


def test_other_metrics_travel_in_an_annotation_in_v1_shape() -> None:
    v1 = convert(hpa_v2(metrics=[MEMORY, PODS, CPU50]), "autoscaling/v1")
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 50
    assert v1["metadata"]["annotations"][METRICS_ANNOTATION] == (
        '[{"type":"Resource","resource":{"name":"memory","targetAverageValue":"500Mi"}},'
        '{"type":"Pods","pods":{"metricName":"qps","targetAverageValue":"10"}}]')


def test_behavior_and_status_annotations_use_upstream_bytes() -> None:
    behavior = {"scaleDown": {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100,
                                                                   "periodSeconds": 15}]}}
    obj = hpa_v2(behavior=behavior)
    obj["status"] = {"currentReplicas": 2, "desiredReplicas": 2,
                     "currentMetrics": [{"type": "Resource", "resource": {
                         "name": "cpu", "current": {"averageValue": "12m", "averageUtilization": 6}}}],
                     "conditions": [{"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale"}]}
    v1 = convert(obj, "autoscaling/v1")
    ann = v1["metadata"]["annotations"]
    assert ann[BEHAVIOR_ANNOTATION] == (
        '{"ScaleUp":null,"ScaleDown":{"StabilizationWindowSeconds":null,"SelectPolicy":"Max",'
        '"Policies":[{"Type":"Percent","Value":100,"PeriodSeconds":15}],"Tolerance":null}}')
    assert ann[CURRENT_METRICS_ANNOTATION] == (
        '[{"type":"Resource","resource":{"name":"cpu","currentAverageUtilization":6,"currentAverageValue":"12m"}}]')
    assert ann[CONDITIONS_ANNOTATION] == '[{"type":"AbleToScale","status":"True","reason":"ReadyForNewScale"}]'
    assert v1["status"] == {"currentReplicas": 2, "desiredReplicas": 2, "currentCPUUtilizationPercentage": 6}


@pytest.mark.parametrize("metrics", [
    [CPU50],
    [MEMORY, CPU50],
    [MEMORY, PODS, EXTERNAL, OBJECT, CPU50],
    [PODS],
])
def test_v2_v1_v2_round_trip(metrics: list[dict[str, Any]]) -> None:
    obj = hpa_v2(metrics=copy.deepcopy(metrics),
                 behavior={"scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                                       "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}]}})
    obj["metadata"]["annotations"] = {"team": "a"}
    obj["status"] = {"currentReplicas": 3, "desiredReplicas": 4,
                     "currentMetrics": [{"type": "Pods", "pods": {"metric": {"name": "qps"},
                                                                  "current": {"averageValue": "7"}}}],
                     "conditions": [{"type": "ScalingActive", "status": "False", "reason": "X", "message": "m"}]}
    before = copy.deepcopy(obj)
    back = convert(convert(obj, "autoscaling/v1"), "autoscaling/v2")
    assert obj == before                                  # input untouched
    assert back == obj


def test_v1_round_trip_and_default_cpu_target() -> None:
    v1 = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
          "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
                   "minReplicas": 2, "maxReplicas": 5, "targetCPUUtilizationPercentage": 70}}
    assert convert(convert(v1, "autoscaling/v2"), "autoscaling/v1") == v1
    bare = copy.deepcopy(v1)
    del bare["spec"]["targetCPUUtilizationPercentage"]
    v2 = convert(bare, "autoscaling/v2")
    assert v2["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]


def test_stale_round_trip_annotations_from_clients_are_dropped() -> None:
    obj = hpa_v2()
    obj["metadata"]["annotations"] = {METRICS_ANNOTATION: "[]", "keep": "me"}
    assert convert(obj, "autoscaling/v1")["metadata"]["annotations"] == {"keep": "me"}


def test_event_fields_are_renamed_both_ways() -> None:
    core = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"}, "reason": "Pulled",
            "message": "pulled image", "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": "2025-01-01T00:00:00Z", "lastTimestamp": "2025-01-01T00:00:01Z", "count": 2,
            "type": "Normal", "reportingComponent": "kubelet", "reportingInstance": "n1"}
    ev = convert(core, "events.k8s.io/v1")
    assert ev == {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": core["metadata"],
                  "reportingController": "kubelet", "reportingInstance": "n1", "reason": "Pulled",
                  "regarding": core["involvedObject"], "note": "pulled image", "type": "Normal",
                  "deprecatedSource": core["source"], "deprecatedFirstTimestamp": "2025-01-01T00:00:00Z",
                  "deprecatedLastTimestamp": "2025-01-01T00:00:01Z", "deprecatedCount": 2}
    assert convert(ev, "v1") == core


@pytest.mark.parametrize(("name", "to"), [("core.v1.Event.json", "events.k8s.io/v1"),
                                          ("events.k8s.io.v1.Event.json", "v1")])
def test_event_fixtures_round_trip(name: str, to: str) -> None:
    obj = fixture(name)
    there = convert(obj, to)
    assert there["apiVersion"] == to
    assert convert(there, obj["apiVersion"]) == obj


@pytest.mark.parametrize(("obj", "to"), [
    ({"apiVersion": "apps/v1", "kind": "Deployment"}, "apps/v1beta1"),
    ({"apiVersion": "v1", "kind": "Pod"}, "events.k8s.io/v1"),
    ({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler"}, "autoscaling/v2beta2"),
])
def test_unknown_pairs_raise(obj: dict[str, Any], to: str) -> None:
    with pytest.raises(ValueError, match="no conversion"):
        convert(obj, to)


def test_same_version_is_a_copy() -> None:
    obj = hpa_v2()
    out = convert(obj, "autoscaling/v2")
    assert out == obj and out is not obj
