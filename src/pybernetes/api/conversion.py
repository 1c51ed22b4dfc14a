"""Conversion between the served versions of one resource: ``convert(obj, to_api_version)``.

Two resources are served in more than one shape:

* HorizontalPodAutoscaler: autoscaling/v2 (storage) and autoscaling/v1. v1 has room for one CPU-utilization target
  only, so — as upstream's ``pkg/apis/autoscaling/v1/conversion.go`` does — everything v1 cannot say is carried in
  annotations (``autoscaling.alpha.kubernetes.io/metrics``, ``…/current-metrics``, ``…/behavior``,
  ``…/conditions``) on the v1 object and read back when a v1 object is written, so v1 clients (``kubectl
  autoscale`` on older kubectls, ``kubectl get hpa``) never lose v2 fields by writing back what they read. Metrics in
  those annotations use v1's own metric shapes (``targetAverageUtilization``, ``metricName``, …); the behavior
  annotation uses Go field names, exactly the bytes a real API server writes.
* Event: core v1 and events.k8s.io/v1 are one stored object with renamed fields (upstream
  ``pkg/apis/events/v1/conversion.go``): ``involvedObject``↔``regarding``, ``message``↔``note``,
  ``reportingComponent``↔``reportingController``, ``source``/``firstTimestamp``/``lastTimestamp``/``count`` ↔
  ``deprecatedSource``/``deprecatedFirstTimestamp``/``deprecatedLastTimestamp``/``deprecatedCount``.

Objects are plain dicts; the input is never mutated. Keys come out in the target version's field order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

Obj = dict[str, Any]

METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics"
BEHAVIOR_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior"
CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
ROUND_TRIP_ANNOTATIONS = (METRICS_ANNOTATION, CURRENT_METRICS_ANNOTATION, BEHAVIOR_ANNOTATION, CONDITIONS_ANNOTATION)
DEFAULT_CPU_UTILIZATION = 80


def convert(obj: Obj, to_api_version: str) -> Obj:
    """``obj`` as ``to_api_version``; ValueError when the two versions are not versions of one served resource."""
    src, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    if src == to_api_version:
        return dict(obj)
    fn = _CONVERTERS.get((kind, src, to_api_version))
    if fn is None:
        raise ValueError(f"no conversion for {kind or '<no kind>'} from {src or '<no apiVersion>'} to {to_api_version}")
    return fn(obj)


# ------------------------------------------------------------------ JSON as Go writes it


def go_json(value: Any) -> str:
    """``encoding/json.Marshal``: compact, with ``<``, ``>``, ``&`` escaped as Go does by default."""
    s = orjson.dumps(value).decode()
    return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _pick(d: Obj | None, *keys: str) -> Obj:
    """The present keys of ``d``, in the order given."""
    if not d:
        return {}
    return {k: d[k] for k in keys if k in d and d[k] is not None}


def _meta_with(obj: Obj, annotations: dict[str, str] | None) -> Obj:
    meta = dict(obj.get("metadata") or {})
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return meta


# ------------------------------------------------------------------ HPA: v2 -> v1


def _target_v2_to_v1(kind: str, m: Obj) -> Obj:
    """A v2 MetricSpec source as v1 (v2beta1-shaped) writes it."""
    target = m.get("target") or {}
    metric = m.get("metric") or {}
    if kind == "object":
        out = {"target": _pick(m.get("describedObject"), "kind", "name", "apiVersion"),
               "metricName": metric.get("name", ""), "targetValue": target.get("value") or "0"}
        out.update(_pick(metric, "selector"))
        out.update(_renamed(target, averageValue="averageValue"))
        return out
    if kind == "pods":
        out = {"metricName": metric.get("name", ""), "targetAverageValue": target.get("averageValue") or "0"}
        out.update(_pick(metric, "selector"))
        return out
    if kind in ("resource", "containerResource"):
        out = {"name": m.get("name", "")}
        out.update(_renamed(target, averageUtilization="targetAverageUtilization", averageValue="targetAverageValue"))
        if kind == "containerResource":
            out["container"] = m.get("container", "")
        return out
    out = {"metricName": metric.get("name", "")}
    out.update(_renamed(metric, selector="metricSelector"))
    out.update(_renamed(target, value="targetValue", averageValue="targetAverageValue"))
    return out


def _status_v2_to_v1(kind: str, m: Obj) -> Obj:
    current = m.get("current") or {}
    metric = m.get("metric") or {}
    if kind == "object":
        out = {"target": _pick(m.get("describedObject"), "kind", "name", "apiVersion"),
               "metricName": metric.get("name", ""), "currentValue": current.get("value") or "0"}
        out.update(_pick(metric, "selector"))
        out.update(_renamed(current, averageValue="averageValue"))
        return out
    if kind == "pods":
        out = {"metricName": metric.get("name", ""), "currentAverageValue": current.get("averageValue") or "0"}
        out.update(_pick(metric, "selector"))
        return out
    if kind in ("resource", "containerResource"):
        out = {"name": m.get("name", "")}
        out.update(_renamed(current, averageUtilization="currentAverageUtilization"))
        out["currentAverageValue"] = current.get("averageValue") or "0"
        if kind == "containerResource":
            out["container"] = m.get("container", "")
        return out
    out = {"metricName": metric.get("name", "")}
    out.update(_renamed(metric, selector="metricSelector"))
    out["currentValue"] = current.get("value") or "0"
    out.update(_renamed(current, averageValue="currentAverageValue"))
    return out


_SOURCES = ("object", "pods", "resource", "containerResource", "external")


def _renamed(d: Obj, **names: str) -> Obj:
    return {new: d[old] for old, new in names.items() if d.get(old) is not None}


def _metric_list(items: list[Obj], fn: Callable[[str, Obj], Obj]) -> list[Obj]:
    out = []
    for m in items:
        conv: Obj = {"type": m.get("type", "")}
        for src in _SOURCES:
            if m.get(src) is not None:
                conv[src] = fn(src, m[src])
        out.append(conv)
    return out


def _is_cpu_utilization(m: Obj) -> bool:
    r = m.get("resource") or {}
    return m.get("type") == "Resource" and r.get("name") == "cpu" and \
        (r.get("target") or {}).get("averageUtilization") is not None


def _behavior_to_go(b: Obj) -> Obj:
    def rules(r: Obj | None) -> Obj | None:
        if r is None:
            return None
        policies = r.get("policies")
        return {"StabilizationWindowSeconds": r.get("stabilizationWindowSeconds"),
                "SelectPolicy": r.get("selectPolicy"),
                "Policies": None if policies is None else [
                    {"Type": p.get("type", ""), "Value": p.get("value", 0), "PeriodSeconds": p.get("periodSeconds", 0)}
                    for p in policies],
                "Tolerance": r.get("tolerance")}
    return {"ScaleUp": rules(b.get("scaleUp")), "ScaleDown": rules(b.get("scaleDown"))}


def hpa_v2_to_v1(obj: Obj) -> Obj:
    spec, status = obj.get("spec") or {}, obj.get("status")
    metrics = spec.get("metrics") or []
    annotations = {k: v for k, v in ((obj.get("metadata") or {}).get("annotations") or {}).items()
                   if k not in ROUND_TRIP_ANNOTATIONS}
    other = [m for m in metrics if not _is_cpu_utilization(m)]
    if other:
        annotations[METRICS_ANNOTATION] = go_json(_metric_list(other, _target_v2_to_v1))
    current = (status or {}).get("currentMetrics") or []
    if current:
        annotations[CURRENT_METRICS_ANNOTATION] = go_json(_metric_list(current, _status_v2_to_v1))
    if spec.get("behavior") is not None:
        annotations[BEHAVIOR_ANNOTATION] = go_json(_behavior_to_go(spec["behavior"]))
    conditions = (status or {}).get("conditions") or []
    if conditions:
        annotations[CONDITIONS_ANNOTATION] = go_json(conditions)
    out_spec = _pick(spec, "scaleTargetRef", "minReplicas", "maxReplicas")
    out_spec.setdefault("maxReplicas", spec.get("maxReplicas", 0))
    for m in metrics:
        r = m.get("resource") or {}
        if m.get("type") == "Resource" and r.get("name") == "cpu":
            util = (r.get("target") or {}).get("averageUtilization")
            if util is not None:
                out_spec["targetCPUUtilizationPercentage"] = util
            break
    out = {"apiVersion": "autoscaling/v1", "kind": obj.get("kind", "HorizontalPodAutoscaler"),
           "metadata": _meta_with(obj, annotations), "spec": out_spec}
    if status is not None:
        st = _pick(status, "observedGeneration", "lastScaleTime", "currentReplicas", "desiredReplicas")
        st.setdefault("currentReplicas", status.get("currentReplicas", 0))
        st.setdefault("desiredReplicas", status.get("desiredReplicas", 0))
        for m in current:
            r = m.get("resource") or {}
            util = (r.get("current") or {}).get("averageUtilization")
            if m.get("type") == "Resource" and r.get("name") == "cpu" and util is not None:
                st["currentCPUUtilizationPercentage"] = util
        out["status"] = st
    return out


# ------------------------------------------------------------------ HPA: v1 -> v2


def _target_v1_to_v2(kind: str, m: Obj) -> Obj:
    if kind == "object":
        target = {"type": "AverageValue" if m.get("averageValue") is not None else "Value",
                  "value": m.get("targetValue") or "0"}
        target.update(_renamed(m, averageValue="averageValue"))
        return {"describedObject": m.get("target") or {}, "target": target,
                "metric": {"name": m.get("metricName", ""), **_pick(m, "selector")}}
    if kind == "pods":
        return {"metric": {"name": m.get("metricName", ""), **_pick(m, "selector")},
                "target": {"type": "AverageValue", "averageValue": m.get("targetAverageValue") or "0"}}
    if kind in ("resource", "containerResource"):
        util = m.get("targetAverageUtilization")
        target = {"type": "Utilization" if util is not None else "AverageValue"}
        target.update(_renamed(m, targetAverageValue="averageValue", targetAverageUtilization="averageUtilization"))
        out = {"name": m.get("name", ""), "target": target}
        if kind == "containerResource":
            out["container"] = m.get("container", "")
        return out
    target = {"type": "Value" if m.get("targetValue") is not None else "AverageValue"}
    target.update(_renamed(m, targetValue="value", targetAverageValue="averageValue"))
    return {"metric": {"name": m.get("metricName", ""), **_renamed(m, metricSelector="selector")}, "target": target}


def _status_v1_to_v2(kind: str, m: Obj) -> Obj:
    if kind == "object":
        current = {"value": m.get("currentValue") or "0", **_renamed(m, averageValue="averageValue")}
        return {"metric": {"name": m.get("metricName", ""), **_pick(m, "selector")}, "current": current,
                "describedObject": m.get("target") or {}}
    if kind == "pods":
        return {"metric": {"name": m.get("metricName", ""), **_pick(m, "selector")},
                "current": {"averageValue": m.get("currentAverageValue") or "0"}}
    if kind in ("resource", "containerResource"):
        current = {"averageValue": m.get("currentAverageValue") or "0",
                   **_renamed(m, currentAverageUtilization="averageUtilization")}
        out = {"name": m.get("name", ""), "current": current}
        if kind == "containerResource":
            out["container"] = m.get("container", "")
        return out
    current = {"value": m.get("currentValue") or "0", **_renamed(m, currentAverageValue="averageValue")}
    return {"metric": {"name": m.get("metricName", ""), **_renamed(m, metricSelector="selector")}, "current": current}


def _json_list(raw: str | None) -> list[Obj] | None:
    """Annotation content; unreadable JSON is ignored, as upstream ignores it."""
    if raw is None:
        return None
    try:
        v = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else None


def _ci(d: Obj, name: str) -> Any:
    """Field lookup the way Go's json.Unmarshal matches names: exact first, then case-insensitively."""
    if name in d:
        return d[name]
    low = name.lower()
    for k, v in d.items():
        if k.lower() == low:
            return v
    return None


