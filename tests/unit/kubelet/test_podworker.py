"""Pod workers driving the simulated runtime with a fake clock: start, init order, crash loops with back-off,
completion, graceful and forced deletion, pull and sandbox failures, adoption after an agent restart."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import pathlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from tests.unit.kubelet.fakes import Events, FakeAPI

from pybernetes.client.clock import FakeClock
from pybernetes.client.resources import PODS
from pybernetes.kubelet.podsetup import PodSetup
from pybernetes.kubelet.podworker import PodWorkers, _significant, carried_statuses, volumes_need_pod_ips
from pybernetes.kubelet.runtime.simulated import SimulatedRuntime
from pybernetes.kubelet.status import StatusManager
from pybernetes.kubelet.volumes.manager import VolumeManager
from pybernetes.kubelet.volumes.tokens import TokenManager

Obj = dict[str, Any]


@dataclass
class Rig:
    clock: FakeClock
    api: FakeAPI
    node: Events
    runtime: SimulatedRuntime
    status: StatusManager
    workers: PodWorkers

    def add(self, pod: Obj) -> Obj:
        stored = self.api.put(PODS, pod)
        self.workers.update(copy.deepcopy(stored))
        return stored

    async def settle(self) -> None:
        """Let every runnable task run (no waiting on tasks: some sleep on the fake clock)."""
        for _ in range(100):
            await asyncio.sleep(0)

    async def advance(self, seconds: float, step: float = 0.1) -> None:
        steps = round(seconds / step)
        for _ in range(steps):
            self.clock.advance(step)
            await self.settle()

    def pod(self, name: str = "p") -> Obj:
        obj = self.api.stored(PODS, name, "ns")
        assert obj is not None, f"pod {name} is gone"
        return obj

    def cs(self, name: str = "p", i: int = 0) -> Obj:
        return self.pod(name)["status"]["containerStatuses"][i]


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    clock = FakeClock()
    api = FakeAPI()
    node = Events()
    runtime = SimulatedRuntime(clock=clock, run_seconds=0.5, stop_delay=0.2)
    status = StatusManager(api, clock=clock, workers=2)   # type: ignore[arg-type]
    workers = PodWorkers(runtime=runtime, status=status, nodes={"node-a": node}, clock=clock)
    task = asyncio.create_task(status.run())
    yield Rig(clock, api, node, runtime, status, workers)
    await workers.stop()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def make_pod(name: str = "p", *, command: list[str] | None = None, image: str = "nginx:1.19.1",
             restart: str = "Always", inits: list[Obj] | None = None, **spec: Any) -> Obj:
    c: Obj = {"name": "c", "image": image, "imagePullPolicy": "IfNotPresent"}
    if command:
        c["command"] = command
    body: Obj = {"containers": [c], "restartPolicy": restart, "nodeName": "node-a",
                 "terminationGracePeriodSeconds": 30, **spec}
    if inits:
        body["initContainers"] = inits
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}"},
            "spec": body, "status": {"phase": "Pending", "qosClass": "BestEffort"}}


async def test_pending_to_running_with_ip_and_events(rig: Rig) -> None:
    rig.add(make_pod())
    await rig.settle()
    st = rig.pod()["status"]
    assert st["phase"] == "Running"
    assert st["podIP"] == "10.42.0.2" and st["hostIP"] == "198.18.0.1"
    assert [c["type"] for c in st["conditions"] if c["status"] == "True"] == [
        "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
    cs = rig.cs()
    assert cs["ready"] and cs["started"] and cs["containerID"].startswith("sim://") and "running" in cs["state"]
    assert rig.node.events == [
        ("Normal", "Pulled", 'Container image "nginx:1.19.1" already present on machine', "spec.containers{c}"),
        ("Normal", "Created", "Created container: c", "spec.containers{c}"),
        ("Normal", "Started", "Started container c", "spec.containers{c}")]
    assert rig.api.count("patch", "pods", "status") == 1       # one write: the sync went straight to Running


async def test_init_containers_run_in_order_first(rig: Rig) -> None:
    inits = [{"name": "i1", "image": "busybox:1.36", "command": ["sleep", "2"]},
             {"name": "i2", "image": "busybox:1.36", "command": ["sleep", "1"]}]
    rig.add(make_pod(inits=inits))
    await rig.settle()
    st = rig.pod()["status"]
    assert st["phase"] == "Pending"
    assert "running" in st["initContainerStatuses"][0]["state"]
    assert st["initContainerStatuses"][1]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    await rig.advance(2.1)
    st = rig.pod()["status"]
    assert st["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert "running" in st["initContainerStatuses"][1]["state"] and st["phase"] == "Pending"
    await rig.advance(1.0)
    st = rig.pod()["status"]
    assert st["phase"] == "Running" and "running" in st["containerStatuses"][0]["state"]
    assert [e[3] for e in rig.node.events if e[1] == "Started"] == [
        "spec.initContainers{i1}", "spec.initContainers{i2}", "spec.containers{c}"]


async def test_crash_loop_back_off_doubles(rig: Rig) -> None:
    rig.add(make_pod(command=["false"]))
    await rig.settle()
    restarts = []
    for _ in range(40):                        # 40 s in 1 s steps
        await rig.advance(1.0)
        cs = rig.cs()
        restarts.append((cs["restartCount"], next(iter(cs["state"]))))
    # exits 0.5 s after each start; restarted at once the first time, then after 10 s, then after 20 s
    assert restarts[0] == (1, "running")
    assert restarts[2] == (1, "waiting")
    assert rig.cs()["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    first_two = next(i for i, r in enumerate(restarts) if r[0] == 2)
    first_three = next(i for i, r in enumerate(restarts) if r[0] == 3)
    assert 10 <= first_two <= 12 and 30 <= first_three <= 33
    cs = rig.cs()
    assert cs["lastState"]["terminated"]["exitCode"] == 1 and cs["lastState"]["terminated"]["reason"] == "Error"
    msg = rig.cs()["state"].get("waiting", {}).get("message", "")
    assert msg in ("", "back-off 20s restarting failed container=c pod=p_ns(uid-p)",
                   "back-off 40s restarting failed container=c pod=p_ns(uid-p)")
    backoffs = [e for e in rig.node.events if e[1] == "BackOff"]
    assert backoffs[0] == ("Warning", "BackOff", "Back-off restarting failed container c in pod p_ns(uid-p)",
                           "spec.containers{c}")
    assert rig.pod()["status"]["phase"] == "Running"
    # only the newest dead container is kept for lastState
    assert rig.runtime.counts()["containers"] <= 2


@pytest.mark.parametrize(("restart", "command", "phase", "reason"), [
    ("Never", ["sh", "-c", "sleep 1; exit 3"], "Failed", "Error"),
    ("Never", ["sleep", "1"], "Succeeded", "Completed"),
    ("OnFailure", ["sleep", "1"], "Succeeded", "Completed"),
])
async def test_run_to_completion(rig: Rig, restart: str, command: list[str], phase: str, reason: str) -> None:
    rig.add(make_pod(command=command, restart=restart))
    await rig.settle()
    assert rig.pod()["status"]["phase"] == "Running"
    await rig.advance(1.2)
    st = rig.pod()["status"]
    assert st["phase"] == phase
    assert st["containerStatuses"][0]["state"]["terminated"]["reason"] == reason
    assert st["podIP"] == "10.42.0.2"               # kept in the status, released in the runtime
    assert rig.runtime.counts() == {"sandboxes": 0, "containers": 0, "ips": 0}
    ready = next(c for c in st["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == ("PodCompleted" if phase == "Succeeded" else "PodFailed")
    await rig.advance(30)
    assert rig.pod()["status"]["phase"] == phase    # and stays there


async def test_graceful_deletion_deletes_with_uid_precondition(rig: Rig) -> None:
    stored = rig.add(make_pod())
    await rig.settle()
    deleting = copy.deepcopy(rig.pod())
    deleting["metadata"].update(deletionTimestamp="2026-01-01T00:00:30Z", deletionGracePeriodSeconds=30)
    rig.workers.update(deleting)
    await rig.settle()
    assert rig.api.stored(PODS, "p", "ns") is not None       # stopping takes the simulated 0.2 s
    assert ("Normal", "Killing", "Stopping container c", "spec.containers{c}") in rig.node.events
    await rig.advance(0.3)
    assert rig.api.stored(PODS, "p", "ns") is None
    assert rig.api.calls[-1] == ("delete", "pods", "p", "")
    assert rig.api.bodies[-1] == {"gracePeriodSeconds": 0, "preconditions": {"uid": stored["metadata"]["uid"]}}
    final = rig.api.bodies[-2]["status"]
    assert final["phase"] == "Succeeded" and final["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    rig.workers.remove(deleting)
    await rig.settle()
    assert rig.workers.records == {} and len(rig.status) == 0
    assert rig.runtime.counts() == {"sandboxes": 0, "containers": 0, "ips": 0}


async def test_short_grace_kills(rig: Rig) -> None:
    rig.runtime.stop_delay = 5.0
    rig.add(make_pod())
    await rig.settle()
    deleting = copy.deepcopy(rig.pod())
    deleting["metadata"].update(deletionTimestamp="2026-01-01T00:00:01Z", deletionGracePeriodSeconds=1)
    rig.workers.update(deleting)
    await rig.advance(2.1)                      # the kubelet's 2 s minimum grace, then SIGKILL
    assert rig.api.stored(PODS, "p", "ns") is None
    final = rig.api.bodies[-2]["status"]
    assert final["phase"] == "Failed" and final["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 137


async def test_force_deleted_pod_is_torn_down(rig: Rig) -> None:
    rig.add(make_pod())
    await rig.settle()
    rig.workers.remove(rig.pod())
    await rig.advance(0.3)
    assert rig.workers.records == {}
    assert rig.runtime.counts() == {"sandboxes": 0, "containers": 0, "ips": 0}


async def test_image_pull_failure_backs_off(rig: Rig) -> None:
    rig.add(make_pod(image="example.com/nonexistent:1"))
    await rig.settle()
    cs = rig.cs()
    assert cs["state"]["waiting"]["reason"] == "ErrImagePull"
    assert cs["image"] == "example.com/nonexistent:1" and cs["imageID"] == ""
    assert [e[1] for e in rig.node.events] == ["Pulling", "Failed", "Failed"]
    assert rig.node.events[2][2] == "Error: ErrImagePull"
    await rig.advance(1.1)
    assert rig.cs()["state"]["waiting"] == {"reason": "ImagePullBackOff",
                                            "message": 'Back-off pulling image "example.com/nonexistent:1"'}
    assert rig.node.events[-1][:2] == ("Normal", "BackOff")
    await rig.advance(5)
    assert rig.node.reasons().count("Pulling") == 1          # nothing retried within the 10 s back-off
    await rig.advance(4)
    assert rig.node.reasons().count("Pulling") == 2
    assert rig.cs()["state"]["waiting"]["reason"] == "ErrImagePull"


async def test_sandbox_failure_is_retried(rig: Rig) -> None:
    rig.node.cidr = ""
    rig.add(make_pod())
    await rig.settle()
    assert rig.node.events[0][1] == "FailedCreatePodSandBox"
    assert rig.pod()["status"]["phase"] == "Pending"
    rig.node.cidr = "10.42.7.0/24"
    await rig.advance(1.1)
    assert rig.pod()["status"]["phase"] == "Running" and rig.pod()["status"]["podIP"] == "10.42.7.2"


async def test_restarted_agent_keeps_finished_init_and_restart_counts(rig: Rig) -> None:
    pod = make_pod(inits=[{"name": "init", "image": "busybox:1.36", "command": ["sleep", "1"]}])
    pod["status"] = {"phase": "Running", "qosClass": "BestEffort", "podIP": "10.42.0.9",
                     "podIPs": [{"ip": "10.42.0.9"}],
                     "initContainerStatuses": [{"name": "init", "image": "b", "imageID": "x", "ready": True,
                                                "restartCount": 0, "state": {"terminated": {"exitCode": 0}}}],
                     "containerStatuses": [{"name": "c", "image": "n", "imageID": "y", "ready": True,
                                            "restartCount": 4, "state": {"running": {}}}]}
    rig.add(pod)
    await rig.settle()
    st = rig.pod()["status"]
    assert st["initContainerStatuses"][0]["state"] == {"terminated": {"exitCode": 0}}     # carried, not re-run
    assert st["containerStatuses"][0]["restartCount"] == 4 and "running" in st["containerStatuses"][0]["state"]
    assert st["podIP"] == "10.42.0.9"                                                     # same IP again
    assert [e[3] for e in rig.node.events if e[1] == "Started"] == ["spec.containers{c}"]


@pytest.mark.parametrize(("change", "significant"), [
    ({"status": {"phase": "Pending", "conditions": [{"type": "Ready"}]}}, False),
    ({"metadata": {"labels": {"a": "b"}}}, False),
    ({"status": {"phase": "Failed"}}, True),
    ({"metadata": {"deletionTimestamp": "t"}}, True),
    ({"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}, True),
])
def test_significant_updates(change: Obj, significant: bool) -> None:
    old = make_pod()
    new = copy.deepcopy(old)
    for k, v in change.items():
        new[k] = {**new.get(k, {}), **v}
    assert _significant(old, new) is significant


def test_carried_statuses_follow_restart_policy() -> None:
    def st(name: str, code: int) -> Obj:
        return {"name": name, "restartCount": 2, "state": {"terminated": {"exitCode": code}}}
    for restart, carried in (("Always", {"i"}), ("OnFailure", {"i", "ok"}), ("Never", {"i", "ok", "bad"})):
        pod = make_pod(restart=restart)
        pod["status"] = {"initContainerStatuses": [st("i", 0)], "containerStatuses": [st("ok", 0), st("bad", 1)]}
        got, attempts = carried_statuses(pod)
        assert set(got) == carried and attempts == {"i": 2, "ok": 2, "bad": 2}


async def test_host_network_pod_reports_the_node_ip(rig: Rig) -> None:
    rig.node.cidr = ""                              # needs no pod CIDR either
    rig.add(make_pod(hostNetwork=True))
    await rig.settle()
    st = rig.pod()["status"]
    assert st["phase"] == "Running" and st["podIP"] == st["hostIP"] == "198.18.0.1"
    assert rig.runtime.counts()["ips"] == 0


# ---------------------------------------------------------------------------------------------- as a real node runs
@pytest.fixture
async def keeping(rig: Rig) -> AsyncIterator[Rig]:
    """The rig's runtime and API with pod workers that keep a finished pod's stopped sandbox, as a real node's."""
    workers = PodWorkers(runtime=rig.runtime, status=rig.status, nodes={"node-a": rig.node}, clock=rig.clock,
                         keep_finished=True)
    yield dataclasses.replace(rig, workers=workers)
    await workers.stop()


