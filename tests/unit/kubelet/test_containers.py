"""Which containers to start, in what order (upstream computePodActions), and event message formats."""

from __future__ import annotations

import datetime

import pytest

from pybernetes.kubelet.containers import plan_starts, pull_duration, should_restart
from pybernetes.kubelet.runtime.interface import ContainerState, ContainerStatus

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def h(name: str, state: str, code: int | None = None, attempt: int = 0) -> ContainerStatus:
    return ContainerStatus(id=f"{name}{attempt}", name=name, attempt=attempt, state=ContainerState(state), image="i",
                           image_ref="r", created_at=T0, exit_code=code)


def spec(restart: str = "Always", inits: tuple[dict, ...] = (), containers: tuple[str, ...] = ("a", "b")) -> dict:
    return {"restartPolicy": restart, "initContainers": list(inits),
            "containers": [{"name": n} for n in containers]}


def names(plan: list) -> list[tuple[str, bool, bool]]:
    return [(s.container["name"], s.init, s.previous is not None) for s in plan]


@pytest.mark.parametrize(("sp", "history", "carried", "expected"), [
    # nothing yet: regular containers all at once
    (spec(), {}, {}, [("a", False, False), ("b", False, False)]),
    # init containers one at a time, regular ones only after
    (spec(inits=({"name": "i1"}, {"name": "i2"})), {}, {}, [("i1", True, False)]),
    (spec(inits=({"name": "i1"}, {"name": "i2"})), {"i1": [h("i1", "RUNNING")]}, {}, []),
    (spec(inits=({"name": "i1"}, {"name": "i2"})), {"i1": [h("i1", "EXITED", 0)]}, {}, [("i2", True, False)]),
    (spec(inits=({"name": "i1"},)), {"i1": [h("i1", "EXITED", 0)]}, {}, [("a", False, False), ("b", False, False)]),
    # a failed init container restarts (Always/OnFailure) or blocks the pod (Never)
    (spec(inits=({"name": "i1"},)), {"i1": [h("i1", "EXITED", 1)]}, {}, [("i1", True, True)]),
    (spec("Never", inits=({"name": "i1"},)), {"i1": [h("i1", "EXITED", 1)]}, {}, []),
    # a sidecar only has to have started; it is restarted whatever the pod's policy
    (spec(inits=({"name": "s", "restartPolicy": "Always"}, {"name": "i"})), {}, {},
     [("s", True, False), ("i", True, False)]),
    (spec("Never", inits=({"name": "s", "restartPolicy": "Always"},)), {"s": [h("s", "EXITED", 0)]}, {},
     [("s", True, True), ("a", False, False), ("b", False, False)]),
    # restarts by policy
    (spec("Always"), {"a": [h("a", "EXITED", 0)], "b": [h("b", "RUNNING")]}, {}, [("a", False, True)]),
    (spec("OnFailure"), {"a": [h("a", "EXITED", 0)], "b": [h("b", "EXITED", 2)]}, {}, [("b", False, True)]),
    (spec("Never"), {"a": [h("a", "EXITED", 1)], "b": [h("b", "EXITED", 0)]}, {}, []),
    # carried (finished before the runtime forgot them): never run again
    (spec("Never", inits=({"name": "i1"},)), {}, {"i1": {}, "a": {}}, [("b", False, False)]),
])
def test_plan(sp: dict, history: dict, carried: dict, expected: list) -> None:
    assert names(plan_starts(sp, history, carried)) == expected


@pytest.mark.parametrize(("policy", "code", "restart"), [
    ("Always", 0, True), ("Always", 1, True), ("OnFailure", 0, False), ("OnFailure", 1, True),
    ("Never", 1, False), ("Never", 0, False)])
def test_should_restart(policy: str, code: int, restart: bool) -> None:
    assert should_restart(policy, code) is restart


@pytest.mark.parametrize(("seconds", "text"), [(0.0004, "0s"), (0.797, "797ms"), (1.256, "1.256s"),
                                               (24.7131, "24.713s"), (2.0, "2s"), (64.5, "1m4.5s")])
def test_pull_duration(seconds: float, text: str) -> None:
    assert pull_duration(seconds) == text
