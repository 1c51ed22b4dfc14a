"""A real node's facts: the default route's interface, memory, capacity, identity and flags."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pybernetes.cli import parser
from pybernetes.kubelet import nodestatus as ns
from pybernetes.kubelet import realnode
from pybernetes.kubelet.config import ConfigError

ROUTES = """Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth1\t00000000\t0101A8C0\t0003\t0\t0\t200\t00000000\t0\t0\t0
eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
"""


@pytest.mark.parametrize(("table", "iface"), [
    (ROUTES, "eth0"),                                       # lowest metric wins
    (ROUTES.replace("\t100\t", "\t300\t"), "eth1"),
    ("Iface\tDestination\n", ""),
    ("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n"
     "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\n", ""),   # no default route
])
def test_default_route_interface(table: str, iface: str) -> None:
    assert realnode.default_route_interface(table) == iface


def test_meminfo_total() -> None:
    assert realnode.meminfo_total_kib("MemFree: 5 kB\nMemTotal:       24684096 kB\n") == 24684096
    assert realnode.meminfo_total_kib("") == 0


def test_capacity_reads_the_machine(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "meminfo").write_text("MemTotal:       2048 kB\n")
    cap = realnode.capacity(tmp_path / "data", proc=proc)
    st = os.statvfs(tmp_path / "data")
    assert cap == {"cpu": str(len(os.sched_getaffinity(0))), "memory": "2048Ki", "pods": "110",
                   "ephemeral-storage": f"{st.f_blocks * st.f_frsize // 1024}Ki", "hugepages-1Gi": "0",
                   "hugepages-2Mi": "0"}
    _, alloc = ns.resources(cap)
    assert alloc["memory"] == "0"                           # 2 MiB minus the 100 Mi eviction threshold


def agent_args(*extra: str) -> object:
    return parser().parse_args(["agent", "--server", "https://127.0.0.1:6443/", "--token", "t", *extra])


def test_real_config(tmp_path: Path) -> None:
    cfg = realnode.real_config(agent_args("--node-name", "Node-1", "--node-ip", "10.1.2.3",  # type: ignore[arg-type]
                                          "--node-labels", "zone=a"), tmp_path)
    assert not cfg.simulated and cfg.node_names == ("node-1",) and cfg.node_ip == "10.1.2.3"
    assert cfg.server == "https://127.0.0.1:6443" and cfg.labels == {"zone": "a"}
    assert cfg.capacity["pods"] == "110"


@pytest.mark.parametrize(("extra", "message"), [
    (("--node-name", "bad_name"), "invalid node name"),
    (("--node-name", "ok", "--node-ip", "not-an-ip"), "--node-ip"),
])
def test_real_config_errors(tmp_path: Path, extra: tuple[str, ...], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        realnode.real_config(agent_args(*extra), tmp_path)  # type: ignore[arg-type]


def test_identity_uses_the_given_address() -> None:
    host = ns.host_info("crun", "1.8.1")
    ident = realnode.identity("n1", host, internal_ip="127.0.0.1")
    assert ident.internal_ip == "127.0.0.1" and ident.name == "n1"
    assert len(ident.machine_id) >= 32 and ident.system_uuid and ident.boot_id == host.boot_id
    assert ns.node_info(ident, host)["containerRuntimeVersion"] == "crun://1.8.1"


def test_agent_and_server_flags() -> None:
    a = agent_args("--oci-runtime", "runc", "--cluster-dns", "10.0.0.10")
    assert (a.oci_runtime, a.cluster_dns, a.cluster_domain) == ("runc", "10.0.0.10", "cluster.local")  # type: ignore[attr-defined]
    s = parser().parse_args(["server", "--registry-config", "/r.yaml", "--disable-default-registry-endpoint",
                             "--node-ip", "127.0.0.1"])
    assert s.registry_config == Path("/r.yaml") and s.disable_default_registry_endpoint and s.node_ip == "127.0.0.1"
    shim = parser().parse_args(["shim", "--root", "/r", "--socket", "/r/s.sock", "--runtime", "runc"])
    assert (shim.root, shim.socket, shim.runtime) == (Path("/r"), Path("/r/s.sock"), "runc")
