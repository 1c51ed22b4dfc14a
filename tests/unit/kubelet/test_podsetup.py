"""Pod workers with a real node's PodSetup (volumes, env, probes, hooks) over the simulated runtime, which is
given exec for the probes and hooks here: CreateContainerConfigError until a ConfigMap appears, FailedMount,
readiness feeding Ready, liveness restarts, postStart failures, preStop before the stop."""

from __future__ import annotations

import asyncio
import copy
import datetime
import pathlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from tests.unit.kubelet.fakes import Events, FakeAPI

from pybernetes.client.clock import FakeClock
from pybernetes.client.resources import PODS
from pybernetes.kubelet.podsetup import PodSetup
from pybernetes.kubelet.podworker import PodWorkers
from pybernetes.kubelet.runtime.interface import ContainerConfig, ExecResult
from pybernetes.kubelet.runtime.simulated import SimulatedRuntime
from pybernetes.kubelet.status import StatusManager
from pybernetes.kubelet.volumes.manager import VolumeManager
from pybernetes.kubelet.volumes.tokens import TokenManager

Obj = dict[str, Any]
KUBERNETES = {"metadata": {"name": "kubernetes", "namespace": "default"},
              "spec": {"clusterIP": "10.43.0.1", "ports": [{"name": "https", "port": 443}]}}


