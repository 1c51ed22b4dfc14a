"""Tables of autoscaling: HorizontalPodAutoscaler (both served versions) and the Scale subresource.

TARGETS is upstream's ``formatHPAMetrics`` over the v2 metric shapes: "cpu: 50%/80%" for a utilization target,
"<unknown>/80%" style cells while no current value has been observed, "(avg)" for average-value targets, at most
two metrics then " + N more...". An autoscaling/v1 object is read through the same v1→v2 conversion the API uses,
so it shows the same cells as its v2 form.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pybernetes.api.conversion import hpa_v1_to_v2
from pybernetes.api.tables.descriptions import DOCS
from pybernetes.api.tables.printer import AGE, NAME, Obj, Printer, age_of, column, quantity

__all__ = ["PRINTERS", "hpa_targets"]

_EMPTY: dict[str, Any] = {}
_SOURCE_KEYS = {"External": "external", "Pods": "pods", "Object": "object", "Resource": "resource",
                "ContainerResource": "containerResource"}


def _q(value: Any) -> str:
    """``(*Quantity).String()``: a nil pointer prints "<nil>"."""
    return quantity(value, missing="<nil>")


def _current(statuses: list[dict[str, Any]], i: int, key: str) -> dict[str, Any] | None:
    """``statuses[i].<key>.current`` when that status entry exists (upstream pairs spec and status by index)."""
    if i < len(statuses) and statuses[i].get(key) is not None:
        return statuses[i][key].get("current") or {}
    return None


def _metric(spec: dict[str, Any], i: int, statuses: list[dict[str, Any]]) -> str:
    kind = spec.get("type")
    key = _SOURCE_KEYS.get(kind or "")
    if key is None:
        return "<unknown type>"
    source = spec.get(key) or _EMPTY
    target = source.get("target") or _EMPTY
    current = _current(statuses, i, key)
    if kind == "Pods":
        now = "<unknown>" if current is None else _q(current.get("averageValue"))
        return f"{now}/{_q(target.get('averageValue'))}"
    if kind in ("External", "Object"):
        if target.get("averageValue") is not None:
            now = "<unknown>"
            if current is not None and current.get("averageValue") is not None:
                now = _q(current["averageValue"])
            return f"{now}/{_q(target['averageValue'])} (avg)"
        now = "<unknown>" if current is None else _q(current.get("value"))
        return f"{now}/{_q(target.get('value'))}"
    name = source.get("name") or ""
    if target.get("averageValue") is not None:
        now = "<unknown>" if current is None else _q(current.get("averageValue"))
        return f"{name}: {now}/{_q(target['averageValue'])}"
    now = "<unknown>"
    if current is not None and current.get("averageUtilization") is not None:
        now = f"{current['averageUtilization']}%"
    want = "<auto>" if target.get("averageUtilization") is None else f"{target['averageUtilization']}%"
    return f"{name}: {now}/{want}"


def hpa_targets(metrics: list[dict[str, Any]], statuses: list[dict[str, Any]]) -> str:
    """``formatHPAMetrics``: the TARGETS cell, "<none>" without metrics."""
    if not metrics:
        return "<none>"
    shown = [_metric(m, i, statuses) for i, m in enumerate(metrics)]
    text = ", ".join(shown[:2])
    return f"{text} + {len(shown) - 2} more..." if len(shown) > 2 else text


def _hpa(obj: Obj, now: datetime) -> list[Any]:
    if obj.get("apiVersion") == "autoscaling/v1" or "targetCPUUtilizationPercentage" in (obj.get("spec") or _EMPTY):
        obj = hpa_v1_to_v2(obj)
    spec, status = obj.get("spec") or _EMPTY, obj.get("status") or _EMPTY
    ref = spec.get("scaleTargetRef") or _EMPTY
    min_pods = spec.get("minReplicas")
    return [(obj.get("metadata") or _EMPTY).get("name", ""), f"{ref.get('kind') or ''}/{ref.get('name') or ''}",
            hpa_targets(spec.get("metrics") or [], status.get("currentMetrics") or []),
            "<unset>" if min_pods is None else str(min_pods), spec.get("maxReplicas") or 0,
            status.get("currentReplicas") or 0, age_of(obj, now)]


def _scale(obj: Obj, now: datetime) -> list[Any]:
    return [(obj.get("metadata") or _EMPTY).get("name", ""), (obj.get("spec") or _EMPTY).get("replicas") or 0,
            (obj.get("status") or _EMPTY).get("replicas") or 0, age_of(obj, now)]


PRINTERS = {
    ("autoscaling", "HorizontalPodAutoscaler"): Printer((
        NAME,
        column("Reference", "string", DOCS["autoscalingv2beta1.HorizontalPodAutoscalerSpec.scaleTargetRef"]),
        column("Targets", "string", DOCS["autoscalingv2beta1.HorizontalPodAutoscalerSpec.metrics"]),
        column("MinPods", "string", DOCS["autoscalingv2beta1.HorizontalPodAutoscalerSpec.minReplicas"]),
        column("MaxPods", "string", DOCS["autoscalingv2beta1.HorizontalPodAutoscalerSpec.maxReplicas"]),
        column("Replicas", "string", DOCS["autoscalingv2beta1.HorizontalPodAutoscalerStatus.currentReplicas"]),
        AGE,
    ), _hpa),
    ("autoscaling", "Scale"): Printer((
        {**NAME, "format": ""},
        column("Desired", "integer", DOCS["autoscalingv1.ScaleSpec.replicas"]),
        column("Available", "integer", DOCS["autoscalingv1.ScaleStatus.replicas"]),
        AGE,
    ), _scale),
}
