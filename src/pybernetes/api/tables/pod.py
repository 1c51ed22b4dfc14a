"""The Pod table: NAME READY STATUS RESTARTS AGE [IP NODE NOMINATED NODE READINESS GATES].

STATUS is the one cell people read most and the one with the most rules (upstream ``printPod``): it starts as
``status.reason`` or the phase; a SchedulingGated PodScheduled condition overrides it; the first init container
that has not finished decides it while the pod initializes ("Init:0/2", "Init:CrashLoopBackOff",
"Init:ExitCode:1"); after that the *first* app container (the list is walked backwards) with a waiting or
terminated reason wins ("CrashLoopBackOff", "Completed", "OOMKilled", "Signal:9", "ExitCode:1"); a pod that says
"Completed" while a container still runs is "Running" or "NotReady"; finally a deletion timestamp makes it
"Terminating" (or "Unknown" for a pod on a lost node). Restartable init containers (sidecars) count toward READY
and RESTARTS like app containers. RESTARTS adds the age of the latest restart: "3 (2m ago)".

This is the hot path of ``kubectl get pods`` on big clusters, so it reads the dicts directly and parses a
timestamp only when a container has actually restarted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pybernetes.api.tables.age import human_duration, parse_timestamp, since
from pybernetes.api.tables.descriptions import DOCS
from pybernetes.api.tables.printer import AGE, NAME, Obj, Printer, column

__all__ = ["PRINTERS", "pod_cells", "pod_conditions"]

_EMPTY: dict[str, Any] = {}

COLUMNS = (
    NAME,
    column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    column("Status", "string", "The aggregate status of the containers in this pod."),
    column("Restarts", "string", "The number of times the containers in this pod have been restarted and when the "
                                 "last container in this pod has restarted."),
    AGE,
    column("IP", "string", DOCS["core.PodStatus.podIP"], priority=1),
    column("Node", "string", DOCS["core.PodSpec.nodeName"], priority=1),
    column("Nominated Node", "string", DOCS["core.PodStatus.nominatedNodeName"], priority=1),
    column("Readiness Gates", "string", DOCS["core.PodSpec.readinessGates"], priority=1),
)

_SUCCEEDED = [{"type": "Completed", "status": "True", "reason": "Succeeded",
               "message": "The pod has completed successfully."}]
_FAILED = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]


def pod_conditions(pod: Obj) -> list[dict[str, str]] | None:
    """Row conditions: finished pods are marked Completed (clients may hide or grey them)."""
    phase = (pod.get("status") or _EMPTY).get("phase")
    if phase == "Succeeded":
        return [dict(c) for c in _SUCCEEDED]
    if phase == "Failed":
        return [dict(c) for c in _FAILED]
    return None


def _later(current: datetime | None, terminated: dict[str, Any]) -> datetime | None:
    """The later of ``current`` and a termination's ``finishedAt`` (``metav1.Time.Before`` with zero times)."""
    t = parse_timestamp(terminated.get("finishedAt"))
    if t is None:
        return current
    return t if current is None or current < t else current


def _terminated_reason(term: dict[str, Any]) -> str:
    if term.get("reason"):
        return str(term["reason"])
    if term.get("signal"):
        return f"Signal:{term['signal']}"
    return f"ExitCode:{term.get('exitCode') or 0}"


def _condition_true(conditions: Iterable[dict[str, Any]], type_: str) -> bool:
    """Whether the first condition of ``type_`` is True (``isPodInitializedConditionTrue``)."""
    for c in conditions:
        if c.get("type") == type_:
            return c.get("status") == "True"
    return False


def pod_cells(pod: Obj, now: datetime) -> list[Any]:
    meta = pod.get("metadata") or _EMPTY
    spec = pod.get("spec") or _EMPTY
    status = pod.get("status") or _EMPTY
    containers = spec.get("containers") or ()
    init_specs = spec.get("initContainers") or ()
    conditions = status.get("conditions") or ()

    total = len(containers)
    ready = 0
    restarts = 0
    sidecar_restarts = 0
    last_restart: datetime | None = None
    last_sidecar_restart: datetime | None = None
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for c in conditions:
        if c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    sidecars = set()
    for c in init_specs:
        if c.get("restartPolicy") == "Always":
            sidecars.add(c.get("name"))
            total += 1

    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or ()):
        count = cs.get("restartCount") or 0
        restarts += count
        last_term = (cs.get("lastState") or _EMPTY).get("terminated")
        if last_term is not None:
            last_restart = _later(last_restart, last_term)
        is_sidecar = cs.get("name") in sidecars
        if is_sidecar:
            sidecar_restarts += count
            if last_term is not None:
                last_sidecar_restart = _later(last_sidecar_restart, last_term)
        state = cs.get("state") or _EMPTY
        term = state.get("terminated")
        waiting = state.get("waiting")
        if term is not None and not term.get("exitCode"):
            continue
        if is_sidecar and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if term is not None:
            reason = "Init:" + _terminated_reason(term)
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(conditions, "Initialized"):
        restarts = sidecar_restarts
        last_restart = last_sidecar_restart
        has_running = False
        for cs in reversed(status.get("containerStatuses") or ()):
            restarts += cs.get("restartCount") or 0
            last_term = (cs.get("lastState") or _EMPTY).get("terminated")
            if last_term is not None:
                last_restart = _later(last_restart, last_term)
            state = cs.get("state") or _EMPTY
            waiting = state.get("waiting")
            term = state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif term is not None:
                reason = _terminated_reason(term)
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true_any(conditions, "Ready") else "NotReady"

    if meta.get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"

    restarts_cell = str(restarts)
    if restarts and last_restart is not None:
        restarts_cell = f"{restarts} ({human_duration(now - last_restart)} ago)"

    ips = status.get("podIPs") or ()
    pod_ip = (ips[0].get("ip") if ips else "") or "<none>"
    gates = spec.get("readinessGates") or ()
    readiness = "<none>"
    if gates:
        true_count = 0
        for gate in gates:
            for c in conditions:
                if c.get("type") == gate.get("conditionType"):
                    if c.get("status") == "True":
                        true_count += 1
                    break
        readiness = f"{true_count}/{len(gates)}"
    return [meta.get("name", ""), f"{ready}/{total}", reason, restarts_cell,
            since(meta.get("creationTimestamp"), now), pod_ip, spec.get("nodeName") or "<none>",
            status.get("nominatedNodeName") or "<none>", readiness]


def _condition_true_any(conditions: Iterable[dict[str, Any]], type_: str) -> bool:
    """``hasPodReadyCondition``: any condition of ``type_`` that is True."""
    return any(c.get("type") == type_ and c.get("status") == "True" for c in conditions)


PRINTERS = {("", "Pod"): Printer(COLUMNS, pod_cells, conditions=pod_conditions)}
