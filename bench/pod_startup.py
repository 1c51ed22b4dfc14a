"""Pod start-up latency on a real node (issue 4), beside the same containers started by the OCI runtime alone.

    sudo .venv/bin/python -m bench.pod_startup [--quick]

A real ``pybernetes server`` with its own node (crun by default; the test images from a local registry through a
``registries.yaml`` mirror) gets pods created in bursts of 1, 10 and 50 (several rounds of the small bursts):
each pod's latency runs from just before its create request is sent to the moment a watch on the namespace shows
it ``Running`` with every container running, so it includes the API server, the scheduler, the kubelet (sandbox,
CNI, volumes incl. the ServiceAccount token, container start) and the status write — Kubernetes' pod start-up SLI
(SLO: p99 ≤ 5 s, stateless pods, images present). The image is pulled by a warm-up pod first. Each burst is
deleted before the next.

The floor is bench/oci_start.py's: the same containers — per pod a pause and a busybox ``sleep`` — started by
``crun run -d`` one after the other, with the server stopped; pod k of a burst of n gets the time it took to start
pods 1..k, so queueing counts on both sides. The ratio is ours over the floor, at p50 and at p99. The agent's
memory is its RSS (``/proc/PID/status``) when idle, with the 50 pods running, and its peak (VmHWM); the shim (the
process that owns the containers) is shown beside it.

Prints a Markdown section on stdout (bench/run.py quotes it in docs/BENCHMARKS.md), progress on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import oci_start
from bench.stats import percentile

READY = re.compile(r"pybernetes server is ready: (\S+) \(kubeconfig: (.+)\)")
BRIDGE = "pyb0"
NS = "bench"
ROUNDS = {1: 10, 10: 3, 50: 1}
QUICK_ROUNDS = {1: 2, 10: 1}
CONTAINERS_PER_POD = 2                 # the pause container and the app container
GOAL_P99, GOAL_RATIO, SLO_P99 = 1.0, 2.0, 5.0


@dataclass(slots=True)
class Burst:
    pods: int
    rounds: int
    latencies: list[float] = field(default_factory=list)     # seconds, every pod of every round
    floor: list[float] = field(default_factory=list)


@dataclass(slots=True)
class Result:
    runtime: str
    bursts: list[Burst]
    agent_rss_idle: int = 0            # KiB
    agent_rss_busy: int = 0
    busy_pods: int = 0                 # how many pods ran when agent_rss_busy was read
    agent_hwm: int = 0
    shim_rss: int = 0


# ---------------------------------------------------------------------------------------------- pure helpers

def floor_latencies(durations: Sequence[float], *, pods: int, per_pod: int = CONTAINERS_PER_POD) -> list[float]:
    """Latencies of a burst of ``pods`` started in a loop, from per-container start times: pod k is running once
    the containers of pods 1..k have been started one after the other."""
    if len(durations) < pods * per_pod:
        raise ValueError(f"{len(durations)} container starts for {pods} pods of {per_pod}")
    out, total = [], 0.0
    for k in range(pods):
        total += sum(durations[k * per_pod:(k + 1) * per_pod])
        out.append(total)
    return out


def is_running(pod: dict[str, Any]) -> bool:
    """Phase Running with every container running: what ``kubectl get pods`` shows as Running n/n."""
    st = pod.get("status") or {}
    cs = st.get("containerStatuses") or ()
    return st.get("phase") == "Running" and bool(cs) and all("running" in (c.get("state") or {}) for c in cs)


def vm_kib(status_text: str, key: str) -> int:
    """A ``VmRSS``/``VmHWM`` figure (KiB) from ``/proc/PID/status``; 0 when absent."""
    m = re.search(rf"^{key}:\s+(\d+) kB", status_text, re.M)
    return int(m.group(1)) if m else 0


def _ms(x: float) -> str:
    return f"{x * 1e3:.0f} ms" if x >= 0.1 else f"{x * 1e3:.1f} ms"


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB" if kib else "—"


def render(r: Result) -> str:
    rows = [f"Pod start-up on a real node ({r.runtime}), image present: create sent → Running seen by a watch.", "",
            "| pods created at once | rounds | p50 | p99 | floor p50 | floor p99 | ratio p50 | ratio p99 |",
            "|---|---|---|---|---|---|---|---|"]
    worst_p99, worst_ratio = 0.0, 0.0
    for b in r.bursts:
        if not b.latencies:
            continue
        lat, fl = sorted(b.latencies), sorted(b.floor)
        p50, p99 = percentile(lat, 50), percentile(lat, 99)
        worst_p99 = max(worst_p99, p99)
        floor = "— | — | — | —"
        if fl:
            f50, f99 = percentile(fl, 50), percentile(fl, 99)
            worst_ratio = max(worst_ratio, p50 / f50, p99 / f99)
            floor = f"{_ms(f50)} | {_ms(f99)} | {p50 / f50:.1f}× | {p99 / f99:.1f}×"
        rows.append(f"| {b.pods} | {b.rounds} | {_ms(p50)} | {_ms(p99)} | {floor} |")

    def verdict(ok: bool) -> str:
        return "met" if ok else "not met"

    rows += ["",
             f"Floor: per pod a pause and a busybox `sleep` started with `{r.runtime} run -d` in a loop "
             "(bench/oci_start.py), the server stopped; pod k of a burst waits for pods 1..k.",
             f"Goals: p99 under {GOAL_P99:g} s: **{verdict(worst_p99 < GOAL_P99)}** (worst p99 {_ms(worst_p99)}); "
             f"ratio under {GOAL_RATIO:g}: **{verdict(worst_ratio < GOAL_RATIO)}** (worst {worst_ratio:.1f}×); "
             f"Kubernetes' SLO p99 ≤ {SLO_P99:g} s: **{verdict(worst_p99 <= SLO_P99)}**.",
             f"Agent memory (RSS): idle {_mib(r.agent_rss_idle)}, with {r.busy_pods} pods running "
             f"{_mib(r.agent_rss_busy)}, peak {_mib(r.agent_hwm)}; the runtime shim beside it {_mib(r.shim_rss)}."]
    return "\n".join(rows)


# ---------------------------------------------------------------------------------------------- processes

def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def find_pids(*words: bytes) -> list[int]:
    """Processes whose argv holds every one of ``words`` (our server's children, found by their data dir)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            argv = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if all(w in argv for w in words):
            out.append(int(d.name))
    return out


def bridge_addresses() -> set[str]:
    """The IPv4 addresses on the CNI bridge (``10.42.0.1/24``), empty when there is no bridge."""
    p = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", BRIDGE], capture_output=True, text=True, check=False)
    return {f[3] for f in (line.split() for line in p.stdout.splitlines()) if len(f) > 3 and f[2] == "inet"}


def restore_bridge(had_bridge: bool, had_addresses: set[str]) -> None:
    """Leave the CNI bridge as it was: removed if we made it, else without the gateway our node added (the bridge
    plugin refuses a second IPv4 gateway, so a leftover would stop another node on this machine)."""
    if not had_bridge:
        if os.path.exists(f"/sys/class/net/{BRIDGE}"):
            subprocess.run(["ip", "link", "delete", BRIDGE], check=False, capture_output=True)
        return
    for addr in bridge_addresses() - had_addresses:
        if addr.startswith("10.42."):
            subprocess.run(["ip", "addr", "del", addr, "dev", BRIDGE], check=False, capture_output=True)


def proc_status(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return ""


def start_server(work: Path, registries_yaml: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """``pybernetes server`` with its node; returns the process and the admin kubeconfig once it is ready."""
    data, log_path = work / "server", work / "server.log"
    kc = data / "admin.kubeconfig"
    argv = [sys.executable, "-m", "pybernetes", "server", "--data-dir", str(data), "--bind-address", "127.0.0.1",
            "--port", "0", "--write-kubeconfig", str(kc), "--node-ip", "127.0.0.1",
            "--registry-config", str(registries_yaml), "--log-level", "WARNING"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if READY.search(log_path.read_text(errors="replace")):
            return proc, kc
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    stop_server(proc)
    raise RuntimeError("the server did not start:\n" + log_path.read_text(errors="replace")[-3000:])


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def teardown_node(data: Path, runtime: str) -> None:
    """The node's pods and shim down for good, as ``pybernetes shim --stop`` does, then any mount left below."""
    from pybernetes.kubelet.network.cni import CNINetwork
    from pybernetes.kubelet.runtime.oci.client import stop_node
    root = data / "agent" / "runtime"
    if root.is_dir():
        with contextlib.suppress(Exception):
            asyncio.run(stop_node(root, runtime=runtime, network=CNINetwork(data_dir=data / "agent")))
    prefix = str(data) + "/"
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f if line.split()[4].startswith(prefix)]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)


# ---------------------------------------------------------------------------------------------- the measurement

def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"bench": "startup"}},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                "name": "app", "image": "busybox:latest", "imagePullPolicy": "IfNotPresent",
                "command": ["sleep", "3600"]}]}}


