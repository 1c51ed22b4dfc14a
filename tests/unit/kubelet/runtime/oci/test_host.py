"""Host checks against a fake /proc and /sys: what passes, what gets fixed, what refuses to start."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from pybernetes.kubelet.runtime.oci import host as hostmod
from pybernetes.kubelet.runtime.oci.host import Host

V1 = ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids")
CGROUPS = """#subsys_name\thierarchy\tnum_cgroups\tenabled
cpuset\t3\t1\t1
cpu\t1\t1\t1
cpuacct\t2\t1\t1
memory\t4\t144\t1
pids\t8\t1\t1
hugetlb\t0\t1\t1
net_cls\t0\t1\t1
"""


class Machine:
    """A fake machine under ``tmp``: /proc, /sys/fs/cgroup (as plain directories), CNI plugins, binaries."""

    def __init__(self, tmp: Path, *, layout: str = "hybrid") -> None:
        self.proc, self.sys, self.cni = tmp / "proc", tmp / "sys", tmp / "cni"
        self.cg = self.sys / "fs" / "cgroup"
        self.mounted: list[tuple[str, Path]] = []
        self.commands: list[list[str]] = []
        self.binaries = {"crun", "runc", "nft", "ip", "modprobe"}
        self.modprobe_ok = True
        lines = []
        if layout in ("hybrid", "v1"):
            lines.append(f"31 23 0:28 / {self.cg} rw - tmpfs tmpfs rw,mode=755")
            for i, c in enumerate(V1):
                lines.append(f"{32 + i} 31 0:{29 + i} / {self.cg / c} rw,relatime - cgroup cgroup rw,{c}")
                (self.cg / c).mkdir(parents=True)
        if layout == "hybrid":
            lines.append(f"41 31 0:38 / {self.cg / 'unified'} rw - cgroup2 cgroup2 rw")
            (self.cg / "unified").mkdir(parents=True)
            (self.cg / "unified" / "cgroup.controllers").write_text("hugetlb\n")
            (self.cg / "unified" / "cgroup.subtree_control").write_text("\n")
        if layout == "v2":
            lines.append(f"31 23 0:28 / {self.cg} rw - cgroup2 cgroup2 rw")
            self.cg.mkdir(parents=True)
            (self.cg / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids\n")
        (self.proc / "self").mkdir(parents=True)
        (self.proc / "self" / "mountinfo").write_text("\n".join(lines) + "\n")
        (self.proc / "cgroups").write_text(CGROUPS)
        (self.proc / "filesystems").write_text("nodev\tsysfs\nnodev\tcgroup2\nnodev\toverlay\n")
        self.sysctl("net/ipv4/ip_forward", "0")
        self.sysctl("net/bridge/bridge-nf-call-iptables", "0")
        self.cni.mkdir()
        for p in hostmod.CNI_PLUGINS:
            (self.cni / p).write_text("#!/bin/sh\n")
            (self.cni / p).chmod(0o755)
        self.busybox = tmp / "busybox"
        self.busybox.write_text("")
        self.busybox.chmod(0o755)

    def sysctl(self, rel: str, value: str) -> None:
        p = self.proc / "sys" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(value + "\n")

    def which(self, name: str) -> str | None:
        return f"/usr/bin/{name}" if name in self.binaries else None

    def run(self, argv: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        self.commands.append(argv)
        if argv[-1] == "--version":
            name = Path(argv[0]).name
            return subprocess.CompletedProcess(argv, 0, f"{name} version 1.8.1\ncommit: abc\n", "")
        if Path(argv[0]).name == "modprobe":
            return subprocess.CompletedProcess(argv, 0 if self.modprobe_ok else 1, "", "")
        return subprocess.CompletedProcess(argv, 1, "", "unexpected")

    def host(self) -> Host:
        return Host(proc=self.proc, sys=self.sys, cni_dir=self.cni, busybox=str(self.busybox), which=self.which,
                    run=self.run, mount_cgroup=lambda c, p: self.mounted.append((c, p)))


def by_name(checks: list[hostmod.Check]) -> dict[str, hostmod.Check]:
    return {c.name: c for c in checks}


def test_a_hybrid_host_is_fixed(tmp_path: Path) -> None:
    m = Machine(tmp_path)
    checks = by_name(hostmod.check_host(runtime="crun", host=m.host()))
    assert all(c.ok for c in checks.values()), checks
    assert m.mounted == [("hugetlb", m.cg / "hugetlb")]        # net_cls is in no tree at all: left alone
    assert checks["cgroups"].fixed == "mounted hugetlb as cgroup v1 hierarchies"
    assert (m.proc / "sys/net/ipv4/ip_forward").read_text() == "1\n"
    assert (m.proc / "sys/net/bridge/bridge-nf-call-iptables").read_text() == "1\n"
    assert checks["ip_forward"].fixed and checks["br_netfilter"].fixed
    assert checks["oci-runtime"].message == "crun 1.8.1"
    hostmod.require(list(checks.values()))


def test_without_fixing_a_hybrid_host_fails_for_crun_not_runc(tmp_path: Path) -> None:
    m = Machine(tmp_path)
    crun = by_name(hostmod.check_host(runtime="crun", host=m.host(), fix=False))
    assert not crun["cgroups"].ok and "hugetlb" in crun["cgroups"].message
    assert not crun["ip_forward"].ok and m.mounted == []
    runc = by_name(hostmod.check_host(runtime="runc", host=m.host(), fix=False))
    assert runc["cgroups"].ok


def test_controllers_in_use_in_the_unified_tree_are_not_moved(tmp_path: Path) -> None:
    m = Machine(tmp_path)
    (m.cg / "unified" / "cgroup.subtree_control").write_text("hugetlb\n")
    checks = by_name(hostmod.check_host(runtime="crun", host=m.host()))
    assert checks["cgroups"].ok and m.mounted == []


def test_v2_host(tmp_path: Path) -> None:
    m = Machine(tmp_path, layout="v2")
    checks = by_name(hostmod.check_host(runtime="crun", host=m.host()))
    assert checks["cgroups"].ok and checks["cgroups"].message == "cgroup v2"
    (m.cg / "cgroup.controllers").write_text("cpu pids\n")
    checks = by_name(hostmod.check_host(runtime="crun", host=m.host()))
    assert not checks["cgroups"].ok and "memory" in checks["cgroups"].message


@pytest.mark.parametrize(("breakage", "name", "message"), [
    (lambda m: m.binaries.discard("crun"), "oci-runtime", "crun not found"),
    (lambda m: (m.cni / "portmap").unlink(), "cni-plugins", "portmap"),
    (lambda m: m.binaries.discard("nft"), "nft", "nftables"),
    (lambda m: m.busybox.unlink(), "busybox", "busybox-static"),
    (lambda m: (m.proc / "filesystems").write_text("nodev\tsysfs\n"), "overlayfs", "overlay"),
    (lambda m: (m.proc / "self" / "mountinfo").write_text(""), "cgroups", "no cgroup v1 hierarchy"),
])
def test_what_cannot_be_fixed_refuses_to_start(tmp_path: Path, breakage: Any, name: str, message: str) -> None:
    m = Machine(tmp_path)
    m.modprobe_ok = False
    breakage(m)
    checks = hostmod.check_host(runtime="crun", host=m.host())
    failed = by_name([c for c in checks if not c.ok])
    assert list(failed) == [name] and message in failed[name].message
    with pytest.raises(hostmod.HostError, match=f"{name}: .*{message}"):
        hostmod.require(checks)


def test_missing_br_netfilter_is_loaded(tmp_path: Path) -> None:
    m = Machine(tmp_path)
    bridge = m.proc / "sys" / "net" / "bridge"
    (bridge / "bridge-nf-call-iptables").unlink()
    bridge.rmdir()

    def run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        if argv[-1] == "br_netfilter":                 # the module appears when loaded
            m.sysctl("net/bridge/bridge-nf-call-iptables", "0")
        return m.run(argv, **kw)

    h = m.host()
    h.run = run
    check = hostmod.check_br_netfilter(h, fix=True)
    assert check.ok and check.fixed == "loaded br_netfilter, set net.bridge.bridge-nf-call-iptables=1"


def test_enabled_controllers() -> None:
    assert hostmod.enabled_controllers(CGROUPS + "rdma\t0\t1\t0\n") == ["cpuset", "cpu", "cpuacct", "memory",
                                                                          "pids", "hugetlb", "net_cls"]
