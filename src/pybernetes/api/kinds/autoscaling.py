"""autoscaling/v2 HorizontalPodAutoscaler (the storage version): defaults and validation.

autoscaling/v1 requests are converted to v2 (``pybernetes.api.conversion``) before these hooks run, so one strategy
serves both versions, as upstream's single internal type does. Defaults follow ``pkg/apis/autoscaling/v2/defaults.go``:
``minReplicas`` 1, a CPU-utilization metric of 80% when none is given, and — only when ``behavior`` is present — every
missing scaling rule filled from the controller's historic behaviour. Upstream gives HPAs no ``metadata.generation``.
The alpha ``tolerance`` field of scaling rules is dropped, as with its feature gate off.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from pybernetes.api.field import FieldError, Path, forbidden, invalid, not_supported, required
from pybernetes.api.kinds.fieldchecks import non_negative
from pybernetes.api.strategy import Obj, Strategy
from pybernetes.api.validation.names import path_segment_name, qualified_name

DEFAULT_CPU_UTILIZATION = 80
MAX_PERIOD_SECONDS = 1800
MAX_STABILIZATION_WINDOW_SECONDS = 3600
SOURCE_TYPES = ("ContainerResource", "External", "Object", "Pods", "Resource")   # upstream lists them sorted
SOURCE_FIELD = {"Object": "object", "Pods": "pods", "Resource": "resource", "External": "external",
                "ContainerResource": "containerResource"}
TARGET_TYPES = ("Utilization", "Value", "AverageValue")
SELECT_POLICIES = ("Disabled", "Max", "Min")
POLICY_TYPES = ("Percent", "Pods")
SCALE_UP_DEFAULT = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                    "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                 {"type": "Percent", "value": 100, "periodSeconds": 15}]}
SCALE_DOWN_DEFAULT = {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}
SPEC = Path("spec")
_MANTISSA = re.compile(r"\s*([+-]?[0-9.]+)")


def default_hpa(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        up = _fill_rules(behavior.get("scaleUp"), SCALE_UP_DEFAULT)
        down = _fill_rules(behavior.get("scaleDown"), SCALE_DOWN_DEFAULT)
        rest = {k: v for k, v in behavior.items() if k not in ("scaleUp", "scaleDown")}
        behavior.clear()
        behavior.update(scaleUp=up, scaleDown=down, **rest)      # upstream's field order


def _fill_rules(given: Any, defaults: Obj) -> Obj:
    """``copyHPAScalingRules``: the defaults, overridden by whatever the user set."""
    out = copy.deepcopy(defaults)
    if isinstance(given, dict):
        for key in ("selectPolicy", "stabilizationWindowSeconds", "policies", "tolerance"):
            if given.get(key) is not None:
                out[key] = given[key]
    return out


def quantity_sign(q: Any) -> int:
    """Sign of a quantity string (``"-1"`` → -1, ``"0m"`` → 0); 0 when it cannot be read."""
    if isinstance(q, (int, float)) and not isinstance(q, bool):
        return (q > 0) - (q < 0)
    m = _MANTISSA.match(q) if isinstance(q, str) else None
    if not m:
        return 0
    try:
        v = float(m.group(1))
    except ValueError:
        return 0
    return (v > 0) - (v < 0)


def validate_object_reference(ref: Obj | None, path: Path) -> list[FieldError]:
    """``ValidateCrossVersionObjectReference``: kind and name are required path segments."""
    ref = ref or {}
    errs: list[FieldError] = []
    for key in ("kind", "name"):
        value = ref.get(key, "")
        if not value:
            errs.append(required(path.child(key)))
        else:
            errs += [invalid(path.child(key), value, m) for m in path_segment_name(value)]
    return errs


def _metric_target(t: Obj, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    kind = t.get("type", "")
    if not kind:
        errs.append(required(path.child("type"), "must specify a metric target type"))
    if kind not in TARGET_TYPES:
        errs.append(invalid(path.child("type"), kind, "must be either Utilization, Value, or AverageValue"))
    for key in ("value", "averageValue"):
        if t.get(key) is not None and quantity_sign(t[key]) != 1:
            errs.append(invalid(path.child(key), t[key], "must be positive"))
    util = t.get("averageUtilization")
    if util is not None and util < 1:
        errs.append(invalid(path.child("averageUtilization"), util, "must be greater than 0"))
    return errs


def _metric_identifier(m: Obj | None, path: Path) -> list[FieldError]:
    name = (m or {}).get("name", "")
    if not name:
        return [required(path.child("name"), "must specify a metric name")]
    return [invalid(path.child("name"), name, msg) for msg in path_segment_name(name)]


def _resource_source(src: Obj, path: Path, *, container: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    name = src.get("name", "")
    if not name:
        errs.append(required(path.child("name"), "must specify a resource name"))
    else:
        errs += [invalid(path.child("name"), name, m) for m in qualified_name(name)]
    if container:
        cname = src.get("container", "")
        if not cname:
            errs.append(required(path.child("container"), "must specify a container"))
    target = src.get("target") or {}
    tpath = path.child("target")
    errs += _metric_target(target, tpath)
    if target.get("averageUtilization") is None and target.get("averageValue") is None:
        errs.append(required(tpath.child("averageUtilization"),
                             "must set either a target raw value or a target utilization"))
    if target.get("averageUtilization") is not None and target.get("averageValue") is not None:
        errs.append(forbidden(tpath.child("averageValue"),
                              "may not set both a target raw value and a target utilization"))
    return errs


def _source(kind: str, src: Obj, path: Path) -> list[FieldError]:
    if kind in ("resource", "containerResource"):
        return _resource_source(src, path, container=kind == "containerResource")
    target = src.get("target") or {}
    tpath = path.child("target")
    errs: list[FieldError] = []
    if kind == "object":
        errs += validate_object_reference(src.get("describedObject"), path.child("describedObject"))
    errs += _metric_identifier(src.get("metric"), path.child("metric"))
    errs += _metric_target(target, tpath)
    if kind == "pods":
        if target.get("averageValue") is None:
            errs.append(required(tpath.child("averageValue"), "must specify a positive target averageValue"))
    elif kind == "object":
        if target.get("value") is None and target.get("averageValue") is None:
            errs.append(required(tpath.child("value"), "must set either a target value or averageValue"))
    else:
        if target.get("value") is None and target.get("averageValue") is None:
            errs.append(required(tpath.child("value"), "must set either a target value for metric or a per-pod target"))
        if target.get("value") is not None and target.get("averageValue") is not None:
            errs.append(forbidden(tpath.child("value"),
                                  "may not set both a target value for metric and a per-pod target"))
    return errs


def validate_metric_spec(m: Obj, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    kind = m.get("type", "")
    if not kind:
        errs.append(required(path.child("type"), "must specify a metric source type"))
    present = [f for f in ("object", "external", "pods", "resource", "containerResource") if m.get(f) is not None]
    if present:
        errs += _source(present[0], m[present[0]], path.child(present[0]))
    expected = SOURCE_FIELD.get(kind)
    if expected is None:
        errs.append(not_supported(path.child("type"), kind, list(SOURCE_TYPES)))
    elif m.get(expected) is None:
        errs.append(required(path.child(expected), "must populate information for the given metric source"))
    if len(present) != 1:
        for f in present:
            if f != expected:
                errs.append(forbidden(path.child(f), "must populate the given metric source only"))
    return errs


def _scaling_rules(rules: Obj | None, path: Path) -> list[FieldError]:
    if rules is None:
        return []
    errs: list[FieldError] = []
    window = rules.get("stabilizationWindowSeconds")
    wpath = path.child("stabilizationWindowSeconds")
    if window is not None and window < 0:
        errs.append(invalid(wpath, window, "must be greater than or equal to zero"))
    if window is not None and window > MAX_STABILIZATION_WINDOW_SECONDS:
        errs.append(invalid(wpath, window, f"must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}"))
    select = rules.get("selectPolicy")
    if select is not None and select not in SELECT_POLICIES:
        errs.append(not_supported(path.child("selectPolicy"), select, list(SELECT_POLICIES)))
    policies = rules.get("policies") or []
    ppath = path.child("policies")
    if not policies:
        errs.append(required(ppath, "must specify at least one Policy"))
    for i, p in enumerate(policies):
        p = p or {}
        ip = ppath.index(i)
        if p.get("type") not in POLICY_TYPES:
            errs.append(not_supported(ip.child("type"), p.get("type", ""), list(POLICY_TYPES)))
        if (p.get("value") or 0) <= 0:
            errs.append(invalid(ip.child("value"), p.get("value", 0), "must be greater than zero"))
        period = p.get("periodSeconds") or 0
        if period <= 0:
            errs.append(invalid(ip.child("periodSeconds"), period, "must be greater than zero"))
        if period > MAX_PERIOD_SECONDS:
            errs.append(invalid(ip.child("periodSeconds"), period,
                                f"must be less than or equal to {MAX_PERIOD_SECONDS}"))
    return errs


def validate_hpa_spec(spec: Obj, path: Path = SPEC) -> list[FieldError]:
    errs: list[FieldError] = []
    min_r, max_r = spec.get("minReplicas"), spec.get("maxReplicas", 0)
    if min_r is not None and min_r < 1:
        errs.append(invalid(path.child("minReplicas"), min_r, "must be greater than or equal to 1"))
    if max_r < 1:
        errs.append(invalid(path.child("maxReplicas"), max_r, "must be greater than 0"))
    if min_r is not None and max_r < min_r:
        errs.append(invalid(path.child("maxReplicas"), max_r, "must be greater than or equal to `minReplicas`"))
    errs += validate_object_reference(spec.get("scaleTargetRef"), path.child("scaleTargetRef"))
    mpath = path.child("metrics")
    for i, m in enumerate(spec.get("metrics") or []):
        errs += validate_metric_spec(m or {}, mpath.index(i))
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        errs += _scaling_rules(behavior.get("scaleUp"), path.child("behavior", "scaleUp"))
        errs += _scaling_rules(behavior.get("scaleDown"), path.child("behavior", "scaleDown"))
    return errs


def _tolerances(obj: Obj | None) -> bool:
    behavior = ((obj or {}).get("spec") or {}).get("behavior") or {}
    return any(isinstance(r, dict) and r.get("tolerance") is not None
               for r in (behavior.get("scaleUp"), behavior.get("scaleDown")))


def drop_disabled_fields(obj: Obj, old: Obj | None) -> None:
    """``tolerance`` needs the HPAConfigurableTolerance gate, alpha (off) in 1.33: dropped unless already in use."""
    if _tolerances(old):
        return
    behavior = (obj.get("spec") or {}).get("behavior") or {}
    for key in ("scaleUp", "scaleDown"):
        rules = behavior.get(key)
        if isinstance(rules, dict):
            rules.pop("tolerance", None)


class HorizontalPodAutoscalerStrategy(Strategy):
    has_status_subresource = True

    def reset_status(self, obj: Obj) -> None:
        """The status a real server stores at create: Go's zero status, non-omitempty fields included."""
        obj["status"] = {"desiredReplicas": 0, "currentMetrics": None}

    def default(self, obj: Obj) -> None:
        default_hpa(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        drop_disabled_fields(obj, None)

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        super().prepare_for_update(obj, old)
        drop_disabled_fields(obj, old)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_hpa_spec(obj.get("spec") or {})

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        status = obj.get("status") or {}
        path = Path("status")
        return non_negative(status.get("currentReplicas"), path.child("currentReplicas")) + \
            non_negative(status.get("desiredReplicas"), path.child("desiredReplicas"))
