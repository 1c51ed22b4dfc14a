"""The strategy of custom resources: defaults and validation from the CRD's structural schema.

As upstream's ``customresource`` strategy: with a status subresource, writes to the main resource keep the
stored status and bump ``generation`` only on changes outside metadata and status; without one, any change
outside metadata bumps it. Defaults come from the schema's ``default`` values; validation reports OpenAPI
violations with field paths (422), as the apiextensions-apiserver does.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pybernetes.api import crd_validation
from pybernetes.api.field import FieldError
from pybernetes.api.strategy import Obj, Strategy


class CustomResourceStrategy(Strategy):
    tracks_generation: ClassVar[bool] = True

    def __init__(self, schema: dict[str, Any] | None, *, has_status: bool, kind: str) -> None:
        self.schema = schema or {}
        self.has_status = has_status
        self.kind = kind

    @property
    def has_status_subresource(self) -> bool:  # type: ignore[override]
        return self.has_status

    def spec_of(self, obj: Obj) -> Any:
        skip = ("metadata", "status", "apiVersion", "kind") if self.has_status else ("metadata", "apiVersion", "kind")
        return {k: v for k, v in obj.items() if k not in skip}

    def default(self, obj: Obj) -> None:
        if self.schema:
            crd_validation.apply_defaults(obj, self.schema)

    def validate(self, obj: Obj) -> list[FieldError]:
        if not self.schema:
            return []
        return crd_validation.validate(obj, self.schema, skip_status=False)

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return self.validate(obj)
