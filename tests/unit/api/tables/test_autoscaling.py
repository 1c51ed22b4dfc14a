"""HorizontalPodAutoscaler TARGETS and the rest of its row, for autoscaling/v2 and v1 objects; Scale."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pybernetes.api.tables.autoscaling import PRINTERS, hpa_targets

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
HPA = PRINTERS[("autoscaling", "HorizontalPodAutoscaler")]


def resource(name: str, *, util: int | None = None, avg: str | None = None, container: str | None = None
             ) -> dict[str, Any]:
    target: dict[str, Any] = {"type": "Utilization" if util is not None else "AverageValue"}
    if util is not None:
        target["averageUtilization"] = util
    if avg is not None:
        target["averageValue"] = avg
    if container:
        return {"type": "ContainerResource", "containerResource": {"name": name, "container": container,
                                                                   "target": target}}
    return {"type": "Resource", "resource": {"name": name, "target": target}}


def current(kind: str, **value: Any) -> dict[str, Any]:
    key = kind[0].lower() + kind[1:]
    return {"type": kind, key: {"current": value}}


PODS = {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}}
OBJECT_VALUE = {"type": "Object", "object": {"metric": {"name": "hits"}, "describedObject": {"kind": "Ingress"},
                                             "target": {"type": "Value", "value": "10k"}}}
OBJECT_AVG = {"type": "Object", "object": {"metric": {"name": "hits"},
                                           "target": {"type": "AverageValue", "averageValue": "500m"}}}
EXTERNAL = {"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "Value", "value": "30"}}}


@pytest.mark.parametrize(("metrics", "statuses", "want"), [
    ([], [], "<none>"),
    ([resource("cpu", util=80)], [], "cpu: <unknown>/80%"),
    ([resource("cpu", util=80)], [current("Resource", averageUtilization=50, averageValue="250m")], "cpu: 50%/80%"),
    ([resource("cpu", util=80)], [current("Resource", averageValue="250m")], "cpu: <unknown>/80%"),
    ([resource("memory", avg="512Mi")], [current("Resource", averageValue="300Mi")], "memory: 300Mi/512Mi"),
    ([resource("memory", avg="0.5Gi")], [], "memory: <unknown>/512Mi"),
    ([resource("memory", avg="512Mi")], [current("Resource")], "memory: <nil>/512Mi"),
    ([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization"}}}], [],
     "cpu: <unknown>/<auto>"),
    ([resource("cpu", util=60, container="app")], [current("ContainerResource", averageUtilization=70)],
     "cpu: 70%/60%"),
    ([PODS], [current("Pods", averageValue="1500m")], "1500m/1k"),
    ([PODS], [], "<unknown>/1k"),
    ([OBJECT_VALUE], [current("Object", value="2k")], "2k/10k"),
    ([OBJECT_AVG], [current("Object", averageValue="200m")], "200m/500m (avg)"),
    ([OBJECT_AVG], [current("Object", value="1")], "<unknown>/500m (avg)"),
    ([EXTERNAL], [], "<unknown>/30"),
    ([{"type": "Magic"}], [], "<unknown type>"),
    ([resource("cpu", util=80), resource("memory", util=70), PODS],
     [current("Resource", averageUtilization=10), current("Resource", averageUtilization=20)],
     "cpu: 10%/80%, memory: 20%/70% + 1 more..."),
])
def test_targets(metrics: list[dict[str, Any]], statuses: list[dict[str, Any]], want: str) -> None:
    assert hpa_targets(metrics, statuses) == want


def test_v2_row() -> None:
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "web", "creationTimestamp": "2025-03-01T11:00:00Z"},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                    "minReplicas": 1, "maxReplicas": 10, "metrics": [resource("cpu", util=80)]},
           "status": {"currentReplicas": 3, "desiredReplicas": 3,
                      "currentMetrics": [current("Resource", averageUtilization=50)]}}
    assert HPA.cells(hpa, NOW) == ["web", "Deployment/web", "cpu: 50%/80%", "1", 10, 3, "60m"]
    del hpa["spec"]["minReplicas"], hpa["status"]
    assert HPA.cells(hpa, NOW) == ["web", "Deployment/web", "cpu: <unknown>/80%", "<unset>", 10, 0, "60m"]


def test_v1_row_reads_through_conversion() -> None:
    hpa = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "web", "creationTimestamp": "2025-03-01T11:00:00Z"},
           "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 2, "maxReplicas": 5,
                    "targetCPUUtilizationPercentage": 60},
           "status": {"currentReplicas": 2, "desiredReplicas": 2, "currentCPUUtilizationPercentage": 45}}
    assert HPA.cells(hpa, NOW) == ["web", "Deployment/web", "cpu: 45%/60%", "2", 5, 2, "60m"]


def test_columns() -> None:
    assert [(c["name"], c["type"]) for c in HPA.columns] == [
        ("Name", "string"), ("Reference", "string"), ("Targets", "string"), ("MinPods", "string"),
        ("MaxPods", "string"), ("Replicas", "string"), ("Age", "string")]


def test_scale() -> None:
    scale = PRINTERS[("autoscaling", "Scale")]
    assert scale.columns[0]["format"] == ""                 # upstream's Scale table has no name format
    s = {"metadata": {"name": "web", "creationTimestamp": "2025-03-01T11:59:00Z"}, "spec": {"replicas": 3},
         "status": {"replicas": 2, "selector": "app=web"}}
    assert scale.cells(s, NOW) == ["web", 3, 2, "60s"]