def _behavior_from_go(raw: str | None) -> Obj | None:
    if raw is None:
        return None
    try:
        b = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(b, dict):
        return None

    def rules(r: Any) -> Obj | None:
        if not isinstance(r, dict):
            return None
        out: Obj = {}
        for go, js in (("StabilizationWindowSeconds", "stabilizationWindowSeconds"),
                       ("SelectPolicy", "selectPolicy")):
            if _ci(r, go) is not None:
                out[js] = _ci(r, go)
        policies = _ci(r, "Policies")
        if policies is not None:
            out["policies"] = [{"type": _ci(p, "Type") or "", "value": _ci(p, "Value") or 0,
                                "periodSeconds": _ci(p, "PeriodSeconds") or 0}
                               for p in policies if isinstance(p, dict)]
        if _ci(r, "Tolerance") is not None:
            out["tolerance"] = _ci(r, "Tolerance")
        return out

    up, down = rules(_ci(b, "ScaleUp")), rules(_ci(b, "ScaleDown"))
    if up is None and down is None:
        return None
    return {k: v for k, v in (("scaleUp", up), ("scaleDown", down)) if v is not None}


def hpa_v1_to_v2(obj: Obj) -> Obj:
    spec, status = obj.get("spec") or {}, obj.get("status")
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    metrics: list[Obj] = []
    other = _json_list(annotations.get(METRICS_ANNOTATION))
    if other is not None:
        metrics.extend(_metric_list(other, _target_v1_to_v2))
    cpu = spec.get("targetCPUUtilizationPercentage")
    if cpu is not None:
        metrics.append(_cpu_metric(cpu))
    if not metrics:
        metrics.append(_cpu_metric(DEFAULT_CPU_UTILIZATION))
    out_spec = _pick(spec, "scaleTargetRef", "minReplicas", "maxReplicas")
    out_spec.setdefault("maxReplicas", spec.get("maxReplicas", 0))
    out_spec["metrics"] = metrics
    behavior = _behavior_from_go(annotations.get(BEHAVIOR_ANNOTATION))
    if behavior is not None:
        out_spec["behavior"] = behavior
    kept = {k: v for k, v in annotations.items() if k not in ROUND_TRIP_ANNOTATIONS}
    out = {"apiVersion": "autoscaling/v2", "kind": obj.get("kind", "HorizontalPodAutoscaler"),
           "metadata": _meta_with(obj, kept), "spec": out_spec}
    current = _json_list(annotations.get(CURRENT_METRICS_ANNOTATION))
    conditions = _json_list(annotations.get(CONDITIONS_ANNOTATION))
    if status is not None or current or conditions:
        status = status or {}
        st = _pick(status, "observedGeneration", "lastScaleTime", "currentReplicas", "desiredReplicas")
        if not st.get("currentReplicas"):
            st.pop("currentReplicas", None)        # omitempty in v2
        st.setdefault("desiredReplicas", status.get("desiredReplicas", 0))
        if current is not None:
            st["currentMetrics"] = _metric_list(current, _status_v1_to_v2)
        elif status.get("currentCPUUtilizationPercentage") is not None:
            st["currentMetrics"] = [{"type": "Resource", "resource": {
                "name": "cpu", "current": {"averageUtilization": status["currentCPUUtilizationPercentage"]}}}]
        if conditions is not None:
            st["conditions"] = conditions
        out["status"] = st
    return out


