"""Pure Deployment arithmetic (upstream ``pkg/controller/deployment/util/deployment_util.go``).

Revisions and the annotations that carry them, maxSurge/maxUnavailable fenceposts, proportional scaling, finding
the new and old ReplicaSets of a Deployment, the pod-template hash, conditions and the status that
``kubectl rollout status`` reads. No I/O: every function takes plain dicts and returns values (the ``set_*``
helpers mutate the dict they are given and say whether anything changed, as upstream's do).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pybernetes.api.meta import annotations_of, format_rfc3339, name_of, parse_time, uid_of
from pybernetes.controllers.hashing import compute_hash as compute_hash  # re-exported: deployment uses du.compute_hash

Obj = dict[str, Any]

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
POD_TEMPLATE_HASH = "pod-template-hash"
MAX_REV_HISTORY_CHARS = 2000
MAX_INT32 = 2 ** 31 - 1
_SKIP_ANNOTATIONS = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO})

# Condition types and reasons, as upstream.
AVAILABLE, PROGRESSING, REPLICA_FAILURE = "Available", "Progressing", "ReplicaFailure"
RS_UPDATED = "ReplicaSetUpdated"
FAILED_RS_CREATE = "ReplicaSetCreateError"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"


# ---------------------------------------------------------------------------------------------------------------
# Small accessors


def replicas(obj: Obj | None) -> int:
    """``*spec.replicas`` (defaulted to 1 by the API server; a missing object counts 0)."""
    if obj is None:
        return 0
    r = (obj.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def status_int(obj: Obj | None, field: str) -> int:
    return int(((obj or {}).get("status") or {}).get(field) or 0)


def strategy_type(d: Obj) -> str:
    return ((d.get("spec") or {}).get("strategy") or {}).get("type") or "RollingUpdate"


def is_rolling_update(d: Obj) -> bool:
    return strategy_type(d) == "RollingUpdate"


# ---------------------------------------------------------------------------------------------------------------
# Fenceposts


def scaled_value(value: Any, total: int, *, round_up: bool) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``: an int as is, ``"25%"`` of ``total`` rounded up or down."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    s = str(value)
    if not s.endswith("%"):
        try:
            return int(s)
        except ValueError:
            raise ValueError("invalid value for IntOrString: invalid type: string is not a percentage") from None
    try:
        pct = int(s[:-1])
    except ValueError:
        raise ValueError(f'invalid value "{s}": strconv.Atoi: parsing "{s[:-1]}": invalid syntax') from None
    scaled = pct * total / 100
    return math.ceil(scaled) if round_up else math.floor(scaled)


def resolve_fenceposts(max_surge: Any, max_unavailable: Any, desired: int) -> tuple[int, int]:
    """maxSurge rounds up, maxUnavailable down; if both resolve to 0, allow one unavailable pod (surge may be
    impossible under a quota), as upstream."""
    surge = scaled_value(max_surge if max_surge is not None else 0, desired, round_up=True)
    unavailable = scaled_value(max_unavailable if max_unavailable is not None else 0, desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _rolling(d: Obj) -> Obj:
    return ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}


def max_surge(d: Obj) -> int:
    if not is_rolling_update(d):
        return 0
    ru = _rolling(d)
    return resolve_fenceposts(ru.get("maxSurge"), ru.get("maxUnavailable"), replicas(d))[0]


def max_unavailable(d: Obj) -> int:
    if not is_rolling_update(d) or replicas(d) == 0:
        return 0
    ru = _rolling(d)
    unavailable = resolve_fenceposts(ru.get("maxSurge"), ru.get("maxUnavailable"), replicas(d))[1]
    return min(unavailable, replicas(d))


def min_available(d: Obj) -> int:
    return replicas(d) - max_unavailable(d) if is_rolling_update(d) else 0


# ---------------------------------------------------------------------------------------------------------------
# Revisions and annotations


def revision(obj: Obj) -> int:
    """The revision annotation (0 if absent); ``ValueError`` if it is not an integer."""
    v = annotations_of(obj).get(REVISION)
    return 0 if v is None else int(v)


def _revision_or_none(obj: Obj) -> int | None:
    try:
        return revision(obj)
    except ValueError:
        return None


def max_revision(rss: Iterable[Obj]) -> int:
    return max((r for rs in rss if (r := _revision_or_none(rs)) is not None), default=0)


def last_revision(rss: Iterable[Obj]) -> int:
    """The second highest revision (the one ``rollout undo`` goes back to)."""
    top = second = 0
    for rs in rss:
        v = _revision_or_none(rs)
        if v is None:
            continue
        if v >= top:
            top, second = v, top
        elif v > second:
            second = v
    return second


def copy_annotations_to_rs(d: Obj, rs: Obj) -> bool:
    """Copy the Deployment's annotations (except apply/revision/replica bookkeeping) onto the ReplicaSet."""
    ann = rs.setdefault("metadata", {}).setdefault("annotations", {})
    changed = False
    for k, v in annotations_of(d).items():
        if k in _SKIP_ANNOTATIONS or ann.get(k) == v:
            continue
        ann[k] = v
        changed = True
    return changed


