"""Issue 3's end-to-end benchmarks: the control loops through a real API server, with simulated nodes.

    python -m bench.control_plane [--quick] [--repeat R] [--agents A] [--skip-scheduling] [--skip-deployment]
                                  [--json FILE] [--dir DIR]

Every run starts a fresh cluster (bench/cluster.py): ``pybernetes server`` with its controller manager and
scheduler processes, and ``pybernetes agent --simulated N`` processes; all stopped by PID at the end.

- **Scheduling** (kube-scheduler's SchedulingBasic shape, 5,000 nodes of 4 CPU/32Gi/110 pods): 1,000 pods are
  created and placed first, then 10,000 pods (one container requesting 100m/500Mi) are created as fast as two
  load-generator processes can (64 connections). Throughput is counted from a watch seeing ``spec.nodeName`` set,
  as scheduler_perf's collector counts it: the average of one-second samples (the figure upstream's CI floor of
  270 pods/s judges), with the plain rate (pods / first create → last bound) beside it. The simulated agents run
  every bound pod (status Running), so the API server also carries those writes — more than SchedulingBasic,
  whose nodes have no kubelets. The floor is the same scheduler in one process without HTTP
  (bench/scheduler_throughput.py, same sizes).
- **Heartbeats**: in the same cluster before any pod, with the nodes registered, given their pod CIDRs by the
  node IPAM controller (waited for: registration is over) and renewing their Leases every 10 s, a paced probe
  (bench/probe.py: GET, LIST, update, create) measures API latency; its floor is the same probe on the same
  server before the agent started.
- **Deployment**: on 100 nodes, a 1,000-replica Deployment is created; the time runs from the request to a
  watch seeing what ``kubectl rollout status`` waits for (every replica updated and available). The floor is the
  API alone: the same number of bare pods created from 16 connections (they name no scheduler, so nothing else
  acts on them), measured after the rollout.

Memory: every component's RSS at the end and its peak (``VmHWM``); CPU seconds each spent. Request mix: the API
server's ``apiserver_request_total`` counted over each measurement, to say where its time went.

Prints a Markdown section on stdout (bench/run.py puts it in docs/BENCHMARKS.md), progress on stderr;
``--json`` also writes the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import objects
from bench.api import combine, split
from bench.cluster import Cluster, ClusterError
from bench.loadgen import Fill
from bench.observe import Background, PodsScheduled, RolloutSeen, Throughput, throughput, watch_rollout, watch_scheduled
from bench.pidstat import MemoryWatch, Peak
from bench.probe import Probe, ProbeResult
from bench.procs import Fleet
from bench.reqcount import RequestCounts
from bench.stats import Summary

FLOOR_UPSTREAM, GOAL_THROUGHPUT = 270.0, 700.0
GOAL_DEPLOY_S, GOAL_PROBE_P99 = 15.0, 0.100
CAPACITY = "cpu=4,memory=32Gi,pods=110"           # scheduler_perf's node template
SETUP_NS, TEST_NS, DEPLOY_NS, FLOOR_NS = "sched-setup", "sched-test", "bench-deploy", "bench-floor"
RENEWAL_VERBS = ("PUT", "UPDATE")                 # a Lease renewal as upstream labels it, and as we do


@dataclass(frozen=True, slots=True)
class Sizes:
    nodes: int = 5000
    init_pods: int = 1000
    pods: int = 10000
    deploy_nodes: int = 100
    replicas: int = 1000
    probe_rate: float = 40.0                       # requests/s of the probe
    probe_seconds: float = 30.0                    # three Lease periods
    floor_probe_seconds: float = 10.0
    settle: float = 10.0                           # after start-up and after registration (one Lease period)
    clients: int = 32                              # connections per load-generator process (two processes)


QUICK = Sizes(nodes=500, init_pods=100, pods=1000, deploy_nodes=10, replicas=100, probe_seconds=10.0,
              floor_probe_seconds=3.0, settle=5.0)


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass(slots=True)
class SchedulingRun:
    throughput: Throughput | None = None
    creates: Summary | None = None                 # the load generators' creates of the measured pods
    scheduled: int = 0
    register_s: float = 0.0
    cidrs_s: float = float("nan")                  # agent ready → every node has its pod CIDR (node IPAM)
    floor_probe: ProbeResult | None = None
    heartbeat_probe: ProbeResult | None = None
    heartbeat_requests: RequestCounts | None = None
    requests: RequestCounts | None = None          # during the measured phase
    memory: dict[str, Peak] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class DeploymentRun:
    seconds: float = float("nan")                  # create request sent → rollout complete seen
    milestones: dict[str, float] = field(default_factory=dict)   # seconds after the request
    floor_seconds: float = float("nan")            # the same number of bare pods created by the benchmark
    requests: RequestCounts | None = None
    memory: dict[str, Peak] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- helpers

def wait_namespace(c: Cluster, ns: str, *, timeout: float = 60) -> None:
    """Create a namespace and wait for its ``default`` ServiceAccount (pods are refused until it exists)."""
    c.namespace(ns)
    deadline = time.monotonic() + timeout
    while c.requests([("GET", f"/api/v1/namespaces/{ns}/serviceaccounts/default", None)])[0][0] != 200:
        if time.monotonic() > deadline:
            raise ClusterError(f"namespace {ns} never got its default ServiceAccount")
        time.sleep(0.1)


def wait_pod_cidrs(c: Cluster, nodes: int, *, timeout: float, every: float = 2.0) -> float:
    """Wait until ``nodes`` nodes have ``spec.podCIDR`` (the node IPAM controller's one write per new node); the
    seconds it took. Until then registration is still going on, and the heartbeat probe would time that."""
    t0 = deadline = time.monotonic()
    deadline += timeout
    while True:
        items = c.request("GET", "/api/v1/nodes")["items"]
        done = sum(1 for n in items if (n.get("spec") or {}).get("podCIDR"))
        if done >= nodes:
            return time.monotonic() - t0
        if time.monotonic() > deadline:
            raise ClusterError(f"only {done} of {nodes} nodes got a pod CIDR within {timeout:g} s")
        time.sleep(every)


def fill_jobs(c: Cluster, ns: str, count: int, clients: int, tag: str) -> list[Fill]:
    assert c.target is not None
    jobs, start = [], 0
    for n in split(count, 2):
        jobs.append(Fill(c.target, "pods", ns, start, start + n, clients, tag=tag))
        start += n
    return jobs


def schedule_pods(c: Cluster, fleet: Fleet, ns: str, count: int, *, clients: int, tag: str,
                  timeout: float) -> tuple[PodsScheduled, Summary, float]:
    """Create ``count`` pods from the load generators while a watch records when each is bound; (what the watch
    saw, the creates' summary, the instant creation began)."""
    assert c.target is not None
    path = objects.path("pods", ns)
    rv = c.resource_version(path)
    endpoint = c.target.endpoint()
    watch = Background(lambda ready: watch_scheduled(endpoint, path, rv, expect=count, timeout=timeout,
                                                     ready=ready, prefix=f"{tag}-"))
    watch.wait_ready()
    results = fleet.run(fill_jobs(c, ns, count, clients, tag), timeout=timeout)
    seen: PodsScheduled = watch.join(timeout + 30)
    errors = [r.first_error for r in results if r.first_error]
    if errors:
        seen.error = "; ".join([seen.error, *errors]).strip("; ")
    start = min(r.started for r in results if r.started) if any(r.started for r in results) else time.monotonic()
    return seen, combine(results), start


# ---------------------------------------------------------------------------------------------- scheduling

def scheduling_run(sizes: Sizes, base: pathlib.Path, *, agents: int = 1) -> SchedulingRun:
    out = SchedulingRun()
    with Cluster(base) as c, Fleet(2) as fleet:
        mem = MemoryWatch(c.components).start()
        try:
            _scheduling(c, fleet, sizes, agents, out)
        finally:
            out.memory = mem.stop()
            out.errors += c.stop()
    return out


def _scheduling(c: Cluster, fleet: Fleet, sizes: Sizes, agents: int, out: SchedulingRun) -> None:
    assert c.target is not None
    c.wait_components(timeout=120)
    time.sleep(sizes.settle)                       # past the components' start-up (informers' initial LISTs)
    probe = Probe(c.target.endpoint())
    asyncio.run(probe.setup())
    out.floor_probe = asyncio.run(probe.run(rate=sizes.probe_rate, seconds=sizes.floor_probe_seconds))
    say(f"  probe, no nodes: p99 {out.floor_probe.pct(99) * 1e3:.1f} ms")
    for i, n in enumerate(split(sizes.nodes, agents)):
        c.add_agent(n, prefix=f"sim{i}-", capacity=CAPACITY)
    out.register_s = c.wait_agents(timeout=600)
    say(f"  {sizes.nodes} nodes ready in {out.register_s:.1f} s")
    out.cidrs_s = wait_pod_cidrs(c, sizes.nodes, timeout=600)
    say(f"  every node had its pod CIDR {out.cidrs_s:.1f} s later")
    time.sleep(sizes.settle)
    before = c.request_counts()
    out.heartbeat_probe = asyncio.run(probe.run(rate=sizes.probe_rate, seconds=sizes.probe_seconds))
    out.heartbeat_requests = c.request_counts() - before
    say(f"  probe, {sizes.nodes} nodes heart-beating: p99 {out.heartbeat_probe.pct(99) * 1e3:.1f} ms "
        f"({out.heartbeat_requests.rate(RENEWAL_VERBS, 'leases', sizes.probe_seconds):,.0f} Lease renewals/s)")
    for ns in (SETUP_NS, TEST_NS):
        wait_namespace(c, ns)
    seen, _, _ = schedule_pods(c, fleet, SETUP_NS, sizes.init_pods, clients=sizes.clients, tag="init",
                               timeout=300)
    if seen.error:
        raise ClusterError(f"initial pods: {seen.error}")
    say(f"  {len(seen.times)} initial pods placed")
    before = c.request_counts()
    seen, creates, start = schedule_pods(c, fleet, TEST_NS, sizes.pods, clients=sizes.clients, tag="measured",
                                         timeout=600)
    out.requests = c.request_counts() - before
    out.creates = creates
    out.scheduled = len(seen.times)
    if seen.error:
        out.errors.append(seen.error)
    if seen.times:
        out.throughput = throughput(list(seen.times.values()), start=start)
        t = out.throughput
        say(f"  {out.scheduled} pods scheduled: {t.average:,.0f} pods/s (1 s samples), {t.overall:,.0f} pods/s "
            f"overall over {t.span:.1f} s; created at {creates.rate:,.0f}/s")


def algorithm_floor(sizes: Sizes) -> float:
    """bench/scheduler_throughput.py's figure for the same sizes: the scheduler alone, no HTTP (pods/s)."""
    import uvloop

    from bench.scheduler_throughput import run_once
    elapsed, _, _ = uvloop.run(run_once(sizes.nodes, sizes.init_pods, sizes.pods, 0))
    return sizes.pods / elapsed


# ---------------------------------------------------------------------------------------------- deployment

def deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": DEPLOY_NS},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10",
                                                           "resources": {"requests": {"cpu": "10m",
                                                                                      "memory": "16Mi"}}}]}}}}


