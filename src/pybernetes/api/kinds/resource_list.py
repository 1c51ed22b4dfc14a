"""Resource names, quantities and requirements: the rules upstream spreads over ``validation.go`` and
``pkg/apis/core/helper`` (standard names, extended resources, overcommit), plus pod QoS class.

Quantities arrive as JSON strings (or numbers); they are parsed once per check with
:func:`pybernetes.api.quantity.parse_quantity`. A string that is not a quantity is reported as upstream's decoder
words it, since in Go that error surfaces while decoding the body.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from pybernetes.api.field import FieldError, Path, forbidden, invalid, required
from pybernetes.api.kinds.common import IS_NEGATIVE, IS_NOT_INTEGER, IS_NOT_POSITIVE, GoRepr
from pybernetes.api.quantity import Quantity, parse_quantity
from pybernetes.api.validation import names
from pybernetes.api.validation.known_valid import KnownValid

QUANTITY_SYNTAX = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

STANDARD_CONTAINER_RESOURCES = frozenset({"cpu", "memory", "ephemeral-storage"})
STANDARD_RESOURCES = frozenset({
    "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage",
    "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods", "services", "replicationcontrollers",
    "resourcequotas", "secrets", "configmaps", "persistentvolumeclaims", "storage", "requests.storage",
    "services.nodeports", "services.loadbalancers",
})
STANDARD_QUOTA_RESOURCES = frozenset({
    "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.storage",
    "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods", "services",
    "replicationcontrollers", "resourcequotas", "secrets", "persistentvolumeclaims", "configmaps",
    "services.nodeports", "services.loadbalancers",
})
INTEGER_RESOURCES = frozenset({
    "pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
    "persistentvolumeclaims", "services.nodeports", "services.loadbalancers",
})
REQUESTS_PREFIX = "requests."
HUGEPAGES_PREFIX = "hugepages-"
QOS_RESOURCES = ("cpu", "memory")


def parse(value: Any) -> Quantity | None:
    """A Quantity, or None when ``value`` is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        value = str(value)
    if not isinstance(value, str):
        return None
    try:
        return parse_quantity(value)
    except ValueError:
        return None


def qstr(q: Quantity) -> str:
    """The canonical string of a quantity, as Go's ``Quantity.String()``."""
    return str(q)


def is_hugepages(name: str) -> bool:
    return name.startswith(HUGEPAGES_PREFIX)


def is_quota_hugepages(name: str) -> bool:
    return name.startswith(HUGEPAGES_PREFIX) or name.startswith(REQUESTS_PREFIX + HUGEPAGES_PREFIX)


def is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def is_extended(name: str) -> bool:
    if is_native(name) or name.startswith(REQUESTS_PREFIX):
        return False
    return not names.qualified_name(REQUESTS_PREFIX + name)


def overcommit_allowed(name: str) -> bool:
    return is_native(name) and not is_hugepages(name)


def is_integer_resource(name: str) -> bool:
    return name in INTEGER_RESOURCES or is_extended(name)


def is_standard_resource(name: str) -> bool:
    return name in STANDARD_RESOURCES or is_quota_hugepages(name)


def is_standard_container_resource(name: str) -> bool:
    return name in STANDARD_CONTAINER_RESOURCES or is_hugepages(name)


def validate_resource_name(name: str, path: Path) -> list[FieldError]:
    """Upstream ``validateResourceName``: qualified, and standard unless it has a domain."""
    errs = [invalid(path, name, m) for m in names.qualified_name(name)]
    if "/" not in name and not is_standard_resource(name):
        errs.append(invalid(path, name, "must be a standard resource type or fully qualified"))
    return errs


def validate_container_resource_name(name: str, path: Path) -> list[FieldError]:
    errs = validate_resource_name(name, path)
    if "/" not in name:
        if not is_standard_container_resource(name):
            errs.append(invalid(path, name, "must be a standard resource for containers"))
    elif not is_native(name) and not is_extended(name):
        errs.append(invalid(path, name, "doesn't follow extended resource name standard"))
    return errs


def validate_quota_resource_name(name: str, path: Path) -> list[FieldError]:
    errs = validate_resource_name(name, path)
    if "/" not in name and not (name in STANDARD_QUOTA_RESOURCES or is_quota_hugepages(name)):
        errs.append(invalid(path, name, "must be a standard resource for quota"))
    return errs


def quantity_or_error(value: Any, path: Path) -> tuple[Quantity | None, list[FieldError]]:
    q = parse(value)
    if q is None:
        return None, [invalid(path, value, QUANTITY_SYNTAX)]
    return q, []


def validate_quantity_value(name: str, value: Any, path: Path) -> tuple[Quantity | None, list[FieldError]]:
    """Upstream ``ValidateResourceQuantityValue``: non-negative, whole for integer resources."""
    q, errs = quantity_or_error(value, path)
    if q is None:
        return None, errs
    mv = q.milli_value()
    if mv < 0:
        errs.append(invalid(path, qstr(q), IS_NEGATIVE))
    if is_integer_resource(name) and mv % 1000 != 0:
        errs.append(invalid(path, qstr(q), IS_NOT_INTEGER))
    return q, errs


def validate_positive_quantity(value: Any, path: Path) -> tuple[Quantity | None, list[FieldError]]:
    q, errs = quantity_or_error(value, path)
    if q is not None and q.milli_value() <= 0:
        errs.append(invalid(path, qstr(q), IS_NOT_POSITIVE))
    return q, errs


def validate_resource_list(rl: Mapping[str, Any] | None, path: Path,
                           name_fn: Callable[[str, Path], list[FieldError]] = validate_resource_name,
                           ) -> list[FieldError]:
    errs: list[FieldError] = []
    for name, value in (rl or {}).items():
        p = path.key(name)
        errs.extend(name_fn(name, p))
        errs.extend(validate_quantity_value(name, value, p)[1])
    return errs


