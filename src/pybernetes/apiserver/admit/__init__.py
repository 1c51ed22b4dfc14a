"""Built-in admission plugins, in upstream's order."""

from __future__ import annotations

from typing import Any


def default_plugins() -> list[Any]:
    from pybernetes.apiserver.admit.namespace_lifecycle import NamespaceLifecycle
    from pybernetes.apiserver.admit.pod_defaults import PodDefaults
    return [NamespaceLifecycle(), PodDefaults()]