def _cpu_metric(utilization: int) -> Obj:
    return {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                       "averageUtilization": utilization}}}


# ------------------------------------------------------------------ Events

# (core v1 name, events.k8s.io/v1 name), in core v1's field order.
_EVENT_FIELDS = (
    ("involvedObject", "regarding"), ("reason", "reason"), ("message", "note"), ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"), ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"), ("type", "type"), ("eventTime", "eventTime"), ("series", "series"),
    ("action", "action"), ("related", "related"), ("reportingComponent", "reportingController"),
    ("reportingInstance", "reportingInstance"),
)
_EVENTS_V1_ORDER = ("eventTime", "series", "reportingController", "reportingInstance", "action", "reason",
                    "regarding", "related", "note", "type", "deprecatedSource", "deprecatedFirstTimestamp",
                    "deprecatedLastTimestamp", "deprecatedCount")
_CORE_TO_EVENTS = dict(_EVENT_FIELDS)
_EVENTS_TO_CORE = {v: k for k, v in _EVENT_FIELDS}


def event_core_to_events(obj: Obj) -> Obj:
    renamed = {_CORE_TO_EVENTS[k]: v for k, v in obj.items() if k in _CORE_TO_EVENTS}
    out: Obj = {"apiVersion": "events.k8s.io/v1", "kind": "Event"}
    if "metadata" in obj:
        out["metadata"] = dict(obj["metadata"])       # callers may set resourceVersion on the result
    out.update((k, renamed[k]) for k in _EVENTS_V1_ORDER if k in renamed)
    return out


def event_events_to_core(obj: Obj) -> Obj:
    out: Obj = {"apiVersion": "v1", "kind": "Event"}
    if "metadata" in obj:
        out["metadata"] = dict(obj["metadata"])       # callers may set resourceVersion on the result
    for core, ev in _EVENT_FIELDS:
        if ev in obj:
            out[core] = obj[ev]
    return out


_CONVERTERS: dict[tuple[str, str, str], Callable[[Obj], Obj]] = {
    ("HorizontalPodAutoscaler", "autoscaling/v2", "autoscaling/v1"): hpa_v2_to_v1,
    ("HorizontalPodAutoscaler", "autoscaling/v1", "autoscaling/v2"): hpa_v1_to_v2,
    ("Event", "v1", "events.k8s.io/v1"): event_core_to_events,
    ("Event", "events.k8s.io/v1", "v1"): event_events_to_core,
}
