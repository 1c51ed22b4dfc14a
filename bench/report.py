"""docs/BENCHMARKS.md from the measurements: pure formatting, no I/O.

Every API figure stands beside the floor it is compared with (the same operation done directly on the store)
and, for issue 2's goals, the goal and whether it was met.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from bench.api import CLIENT_COUNTS, OPS, APIResults, Measured
from bench.objects import KINDS
from bench.stats import Summary


@dataclass(frozen=True, slots=True)
class Machine:
    cpus: int
    cpu_model: str
    kernel: str
    python: str
    sqlite: str
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class Section:
    """A benchmark that renders its own Markdown (bench/control_plane.py, bench/proxy.py): placed under a ``## ``
    heading of its own, with the command that produced it."""

    title: str
    command: str
    markdown: str


@dataclass(slots=True)
class Report:
    date: str
    command: str
    commit: str
    machine: Machine
    seconds: float                                   # wall time of the whole run
    api: APIResults | None = None
    sqlite_floor: dict[str, Summary] = field(default_factory=dict)
    etcd_floor: dict[str, Summary] | None = None
    options: str = ""
    others: list[tuple[str, str, str]] = field(default_factory=list)    # (title, command, output)
    sections: list[Section] = field(default_factory=list)
    skipped: frozenset[str] = frozenset()            # steps not run ("floor", "etcd", ...): nothing rendered


def ms(x: float) -> str:
    if x != x:                                       # NaN: no sample
        return "—"
    return f"{x * 1e3:.2f} ms" if x < 0.01 else f"{x * 1e3:.1f} ms"


def per_s(x: float) -> str:
    return "—" if x != x or x == 0 else f"{x:,.0f}/s"


def ratio(a: float, b: float) -> str:
    if not (a > 0 and b > 0) or math.isinf(a) or math.isinf(b):
        return "—"
    return f"{a / b:.2f}×"


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("**met**" if ok else "**not met**")


def _capacity(m: Measured) -> str:
    """What one whole core would serve at this CPU per operation: the throughput the load of other work on a
    shared machine hides."""
    cpu = m.server_cpu_us
    return f" = {1e6 / cpu:,.0f}/s on one free core" if cpu == cpu and cpu > 0 else ""


def _cpu(m: Measured) -> str:
    return "—" if m.server_cpu_us != m.server_cpu_us else f"{m.server_cpu_us:,.0f} µs"


def render(r: Report) -> str:
    out = [
        "# Benchmarks",
        "",
        f"Written by `{r.command}` on {r.date} in {r.seconds / 60:.1f} min, at commit {r.commit}. "
        "Re-run with `make bench`; bench/ holds the code, and bench/api.py's docstring says what each figure is.",
        "",
        _machine(r.machine),
        "",
        "How it is measured: a real `pybernetes server` process (SQLite store, uvloop, no scheduler or "
        "controllers) is driven over HTTPS with the admin client certificate by separate load-generator "
        "processes (bench/loadgen.py: uvloop and a minimal keep-alive HTTP/1.1 client), so the client's CPU is "
        "not the server's. Latency is per request: p50/p99 nearest-rank; in paced runs it counts from the "
        "scheduled send time. Watch latency is from the writer's send time (stamped in the object) to the "
        "watcher's receipt. *Server CPU/op* is the server process's user+system CPU time from the start instant "
        "(connection set-up excluded) to the end of the run, divided by the operations (for watches: by the events "
        "delivered, the writer's updates included). The load generators share the machine's cores with the "
        "server, and so does anything else running: throughput is a lower bound, CPU/op the steadier figure (on "
        "this shared machine, runs an hour apart differed by up to 3× in throughput and p99, ~1.5× in CPU/op).",
        "",
    ]
    if r.options:
        out += [f"Options: {r.options}", ""]
    if r.api is not None:
        out += [*_goals(r), "", *_matrix(r), ""]
    for sec in r.sections:
        out += [f"## {sec.title}", "", f"`{sec.command}`", "", sec.markdown.strip(), ""]
    if "floor" not in r.skipped:
        out += [*_sqlite(r), ""]
    if "etcd" not in r.skipped:
        out += [*_etcd(r), ""]
    if out[-1] == "":
        out.pop()
    if r.others:
        out += ["", "## Other components' benchmarks", "",
                "Run by bench/run.py as their own modules; their output as printed."]
        for title, command, text in r.others:
            out += ["", f"### {title}", "", f"`{command}`", "", "```", text, "```"]
    if r.api is not None and r.api.errors:
        out += ["", "## Errors seen during the run", ""]
        out += [f"- `{e[:300]}`" for e in sorted(set(r.api.errors))[:20]]
    return "\n".join(out) + "\n"


def _machine(m: Machine) -> str:
    def load(x: tuple[float, float, float]) -> str:
        return " / ".join(f"{v:.2f}" for v in x)
    return (f"Machine: {m.cpus} CPUs ({m.cpu_model}), Linux {m.kernel}, Python {m.python}, SQLite {m.sqlite}. "
            f"Load average (1/5/15 min) before: {load(m.load_before)}; after: {load(m.load_after)}.")


def _goals(r: Report) -> list[str]:
    api = r.api
    assert api is not None
    f = r.sqlite_floor
    rows = ["## Goals (issue 2)", "",
            "| figure | measured | goal | floor (same operation on the store) | verdict |",
            "|---|---|---|---|---|"]
    store_upd = f.get("store updates 1")
    store_cr = f.get("store creates 1")
    for (kind, op), m in api.paced.items():
        s = m.summary
        floor = store_cr if op == "create" else store_upd
        floor_txt = f"SQLiteStore {op}, 1 writer: p99 {ms(floor.p99)}" if floor and floor.p99 == floor.p99 else \
            (f"SQLiteStore {op}, 1 writer: {per_s(floor.rate)}" if floor else "—")
        rows.append(f"| single-object write at a paced 100 writes/s: {kind} {op} | p99 **{ms(s.p99)}** "
                    f"(p50 {ms(s.p50)}, {s.count} writes, server {_cpu(m)}/op) | p99 ≤ 50 ms | {floor_txt} "
                    f"| {verdict(s.p99 <= 0.05 and not s.errors)} |")
    if api.creates16 is not None:
        s = api.creates16.summary
        floor16, raw1 = f.get("store creates 16"), f.get("raw rows/s batch 1")
        floor_txt = "; ".join(x for x in (
            f"SQLiteStore, 16 writers: {per_s(floor16.rate)} ({ratio(s.rate, floor16.rate)})" if floor16 else "",
            f"raw SQLite 1-row txn: {per_s(raw1.rate)}" if raw1 else "") if x) or "—"
        rows.append(f"| creates/s, 16 concurrent clients (pods) | **{per_s(s.rate)}** (p50 {ms(s.p50)}, "
                    f"p99 {ms(s.p99)}, server {_cpu(api.creates16)}/op{_capacity(api.creates16)}) | ≥ 1,500/s "
                    f"| {floor_txt} | {verdict(s.rate >= 1500)} |")
        cm = api.matrix.get(("configmaps", "create", 16))
        if cm is not None:
            rows.append(f"| creates/s, 16 concurrent clients (ConfigMaps, from the matrix) | "
                        f"**{per_s(cm.summary.rate)}** (server {_cpu(cm)}/op{_capacity(cm)}) | ≥ 1,500/s | "
                        f"{ratio(cm.summary.rate, floor16.rate) if floor16 else '—'} of the store "
                        f"| {verdict(cm.summary.rate >= 1500)} |")
    if api.list10k is not None:
        s = api.list10k.summary
        floor = f.get("store list 10,000 keys")
        floor_txt = f"SQLiteStore list of 10,000 keys: p50 {ms(floor.p50)}" if floor else "—"
        rows.append(f"| LIST of 10,000 pods (one namespace, whole body received) | p50 **{ms(s.p50)}**, "
                    f"p99 {ms(s.p99)} ({api.list10k.note}) | ≤ 500 ms | {floor_txt} "
                    f"| {verdict(s.p99 <= 0.5 and not s.errors)} |")
    if api.watch1000 is not None:
        s = api.watch1000.summary
        a = api.watch1000.after_ack
        ack = f"; from the write's acknowledgement: p50 {ms(a.p50)}, p99 {ms(a.p99)}" if a is not None else ""
        rows.append(f"| 1,000 concurrent watchers each seeing an event: write sent → event received | p99 "
                    f"**{ms(s.p99)}** (p50 {ms(s.p50)}{ack}; server {_cpu(api.watch1000)}/delivery; "
                    f"{api.watch1000.note}) | p99 ≤ 100 ms | the write itself: paced rows above "
                    f"| {verdict(s.p99 <= 0.1 and not s.errors)} |")
    if api.fill is not None:
        s = api.fill.summary
        rows += ["", f"Creating the 10,000 pods for the LIST (64 clients over two processes): {per_s(s.rate)}, "
                     f"p50 {ms(s.p50)}, p99 {ms(s.p99)}, server {_cpu(api.fill)}/op."]
    return rows


def _matrix_floor(r: Report, op: str, clients: int, m: Measured) -> tuple[str, str]:
    f = r.sqlite_floor
    if op in ("create", "update"):
        floor = f.get(f"store {op}s {clients}")
        if floor:
            return f"SQLiteStore {op} ×{clients}: {per_s(floor.rate)}", ratio(m.summary.rate, floor.rate)
    if op == "get":
        floor = f.get("store get (current)")
        if floor:       # latencies compare without queueing only for one client
            return f"SQLiteStore get: p50 {ms(floor.p50)}", ratio(m.summary.p50, floor.p50) if clients == 1 else "—"
    return "—", "—"


def _matrix(r: Report) -> list[str]:
    api = r.api
    assert api is not None
    rows = ["## API matrix: ConfigMaps and Pods with 1, 16 and 64 concurrent clients", "",
            "Closed loop: each client sends its next request when the previous one is answered. get/update/list "
            "work on a namespace of 128 objects; watch is N watchers of a namespace while one object in it "
            "changes 50 times a second (throughput = events delivered per second, over all watchers). The ratio "
            "is API/store for throughput, API/store p50 for get with one client.",
            "",
            "| kind | op | clients | throughput | p50 | p99 | server CPU/op | floor | ratio |",
            "|---|---|---|---|---|---|---|---|---|"]
    for kind in KINDS:
        for op in (*OPS, "watch"):
            for n in CLIENT_COUNTS:
                m = api.matrix.get((kind, op, n))
                if m is None:
                    continue
                s = m.summary
                floor, rat = _matrix_floor(r, op, n, m)
                err = f" ({s.errors} errors)" if s.errors else ""
                rows.append(f"| {kind} | {op} | {n} | {per_s(s.rate)}{err} | {ms(s.p50)} | {ms(s.p99)} | "
                            f"{_cpu(m)} | {floor} | {rat} |")
    return rows


def _sqlite(r: Report) -> list[str]:
    rows = ["## Floor: SQLite on this machine", "",
            "Raw `sqlite3` (WAL, synchronous=FULL, 1 KiB values: one fsync per commit) and the project's "
            "`SQLiteStore` (group commit: every write pending when the writer thread is free shares one "
            "transaction). Measured by bench/floors.py with bench/store_floor.py's functions, on uvloop.", "",
            "| figure | throughput | p50 | p99 |", "|---|---|---|---|"]
    for name, s in r.sqlite_floor.items():
        rows.append(f"| {name} | {per_s(s.rate)} | {ms(s.p50)} | {ms(s.p99)} |")
    return rows


def _etcd(r: Report) -> list[str]:
    rows = ["## Floor: etcd", ""]
    if r.etcd_floor is None:
        return [*rows, "etcd is not installed on this machine: no etcd floor."]
    e = r.etcd_floor
    rows += ["One local etcd member (Debian's etcd-server; fsync per commit). *raw* is bare JSON-gateway calls "
             "from a keep-alive HTTP client; *EtcdStore* is pybernetes.storage.etcd doing the same transaction.",
             "", "| figure | raw gateway | EtcdStore | EtcdStore/raw |", "|---|---|---|---|"]
    for w in (1, 16):
        raw, st = e.get(f"raw creates {w}"), e.get(f"store creates {w}")
        if raw and st:
            rows.append(f"| creates, {w} writer{'s' if w > 1 else ''} | {per_s(raw.rate)} (p99 {ms(raw.p99)}) | "
                        f"{per_s(st.rate)} (p99 {ms(st.p99)}) | {ratio(st.rate, raw.rate)} |")
    raw, st = e.get("raw get"), e.get("store get")
    if raw and st:
        rows.append(f"| get, p50 (p99) | {ms(raw.p50)} ({ms(raw.p99)}) | {ms(st.p50)} ({ms(st.p99)}) | "
                    f"{ratio(st.p50, raw.p50)} |")
    return rows


# ---------------------------------------------------------------------------------------------- carry-over

_HEADING = re.compile(r"^## (.+)$", re.M)
_WRITTEN = re.compile(r"^Written by .*? on (\d{4}-\d\d-\d\d \d\d:\d\d UTC)", re.M)
KEPT_NOTE = "*Not re-run by the run above"


def split_sections(text: str) -> tuple[str, list[tuple[str, str]]]:
    """(what precedes the first ``## `` heading, [(heading title, the section's whole text)])."""
    marks = list(_HEADING.finditer(text))
    if not marks:
        return text, []
    ends = [m.start() for m in marks[1:]] + [len(text)]
    return text[:marks[0].start()], [(m.group(1).strip(), text[m.start():end].rstrip("\n") + "\n")
                                     for m, end in zip(marks, ends, strict=True)]


# The document's "## " sections in the order render() writes them (by title prefix): where a kept one goes.
ORDER = ("Goals (issue 2)", "API matrix", "Control plane", "Service proxy", "Pod start-up", "Floor: SQLite",
         "Floor: etcd", "Other components", "Errors seen", "Steps that failed")


def rank(title: str) -> int:
    return next((i for i, prefix in enumerate(ORDER) if title.startswith(prefix)), len(ORDER))


def carry_over(new: str, old: str, *, titles: Iterable[str], why: str) -> str:
    """``new`` with the sections of ``old`` whose title starts with one of ``titles`` and which ``new`` lacks (a
    step skipped this time), each in its place in :data:`ORDER` and marked as kept, with the date of the run
    that measured it: a partial ``make bench`` must not lose the figures it did not re-measure."""
    prefixes = tuple(titles)
    if not prefixes:
        return new
    head, sections = split_sections(new)
    _, previous = split_sections(old)
    have = {t for t, _ in sections}
    written = _WRITTEN.search(old)
    when = written.group(1) if written else "an earlier run"
    for title, text in previous:
        if title in have or not title.startswith(prefixes):
            continue
        heading, _, body = text.partition("\n")
        if not body.lstrip().startswith(KEPT_NOTE):
            body = f"\n{KEPT_NOTE} ({why}): these figures are from {when}.*\n{body}"
        r = rank(title)
        at = next((i for i, (t, _) in enumerate(sections) if rank(t) > r), len(sections))
        sections.insert(at, (title, f"{heading}\n{body}"))
        have.add(title)
    return head + "\n".join(text for _, text in sections)
