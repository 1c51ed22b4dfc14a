"""The agent's usage reporter: rates from cumulative counters, one summary per period, simulation controls."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pybernetes.api import usage_summary
from pybernetes.client.clock import FakeClock
from pybernetes.kubelet import usage
from pybernetes.kubelet.podworker import PodRecord
from pybernetes.kubelet.runtime.interface import ContainerConfig, ContainerStats, PodSandboxConfig
from pybernetes.kubelet.runtime.simulated import CPU_USAGE_ANNOTATION, MEMORY_USAGE_ANNOTATION, SimulatedRuntime
from pybernetes.kubelet.usage import UsageReporter

Obj = dict[str, Any]
MI = 1 << 20


class Poster:
    def __init__(self, fail: int = 0) -> None:
        self.sent: list[tuple[str, str, Obj]] = []
        self.fail = fail

    async def request(self, method: str, path: str, *, body: Any = None, timeout: float = 60) -> Obj:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("server down")
        self.sent.append((method, path, body))
        return {"status": "Success"}


class Cluster:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.runtime = SimulatedRuntime(clock=self.clock, stop_delay=0)
        self.records: dict[str, PodRecord] = {}
        self.poster = Poster()
        self.reporter = UsageReporter(client=self.poster, runtime=self.runtime, pods=self.records,
                                      node_names=("n1", "n2"), period=15.0, clock=self.clock)

    async def pod(self, name: str, *containers: str, node: str = "n1", annotations: dict[str, str] | None = None
                  ) -> PodRecord:
        uid = f"uid-{name}"
        pod = {"metadata": {"name": name, "namespace": "ns", "uid": uid, "annotations": annotations or {}},
               "spec": {"nodeName": node}}
        sb = await self.runtime.run_pod_sandbox(PodSandboxConfig(
            name=name, namespace="ns", uid=uid, node_name=node, pod_cidr="10.42.1.0/24",
            annotations=annotations or {}, pod=pod))
        for c in containers or ("c",):
            cid = await self.runtime.create_container(sb.id, ContainerConfig(name=c, image="nginx"))
            await self.runtime.start_container(cid)
        rec = self.records[uid] = PodRecord(uid=uid, node=node, pod=pod, sandbox_id=sb.id, sandbox_ready=True)
        return rec

    async def collect(self, after: float = 15.0) -> Obj:
        self.clock.advance(after)
        got = await self.reporter.collect()
        assert usage_summary.check(got, "n1") is None
        return got


def pods_of(summary: Obj) -> dict[str, list[Any]]:
    return {p[1]: p for p in summary["pods"]}


def nodes_of(summary: Obj) -> dict[str, list[Any]]:
    return {n[0]: n for n in summary["nodes"]}


async def test_rates_from_cumulative_counters() -> None:
    c = Cluster()
    await c.pod("web", "web", "log", annotations={CPU_USAGE_ANNOTATION: "250m", MEMORY_USAGE_ANNOTATION: "64Mi"})
    first = await c.collect()                      # the containers' start is the earlier point
    (web,) = first["pods"]
    assert web[:4] == ["ns", "web", "n1", 15.0]
    assert web[4] == [["web", 250_000_000, 64 * MI], ["log", 250_000_000, 64 * MI]]
    second = await c.collect(10)
    assert pods_of(second)["web"][3] == 10.0 and pods_of(second)["web"][4][0][1] == 250_000_000
    sys_cpu, sys_mem = c.runtime.system_usage("n1", c.clock.now())
    assert nodes_of(second)["n1"] == ["n1", 10.0, 500_000_000 + sys_cpu, 128 * MI + sys_mem]
    assert nodes_of(second)["n2"][2:] == list(c.runtime.system_usage("n2", c.clock.now()))
    assert second["timestamp"] == "2026-01-01T00:00:25Z" and second["period"] == 15.0


async def test_changed_annotation_shows_from_the_next_sample() -> None:
    c = Cluster()
    rec = await c.pod("web", annotations={CPU_USAGE_ANNOTATION: "100m"})
    await c.collect()
    assert rec.pod is not None
    rec.pod = {**rec.pod, "metadata": {**rec.pod["metadata"], "annotations": {CPU_USAGE_ANNOTATION: "900m"}}}
    assert pods_of(await c.collect())["web"][4][0][1] == 100_000_000     # switched at this sample...
    assert pods_of(await c.collect())["web"][4][0][1] == 900_000_000     # ...so visible in the next window


async def test_young_containers_and_incomplete_pods_wait() -> None:
    c = Cluster()
    await c.pod("old")
    summary = await c.collect(0.5)                  # running half a second: no rate yet
    assert summary["pods"] == []
    assert set(pods_of(await c.collect(15))) == {"old"}
    rec = await c.pod("new")
    summary = await c.collect(0.2)
    assert set(pods_of(summary)) == {"old"}
    assert rec.sandbox_id
    assert set(pods_of(await c.collect(15))) == {"old", "new"}


async def test_only_running_pods_are_sampled() -> None:
    c = Cluster()
    await c.pod("done")
    await c.pod("gone")
    await c.pod("exited", "a", "b")
    c.records["uid-done"].terminal = True
    c.records["uid-gone"].pod = None
    sb = c.records["uid-exited"].sandbox_id
    a = next(cs for cs in await c.runtime.list_containers(sb) if cs.name == "a")
    await c.runtime.stop_container(a.id, 0)        # the pod's other container still runs: reported alone
    summary = await c.collect()
    assert list(pods_of(summary)) == ["exited"]
    assert [x[0] for x in pods_of(summary)["exited"][4]] == ["b"]


async def test_report_puts_one_summary_named_after_the_first_node() -> None:
    c = Cluster()
    await c.pod("web")
    c.clock.advance(15)
    sent = await c.reporter.report()
    assert c.poster.sent == [("PUT", "/v1-pybernetes/metrics/n1", sent)]
    assert c.reporter.writes == 1


async def test_run_reports_every_period_and_survives_failures() -> None:
    c = Cluster()
    c.poster.fail = 2
    task = asyncio.create_task(c.reporter.run())
    for _ in range(4):
        await asyncio.sleep(0)
        c.clock.advance(15)
    for _ in range(5):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert c.reporter.failures == 2 and c.reporter.writes >= 2
    assert {s[1] for s in c.poster.sent} == {"/v1-pybernetes/metrics/n1"}


@pytest.mark.parametrize(("env", "want"), [(None, 15.0), ("2", 2.0), ("0.5", 0.5), ("0", 15.0), ("x", 15.0),
                                           ("-3", 15.0)])
def test_period_from_env(monkeypatch: pytest.MonkeyPatch, env: str | None, want: float) -> None:
    if env is None:
        monkeypatch.delenv(usage.PERIOD_ENV, raising=False)
    else:
        monkeypatch.setenv(usage.PERIOD_ENV, env)
    assert usage.period_from_env() == want


def test_agent_id_is_the_first_node() -> None:
    assert usage.agent_id(("node-a-0", "node-a-1")) == "node-a-0"
    assert usage.agent_id(()) == "agent"


class MeasuredNodes(SimulatedRuntime):
    """A runtime that also measures whole nodes (as a real host's root cgroup would)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.cpu = 0

    async def node_stats(self, node: str) -> ContainerStats | None:
        if node != "n1":
            return None
        self.cpu += 3_000_000_000                       # 3 core-seconds between samples
        return ContainerStats(self.clock.now(), self.cpu, 2 << 30)


async def test_measured_nodes_replace_the_pods_sum_from_the_second_sample() -> None:
    c = Cluster()
    c.runtime = MeasuredNodes(c.clock)
    c.reporter = UsageReporter(client=c.poster, runtime=c.runtime, pods=c.records, node_names=("n1", "n2"),
                               period=15.0, clock=c.clock)
    await c.pod("web", annotations={CPU_USAGE_ANNOTATION: "100m"})
    first = nodes_of(await c.collect())
    assert first["n1"][2] == 100_000_000 + c.runtime.system_usage("n1", c.clock.now())[0]   # no rate yet
    second = nodes_of(await c.collect(10))
    assert second["n1"] == ["n1", 10.0, 300_000_000, 2 << 30]
    assert second["n2"][2:] == list(c.runtime.system_usage("n2", c.clock.now()))
