"""LimitRange and ResourceQuota (upstream ``ValidateLimitRange``, ``ValidateResourceQuota*``,
``SetDefaults_LimitRangeItem`` and the resourcequota registry strategy)."""

from __future__ import annotations

from typing import ClassVar

from pybernetes.api.field import FieldError, Path, duplicate, forbidden, invalid, required
from pybernetes.api.kinds.common import GoRepr, go_strings
from pybernetes.api.kinds.resource_list import (
    overcommit_allowed,
    parse,
    qstr,
    validate_container_resource_name,
    validate_quantity_value,
    validate_quota_resource_name,
    validate_resource_name,
)
from pybernetes.api.quantity import Quantity
from pybernetes.api.strategy import Obj, Strategy
from pybernetes.api.validation.names import qualified_name

LIMIT_TYPES = frozenset({"Pod", "Container", "PersistentVolumeClaim"})
QUOTA_SCOPES = frozenset({"Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass",
                          "CrossNamespacePodAffinity", "VolumeAttributesClass"})
SCOPE_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def default_limit_range(lr: Obj) -> None:
    """``SetDefaults_LimitRangeItem``: Container items get default limits from max and requests from default/min."""
    for item in (lr.get("spec") or {}).get("limits") or ():
        if item.get("type") != "Container":
            continue
        default = item.get("default")
        if default is None:
            default = item["default"] = {}
        default_request = item.get("defaultRequest")
        if default_request is None:
            default_request = item["defaultRequest"] = {}
        for k, v in (item.get("max") or {}).items():
            default.setdefault(k, v)
        for k, v in default.items():
            default_request.setdefault(k, v)
        for k, v in (item.get("min") or {}).items():
            default_request.setdefault(k, v)


def _q(v: Quantity) -> GoRepr:
    return GoRepr(qstr(v))


def _resources(item: Obj, key: str, path: Path, limit_type: str, keys: set[str]) -> tuple[dict, list[FieldError]]:
    out: dict[str, Quantity] = {}
    errs: list[FieldError] = []
    for k, v in (item.get(key) or {}).items():
        p = path.child(key).key(k)
        if limit_type in ("Pod", "Container"):
            errs.extend(validate_container_resource_name(k, p))
        else:
            errs.extend(validate_resource_name(k, p))
        keys.add(k)
        q = parse(v)
        if q is None:
            errs.extend(validate_quantity_value(k, v, p)[1])
        else:
            out[k] = q
    return out, errs


