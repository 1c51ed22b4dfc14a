"""The simulated runtime's resource usage: a deterministic default model, the usage annotations, monotonic CPU."""

from __future__ import annotations

import datetime
import math

import pytest

from pybernetes.client.clock import FakeClock
from pybernetes.kubelet.runtime.interface import ContainerConfig, PodSandboxConfig
from pybernetes.kubelet.runtime.simulated import (
    CPU_USAGE_ANNOTATION,
    MEMORY_USAGE_ANNOTATION,
    MI,
    SimulatedRuntime,
    Usage,
    node_system_usage,
    usage_model,
)


def sandbox(annotations: dict[str, str] | None = None, *, uid: str = "u1", name: str = "web-1") -> PodSandboxConfig:
    return PodSandboxConfig(name=name, namespace="ns", uid=uid, node_name="n1", pod_cidr="10.42.1.0/24",
                            annotations=annotations or {}, pod={"spec": {}})


async def running(rt: SimulatedRuntime, sb: PodSandboxConfig, name: str = "c") -> str:
    sid = (await rt.run_pod_sandbox(sb)).id
    cid = await rt.create_container(sid, ContainerConfig(name=name, image="nginx"))
    await rt.start_container(cid)
    return cid


@pytest.mark.parametrize(("annotations", "cpu", "memory", "swing"), [
    ({CPU_USAGE_ANNOTATION: "250m"}, 250_000_000, None, 0.0),
    ({CPU_USAGE_ANNOTATION: "1.5"}, 1_500_000_000, None, 0.0),
    ({MEMORY_USAGE_ANNOTATION: "64Mi"}, None, 64 * MI, None),
    ({CPU_USAGE_ANNOTATION: "100m", MEMORY_USAGE_ANNOTATION: "1Gi"}, 100_000_000, 1 << 30, 0.0),
    ({CPU_USAGE_ANNOTATION: " 20m "}, 20_000_000, None, 0.0),        # quantities are read trimmed
    ({CPU_USAGE_ANNOTATION: "lots"}, None, None, 0.3),               # unreadable: the default model
    ({CPU_USAGE_ANNOTATION: "-1"}, None, None, 0.3),                 # negative: ignored
])
def test_usage_model_reads_the_annotations(annotations: dict[str, str], cpu: int | None, memory: int | None,
                                           swing: float | None) -> None:
    m = usage_model("ns", "web-1", "c", annotations)
    if cpu is not None:
        assert m.cpu_nanocores == cpu
    else:
        assert 1_000_000 <= m.cpu_nanocores < 3_000_000
    if memory is not None:
        assert (m.memory_bytes, m.memory_swing) == (memory, 0.0)
    else:
        assert 8 * MI <= m.memory_bytes < 24 * MI
    if swing is not None:
        assert m.cpu_swing == swing


def test_default_model_is_deterministic_per_container_identity() -> None:
    assert usage_model("ns", "web-1", "c", {}) == usage_model("ns", "web-1", "c", {})
    assert usage_model("ns", "web-1", "c", {}) != usage_model("ns", "web-2", "c", {})
    assert usage_model("ns", "web-1", "c", {}) != usage_model("ns", "web-1", "sidecar", {})


@pytest.mark.parametrize("t", [0.0, 1.0, 17.5, 60.0, 119.0, 3600.0, 86400.0])
def test_cpu_integral_matches_the_rate_it_integrates(t: float) -> None:
    u = Usage(cpu_nanocores=2_000_000, memory_bytes=MI, cpu_swing=0.3, phase=1.2)
    assert u.cpu_integral(0.0) == pytest.approx(0.0, abs=1e-3)
    h = 1e-3
    rate = (u.cpu_integral(t + h) - u.cpu_integral(t)) / h
    assert rate == pytest.approx(2_000_000 * (1 + 0.3 * math.sin(2 * math.pi / 120 * t + 1.2)), rel=1e-3)


