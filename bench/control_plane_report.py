"""The Markdown section (and JSON) of bench/control_plane.py's results: pure formatting, no I/O.

Each figure stands beside its goal and its floor; repeated runs are summarised by their median (each run is a
fresh cluster on a shared machine), with every run's figure listed after, so the spread is visible.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from bench.control_plane import (
    FLOOR_UPSTREAM,
    GOAL_DEPLOY_S,
    GOAL_PROBE_P99,
    GOAL_THROUGHPUT,
    RENEWAL_VERBS,
    DeploymentRun,
    Results,
    SchedulingRun,
)
from bench.pidstat import Peak
from bench.probe import OPS, ProbeResult
from bench.reqcount import RequestCounts

COMPONENTS = ("apiserver", "controller-manager", "scheduler")


def median(xs: Iterable[float]) -> float:
    ys = [x for x in xs if x == x]
    return statistics.median(ys) if ys else math.nan


def ms(x: float) -> str:
    return "—" if x != x else (f"{x * 1e3:.2f} ms" if x < 0.01 else f"{x * 1e3:.1f} ms")


def secs(x: float) -> str:
    return "—" if x != x else f"{x:.1f} s"


def rate(x: float) -> str:
    return "—" if x != x else f"{x:,.0f} pods/s"


def mib(kib: float) -> str:
    return "—" if kib != kib else f"{kib / 1024:,.0f} MiB"


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("**met**" if ok else "**not met**")


def each(xs: Sequence[float], fmt: Callable[[float], str]) -> str:
    return ", ".join(fmt(x) for x in xs)


# ---------------------------------------------------------------------------------------------- figures

def throughputs(runs: Sequence[SchedulingRun]) -> list[float]:
    return [r.throughput.average if r.throughput else math.nan for r in runs]


def probe_p99(runs: Sequence[SchedulingRun], *, floor: bool) -> list[float]:
    got = [r.floor_probe if floor else r.heartbeat_probe for r in runs]
    return [x.pct(99) if x is not None else math.nan for x in got]


def lease_rates(runs: Sequence[SchedulingRun], seconds: float) -> list[float]:
    return [r.heartbeat_requests.rate(RENEWAL_VERBS, "leases", seconds) if r.heartbeat_requests else math.nan
            for r in runs]


def agents_memory(memory: dict[str, Peak]) -> Peak:
    """The agents together (they may be several processes)."""
    ps = [p for name, p in memory.items() if name.startswith("agent")]
    return Peak(sum(p.rss_kib for p in ps), sum(p.hwm_kib for p in ps), sum(p.cpu_s for p in ps))


def component_memory(memory: dict[str, Peak], name: str) -> Peak | None:
    return agents_memory(memory) if name == "agents" else memory.get(name)


def _goal_rows(res: Results) -> list[str]:
    s, sched, deps = res.sizes, res.scheduling, res.deployments
    n = max(len(sched), len(deps))
    rows = ["| figure | measured (median) | goal | floor | verdict |", "|---|---|---|---|---|"]
    if sched:
        t = median(throughputs(sched))
        overall = median(r.throughput.overall for r in sched if r.throughput)
        p90 = median(r.throughput.p90 for r in sched if r.throughput)
        created = median(r.creates.rate for r in sched if r.creates)
        rows.append(
            f"| scheduling throughput: {s.pods:,} pods on {s.nodes:,} simulated nodes, {s.init_pods:,} placed first "
            f"(SchedulingBasic shape, through the API server, agents running the pods) | **{rate(t)}** (average of "
            f"1 s samples; p90 {rate(p90)}; plain rate {rate(overall)}; pods created at {created:,.0f}/s) "
            f"| ≥ {GOAL_THROUGHPUT:,.0f} pods/s | kube-scheduler CI floor {FLOOR_UPSTREAM:,.0f} pods/s; this "
            f"scheduler alone in one process, no HTTP: {rate(res.algorithm_floor)} "
            f"| {verdict(t >= GOAL_THROUGHPUT if t == t else None)} |")
        hb, fl = median(probe_p99(sched, floor=False)), median(probe_p99(sched, floor=True))
        hb50 = median(r.heartbeat_probe.pct(50) for r in sched if r.heartbeat_probe)
        leases = median(lease_rates(sched, s.probe_seconds))
        rows.append(
            f"| API latency while {s.nodes:,} simulated nodes heart-beat (paced probe, {s.probe_rate:g} requests/s "
            f"for {s.probe_seconds:g} s: GET, LIST, update, create) | p99 **{ms(hb)}** (p50 {ms(hb50)}; "
            f"{leases:,.0f} Lease renewals/s) | p99 ≤ {GOAL_PROBE_P99 * 1e3:.0f} ms | the same probe, same server, "
            f"no nodes: p99 {ms(fl)} | {verdict(hb <= GOAL_PROBE_P99 if hb == hb else None)} |")
    if deps:
        d = median(r.seconds for r in deps)
        created = median(r.milestones.get("created", math.nan) for r in deps)
        ready = median(r.milestones.get("ready", math.nan) for r in deps)
        floor = median(r.floor_seconds for r in deps)
        rows.append(
            f"| {s.replicas:,}-replica Deployment fully Running on {s.deploy_nodes} simulated nodes (request → "
            f"every replica updated and available, as `kubectl rollout status`, seen by a watch) | **{secs(d)}** "
            f"(all pods created by {secs(created)}, all ready by {secs(ready)}) | ≤ {GOAL_DEPLOY_S:g} s | the API "
            f"alone creating {s.replicas:,} bare pods from 16 connections: {secs(floor)} "
            f"| {verdict(d <= GOAL_DEPLOY_S if d == d else None)} |")
    if n:
        with_nodes, without = each(probe_p99(sched, floor=False), ms), each(probe_p99(sched, floor=True), ms)
        rows += ["", f"Each run: scheduling {each(throughputs(sched), rate) or '—'}; probe p99 with nodes "
                     f"{with_nodes or '—'}, without {without or '—'}; "
                     f"Deployment {each([r.seconds for r in deps], secs) or '—'}. Nodes registered (agent start → "
                     f"ready) in {each([r.register_s for r in sched], secs) or '—'}; every node had its pod CIDR "
                     f"(node IPAM) {each([r.cidrs_s for r in sched], secs) or '—'} after that, before the "
                     f"heartbeat probe began."]
    return rows


def _memory_rows(res: Results) -> list[str]:
    s = res.sizes
    cols = []
    if res.scheduling:
        cols.append((f"scheduling ({s.nodes:,} nodes, {s.init_pods + s.pods:,} pods)", res.scheduling))
    if res.deployments:
        cols.append((f"Deployment ({s.deploy_nodes} nodes, {s.replicas:,} pods)", res.deployments))
    if not cols:
        return []
    rows = ["Memory and CPU of each process (median over runs): RSS at the end / peak RSS (VmHWM) / CPU seconds "
            "over the whole run.", "",
            "| process | " + " | ".join(title for title, _ in cols) + " |", "|---|" + "---|" * len(cols)]
    for name in (*COMPONENTS, "agents"):
        cells = []
        for _, runs in cols:
            ps = [p for r in runs if (p := component_memory(r.memory, name)) is not None]
            if not ps:
                cells.append("—")
                continue
            cells.append(f"{mib(median(p.rss_kib for p in ps))} / {mib(median(p.hwm_kib for p in ps))} / "
                         f"{median(p.cpu_s for p in ps):,.0f} s")
        label = f"agent{'s' if res.agents > 1 else ''} ({res.agents} process{'es' if res.agents > 1 else ''})" \
            if name == "agents" else name
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return rows


def _mix(counts: Sequence[RequestCounts | None], per: float, unit: str) -> str:
    """The request kinds of the median run, per ``unit``."""
    got = [c for c in counts if c is not None]
    if not got or per <= 0:
        return "—"
    mid = sorted(got, key=lambda c: c.total())[len(got) // 2]
    return ", ".join(f"{name} {v / per:,.2f}" for name, v in mid.top(7))


def _mix_rows(res: Results) -> list[str]:
    s = res.sizes
    rows = []
    if res.scheduling:
        rows.append(f"- scheduling, measured phase, requests per measured pod: "
                    f"{_mix([r.requests for r in res.scheduling], s.pods, 'pod')}")
        rows.append(f"- heart-beating, requests per second: "
                    f"{_mix([r.heartbeat_requests for r in res.scheduling], s.probe_seconds, 's')} "
                    f"(the probe's own included)")
    if res.deployments:
        mix = _mix([r.requests for r in res.deployments], s.replicas, "pod")
        rows.append(f"- Deployment, requests per replica: {mix}")
    return ["What the API server handled (`apiserver_request_total`, watches left out):", "", *rows] if rows else []


def _probe_rows(res: Results) -> list[str]:
    runs = [r for r in res.scheduling if r.heartbeat_probe is not None and r.floor_probe is not None]
    if not runs:
        return []
    rows = ["Probe latency per request kind (median run's p50 / p99):", "",
            "| request | no nodes | " + f"{res.sizes.nodes:,} nodes heart-beating |", "|---|---|---|"]

    def cell(p: ProbeResult | None, op: str) -> str:
        return "—" if p is None else f"{ms(p.pct(50, op))} / {ms(p.pct(99, op))}"
    mid = sorted(runs, key=lambda r: r.heartbeat_probe.pct(99))[len(runs) // 2]  # type: ignore[union-attr]
    for op in OPS:
        rows.append(f"| {op} | {cell(mid.floor_probe, op)} | {cell(mid.heartbeat_probe, op)} |")
    errs = sum(r.heartbeat_probe.errors + r.floor_probe.errors for r in runs)  # type: ignore[union-attr]
    extra = sum(r.heartbeat_probe.extra_connections for r in runs)  # type: ignore[union-attr]
    if errs or extra:
        rows += ["", f"Probe errors: {errs}; connections opened because all were busy: {extra}."]
    return rows


def render(res: Results) -> str:
    s = res.sizes

    def load(x: tuple[float, float, float]) -> str:
        return " / ".join(f"{v:.2f}" for v in x)
    n = max(len(res.scheduling), len(res.deployments))
    out = [f"### End to end: scheduler, controllers and simulated nodes (issue 3), median of {n} run"
           f"{'s' if n != 1 else ''}", "",
           f"`python -m bench.control_plane` in {res.seconds / 60:.1f} min: every run a fresh `pybernetes server` "
           f"(API server, controller manager and scheduler processes) and {res.agents} `pybernetes agent "
           f"--simulated` process{'es' if res.agents > 1 else ''}; load from two load-generator processes "
           f"({s.clients} connections each); what the benchmark waits for is seen by watches. Load average "
           f"(1/5/15 min) before: {load(res.load_before)}; after: {load(res.load_after)} (a shared machine: "
           f"throughput and latency vary with it).", "",
           *_goal_rows(res)]
    for part in (_probe_rows(res), _memory_rows(res), _mix_rows(res)):
        if part:
            out += ["", *part]
    errors = [*res.errors, *(e for r in res.scheduling for e in r.errors),
              *(e for r in res.deployments for e in r.errors)]
    if errors:
        out += ["", "Errors:", "", *(f"- `{e[:400]}`" for e in errors[:10])]
    return "\n".join(out)


def as_json(res: Results) -> dict[str, Any]:
    def sched(r: SchedulingRun) -> dict[str, Any]:
        t = r.throughput
        return {"throughput_avg": t.average if t else None, "throughput_overall": t.overall if t else None,
                "scheduled": r.scheduled, "register_s": r.register_s, "cidrs_s": r.cidrs_s,
                "probe_p99_no_nodes": r.floor_probe.pct(99) if r.floor_probe else None,
                "probe_p99_heartbeats": r.heartbeat_probe.pct(99) if r.heartbeat_probe else None,
                "memory_kib": {k: [p.rss_kib, p.hwm_kib] for k, p in r.memory.items()}, "errors": r.errors}

    def dep(r: DeploymentRun) -> dict[str, Any]:
        return {"seconds": r.seconds, "milestones": r.milestones, "floor_seconds": r.floor_seconds,
                "memory_kib": {k: [p.rss_kib, p.hwm_kib] for k, p in r.memory.items()}, "errors": r.errors}
    return {"sizes": {k: getattr(res.sizes, k) for k in res.sizes.__dataclass_fields__},
            "algorithm_floor": res.algorithm_floor, "scheduling": [sched(r) for r in res.scheduling],
            "deployments": [dep(r) for r in res.deployments], "errors": res.errors}
