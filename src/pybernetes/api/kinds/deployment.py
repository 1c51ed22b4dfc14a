"""apps/v1 Deployment: defaults, validation and the generation rule (upstream ``pkg/registry/apps/deployment``).

The generation also moves on annotation changes, not only spec changes: the Deployment controller copies the
Deployment's annotations onto its ReplicaSets and ``kubectl rollout undo`` works through annotations, so
``rollout status`` must see such an edit as a new generation to wait for.
"""

from __future__ import annotations

from pybernetes.api.field import FieldError, Path, forbidden, invalid, not_supported, required
from pybernetes.api.kinds.apps import (
    SPEC,
    Sel,
    collision_count_errors,
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
from pybernetes.api.kinds.fieldchecks import (
    int_or_percent_value,
    non_negative,
    not_more_than_100_percent,
    positive_int_or_percent,
)
from pybernetes.api.strategy import Obj, Strategy

ROLLING = "RollingUpdate"
RECREATE = "Recreate"


def default_deployment(obj: Obj) -> None:
    """``SetDefaults_Deployment`` (apps/v1) plus the pod template's defaults."""
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = spec.get("strategy")
    if not isinstance(strategy, dict):
        strategy = spec["strategy"] = {}
    if not strategy.get("type"):
        strategy["type"] = ROLLING
    if strategy["type"] == ROLLING:
        ru = strategy.get("rollingUpdate")
        if not isinstance(ru, dict):
            ru = strategy["rollingUpdate"] = {}
        if ru.get("maxUnavailable") is None:
            ru["maxUnavailable"] = "25%"
        if ru.get("maxSurge") is None:
            ru["maxSurge"] = "25%"
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    default_template(obj)


def validate_rolling_update(ru: Obj, path: Path) -> list[FieldError]:
    mu, ms = ru.get("maxUnavailable"), ru.get("maxSurge")
    errs = positive_int_or_percent(mu, path.child("maxUnavailable"))
    errs += positive_int_or_percent(ms, path.child("maxSurge"))
    if int_or_percent_value(mu) == 0 and int_or_percent_value(ms) == 0:
        errs.append(invalid(path.child("maxUnavailable"), mu if mu is not None else 0,
                            "may not be 0 when `maxSurge` is 0"))
    errs += not_more_than_100_percent(mu, path.child("maxUnavailable"))
    return errs


def validate_strategy(strategy: Obj | None, path: Path) -> list[FieldError]:
    strategy = strategy or {}
    kind = strategy.get("type", "")
    if kind == RECREATE:
        if strategy.get("rollingUpdate") is not None:
            return [forbidden(path.child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if kind == ROLLING:
        ru = strategy.get("rollingUpdate")
        if ru is None:
            return [required(path.child("rollingUpdate"), "this should be defaulted and never be nil")]
        return validate_rolling_update(ru, path.child("rollingUpdate"))
    return [not_supported(path, strategy, [RECREATE, ROLLING])]


def validate_deployment_spec(spec: Obj, path: Path = SPEC) -> list[FieldError]:
    errs = non_negative(spec.get("replicas", 0), path.child("replicas"))
    errs += validate_required_selector(spec, path, "deployment")
    kind, parsed = selector_kind(spec.get("selector"))
    if kind is Sel.BAD:
        errs.append(invalid(path.child("selector"), go_label_selector(spec.get("selector")), "invalid label selector"))
    else:
        errs += validate_template_for_replicas(spec, kind, parsed, path.child("template"), "ReplicaSet")
    errs += validate_strategy(spec.get("strategy"), path.child("strategy"))
    min_ready = spec.get("minReadySeconds", 0)
    errs += non_negative(min_ready, path.child("minReadySeconds"))
    errs += non_negative(spec.get("revisionHistoryLimit"), path.child("revisionHistoryLimit"))
    pds = spec.get("progressDeadlineSeconds")
    if pds is not None:
        errs += non_negative(pds, path.child("progressDeadlineSeconds"))
        if pds <= (min_ready or 0):
            errs.append(invalid(path.child("progressDeadlineSeconds"), pds, "must be greater than minReadySeconds"))
    return errs


STATUS_COUNTS = ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
                 "unavailableReplicas", "collisionCount")
_BOUND = "cannot be greater than status.replicas"
STATUS_BOUNDS = (("updatedReplicas", "replicas", _BOUND), ("readyReplicas", "replicas", _BOUND),
                 ("availableReplicas", "replicas", _BOUND),
                 ("availableReplicas", "readyReplicas", "cannot be greater than readyReplicas"))


def validate_deployment_status(status: Obj, path: Path = Path("status")) -> list[FieldError]:
    return status_counts(status, path, STATUS_COUNTS) + not_above(status, path, STATUS_BOUNDS)


class DeploymentStrategy(Strategy):
    has_status_subresource = True
    tracks_generation = True

    def reset_status(self, obj: Obj) -> None:
        """The status a real server stores at create: Go's zero status, non-omitempty fields included."""
        obj["status"] = {}

    def default(self, obj: Obj) -> None:
        default_deployment(obj)

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        super().prepare_for_update(obj, old)
        meta, old_meta = obj["metadata"], old["metadata"]
        if meta.get("generation") == old_meta.get("generation", 1) and \
                (meta.get("annotations") or {}) != (old_meta.get("annotations") or {}):
            meta["generation"] = old_meta.get("generation", 1) + 1

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_deployment_spec(obj.get("spec") or {})

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return self.validate(obj) + selector_immutable(obj, old)

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_deployment_status(obj.get("status") or {}) + collision_count_errors(obj, old)

    def warnings_on_create(self, obj: Obj) -> list[str]:
        return name_warnings(obj)
