"""The disruption controller: keeps each PodDisruptionBudget's status true, so evictions can trust it.

As upstream's ``pkg/controller/disruption``:

- ``currentHealthy``: selected pods that are Ready, not terminating, and not just evicted (``disruptedPods``).
- ``desiredHealthy`` and ``expectedPods``: an integer ``minAvailable`` counts the pods that exist; a percentage
  ``minAvailable`` or any ``maxUnavailable`` is taken of the replicas the pods' controllers want (Deployment via
  its ReplicaSet, ReplicaSet, ReplicationController, StatefulSet), rounding up.
- ``disruptionsAllowed`` = current - desired, never below 0, and 0 while no pod is expected, so a budget that has
  not seen its first pods yet cannot be spent.
- ``disruptedPods`` entries (written by the eviction subresource) are kept until the pod is gone or terminating,
  at most two minutes, then dropped with a ``NotDeleted`` event; the PDB is re-synced when the next one expires.
- The ``DisruptionAllowed`` condition says SufficientPods / InsufficientPods; a budget whose expected count cannot
  be computed is failed safe (no disruptions, reason SyncFailed).
"""

from __future__ import annotations

import datetime
import logging
import math
from typing import Any

from pybernetes.api.meta import format_rfc3339, key_of, parse_time, split_key
from pybernetes.api.selectors import label_selector_from_dict
from pybernetes.client.resources import DEPLOYMENTS, PDBS, PODS, RCS, REPLICASETS, STATEFULSETS
from pybernetes.controllers.base import Controller, ControllerContext
from pybernetes.controllers.endpoints import NAMESPACE_INDEX, by_namespace
from pybernetes.controllers.pods import is_pod_ready

log = logging.getLogger(__name__)
Obj = dict[str, Any]

DELETION_TIMEOUT = 120.0
CONDITION = "DisruptionAllowed"


class ExpectedCountError(Exception):
    """The replicas the PDB's pods should have cannot be determined (a controller is missing)."""