_REQUIREMENTS_VALID = KnownValid()


def validate_resource_requirements(req: Mapping[str, Any] | None, path: Path, *,
                                   claim_names: frozenset[str] | set[str] = frozenset()) -> list[FieldError]:
    """Upstream ``ValidateContainerResourceRequirements``. Without claims the verdict depends on ``req`` alone,
    and the replicas of a workload repeat it: a valid one is remembered."""
    if not req:
        return []
    if req.get("claims"):
        return _requirements_errors(req, path, claim_names)
    key = _REQUIREMENTS_VALID.key(req)
    if _REQUIREMENTS_VALID.known(key):
        return []
    errs = _requirements_errors(req, path, claim_names)
    if not errs:
        _REQUIREMENTS_VALID.add(key)
    return errs


def _requirements_errors(req: Mapping[str, Any], path: Path,
                         claim_names: frozenset[str] | set[str]) -> list[FieldError]:
    errs: list[FieldError] = []
    lim_path, req_path = path.child("limits"), path.child("requests")
    limits: dict[str, Quantity] = {}
    lim_cpu_mem = req_cpu_mem = lim_huge = req_huge = False
    for name, value in (req.get("limits") or {}).items():
        p = lim_path.key(name)
        errs.extend(validate_container_resource_name(name, p))
        q, qerrs = validate_quantity_value(name, value, p)
        errs.extend(qerrs)
        if q is not None:
            limits[name] = q
        if is_hugepages(name):
            lim_huge = True
        if name in QOS_RESOURCES:
            lim_cpu_mem = True
    for name, value in (req.get("requests") or {}).items():
        p = req_path.key(name)
        errs.extend(validate_container_resource_name(name, p))
        q, qerrs = validate_quantity_value(name, value, p)
        errs.extend(qerrs)
        lim = limits.get(name)
        if q is not None and lim is not None:
            if q.milli_value() != lim.milli_value() and not overcommit_allowed(name):
                errs.append(invalid(req_path, qstr(q), f"must be equal to {name} limit of {qstr(lim)}"))
            elif q.milli_value() > lim.milli_value():
                errs.append(invalid(req_path, qstr(q), f"must be less than or equal to {name} limit of {qstr(lim)}"))
        elif name not in (req.get("limits") or {}) and not overcommit_allowed(name):
            errs.append(required(lim_path, "Limit must be set for non overcommitable resources"))
        if is_hugepages(name):
            req_huge = True
        if name in QOS_RESOURCES:
            req_cpu_mem = True
    if not lim_cpu_mem and not req_cpu_mem and (lim_huge or req_huge):
        errs.append(forbidden(path, "HugePages require cpu or memory"))
    seen: set[str] = set()
    for i, claim in enumerate(req.get("claims") or ()):
        cp = path.child("claims").index(i)
        name = claim.get("name", "")
        if not name:
            errs.append(required(cp.child("name"), ""))
        elif name in seen:
            from pybernetes.api.field import duplicate
            errs.append(duplicate(cp.child("name"), name))
        else:
            seen.add(name)
            if name not in claim_names:
                errs.append(invalid(cp.child("name"), name,
                                    "must be one of the names in pod.spec.resourceClaims"
                                    if claim_names else "must be one of the names in pod.spec.resourceClaims "
                                    "which is empty"))
    return errs


def quantity_value(value: Any) -> GoRepr:
    """A quantity as Go prints a ``resource.Quantity`` value in a field error (its String(), unquoted)."""
    q = parse(value)
    return GoRepr(qstr(q) if q is not None else str(value))


_QOS: dict[bytes, str] = {}


def pod_qos_class(spec: Mapping[str, Any]) -> str:
    """Upstream ``qos.GetPodQOS`` (without pod-level resources, alpha in 1.33): BestEffort, Burstable, Guaranteed.

    Runs after defaulting, so container requests already include the ones copied from limits. Only the
    containers' resources count, and a workload's replicas repeat them: remembered by their JSON.
    """
    try:
        key = orjson.dumps([[(c or {}).get("resources") for c in spec.get(k) or ()]
                            for k in ("initContainers", "containers")])
    except (TypeError, AttributeError):
        return _qos_class(spec)
    got = _QOS.get(key)
    if got is None:
        got = _qos_class(spec)
        if len(key) <= 16384:                  # bounded in count and in what one entry keeps
            if len(_QOS) >= 4096:
                _QOS.clear()
            _QOS[key] = got
    return got


def _qos_class(spec: Mapping[str, Any]) -> str:
    requests: dict[str, int] = {}
    limits: dict[str, int] = {}
    guaranteed = True
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or ():
            res = c.get("resources") or {}
            for name, value in (res.get("requests") or {}).items():
                if name not in QOS_RESOURCES:
                    continue
                q = parse(value)
                if q is not None and q.milli_value() > 0:
                    requests[name] = requests.get(name, 0) + q.milli_value()
            found = set()
            for name, value in (res.get("limits") or {}).items():
                if name not in QOS_RESOURCES:
                    continue
                q = parse(value)
                if q is not None and q.milli_value() > 0:
                    found.add(name)
                    limits[name] = limits.get(name, 0) + q.milli_value()
            if len(found) < len(QOS_RESOURCES):
                guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed:
        for name, r in requests.items():
            if limits.get(name) != r:
                guaranteed = False
                break
    if guaranteed and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


def qualified_name_errors(name: str, path: Path) -> list[FieldError]:
    return [invalid(path, name, m) for m in names.qualified_name(name)]