class ExecRuntime(SimulatedRuntime):
    """The simulated runtime plus exec: a command's exit code comes from ``codes`` (0 by default)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.codes: dict[str, int] = {}
        self.execs: list[tuple[str, list[str]]] = []
        self.configs: list[ContainerConfig] = []
        self.stops: list[str] = []

    async def exec_sync(self, container_id: str, cmd: Sequence[str], *, timeout: float) -> ExecResult:
        self.execs.append((container_id, list(cmd)))
        return ExecResult(self.codes.get(cmd[0], 0), stdout=f"{cmd[0]} said no".encode())

    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str:
        self.configs.append(config)
        return await super().create_container(sandbox_id, config)

    async def stop_container(self, container_id: str, timeout: float) -> None:
        self.stops.append(container_id)
        await super().stop_container(container_id, timeout)


class Objects:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.cms: dict[tuple[str, str], Obj] = {}

    async def configmap(self, namespace: str, name: str) -> Obj | None:
        return self.cms.get((namespace, name))

    async def secret(self, namespace: str, name: str) -> Obj | None:
        return None

    def services(self) -> list[Obj]:
        return [KUBERNETES]

    async def pvc(self, namespace: str, name: str) -> Obj | None:
        return None

    async def pv(self, name: str) -> Obj | None:
        return None

    async def request_token(self, namespace: str, sa: str, body: Obj) -> Obj:
        exp = self.clock.now() + datetime.timedelta(seconds=3600)
        return {"status": {"token": "tok", "expirationTimestamp": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}}

    async def stop(self) -> None:
        pass


@dataclass
class Rig:
    clock: FakeClock
    api: FakeAPI
    node: Events
    runtime: ExecRuntime
    objects: Objects
    workers: PodWorkers
    setup: PodSetup

    def add(self, pod: Obj) -> None:
        self.workers.update(copy.deepcopy(self.api.put(PODS, pod)))

    async def settle(self) -> None:
        """Let runnable tasks run; volume set-up runs in threads, so keep yielding while a sync is still busy
        (bounded: a sync waiting on the fake clock stays busy)."""
        for _ in range(5000):
            await asyncio.sleep(0)
            if all(r.task is None for r in self.workers.records.values()):
                break
        for _ in range(200):                # then what the syncs set off (status writes)
            await asyncio.sleep(0)

    async def advance(self, seconds: float, step: float = 0.5) -> None:
        for _ in range(round(seconds / step)):
            self.clock.advance(step)
            await self.settle()

    def status(self) -> Obj:
        obj = self.api.stored(PODS, "p", "ns")
        assert obj is not None
        return obj["status"]

    def cond(self, ctype: str) -> str:
        return next(c["status"] for c in self.status()["conditions"] if c["type"] == ctype)


@pytest.fixture
async def rig(tmp_path: pathlib.Path) -> AsyncIterator[Rig]:
    clock = FakeClock()
    api = FakeAPI()
    node = Events()
    runtime = ExecRuntime(clock=clock, run_seconds=0.5, stop_delay=0.2)
    status = StatusManager(api, clock=clock, workers=2)   # type: ignore[arg-type]
    objects = Objects(clock)
    volumes = VolumeManager(root=tmp_path / "pods", api=objects, tokens=TokenManager(objects.request_token,
                                                                                     clock=clock), tmpfs=False)
    setup = PodSetup(runtime=runtime, objects=objects, volumes=volumes, clock=clock,  # type: ignore[arg-type]
                     event=lambda pod, t, r, m, f: node.event(pod, t, r, m, field_path=f))
    workers = PodWorkers(runtime=runtime, status=status, nodes={"node-a": node}, clock=clock, setup=setup)
    task = asyncio.create_task(status.run())
    yield Rig(clock, api, node, runtime, objects, workers, setup)
    await workers.stop()
    await setup.stop()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def make_pod(container: Obj | None = None, **spec: Any) -> Obj:
    c: Obj = {"name": "c", "image": "nginx:1.19.1", "imagePullPolicy": "IfNotPresent", **(container or {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns", "uid": "uid-p"},
            "spec": {"containers": [c], "nodeName": "node-a", "terminationGracePeriodSeconds": 30, **spec},
            "status": {"phase": "Pending"}}


async def test_env_config_error_until_configmap_exists(rig: Rig) -> None:
    rig.add(make_pod({"env": [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}},
                              {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                      "command": ["echo", "$(MODE)"]}))
    await rig.settle()
    cs = rig.status()["containerStatuses"][0]
    assert cs["state"] == {"waiting": {"reason": "CreateContainerConfigError", "message": 'configmap "cfg" not found'}}
    assert ("Warning", "Failed", 'Error: configmap "cfg" not found', "spec.containers{c}") in rig.node.events
    rig.objects.cms[("ns", "cfg")] = {"data": {"mode": "fast"}}
    await rig.advance(5.5)
    assert "running" in rig.status()["containerStatuses"][0]["state"]
    config = rig.runtime.configs[-1]
    env = dict(config.env)
    assert env["MODE"] == "fast" and env["POD"] == "p" and env["KUBERNETES_SERVICE_HOST"] == "10.43.0.1"
    assert config.command == ("echo", "fast")


async def test_failed_mount_keeps_the_pod_creating(rig: Rig, tmp_path: pathlib.Path) -> None:
    pod = make_pod({"volumeMounts": [{"name": "cfg", "mountPath": "/etc/app"}]},
                   volumes=[{"name": "cfg", "configMap": {"name": "app"}}])
    rig.add(pod)
    await rig.settle()
    assert rig.status()["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert ("Warning", "FailedMount", 'MountVolume.SetUp failed for volume "cfg" : configmap "app" not found', "") \
        in rig.node.events
    rig.objects.cms[("ns", "app")] = {"data": {"a.conf": "x"}}
    await rig.advance(2.5)
    assert "running" in rig.status()["containerStatuses"][0]["state"]
    (mount,) = rig.runtime.configs[-1].mounts
    assert mount.container_path == "/etc/app" and mount.read_only
    assert (pathlib.Path(mount.host_path) / "a.conf").read_text() == "x"
    rig.api.objects.pop(("pods", "ns", "p"))
    rig.workers.remove(pod)
    await rig.advance(1)
    await rig.workers.idle()
    assert not (tmp_path / "pods" / "uid-p").exists()                       # volumes torn down with the pod


async def test_readiness_probe_feeds_ready(rig: Rig) -> None:
    rig.runtime.codes["check"] = 1
    rig.add(make_pod({"readinessProbe": {"exec": {"command": ["check"]}, "periodSeconds": 1}}))
    await rig.advance(3)
    cs = rig.status()["containerStatuses"][0]
    assert "running" in cs["state"] and cs["started"] and not cs["ready"]
    assert rig.cond("Ready") == "False" and rig.cond("ContainersReady") == "False"
    assert ("Warning", "Unhealthy", "Readiness probe failed: check said no", "spec.containers{c}") in rig.node.events
    rig.runtime.codes["check"] = 0
    await rig.advance(1.5)
    assert rig.status()["containerStatuses"][0]["ready"] and rig.cond("Ready") == "True"


async def test_liveness_failure_restarts(rig: Rig) -> None:
    rig.runtime.codes["alive"] = 1
    rig.add(make_pod({"livenessProbe": {"exec": {"command": ["alive"]}, "periodSeconds": 1,
                                        "failureThreshold": 2}}))
    await rig.advance(4)
    assert ("Normal", "Killing", "Container c failed liveness probe, will be restarted", "spec.containers{c}") \
        in rig.node.events
    cs = rig.status()["containerStatuses"][0]
    assert cs["restartCount"] >= 1 and cs["lastState"]["terminated"]


async def test_post_start_failure_kills(rig: Rig) -> None:
    rig.runtime.codes["hook"] = 1
    rig.add(make_pod({"lifecycle": {"postStart": {"exec": {"command": ["hook"]}}}}, restartPolicy="Never"))
    await rig.advance(1)
    reasons = rig.node.reasons()
    assert "FailedPostStartHook" in reasons
    msg = next(e[2] for e in rig.node.events if e[1] == "FailedPostStartHook")
    assert msg == ('Exec lifecycle hook ([hook]) for Container "c" in Pod "p_ns(uid-p)" failed - error: command '
                   "'hook' exited with 1: , message: \"hook said no\"")
    assert rig.runtime.stops


async def test_pre_stop_runs_before_the_stop(rig: Rig) -> None:
    rig.add(make_pod({"lifecycle": {"preStop": {"exec": {"command": ["drain"]}}}}))
    await rig.settle()
    pod = copy.deepcopy(rig.api.stored(PODS, "p", "ns"))
    assert pod is not None
    pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:10Z"
    pod["metadata"]["deletionGracePeriodSeconds"] = 30
    rig.workers.update(pod)
    await rig.advance(1)
    assert [c for _, c in rig.runtime.execs] == [["drain"]]
    assert rig.runtime.stops


async def test_label_changes_reach_downward_api_volumes(rig: Rig) -> None:
    pod = make_pod({"volumeMounts": [{"name": "info", "mountPath": "/etc/info"}]},
                   volumes=[{"name": "info", "downwardAPI": {"items": [
                       {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}])
    pod["metadata"]["labels"] = {"v": "1"}
    rig.add(pod)
    await rig.settle()
    (mount,) = rig.runtime.configs[-1].mounts
    assert (pathlib.Path(mount.host_path) / "labels").read_text() == 'v="1"'
    pod["metadata"]["labels"] = {"v": "2"}
    rig.add(pod)
    await rig.setup.volumes.refresh(rig.setup._pods["uid-p"][0])
    assert (pathlib.Path(mount.host_path) / "labels").read_text() == 'v="2"'


async def test_remove_orphans(rig: Rig, tmp_path: pathlib.Path) -> None:
    for uid in ("gone-1", "kept"):
        (tmp_path / "pods" / uid / "volumes").mkdir(parents=True)
    assert await rig.setup.remove_orphans({"kept"}) == 1
    assert sorted(p.name for p in (tmp_path / "pods").iterdir()) == ["kept"]
