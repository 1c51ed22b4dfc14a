"""Pure pieces of the DaemonSet controller (upstream ``pkg/controller/daemon/util`` and the decisions in
``daemon_controller.go``/``update.go``): which nodes should run a daemon pod, what the pod looks like, which pods
an update replaces, and the status counters.

A node should run the pod when the template's ``nodeName`` (if any), ``nodeSelector`` and required node affinity
match it and its NoSchedule/NoExecute taints are tolerated — with the tolerations every daemon pod gets
(not-ready and unreachable NoExecute, disk/memory/pid pressure and unschedulable NoSchedule, network-unavailable
for host-network pods), so cordoned or troubled nodes keep their daemons. A pod already there may keep running
while only NoSchedule taints are untolerated. Pods are pinned with a required node affinity on ``metadata.name``,
as upstream does, and left to the scheduler to bind.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pybernetes.api.meta import is_being_deleted, labels_of, name_of
from pybernetes.api.nodeaffinity import node_view, required_node_affinity
from pybernetes.api.tolerations import tolerates
from pybernetes.controllers.deployment_util import scaled_value
from pybernetes.controllers.history import REVISION_LABEL
from pybernetes.controllers.pods import creation_time, is_pod_available, is_pod_ready

Obj = dict[str, Any]
TEMPLATE_GENERATION_LABEL = "pod-template-generation"
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
DAEMON_TOLERATIONS: tuple[Obj, ...] = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)
NETWORK_UNAVAILABLE = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"}


# ---------------------------------------------------------------------------------------------------------------
# The pod


def _same_toleration(a: Obj, b: Obj) -> bool:
    """``Toleration.MatchToleration``: same key, operator, value and effect."""
    return all((a.get(k) or "") == (b.get(k) or "") for k in ("key", "operator", "value", "effect"))


def add_daemon_tolerations(spec: Obj) -> None:
    """``AddOrUpdateDaemonPodTolerations``: the tolerations every daemon pod carries (``spec`` is changed)."""
    wanted = list(DAEMON_TOLERATIONS)
    if spec.get("hostNetwork"):
        wanted.append(NETWORK_UNAVAILABLE)
    tolerations = list(spec.get("tolerations") or ())
    for t in wanted:
        for i, existing in enumerate(tolerations):
            if _same_toleration(existing, t):
                tolerations[i] = dict(t)
                break
        else:
            tolerations.append(dict(t))
    spec["tolerations"] = tolerations


def template_generation(ds: Obj) -> int | None:
    raw = ((ds.get("metadata") or {}).get("annotations") or {}).get(TEMPLATE_GENERATION_ANNOTATION)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def pod_template(ds: Obj, hash_: str) -> Obj:
    """``CreatePodTemplate``: the template with the daemon tolerations, the template generation and the revision
    hash labels."""
    template = copy.deepcopy((ds.get("spec") or {}).get("template") or {})
    add_daemon_tolerations(template.setdefault("spec", {}))
    meta = template.setdefault("metadata", {})
    labels = dict(meta.get("labels") or {})
    gen = template_generation(ds)
    if gen is not None:
        labels[TEMPLATE_GENERATION_LABEL] = str(gen)
    if hash_:
        labels[REVISION_LABEL] = hash_
    meta["labels"] = labels
    return template


def pin_to_node(spec: Obj, node_name: str) -> None:
    """``ReplaceDaemonSetPodNodeNameNodeAffinity``: the required node affinity selects exactly this node."""
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
    affinity = dict(spec.get("affinity") or {})
    node_affinity = dict(affinity.get("nodeAffinity") or {})
    required = dict(node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    required["nodeSelectorTerms"] = [term]
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = required
    affinity["nodeAffinity"] = node_affinity
    spec["affinity"] = affinity


def target_node(pod: Obj) -> str | None:
    """``GetTargetNodeName``: the bound node, else the node the affinity pins the pod to."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution") or {}
    for term in required.get("nodeSelectorTerms") or ():
        for f in term.get("matchFields") or ():
            if f.get("key") == "metadata.name" and f.get("operator") == "In":
                values = f.get("values") or []
                return str(values[0]) if len(values) == 1 else None
    return None


def is_pod_updated(pod: Obj, hash_: str, generation: int | None) -> bool:
    labels = labels_of(pod)
    return (bool(hash_) and labels.get(REVISION_LABEL) == hash_) or (
        generation is not None and labels.get(TEMPLATE_GENERATION_LABEL) == str(generation))


# ---------------------------------------------------------------------------------------------------------------
# Scheduling predicates


