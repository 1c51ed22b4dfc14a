"""The API status of a pod, computed from what the runtime reports (upstream ``generateAPIPodStatus``,
``convertToAPIContainerStatuses``, ``getPhase`` and ``pkg/kubelet/status/generate.go``).

Pure functions: the pod worker gathers the facts (container history per name, sandbox, IPs, waiting reasons from
the last sync), these turn them into ``status``. Upstream's rules kept here:

- conditions owned by the kubelet come after every other condition, in upstream's order:
  PodReadyToStartContainers, Initialized, Ready, ContainersReady, PodScheduled; a condition's
  ``lastTransitionTime`` moves only when its status changes;
- the phase never leaves Succeeded/Failed once the API or the previous status holds it, and keeps its
  reason/message while unchanged;
- a container with no runtime record is waiting (``ContainerCreating``, or ``PodInitializing`` when the pod has
  init containers) unless it was *carried*: its last API state was terminated and the restart policy would not
  run it again (an agent restarted and its runtime forgot the container).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pybernetes.api.meta import format_rfc3339
from pybernetes.kubelet.runtime.interface import ContainerState, ContainerStatus

Obj = dict[str, Any]
TERMINAL = frozenset({"Succeeded", "Failed"})
KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
_KUBELET_CONDITION_SET = frozenset(KUBELET_CONDITIONS)
Readiness = Callable[[str, str], tuple[bool, bool]]
"""(container name, container id) → (started, ready) from the probes; without it running containers are ready."""


def ts(dt: datetime.datetime | None) -> str | None:
    return format_rfc3339(dt) if dt is not None else None


def is_sidecar(container: Obj) -> bool:
    """A restartable init container (``restartPolicy: Always`` on an init container)."""
    return container.get("restartPolicy") == "Always"


def format_pod(pod: Obj) -> str:
    """Upstream ``format.Pod``: ``name_namespace(uid)``."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace', '')}({meta.get('uid', '')})"


def go_list(names: Sequence[str]) -> str:
    """How Go's ``%s`` prints a []string: ``[a b]``."""
    return "[" + " ".join(names) + "]"


def _terminated(cs: ContainerStatus, runtime_name: str) -> Obj:
    t: Obj = {"exitCode": cs.exit_code if cs.exit_code is not None else 0, "reason": cs.reason or "Error",
              "startedAt": ts(cs.started_at), "finishedAt": ts(cs.finished_at),
              "containerID": f"{runtime_name}://{cs.id}"}
    if cs.message:
        t["message"] = cs.message
    return t


def _volume_mounts(container: Obj) -> list[Obj]:
    out = []
    for m in container.get("volumeMounts") or ():
        vm: Obj = {"name": m.get("name", ""), "mountPath": m.get("mountPath", "")}
        if m.get("readOnly"):
            vm["readOnly"] = True
            vm["recursiveReadOnly"] = "Enabled" if m.get("recursiveReadOnly") == "Enabled" else "Disabled"
        out.append(vm)
    return out


