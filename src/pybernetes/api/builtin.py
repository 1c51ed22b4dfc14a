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
        # Strategies run on the storage version (the registry converts first), so a version stored as another
        # (autoscaling/v1 → v2, events.k8s.io → core) uses the storage kind's strategy.
        storage_group = r.storage_version.rpartition("/")[0]
        strategy = STRATEGIES.get((storage_group, r.kind))
        message = kinds.get(f"{r.api_version}/{r.kind}")
        out.append(replace(r, message=message, **({"strategy": strategy} if strategy is not None else {})))
    return out


def builtin_registry() -> Registry:
    return Registry(builtin_resources())
