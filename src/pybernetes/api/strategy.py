"""Per-kind strategies: the small pure hooks a kind plugs into the generic registry.

Modelled on upstream's ``rest.RESTCreateStrategy``/``RESTUpdateStrategy`` (see STYLE.md §1). The generic registry
(``apiserver/registry.py``) calls the hooks in a fixed order:

create:  default → prepare_for_create → validate (+ generic ObjectMeta validation) → warnings_on_create → canonicalize
update:  default → prepare_for_update(obj, old) → validate_update(obj, old) (+ ObjectMeta) → warnings_on_update
          → canonicalize

``default`` runs on every decoded request body (create, update, and the result of a patch), as upstream's defaulting
does during decoding. Hooks named ``prepare_*``, ``default`` and ``canonicalize`` mutate the object in place;
``validate*`` and ``warnings*`` must not mutate. Every hook defaults to a no-op, so a kind overrides only what it
needs. The status subresource uses a second strategy (``status_strategy``) that keeps the old spec.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from pybernetes.api.field import FieldError

Obj = dict[str, Any]


class Strategy:
    allow_create_on_update: ClassVar[bool] = False
    allow_unconditional_update: ClassVar[bool] = True
    # True: the main resource ignores status changes; status is written only through /status.
    has_status_subresource: ClassVar[bool] = False
    # True: metadata.generation bumps on spec changes (kinds with a spec/status split).
    tracks_generation: ClassVar[bool] = False
    # Name rule (upstream ValidateNameFunc): (name, is_generate_name_prefix) -> error messages.
    # None means DNS-1123 subdomain, the rule of most kinds.
    name_fn: ClassVar[Callable[[str, bool], list[str]] | None] = None

    def default(self, obj: Obj) -> None:
        """Fill defaulted fields (upstream ``SetDefaults_*``)."""

    def prepare_for_create(self, obj: Obj) -> None:
        if self.has_status_subresource:
            obj.pop("status", None)
            self.reset_status(obj)
        if self.tracks_generation:
            obj["metadata"]["generation"] = 1

    def reset_status(self, obj: Obj) -> None:
        """Status a new object starts with (kinds such as Pod set phase Pending here)."""

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        self.keep_status(obj, old)
        if self.tracks_generation:
            gen = old["metadata"].get("generation", 1)
            if self.spec_of(obj) != self.spec_of(old):
                gen += 1
            obj["metadata"]["generation"] = gen

    def keep_status(self, obj: Obj, old: Obj) -> None:
        """With a status subresource, a write to the main resource keeps the stored status (mutates ``obj``)."""
        if self.has_status_subresource:
            if "status" in old:
                obj["status"] = old["status"]
            else:
                obj.pop("status", None)

    def spec_of(self, obj: Obj) -> Any:
        """What counts as 'spec' for generation tracking: everything but metadata and status."""
        return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}

    def validate(self, obj: Obj) -> list[FieldError]:
        return []

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return self.validate(obj)

    def warnings_on_create(self, obj: Obj) -> list[str]:
        return []

    def warnings_on_update(self, obj: Obj, old: Obj) -> list[str]:
        return []

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        """Checks on a write through ``/status`` (spec is already the old one)."""
        return []

    def canonicalize(self, obj: Obj) -> None:
        """Normalise representation after validation (e.g. sort, drop empty)."""

    def status_strategy(self) -> Strategy:
        """The strategy for the ``/status`` subresource: only status may change."""
        return StatusStrategy(self)


class StatusStrategy(Strategy):
    """Mirror image of a main strategy: keep the old spec, labels stay, status is taken from the request."""

    def __init__(self, main: Strategy) -> None:
        self.main = main

    def default(self, obj: Obj) -> None:
        self.main.default(obj)

    def prepare_for_create(self, obj: Obj) -> None:  # pragma: no cover - status is never created
        self.main.prepare_for_create(obj)

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        status = obj.get("status")
        meta = obj["metadata"]
        for k in list(obj):
            if k not in ("metadata", "status", "apiVersion", "kind"):
                del obj[k]
        for k, v in old.items():
            if k not in ("metadata", "status", "apiVersion", "kind"):
                obj[k] = v
        if status is None:
            obj.pop("status", None)
        old_meta = old["metadata"]
        # As upstream's status strategies (e.g. deploymentStatusStrategy): a status write keeps the stored spec and
        # labels and cannot touch generation or deletion state; annotations come from the request (controllers
        # record revision annotations through /status).
        for k in ("labels", "generation", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if k in old_meta:
                meta[k] = old_meta[k]
            else:
                meta.pop(k, None)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return self.main.validate_status_update(obj, old)


class ClusterStrategy(Strategy):
    """Marker base for cluster-scoped kinds (no namespace in metadata)."""