def container_status(container: Obj, history: Sequence[ContainerStatus], *, runtime_name: str, old: Obj | None,
                     waiting: tuple[str, str] | None, carried: Obj | None, default_reason: str, init: bool,
                     terminal: bool, readiness: Readiness | None = None) -> Obj:
    """One ``containerStatuses`` entry. ``history`` is the runtime's records for this name, newest first;
    ``waiting`` a (reason, message) the last sync left (CrashLoopBackOff, ErrImagePull, ...)."""
    name = container.get("name", "")
    if not history:
        if carried is not None:
            return carried
        if terminal and old and ("running" in (old.get("state") or {})):
            # upstream: a container the runtime cannot find once the pod is terminal ends as unknown
            return {**old, "ready": False, "started": False, "lastState": old.get("lastState") or {},
                    "state": {"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown",
                                             "message": "The container could not be located when the pod was "
                                                        "terminated"}}}
        w: Obj = {"reason": waiting[0] if waiting else default_reason}
        if waiting and waiting[1]:
            w["message"] = waiting[1]
        return {"name": name, "image": container.get("image", ""), "imageID": "",
                "lastState": (old or {}).get("lastState") or {}, "ready": False,
                "restartCount": (old or {}).get("restartCount", 0), "started": False, "state": {"waiting": w}}
    latest = history[0]
    previous = next((h for h in history[1:] if h.state == ContainerState.EXITED), None)
    last: Obj = {"terminated": _terminated(previous, runtime_name)} if previous else {}
    ready = started = False
    if latest.state == ContainerState.RUNNING:
        state: Obj = {"running": {"startedAt": ts(latest.started_at)}}
        started = True
        ready = not terminal and (not init or is_sidecar(container))    # probes always pass in simulation
        if readiness is not None and (not init or is_sidecar(container)):
            started, probed_ready = readiness(name, latest.id)             # the prober's view (real nodes)
            ready = ready and started and probed_ready
    elif latest.state == ContainerState.EXITED:
        term = _terminated(latest, runtime_name)
        if waiting:
            w = {"reason": waiting[0]}
            if waiting[1]:
                w["message"] = waiting[1]
            state, last = {"waiting": w}, {"terminated": term}
        else:
            state = {"terminated": term}
            ready = init and not is_sidecar(container) and term["exitCode"] == 0
    else:
        w = {"reason": waiting[0] if waiting else "ContainerCreating"}
        if waiting and waiting[1]:
            w["message"] = waiting[1]
        state = {"waiting": w}
    st: Obj = {"containerID": f"{runtime_name}://{latest.id}", "image": latest.image, "imageID": latest.image_ref,
               "lastState": last, "name": name, "ready": ready, "restartCount": latest.attempt,
               "started": started, "state": state}
    mounts = _volume_mounts(container)
    if mounts:
        st["volumeMounts"] = mounts
    return st


# ---------------------------------------------------------------------------------------------------- phase

def _has_regular_started(statuses: Mapping[str, Obj], containers: Sequence[Obj]) -> bool:
    for c in containers:
        s = statuses.get(c.get("name", ""))
        if s is None:
            continue
        state = s.get("state") or {}
        if "running" in state or "terminated" in state or (s.get("lastState") or {}).get("terminated"):
            return True
    return False


def get_phase(spec: Obj, statuses: Mapping[str, Obj], *, terminal: bool) -> str:
    """Upstream ``getPhase``: the pod phase from its container statuses (by name)."""
    inits = spec.get("initContainers") or ()
    containers = spec.get("containers") or ()
    restart = spec.get("restartPolicy") or "Always"
    pending_init = failed_init = 0
    unknown = running = waiting = stopped = succeeded = 0
    for c in inits:
        s = statuses.get(c.get("name", ""))
        sidecar = is_sidecar(c)
        state = (s or {}).get("state") or {}
        last_term = ((s or {}).get("lastState") or {}).get("terminated")
        if sidecar:
            if s is None:
                unknown += 1
            elif "running" in state:
                if not s.get("started"):
                    pending_init += 1
                running += 1
            elif "terminated" in state:
                pass
            elif "waiting" in state and not last_term:
                pending_init += 1
                waiting += 1
            elif "waiting" not in state:
                pending_init += 1
                unknown += 1
            continue
        if s is None or "running" in state:
            pending_init += 1
        elif "terminated" in state:
            if state["terminated"].get("exitCode", 0) != 0:
                failed_init += 1
        elif "waiting" in state:
            if last_term:
                if last_term.get("exitCode", 0) != 0:
                    failed_init += 1
            else:
                pending_init += 1
        else:
            pending_init += 1
    for c in containers:
        s = statuses.get(c.get("name", ""))
        if s is None:
            unknown += 1
            continue
        state = s.get("state") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            if state["terminated"].get("exitCode", 0) == 0:
                succeeded += 1
        elif "waiting" in state:
            if (s.get("lastState") or {}).get("terminated"):
                stopped += 1
            else:
                waiting += 1
        else:
            unknown += 1
    if failed_init and restart == "Never":
        return "Failed"
    if (pending_init and not _has_regular_started(statuses, containers)) or waiting:
        return "Pending"
    if running and not unknown:
        return "Running"
    if not running and stopped and not unknown:
        if terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if restart == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if restart == "Never":
            return "Failed"
        return "Running"
    return "Pending"


# ---------------------------------------------------------------------------------------------------- conditions

