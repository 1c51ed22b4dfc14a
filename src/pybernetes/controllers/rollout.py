"""How a Deployment moves between ReplicaSets (upstream ``rolling.go``, ``recreate.go``, ``sync.go`` ``scale`` and
``progress.go``).

- RollingUpdate: grow the new ReplicaSet while the total stays within ``replicas + maxSurge``; shrink old ones,
  unhealthy replicas first, while at least ``replicas - maxUnavailable`` stay available.
- Recreate: scale every old ReplicaSet to zero, wait until none of their pods runs, then scale the new one up.
- Scaling events (``spec.replicas`` changed mid-rollout, or a paused Deployment): spread the difference over the
  active ReplicaSets in proportion to their size (``deployment.kubernetes.io/max-replicas`` says what they were
  sized for).
- Status: Available, and Progressing with upstream's reasons and messages; a rollout without progress for
  ``progressDeadlineSeconds`` is marked ``ProgressDeadlineExceeded``; a stuck Deployment is re-queued for the
  moment its deadline passes.

The functions take the controller (:class:`Rollouts` is what they need from it): they issue the writes and
record the events; the arithmetic is in :mod:`deployment_util`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from pybernetes.api.meta import key_of, parse_time, uid_of
from pybernetes.client.workqueue import WorkQueue
from pybernetes.controllers import deployment_util as du

Obj = dict[str, Any]


class Rollouts(Protocol):
    queue: WorkQueue

    def now(self) -> datetime: ...
    async def new_and_old(self, d: Obj, rs_list: list[Obj], *, create: bool) -> tuple[Obj | None, list[Obj]]: ...
    async def scale_rs(self, rs: Obj, new_scale: int, d: Obj, operation: str | None = None
                       ) -> tuple[bool, Obj]: ...
    async def cleanup(self, old_rss: list[Obj], d: Obj) -> None: ...
    async def write_status(self, d: Obj, status: Obj) -> None: ...
    def pods_of(self, rs_uid: str) -> list[Obj]: ...


# ---------------------------------------------------------------------------------------------------------------
# RollingUpdate


async def rollout_rolling(dc: Rollouts, d: Obj, rs_list: list[Obj]) -> None:
    new_rs, old_rss = await dc.new_and_old(d, rs_list, create=True)
    assert new_rs is not None
    all_rss = [*old_rss, new_rs]
    if await reconcile_new_rs(dc, all_rss, new_rs, d):
        await sync_rollout_status(dc, all_rss, new_rs, d)
        return
    if await reconcile_old_rss(dc, all_rss, du.filter_active(old_rss), new_rs, d):
        await sync_rollout_status(dc, all_rss, new_rs, d)
        return
    if du.deployment_complete(d, d.get("status") or {}):
        await dc.cleanup(old_rss, d)
    await sync_rollout_status(dc, all_rss, new_rs, d)


async def reconcile_new_rs(dc: Rollouts, all_rss: list[Obj], new_rs: Obj, d: Obj) -> bool:
    want = du.replicas(d)
    if du.replicas(new_rs) == want:
        return False
    if du.replicas(new_rs) > want:
        return (await dc.scale_rs(new_rs, want, d))[0]
    return (await dc.scale_rs(new_rs, du.new_rs_new_replicas(d, all_rss, new_rs), d))[0]


async def reconcile_old_rss(dc: Rollouts, all_rss: list[Obj], old_rss: list[Obj], new_rs: Obj, d: Obj) -> bool:
    if du.total_replicas(old_rss) == 0:
        return False
    all_pods = du.total_replicas(all_rss)
    min_avail = du.replicas(d) - du.max_unavailable(d)
    new_unavailable = du.replicas(new_rs) - du.status_int(new_rs, "availableReplicas")
    max_scaled_down = all_pods - min_avail - new_unavailable
    if max_scaled_down <= 0:
        return False
    old_rss, cleaned = await cleanup_unhealthy_replicas(dc, old_rss, d, max_scaled_down)
    scaled = await scale_down_old_for_rolling_update(dc, [*old_rss, new_rs], old_rss, d)
    return cleaned + scaled > 0


async def cleanup_unhealthy_replicas(dc: Rollouts, old_rss: list[Obj], d: Obj, max_cleanup: int
                                     ) -> tuple[list[Obj], int]:
    """Scale old ReplicaSets down by their unavailable replicas first: that costs no availability."""
    old_rss = du.by_creation(old_rss)
    total = 0
    for i, rs in enumerate(old_rss):
        if total >= max_cleanup:
            break
        if du.replicas(rs) == 0 or du.replicas(rs) == du.status_int(rs, "availableReplicas"):
            continue
        down = min(max_cleanup - total, du.replicas(rs) - du.status_int(rs, "availableReplicas"))
        _, old_rss[i] = await dc.scale_rs(rs, du.replicas(rs) - down, d)
        total += down
    return old_rss, total


async def scale_down_old_for_rolling_update(dc: Rollouts, all_rss: list[Obj], old_rss: list[Obj], d: Obj) -> int:
    min_avail = du.replicas(d) - du.max_unavailable(d)
    available = du.total_status(all_rss, "availableReplicas")
    if available <= min_avail:
        return 0
    budget, total = available - min_avail, 0
    for rs in du.by_creation(old_rss):
        if total >= budget:
            break
        if du.replicas(rs) == 0:
            continue
        down = min(du.replicas(rs), budget - total)
        await dc.scale_rs(rs, du.replicas(rs) - down, d)
        total += down
    return total


# ---------------------------------------------------------------------------------------------------------------
# Recreate


async def rollout_recreate(dc: Rollouts, d: Obj, rs_list: list[Obj]) -> None:
    new_rs, old_rss = await dc.new_and_old(d, rs_list, create=False)
    all_rss: list[Obj | None] = [*old_rss, new_rs]
    scaled = False
    for rs in du.filter_active(old_rss):
        done, _ = await dc.scale_rs(rs, 0, d)
        scaled = scaled or done
    if scaled or old_pods_running(dc, new_rs, old_rss):
        await sync_rollout_status(dc, all_rss, new_rs, d)
        return
    if new_rs is None:
        new_rs, old_rss = await dc.new_and_old(d, rs_list, create=True)
        all_rss = [*old_rss, new_rs]
    assert new_rs is not None
    await dc.scale_rs(new_rs, du.replicas(d), d)
    if du.deployment_complete(d, d.get("status") or {}):
        await dc.cleanup(old_rss, d)
    await sync_rollout_status(dc, all_rss, new_rs, d)


def old_pods_running(dc: Rollouts, new_rs: Obj | None, old_rss: list[Obj]) -> bool:
    """Any old ReplicaSet still reporting replicas, or any of its pods not finished (Unknown counts)."""
    if du.total_status(old_rss, "replicas") > 0:
        return True
    for rs in old_rss:
        if new_rs is not None and uid_of(rs) == uid_of(new_rs):
            continue
        for pod in dc.pods_of(uid_of(rs)):
            if (pod.get("status") or {}).get("phase") not in ("Failed", "Succeeded"):
                return True
    return False


# ---------------------------------------------------------------------------------------------------------------
# Scaling events


async def scale(dc: Rollouts, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> None:
    """Bring the ReplicaSets to ``spec.replicas`` without rolling (paused Deployments, scaling events)."""
    want = du.replicas(d)
    if (only := du.find_active_or_latest(new_rs, old_rss)) is not None:
        if du.replicas(only) != want:
            await dc.scale_rs(only, want, d)
        return
    if du.is_saturated(d, new_rs):
        for old in du.filter_active(old_rss):
            await dc.scale_rs(old, 0, d)
        return
    if not du.is_rolling_update(d):
        return
    active = du.filter_active([*old_rss, new_rs])
    allowed = want + du.max_surge(d) if want > 0 else 0
    to_add = allowed - du.total_replicas(active)
    operation = "up" if to_add > 0 else "down"
    if to_add > 0:
        active = du.by_size_newer(active)
    elif to_add < 0:
        active = du.by_size_older(active)
    sizes: list[int] = []
    added = 0
    for rs in active:
        if to_add:
            p = du.proportion(rs, d, to_add, added)
            sizes.append(du.replicas(rs) + p)
            added += p
        else:
            sizes.append(du.replicas(rs))
    for i, rs in enumerate(active):
        if i == 0 and to_add:
            sizes[0] = max(sizes[0] + to_add - added, 0)
        await dc.scale_rs(rs, sizes[i], d, operation)


# ---------------------------------------------------------------------------------------------------------------
# Status and progress


async def sync_deployment_status(dc: Rollouts, all_rss: Sequence[Obj | None], new_rs: Obj | None,
                                 d: Obj) -> None:
    status = du.calculate_status(all_rss, new_rs, d, dc.now())
    if not same_status(d.get("status") or {}, status):
        await dc.write_status(d, status)


async def sync_rollout_status(dc: Rollouts, all_rss: Sequence[Obj | None], new_rs: Obj | None, d: Obj) -> None:
    """Status plus the Progressing condition; re-queues a Deployment that might miss its deadline."""
    now = dc.now()
    status = du.calculate_status(all_rss, new_rs, d, now)
    if not du.has_progress_deadline(d):
        du.remove_condition(status, du.PROGRESSING)
    current = du.get_condition(d.get("status") or {}, du.PROGRESSING)
    complete_before = (status["replicas"] == status["updatedReplicas"] and current is not None
                       and current.get("reason") == du.NEW_RS_AVAILABLE)
    name = d["metadata"]["name"]
    if du.has_progress_deadline(d) and not complete_before:
        subject = f'ReplicaSet "{new_rs["metadata"]["name"]}"' if new_rs is not None else f'Deployment "{name}"'
        if du.deployment_complete(d, status):
            du.set_condition(status, du.new_condition(du.PROGRESSING, "True", du.NEW_RS_AVAILABLE,
                                                      f"{subject} has successfully progressed.", now))
        elif du.deployment_progressing(d, status):
            cond = du.new_condition(du.PROGRESSING, "True", du.RS_UPDATED, f"{subject} is progressing.", now)
            if current is not None:
                if current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime")
                du.remove_condition(status, du.PROGRESSING)
            du.set_condition(status, cond)
        elif du.deployment_timed_out(d, status, now):
            du.set_condition(status, du.new_condition(du.PROGRESSING, "False", du.TIMED_OUT,
                                                      f"{subject} has timed out progressing.", now))
    failures = replica_failures(all_rss, new_rs)
    if failures:
        du.set_condition(status, failures[0])
    else:
        du.remove_condition(status, du.REPLICA_FAILURE)
    if same_status(d.get("status") or {}, status):
        requeue_stuck(dc, d, status)
        return
    await dc.write_status(d, status)


def replica_failures(all_rss: Sequence[Obj | None], new_rs: Obj | None) -> list[Obj]:
    """ReplicaFailure conditions of the new ReplicaSet, else of any ReplicaSet, as Deployment conditions."""
    def of(rs: Obj | None) -> list[Obj]:
        return [du.rs_condition_to_deployment(c) for c in ((rs or {}).get("status") or {}).get("conditions") or ()
                if c.get("type") == du.REPLICA_FAILURE]
    return of(new_rs) or [c for rs in all_rss for c in of(rs)]


def requeue_stuck(dc: Rollouts, d: Obj, status: Obj) -> float:
    """Schedule a progress check for when the Progressing condition's deadline passes; -1 if none is needed."""
    current = du.get_condition(d.get("status") or {}, du.PROGRESSING)
    if not du.has_progress_deadline(d) or current is None:
        return -1
    if du.deployment_complete(d, status) or current.get("reason") == du.TIMED_OUT:
        return -1
    try:
        last = parse_time(current.get("lastUpdateTime") or "")
    except ValueError:
        return -1
    after = (last - dc.now()).total_seconds() + int(d["spec"]["progressDeadlineSeconds"])
    key = key_of(d)
    if after < 1:
        dc.queue.add_rate_limited(key)
        return 0
    dc.queue.add_after(key, after + 1)
    return after


_ZERO: tuple[Any, ...] = (None, 0, "", [], {})


def same_status(a: Obj, b: Obj) -> bool:
    """Status equality as Go compares the structs: a missing field equals its zero value."""
    keys = set(a) | set(b)
    return all(a.get(k) == b.get(k) or (a.get(k) in _ZERO and b.get(k) in _ZERO) for k in keys)
