"""What a StatefulSet's pods and claims should look like (upstream ``stateful_set_utils.go``): pure functions over
plain dicts, used by :mod:`pybernetes.controllers.statefulset`.

A pod's identity is its name ``<set>-<ordinal>``: the ordinal is parsed back from the name, so a replacement pod
gets the same name, hostname, ``statefulset.kubernetes.io/pod-name`` label and PersistentVolumeClaims
``<template>-<set>-<ordinal>``. Claims outlive pods; the retention policy only decides which owner references a
claim carries (to the set for ``whenDeleted: Delete``, to a scaled-away pod for ``whenScaled: Delete``), and the
garbage collector does the deleting.
"""

from __future__ import annotations

import copy
import re
from datetime import datetime
from typing import Any

from pybernetes.api.meta import is_being_deleted, name_of, namespace_of, uid_of
from pybernetes.controllers.controller_ref import new_controller_ref
from pybernetes.controllers.history import REVISION_LABEL
from pybernetes.controllers.pods import is_pod_available, is_pod_ready, pod_from_template
from pybernetes.controllers.pods import phase_of as phase_of  # re-exported: the controller reads su.phase_of

Obj = dict[str, Any]
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
RETAIN, DELETE = "Retain", "Delete"
_ORDINAL = re.compile(r"(.*)-([0-9]+)$")
_MAX_INT32 = 2 ** 31 - 1


# ---------------------------------------------------------------------------------------------------------------
# Identity


def parent_and_ordinal(name: str) -> tuple[str, int]:
    """``getParentNameAndOrdinal``: ("", -1) for a name that does not end in ``-<number>``."""
    m = _ORDINAL.match(name)
    if m is None:
        return "", -1
    n = int(m.group(2))
    return m.group(1), (n if n <= _MAX_INT32 else -1)


def ordinal_of(pod: Obj) -> int:
    return parent_and_ordinal(name_of(pod))[1]


def spec_of(sts: Obj) -> Obj:
    return sts.get("spec") or {}


def replicas_of(sts: Obj) -> int:
    r = spec_of(sts).get("replicas")
    return 1 if r is None else int(r)


def start_ordinal(sts: Obj) -> int:
    return int((spec_of(sts).get("ordinals") or {}).get("start") or 0)


def end_ordinal(sts: Obj) -> int:
    return start_ordinal(sts) + replicas_of(sts) - 1


def in_ordinal_range(pod: Obj, sts: Obj) -> bool:
    return start_ordinal(sts) <= ordinal_of(pod) <= end_ordinal(sts)


def pod_name(sts: Obj, ordinal: int) -> str:
    return f"{name_of(sts)}-{ordinal}"


def claim_name(sts: Obj, template: Obj, ordinal: int) -> str:
    return f"{name_of(template)}-{name_of(sts)}-{ordinal}"


def is_member_of(sts: Obj, pod: Obj) -> bool:
    return parent_and_ordinal(name_of(pod))[0] == name_of(sts)


def identity_matches(sts: Obj, pod: Obj) -> bool:
    parent, ordinal = parent_and_ordinal(name_of(pod))
    return (ordinal >= 0 and parent == name_of(sts) and name_of(pod) == pod_name(sts, ordinal)
            and namespace_of(pod) == namespace_of(sts)
            and ((pod.get("metadata") or {}).get("labels") or {}).get(POD_NAME_LABEL) == name_of(pod))


def claim_templates(sts: Obj) -> list[Obj]:
    return list(spec_of(sts).get("volumeClaimTemplates") or ())


def storage_matches(sts: Obj, pod: Obj) -> bool:
    """Every claim template is mounted as a volume of its name pointing at this ordinal's claim."""
    ordinal = ordinal_of(pod)
    if ordinal < 0:
        return False
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or ()}
    for t in claim_templates(sts):
        v = volumes.get(name_of(t))
        pvc = (v or {}).get("persistentVolumeClaim")
        if not pvc or pvc.get("claimName") != claim_name(sts, t, ordinal):
            return False
    return True


