"""The registry of built-in resources with their strategies and schema messages attached."""

from __future__ import annotations

from dataclasses import replace

from pybernetes.api.resources import BUILTIN, Registry, Resource
from pybernetes.api.schema import schema


def builtin_resources() -> list[Resource]:
    from pybernetes.api.kinds import STRATEGIES
    out = []
    kinds = schema().kinds
    for r in BUILTIN:
        strategy = STRATEGIES.get((r.group, r.kind))
        message = kinds.get(f"{r.api_version}/{r.kind}")
        out.append(replace(r, message=message, **({"strategy": strategy} if strategy is not None else {})))
    return out


def builtin_registry() -> Registry:
    return Registry(builtin_resources())