async def test_a_finished_pod_keeps_its_stopped_sandbox_until_deleted(keeping: Rig) -> None:
    rig = keeping
    rig.add(make_pod(command=["sleep", "1"], restart="Never"))
    await rig.settle()
    await rig.advance(1.2)
    st = rig.pod()["status"]
    assert st["phase"] == "Succeeded" and st["podIP"] == "10.42.0.2"
    # stopped, its IP released; the exited container (and so its log) is still there for `kubectl logs`
    assert rig.runtime.counts() == {"sandboxes": 1, "containers": 1, "ips": 0}
    assert [sb.ready for sb in await rig.runtime.list_pod_sandboxes()] == [False]
    cid = st["containerStatuses"][0]["containerID"].removeprefix("sim://")
    kept = await rig.runtime.container_status(cid)
    assert kept is not None and kept.exit_code == 0
    await rig.advance(30)
    assert rig.runtime.counts()["containers"] == 1 and rig.pod()["status"]["phase"] == "Succeeded"

    deleting = copy.deepcopy(rig.pod())
    deleting["metadata"].update(deletionTimestamp="2026-01-01T00:00:30Z", deletionGracePeriodSeconds=30)
    rig.workers.update(deleting)
    await rig.settle()
    assert rig.api.stored(PODS, "p", "ns") is None          # already terminated: deleted without waiting
    rig.workers.remove(deleting)
    await rig.settle()
    assert rig.workers.records == {}
    assert rig.runtime.counts() == {"sandboxes": 0, "containers": 0, "ips": 0}


