"""docs/BENCHMARKS.md rendering: every goal beside its floor and verdict, the machine, the command."""

from __future__ import annotations

import pytest
from bench.api import APIResults, Measured
from bench.report import (
    KEPT_NOTE,
    Machine,
    Report,
    Section,
    carry_over,
    ms,
    per_s,
    ratio,
    render,
    split_sections,
    verdict,
)
from bench.stats import Summary


def s(rate: float, p50: float, p99: float, count: int = 100, errors: int = 0) -> Summary:
    return Summary(count, rate, p50, p99, p99, errors)


def report() -> Report:
    api = APIResults()
    api.paced[("pods", "create")] = Measured(s(100, 0.004, 0.020, 500), 600.0)
    api.paced[("configmaps", "update")] = Measured(s(100, 0.004, 0.080, 500), 500.0)
    api.creates16 = Measured(s(1600, 0.009, 0.030), 580.0)
    api.list10k = Measured(s(2, 0.30, 0.45, 10), 9000.0, note="10,000 items, 30.0 MB")
    api.watch1000 = Measured(s(10000, 0.030, 0.150, 50000), note="50,000 deliveries")
    api.fill = Measured(s(1400, 0.04, 0.1, 10000), 650.0)
    for kind in ("configmaps", "pods"):
        for op in ("create", "get", "update", "list", "watch"):
            for n in (1, 16, 64):
                api.matrix[(kind, op, n)] = Measured(s(1000, 0.001 * n, 0.003 * n), 400.0)
    api.errors.append("POST /x: 500 boom")
    floor = {"store creates 1": Summary(0, 3000, float("nan"), float("nan"), float("nan")),
             "store creates 16": Summary(0, 15000, float("nan"), float("nan"), float("nan")),
             "store updates 1": s(2000, 0.0004, 0.002), "store get (current)": s(100000, 0.00001, 0.00002),
             "store list 10,000 keys": s(20, 0.045, 0.05), "raw rows/s batch 1": Summary(0, 3500, 0, 0, 0)}
    etcd = {"raw creates 1": s(1000, 0.001, 0.004), "store creates 1": s(900, 0.001, 0.005),
            "raw get": s(2000, 0.0005, 0.001), "store get": s(1900, 0.0005, 0.001)}
    return Report(date="2026-11-27 05:00 UTC", command="python -m bench.run --out docs/BENCHMARKS.md",
                  commit="`abc1234`", machine=Machine(2, "AMD EPYC", "6.18", "3.11.7", "3.40.1", (1.0, 2.0, 3.0),
                                                     (1.5, 2.5, 3.5)),
                  seconds=420.0, api=api, sqlite_floor=floor, etcd_floor=etcd)


def test_render_names_machine_command_and_date() -> None:
    text = render(report())
    assert "`python -m bench.run --out docs/BENCHMARKS.md`" in text and "2026-11-27 05:00 UTC" in text
    assert "2 CPUs (AMD EPYC), Linux 6.18, Python 3.11.7, SQLite 3.40.1" in text
    assert "before: 1.00 / 2.00 / 3.00; after: 1.50 / 2.50 / 3.50" in text


def test_goals_stand_beside_their_floor_and_verdict() -> None:
    lines = render(report()).splitlines()
    paced_pods = next(x for x in lines if "paced 100 writes/s: pods create" in x)
    assert "p99 **20.0 ms**" in paced_pods and "≤ 50 ms" in paced_pods and "**met**" in paced_pods
    assert "SQLiteStore create, 1 writer: 3,000/s" in paced_pods
    paced_cm = next(x for x in lines if "paced 100 writes/s: configmaps update" in x)
    assert "**not met**" in paced_cm and "p99 2.00 ms" in paced_cm
    creates = next(x for x in lines if x.startswith("| creates/s, 16 concurrent clients (pods)"))
    assert "**1,600/s**" in creates and "15,000/s (0.11×)" in creates and "**met**" in creates
    assert "580 µs/op = 1,724/s on one free core" in creates
    lst = next(x for x in lines if "LIST of 10,000 pods" in x)
    assert "p50 **300.0 ms**" in lst and "45.0 ms" in lst and "**met**" in lst
    watch = next(x for x in lines if "watchers each seeing" in x)
    assert "p99 **150.0 ms**" in watch and "**not met**" in watch