def validate_limit_range(lr: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    path = Path("spec", "limits")
    seen_types: set[str] = set()
    for i, item in enumerate((lr.get("spec") or {}).get("limits") or ()):
        ip = path.index(i)
        t = item.get("type", "")
        msgs = qualified_name(t)
        errs.extend(invalid(ip.child("type"), t, m) for m in msgs)
        if not msgs and "/" not in t and t not in LIMIT_TYPES:
            errs.append(invalid(ip.child("type"), t, "must be a standard limit type or fully qualified"))
        if t in seen_types:
            errs.append(duplicate(ip.child("type"), t))
        seen_types.add(t)
        keys: set[str] = set()
        mx, e1 = _resources(item, "max", ip, t, keys)
        mn, e2 = _resources(item, "min", ip, t, keys)
        errs += e1 + e2
        df: dict[str, Quantity] = {}
        dr: dict[str, Quantity] = {}
        if t == "Pod":
            if item.get("default"):
                errs.append(forbidden(ip.child("default"), "may not be specified when `type` is 'Pod'"))
            if item.get("defaultRequest"):
                errs.append(forbidden(ip.child("defaultRequest"), "may not be specified when `type` is 'Pod'"))
        else:
            df, e3 = _resources(item, "default", ip, t, keys)
            dr, e4 = _resources(item, "defaultRequest", ip, t, keys)
            errs += e3 + e4
        if t == "PersistentVolumeClaim" and "storage" not in (item.get("min") or {}) and \
                "storage" not in (item.get("max") or {}):
            errs.append(required(ip.child("limits"), "either minimum or maximum storage value is required, but "
                                                     "neither was provided"))
        ratios, e5 = _resources(item, "maxLimitRequestRatio", ip, t, keys)
        errs += e5
        for k in sorted(keys):
            lo, hi, d, r, ratio = mn.get(k), mx.get(k), df.get(k), dr.get(k), ratios.get(k)
            if lo is not None and hi is not None and lo > hi:
                errs.append(invalid(ip.child("min").key(k), _q(lo),
                                    f"min value {qstr(lo)} is greater than max value {qstr(hi)}"))
            if r is not None and lo is not None and lo > r:
                errs.append(invalid(ip.child("defaultRequest").key(k), _q(r),
                                    f"min value {qstr(lo)} is greater than default request value {qstr(r)}"))
            if r is not None and hi is not None and r > hi:
                errs.append(invalid(ip.child("defaultRequest").key(k), _q(r),
                                    f"default request value {qstr(r)} is greater than max value {qstr(hi)}"))
            if r is not None and d is not None and r > d:
                errs.append(invalid(ip.child("defaultRequest").key(k), _q(r),
                                    f"default request value {qstr(r)} is greater than default limit value {qstr(d)}"))
            if d is not None and lo is not None and lo > d:
                errs.append(invalid(ip.child("default").key(k), _q(lo),
                                    f"min value {qstr(lo)} is greater than default value {qstr(d)}"))
            if d is not None and hi is not None and d > hi:
                errs.append(invalid(ip.child("default").key(k), _q(hi),
                                    f"default value {qstr(d)} is greater than max value {qstr(hi)}"))
            if ratio is not None and ratio.milli_value() < 1000:
                errs.append(invalid(ip.child("maxLimitRequestRatio").key(k), _q(ratio),
                                    f"ratio {qstr(ratio)} is less than 1"))
            if ratio is not None and lo is not None and hi is not None and lo.milli_value() > 0:
                limit = hi.milli_value() / lo.milli_value()
                if ratio.milli_value() / 1000 > limit:
                    errs.append(invalid(ip.child("maxLimitRequestRatio").key(k), _q(ratio),
                                        f"ratio {qstr(ratio)} is greater than max/min = {limit:f}"))
            if not overcommit_allowed(k) and d is not None and r is not None and d != r:
                errs.append(invalid(ip.child("defaultRequest").key(k), _q(r),
                                    f"default value {qstr(d)} must equal to defaultRequest value {qstr(r)} in {k}"))
    return errs


class LimitRangeStrategy(Strategy):
    def default(self, obj: Obj) -> None:
        default_limit_range(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_limit_range(obj)


def _quota_list(rl: dict | None, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    for k, v in (rl or {}).items():
        p = path.key(k)
        errs.extend(validate_quota_resource_name(k, p))
        errs.extend(validate_quantity_value(k, v, p)[1])
    return errs


def validate_quota_spec(spec: Obj, path: Path) -> list[FieldError]:
    errs = _quota_list(spec.get("hard"), path.child("hard"))
    scopes = spec.get("scopes") or []
    sp = path.child("scopes")
    for s in scopes:
        if s not in QUOTA_SCOPES:
            errs.append(invalid(sp, go_strings(scopes, "[]core.ResourceQuotaScope"), "unsupported scope"))
    if ("Terminating" in scopes and "NotTerminating" in scopes) or ("BestEffort" in scopes and
                                                                   "NotBestEffort" in scopes):
        errs.append(invalid(sp, go_strings(scopes, "[]core.ResourceQuotaScope"), "conflicting scopes"))
    selector = spec.get("scopeSelector")
    if selector is not None:
        ep = path.child("scopeSelector", "matchExpressions")
        for i, expr in enumerate(selector.get("matchExpressions") or ()):
            ip = ep.index(i)
            if expr.get("scopeName") not in QUOTA_SCOPES:
                errs.append(invalid(ip.child("scopeName"), expr.get("scopeName", ""), "unsupported scope"))
            op, values = expr.get("operator", ""), expr.get("values") or []
            if op in ("In", "NotIn"):
                if not values:
                    errs.append(required(ip.child("values"), "must be at least one value when `operator` is 'In' or "
                                                             "'NotIn' for scope selector"))
            elif op in ("Exists", "DoesNotExist"):
                if values:
                    errs.append(invalid(ip.child("values"), go_strings(values),
                                        "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope "
                                        "selector"))
            else:
                errs.append(invalid(ip.child("operator"), op, "not a valid selector operator"))
    return errs


class ResourceQuotaStrategy(Strategy):
    has_status_subresource: ClassVar[bool] = True

    def reset_status(self, obj: Obj) -> None:
        obj["status"] = {}

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_quota_spec(obj.get("spec") or {}, Path("spec"))

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        status = obj.get("status") or {}
        return (_quota_list(status.get("hard"), Path("status", "hard"))
                + _quota_list(status.get("used"), Path("status", "used")))
