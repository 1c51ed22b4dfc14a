"""Per-container usage and OOM kills read from cgroup files (cAdvisor's numbers, without cAdvisor).

- CPU: cumulative nanoseconds — v1 ``cpuacct.usage``, v2 ``cpu.stat`` ``usage_usec`` × 1000.
- Memory working set: usage minus inactive file pages (what the kubelet's eviction manager and ``kubectl top``
  use) — v1 ``memory.usage_in_bytes`` − ``memory.stat`` ``total_inactive_file``; v2 ``memory.current`` −
  ``inactive_file``; never negative.
- OOM kills: v1 ``memory.oom_control`` ``oom_kill``, v2 ``memory.events`` ``oom_kill``. Read before the
  runtime deletes the cgroup: it is how an exit becomes ``OOMKilled`` (``crun state`` has no such thing).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pybernetes.kubelet.runtime.oci.cgroups import Layout


@dataclass(frozen=True, slots=True)
class Usage:
    cpu_ns: int
    memory_usage: int
    memory_working_set: int
    pids: int = 0


def _read_int(path: Path | None) -> int | None:
    if path is None:
        return None
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def parse_flat_keyed(text: str) -> dict[str, int]:
    """``key value`` lines (memory.stat, cpu.stat, memory.events, memory.oom_control)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        try:
            out[k] = int(v)
        except ValueError:
            continue
    return out


def _read_keyed(path: Path | None) -> dict[str, int]:
    if path is None:
        return {}
    try:
        return parse_flat_keyed(path.read_text())
    except OSError:
        return {}


def working_set(usage: int, stat: dict[str, int], *, v2: bool) -> int:
    inactive = stat.get("inactive_file" if v2 else "total_inactive_file", 0)
    return max(usage - inactive, 0)


def read_usage(layout: Layout, cgroup: str) -> Usage | None:
    """The container's usage, or None if its cgroup is gone."""
    if layout.is_v2:
        d = layout.path("memory", cgroup)
        if d is None or not d.is_dir():
            return None
        cpu = _read_keyed(d / "cpu.stat").get("usage_usec", 0) * 1000
        usage = _read_int(d / "memory.current") or 0
        ws = working_set(usage, _read_keyed(d / "memory.stat"), v2=True)
        return Usage(cpu_ns=cpu, memory_usage=usage, memory_working_set=ws,
                     pids=_read_int(d / "pids.current") or 0)
    mem = layout.path("memory", cgroup)
    if mem is None or not mem.is_dir():
        return None
    cpuacct = layout.path("cpuacct", cgroup)
    cpu = _read_int(cpuacct / "cpuacct.usage" if cpuacct else None) or 0
    usage = _read_int(mem / "memory.usage_in_bytes") or 0
    ws = working_set(usage, _read_keyed(mem / "memory.stat"), v2=False)
    pids_dir = layout.path("pids", cgroup)
    return Usage(cpu_ns=cpu, memory_usage=usage, memory_working_set=ws,
                 pids=_read_int(pids_dir / "pids.current" if pids_dir else None) or 0)


def oom_kills(layout: Layout, cgroup: str) -> int:
    d = layout.path("memory", cgroup)
    if d is None:
        return 0
    name = "memory.events" if layout.is_v2 else "memory.oom_control"
    return _read_keyed(d / name).get("oom_kill", 0)