def test_matrix_rows_carry_floor_and_ratio() -> None:
    lines = render(report()).splitlines()
    row = next(x for x in lines if x.startswith("| pods | create | 16 |"))
    assert "400 µs" in row and "SQLiteStore create ×16: 15,000/s" in row and "0.07×" in row
    assert sum(1 for x in lines if x.startswith("| configmaps |")) == 15


def test_errors_and_etcd_floor_are_listed() -> None:
    text = render(report())
    assert "`POST /x: 500 boom`" in text
    assert "| creates, 1 writer | 1,000/s (p99 4.00 ms) | 900/s (p99 5.00 ms) | 0.90× |" in text


def test_no_etcd() -> None:
    r = report()
    r.etcd_floor = None
    assert "etcd is not installed" in render(r)


def test_formatting_helpers() -> None:
    assert ms(float("nan")) == "—" and ms(0.0012) == "1.20 ms" and ms(0.25) == "250.0 ms"
    assert per_s(0) == "—" and per_s(1234.4) == "1,234/s"
    assert ratio(1, 0) == "—" and ratio(3, 2) == "1.50×"
    assert verdict(None) == "—" and verdict(True) == "**met**"


def test_other_benchmarks_are_quoted() -> None:
    r = report()
    r.others.append(("Scheduler throughput", "python -m bench.scheduler_throughput", "1,500 pods/s"))
    text = render(r)
    assert "### Scheduler throughput\n\n`python -m bench.scheduler_throughput`\n\n```\n1,500 pods/s\n```" in text


def test_an_own_section_is_rendered_under_its_heading_and_skipped_floors_are_not() -> None:
    r = report()
    r.sections.append(Section("Control plane end to end (issue 3)", "python -m bench.control_plane",
                              "### End to end\n\n| a | b |\n"))
    r.skipped = frozenset({"floor", "etcd"})
    text = render(r)
    assert "## Control plane end to end (issue 3)\n\n`python -m bench.control_plane`\n\n### End to end" in text
    assert "## Floor: SQLite" not in text and "## Floor: etcd" not in text


OLD = """# Benchmarks

Written by `python -m bench.run` on 2026-11-01 10:00 UTC in 9.0 min, at commit `abc`.

## Goals (issue 2)

old goals

## Floor: SQLite on this machine

old sqlite

## Other components' benchmarks

### Scheduler

old scheduler
"""

NEW = """# Benchmarks

Written by `python -m bench.run --skip-floor --skip-others` on 2026-11-02 10:00 UTC in 1.0 min.

## Goals (issue 2)

new goals

## Control plane end to end (issue 3)

new control plane
"""


def test_carry_over_keeps_skipped_sections_in_place_and_dated() -> None:
    text = carry_over(NEW, OLD, titles=("Floor: SQLite", "Other components"), why="skipped with --skip-floor")
    _, sections = split_sections(text)
    assert [t for t, _ in sections] == ["Goals (issue 2)", "Control plane end to end (issue 3)",
                                       "Floor: SQLite on this machine", "Other components' benchmarks"]
    assert "new goals" in text and "old goals" not in text                 # re-measured: the new figures
    floor = dict(sections)["Floor: SQLite on this machine"]
    assert floor.startswith("## Floor: SQLite on this machine\n\n*Not re-run") and "2026-11-01 10:00 UTC" in floor
    assert "old sqlite" in floor and "### Scheduler\n\nold scheduler" in text


def test_carry_over_twice_keeps_the_date_of_the_measurement() -> None:
    once = carry_over(NEW, OLD, titles=("Floor: SQLite",), why="skipped")
    newer = NEW.replace("2026-11-02", "2026-11-03")
    twice = carry_over(newer, once, titles=("Floor: SQLite",), why="skipped")
    assert twice.count(KEPT_NOTE) == 1 and "2026-11-01 10:00 UTC" in twice


@pytest.mark.parametrize("titles", [(), ("Goals",), ("Nothing like it",)])
def test_carry_over_changes_nothing_when_nothing_is_missing(titles: tuple[str, ...]) -> None:
    assert carry_over(NEW, OLD, titles=titles, why="x") == NEW
