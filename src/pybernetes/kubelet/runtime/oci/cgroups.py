"""Where a cgroup's files are, on cgroup v1, hybrid (v1 + a cgroup2 holding a few controllers — these machines,
DESIGN.md) and unified v2 hosts, and the pybernetes part of the tree.

Every cgroup the node creates is under :data:`PARENT` (``/pybernetes``), given to the OCI runtime as an absolute
``cgroupsPath`` — never relative, which would nest it under whatever cgroup started the runtime. Pods are grouped
by QoS class as the kubelet's ``kubepods`` are: Guaranteed pods directly under the parent, the others under
``burstable``/``besteffort``; each container (and the sandbox's pause process) gets its own leaf.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

PARENT = "/pybernetes"
QOS_DIRS = {"Guaranteed": "", "Burstable": "burstable", "BestEffort": "besteffort"}
V1_CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "hugetlb",
                  "net_cls", "net_prio", "perf_event")


@dataclass(frozen=True, slots=True)
class Layout:
    """Mount points: v1 controller → its hierarchy's mount, and the cgroup2 mount (``unified``) if any."""

    v1: Mapping[str, str] = field(default_factory=dict)
    unified: str = ""

    @property
    def is_v2(self) -> bool:
        return not self.v1 and bool(self.unified)

    @property
    def is_hybrid(self) -> bool:
        return bool(self.v1) and bool(self.unified)

    def path(self, controller: str, cgroup: str) -> Path | None:
        """The directory of ``cgroup`` (absolute, like ``/pybernetes/pod…/id``) for ``controller``; on v2 every
        controller lives in the one tree."""
        rel = cgroup.lstrip("/")
        if self.v1:
            mount = self.v1.get(controller)
            return Path(mount) / rel if mount else None
        return Path(self.unified) / rel if self.unified else None

    def dirs(self, cgroup: str) -> list[Path]:
        """Every directory ``cgroup`` has (one per v1 hierarchy, or the v2 one)."""
        if self.v1:
            return [Path(m) / cgroup.lstrip("/") for m in dict.fromkeys(self.v1.values())]
        return [Path(self.unified) / cgroup.lstrip("/")] if self.unified else []


def parse_mountinfo(text: str) -> Layout:
    """The cgroup mounts of ``/proc/self/mountinfo`` (fields after ``-``: fstype, source, super options)."""
    v1: dict[str, str] = {}
    unified = ""
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        mount_point = fields[4].replace("\\040", " ")
        fstype, opts = tail[0], tail[2].split(",")
        if fstype == "cgroup2":
            if not unified or mount_point == "/sys/fs/cgroup":
                unified = mount_point
        elif fstype == "cgroup":
            for opt in opts:
                if opt in V1_CONTROLLERS:
                    v1.setdefault(opt, mount_point)
    return Layout(v1=v1, unified=unified)


@functools.cache
def host_layout(mountinfo: str = "/proc/self/mountinfo") -> Layout:
    with open(mountinfo) as f:
        return parse_mountinfo(f.read())


def pod_cgroup(uid: str, qos: str, *, parent: str = PARENT) -> str:
    """``parent`` is :data:`PARENT` or a cgroup below it (one per agent when several share a machine)."""
    sub = QOS_DIRS.get(qos, "burstable")
    return f"{parent}/{sub}/pod{uid}" if sub else f"{parent}/pod{uid}"


def container_cgroup(pod_parent: str, container_id: str) -> str:
    return f"{pod_parent}/{container_id}"


def remove_tree(layout: Layout, cgroup: str) -> list[str]:
    """rmdir ``cgroup`` and its (empty) children in every hierarchy, deepest first; returns what could not be
    removed (still holding processes). Only ever called for paths under :data:`PARENT`."""
    if not cgroup.startswith(PARENT + "/"):
        raise ValueError(f"refusing to remove cgroup {cgroup!r} outside {PARENT}")
    left: list[str] = []
    for top in layout.dirs(cgroup):
        if not top.is_dir():
            continue
        for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda t: -len(t[0])):
            try:
                os.rmdir(dirpath)
            except FileNotFoundError:
                pass
            except OSError:
                left.append(dirpath)
    return left


def controllers_to_move(*, enabled: Iterable[str], unified_controllers: Iterable[str],
                        unified_subtree: Iterable[str], v1: Mapping[str, str]) -> list[str]:
    """Hybrid hosts: controllers the kernel bound to the cgroup2 tree though nothing there uses them (not in
    its ``cgroup.subtree_control``) and no v1 hierarchy has — crun refuses to run in that state (DESIGN.md), and
    mounting them as v1 hierarchies is safe since no cgroup uses them yet."""
    busy = set(unified_subtree)
    return [c for c in unified_controllers if c in set(enabled) and c not in v1 and c not in busy]
