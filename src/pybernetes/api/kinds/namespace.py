"""The Namespace kind (upstream ``pkg/registry/core/namespace/strategy.go`` and ``ValidateNamespace*``).

A namespace is created with the ``kubernetes`` finalizer and phase Active; after that its finalizers change only
through ``namespaces/NAME/finalize`` and its status only through ``/status``. Its name must be a DNS label, and it
always carries the ``kubernetes.io/metadata.name`` label.
"""

from __future__ import annotations

from typing import ClassVar

from pybernetes.api.field import FieldError, Path, invalid
from pybernetes.api.kinds.resource_list import qualified_name_errors
from pybernetes.api.strategy import ClusterStrategy, Obj, Strategy
from pybernetes.api.validation.names import name_is_dns_label

FINALIZER_KUBERNETES = "kubernetes"
NAME_LABEL = "kubernetes.io/metadata.name"
STANDARD_FINALIZERS = frozenset({FINALIZER_KUBERNETES})


def validate_finalizer_name(name: str, path: Path) -> list[FieldError]:
    """Upstream ``validateFinalizerName`` for namespace spec finalizers."""
    errs = qualified_name_errors(name, path)
    if errs:
        return errs
    if "/" not in name and name not in STANDARD_FINALIZERS:
        return [invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified")]
    return []


def validate_spec_finalizers(obj: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    path = Path("spec", "finalizers")
    for i, f in enumerate((obj.get("spec") or {}).get("finalizers") or ()):
        errs.extend(validate_finalizer_name(f, path.index(i)))
    return errs


def _name_label(obj: Obj) -> None:
    meta = obj.setdefault("metadata", {})
    name = meta.get("name")
    if name:
        labels = meta.get("labels")
        if labels is None:
            labels = meta["labels"] = {}
        labels[NAME_LABEL] = name


class NamespaceStrategy(ClusterStrategy):
    has_status_subresource: ClassVar[bool] = True
    name_fn = staticmethod(name_is_dns_label)

    def default(self, obj: Obj) -> None:
        _name_label(obj)
        status = obj.get("status")
        if isinstance(status, dict) and not status.get("phase"):
            status["phase"] = "Active"

    def reset_status(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Active"}

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        finalizers = spec.get("finalizers") or []
        if FINALIZER_KUBERNETES not in finalizers:
            finalizers.append(FINALIZER_KUBERNETES)
        spec["finalizers"] = finalizers

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        super().prepare_for_update(obj, old)
        old_spec = old.get("spec")
        if old_spec is not None:
            obj["spec"] = old_spec
        else:
            obj.pop("spec", None)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_spec_finalizers(obj)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return []

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        phase = (obj.get("status") or {}).get("phase", "")
        path = Path("status", "Phase")
        if not (obj.get("metadata") or {}).get("deletionTimestamp"):
            if phase != "Active":
                return [invalid(path, phase, "may only be 'Active' if `deletionTimestamp` is empty")]
        elif phase != "Terminating":
            return [invalid(path, phase, "may only be 'Terminating' if `deletionTimestamp` is not empty")]
        return []

    def canonicalize(self, obj: Obj) -> None:
        _name_label(obj)

    def finalize_strategy(self) -> Strategy:
        return NamespaceFinalizeStrategy(self)

    def subresource_strategy(self, subresource: str) -> Strategy:
        if subresource == "status":
            return self.status_strategy()
        if subresource == "finalize":
            return self.finalize_strategy()
        return self


class NamespaceFinalizeStrategy(ClusterStrategy):
    """``namespaces/NAME/finalize``: only ``spec.finalizers`` is taken from the request."""

    def __init__(self, main: NamespaceStrategy) -> None:
        self.main = main

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        finalizers = (obj.get("spec") or {}).get("finalizers")
        status = old.get("status")
        obj["spec"] = dict(old.get("spec") or {})
        if finalizers:
            obj["spec"]["finalizers"] = finalizers
        else:
            obj["spec"].pop("finalizers", None)
        if status is not None:
            obj["status"] = status

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_spec_finalizers(obj)