def _matches_node(template_spec: Obj, node: Obj) -> bool:
    """``nodeSelector`` and required node affinity, as the scheduler matches them (``GetRequiredNodeAffinity``)."""
    return required_node_affinity({"spec": template_spec}).matches(node_view(node))


def should_run(node: Obj, ds: Obj) -> tuple[bool, bool]:
    """``NodeShouldRunDaemonPod``: (a pod should be created here, a pod already here may keep running)."""
    spec = copy.copy(((ds.get("spec") or {}).get("template") or {}).get("spec") or {})
    wanted_node = spec.get("nodeName")
    if wanted_node and wanted_node != name_of(node):
        return False, False
    if not _matches_node(spec, node):
        return False, False
    add_daemon_tolerations(spec)
    tolerations = spec["tolerations"]
    untolerated = [t for t in (node.get("spec") or {}).get("taints") or ()
                   if t.get("effect") in ("NoSchedule", "NoExecute")
                   and not any(tolerates(tol, t) for tol in tolerations)]
    if not untolerated:
        return True, True
    return False, not any(t.get("effect") == "NoExecute" for t in untolerated)


# ---------------------------------------------------------------------------------------------------------------
# Pods per node


_ZERO = datetime.min.replace(tzinfo=UTC)


def oldest_first(pods: list[Obj]) -> list[Obj]:
    """``podByCreationTimestampAndPhase``: scheduled pods first, then the oldest, then by name."""
    return sorted(pods, key=lambda p: (not (p.get("spec") or {}).get("nodeName"), creation_time(p) or _ZERO,
                                       name_of(p)))


def allows_surge(ds: Obj) -> bool:
    return surge_count(ds, 1) > 0


def _rolling(ds: Obj) -> Obj:
    us = (ds.get("spec") or {}).get("updateStrategy") or {}
    return us.get("rollingUpdate") or {} if us.get("type") == "RollingUpdate" else {}


def surge_count(ds: Obj, desired: int) -> int:
    v = _rolling(ds).get("maxSurge")
    return 0 if v is None else scaled_value(v, desired, round_up=True)


def unavailable_count(ds: Obj, desired: int) -> int:
    v = _rolling(ds).get("maxUnavailable")
    return 0 if v is None else scaled_value(v, desired, round_up=True)


def pods_on_node(node: Obj, pods: list[Obj] | None, ds: Obj, hash_: str, now: datetime, *,
                 failed_pod: Callable[[Obj], bool]) -> tuple[bool, list[Obj]]:
    """``podsShouldBeOnNode``: (create a pod here, pods to delete). ``failed_pod`` decides, with its back-off,
    whether a failed pod may be deleted now."""
    run, keep = should_run(node, ds)
    if run and not pods:
        return True, []
    if not keep:
        return False, [p for p in pods or () if not is_being_deleted(p)]
    delete: list[Obj] = []
    running: list[Obj] = []
    for p in pods or ():
        if is_being_deleted(p):
            continue
        if (p.get("status") or {}).get("phase") == "Failed":
            if failed_pod(p):
                delete.append(p)
        else:
            running.append(p)
    if not allows_surge(ds):
        return False, delete + oldest_first(running)[1:]
    if len(running) <= 1:
        return not running and run, delete
    newest_new = oldest_old = None
    for p in oldest_first(running):
        if labels_of(p).get(REVISION_LABEL) == hash_:
            if newest_new is None:
                newest_new = p
                continue
        elif oldest_old is None:
            oldest_old = p
            continue
        delete.append(p)
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    if newest_new is not None and oldest_old is not None and (
            not is_pod_ready(oldest_old) or is_pod_available(newest_new, min_ready, now)):
        delete.append(oldest_old)
    return False, delete


def updated_pods_on_node(pods: list[Obj], hash_: str, generation: int | None) -> tuple[Obj | None, Obj | None, bool]:
    """``findUpdatedPodsOnNode``: (new pod, old pod, ok); not ok when a node has two of either kind."""
    new = old = None
    for p in pods:
        if is_being_deleted(p):
            continue
        if is_pod_updated(p, hash_, generation):
            if new is not None:
                return None, None, False
            new = p
        else:
            if old is not None:
                return None, None, False
            old = p
    return new, old, True


# ---------------------------------------------------------------------------------------------------------------
# Status