async def burst(client: Any, names: list[str], *, timeout: float = 300) -> list[float]:
    """Create the pods at once; each one's seconds from its create request to Running as a watch shows it."""
    from pybernetes.client.resources import PODS
    rv = (await client.list(PODS, NS, limit=1))["metadata"]["resourceVersion"]
    wanted = set(names)
    sent: dict[str, float] = {}
    running: dict[str, float] = {}

    async def watch() -> None:
        while len(running) < len(wanted):               # a watch that ends early is started again (replays)
            async with contextlib.aclosing(client.watch(PODS, NS, resource_version=rv,
                                                        timeout_seconds=int(timeout))) as events:
                async for ev in events:
                    obj = ev.get("object") or {}
                    name = (obj.get("metadata") or {}).get("name", "")
                    if ev.get("type") in ("ADDED", "MODIFIED") and name in wanted and name not in running \
                            and is_running(obj):
                        running[name] = time.perf_counter()
                        if len(running) == len(wanted):
                            return

    async def create(name: str) -> None:
        sent[name] = time.perf_counter()
        await client.create(PODS, pod(name), NS)

    watcher = asyncio.create_task(watch())
    await asyncio.gather(*(create(n) for n in names))
    await asyncio.wait_for(watcher, timeout)
    return [running[n] - sent[n] for n in names]


