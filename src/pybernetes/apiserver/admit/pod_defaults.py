"""Admission-time pod defaults every real cluster applies: the ServiceAccount name and the default
not-ready/unreachable tolerations (upstream ServiceAccount and DefaultTolerationSeconds plugins)."""

from __future__ import annotations

from pybernetes.apiserver.admission import Attributes
from pybernetes.apiserver.state import ServerState

TOLERATION_SECONDS = 300
TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


class PodDefaults:
    name = "ServiceAccount,DefaultTolerationSeconds"

    async def mutate(self, state: ServerState, a: Attributes) -> None:
        if a.operation != "CREATE" or a.resource.storage != "core/pods" or a.subresource or a.obj is None:
            return
        spec = a.obj.setdefault("spec", {})
        if not spec.get("serviceAccountName"):
            spec["serviceAccountName"] = spec.get("serviceAccount") or "default"
        spec["serviceAccount"] = spec["serviceAccountName"]
        tolerations = spec.setdefault("tolerations", [])
        for taint in TAINTS:
            if any((t.get("key") == taint and t.get("effect") in (None, "", "NoExecute"))
                   or (not t.get("key") and t.get("operator") == "Exists") for t in tolerations):
                continue
            tolerations.append({"key": taint, "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": TOLERATION_SECONDS})
