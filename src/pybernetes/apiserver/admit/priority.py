"""Priority: resolve a pod's ``priorityClassName`` into ``priority`` and ``preemptionPolicy``
(upstream ``plugin/pkg/admission/priority``); unknown classes are refused."""

from __future__ import annotations

from pybernetes.api import errors
from pybernetes.apiserver.admission import Attributes
from pybernetes.apiserver.state import ServerState

SYSTEM = {"system-cluster-critical": 2000000000, "system-node-critical": 2000001000}


class Priority:
    name = "Priority"

    async def mutate(self, state: ServerState, a: Attributes) -> None:
        if a.operation != "CREATE" or a.resource.storage != "core/pods" or a.subresource or a.obj is None:
            return
        spec = a.obj.setdefault("spec", {})
        classes = state.cache.resource("scheduling.k8s.io/priorityclasses").objects
        name = spec.get("priorityClassName")
        pc = None
        if name:
            pc = classes.get(f"/registry/scheduling.k8s.io/priorityclasses/{name}")
            if pc is None and name not in SYSTEM:
                raise errors.Forbidden("pods", "", a.name, f"no PriorityClass with name {name} was found")
        else:
            for c in classes.values():
                if c.get("globalDefault"):
                    pc = c
                    spec["priorityClassName"] = c["metadata"]["name"]
                    break
        value = pc.get("value", 0) if pc else SYSTEM.get(name or "", 0)
        if spec.get("priority") is not None and spec["priority"] != value:
            raise errors.Forbidden("pods", "", a.name, "the integer value of priority "
                                   f"({spec['priority']}) must not be provided in pod spec; priority admission "
                                   "controller computed {value} from the given PriorityClass name")
        spec["priority"] = value
        if pc is not None and "preemptionPolicy" not in spec:
            spec["preemptionPolicy"] = pc.get("preemptionPolicy", "PreemptLowerPriority")
        elif "preemptionPolicy" not in spec:
            spec["preemptionPolicy"] = "PreemptLowerPriority"
