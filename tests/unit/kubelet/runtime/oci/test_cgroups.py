"""cgroup layouts from mountinfo, the pybernetes tree, usage and OOM kills read from (fake) cgroup files."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybernetes.kubelet.runtime.oci import cgroups, stats

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
COMBINED = "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
V2 = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"


def test_hybrid_layout() -> None:
    layout = cgroups.parse_mountinfo(HYBRID)
    assert layout.is_hybrid and not layout.is_v2
    assert layout.v1["memory"] == "/sys/fs/cgroup/memory" and "systemd" not in layout.v1
    assert layout.unified == "/sys/fs/cgroup/unified"
    assert layout.path("memory", "/pybernetes/podU/c") == Path("/sys/fs/cgroup/memory/pybernetes/podU/c")
    assert layout.path("hugetlb", "/x") is None
    assert len(layout.dirs("/pybernetes/x")) == 4


def test_combined_and_v2_layouts() -> None:
    combined = cgroups.parse_mountinfo(COMBINED)
    assert combined.v1 == {"cpu": "/sys/fs/cgroup/cpu,cpuacct", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct"}
    assert combined.dirs("/a") == [Path("/sys/fs/cgroup/cpu,cpuacct/a")]
    v2 = cgroups.parse_mountinfo(V2)
    assert v2.is_v2 and v2.path("cpu", "/pybernetes/a") == Path("/sys/fs/cgroup/pybernetes/a")


@pytest.mark.parametrize(("qos", "path"), [("Guaranteed", "/pybernetes/podU"),
                                           ("Burstable", "/pybernetes/burstable/podU"),
                                           ("BestEffort", "/pybernetes/besteffort/podU")])
def test_pod_cgroup(qos: str, path: str) -> None:
    assert cgroups.pod_cgroup("U", qos) == path
    assert cgroups.container_cgroup(path, "cid") == path + "/cid"
    assert cgroups.pod_cgroup("U", qos, parent="/pybernetes/n2") == path.replace("/pybernetes", "/pybernetes/n2")


def test_controllers_to_move() -> None:
    v1 = {"memory": "/m"}
    assert cgroups.controllers_to_move(enabled=["memory", "hugetlb", "rdma"], unified_controllers=["hugetlb", "rdma"],
                                       unified_subtree=["rdma"], v1=v1) == ["hugetlb"]
    assert cgroups.controllers_to_move(enabled=["memory"], unified_controllers=["hugetlb"], unified_subtree=[],
                                       v1=v1) == []


def test_remove_tree_only_under_the_parent(tmp_path: Path) -> None:
    layout = cgroups.Layout(v1={"memory": str(tmp_path / "memory"), "cpu": str(tmp_path / "cpu")})
    for c in ("memory", "cpu"):
        (tmp_path / c / "pybernetes/podU/a").mkdir(parents=True)
    (tmp_path / "memory/pybernetes/podU/busy").mkdir()
    (tmp_path / "memory/pybernetes/podU/busy/cgroup.procs").write_text("1\n")     # a real cgroup dir can't hold it
    left = cgroups.remove_tree(layout, "/pybernetes/podU")
    assert not (tmp_path / "cpu/pybernetes/podU").exists()
    assert sorted(Path(p).name for p in left) == ["busy", "podU"]
    with pytest.raises(ValueError):
        cgroups.remove_tree(layout, "/system.slice")


def write(d: Path, files: dict[str, str]) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (d / name).write_text(text)


def test_usage_and_oom_on_v1(tmp_path: Path) -> None:
    layout = cgroups.Layout(v1={c: str(tmp_path / c) for c in ("memory", "cpuacct", "pids")})
    cg = "/pybernetes/podU/c"
    assert stats.read_usage(layout, cg) is None
    write(tmp_path / "memory" / cg[1:], {"memory.usage_in_bytes": "1000000\n",
                                         "memory.stat": "cache 5\ntotal_inactive_file 300000\ntotal_rss 600000\n",
                                         "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"})
    write(tmp_path / "cpuacct" / cg[1:], {"cpuacct.usage": "123456789\n"})
    write(tmp_path / "pids" / cg[1:], {"pids.current": "3\n"})
    assert stats.read_usage(layout, cg) == stats.Usage(cpu_ns=123456789, memory_usage=1000000,
                                                       memory_working_set=700000, pids=3)
    assert stats.oom_kills(layout, cg) == 2


def test_usage_and_oom_on_v2(tmp_path: Path) -> None:
    layout = cgroups.Layout(unified=str(tmp_path))
    cg = "/pybernetes/podU/c"
    write(tmp_path / cg[1:], {"cpu.stat": "usage_usec 1500\nuser_usec 1000\n", "memory.current": "4096\n",
                              "memory.stat": "anon 1000\ninactive_file 8192\n", "pids.current": "1\n",
                              "memory.events": "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"})
    assert stats.read_usage(layout, cg) == stats.Usage(cpu_ns=1_500_000, memory_usage=4096, memory_working_set=0,
                                                       pids=1)
    assert stats.oom_kills(layout, cg) == 1
    assert stats.oom_kills(layout, "/gone") == 0
