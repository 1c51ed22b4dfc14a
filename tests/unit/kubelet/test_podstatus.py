"""Pod status from runtime facts: container statuses, phase, conditions, and the status patch."""

from __future__ import annotations

import copy
import datetime

import pytest

from pybernetes.api.patch import strategic
from pybernetes.api.typeinfo import of_kind
from pybernetes.kubelet.podstatus import generate_pod_status, get_phase, status_patch
from pybernetes.kubelet.runtime.interface import ContainerState, ContainerStatus

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
RUN, EXIT, CREATED = ContainerState.RUNNING, ContainerState.EXITED, ContainerState.CREATED


def rec(name: str, state: ContainerState, attempt: int = 0, code: int | None = None) -> ContainerStatus:
    done = state == EXIT
    return ContainerStatus(id=f"{name}{attempt}", name=name, attempt=attempt, state=state,
                           image=f"docker.io/library/{name}:1", image_ref=f"docker.io/library/{name}@sha256:d",
                           created_at=T0, started_at=T0 if state != CREATED else None,
                           finished_at=T0 + datetime.timedelta(seconds=5) if done else None,
                           exit_code=code if done else None,
                           reason=("Completed" if code == 0 else "Error") if done else "")


def pod(*, inits: tuple[str, ...] = (), containers: tuple[str, ...] = ("app",), restart: str = "Always",
        status: dict | None = None, gates: tuple[str, ...] = ()) -> dict:
    spec = {"containers": [{"name": n, "image": f"{n}:1"} for n in containers], "restartPolicy": restart,
            "nodeName": "n"}
    if inits:
        spec["initContainers"] = [{"name": n, "image": f"{n}:1"} for n in inits]
    if gates:
        spec["readinessGates"] = [{"conditionType": g} for g in gates]
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"}, "spec": spec,
            "status": status or {"phase": "Pending", "qosClass": "BestEffort", "conditions": [
                {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                 "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}


def gen(p: dict, history: dict, *, old: dict | None = None, waiting: dict | None = None, terminal: bool = False,
        sandbox: bool = True, now: str = "2026-01-01T00:01:00Z") -> dict:
    return generate_pod_status(p, history=history, runtime_name="sim", sandbox_ready=sandbox,
                               pod_ips=("10.42.0.5",) if sandbox else (), host_ips=("198.18.0.1",),
                               old=old if old is not None else p["status"], waiting=waiting or {}, carried={},
                               terminal=terminal, now=now)


def conds(status: dict) -> list[tuple[str, str, str]]:
    return [(c["type"], c["status"], c.get("reason", "")) for c in status["conditions"]]


def test_running_pod_status_is_complete() -> None:
    p = pod()
    s = gen(p, {"app": [rec("app", RUN)]})
    assert s["phase"] == "Running"
    assert conds(s) == [("PodReadyToStartContainers", "True", ""), ("Initialized", "True", ""),
                        ("Ready", "True", ""), ("ContainersReady", "True", ""), ("PodScheduled", "True", "")]
    assert s["conditions"][-1]["lastTransitionTime"] == "2026-01-01T00:00:00Z"    # kept from the scheduler
    assert s["conditions"][0]["lastTransitionTime"] == "2026-01-01T00:01:00Z"
    assert (s["hostIP"], s["hostIPs"], s["podIP"], s["podIPs"]) == \
        ("198.18.0.1", [{"ip": "198.18.0.1"}], "10.42.0.5", [{"ip": "10.42.0.5"}])
    assert s["startTime"] == "2026-01-01T00:01:00Z" and s["qosClass"] == "BestEffort"
    assert s["containerStatuses"] == [{
        "containerID": "sim://app0", "image": "docker.io/library/app:1", "imageID": "docker.io/library/app@sha256:d",
        "lastState": {}, "name": "app", "ready": True, "restartCount": 0, "started": True,
        "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]
    from kubernetes.client.models import V1PodStatus
    V1PodStatus.model_validate(s)


def test_waiting_before_the_sandbox_exists() -> None:
    s = gen(pod(inits=("init",)), {}, sandbox=False)
    assert s["phase"] == "Pending"
    assert s["initContainerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert s["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert s["containerStatuses"][0]["image"] == "app:1" and s["containerStatuses"][0]["imageID"] == ""
    assert conds(s)[:4] == [("PodReadyToStartContainers", "False", ""),
                            ("Initialized", "False", "ContainersNotInitialized"),
                            ("Ready", "False", "ContainersNotReady"),
                            ("ContainersReady", "False", "ContainersNotReady")]
    assert s["conditions"][1]["message"] == "containers with incomplete status: [init]"
    assert s["conditions"][2]["message"] == "containers with unready status: [app]"
    assert "podIP" not in s
    s2 = gen(pod(), {}, sandbox=False)
    assert s2["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}


def test_completed_init_container_is_ready_and_reported() -> None:
    s = gen(pod(inits=("init",)), {"init": [rec("init", EXIT, code=0)], "app": [rec("app", RUN)]})
    init = s["initContainerStatuses"][0]
    assert init["ready"] is True and init["started"] is False
    assert init["state"]["terminated"]["reason"] == "Completed" and s["phase"] == "Running"


def test_crash_loop_back_off() -> None:
    p = pod()
    hist = {"app": [rec("app", EXIT, attempt=2, code=1), rec("app", EXIT, attempt=1, code=1)]}
    msg = "back-off 20s restarting failed container=app pod=p_ns(u1)"
    s = gen(p, hist, waiting={"app": ("CrashLoopBackOff", msg)})
    cs = s["containerStatuses"][0]
    assert cs["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message": msg}}
    assert cs["lastState"]["terminated"]["exitCode"] == 1 and cs["lastState"]["terminated"]["containerID"] == "sim://app2"
    assert cs["restartCount"] == 2 and cs["ready"] is False
    assert s["phase"] == "Running"        # restartPolicy Always: a crashing container keeps the pod Running


def test_running_after_a_restart_shows_the_last_termination() -> None:
    s = gen(pod(), {"app": [rec("app", RUN, attempt=1), rec("app", EXIT, attempt=0, code=137)]})
    cs = s["containerStatuses"][0]
    assert cs["restartCount"] == 1 and cs["lastState"]["terminated"]["exitCode"] == 137


@pytest.mark.parametrize(("restart", "codes", "terminal", "phase"), [
    ("Never", (0,), False, "Succeeded"),
    ("Never", (1,), False, "Failed"),
    ("Never", (0, 1), False, "Failed"),
    ("OnFailure", (0,), False, "Succeeded"),
    ("OnFailure", (1,), False, "Running"),
    ("Always", (0,), False, "Running"),
    ("Always", (0,), True, "Succeeded"),          # deleted pod whose containers stopped cleanly
    ("Always", (137,), True, "Failed"),
])
def test_phase_from_exits(restart: str, codes: tuple[int, ...], terminal: bool, phase: str) -> None:
    names = tuple(f"c{i}" for i in range(len(codes)))
    p = pod(containers=names, restart=restart)
    statuses = {n: {"name": n, "state": {"terminated": {"exitCode": c}}} for n, c in zip(names, codes, strict=True)}
    assert get_phase(p["spec"], statuses, terminal=terminal) == phase


def test_phase_pending_while_init_runs_and_failed_init_with_never() -> None:
    p = pod(inits=("init",), restart="Never")
    running_init = {"init": {"name": "init", "state": {"running": {}}},
                    "app": {"name": "app", "state": {"waiting": {}}}}
    assert get_phase(p["spec"], running_init, terminal=False) == "Pending"
    failed = {"init": {"name": "init", "state": {"terminated": {"exitCode": 1}}}}
    assert get_phase(p["spec"], failed, terminal=False) == "Failed"


def test_terminal_conditions_and_phase_never_leaves_terminal() -> None:
    p = pod(restart="Never")
    s = gen(p, {"app": [rec("app", EXIT, code=0)]})
    assert s["phase"] == "Succeeded"
    assert [c for c in conds(s) if c[0] in ("Ready", "ContainersReady", "Initialized")] == [
        ("Initialized", "True", "PodCompleted"), ("Ready", "False", "PodCompleted"),
        ("ContainersReady", "False", "PodCompleted")]
    # the runtime forgot the container but the previous status was terminal: stay Succeeded
    again = gen(p, {}, old=s)
    assert again["phase"] == "Succeeded"


def test_readiness_gates() -> None:
    p = pod(gates=("example.com/lb",))
    s = gen(p, {"app": [rec("app", RUN)]})
    ready = next(c for c in s["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "ReadinessGatesNotReady"
    assert ready["message"] == 'corresponding condition of pod readiness gate "example.com/lb" does not exist.'
    p["status"]["conditions"].append({"type": "example.com/lb", "status": "True"})
    s = gen(p, {"app": [rec("app", RUN)]})
    assert conds(s)[0] == ("example.com/lb", "True", "")          # other owners' conditions come first
    assert next(c for c in s["conditions"] if c["type"] == "Ready")["status"] == "True"


def test_transition_time_moves_only_on_change() -> None:
    p = pod()
    s1 = gen(p, {"app": [rec("app", RUN)]}, now="2026-01-01T00:01:00Z")
    s2 = gen(p, {"app": [rec("app", RUN)]}, old=s1, now="2026-01-01T00:02:00Z")
    assert s1["conditions"] == s2["conditions"] and s2["startTime"] == s1["startTime"]
    s3 = gen(p, {"app": [rec("app", EXIT, code=1)]}, old=s2, now="2026-01-01T00:03:00Z")
    ready = next(c for c in s3["conditions"] if c["type"] == "Ready")
    assert ready["lastTransitionTime"] == "2026-01-01T00:03:00Z"


def test_missing_container_of_a_terminated_pod_is_unknown() -> None:
    p = pod()
    running = gen(p, {"app": [rec("app", RUN)]})
    s = gen(p, {}, old=running, terminal=True)
    term = s["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (137, "ContainerStatusUnknown")


def _apply(old: dict, patch: dict) -> dict:
    ti = of_kind("v1", "Pod")
    assert ti is not None
    return strategic.apply({"status": copy.deepcopy(old)}, {"status": copy.deepcopy(patch)}, ti)["status"]


def _no_nulls(v: object) -> object:
    if isinstance(v, dict):
        return {k: _no_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_no_nulls(x) for x in v]
    return v


def test_status_patch_round_trips_through_strategic_merge() -> None:
    p = pod(inits=("init",))
    pending = gen(p, {}, sandbox=False)
    running = gen(p, {"init": [rec("init", EXIT, code=0)], "app": [rec("app", RUN)]}, old=pending)
    patch = status_patch(p["status"], pending)
    assert _no_nulls(_apply(p["status"], patch)) == _no_nulls(pending)
    patch = status_patch(pending, running)
    assert "$setElementOrder/conditions" in patch
    ready = next(c for c in patch["conditions"] if c["type"] == "Ready")
    assert ready["reason"] is None and ready["message"] is None        # fields a condition lost are deleted
    assert _apply(_no_nulls(pending), patch) == _no_nulls(running)
    assert status_patch(running, running) == {}
    assert status_patch({"phase": "Running", "message": "x"}, {"phase": "Running"}) == {"message": None}
