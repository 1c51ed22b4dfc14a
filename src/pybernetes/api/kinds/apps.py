"""apps/v1 pieces shared by the workload kinds, and the ControllerRevision strategy.

Deployment, ReplicaSet, StatefulSet and DaemonSet live in their own modules (``deployment.py``, ``replicaset.py``,
``statefulset.py``, ``daemonset.py``); what they share is here: how a label selector is checked against the pod
template's labels (upstream ``ValidatePodTemplateSpecForReplicaSet`` and friends), the DNS-label name warning
upstream's workload strategies emit, and the rolling-update int-or-percent rules.

A selector is read the way ``metav1.LabelSelectorAsSelector`` reads it: absent selects *nothing* (so an absent
selector also fails the template-labels check, exactly as upstream reports both errors), empty selects everything,
and a malformed one cannot be turned into a selector at all.
"""

from __future__ import annotations

import enum
from typing import Any

from pybernetes.api.field import FieldError, Path, forbidden, invalid, not_supported, required
from pybernetes.api.kinds.common import GoRepr, go_string_map
from pybernetes.api.kinds.fieldchecks import IMMUTABLE, go_list, immutable, non_negative
from pybernetes.api.kinds.pod import default_pod_template, validate_pod_template_spec
from pybernetes.api.selectors import label_selector_from_dict, validate_label_selector
from pybernetes.api.strategy import Obj, Strategy
from pybernetes.api.validation.names import dns1123_label

SELECTOR_MISMATCH = "`selector` does not match template `labels`"
NAME_WARNING = ("metadata.name: this is used in Pod names and hostnames, which can result in surprising behavior; "
                "a DNS label is recommended: ")
SPEC = Path("spec")
TEMPLATE = SPEC.child("template")


class Sel(enum.Enum):
    NOTHING = 0        # selector absent: matches no labels
    EVERYTHING = 1     # no requirements: matches every label set (``selector.Empty()``)
    BAD = 2            # cannot be converted (bad operator, values, keys)
    OK = 3


def _go_str(s: Any) -> str:
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def go_label_selector(sel: Any) -> GoRepr | None:
    """A selector as Go's ``%#v`` prints ``metav1.LabelSelector`` in field errors (None when absent)."""
    if not isinstance(sel, dict):
        return None
    ml = sel.get("matchLabels")
    labels = "map[string]string(nil)" if ml is None else go_string_map(ml).text
    exprs = sel.get("matchExpressions")
    if exprs is None:
        reqs = "[]v1.LabelSelectorRequirement(nil)"
    else:
        items = []
        for e in exprs:
            e = e if isinstance(e, dict) else {}
            vals = e.get("values")
            vs = "[]string(nil)" if vals is None else "[]string{" + ", ".join(_go_str(v) for v in vals) + "}"
            items.append(f"v1.LabelSelectorRequirement{{Key:{_go_str(e.get('key', ''))}, "
                         f"Operator:{_go_str(e.get('operator', ''))}, Values:{vs}}}")
        reqs = "[]v1.LabelSelectorRequirement{" + ", ".join(items) + "}"
    return GoRepr(f"v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{reqs}}}")


def labels_repr(labels: dict[str, str] | None) -> GoRepr:
    """Template labels as Go prints a ``map[string]string`` (nil map included)."""
    return GoRepr("map[string]string(nil)") if labels is None else go_string_map(labels)


def selector_kind(sel: Any) -> tuple[Sel, Any]:
    """Classify a selector as ``LabelSelectorAsSelector`` would, returning the parsed selector when usable."""
    if sel is None:
        return Sel.NOTHING, None
    if not isinstance(sel, dict):
        return Sel.BAD, None
    if not sel.get("matchLabels") and not sel.get("matchExpressions"):
        return Sel.EVERYTHING, None
    try:
        return Sel.OK, label_selector_from_dict(sel)
    except Exception:       # any conversion failure is "not a selector"; validation reports the details
        return Sel.BAD, None


def selector_matches(kind: Sel, parsed: Any, labels: dict[str, str] | None) -> bool:
    if kind is Sel.NOTHING:
        return False
    if kind is Sel.EVERYTHING:
        return True
    return bool(parsed.matches(labels or {}))


def template_labels(spec: Obj) -> dict[str, str] | None:
    tmpl = spec.get("template") or {}
    return (tmpl.get("metadata") or {}).get("labels")


