"""apps/v1 ReplicaSet: defaults, validation, generation on spec changes (upstream ``pkg/registry/apps/replicaset``)."""

from __future__ import annotations

from pybernetes.api.field import FieldError, Path, invalid
from pybernetes.api.kinds.apps import (
    SPEC,
    Sel,
    default_template,
    go_label_selector,
    name_warnings,
    not_above,
    selector_immutable,
    selector_kind,
    status_counts,
    validate_required_selector,
    validate_template_for_replicas,
)
from pybernetes.api.kinds.fieldchecks import non_negative
from pybernetes.api.strategy import Obj, Strategy


def default_replicaset(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    if isinstance(spec, dict) and spec.get("replicas") is None:
        spec["replicas"] = 1
    default_template(obj)


def validate_replicaset_spec(spec: Obj, path: Path = SPEC) -> list[FieldError]:
    errs = non_negative(spec.get("replicas", 0), path.child("replicas"))
    errs += non_negative(spec.get("minReadySeconds", 0), path.child("minReadySeconds"))
    # Upstream's message says "deployment" here too; clients match on it, so it is kept.
    errs += validate_required_selector(spec, path, "deployment")
    kind, parsed = selector_kind(spec.get("selector"))
    if kind is Sel.BAD:
        errs.append(invalid(path.child("selector"), go_label_selector(spec.get("selector")), "invalid label selector"))
    else:
        errs += validate_template_for_replicas(spec, kind, parsed, path.child("template"), "ReplicaSet")
    return errs


STATUS_COUNTS = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration")
_BOUND = "cannot be greater than status.replicas"
STATUS_BOUNDS = (("fullyLabeledReplicas", "replicas", _BOUND), ("readyReplicas", "replicas", _BOUND),
                 ("availableReplicas", "replicas", _BOUND),
                 ("availableReplicas", "readyReplicas", "cannot be greater than readyReplicas"))


def validate_replicaset_status(status: Obj, path: Path = Path("status")) -> list[FieldError]:
    return status_counts(status, path, STATUS_COUNTS) + not_above(status, path, STATUS_BOUNDS)


class ReplicaSetStrategy(Strategy):
    has_status_subresource = True
    tracks_generation = True

    def reset_status(self, obj: Obj) -> None:
        """The status a real server stores at create: Go's zero status, non-omitempty fields included."""
        obj["status"] = {"replicas": 0}

    def default(self, obj: Obj) -> None:
        default_replicaset(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_replicaset_spec(obj.get("spec") or {})

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return self.validate(obj) + selector_immutable(obj, old)

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_replicaset_status(obj.get("status") or {})

    def warnings_on_create(self, obj: Obj) -> list[str]:
        return name_warnings(obj)
