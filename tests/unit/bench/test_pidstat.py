"""bench/pidstat.py: per-process memory and CPU from /proc texts, components found among a server's children."""

from __future__ import annotations

import os
import pathlib

import pytest
from bench.pidstat import (
    MemoryWatch,
    Usage,
    children,
    component_name,
    parse_ppid,
    parse_stat_cpu,
    parse_status,
    usage,
)

STATUS = "Name:\tpython\nVmPeak:\t  900000 kB\nVmHWM:\t  406984 kB\nVmRSS:\t  206256 kB\nThreads:\t3\n"
# the command may hold spaces and parentheses: fields are counted after the last ")"
STAT = "4242 (python -m (x)) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 100 0 0"


def test_parse_status() -> None:
    assert parse_status(STATUS) == (206256, 406984)
    assert parse_status("Name:\tzombie\nState:\tZ\n") == (0, 0)


def test_parse_stat() -> None:
    assert parse_stat_cpu(STAT, ticks=100) == 3.0           # utime 250 + stime 50 ticks
    assert parse_ppid(STAT) == 17


@pytest.mark.parametrize(("argv", "want"), [
    (["/venv/bin/python", "-m", "pybernetes", "scheduler", "--kubeconfig", "k"], "scheduler"),
    (["/venv/bin/python", "-m", "pybernetes", "controller-manager"], "controller-manager"),
    (["/venv/bin/python", "-m", "pybernetes", "--help"], None),
    (["/venv/bin/python", "-m", "pybernetes"], None),
    (["/usr/bin/sleep", "10"], None),
])
def test_component_name(argv: list[str], want: str | None) -> None:
    assert component_name(argv) == want


def fake_proc(root: pathlib.Path, pid: int, ppid: int, argv: list[str]) -> None:
    d = root / str(pid)
    d.mkdir()
    (d / "stat").write_text(STAT.replace("4242 ", f"{pid} ", 1).replace(" S 17 ", f" S {ppid} "))
    (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (d / "status").write_text(STATUS)


def test_children_of_a_process(tmp_path: pathlib.Path) -> None:
    fake_proc(tmp_path, 10, 1, ["python", "-m", "pybernetes", "server"])
    fake_proc(tmp_path, 11, 10, ["python", "-m", "pybernetes", "scheduler"])
    fake_proc(tmp_path, 12, 10, ["python", "-m", "pybernetes", "controller-manager"])
    fake_proc(tmp_path, 13, 11, ["python", "-m", "pybernetes", "agent"])
    (tmp_path / "self").mkdir()
    got = children(10, proc=tmp_path)
    assert {pid: component_name(argv) for pid, argv in got.items()} == {11: "scheduler", 12: "controller-manager"}


def test_usage_of_this_process_and_of_one_gone(tmp_path: pathlib.Path) -> None:
    me = usage(os.getpid())
    assert me is not None and me.rss_kib > 0 and me.hwm_kib >= me.rss_kib and me.cpu_s > 0
    assert usage(99999999) is None
    fake_proc(tmp_path, 20, 1, ["x"])
    assert usage(20, proc=tmp_path) == Usage(206256, 406984, 3.0)


def test_memory_watch_keeps_peaks_and_cpu_since_start() -> None:
    readings = {"a": [Usage(100, 150, 1.0), Usage(300, 300, 2.5), Usage(200, 300, 4.0)], "b": [Usage(50, 50, 0.0)]}
    pids = {"a": 1, "b": 2}

    def read(pid: int) -> Usage | None:
        name = "a" if pid == 1 else "b"
        return readings[name].pop(0) if readings[name] else None
    w = MemoryWatch(lambda: pids, read=read)
    w.sample()
    w.sample()
    w.sample()
    a, b = w.peaks["a"], w.peaks["b"]
    assert (a.rss_kib, a.hwm_kib, a.cpu_s, a.alive) == (200, 300, 3.0, True)
    assert (b.rss_kib, b.hwm_kib, b.alive) == (50, 50, False)        # gone after its first reading
