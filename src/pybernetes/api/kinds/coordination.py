"""coordination.k8s.io/v1 Lease (upstream ``pkg/apis/coordination/validation``, ``pkg/registry/coordination/lease``).

Leases are node heartbeats and leader-election locks: written often, so the checks are few and cheap. The
``strategy``/``preferredHolder`` fields belong to coordinated leader election, whose feature gate is off by default
in 1.33, so they are dropped on write unless the stored Lease already had them.
"""

from __future__ import annotations

from pybernetes.api.field import FieldError, Path, forbidden, invalid, not_supported
from pybernetes.api.strategy import Obj, Strategy

STRATEGIES = ("OldestEmulationVersion",)
SPEC = Path("spec")


def validate_lease_spec(spec: Obj, path: Path = SPEC) -> list[FieldError]:
    errs: list[FieldError] = []
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and duration <= 0:
        errs.append(invalid(path.child("leaseDurationSeconds"), duration, "must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if transitions is not None and transitions < 0:
        errs.append(invalid(path.child("leaseTransitions"), transitions, "must be greater than or equal to 0"))
    strategy = spec.get("strategy")
    if strategy is not None and strategy not in STRATEGIES:
        errs.append(not_supported(path.child("strategy"), strategy, list(STRATEGIES)))
    if spec.get("preferredHolder") and not strategy:
        errs.append(forbidden(path.child("preferredHolder"), "may only be specified if `strategy` is defined"))
    return errs


def _drop_gated(obj: Obj, old: Obj | None) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    old_spec = (old or {}).get("spec") or {}
    for key in ("strategy", "preferredHolder"):
        if old_spec.get(key) is None:
            spec.pop(key, None)


class LeaseStrategy(Strategy):
    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        _drop_gated(obj, None)

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        super().prepare_for_update(obj, old)
        _drop_gated(obj, old)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_lease_spec(obj.get("spec") or {})