def ensure_template(spec: Obj) -> dict[str, Any]:
    """The pod template, created empty when absent (Go's struct is always there, so its defaults always apply)."""
    tmpl = spec.get("template")
    if not isinstance(tmpl, dict):
        tmpl = spec["template"] = {}
    return tmpl


def default_template(obj: Obj) -> None:
    spec = obj.get("spec")
    if isinstance(spec, dict):
        default_pod_template(ensure_template(spec))


def validate_required_selector(spec: Obj, path: Path, empty_word: str) -> list[FieldError]:
    """Selector required, well formed, and not empty (``empty selector is invalid for <kind>``)."""
    sel = spec.get("selector")
    if sel is None:
        return [required(path.child("selector"))]
    errs = validate_label_selector(sel, path.child("selector"))
    if isinstance(sel, dict) and not sel.get("matchLabels") and not sel.get("matchExpressions"):
        errs.append(invalid(path.child("selector"), go_label_selector(sel),
                            f"empty selector is invalid for {empty_word}"))
    return errs


def validate_template_for_replicas(spec: Obj, kind: Sel, parsed: Any, path: Path, kind_word: str) -> list[FieldError]:
    """``ValidatePodTemplateSpecForReplicaSet``: labels match the selector, a valid template, restartPolicy Always."""
    errs: list[FieldError] = []
    tmpl = spec.get("template") or {}
    if kind is not Sel.EVERYTHING and not selector_matches(kind, parsed, template_labels(spec)):
        errs.append(invalid(path.child("metadata", "labels"), labels_repr(template_labels(spec)), SELECTOR_MISMATCH))
    errs.extend(validate_pod_template_spec(tmpl, path))
    errs.extend(restart_always(tmpl, path, kind_word))
    return errs


def restart_always(tmpl: Obj, path: Path, kind_word: str) -> list[FieldError]:
    """Controllers that keep pods running accept only ``restartPolicy: Always`` and no active deadline."""
    errs: list[FieldError] = []
    pspec = tmpl.get("spec") or {}
    policy = pspec.get("restartPolicy", "")
    if policy != "Always":
        errs.append(not_supported(path.child("spec", "restartPolicy"), policy, ["Always"]))
    if pspec.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden(path.child("spec", "activeDeadlineSeconds"),
                              f"activeDeadlineSeconds in {kind_word} is not Supported"))
    return errs


def name_warnings(obj: Obj) -> list[str]:
    """Workload names end up in pod names and hostnames, so upstream warns when one is not a DNS label."""
    name = obj.get("metadata", {}).get("name") or ""
    if not name:
        return []
    msgs = dns1123_label(name)
    return [NAME_WARNING + go_list(msgs)] if msgs else []


def status_counts(status: Obj, path: Path, names: tuple[str, ...]) -> list[FieldError]:
    errs: list[FieldError] = []
    for n in names:
        errs.extend(non_negative(status.get(n), path.child(n)))
    return errs


def not_above(status: Obj, path: Path, pairs: tuple[tuple[str, str, str], ...]) -> list[FieldError]:
    """Each ``(field, bound, message)``: ``status.field`` may not exceed ``status.bound``."""
    errs: list[FieldError] = []
    for name, bound, msg in pairs:
        v = status.get(name) or 0
        if v > (status.get(bound) or 0):
            errs.append(invalid(path.child(name), v, msg))
    return errs


def collision_count_errors(obj: Obj, old: Obj) -> list[FieldError]:
    new_c = (obj.get("status") or {}).get("collisionCount")
    old_c = (old.get("status") or {}).get("collisionCount")
    if old_c is not None and (new_c is None or new_c < old_c):
        return [invalid(Path("status", "collisionCount"), new_c or 0, "cannot be decremented")]
    return []


def selector_immutable(obj: Obj, old: Obj) -> list[FieldError]:
    """apps/v1 forbids changing a workload's selector (upstream checks it in the strategy, per request version)."""
    new, prev = (obj.get("spec") or {}).get("selector"), (old.get("spec") or {}).get("selector")
    if new == prev:
        return []
    return [invalid(SPEC.child("selector"), go_label_selector(new), IMMUTABLE)]


class ControllerRevisionStrategy(Strategy):
    """Immutable snapshots of a controller's template; ``data`` may never change."""

    def validate(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        if obj.get("data") is None:
            errs.append(required("data", "data is mandatory"))
        errs.extend(non_negative(obj.get("revision", 0), "revision"))
        return errs

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return self.validate(obj) + immutable(obj.get("data"), old.get("data"), "data")
