"""ReplicationController, PodTemplate and Binding (upstream ``ValidateReplicationController*``,
``ValidatePodTemplate*``, ``ValidatePodBinding`` and their registry strategies)."""

from __future__ import annotations

from typing import Any, ClassVar

from pybernetes.api.field import FieldError, Path, forbidden, invalid, not_supported, required
from pybernetes.api.kinds.common import go_string_map, nonnegative
from pybernetes.api.kinds.pod import validate_binding
from pybernetes.api.kinds.pod_defaults import default_pod_template
from pybernetes.api.kinds.pod_validation import validate_pod_template_spec
from pybernetes.api.strategy import Obj, Strategy

SELECTOR_MISMATCH = "`selector` does not match template `labels`"


def default_replication_controller(rc: Obj) -> None:
    """``SetDefaults_ReplicationController``: selector and labels from the template's labels, replicas 1."""
    spec = rc.get("spec")
    if not isinstance(spec, dict):
        return
    template = spec.get("template")
    labels = ((template or {}).get("metadata") or {}).get("labels") if isinstance(template, dict) else None
    if labels is not None:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        meta = rc.setdefault("metadata", {})
        if not meta.get("labels"):
            meta["labels"] = dict(labels)
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    default_pod_template(template)


def _selector_matches(selector: dict[str, str], labels: dict[str, Any]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def validate_rc_spec(spec: Obj, path: Path) -> list[FieldError]:
    errs = nonnegative(spec.get("minReadySeconds", 0), path.child("minReadySeconds"))
    selector = spec.get("selector") or {}
    if not selector:
        errs.append(required(path.child("selector"), ""))
    errs.extend(nonnegative(spec.get("replicas", 0), path.child("replicas")))
    tp = path.child("template")
    template = spec.get("template")
    if template is None:
        errs.append(required(tp, ""))
        return errs
    labels = (template.get("metadata") or {}).get("labels") or {}
    if selector and not _selector_matches(selector, labels):
        errs.append(invalid(tp.child("metadata", "labels"), go_string_map(labels), SELECTOR_MISMATCH))
    errs.extend(validate_pod_template_spec(template, tp))
    tspec = template.get("spec") or {}
    rp = tspec.get("restartPolicy", "")
    if rp != "Always":
        errs.append(not_supported(tp.child("spec", "restartPolicy"), rp, ("Always",)))
    if tspec.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden(tp.child("spec", "activeDeadlineSeconds"),
                              "activeDeadlineSeconds in ReplicationController is not Supported"))
    return errs


def validate_rc_status(status: Obj) -> list[FieldError]:
    sp = Path("status")
    errs: list[FieldError] = []
    for key in ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration"):
        errs.extend(nonnegative(status.get(key, 0), sp.child(key)))
    replicas = status.get("replicas", 0)
    for key in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
        if status.get(key, 0) > replicas:
            errs.append(invalid(sp.child(key), status.get(key, 0), "cannot be greater than status.replicas"))
    if status.get("availableReplicas", 0) > status.get("readyReplicas", 0):
        errs.append(invalid(sp.child("availableReplicas"), status.get("availableReplicas", 0),
                            "cannot be greater than readyReplicas"))
    return errs


class ReplicationControllerStrategy(Strategy):
    has_status_subresource: ClassVar[bool] = True
    tracks_generation: ClassVar[bool] = True

    def default(self, obj: Obj) -> None:
        default_replication_controller(obj)

    def reset_status(self, obj: Obj) -> None:
        obj["status"] = {"replicas": 0}

    def spec_of(self, obj: Obj) -> Any:
        return obj.get("spec")

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_rc_spec(obj.get("spec") or {}, Path("spec"))

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_rc_status(obj.get("status") or {})


class PodTemplateStrategy(Strategy):
    tracks_generation: ClassVar[bool] = True

    def default(self, obj: Obj) -> None:
        default_pod_template(obj.get("template"))

    def spec_of(self, obj: Obj) -> Any:
        return obj.get("template")

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_pod_template_spec(obj.get("template") or {}, Path("template"))


class BindingStrategy(Strategy):
    """``POST /api/v1/namespaces/NS/bindings`` (the collection form of ``pods/binding``)."""

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_binding(obj)
