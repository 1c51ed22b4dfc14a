"""Admission-time pod defaults every real cluster applies, in upstream's plugin order: ServiceAccount (name only),
DefaultTolerationSeconds and Priority (``pybernetes.api.kinds.pod_defaults.admit_pod``), with PriorityClasses read
from the watch cache."""

from __future__ import annotations

from typing import Any

from pybernetes.api.kinds.pod_defaults import admit_pod
from pybernetes.apiserver.admission import Attributes
from pybernetes.apiserver.state import ServerState

PRIORITY_CLASSES = "scheduling.k8s.io/priorityclasses"


class PodDefaults:
    name = "ServiceAccount,DefaultTolerationSeconds,Priority"

    async def mutate(self, state: ServerState, a: Attributes) -> None:
        if a.operation != "CREATE" or a.resource.storage != "core/pods" or a.subresource or a.obj is None:
            return
        classes = state.cache.resource(PRIORITY_CLASSES).objects

        def lookup(name: str) -> dict[str, Any] | None:
            return classes.get(f"/registry/{PRIORITY_CLASSES}/{name}")

        default = next((c for c in classes.values() if c.get("globalDefault")), None)
        admit_pod(a.obj, lookup=lookup, global_default=default,
                  toleration_seconds=state.config.default_toleration_seconds)