def set_replicas_annotations(rs: Obj, desired: int, max_replicas: int) -> bool:
    ann = rs.setdefault("metadata", {}).setdefault("annotations", {})
    changed = False
    for k, v in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(max_replicas))):
        if ann.get(k) != v:
            ann[k] = v
            changed = True
    return changed


def replicas_annotations_need_update(rs: Obj, desired: int, max_replicas: int) -> bool:
    ann = annotations_of(rs)
    return ann.get(DESIRED_REPLICAS) != str(desired) or ann.get(MAX_REPLICAS) != str(max_replicas)


def set_new_rs_annotations(d: Obj, rs: Obj, new_revision: int, *, exists: bool,
                           history_limit_chars: int = MAX_REV_HISTORY_CHARS) -> bool:
    """Annotations of the new ReplicaSet: the Deployment's, a revision raised to ``new_revision`` (never
    lowered), the revisions it served before in ``revision-history`` (a rollback re-uses an old ReplicaSet), and
    — for a ReplicaSet about to be created — the desired/max replica counts."""
    changed = copy_annotations_to_rs(d, rs)
    ann = rs["metadata"]["annotations"]
    old = ann.get(REVISION)
    try:
        old_rev = int(old) if old else 0
    except ValueError:
        return False
    if old_rev < new_revision:
        ann[REVISION] = str(new_revision)
        changed = True
        if old is not None:
            history = ann.get(REVISION_HISTORY, "")
            revs = history.split(",") if history else []
            if not revs:
                ann[REVISION_HISTORY] = old
            else:
                total, start = len(history) + len(old) + 1, 0
                while total > history_limit_chars and start < len(revs):
                    total -= len(revs[start]) + 1
                    start += 1
                if total <= history_limit_chars:
                    ann[REVISION_HISTORY] = ",".join([*revs[start:], old])
    if not exists and set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed


def set_deployment_revision(d: Obj, rev: str) -> bool:
    ann = d.setdefault("metadata", {}).setdefault("annotations", {})
    if ann.get(REVISION) != rev:
        ann[REVISION] = rev
        return True
    return False


def _int_annotation(rs: Obj, key: str) -> int | None:
    v = annotations_of(rs).get(key)
    if v is None:
        return None
    try:
        return int(v)
    except ValueError:
        return None


def desired_replicas_annotation(rs: Obj) -> int | None:
    return _int_annotation(rs, DESIRED_REPLICAS)


# ---------------------------------------------------------------------------------------------------------------
# Proportional scaling


def _round_half_away(x: float) -> int:
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def rs_fraction(rs: Obj, d: Obj) -> int:
    """How many replicas ``rs`` should gain (or lose) in a scaling event, from its share of max-replicas."""
    if replicas(d) == 0:
        return -replicas(rs)
    deployment_replicas = replicas(d) + max_surge(d)
    annotated = _int_annotation(rs, MAX_REPLICAS)
    if annotated is None:
        annotated = status_int(d, "replicas")
    if not annotated:
        return 0
    return _round_half_away(replicas(rs) * deployment_replicas / annotated) - replicas(rs)


def proportion(rs: Obj | None, d: Obj, to_add: int, added: int) -> int:
    if rs is None or replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = rs_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


# ---------------------------------------------------------------------------------------------------------------
# New and old ReplicaSets


def _semantic(v: Any) -> Any:
    """Drop nulls, empty lists and empty maps (Go's semantic equality treats nil and empty alike)."""
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            x = _semantic(x)
            if x is None or x == [] or x == {}:
                continue
            out[k] = x
        return out
    if isinstance(v, list):
        return [_semantic(x) for x in v]
    return v


