"""Drive a strategy the way the generic registry does (see pybernetes.api.strategy's hook order)."""

from __future__ import annotations

import copy
from typing import Any

from pybernetes.api.field import FieldError
from pybernetes.api.strategy import Strategy

Obj = dict[str, Any]


def create(strategy: Strategy, obj: Obj) -> tuple[Obj, list[FieldError]]:
    obj = copy.deepcopy(obj)
    obj.setdefault("metadata", {})
    strategy.default(obj)
    strategy.prepare_for_create(obj)
    return obj, strategy.validate(obj)


def update(strategy: Strategy, new: Obj, old: Obj) -> tuple[Obj, list[FieldError]]:
    new = copy.deepcopy(new)
    strategy.default(new)
    strategy.prepare_for_update(new, old)
    return new, strategy.validate_update(new, old)


def errors(errs: list[FieldError]) -> list[str]:
    return [str(e) for e in errs]
