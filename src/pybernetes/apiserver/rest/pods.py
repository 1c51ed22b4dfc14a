"""Pod deletion is graceful: a pod on a node stays, with a deletionTimestamp, until its kubelet confirms."""

from __future__ import annotations

from typing import Any

from pybernetes.apiserver.resthooks import RESTHooks

DEFAULT_GRACE = 30


class PodHooks(RESTHooks):
    def grace_period(self, obj: dict[str, Any], requested: int | None) -> int:
        """As upstream's pod strategy ``CheckGracefulDelete``: unscheduled or finished pods go at once; otherwise
        the requested period, else the pod's ``terminationGracePeriodSeconds``. A negative request means 1 s
        (the kubelet still gets to kill it), zero means now."""
        spec = obj.get("spec") or {}
        phase = (obj.get("status") or {}).get("phase")
        if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
            return 0
        if requested is None:
            grace = spec.get("terminationGracePeriodSeconds")
            return DEFAULT_GRACE if grace is None else max(int(grace), 0)
        if requested < 0:
            return 1
        return requested
