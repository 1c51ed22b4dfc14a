"""Whether a pod's tolerations tolerate a node's taints, as ``k8s.io/api/core/v1`` ``Toleration.ToleratesTaint``.

One definition for the scheduler's TaintToleration plugin (which taints keep a pod off a node), the node lifecycle
controller (which pods a NoExecute taint evicts) and the DaemonSet controller (which nodes should run a daemon
pod), as upstream's three all call the same method: an empty effect or key in the toleration matches any,
``Exists`` ignores the value, ``Equal`` (the default) compares it; any other operator tolerates nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Obj = dict[str, Any]


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """Toleration.ToleratesTaint: an empty effect or key matches any; operator Exists ignores the value."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return op == "Exists"


def tolerations_tolerate_taint(tolerations: Iterable[Obj], taint: Obj) -> bool:
    return any(tolerates(t, taint) for t in tolerations)