# ------------------------------------------------------------------ pure pieces
def scaled_value(v: int | str, total: int, *, round_up: bool) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``: an int as is, ``"N%"`` of ``total``."""
    if isinstance(v, int):
        return v
    s = str(v)
    if not s.endswith("%"):
        try:
            return int(s)
        except ValueError:
            raise ExpectedCountError(f"invalid value for IntOrString: invalid type: string is not a percentage: "
                                     f"{s}") from None
    pct = int(s[:-1])
    return math.ceil(pct * total / 100) if round_up else (pct * total) // 100


def pdb_selects(pdb: Obj, pod: Obj) -> bool:
    try:
        sel = label_selector_from_dict((pdb.get("spec") or {}).get("selector"))
    except ValueError:
        return False
    return sel.matches((pod.get("metadata") or {}).get("labels") or {})


def expected_counts(pdb: Obj, pods: list[Obj], scale_of: Any) -> tuple[int, int, list[str]]:
    """(expectedCount, desiredHealthy, unmanaged pod names); ``scale_of(pod)`` gives (controller uid, replicas)
    or None for a pod without a controller, and raises ExpectedCountError when the controller is unknown."""
    spec = pdb.get("spec") or {}
    min_a, max_u = spec.get("minAvailable"), spec.get("maxUnavailable")
    unmanaged: list[str] = []

    def expected_scale() -> int:
        seen: dict[str, int] = {}
        for pod in pods:
            got = scale_of(pod)
            if got is None:
                unmanaged.append((pod.get("metadata") or {}).get("name", ""))
                continue
            seen[got[0]] = got[1]
        return sum(seen.values())

    if max_u is not None:
        expected = expected_scale()
        desired = max(0, expected - scaled_value(max_u, expected, round_up=True))
    elif isinstance(min_a, int):
        desired, expected = min_a, len(pods)
    elif min_a is not None:
        expected = expected_scale()
        desired = scaled_value(min_a, expected, round_up=True)
    else:
        expected, desired = len(pods), 0
    return expected, desired, unmanaged


def disrupted_pods(pdb: Obj, pods: list[Obj], now: datetime.datetime
                   ) -> tuple[dict[str, str], datetime.datetime | None, list[Obj]]:
    """Upstream ``buildDisruptedPodMap``: the entries still pending, the earliest time one expires, and the pods
    whose eviction was approved but that were not deleted in time."""
    recorded = (pdb.get("status") or {}).get("disruptedPods") or {}
    kept: dict[str, str] = {}
    recheck: datetime.datetime | None = None
    overdue: list[Obj] = []
    if not recorded:
        return kept, None, overdue
    for pod in pods:
        meta = pod.get("metadata") or {}
        if meta.get("deletionTimestamp") or meta.get("name") not in recorded:
            continue
        try:
            at = parse_time(recorded[meta["name"]])
        except ValueError:
            continue
        expires = at + datetime.timedelta(seconds=DELETION_TIMEOUT)
        if expires < now:
            overdue.append(pod)
            continue
        kept[meta["name"]] = recorded[meta["name"]]
        recheck = expires if recheck is None or expires < recheck else recheck
    return kept, recheck, overdue


def count_healthy(pods: list[Obj], disrupted: dict[str, str]) -> int:
    return sum(1 for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")
               and (p.get("metadata") or {}).get("name") not in disrupted and is_pod_ready(p))


def set_condition(conds: list[Obj], want: Obj, now: str) -> list[Obj]:
    """``meta.SetStatusCondition``: the transition time moves only when the status does."""
    out = []
    found = False
    for c in conds:
        if c.get("type") == want["type"]:
            found = True
            ltt = c.get("lastTransitionTime") if c.get("status") == want["status"] else now
            c = {**want, "lastTransitionTime": ltt or now, "reason": want["reason"], "message": want["message"]}
            c = {k: c[k] for k in ("type", "status", "observedGeneration", "lastTransitionTime", "reason", "message")}
        out.append(c)
    if not found:
        out.append({"type": want["type"], "status": want["status"], "observedGeneration": want["observedGeneration"],
                    "lastTransitionTime": now, "reason": want["reason"], "message": want["message"]})
    return out


def compute_status(pdb: Obj, *, current: int, desired: int, expected: int, disrupted: dict[str, str],
                   now: str) -> Obj:
    allowed = current - desired
    if expected <= 0 or allowed <= 0:
        allowed = 0
    gen = (pdb.get("metadata") or {}).get("generation") or 0
    status: Obj = {"observedGeneration": gen}
    if disrupted:
        status["disruptedPods"] = disrupted
    status.update(disruptionsAllowed=allowed, currentHealthy=current, desiredHealthy=desired, expectedPods=expected)
    want = {"type": CONDITION, "status": "True" if allowed > 0 else "False", "observedGeneration": gen,
            "reason": "SufficientPods" if allowed > 0 else "InsufficientPods", "message": ""}
    status["conditions"] = set_condition(list((pdb.get("status") or {}).get("conditions") or ()), want, now)
    return status


def status_up_to_date(pdb: Obj, status: Obj) -> bool:
    """Upstream skips the write when every number, the disrupted map, the generation and the condition agree."""
    old = pdb.get("status") or {}
    for k in ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"):
        if (old.get(k) or 0) != status[k]:
            return False
    if (old.get("disruptedPods") or {}) != (status.get("disruptedPods") or {}):
        return False
    if (old.get("observedGeneration") or 0) != status["observedGeneration"]:
        return False
    cond = next((c for c in old.get("conditions") or () if c.get("type") == CONDITION), None)
    want = next(c for c in status["conditions"] if c["type"] == CONDITION)
    return cond is not None and cond.get("status") == want["status"] and cond.get("reason") == want["reason"]


# ------------------------------------------------------------------ the controller
class DisruptionController(Controller):
    name = "disruption"
    workers = 2

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.pdbs = ctx.informers.informer(PDBS)
        self.pods = ctx.informers.informer(PODS)
        self.rss = ctx.informers.informer(REPLICASETS)
        self.deployments = ctx.informers.informer(DEPLOYMENTS)
        self.statefulsets = ctx.informers.informer(STATEFULSETS)
        self.rcs = ctx.informers.informer(RCS)
        self.pods.add_index(NAMESPACE_INDEX, by_namespace)
        self.pdbs.add_index(NAMESPACE_INDEX, by_namespace)
        self.pdbs.add_handler(self._on_pdb, lambda _o, n: self._on_pdb(n), None)
        self.pods.add_handler(self._on_pod, lambda o, n: self._on_pod_update(o, n), self._on_pod)

    def _on_pdb(self, pdb: Obj) -> None:
        self.enqueue(key_of(pdb))

    def _on_pod(self, pod: Obj) -> None:
        ns = (pod.get("metadata") or {}).get("namespace") or ""
        for pdb in self.pdbs.by_index(NAMESPACE_INDEX, ns):
            if pdb_selects(pdb, pod):
                self.enqueue(key_of(pdb))

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        self._on_pod(new)
        if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
            self._on_pod(old)

    def scale_of(self, pod: Obj) -> tuple[str, int] | None:
        """The pod's top controller and its desired replicas (upstream ``getExpectedScale`` finders)."""
        ns = (pod.get("metadata") or {}).get("namespace", "")
        ref = next((r for r in (pod.get("metadata") or {}).get("ownerReferences") or () if r.get("controller")),
                   None)
        if ref is None:
            return None
        kind, name = ref.get("kind"), ref.get("name")
        if kind == "ReplicaSet":
            rs = self._owned(self.rss.get(f"{ns}/{name}"), ref)
            dref = next((r for r in (rs.get("metadata") or {}).get("ownerReferences") or ()
                         if r.get("controller") and r.get("kind") == "Deployment"), None)
            if dref is not None:
                dep = self._owned(self.deployments.get(f"{ns}/{dref.get('name')}"), dref)
                return dep["metadata"]["uid"], _replicas(dep)
            return rs["metadata"]["uid"], _replicas(rs)
        informer = {"ReplicationController": self.rcs, "StatefulSet": self.statefulsets}.get(str(kind))
        if informer is None:
            raise ExpectedCountError(f"found no controllers for pod {(pod.get('metadata') or {}).get('name')!r}")
        owner = self._owned(informer.get(f"{ns}/{name}"), ref)
        return owner["metadata"]["uid"], _replicas(owner)

    @staticmethod
    def _owned(obj: Obj | None, ref: Obj) -> Obj:
        if obj is None or (obj.get("metadata") or {}).get("uid") != ref.get("uid"):
            raise ExpectedCountError(f"found no controllers for {ref.get('kind')} {ref.get('name')!r}")
        return obj

    async def reconcile(self, key: str) -> float | None:
        pdb = self.pdbs.get(key)
        if pdb is None:
            return None
        ns, _ = split_key(key)
        pods = [p for p in self.pods.by_index(NAMESPACE_INDEX, ns) if pdb_selects(pdb, p)]
        if not pods:
            self.recorder.event(pdb, "Normal", "NoPods", "No matching pods found")
        now_dt = self.clock.now()
        now = format_rfc3339(now_dt)
        try:
            expected, desired, unmanaged = expected_counts(pdb, pods, self.scale_of)
        except ExpectedCountError as e:
            self.recorder.event(pdb, "Warning", "CalculateExpectedPodCountFailed",
                                f"Failed to calculate the number of expected pods: {e}")
            await self._fail_safe(pdb, str(e), now)
            raise
        if unmanaged:
            self.recorder.event(pdb, "Warning", "UnmanagedPods", _unmanaged_message(pdb))
        disrupted, recheck, overdue = disrupted_pods(pdb, pods, now_dt)
        for pod in overdue:
            self.recorder.event(pod, "Warning", "NotDeleted",
                                f"Pod was expected by PDB {ns}/{pdb['metadata']['name']} to be deleted but it wasn't")
        status = compute_status(pdb, current=count_healthy(pods, disrupted), desired=desired, expected=expected,
                                disrupted=disrupted, now=now)
        if not status_up_to_date(pdb, status):
            await self.client.update(PDBS, {**pdb, "status": status}, subresource="status")
        if recheck is not None:
            return max((recheck - now_dt).total_seconds(), 0.0)
        return None

    async def _fail_safe(self, pdb: Obj, why: str, now: str) -> None:
        """Upstream ``failSafe``: no disruptions while the budget cannot be computed."""
        st = dict(pdb.get("status") or {})
        gen = (pdb.get("metadata") or {}).get("generation") or 0
        st["disruptionsAllowed"] = 0
        st["conditions"] = set_condition(list(st.get("conditions") or ()), {
            "type": CONDITION, "status": "False", "observedGeneration": gen, "reason": "SyncFailed",
            "message": why}, now)
        await self.client.update(PDBS, {**pdb, "status": st}, subresource="status")


def _replicas(obj: Obj) -> int:
    r = (obj.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def _unmanaged_message(pdb: Obj) -> str:
    return ("Pods selected by this PodDisruptionBudget (selector: " + repr((pdb.get("spec") or {}).get("selector"))
            + ") were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, "
            "which may result in undefined behavior. To account for these pods please set \".spec.minAvailable\" "
            "field of the PDB to an integer value.")
