"""What controllers read off pods and how they make them (upstream ``pkg/api/v1/pod`` and ``controller_utils.go``).

Activeness, readiness and availability (``minReadySeconds``), the order in which a controller deletes surplus pods
(``ActivePodsWithRanks``), the pod a template stamps out (``GetPodFromTemplate``) and slow-start batching of
creates. Pure functions over plain pod dicts; shared by every controller that owns pods.
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from pybernetes.api.meta import (
    annotations_of,
    is_being_deleted,
    name_of,
    namespace_of,
    parse_time,
    parse_time_or_none,
    uid_of,
)

Obj = dict[str, Any]
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


def is_pod_active(pod: Obj) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not is_being_deleted(pod)


def phase_of(pod: Obj) -> str:
    """``status.phase``, "" while unset."""
    return str((pod.get("status") or {}).get("phase") or "")


def ready_condition(pod: Obj) -> Obj | None:
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return c  # type: ignore[no-any-return]
    return None


def is_pod_ready(pod: Obj) -> bool:
    c = ready_condition(pod)
    return c is not None and c.get("status") == "True"


def pod_ready_time(pod: Obj) -> datetime | None:
    """When the pod last became ready (None if not ready or unknown)."""
    c = ready_condition(pod)
    if c is None or c.get("status") != "True" or not c.get("lastTransitionTime"):
        return None
    try:
        return parse_time(c["lastTransitionTime"])
    except ValueError:
        return None


def is_pod_available(pod: Obj, min_ready_seconds: int, now: datetime) -> bool:
    """Ready for at least ``min_ready_seconds`` (upstream ``IsPodAvailable``: strictly after the deadline)."""
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    t = pod_ready_time(pod)
    return t is not None and (now - t).total_seconds() > min_ready_seconds


def deletion_cost(pod: Obj) -> int:
    """The ``pod-deletion-cost`` annotation as an int32; absent or invalid is 0."""
    try:
        v = int(annotations_of(pod).get(DELETION_COST, "0"))
    except ValueError:
        return 0
    return v if -(2 ** 31) <= v < 2 ** 31 else 0


def _max_restarts(pod: Obj) -> int:
    return max((int(c.get("restartCount") or 0) for c in (pod.get("status") or {}).get("containerStatuses") or ()),
               default=0)


def creation_time(pod: Obj) -> datetime | None:
    """``metadata.creationTimestamp`` as a datetime; None when missing or unparsable."""
    return parse_time_or_none((pod.get("metadata") or {}).get("creationTimestamp"))


def _log_rank(t: datetime, now: datetime) -> int:
    d = (now - t).total_seconds() * 1e9
    return int(math.log2(d)) if d > 0 else -1


def _time_cmp(t1: datetime | None, t2: datetime | None, uid1: str, uid2: str, now: datetime | None) -> int | None:
    """Younger first; in a logarithmic scale of age when ``now`` is known (LogarithmicScaleDown), uid breaks ties."""
    if t1 == t2:
        return None
    if now is None or t1 is None or t2 is None:
        if t1 is None or t2 is None:                  # the zero time comes first
            return -1 if t1 is None else 1
        return -1 if t1 > t2 else 1
    diff = _log_rank(t1, now) - _log_rank(t2, now)
    if diff == 0:
        return -1 if uid1 < uid2 else (1 if uid1 > uid2 else 0)
    return -1 if diff < 0 else 1


def compare_for_deletion(a: tuple[Obj, int], b: tuple[Obj, int], now: datetime | None = None) -> int:
    """Upstream ``ActivePodsWithRanks.Less``: negative when pod ``a`` should be deleted before pod ``b``.

    Each side is ``(pod, rank)`` where rank counts related active pods on the same node. Order: unassigned <
    assigned; Pending < Unknown < Running; not ready < ready; lower deletion cost; higher rank (doubled up);
    ready more recently; more container restarts; created more recently.
    """
    p1, r1 = a
    p2, r2 = b
    n1, n2 = (p1.get("spec") or {}).get("nodeName") or "", (p2.get("spec") or {}).get("nodeName") or ""
    if n1 != n2 and (not n1 or not n2):
        return -1 if not n1 else 1
    o1 = _PHASE_ORDINAL.get((p1.get("status") or {}).get("phase") or "", 0)
    o2 = _PHASE_ORDINAL.get((p2.get("status") or {}).get("phase") or "", 0)
    if o1 != o2:
        return -1 if o1 < o2 else 1
    ready1, ready2 = is_pod_ready(p1), is_pod_ready(p2)
    if ready1 != ready2:
        return -1 if not ready1 else 1
    c1, c2 = deletion_cost(p1), deletion_cost(p2)
    if c1 != c2:
        return -1 if c1 < c2 else 1
    if r1 != r2:
        return -1 if r1 > r2 else 1
    if ready1 and ready2:
        res = _time_cmp(pod_ready_time(p1), pod_ready_time(p2), uid_of(p1), uid_of(p2), now)
        if res:
            return res
    m1, m2 = _max_restarts(p1), _max_restarts(p2)
    if m1 != m2:
        return -1 if m1 > m2 else 1
    res = _time_cmp(creation_time(p1), creation_time(p2), uid_of(p1), uid_of(p2), now)
    return res or 0


def pods_to_delete(pods: Sequence[Obj], related: Iterable[Obj], diff: int, now: datetime | None = None) -> list[Obj]:
    """The ``diff`` pods to delete first; ranks come from the related pods (all pods of the same owner's
    ReplicaSets) sharing a node, so a node running several replicas gives one up first."""
    if diff >= len(pods):
        return list(pods)
    on_node: dict[str, int] = {}
    for p in related:
        if is_pod_active(p):
            node = (p.get("spec") or {}).get("nodeName") or ""
            on_node[node] = on_node.get(node, 0) + 1
    ranked = [(p, on_node.get((p.get("spec") or {}).get("nodeName") or "", 0)) for p in pods]

    def cmp(a: tuple[Obj, int], b: tuple[Obj, int]) -> int:
        return compare_for_deletion(a, b, now)
    ranked.sort(key=functools.cmp_to_key(cmp))
    return [p for p, _ in ranked[:diff]]


# ---------------------------------------------------------------------------------------------------------------
# Creating pods


async def slow_start_batch(count: int, initial: int,
                           fn: Callable[[], Awaitable[None]]) -> tuple[int, BaseException | None]:
    """Call ``fn`` ``count`` times in concurrent batches of 1, 2, 4, … (from ``initial``); stop after the first
    batch with a failure. Returns (successes, first error)."""
    remaining, successes = count, 0
    size = min(remaining, initial)
    while size > 0:
        results = await asyncio.gather(*(fn() for _ in range(size)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        for r in errors:
            if isinstance(r, asyncio.CancelledError):
                raise r
        successes += size - len(errors)
        if errors:
            return successes, errors[0]
        remaining -= size
        size = min(2 * size, remaining)
    return successes, None


def pod_from_template(template: Obj, parent: Obj, owner_ref: Obj | None) -> Obj:
    """A pod body for ``template`` (upstream ``GetPodFromTemplate``): its labels, annotations and finalizers, a
    generateName of ``<parent>-``, the controller reference, and a copy of the spec."""
    tmeta = template.get("metadata") or {}
    prefix = f"{name_of(parent)}-"
    if len(prefix) > 253 - 5:
        prefix = name_of(parent)
    meta: Obj = {"generateName": prefix, "namespace": namespace_of(parent)}
    for k in ("labels", "annotations", "finalizers"):
        if tmeta.get(k):
            meta[k] = tmeta[k]
    if owner_ref is not None:
        meta["ownerReferences"] = [owner_ref]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template.get("spec") or {}}
