"""policy/v1 PodDisruptionBudget.

Upstream: ``pkg/apis/policy/validation``, ``pkg/registry/policy/poddisruptionbudget``.
"""

from __future__ import annotations

from pybernetes.api.field import FieldError, Path, invalid, not_supported
from pybernetes.api.kinds.fieldchecks import non_negative, not_more_than_100_percent, positive_int_or_percent
from pybernetes.api.selectors import validate_label_selector
from pybernetes.api.strategy import Obj, Strategy

EVICTION_POLICIES = ("AlwaysAllow", "IfHealthyBudget")
SPEC = Path("spec")


def validate_pdb_spec(spec: Obj, path: Path = SPEC) -> list[FieldError]:
    errs: list[FieldError] = []
    min_a, max_u = spec.get("minAvailable"), spec.get("maxUnavailable")
    if min_a is not None and max_u is not None:
        errs.append(invalid(path, spec, "minAvailable and maxUnavailable cannot be both set"))
    for key, v in (("minAvailable", min_a), ("maxUnavailable", max_u)):
        if v is not None:
            errs += positive_int_or_percent(v, path.child(key))
            errs += not_more_than_100_percent(v, path.child(key))
    if spec.get("selector") is not None:
        errs += validate_label_selector(spec["selector"], path.child("selector"))
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in EVICTION_POLICIES:
        errs.append(not_supported(path.child("unhealthyPodEvictionPolicy"), policy, list(EVICTION_POLICIES)))
    return errs


def validate_pdb_status(status: Obj, path: Path = Path("status")) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"):
        errs += non_negative(status.get(key, 0), path.child(key))
    return errs


class PodDisruptionBudgetStrategy(Strategy):
    has_status_subresource = True
    tracks_generation = True

    def reset_status(self, obj: Obj) -> None:
        """The status a real server stores at create: Go's zero status, non-omitempty fields included."""
        obj["status"] = {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_pdb_spec(obj.get("spec") or {})

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_pdb_status(obj.get("status") or {})
