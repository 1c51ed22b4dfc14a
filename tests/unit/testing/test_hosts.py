from __future__ import annotations

from pathlib import Path

import pytest

from pybernetes.testing.hosts import TestHost, host_address, kill_cgroup_tree


@pytest.mark.parametrize(("index", "address"), [(1, "10.99.0.11"), (3, "10.99.0.13"), (200, "10.99.0.210")])
def test_host_address(index: int, address: str) -> None:
    assert host_address(index) == address


@pytest.mark.parametrize("index", [0, 201])
def test_host_numbers_are_bounded(index: int) -> None:
    with pytest.raises(ValueError):
        host_address(index)


def test_a_host_command_enters_its_network_and_a_private_mount_namespace(tmp_path: Path) -> None:
    h = TestHost(index=2, workdir=tmp_path)
    assert (h.name, h.veth, h.address, h.netns_path) == ("pyb-h2", "pybt-h2", "10.99.0.12", "/run/netns/pyb-h2")
    argv = h.command(["pybernetes", "agent"])
    assert argv[:2] == ["nsenter", "--net=/run/netns/pyb-h2"]
    assert argv[3:8] == ["unshare", "--mount", "--propagation", "slave", "--"]
    script = argv[10]
    assert "/etc/resolv.conf" in script and "/run/netns" in script and 'exec "$@"' in script
    assert argv[11:] == [str(tmp_path / "pyb-h2" / "resolv.conf"), "pybernetes", "agent"]


def test_cgroup_cleanup_refuses_anything_outside_pybernetes() -> None:
    for cgroup in ("/", "/system.slice", "/pybernetes", "/pybernetesx/a"):
        with pytest.raises(ValueError):
            kill_cgroup_tree(cgroup)
