"""apps/v1 DaemonSet: defaults, validation, generation and template generation.

Upstream: ``pkg/apis/apps/validation``, ``pkg/registry/apps/daemonset``.

Upstream's internal DaemonSet has ``spec.templateGeneration``; apps/v1 carries it as the annotation
``deprecated.daemonset.template.generation``. The server owns it: it starts at 1 on create and moves by one each
time the pod template changes, whatever the client sent — so every stored DaemonSet has the annotation, as on a
real cluster.
"""

from __future__ import annotations

from pybernetes.api.field import FieldError, Path, invalid, not_supported, required
from pybernetes.api.kinds.apps import (
    SELECTOR_MISMATCH,
    SPEC,
    Sel,
    collision_count_errors,
    default_template,
    go_label_selector,
    labels_repr,
    name_warnings,
    restart_always,
    selector_immutable,
    selector_kind,
    selector_matches,
    status_counts,
    template_labels,
)
from pybernetes.api.kinds.fieldchecks import (
    int_or_percent_value,
    non_negative,
    not_more_than_100_percent,
    positive_int_or_percent,
)
from pybernetes.api.kinds.pod import validate_pod_template_spec
from pybernetes.api.selectors import validate_label_selector
from pybernetes.api.strategy import Obj, Strategy

TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"
ROLLING, ON_DELETE = "RollingUpdate", "OnDelete"


def default_daemonset(obj: Obj) -> None:
    """``SetDefaults_DaemonSet``: RollingUpdate with maxUnavailable 1 and maxSurge 0, 10 revisions kept."""
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    us = spec.get("updateStrategy")
    if not isinstance(us, dict):
        us = spec["updateStrategy"] = {}
    if not us.get("type"):
        us["type"] = ROLLING
    if us["type"] == ROLLING:
        ru = us.get("rollingUpdate")
        if not isinstance(ru, dict):
            ru = us["rollingUpdate"] = {}
        if ru.get("maxUnavailable") is None:
            ru["maxUnavailable"] = 1
        if ru.get("maxSurge") is None:
            ru["maxSurge"] = 0
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    default_template(obj)


def validate_rolling_update(ru: Obj, path: Path) -> list[FieldError]:
    mu, ms = ru.get("maxUnavailable"), ru.get("maxSurge")
    errs = positive_int_or_percent(mu, path.child("maxUnavailable"))
    errs += positive_int_or_percent(ms, path.child("maxSurge"))
    errs += not_more_than_100_percent(mu, path.child("maxUnavailable"))
    errs += not_more_than_100_percent(ms, path.child("maxSurge"))
    has_unavailable = int_or_percent_value(mu) != 0
    has_surge = int_or_percent_value(ms) != 0
    if has_unavailable and has_surge:
        errs.append(invalid(path.child("maxSurge"), ms, "may not be set when maxUnavailable is non-zero"))
    elif not has_unavailable and not has_surge:
        errs.append(required(path.child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
    return errs


def validate_update_strategy(us: Obj | None, path: Path) -> list[FieldError]:
    us = us or {}
    kind = us.get("type", "")
    if kind == ON_DELETE:
        return []
    if kind == ROLLING:
        ru = us.get("rollingUpdate")
        if ru is None:
            return [required(path.child("rollingUpdate"))]
        return validate_rolling_update(ru, path.child("rollingUpdate"))
    return [not_supported(path, us, [ROLLING, ON_DELETE])]


def validate_daemonset_spec(spec: Obj, path: Path = SPEC) -> list[FieldError]:
    sel = spec.get("selector")
    errs = validate_label_selector(sel, path.child("selector")) if sel is not None else []
    kind, parsed = selector_kind(sel)
    labels = template_labels(spec)
    if kind is not Sel.BAD and not selector_matches(kind, parsed, labels):
        errs.append(invalid(path.child("template", "metadata", "labels"), labels_repr(labels), SELECTOR_MISMATCH))
    if isinstance(sel, dict) and not sel.get("matchLabels") and not sel.get("matchExpressions"):
        errs.append(invalid(path.child("selector"), go_label_selector(sel), "empty selector is invalid for daemonset"))
    tmpl = spec.get("template") or {}
    errs += validate_pod_template_spec(tmpl, path.child("template"))
    errs += restart_always(tmpl, path.child("template"), "DaemonSet")
    errs += non_negative(spec.get("minReadySeconds", 0), path.child("minReadySeconds"))
    errs += validate_update_strategy(spec.get("updateStrategy"), path.child("updateStrategy"))
    errs += non_negative(spec.get("revisionHistoryLimit"), path.child("revisionHistoryLimit"))
    return errs


def template_generation(obj: Obj) -> int:
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(TEMPLATE_GENERATION)
    try:
        return int(raw) if raw is not None else 0
    except (TypeError, ValueError):
        return 0


def set_template_generation(obj: Obj, gen: int) -> None:
    meta = obj.setdefault("metadata", {})
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict):
        annotations = meta["annotations"] = {}
    annotations[TEMPLATE_GENERATION] = str(gen)


STATUS_COUNTS = ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady",
                 "observedGeneration", "updatedNumberScheduled", "numberAvailable", "numberUnavailable",
                 "collisionCount")


class DaemonSetStrategy(Strategy):
    has_status_subresource = True
    tracks_generation = True

    def reset_status(self, obj: Obj) -> None:
        """The status a real server stores at create: Go's zero status, non-omitempty fields included."""
        obj["status"] = {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0,
                         "numberReady": 0}

    def default(self, obj: Obj) -> None:
        default_daemonset(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        set_template_generation(obj, max(template_generation(obj), 1))

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        self.keep_status(obj, old)
        meta, old_meta = obj["metadata"], old["metadata"]
        gen = old_meta.get("generation", 1)
        tgen = template_generation(old)
        new_spec, old_spec = obj.get("spec") or {}, old.get("spec") or {}
        if new_spec.get("template") != old_spec.get("template"):
            tgen += 1
            gen += 1
        elif new_spec != old_spec:
            gen += 1
        meta["generation"] = gen
        set_template_generation(obj, tgen)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_daemonset_spec(obj.get("spec") or {})

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return self.validate(obj) + selector_immutable(obj, old)

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return status_counts(obj.get("status") or {}, Path("status"), STATUS_COUNTS) + \
            collision_count_errors(obj, old)

    def warnings_on_create(self, obj: Obj) -> list[str]:
        return name_warnings(obj)

