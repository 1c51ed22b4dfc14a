"""bench/pod_startup.py's pure parts: the floor's per-pod latencies, what counts as Running, /proc figures and the
Markdown section with its verdicts."""

from __future__ import annotations

import pytest
from bench import pod_startup as ps


@pytest.mark.parametrize(("durations", "pods", "want"), [
    ([0.01, 0.02], 1, [0.03]),
    ([0.01, 0.02, 0.03, 0.04, 0.05, 0.06], 3, [0.03, 0.10, 0.21]),     # pod k waits for pods 1..k
    ([0.01, 0.02, 0.03, 0.04, 9.0], 2, [0.03, 0.10]),                  # extra starts are ignored
])
def test_floor_latencies_accumulate_per_pod(durations: list[float], pods: int, want: list[float]) -> None:
    assert ps.floor_latencies(durations, pods=pods) == pytest.approx(want)


def test_floor_latencies_need_every_container() -> None:
    with pytest.raises(ValueError):
        ps.floor_latencies([0.01, 0.02, 0.03], pods=2)


@pytest.mark.parametrize(("status", "running"), [
    ({"phase": "Running", "containerStatuses": [{"state": {"running": {}}}]}, True),
    ({"phase": "Running", "containerStatuses": [{"state": {"running": {}}}, {"state": {"waiting": {}}}]}, False),
    ({"phase": "Running", "containerStatuses": []}, False),
    ({"phase": "Pending", "containerStatuses": [{"state": {"running": {}}}]}, False),
    ({}, False),
])
def test_is_running(status: dict[str, object], running: bool) -> None:
    assert ps.is_running({"status": status}) is running


def test_vm_kib_reads_proc_status() -> None:
    text = "Name:\tpython\nVmHWM:\t   83200 kB\nVmRSS:\t   78112 kB\nThreads:\t3\n"
    assert (ps.vm_kib(text, "VmRSS"), ps.vm_kib(text, "VmHWM"), ps.vm_kib(text, "VmSwap")) == (78112, 83200, 0)


def burst(pods: int, latency: float, floor: float) -> ps.Burst:
    return ps.Burst(pods=pods, rounds=1, latencies=[latency] * pods, floor=[floor] * pods)


def test_render_states_each_goal() -> None:
    r = ps.Result(runtime="crun", bursts=[burst(1, 0.2, 0.05), burst(10, 0.9, 0.5)], agent_rss_idle=70 * 1024,
                  agent_rss_busy=80 * 1024, busy_pods=10, agent_hwm=90 * 1024, shim_rss=40 * 1024)
    text = ps.render(r)
    assert "| 1 | 1 | 200 ms | 200 ms | 50.0 ms | 50.0 ms | 4.0× | 4.0× |" in text
    assert "| 10 | 1 | 900 ms | 900 ms | 500 ms | 500 ms | 1.8× | 1.8× |" in text
    assert "p99 under 1 s: **met** (worst p99 900 ms)" in text
    assert "ratio under 2: **not met** (worst 4.0×)" in text and "p99 ≤ 5 s: **met**" in text
    assert "idle 70 MiB, with 10 pods running 80 MiB, peak 90 MiB; the runtime shim beside it 40 MiB" in text


def test_render_without_a_floor_shows_no_ratio() -> None:
    r = ps.Result(runtime="crun", bursts=[ps.Burst(pods=1, rounds=1, latencies=[6.0])])
    text = ps.render(r)
    assert "| 1 | 1 | 6000 ms | 6000 ms | — | — | — | — |" in text and "p99 ≤ 5 s: **not met**" in text