async def delete_all(client: Any, names: list[str], *, timeout: float = 120) -> None:
    from pybernetes.client.resources import PODS
    await asyncio.gather(*(client.delete(PODS, n, NS) for n in names))
    deadline = time.monotonic() + timeout
    while (await client.list(PODS, NS, label_selector="bench=startup"))["items"]:
        if time.monotonic() > deadline:
            raise RuntimeError("pods were not deleted in time")
        await asyncio.sleep(0.2)


async def measure_pods(kubeconfig: Path, data: Path, rounds: dict[int, int], result: Result) -> None:
    from pybernetes.client.resources import NAMESPACES, NODES
    from pybernetes.client.rest import Client, ClientConfig
    client = Client(ClientConfig.from_kubeconfig(kubeconfig), limit=64)
    try:
        deadline = time.monotonic() + 120
        while True:                                        # the node Ready, the namespace ready for pods
            nodes = (await client.list(NODES))["items"]
            if nodes and any(c["type"] == "Ready" and c["status"] == "True"
                             for c in nodes[0].get("status", {}).get("conditions", ())):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the node did not become Ready")
            await asyncio.sleep(0.2)
        await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        while True:
            try:
                await client.request("GET", f"/api/v1/namespaces/{NS}/serviceaccounts/default")
                await client.request("GET", f"/api/v1/namespaces/{NS}/configmaps/kube-root-ca.crt")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        say("warm-up: pulling the image")
        await burst(client, ["warm-up"])
        await delete_all(client, ["warm-up"])
        agent = find_pids(b"agent", str(data / "agent").encode())
        shim = find_pids(b"shim", str(data / "agent" / "runtime").encode())
        await asyncio.sleep(2)
        result.agent_rss_idle = sum(vm_kib(proc_status(p), "VmRSS") for p in agent)
        for b in result.bursts:
            for r in range(b.rounds):
                names = [f"p{b.pods}-{r}-{i}" for i in range(b.pods)]
                lat = await burst(client, names)
                b.latencies += lat
                say(f"{b.pods} pods, round {r + 1}/{b.rounds}: p50 {_ms(percentile(sorted(lat), 50))}, "
                    f"max {_ms(max(lat))}")
                if b.pods == max(rounds):
                    result.agent_rss_busy = sum(vm_kib(proc_status(p), "VmRSS") for p in agent)
                    result.busy_pods = b.pods
                    result.shim_rss = sum(vm_kib(proc_status(p), "VmRSS") for p in shim)
                await delete_all(client, names)
        result.agent_hwm = sum(vm_kib(proc_status(p), "VmHWM") for p in agent)
    finally:
        await client.close()


def measure_floor(result: Result, runtime: str, work: Path) -> None:
    from pybernetes.kubelet.runtime.oci import cgroups, host, rootfs
    binary = host.Host().which(runtime) or runtime
    pause = rootfs.make_pause_rootfs(work / "floor-pause")
    try:
        for b in result.bursts:
            for r in range(b.rounds):
                d = work / f"floor-{b.pods}-{r}"
                d.mkdir()
                starts = oci_start.floor(binary, runtime, d, pause, b.pods * CONTAINERS_PER_POD)
                b.floor += floor_latencies(starts, pods=b.pods)
    finally:
        cgroups.remove_tree(cgroups.host_layout(), "/pybernetes/bench")


def run(*, quick: bool, runtime: str = "crun") -> Result:
    """The whole measurement (root): ``runtime`` is the server's node's, which is crun."""
    from pybernetes.kubelet.runtime.oci import host
    from pybernetes.testing import images as ti
    host.require([c for c in host.check_host(runtime=runtime) if c.name in ("oci-runtime", "cgroups")])
    rounds = QUICK_ROUNDS if quick else ROUNDS
    result = Result(runtime=runtime, bursts=[Burst(pods=n, rounds=k) for n, k in rounds.items()])
    work = Path(tempfile.mkdtemp(prefix="pod-startup-"))
    had_bridge, had_addresses = os.path.exists(f"/sys/class/net/{BRIDGE}"), bridge_addresses()
    reg = ti.start_registry(work / "registry")
    try:
        asyncio.run(ti.push_images(reg, [i for i in ti.build_test_images() if "busybox" in i.name]))
        yaml = ti.write_registries_yaml(work / "registries.yaml", reg)
        say("starting pybernetes server with its node")
        proc, kc = start_server(work, yaml)
        try:
            asyncio.run(measure_pods(kc, work / "server", rounds, result))
        finally:
            stop_server(proc)
            teardown_node(work / "server", runtime)
        say("floor: the same containers with the OCI runtime alone")
        measure_floor(result, runtime, work)
    finally:
        ti.stop_registry(reg)
        shutil.rmtree(work, ignore_errors=True)
        restore_bridge(had_bridge, had_addresses)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.pod_startup", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="bursts of 1 and 10 only, few rounds: a smoke test")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("needs root (a real node)", file=sys.stderr)
        return 2
    print(render(run(quick=args.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
