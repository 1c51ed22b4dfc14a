"""The sysctls the proxy sets at start, on a fake /proc/sys."""

from __future__ import annotations

from pathlib import Path

from pybernetes.proxy import host


def fake_proc(tmp_path: Path, *, bridge: bool = True) -> Path:
    for key, _ in host.SYSCTLS:
        if key.startswith("net/bridge") and not bridge:
            continue
        p = tmp_path / key
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("0\n")
    return tmp_path


def test_prepare_sets_every_sysctl(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path)
    assert host.prepare(proc, modprobe=False) == []
    assert {k: (proc / k).read_text() for k, _ in host.SYSCTLS} == {k: "1" for k, _ in host.SYSCTLS}


def test_prepare_reports_what_it_could_not_set(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, bridge=False)                 # no br_netfilter
    problems = host.prepare(proc, modprobe=False)
    assert len(problems) == 1 and problems[0].startswith("net.bridge.bridge-nf-call-iptables=1: ")
    assert (proc / "net/ipv4/conf/all/route_localnet").read_text() == "1"