def bare_pod(ns: str, i: int) -> dict[str, Any]:
    """A pod nothing acts on: it names a scheduler that does not run, so it stays Pending and unbound."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"floor-{i}", "namespace": ns},
            "spec": {"schedulerName": "bench-nobody",
                     "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]}}


async def create_all(c: Cluster, bodies: list[tuple[str, dict[str, Any]]], *, connections: int = 16) -> float:
    """POST every body from ``connections`` keep-alive connections; the seconds it took."""
    import orjson

    from bench.http1 import Connection
    assert c.target is not None
    todo = iter(bodies)
    conns = [await Connection.open(c.target.endpoint()) for _ in range(connections)]
    failures: list[str] = []

    async def client(conn: Connection) -> None:
        for path, body in todo:
            status, data = await conn.request("POST", path, orjson.dumps(body))
            if status != 201:
                failures.append(f"{status} {data[:200]!r}")
    t0 = time.monotonic()
    try:
        await asyncio.gather(*(client(x) for x in conns))
    finally:
        for x in conns:
            x.close()
    if failures:
        raise ClusterError(f"{len(failures)} creates failed, first: {failures[0]}")
    return time.monotonic() - t0


def deployment_run(sizes: Sizes, base: pathlib.Path) -> DeploymentRun:
    out = DeploymentRun()
    with Cluster(base) as c:
        mem = MemoryWatch(c.components).start()
        try:
            _deployment(c, sizes, out)
        finally:
            out.memory = mem.stop()
            out.errors += c.stop()
    return out


def _deployment(c: Cluster, sizes: Sizes, out: DeploymentRun) -> None:
    assert c.target is not None
    c.wait_components(timeout=120)
    c.add_agent(sizes.deploy_nodes, prefix="dep-", capacity="cpu=32,memory=128Gi,pods=110")
    c.wait_agents(timeout=300)
    for ns in (DEPLOY_NS, FLOOR_NS):
        wait_namespace(c, ns)
    path = f"/apis/apps/v1/namespaces/{DEPLOY_NS}/deployments"
    rv = c.resource_version(path)
    endpoint = c.target.endpoint()
    watch = Background(lambda ready: watch_rollout(endpoint, path, rv, name="bench", replicas=sizes.replicas,
                                                   timeout=300, ready=ready))
    watch.wait_ready()
    before = c.request_counts()
    t0 = time.monotonic()
    c.request("POST", path, deployment("bench", sizes.replicas), ok=(201,))
    seen: RolloutSeen = watch.join(330)
    out.requests = c.request_counts() - before
    out.milestones = {k: v - t0 for k, v in seen.milestones.items()}
    if seen.error:
        out.errors.append(seen.error)
    out.seconds = out.milestones.get("complete", float("nan"))
    say(f"  {sizes.replicas}-replica Deployment rolled out in {out.seconds:.1f} s "
        f"({', '.join(f'{k} {v:.1f} s' for k, v in out.milestones.items())})")
    pods = [(objects.path("pods", FLOOR_NS), bare_pod(FLOOR_NS, i)) for i in range(sizes.replicas)]
    out.floor_seconds = asyncio.run(create_all(c, pods))
    say(f"  floor: {sizes.replicas} bare pods created in {out.floor_seconds:.1f} s")


# ---------------------------------------------------------------------------------------------- driver

@dataclass(slots=True)
class Results:
    sizes: Sizes
    agents: int
    scheduling: list[SchedulingRun] = field(default_factory=list)
    deployments: list[DeploymentRun] = field(default_factory=list)
    algorithm_floor: float = float("nan")
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def attempt(results: Results, what: str, fn: Callable[[], Any]) -> Any:
    """Run one measurement; a failure is recorded (and reported in the section), not fatal to the others."""
    try:
        return fn()
    except Exception as e:
        results.errors.append(f"{what}: {e!r}"[:1000])
        say(f"  {what} failed: {e!r}")
        return None


def run(sizes: Sizes, *, repeat: int, agents: int, scheduling: bool = True, deployments: bool = True,
        base: pathlib.Path | None = None) -> Results:
    res = Results(sizes, agents, load_before=os.getloadavg())
    t0 = time.monotonic()
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-cp-", dir=base))
    try:
        if scheduling:
            say("== scheduler, in one process (the algorithm floor)")
            res.algorithm_floor = attempt(res, "algorithm floor", lambda: algorithm_floor(sizes)) or float("nan")
            say(f"  {res.algorithm_floor:,.0f} pods/s")
            for r in range(repeat):
                say(f"== scheduling, run {r + 1}/{repeat}")
                got = attempt(res, f"scheduling run {r + 1}", lambda r=r: scheduling_run(
                    sizes, work / f"sched-{r}", agents=agents))
                if got is not None:
                    res.scheduling.append(got)
        if deployments:
            for r in range(repeat):
                say(f"== deployment, run {r + 1}/{repeat}")
                got = attempt(res, f"deployment run {r + 1}", lambda r=r: deployment_run(sizes, work / f"dep-{r}"))
                if got is not None:
                    res.deployments.append(got)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res.load_after = os.getloadavg()
    res.seconds = time.monotonic() - t0
    return res


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.control_plane", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke test, not figures")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each benchmark, each on a fresh cluster "
                                                         "(medians reported)")
    ap.add_argument("--agents", type=int, default=1, help="agent processes sharing the simulated nodes")
    ap.add_argument("--skip-scheduling", action="store_true")
    ap.add_argument("--skip-deployment", action="store_true")
    ap.add_argument("--json", type=pathlib.Path, default=None, help="also write the figures here")
    ap.add_argument("--dir", type=pathlib.Path, default=None, help="where temporary data goes")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from bench.control_plane_report import as_json, render
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)     # stop the clusters by PID on the way out, not orphan them
    sizes = QUICK if args.quick else Sizes()
    res = run(sizes, repeat=max(1, args.repeat), agents=max(1, args.agents), scheduling=not args.skip_scheduling,
              deployments=not args.skip_deployment, base=args.dir)
    print(render(res))
    if args.json:
        args.json.write_text(json.dumps(as_json(res), indent=2))
    return 1 if res.errors else 0


def _terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")

if __name__ == "__main__":
    sys.exit(main())
