"""What each process of a running cluster costs: resident memory (now and peak) and CPU time, from /proc.

The end-to-end benchmarks (bench/control_plane.py) report the memory of every component process. RSS is read
from ``/proc/PID/status`` (``VmRSS``), the peak from ``VmHWM`` (the kernel's high-water mark, so a peak between two
samples is not missed), CPU from ``/proc/PID/stat``. A process that has exited reads as absent, never as an error:
the benchmark must still report the others.
"""

from __future__ import annotations

import os
import pathlib
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

PROC = pathlib.Path("/proc")
_VM = re.compile(r"^(VmRSS|VmHWM):\s+(\d+) kB", re.M)


@dataclass(frozen=True, slots=True)
class Usage:
    """One process at one instant: resident and peak resident memory (KiB), CPU seconds so far."""

    rss_kib: int
    hwm_kib: int
    cpu_s: float


def parse_status(text: str) -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB from the text of ``/proc/PID/status``; 0 for a field that is absent (a zombie)."""
    found = {k: int(v) for k, v in _VM.findall(text)}
    return found.get("VmRSS", 0), found.get("VmHWM", 0)


def parse_stat_cpu(text: str, *, ticks: int) -> float:
    """User + system CPU seconds from the text of ``/proc/PID/stat`` (fields after the command, which may hold
    spaces and parentheses: split after the last ``)``)."""
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks


def parse_ppid(text: str) -> int:
    """The parent PID from the text of ``/proc/PID/stat``."""
    return int(text.rsplit(")", 1)[1].split()[1])


def usage(pid: int, *, proc: pathlib.Path = PROC) -> Usage | None:
    """The process's usage now, or None when it no longer exists."""
    try:
        rss, hwm = parse_status((proc / str(pid) / "status").read_text())
        cpu = parse_stat_cpu((proc / str(pid) / "stat").read_text(), ticks=os.sysconf("SC_CLK_TCK"))
    except (OSError, IndexError, ValueError):
        return None
    return Usage(rss, hwm, cpu)


def children(ppid: int, *, proc: pathlib.Path = PROC) -> dict[int, list[str]]:
    """The direct children of ``ppid``: PID → argv. ``pybernetes server``'s supervisor starts each component in
    its own session, so the children (not the process group) are how its components are found."""
    out: dict[int, list[str]] = {}
    for d in proc.iterdir():
        if not d.name.isdigit():
            continue
        try:
            if parse_ppid((d / "stat").read_text()) != ppid:
                continue
            argv = (d / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        out[int(d.name)] = [a.decode(errors="replace") for a in argv if a]
    return out


def component_name(argv: list[str]) -> str | None:
    """``controller-manager`` / ``scheduler`` / ``agent`` for a ``python -m pybernetes <component>`` command line."""
    try:
        i = argv.index("pybernetes")
    except ValueError:
        return None
    return argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("-") else None


@dataclass(slots=True)
class Peak:
    """What one process used over a measurement: RSS at the end, the peak RSS and the CPU seconds spent."""

    rss_kib: int = 0
    hwm_kib: int = 0
    cpu_s: float = 0.0
    alive: bool = True


class MemoryWatch:
    """Samples named processes every ``interval`` s on a thread while a measurement runs.

    ``VmHWM`` is the peak since each process started, which is what the report wants ("peak RSS" of a component
    over the benchmark); the samples add the largest RSS seen (the same, unless the kernel's counter was reset)
    and the CPU spent between :meth:`start` and :meth:`stop`."""

    def __init__(self, pids: Callable[[], Mapping[str, int]], *, interval: float = 0.5,
                 read: Callable[[int], Usage | None] = usage) -> None:
        self._pids = pids
        self._read = read
        self.interval = interval
        self._cpu0: dict[str, float] = {}
        self.peaks: dict[str, Peak] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> None:
        for name, pid in self._pids().items():
            u = self._read(pid)
            p = self.peaks.setdefault(name, Peak())
            if u is None:
                p.alive = False
                continue
            self._cpu0.setdefault(name, u.cpu_s)
            p.rss_kib = u.rss_kib
            p.hwm_kib = max(p.hwm_kib, u.hwm_kib, u.rss_kib)
            p.cpu_s = u.cpu_s - self._cpu0[name]

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> MemoryWatch:
        self.sample()
        self._thread = threading.Thread(target=self._loop, name="memory-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, Peak]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()
        return self.peaks

    def __enter__(self) -> MemoryWatch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
