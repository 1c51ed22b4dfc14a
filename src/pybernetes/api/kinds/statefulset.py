"""apps/v1 StatefulSet: defaults, validation and the update rule (upstream ``pkg/registry/apps/statefulset``).

Most of a StatefulSet's spec is frozen after creation because the controller derives pod identities and
PersistentVolumeClaims from it; only the fields named in :data:`MUTABLE` may change. Names are DNS labels (not
subdomains) since they become pod hostnames.

Two details copy what a real API server stores: each ``volumeClaimTemplates`` entry gets the PVC defaults
(``volumeMode: Filesystem``, ``status.phase: Pending``) and its ``apiVersion``/``kind`` (upstream sets them during
conversion, see kubernetes/kubernetes#87583); and ``updateStrategy.rollingUpdate.maxUnavailable`` is dropped on
create because its feature gate (MaxUnavailableStatefulSet) is alpha, hence off, in 1.33.
"""

from __future__ import annotations

from typing import Any

from pybernetes.api.field import FieldError, Path, forbidden, invalid, not_supported, required
from pybernetes.api.kinds.apps import (
    SELECTOR_MISMATCH,
    SPEC,
    Sel,
    collision_count_errors,
    default_template,
    go_label_selector,
    labels_repr,
    not_above,
    selector_kind,
    selector_matches,
    status_counts,
    template_labels,
    validate_required_selector,
)
from pybernetes.api.kinds.fieldchecks import (
    int_or_percent_value,
    non_negative,
    not_more_than_100_percent,
    positive_int_or_percent,
)
from pybernetes.api.strategy import Obj, Strategy
from pybernetes.api.validation.names import name_is_dns_label, validate_annotations, validate_labels

ORDERED, PARALLEL = "OrderedReady", "Parallel"
ROLLING, ON_DELETE = "RollingUpdate", "OnDelete"
RETAIN, DELETE = "Retain", "Delete"
MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
           "minReadySeconds")