def _initialized(spec: Obj, statuses: Mapping[str, Obj], phase: str) -> tuple[str, str, str]:
    inits = spec.get("initContainers") or ()
    unknown, incomplete = [], []
    for c in inits:
        s = statuses.get(c.get("name", ""))
        if s is None:
            unknown.append(c.get("name", ""))
        elif not (s.get("started") if is_sidecar(c) else s.get("ready")):
            incomplete.append(c.get("name", ""))
    if phase == "Succeeded" and not unknown:
        return "True", "PodCompleted", ""
    if _has_regular_started(statuses, spec.get("containers") or ()):
        return "True", "", ""
    msgs = []
    if unknown:
        msgs.append(f"containers with unknown status: {go_list(unknown)}")
    if incomplete:
        msgs.append(f"containers with incomplete status: {go_list(incomplete)}")
    if msgs:
        return "False", "ContainersNotInitialized", ", ".join(msgs)
    return "True", "", ""


def _containers_ready(spec: Obj, statuses: Mapping[str, Obj], phase: str) -> tuple[str, str, str]:
    unknown, unready = [], []
    for c in [*(c for c in spec.get("initContainers") or () if is_sidecar(c)), *(spec.get("containers") or ())]:
        s = statuses.get(c.get("name", ""))
        if s is None:
            unknown.append(c.get("name", ""))
        elif not s.get("ready"):
            unready.append(c.get("name", ""))
    if phase == "Succeeded" and not unknown:
        return "False", "PodCompleted", ""
    if phase == "Failed":
        return "False", "PodFailed", ""
    msgs = []
    if unknown:
        msgs.append(f"containers with unknown status: {go_list(unknown)}")
    if unready:
        msgs.append(f"containers with unready status: {go_list(unready)}")
    if msgs:
        return "False", "ContainersNotReady", ", ".join(msgs)
    return "True", "", ""


def _ready(spec: Obj, conditions: Sequence[Obj], containers_ready: tuple[str, str, str]) -> tuple[str, str, str]:
    if containers_ready[0] != "True":
        return containers_ready
    msgs = []
    by_type = {c.get("type"): c for c in conditions}
    for gate in spec.get("readinessGates") or ():
        ctype = gate.get("conditionType", "")
        c = by_type.get(ctype)
        if c is None:
            msgs.append(f'corresponding condition of pod readiness gate "{ctype}" does not exist.')
        elif c.get("status") != "True":
            msgs.append(f'the status of pod readiness gate "{ctype}" is not "True", but {c.get("status")}')
    if msgs:
        return "False", "ReadinessGatesNotReady", ", ".join(msgs)
    return "True", "", ""


def _condition(ctype: str, value: tuple[str, str, str], old: Mapping[str, Obj], now: str) -> Obj:
    status, reason, message = value
    prev = old.get(ctype)
    keep = prev is not None and prev.get("status") == status and prev.get("lastTransitionTime")
    c: Obj = {"type": ctype, "status": status, "lastProbeTime": None,
              "lastTransitionTime": prev["lastTransitionTime"] if keep and prev else now}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


# ---------------------------------------------------------------------------------------------------- the status