def compute_status(ds: Obj, nodes: list[Obj], node_pods: dict[str, list[Obj]], hash_: str, now: datetime) -> Obj:
    """``updateDaemonSetStatus``: the counters over the nodes (the oldest pod of a node is the one counted)."""
    desired = current = misscheduled = ready = updated = available = 0
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    generation = template_generation(ds)
    for node in nodes:
        want, _ = should_run(node, ds)
        pods = node_pods.get(name_of(node)) or []
        if want:
            desired += 1
            if pods:
                current += 1
                pod = oldest_first(pods)[0]
                if is_pod_ready(pod):
                    ready += 1
                    if is_pod_available(pod, min_ready, now):
                        available += 1
                if is_pod_updated(pod, hash_, generation):
                    updated += 1
        elif pods:
            misscheduled += 1
    return {"currentNumberScheduled": current, "numberMisscheduled": misscheduled,
            "desiredNumberScheduled": desired, "numberReady": ready, "updatedNumberScheduled": updated,
            "numberAvailable": available, "numberUnavailable": desired - available}


STATUS_COUNTERS = ("desiredNumberScheduled", "currentNumberScheduled", "numberMisscheduled", "numberReady",
                   "updatedNumberScheduled", "numberAvailable", "numberUnavailable")


def status_json(old: Obj, counters: Obj, observed_generation: int) -> Obj:
    """The status in Go's field order, zero ``omitempty`` counters left out; collisionCount and conditions kept."""
    out: Obj = {k: counters[k] for k in ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled",
                                         "numberReady")}
    if observed_generation:
        out["observedGeneration"] = observed_generation
    for k in ("updatedNumberScheduled", "numberAvailable", "numberUnavailable"):
        if counters[k]:
            out[k] = counters[k]
    if old.get("collisionCount") is not None:
        out["collisionCount"] = old["collisionCount"]
    if old.get("conditions"):
        out["conditions"] = old["conditions"]
    return out


# ---------------------------------------------------------------------------------------------------------------
# Rolling update


def desired_counts(ds: Obj, nodes: list[Obj], node_pods: dict[str, list[Obj]]) -> tuple[int, int, int]:
    """``updatedDesiredNodeCounts``: (maxSurge, maxUnavailable, desired); nodes that should run a pod get an
    entry in ``node_pods`` (empty if they have none). Neither surge nor unavailability means unavailability 1."""
    desired = 0
    for node in nodes:
        if should_run(node, ds)[0]:
            desired += 1
            node_pods.setdefault(name_of(node), [])
    surge, unavailable = surge_count(ds, desired), unavailable_count(ds, desired)
    if desired > 0 and surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable, desired


def rolling_update_plan(ds: Obj, nodes: list[Obj], node_pods: dict[str, list[Obj]], hash_: str,
                        now: datetime) -> tuple[list[Obj], list[str]]:
    """``rollingUpdate``: (old pods to delete, nodes to start a new pod on).

    Without surge, old pods are deleted while at most maxUnavailable nodes lack an available pod (unavailable old
    pods are always replaced) and the main loop creates their successors. With surge, a new pod is started beside
    an old one on up to maxSurge nodes and the old one deleted once the new one is available.
    """
    surge, max_unavailable, desired = desired_counts(ds, nodes, node_pods)
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    generation = template_generation(ds)
    by_name = {name_of(n): n for n in nodes}

    def available(p: Obj) -> bool:
        return is_pod_available(p, min_ready, now)

    if surge == 0:
        unavailable = 0
        replace: list[Obj] = []
        candidates: list[Obj] = []
        for node_name in sorted(node_pods):
            new, old, ok = updated_pods_on_node(node_pods[node_name], hash_, generation)
            if not ok or (new is None) == (old is None):
                unavailable += 1
            elif new is not None:
                unavailable += not available(new)
            elif old is not None and not available(old):
                replace.append(old)
                unavailable += 1
            elif old is not None and unavailable < max_unavailable:
                candidates.append(old)
        room = min(max(0, max_unavailable - unavailable), len(candidates))
        return replace + candidates[:room], []
    delete: list[Obj] = []
    stranded: list[Obj] = []
    allowed: list[str] = []
    wanted: list[str] = []
    surged = available_count = 0
    for node_name in sorted(node_pods):
        new, old, ok = updated_pods_on_node(node_pods[node_name], hash_, generation)
        if not ok:
            surged += 1
            continue
        if (old is not None and available(old)) or (old is None and new is not None and available(new)):
            available_count += 1
        if old is None:
            continue
        node = by_name.get(node_name)
        runs_here = node is not None and should_run(node, ds)[0]
        if new is None:
            if not available(old):
                if not runs_here:
                    delete.append(old)
                else:
                    allowed.append(node_name)
            elif not runs_here:
                stranded.append(old)
            elif surged < surge:
                wanted.append(node_name)
        elif not available(new):
            surged += 1
        else:
            delete.append(old)
    deletable = min(max(0, available_count - desired), len(stranded))
    delete += stranded[:deletable]
    room = min(max(0, surge - surged), len(wanted))
    return delete, allowed + wanted[:room]