async def test_a_deleted_running_pod_is_removed_at_once(keeping: Rig) -> None:
    rig = keeping
    rig.add(make_pod())
    await rig.settle()
    deleting = copy.deepcopy(rig.pod())
    deleting["metadata"].update(deletionTimestamp="2026-01-01T00:00:30Z", deletionGracePeriodSeconds=30)
    rig.workers.update(deleting)
    await rig.advance(0.3)
    assert rig.api.stored(PODS, "p", "ns") is None
    assert rig.runtime.counts() == {"sandboxes": 0, "containers": 0, "ips": 0}


async def test_a_restarted_agent_adopts_a_finished_pods_stopped_sandbox(keeping: Rig) -> None:
    rig = keeping
    rig.add(make_pod(command=["sh", "-c", "sleep 1; exit 3"], restart="Never"))
    await rig.settle()
    await rig.advance(1.2)
    before = rig.pod()["status"]
    assert before["phase"] == "Failed"
    await rig.workers.stop()
    again = PodWorkers(runtime=rig.runtime, status=rig.status, nodes={"node-a": rig.node}, clock=rig.clock,
                       keep_finished=True)
    try:
        await again.adopt()
        again.update(copy.deepcopy(rig.pod()))
        await rig.settle()
        await again.remove_orphans()
        after = rig.pod()["status"]
        assert after["phase"] == "Failed"
        assert after["containerStatuses"][0]["containerID"] == before["containerStatuses"][0]["containerID"]
        assert after["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3
        assert rig.runtime.counts() == {"sandboxes": 1, "containers": 1, "ips": 0}
        assert rig.node.reasons().count("Started") == 1
    finally:
        await again.stop()


@pytest.fixture
async def with_setup(rig: Rig, tmp_path: pathlib.Path) -> AsyncIterator[Rig]:
    """Pod workers with a real node's PodSetup (volumes under ``tmp_path/pods``, not tmpfs)."""
    from tests.unit.kubelet.test_podsetup import Objects
    objects = Objects(rig.clock)
    volumes = VolumeManager(root=tmp_path / "pods", api=objects,  # type: ignore[arg-type]
                            tokens=TokenManager(objects.request_token, clock=rig.clock), tmpfs=False)
    setup = PodSetup(runtime=rig.runtime, objects=objects, volumes=volumes, clock=rig.clock,  # type: ignore[arg-type]
                     event=lambda pod, t, r, m, f: rig.node.event(pod, t, r, m, field_path=f))
    workers = PodWorkers(runtime=rig.runtime, status=rig.status, nodes={"node-a": rig.node}, clock=rig.clock,
                         setup=setup)
    yield dataclasses.replace(rig, workers=workers)
    await workers.stop()
    await setup.stop()


async def running_pods(rig: Rig, *names: str) -> None:
    """Wait (bounded) until the pods run: volume set-up happens in threads, so plain yielding is not enough."""
    for _ in range(500):
        await asyncio.sleep(0.01)
        pods = [rig.api.stored(PODS, n, "ns") for n in names]
        if all(p is not None and (p.get("status") or {}).get("phase") == "Running" for p in pods):
            return
    raise AssertionError(f"pods {names} did not start")


SCRATCH = [{"name": "scratch", "emptyDir": {}}]


async def test_orphan_removal_includes_volumes_of_pods_deleted_while_no_agent_ran(with_setup: Rig,
                                                                                   tmp_path: pathlib.Path) -> None:
    rig = with_setup
    (tmp_path / "pods" / "deleted-meanwhile" / "volumes").mkdir(parents=True)
    rig.add(make_pod(volumes=SCRATCH))
    await running_pods(rig, "p")
    await rig.workers.remove_orphans()
    assert sorted(p.name for p in (tmp_path / "pods").iterdir()) == ["uid-p"]


async def test_a_stopped_agent_still_removes_volumes_of_gone_pods(with_setup: Rig, tmp_path: pathlib.Path) -> None:
    rig = with_setup
    rig.runtime.stop_delay = 5.0
    rig.add(make_pod("p", volumes=SCRATCH))
    rig.add(make_pod("q", volumes=SCRATCH))
    await running_pods(rig, "p", "q")
    rig.workers.remove(rig.pod("p"))              # force-deleted: the teardown waits for the container to stop
    await rig.settle()
    assert (tmp_path / "pods" / "uid-p").is_dir() and rig.workers.records["uid-p"].task is not None
    await rig.workers.stop()                      # SIGTERM in the middle of it
    assert not (tmp_path / "pods" / "uid-p").exists()
    assert (tmp_path / "pods" / "uid-q").is_dir()  # a running pod's volumes stay for the next agent


async def test_volumes_are_set_up_while_the_sandbox_is_being_made(with_setup: Rig, tmp_path: pathlib.Path) -> None:
    rig = with_setup
    release = asyncio.Event()
    make = rig.runtime.run_pod_sandbox

    async def slow_sandbox(config: Any) -> Any:
        await release.wait()
        return await make(config)

    rig.runtime.run_pod_sandbox = slow_sandbox  # type: ignore[method-assign]
    rig.add(make_pod(volumes=SCRATCH))
    for _ in range(500):                            # volume set-up runs in threads: wait for it, bounded
        if (tmp_path / "pods" / "uid-p" / "volumes").is_dir():
            break
        await asyncio.sleep(0.01)
    assert (tmp_path / "pods" / "uid-p" / "volumes").is_dir()
    assert rig.runtime.counts()["sandboxes"] == 0   # still being made
    release.set()
    await running_pods(rig, "p")
    assert rig.pod()["status"]["podIP"] == "10.42.0.2"


DOWNWARD = {"downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}}


@pytest.mark.parametrize(("volumes", "need"), [
    ([], False),
    ([{"name": "s", "emptyDir": {}}], False),
    ([{"name": "d", **DOWNWARD}], False),
    ([{"name": "d", "downwardAPI": {"items": [{"path": "ip", "fieldRef": {"fieldPath": "status.podIP"}}]}}], True),
    ([{"name": "p", "projected": {"sources": [{"configMap": {"name": "x"}}, DOWNWARD]}}], False),
    ([{"name": "p", "projected": {"sources": [
        {"downwardAPI": {"items": [{"path": "ip", "fieldRef": {"fieldPath": "status.podIPs"}}]}}]}}], True),
])
def test_volumes_need_pod_ips(volumes: list[Obj], need: bool) -> None:
    assert volumes_need_pod_ips(make_pod(volumes=volumes)) is need