def generate_pod_status(pod: Obj, *, history: Mapping[str, Sequence[ContainerStatus]], runtime_name: str,
                        sandbox_ready: bool, pod_ips: Sequence[str], host_ips: Sequence[str], old: Obj,
                        waiting: Mapping[str, tuple[str, str]], carried: Mapping[str, Obj], terminal: bool,
                        now: str, readiness: Readiness | None = None) -> Obj:
    """The pod's new ``status``. ``old`` is the last status the kubelet computed (or the API's);
    ``terminal`` says every container has been stopped for good (deletion or a terminal phase)."""
    spec = pod.get("spec") or {}
    api_status = pod.get("status") or {}
    inits = spec.get("initContainers") or ()
    old_cs = {s.get("name"): s for s in (*(old.get("initContainerStatuses") or ()),
                                         *(old.get("containerStatuses") or ()))}
    default_reason = "PodInitializing" if inits else "ContainerCreating"

    def convert(c: Obj, init: bool) -> Obj:
        name = c.get("name", "")
        return container_status(c, history.get(name, ()), runtime_name=runtime_name, old=old_cs.get(name),
                                waiting=waiting.get(name), carried=carried.get(name), default_reason=default_reason,
                                init=init, terminal=terminal, readiness=readiness)

    init_statuses = [convert(c, True) for c in inits]
    statuses = [convert(c, False) for c in spec.get("containers") or ()]
    by_name = {s["name"]: s for s in (*init_statuses, *statuses)}
    phase = get_phase(spec, by_name, terminal=terminal)
    old_phase, api_phase = old.get("phase"), api_status.get("phase")
    if phase not in TERMINAL:
        if old_phase in TERMINAL:
            phase = old_phase
        elif api_phase in TERMINAL:
            phase = api_phase
    if api_phase in TERMINAL and phase != api_phase:
        phase = api_phase

    status: Obj = {"phase": phase}
    if phase == old_phase:
        for key in ("reason", "message"):
            v = old.get(key) or api_status.get(key)
            if v:
                status[key] = v
    old_conds = {c.get("type"): c for c in (*(api_status.get("conditions") or ()), *(old.get("conditions") or ()))}
    conditions = [c for c in api_status.get("conditions") or () if c.get("type") not in _KUBELET_CONDITION_SET]
    containers_ready = _containers_ready(spec, by_name, phase)
    conditions.append(_condition("PodReadyToStartContainers", ("True" if sandbox_ready else "False", "", ""),
                                 old_conds, now))
    conditions.append(_condition("Initialized", _initialized(spec, by_name, phase), old_conds, now))
    conditions.append(_condition("Ready", _ready(spec, conditions, containers_ready), old_conds, now))
    conditions.append(_condition("ContainersReady", containers_ready, old_conds, now))
    conditions.append(_condition("PodScheduled", ("True", "", ""), old_conds, now))
    status["conditions"] = conditions
    if host_ips:
        status["hostIP"] = host_ips[0]
        status["hostIPs"] = [{"ip": ip} for ip in host_ips]
    ips = list(pod_ips) or [x.get("ip", "") for x in old.get("podIPs") or () if x.get("ip")]
    if ips:
        status["podIP"] = ips[0]
        status["podIPs"] = [{"ip": ip} for ip in ips]
    status["startTime"] = old.get("startTime") or api_status.get("startTime") or now
    if inits:
        status["initContainerStatuses"] = init_statuses
    status["containerStatuses"] = statuses
    qos = api_status.get("qosClass") or old.get("qosClass")
    if qos:
        status["qosClass"] = qos
    return status


MERGE_KEYS = {"conditions": "type", "podIPs": "ip", "hostIPs": "ip"}
"""PodStatus lists that strategic merge patch merges by a key (the rest are replaced whole)."""


def _element_patch(old: Obj | None, new: Obj) -> Obj:
    item = {k: v for k, v in new.items() if v is not None}
    for k, v in (old or {}).items():
        if v is not None and new.get(k) is None:
            item[k] = None
    return item


def status_patch(old: Obj, new: Obj) -> Obj:
    """The strategic-merge patch of ``status`` that turns ``old`` into ``new`` (upstream computes the same with
    ``CreateTwoWayMergePatch``): changed fields; removed ones as null; keyed lists (conditions, podIPs, hostIPs)
    as their changed elements — with fields an element lost set to null, since the server merges elements — plus
    ``$setElementOrder`` so the merged list keeps ``new``'s order. Null values in ``new`` are not sent (they would
    delete, and the API has nothing to delete)."""
    patch: Obj = {}
    for k, v in new.items():
        ov = old.get(k)
        if ov == v:
            continue
        key = MERGE_KEYS.get(k)
        if key is None or not isinstance(v, list) or not isinstance(ov, list):
            if v is not None:
                patch[k] = v
            elif ov is not None:
                patch[k] = None
            continue
        olds = {e.get(key): e for e in ov if isinstance(e, dict)}
        news = {e.get(key) for e in v}
        items = [_element_patch(olds.get(e.get(key)), e) for e in v if olds.get(e.get(key)) != e]
        items.extend({key: gone, "$patch": "delete"} for gone in olds if gone not in news)
        if items:
            patch[k] = items
        patch[f"$setElementOrder/{k}"] = [{key: e.get(key)} for e in v]
    for k in old:
        if k not in new:
            patch[k] = None
    return patch
