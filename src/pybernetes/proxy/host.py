"""Kernel settings the proxy's rules depend on, set at start (as kube-proxy does).

- ``net.ipv4.ip_forward=1``: pods and Services are reached by routing through the node;
- ``net.ipv4.conf.all.route_localnet=1``: a NodePort on 127.0.0.1 is DNATed to a pod address, and the kernel
  would otherwise drop a packet with a loopback source leaving on a real interface (the table's
  ``filter-input`` rule keeps the network from reaching loopback services through it);
- ``net.bridge.bridge-nf-call-iptables=1`` (module ``br_netfilter``): pod-to-pod traffic on the node's bridge
  is bridged, not routed; without it neither the Service DNAT's reverse translation nor NetworkPolicy would see
  it.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)
SYSCTLS = (("net/ipv4/ip_forward", "1"), ("net/ipv4/conf/all/route_localnet", "1"),
           ("net/bridge/bridge-nf-call-iptables", "1"))


def prepare(proc_sys: Path = Path("/proc/sys"), *, modprobe: bool = True) -> list[str]:
    """Set :data:`SYSCTLS`; returns what could not be set (the proxy runs anyway, degraded)."""
    if modprobe and not (proc_sys / "net" / "bridge").exists():
        try:
            subprocess.run(["modprobe", "br_netfilter"], capture_output=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired):
            pass
    problems = []
    for key, value in SYSCTLS:
        path = proc_sys / key
        try:
            if path.read_text().strip() != value:
                path.write_text(value)
        except OSError as e:
            problems.append(f"{key.replace('/', '.')}={value}: {e.strerror or e}")
    for p in problems:
        log.warning("cannot set a sysctl the proxy needs", extra={"sysctl": p})
    return problems
