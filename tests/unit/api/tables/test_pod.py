"""The Pod table: READY, STATUS, RESTARTS cells by upstream printPod's rules, wide columns, row conditions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pybernetes.api.tables.pod import COLUMNS, pod_cells, pod_conditions

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
CREATED = "2025-03-01T11:55:00Z"              # 5m before NOW
TWO_MIN_AGO = "2025-03-01T11:58:00Z"
HOUR_AGO = "2025-03-01T11:00:00Z"

RUNNING = {"running": {"startedAt": CREATED}}
READY = {"type": "Ready", "status": "True"}
INITIALIZED = {"type": "Initialized", "status": "True"}


def pod(*, containers: int = 1, init: list[dict[str, Any]] | None = None, statuses: list[dict[str, Any]] | None = None,
        init_statuses: list[dict[str, Any]] | None = None, phase: str | None = "Running",
        conditions: list[dict[str, Any]] | None = None, deleting: bool = False, reason: str | None = None,
        **spec: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "nginx", "namespace": "default", "creationTimestamp": CREATED},
        "spec": {"containers": [{"name": f"c{i}", "image": "nginx"} for i in range(containers)], **spec},
        "status": {},
    }
    if init is not None:
        p["spec"]["initContainers"] = init
    st = p["status"]
    if phase is not None:
        st["phase"] = phase
    if reason is not None:
        st["reason"] = reason
    if conditions is not None:
        st["conditions"] = conditions
    if statuses is not None:
        st["containerStatuses"] = statuses
    if init_statuses is not None:
        st["initContainerStatuses"] = init_statuses
    if deleting:
        p["metadata"]["deletionTimestamp"] = "2025-03-01T11:59:00Z"
    return p


def cs(name: str = "c0", *, ready: bool = False, restarts: int = 0, state: dict[str, Any] | None = None,
       last_finished: str | None = None, started: bool | None = None) -> dict[str, Any]:
    s: dict[str, Any] = {"name": name, "image": "nginx", "imageID": "", "ready": ready, "restartCount": restarts,
                         "state": state if state is not None else {"waiting": {"reason": "ContainerCreating"}}}
    if last_finished is not None:
        s["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": last_finished}}
    if started is not None:
        s["started"] = started
    return s


def waiting(reason: str) -> dict[str, Any]:
    return {"waiting": {"reason": reason, "message": "..."}}


def terminated(code: int = 0, reason: str | None = None, signal: int | None = None) -> dict[str, Any]:
    t: dict[str, Any] = {"exitCode": code, "startedAt": CREATED, "finishedAt": TWO_MIN_AGO}
    if reason:
        t["reason"] = reason
    if signal:
        t["signal"] = signal
    return {"terminated": t}


SIDECAR = {"name": "log", "image": "busybox", "restartPolicy": "Always"}
INIT = {"name": "setup", "image": "busybox"}

CASES = [
    ("running and ready", pod(statuses=[cs(ready=True, state=RUNNING)], conditions=[READY]),
     ["1/1", "Running", "0"]),
    ("crash loop, 3 restarts 2 minutes ago",
     pod(statuses=[cs(restarts=3, state=waiting("CrashLoopBackOff"), last_finished=TWO_MIN_AGO)]),
     ["0/1", "CrashLoopBackOff", "3 (2m ago)"]),
    ("restarts without a last termination time", pod(statuses=[cs(ready=True, restarts=2, state=RUNNING)]),
     ["1/1", "Running", "2"]),
    ("pending, nothing reported yet", pod(phase="Pending"), ["0/1", "Pending", "0"]),
    ("no status at all", pod(phase=None), ["0/1", "", "0"]),
    ("image pull error", pod(phase="Pending", statuses=[cs(state=waiting("ErrImagePull"))]),
     ["0/1", "ErrImagePull", "0"]),
    ("first container's reason wins", pod(containers=2, phase="Pending",
                                          statuses=[cs("c0", state=waiting("ImagePullBackOff")),
                                                    cs("c1", state=waiting("ContainerCreating"))]),
     ["0/2", "ImagePullBackOff", "0"]),
    ("completed", pod(phase="Succeeded", statuses=[cs(state=terminated(0, "Completed"))]),
     ["0/1", "Completed", "0"]),
    ("error", pod(phase="Failed", statuses=[cs(state=terminated(1, "Error"))]), ["0/1", "Error", "0"]),
    ("oom killed after restarts", pod(statuses=[cs(restarts=5, state=terminated(137, "OOMKilled"),
                                                   last_finished=HOUR_AGO)]),
     ["0/1", "OOMKilled", "5 (60m ago)"]),
    ("killed by a signal", pod(statuses=[cs(state=terminated(137, signal=9))]), ["0/1", "Signal:9", "0"]),
    ("exit code without reason", pod(statuses=[cs(state=terminated(2))]), ["0/1", "ExitCode:2", "0"]),
    ("exit code zero without reason", pod(statuses=[cs(state=terminated(0))]), ["0/1", "ExitCode:0", "0"]),
    ("evicted", pod(phase="Failed", reason="Evicted", statuses=[cs(state=terminated(137, "ContainerStatusUnknown"))]),
     ["0/1", "ContainerStatusUnknown", "0"]),
    ("evicted before containers report", pod(phase="Failed", reason="Evicted"), ["0/1", "Evicted", "0"]),
    ("completed but another container runs, pod ready",
     pod(containers=2, statuses=[cs("c0", state=terminated(0, "Completed")), cs("c1", ready=True, state=RUNNING)],
         conditions=[READY]),
     ["1/2", "Running", "0"]),
    ("completed but another container runs, not ready",
     pod(containers=2, statuses=[cs("c0", state=terminated(0, "Completed")), cs("c1", ready=True, state=RUNNING)],
         conditions=[{"type": "Ready", "status": "False"}]),
     ["1/2", "NotReady", "0"]),
    ("terminating", pod(statuses=[cs(ready=True, state=RUNNING)], deleting=True), ["1/1", "Terminating", "0"]),
    ("terminating is not shown for a finished pod",
     pod(phase="Succeeded", statuses=[cs(state=terminated(0, "Completed"))], deleting=True),
     ["0/1", "Completed", "0"]),
    ("node lost", pod(reason="NodeLost", statuses=[cs(ready=True, state=RUNNING)], deleting=True),
     ["1/1", "Unknown", "0"]),
    ("node lost without deletion is just the reason", pod(reason="NodeLost"), ["0/1", "NodeLost", "0"]),
    ("scheduling gated", pod(phase="Pending", conditions=[{"type": "PodScheduled", "status": "False",
                                                           "reason": "SchedulingGated"}]),
     ["0/1", "SchedulingGated", "0"]),
    ("unschedulable stays Pending", pod(phase="Pending", conditions=[{"type": "PodScheduled", "status": "False",
                                                                      "reason": "Unschedulable"}]),
     ["0/1", "Pending", "0"]),
    ("init container running", pod(phase="Pending", init=[INIT, {**INIT, "name": "two"}],
                                    init_statuses=[cs("setup", state=RUNNING), cs("two")],
                                    statuses=[cs(state=waiting("PodInitializing"))]),
     ["0/1", "Init:0/2", "0"]),
    ("second init container", pod(phase="Pending", init=[INIT, {**INIT, "name": "two"}],
                                  init_statuses=[cs("setup", state=terminated(0, "Completed")),
                                                 cs("two", state=RUNNING)]),
     ["0/1", "Init:1/2", "0"]),
    ("init container crash loop", pod(phase="Pending", init=[INIT],
                                      init_statuses=[cs("setup", restarts=4, state=waiting("CrashLoopBackOff"),
                                                        last_finished=TWO_MIN_AGO)],
                                      statuses=[cs(state=waiting("PodInitializing"), restarts=1)]),
     ["0/1", "Init:CrashLoopBackOff", "4 (2m ago)"]),
    ("init container waiting for PodInitializing counts as Init:i/n",
     pod(phase="Pending", init=[INIT], init_statuses=[cs("setup", state=waiting("PodInitializing"))]),
     ["0/1", "Init:0/1", "0"]),
    ("init container failed with a reason", pod(phase="Pending", init=[INIT],
                                                init_statuses=[cs("setup", state=terminated(1, "Error"))]),
     ["0/1", "Init:Error", "0"]),
    ("init container exit code", pod(phase="Pending", init=[INIT],
                                     init_statuses=[cs("setup", state=terminated(3))]),
     ["0/1", "Init:ExitCode:3", "0"]),
    ("init container signal", pod(phase="Pending", init=[INIT],
                                  init_statuses=[cs("setup", state=terminated(137, signal=9))]),
     ["0/1", "Init:Signal:9", "0"]),
    ("init done, app containers starting", pod(phase="Pending", init=[INIT],
                                               init_statuses=[cs("setup", state=terminated(0, "Completed"))],
                                               statuses=[cs(state=waiting("PodInitializing"))],
                                               conditions=[INITIALIZED]),
     ["0/1", "PodInitializing", "0"]),
    ("sidecar running and ready", pod(init=[SIDECAR],
                                      init_statuses=[cs("log", ready=True, started=True, state=RUNNING,
                                                        restarts=1, last_finished=HOUR_AGO)],
                                      statuses=[cs(ready=True, state=RUNNING, restarts=2,
                                                   last_finished=TWO_MIN_AGO)],
                                      conditions=[INITIALIZED, READY]),
     ["2/2", "Running", "3 (2m ago)"]),
    ("sidecar not started yet blocks initialization", pod(phase="Pending", init=[SIDECAR],
                                                          init_statuses=[cs("log", started=False, state=RUNNING)]),
     ["0/2", "Init:0/1", "0"]),
    ("sidecar started but not ready", pod(init=[SIDECAR, INIT],
                                          init_statuses=[cs("log", started=True, state=RUNNING),
                                                         cs("setup", state=RUNNING)]),
     ["0/2", "Init:1/2", "0"]),
]


@pytest.mark.parametrize(("obj", "want"), [pytest.param(o, w, id=name) for name, o, w in CASES])
def test_status_cells(obj: dict[str, Any], want: list[str]) -> None:
    cells = pod_cells(obj, NOW)
    assert cells[1:4] == want
    assert cells[0] == "nginx" and cells[4] == "5m"


def test_crash_loop_row_is_the_one_kubectl_shows() -> None:
    p = pod(statuses=[cs(restarts=3, state=waiting("CrashLoopBackOff"), last_finished=TWO_MIN_AGO)])
    assert pod_cells(p, NOW)[:5] == ["nginx", "0/1", "CrashLoopBackOff", "3 (2m ago)", "5m"]


def test_wide_cells() -> None:
    p = pod(statuses=[cs(ready=True, state=RUNNING)], nodeName="node-1",
            readinessGates=[{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}],
            conditions=[READY, {"type": "example.com/lb", "status": "True"}, {"type": "example.com/dns",
                                                                               "status": "False"}])
    p["status"]["podIP"] = "10.42.0.5"
    p["status"]["podIPs"] = [{"ip": "10.42.0.5"}, {"ip": "fd00::5"}]
    p["status"]["nominatedNodeName"] = "node-2"
    assert pod_cells(p, NOW)[5:] == ["10.42.0.5", "node-1", "node-2", "1/2"]


def test_wide_cells_unset() -> None:
    p = pod(phase="Pending")
    p["status"]["podIP"] = "10.42.0.9"            # upstream reads podIPs only
    assert pod_cells(p, NOW)[5:] == ["<none>", "<none>", "<none>", "<none>"]


def test_readiness_gate_without_condition() -> None:
    p = pod(readinessGates=[{"conditionType": "x"}])
    assert pod_cells(p, NOW)[8] == "0/1"


def test_row_conditions() -> None:
    assert pod_conditions(pod(phase="Succeeded")) == [{"type": "Completed", "status": "True", "reason": "Succeeded",
                                                      "message": "The pod has completed successfully."}]
    assert pod_conditions(pod(phase="Failed")) == [{"type": "Completed", "status": "True", "reason": "Failed",
                                                   "message": "The pod failed."}]
    assert pod_conditions(pod()) is None
    first = pod_conditions(pod(phase="Failed"))
    assert first is not None
    first[0]["reason"] = "changed"                 # callers may mutate their copy
    assert pod_conditions(pod(phase="Failed")) == [{"type": "Completed", "status": "True", "reason": "Failed",
                                                   "message": "The pod failed."}]


def test_columns() -> None:
    assert [(c["name"], c["type"], c["format"], c["priority"]) for c in COLUMNS] == [
        ("Name", "string", "name", 0), ("Ready", "string", "", 0), ("Status", "string", "", 0),
        ("Restarts", "string", "", 0), ("Age", "string", "", 0), ("IP", "string", "", 1), ("Node", "string", "", 1),
        ("Nominated Node", "string", "", 1), ("Readiness Gates", "string", "", 1)]
    assert COLUMNS[1]["description"] == "The aggregate readiness state of this pod for accepting traffic."
    assert COLUMNS[5]["description"].startswith("podIP address allocated to the pod.")
    assert COLUMNS[0]["description"].startswith("Name must be unique within a namespace.")