async def test_container_stats_of_an_annotated_pod_are_exact() -> None:
    clock = FakeClock()
    rt = SimulatedRuntime(clock=clock)
    cid = await running(rt, sandbox({CPU_USAGE_ANNOTATION: "250m", MEMORY_USAGE_ANNOTATION: "64Mi"}))
    clock.advance(10)
    st = await rt.container_stats(cid)
    assert st is not None
    assert st.timestamp == clock.now()
    assert st.cpu_usage_core_nanoseconds == 2_500_000_000          # 0.25 cores for 10 s
    assert st.memory_working_set_bytes == 64 * MI


async def test_changed_annotations_apply_from_then_on_and_keep_the_counter_monotonic() -> None:
    clock = FakeClock()
    rt = SimulatedRuntime(clock=clock)
    cid = await running(rt, sandbox({CPU_USAGE_ANNOTATION: "100m"}))
    clock.advance(10)
    first = await rt.container_stats(cid)
    rt.set_pod_annotations("u1", {CPU_USAGE_ANNOTATION: "800m"})
    clock.advance(10)
    second = await rt.container_stats(cid)           # the change is seen here: 10 s at 100m, then 800m from now
    clock.advance(10)
    third = await rt.container_stats(cid)
    assert first is not None and second is not None and third is not None
    assert first.cpu_usage_core_nanoseconds == 1_000_000_000
    assert second.cpu_usage_core_nanoseconds == 2_000_000_000
    assert third.cpu_usage_core_nanoseconds - second.cpu_usage_core_nanoseconds == 8_000_000_000
    rt.set_pod_annotations("u1", {})                 # annotation removed: back to the default model...
    clock.advance(15)
    fourth = await rt.container_stats(cid)           # ...from this sample on
    clock.advance(15)
    fifth = await rt.container_stats(cid)
    assert fourth is not None and fifth is not None
    assert fourth.cpu_usage_core_nanoseconds - third.cpu_usage_core_nanoseconds == 15 * 800_000_000
    assert 0 < fifth.cpu_usage_core_nanoseconds - fourth.cpu_usage_core_nanoseconds < 15 * 4_000_000


async def test_default_usage_is_small_and_counter_never_decreases() -> None:
    clock = FakeClock()
    rt = SimulatedRuntime(clock=clock)
    cid = await running(rt, sandbox())
    last = 0
    for _ in range(40):
        clock.advance(7)
        st = await rt.container_stats(cid)
        assert st is not None
        assert st.cpu_usage_core_nanoseconds >= last
        rate = (st.cpu_usage_core_nanoseconds - last) / 7
        assert 0.7 * 1_000_000 <= rate <= 1.3 * 3_000_000
        assert 7 * MI < st.memory_working_set_bytes < 25 * MI
        assert st.memory_working_set_bytes % 4096 == 0                 # whole pages
        last = st.cpu_usage_core_nanoseconds


async def test_no_stats_for_containers_that_do_not_run() -> None:
    clock = FakeClock()
    rt = SimulatedRuntime(clock=clock, stop_delay=0)
    sid = (await rt.run_pod_sandbox(sandbox())).id
    cid = await rt.create_container(sid, ContainerConfig(name="c", image="nginx"))
    assert await rt.container_stats(cid) is None                  # created, not started
    await rt.start_container(cid)
    assert await rt.container_stats(cid) is not None
    await rt.stop_container(cid, 0)
    assert await rt.container_stats(cid) is None                  # exited
    assert await rt.container_stats("nope") is None
    await rt.remove_pod_sandbox(sid)
    assert rt._annotations == {}


def test_node_system_usage_is_a_plausible_deterministic_baseline() -> None:
    at = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cpu, memory = node_system_usage("n1", at)
    assert (cpu, memory) == node_system_usage("n1", at)
    assert 30_000_000 <= cpu <= 75_000_000
    assert 290 * MI <= memory <= 410 * MI
    assert SimulatedRuntime().system_usage("n1", at) == (cpu, memory)