FORBIDDEN_UPDATE = ("updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                    "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")


def default_statefulset(obj: Obj) -> None:
    """``SetDefaults_StatefulSet`` plus the template's and each volume claim template's defaults."""
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    if not spec.get("podManagementPolicy"):
        spec["podManagementPolicy"] = ORDERED
    us = spec.get("updateStrategy")
    if not isinstance(us, dict):
        us = spec["updateStrategy"] = {}
    if not us.get("type"):
        us["type"] = ROLLING
        if us.get("rollingUpdate") is None:
            us["rollingUpdate"] = {}
    ru = us.get("rollingUpdate")
    if us["type"] == ROLLING and isinstance(ru, dict) and ru.get("partition") is None:
        ru["partition"] = 0
    policy = spec.get("persistentVolumeClaimRetentionPolicy")
    if not isinstance(policy, dict):
        policy = spec["persistentVolumeClaimRetentionPolicy"] = {}
    for k in ("whenDeleted", "whenScaled"):
        if not policy.get(k):
            policy[k] = RETAIN
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    default_template(obj)
    claims = spec.get("volumeClaimTemplates")
    if isinstance(claims, list):
        spec["volumeClaimTemplates"] = [default_claim_template(c) if isinstance(c, dict) else c for c in claims]


def default_claim_template(claim: dict[str, Any]) -> dict[str, Any]:
    """A PVC template as stored: typed (``v1``/``PersistentVolumeClaim`` first), PVC defaults applied."""
    out: dict[str, Any] = {"apiVersion": "v1", "kind": "PersistentVolumeClaim"}
    out.update((k, v) for k, v in claim.items() if k not in ("apiVersion", "kind"))
    spec = out.get("spec")
    if not isinstance(spec, dict):
        spec = out["spec"] = {}
    if spec.get("volumeMode") is None:
        spec["volumeMode"] = "Filesystem"
    status = out.get("status")
    if not isinstance(status, dict):
        status = out["status"] = {}
    if not status.get("phase"):
        status["phase"] = "Pending"
    return out


def _retention(policy: Obj | None, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    if policy is None:
        return errs
    for k in ("whenDeleted", "whenScaled"):
        v = policy.get(k, "")
        if v not in (RETAIN, DELETE):
            errs.append(not_supported(path.child(k), v, [RETAIN, DELETE]))
    return errs


def _rolling_update(ru: Obj, path: Path) -> list[FieldError]:
    errs = non_negative(ru.get("partition", 0), path.child("partition"))
    mu = ru.get("maxUnavailable")
    if mu is not None:
        p = path.child("maxUnavailable")
        errs += positive_int_or_percent(mu, p)
        if int_or_percent_value(mu) == 0:
            errs.append(invalid(p, mu, "cannot be 0"))
        errs += not_more_than_100_percent(mu, p)
    return errs


def _update_strategy(us: Obj | None, path: Path) -> list[FieldError]:
    us = us or {}
    kind = us.get("type", "")
    ru = us.get("rollingUpdate")
    if kind == "":
        return [required(path)]
    if kind == ON_DELETE:
        if ru is not None:
            return [invalid(path.child("rollingUpdate"), ru, "only allowed for updateStrategy 'RollingUpdate'")]
        return []
    if kind == ROLLING:
        return _rolling_update(ru, path.child("rollingUpdate")) if ru is not None else []
    return [invalid(path, us, "must be 'RollingUpdate' or 'OnDelete'")]


def _template(spec: Obj, kind: Sel, parsed: Any, path: Path) -> list[FieldError]:
    """Upstream checks only the template's labels here, not the whole pod spec (a long-standing TODO there)."""
    errs: list[FieldError] = []
    labels = template_labels(spec)
    if kind is not Sel.EVERYTHING and not selector_matches(kind, parsed, labels):
        errs.append(invalid(path.child("metadata", "labels"), labels_repr(labels), SELECTOR_MISMATCH))
    errs += validate_labels(labels or {}, path.child("labels"))
    annotations = ((spec.get("template") or {}).get("metadata") or {}).get("annotations")
    errs += validate_annotations(annotations or {}, path.child("annotations"))
    return errs


def validate_statefulset_spec(spec: Obj, path: Path = SPEC) -> list[FieldError]:
    errs: list[FieldError] = []
    pmp = spec.get("podManagementPolicy", "")
    if pmp == "":
        errs.append(required(path.child("podManagementPolicy")))
    elif pmp not in (ORDERED, PARALLEL):
        errs.append(invalid(path.child("podManagementPolicy"), pmp, "must be 'OrderedReady' or 'Parallel'"))
    errs += _update_strategy(spec.get("updateStrategy"), path.child("updateStrategy"))
    errs += _retention(spec.get("persistentVolumeClaimRetentionPolicy"),
                       path.child("persistentVolumeClaimRetentionPolicy"))
    errs += non_negative(spec.get("replicas", 0), path.child("replicas"))
    errs += non_negative(spec.get("minReadySeconds", 0), path.child("minReadySeconds"))
    ordinals = spec.get("ordinals")
    if isinstance(ordinals, dict):
        errs += non_negative(ordinals.get("start", 0), path.child("ordinals.start"))
    errs += validate_required_selector(spec, path, "statefulset")
    kind, parsed = selector_kind(spec.get("selector"))
    if kind is Sel.BAD:
        errs.append(invalid(path.child("selector"), go_label_selector(spec.get("selector")), ""))
    else:
        errs += _template(spec, kind, parsed, path.child("template"))
    pspec = (spec.get("template") or {}).get("spec") or {}
    policy = pspec.get("restartPolicy", "")
    if policy != "Always":
        errs.append(not_supported(path.child("template", "spec", "restartPolicy"), policy, ["Always"]))
    if pspec.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden(path.child("template", "spec", "activeDeadlineSeconds"),
                              "activeDeadlineSeconds in StatefulSet is not Supported"))
    return errs


def frozen_spec(spec: Obj) -> Obj:
    """The part of a spec that may not change after creation."""
    return {k: v for k, v in spec.items() if k not in MUTABLE}


STATUS_COUNTS = ("replicas", "readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas",
                 "observedGeneration", "collisionCount")
_BOUND = "cannot be greater than status.replicas"
STATUS_BOUNDS = (("readyReplicas", "replicas", _BOUND), ("currentReplicas", "replicas", _BOUND),
                 ("updatedReplicas", "replicas", _BOUND), ("availableReplicas", "replicas", _BOUND),
                 ("availableReplicas", "readyReplicas", "cannot be greater than status.readyReplicas"))


class StatefulSetStrategy(Strategy):
    has_status_subresource = True
    tracks_generation = True
    name_fn = staticmethod(name_is_dns_label)  # type: ignore[assignment]  # unbound on instances

    def reset_status(self, obj: Obj) -> None:
        """The status a real server stores at create: Go's zero status, non-omitempty fields included."""
        obj["status"] = {"replicas": 0, "availableReplicas": 0}

    def default(self, obj: Obj) -> None:
        default_statefulset(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        _drop_max_unavailable(obj, None)

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        _drop_max_unavailable(obj, old)
        super().prepare_for_update(obj, old)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_statefulset_spec(obj.get("spec") or {})

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        errs = self.validate(obj)
        if frozen_spec(obj.get("spec") or {}) != frozen_spec(old.get("spec") or {}):
            errs.append(forbidden(SPEC, FORBIDDEN_UPDATE))
        return errs

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        path = Path("status")
        status = obj.get("status") or {}
        errs = status_counts(status, path, STATUS_COUNTS) + not_above(status, path, STATUS_BOUNDS)
        return errs + collision_count_errors(obj, old)


def _max_unavailable(obj: Obj | None) -> Any:
    if obj is None:
        return None
    ru = (((obj.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate")) or {}
    return ru.get("maxUnavailable")


def _drop_max_unavailable(obj: Obj, old: Obj | None) -> None:
    """MaxUnavailableStatefulSet is alpha (off) in 1.33: drop the field unless the old object already used it."""
    if _max_unavailable(old) is not None:
        return
    ru = (((obj.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate"))
    if isinstance(ru, dict):
        ru.pop("maxUnavailable", None)