def equal_ignore_hash(t1: Obj | None, t2: Obj | None) -> bool:
    """Pod templates equal but for the ``pod-template-hash`` label (upstream ``EqualIgnoreHash``)."""
    def strip(t: Obj | None) -> Any:
        t = dict(t or {})
        meta = dict(t.get("metadata") or {})
        if meta.get("labels") and POD_TEMPLATE_HASH in meta["labels"]:
            meta["labels"] = {k: v for k, v in meta["labels"].items() if k != POD_TEMPLATE_HASH}
        t["metadata"] = meta
        return _semantic(t)
    return bool(strip(t1) == strip(t2))


def by_creation(rss: Iterable[Obj]) -> list[Obj]:
    """Oldest first, then by name (``ReplicaSetsByCreationTimestamp``)."""
    return sorted(rss, key=lambda rs: ((rs.get("metadata") or {}).get("creationTimestamp") or "", name_of(rs)))


def by_size_older(rss: Iterable[Obj]) -> list[Obj]:
    """Largest first; on a tie, older first (where to take replicas from when scaling down)."""
    return sorted(by_creation(rss), key=lambda rs: -replicas(rs))


def by_size_newer(rss: Iterable[Obj]) -> list[Obj]:
    """Largest first; on a tie, newer first (where to add replicas when scaling up)."""
    return sorted(reversed(by_creation(rss)), key=lambda rs: -replicas(rs))


def by_revision(rss: Iterable[Obj]) -> list[Obj]:
    return sorted(by_creation(rss), key=lambda rs: _revision_or_none(rs) or 0)