def claims_for(sts: Obj, ordinal: int) -> dict[str, Obj]:
    """``getPersistentVolumeClaims``: template name → the claim body for ``ordinal``; the template's labels plus
    the set's ``matchLabels``."""
    match_labels = (spec_of(sts).get("selector") or {}).get("matchLabels") or {}
    out: dict[str, Obj] = {}
    for t in claim_templates(sts):
        claim = copy.deepcopy(t)
        claim.pop("status", None)
        meta = claim.setdefault("metadata", {})
        meta["name"] = claim_name(sts, t, ordinal)
        meta["namespace"] = namespace_of(sts)
        meta["labels"] = {**(meta.get("labels") or {}), **match_labels}
        claim["apiVersion"], claim["kind"] = "v1", "PersistentVolumeClaim"
        out[name_of(t)] = claim
    return out


def update_storage(sts: Obj, pod: Obj) -> None:
    """Point the template-named volumes at this ordinal's claims, keeping the pod's other volumes."""
    claims = claims_for(sts, ordinal_of(pod))
    spec = pod.setdefault("spec", {})
    volumes = [{"name": tname, "persistentVolumeClaim": {"claimName": name_of(c)}} for tname, c in claims.items()]
    volumes += [v for v in spec.get("volumes") or () if v.get("name") not in claims]
    if volumes:
        spec["volumes"] = volumes


def update_identity(sts: Obj, pod: Obj) -> None:
    ordinal = ordinal_of(pod)
    meta = pod.setdefault("metadata", {})
    meta["name"] = pod_name(sts, ordinal)
    meta["namespace"] = namespace_of(sts)
    labels = meta.get("labels")
    if not isinstance(labels, dict):
        labels = meta["labels"] = {}
    labels[POD_NAME_LABEL] = meta["name"]
    labels[POD_INDEX_LABEL] = str(ordinal)


def new_pod(sts: Obj, ordinal: int, revision: str) -> Obj:
    """``newStatefulSetPod``: the template's pod named for ``ordinal``, hostname = name, subdomain = serviceName
    (both immutable on pods, so only set at creation), its claims mounted, labelled with ``revision``."""
    ref = new_controller_ref(sts, api_version="apps/v1", kind="StatefulSet")
    pod = pod_from_template(copy.deepcopy(spec_of(sts).get("template") or {}), sts, ref)
    meta = pod["metadata"]
    meta.pop("generateName", None)
    meta["name"] = pod_name(sts, ordinal)
    update_identity(sts, pod)
    spec = pod["spec"]
    spec["hostname"] = meta["name"]
    if spec_of(sts).get("serviceName"):
        spec["subdomain"] = spec_of(sts)["serviceName"]
    update_storage(sts, pod)
    meta["labels"][REVISION_LABEL] = revision
    return pod


def new_versioned_pod(current_set: Obj, update_set: Obj, current_revision: str, update_revision: str,
                      ordinal: int) -> Obj:
    """``newVersionedStatefulSetPod``: ordinals below the partition keep the current revision's template."""
    spec = spec_of(current_set)
    us = spec.get("updateStrategy") or {}
    ru = us.get("rollingUpdate")
    start = start_ordinal(current_set)
    current_replicas = int((current_set.get("status") or {}).get("currentReplicas") or 0)
    if ((us.get("type") == "RollingUpdate" and ru is None and ordinal < start + current_replicas)
            or (ru is not None and ordinal < start + int(ru.get("partition") or 0))):
        return new_pod(current_set, ordinal, current_revision)
    return new_pod(update_set, ordinal, update_revision)


