"""scheduling.k8s.io/v1 PriorityClass (upstream ``pkg/apis/scheduling``, ``pkg/registry/scheduling/priorityclass``).

A class's ``value`` is frozen: pods copy it into ``spec.priority`` at admission, so changing it would silently
split pods of one class into two priorities. Names starting ``system-`` are reserved for the two built-in classes.
That at most one class is ``globalDefault`` needs the other stored classes and is checked at admission, not here.
"""

from __future__ import annotations

from pybernetes.api.field import FieldError, Path, forbidden, not_supported, required
from pybernetes.api.kinds.fieldchecks import immutable
from pybernetes.api.strategy import Obj, Strategy

HIGHEST_USER_PRIORITY = 1_000_000_000
SYSTEM_PREFIX = "system-"
SYSTEM_CLASSES = {"system-node-critical": 2_000_001_000, "system-cluster-critical": 2_000_000_000}
PREEMPTION_POLICIES = ("Never", "PreemptLowerPriority")


def default_priority_class(obj: Obj) -> None:
    if obj.get("preemptionPolicy") is None:
        obj["preemptionPolicy"] = "PreemptLowerPriority"


def _system_class_error(name: str, value: int, global_default: bool) -> str | None:
    """``IsKnownSystemPriorityClass``: why a ``system-`` class is refused, or None when it is a known one."""
    if name not in SYSTEM_CLASSES:
        return f"{name} is not a known system priority class"
    if SYSTEM_CLASSES[name] != value:
        return f"value of {name} PriorityClass must be {SYSTEM_CLASSES[name]}"
    if global_default:
        return f"globalDefault of {name} PriorityClass must be false"
    return None


def validate_priority_class(obj: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    name = (obj.get("metadata") or {}).get("name") or ""
    value = obj.get("value", 0)
    if name.startswith(SYSTEM_PREFIX):
        why = _system_class_error(name, value, bool(obj.get("globalDefault")))
        if why:
            errs.append(forbidden(Path("metadata", "name"), "priority class names with 'system-' prefix are "
                                                            f"reserved for system use only. error: {why}"))
    elif value > HIGHEST_USER_PRIORITY:
        errs.append(forbidden("value", f"maximum allowed value of a user defined priority is {HIGHEST_USER_PRIORITY}"))
    policy = obj.get("preemptionPolicy")
    if policy is not None:
        if policy == "":
            errs.append(required("preemptionPolicy"))
        elif policy not in PREEMPTION_POLICIES:
            errs.append(not_supported("preemptionPolicy", policy, list(PREEMPTION_POLICIES)))
    return errs


class PriorityClassStrategy(Strategy):
    def default(self, obj: Obj) -> None:
        default_priority_class(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_priority_class(obj)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        if obj.get("value", 0) != old.get("value", 0):
            errs.append(forbidden("value", "may not be changed in an update."))
        errs += immutable(obj.get("preemptionPolicy"), old.get("preemptionPolicy"), "preemptionPolicy")
        return errs