def find_new_rs(d: Obj, rss: Iterable[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template equals the Deployment's (ignoring the hash label)."""
    template = (d.get("spec") or {}).get("template")
    for rs in by_creation(rss):
        if equal_ignore_hash((rs.get("spec") or {}).get("template"), template):
            return rs
    return None


def find_old_rss(d: Obj, rss: Sequence[Obj]) -> tuple[list[Obj], list[Obj]]:
    """(old ReplicaSets with replicas, every old ReplicaSet)."""
    new = find_new_rs(d, rss)
    all_old = [rs for rs in rss if new is None or uid_of(rs) != uid_of(new)]
    return [rs for rs in all_old if replicas(rs) != 0], all_old


def filter_active(rss: Iterable[Obj | None]) -> list[Obj]:
    return [rs for rs in rss if rs is not None and replicas(rs) > 0]


def find_active_or_latest(new_rs: Obj | None, old_rss: Sequence[Obj]) -> Obj | None:
    """The only active ReplicaSet, or the newest if none is active; None if several are active."""
    if new_rs is None and not old_rss:
        return None
    old_sorted = list(reversed(by_creation(old_rss)))
    active = filter_active([*old_sorted, new_rs])
    if not active:
        return new_rs if new_rs is not None else old_sorted[0]
    return active[0] if len(active) == 1 else None


def total_replicas(rss: Iterable[Obj | None]) -> int:
    return sum(replicas(rs) for rs in rss if rs is not None)


def total_status(rss: Iterable[Obj | None], field: str) -> int:
    return sum(status_int(rs, field) for rs in rss if rs is not None)


def new_rs_new_replicas(d: Obj, all_rss: Sequence[Obj | None], new_rs: Obj) -> int:
    """How many replicas the new ReplicaSet may have now: the rollout step (``NewRSNewReplicas``)."""
    st = strategy_type(d)
    if st == "RollingUpdate":
        surge = scaled_value(_rolling(d).get("maxSurge"), replicas(d), round_up=True)
        current = total_replicas(all_rss)
        max_total = replicas(d) + surge
        if current >= max_total:
            return replicas(new_rs)
        return replicas(new_rs) + min(max_total - current, replicas(d) - replicas(new_rs))
    if st == "Recreate":
        return replicas(d)
    raise ValueError(f"deployment type {st} isn't supported")


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    """The new ReplicaSet runs all of the Deployment's replicas, all available, and both agree on the count."""
    if rs is None:
        return False
    desired = desired_replicas_annotation(rs)
    return (desired is not None and replicas(rs) == replicas(d) and desired == replicas(d)
            and status_int(rs, "availableReplicas") == replicas(d))


# ---------------------------------------------------------------------------------------------------------------
# Conditions and status


def new_condition(type_: str, status: str, reason: str, message: str, now: datetime) -> Obj:
    t = format_rfc3339(now)
    return {"type": type_, "status": status, "lastUpdateTime": t, "lastTransitionTime": t, "reason": reason,
            "message": message}


def get_condition(status: Obj, type_: str) -> Obj | None:
    for c in status.get("conditions") or ():
        if c.get("type") == type_:
            return c  # type: ignore[no-any-return]
    return None


def set_condition(status: Obj, cond: Obj) -> None:
    """Add or replace ``cond``; a condition with the same status and reason is left alone, and the transition
    time survives a change of reason only."""
    cur = get_condition(status, cond["type"])
    if cur is not None and cur.get("status") == cond["status"] and cur.get("reason") == cond["reason"]:
        return
    if cur is not None and cur.get("status") == cond["status"]:
        cond = {**cond, "lastTransitionTime": cur.get("lastTransitionTime")}
    status["conditions"] = [*(c for c in status.get("conditions") or () if c.get("type") != cond["type"]), cond]


def remove_condition(status: Obj, type_: str) -> None:
    conds = [c for c in status.get("conditions") or () if c.get("type") != type_]
    if conds:
        status["conditions"] = conds
    else:
        status.pop("conditions", None)


def rs_condition_to_deployment(c: Obj) -> Obj:
    return {"type": c.get("type"), "status": c.get("status"), "lastUpdateTime": c.get("lastTransitionTime"),
            "lastTransitionTime": c.get("lastTransitionTime"), "reason": c.get("reason"),
            "message": c.get("message")}


def has_progress_deadline(d: Obj) -> bool:
    pds = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return pds is not None and pds != MAX_INT32


def has_revision_history_limit(d: Obj) -> bool:
    limit = (d.get("spec") or {}).get("revisionHistoryLimit")
    return limit is not None and limit != MAX_INT32


def deployment_complete(d: Obj, status: Obj) -> bool:
    r = replicas(d)
    return (int(status.get("updatedReplicas") or 0) == r and int(status.get("replicas") or 0) == r
            and int(status.get("availableReplicas") or 0) == r
            and int(status.get("observedGeneration") or 0) >= int(d["metadata"].get("generation") or 0))


def deployment_progressing(d: Obj, status: Obj) -> bool:
    old = d.get("status") or {}

    def g(s: Obj, k: str) -> int:
        return int(s.get(k) or 0)
    return (g(status, "updatedReplicas") > g(old, "updatedReplicas")
            or g(status, "replicas") - g(status, "updatedReplicas") < g(old, "replicas") - g(old, "updatedReplicas")
            or g(status, "readyReplicas") > g(old, "readyReplicas")
            or g(status, "availableReplicas") > g(old, "availableReplicas"))


def deployment_timed_out(d: Obj, status: Obj, now: datetime) -> bool:
    if not has_progress_deadline(d):
        return False
    cond = get_condition(status, PROGRESSING)
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    try:
        since = parse_time(cond.get("lastUpdateTime") or "")
    except ValueError:
        return False
    return (now - since).total_seconds() > int(d["spec"]["progressDeadlineSeconds"])


def calculate_status(all_rss: Sequence[Obj | None], new_rs: Obj | None, d: Obj, now: datetime) -> Obj:
    """The Deployment status from its ReplicaSets, with the Available condition (upstream ``calculateStatus``)."""
    available = total_status(all_rss, "availableReplicas")
    unavailable = max(total_replicas(all_rss) - available, 0)
    old = d.get("status") or {}
    status: Obj = {"observedGeneration": int(d["metadata"].get("generation") or 0),
                   "replicas": total_status(all_rss, "replicas"),
                   "updatedReplicas": status_int(new_rs, "replicas"),
                   "readyReplicas": total_status(all_rss, "readyReplicas"),
                   "availableReplicas": available, "unavailableReplicas": unavailable}
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    if old.get("conditions"):
        status["conditions"] = [dict(c) for c in old["conditions"]]
    if available >= replicas(d) - max_unavailable(d):
        set_condition(status, new_condition(AVAILABLE, "True", MIN_AVAILABLE, "Deployment has minimum availability.",
                                            now))
    else:
        set_condition(status, new_condition(AVAILABLE, "False", MIN_UNAVAILABLE,
                                            "Deployment does not have minimum availability.", now))
    return status