def apply_revision(sts: Obj, revision: Obj) -> Obj:
    """``ApplyRevision``: the set with the template the revision recorded (the data is a ``$patch: replace``)."""
    template = dict(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    out = dict(sts)
    out["spec"] = {**spec_of(sts), "template": template}
    return out


def pod_revision(pod: Obj) -> str:
    return ((pod.get("metadata") or {}).get("labels") or {}).get(REVISION_LABEL, "")


# ---------------------------------------------------------------------------------------------------------------
# Pod states


def is_created(pod: Obj) -> bool:
    """The API server has the pod (it always stores a phase); a body built this sync has none."""
    return phase_of(pod) != ""


def is_running_and_ready(pod: Obj) -> bool:
    return phase_of(pod) == "Running" and is_pod_ready(pod)


def is_running_and_available(pod: Obj, min_ready: int, now: datetime) -> bool:
    return is_pod_available(pod, min_ready, now)


def is_unavailable(pod: Obj, min_ready: int, now: datetime) -> bool:
    """``isUnavailable``: not yet available, or on its way out."""
    return not is_pod_available(pod, min_ready, now) or is_being_deleted(pod)


def allows_burst(sts: Obj) -> bool:
    return spec_of(sts).get("podManagementPolicy") == "Parallel"


# ---------------------------------------------------------------------------------------------------------------
# Claim retention (owner references by policy)


def retention(sts: Obj) -> tuple[str, str]:
    """(whenDeleted, whenScaled), Retain when unset."""
    p = spec_of(sts).get("persistentVolumeClaimRetentionPolicy") or {}
    return p.get("whenDeleted") or RETAIN, p.get("whenScaled") or RETAIN


def _refs(obj: Obj) -> list[Obj]:
    return list((obj.get("metadata") or {}).get("ownerReferences") or ())


def _matches_ref(ref: Obj, obj: Obj, api_version: str, kind: str) -> bool:
    return ref.get("apiVersion") == api_version and ref.get("kind") == kind and ref.get("name") == name_of(obj)


_SET = ("apps/v1", "StatefulSet")
_POD = ("v1", "Pod")


def has_owner_ref(claim: Obj, owner: Obj) -> bool:
    uid = uid_of(owner)
    return bool(uid) and any(r.get("uid") == uid for r in _refs(claim))


def has_stale_owner_ref(claim: Obj, owner: Obj, api_version: str, kind: str) -> bool:
    """A reference to an object of this kind and name but another uid: an earlier incarnation owns the claim."""
    for r in _refs(claim):
        if _matches_ref(r, owner, api_version, kind):
            return r.get("uid") != uid_of(owner)
    return False


def has_unexpected_controller(claim: Obj, sts: Obj, pod: Obj) -> bool:
    if retention(sts) == (RETAIN, RETAIN):
        return False
    for r in _refs(claim):
        if _matches_ref(r, sts, *_SET):
            if r.get("uid") != uid_of(sts):
                return True
            continue
        if _matches_ref(r, pod, *_POD):
            if r.get("uid") != uid_of(pod):
                return True
            continue
        if r.get("controller") is True:
            return True
    return False


def _has_non_controller_owner(claim: Obj, sts: Obj, pod: Obj) -> bool:
    uids = {uid_of(sts), uid_of(pod)} - {""}
    return any(r.get("uid") in uids and r.get("controller") is not True for r in _refs(claim))


def claim_owner_up_to_date(claim: Obj, sts: Obj, pod: Obj) -> bool:
    """``isClaimOwnerUpToDate``: the claim's owner references agree with the retention policy (or the claim is in
    a state, owned by an earlier set or pod or by another controller, that the set must not touch)."""
    if has_stale_owner_ref(claim, sts, *_SET) or has_stale_owner_ref(claim, pod, *_POD):
        return True
    if has_unexpected_controller(claim, sts, pod):
        return not (has_owner_ref(claim, sts) or has_owner_ref(claim, pod))
    if _has_non_controller_owner(claim, sts, pod):
        return False
    when_deleted, when_scaled = retention(sts)
    on_set, on_pod = has_owner_ref(claim, sts), has_owner_ref(claim, pod)
    scaled_down = not in_ordinal_range(pod, sts)
    if when_scaled == DELETE and when_deleted == DELETE:
        return scaled_down != on_set and scaled_down == on_pod
    if when_scaled == DELETE:
        return not on_set and scaled_down == on_pod
    if when_deleted == DELETE:
        return on_set and not on_pod
    return not on_set and not on_pod


def claim_owner_refs(claim: Obj, sts: Obj, pod: Obj) -> list[Obj]:
    """``updateClaimOwnerRefForSetAndPod``: the claim's references with ours replaced as the policy wants."""
    unexpected = has_unexpected_controller(claim, sts, pod)
    refs = [r for r in _refs(claim) if not (_matches_ref(r, sts, *_SET) or _matches_ref(r, pod, *_POD))]
    if unexpected:
        return refs
    when_deleted, when_scaled = retention(sts)
    scaled_down = not in_ordinal_range(pod, sts)
    if when_scaled == DELETE and scaled_down:
        refs.append(new_controller_ref(pod, api_version="v1", kind="Pod"))
    if when_deleted == DELETE and not (when_scaled == DELETE and scaled_down):
        refs.append(new_controller_ref(sts, api_version="apps/v1", kind="StatefulSet"))
    return refs


# ---------------------------------------------------------------------------------------------------------------
# Status


def count_replicas(status: Obj, pods: list[Obj], *, min_ready: int, current_revision: str, update_revision: str,
                   now: datetime) -> None:
    """``updateStatus``: the replica counters over ``pods`` (created ones only; a terminating pod is neither
    current nor updated)."""
    replicas = ready = available = current = updated = 0
    for pod in pods:
        created = is_created(pod)
        if created:
            replicas += 1
        if is_running_and_ready(pod):
            ready += 1
            if is_running_and_available(pod, min_ready, now):
                available += 1
        if created and not is_being_deleted(pod):
            rev = pod_revision(pod)
            current += rev == current_revision
            updated += rev == update_revision
    status.update(replicas=replicas, readyReplicas=ready, availableReplicas=available, currentReplicas=current,
                  updatedReplicas=updated)


def complete_rolling_update(sts: Obj, status: Obj) -> None:
    """``completeRollingUpdate``: once every replica is updated and ready, the update revision becomes current."""
    want = replicas_of(sts)
    if ((spec_of(sts).get("updateStrategy") or {}).get("type") == "RollingUpdate"
            and status["updatedReplicas"] == want and status["readyReplicas"] == want
            and status["replicas"] == want):
        status["currentReplicas"] = status["updatedReplicas"]
        status["currentRevision"] = status["updateRevision"]


_COUNTERS = ("replicas", "currentReplicas", "readyReplicas", "updatedReplicas", "availableReplicas")


def inconsistent_status(sts: Obj, status: Obj) -> bool:
    old = sts.get("status") or {}
    return (status["observedGeneration"] > int(old.get("observedGeneration") or 0)
            or any(status[k] != int(old.get(k) or 0) for k in _COUNTERS)
            or status["currentRevision"] != (old.get("currentRevision") or "")
            or status["updateRevision"] != (old.get("updateRevision") or ""))


def status_json(sts: Obj, status: Obj) -> Obj:
    """The status as Go encodes it (field order, zero ``omitempty`` fields left out); conditions are kept."""
    out: Obj = {}
    if status["observedGeneration"]:
        out["observedGeneration"] = status["observedGeneration"]
    out["replicas"] = status["replicas"]
    for k in ("readyReplicas", "currentReplicas", "updatedReplicas", "currentRevision", "updateRevision"):
        if status[k]:
            out[k] = status[k]
    out["collisionCount"] = status["collisionCount"]
    if (sts.get("status") or {}).get("conditions"):
        out["conditions"] = sts["status"]["conditions"]
    out["availableReplicas"] = status["availableReplicas"]
    return out
