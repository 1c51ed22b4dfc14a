"""A pod's sandbox on the host: its network namespace, its files and its shared memory, around the pause
container the shim runs.

Order (set-up, and the reverse for teardown, as containerd's CRI plugin does it):

1. the netns, made with ``ip netns add pyb-<id>`` (a bind mount under ``/run/netns``, so it outlives every process
   in it and the agent), then the pod network (CNI ``ADD`` through :class:`PodNetwork`) → the pod's IPs;
2. ``<root>/sandboxes/<id>/``: ``hostname``, ``hosts`` and ``resolv.conf`` (``network.dnsfiles``' rules) and
   ``shm/``, a 64 MiB tmpfs every container of the pod mounts as ``/dev/shm`` (the IPC namespace is the pause
   process's, so shared memory must be one filesystem too);
3. the pause container (``sandbox_spec``): it holds the pod's IPC and UTS namespaces and is the pod's reaping init.

Stopping a sandbox stops its containers and the pause process and tears the network down (``DEL`` releases the
IP); removing it also deletes the netns, the shm mount, the directory and the pod's cgroups. Each step tolerates
having been done already: teardown runs again after a crash half-way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pybernetes.kubelet.network import dnsfiles
from pybernetes.kubelet.runtime.oci import rootfs
from pybernetes.kubelet.runtime.oci.spec import SHM_SIZE, PodFiles

log = logging.getLogger(__name__)
Obj = dict[str, Any]
NETNS_DIR = Path("/run/netns")
NETNS_PREFIX = "pyb-"
# The pause process: PID 1 of the pod, it reaps whatever is re-parented to it (ash's ``wait`` collects any child)
# and exits at once on SIGTERM instead of waiting out a grace period.
PAUSE_ARGS = ("/bin/sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 2147483647 & wait $!; done")


class PodNetwork(Protocol):
    """What the sandbox needs from the pod network (``network.cni.CNINetwork`` implements it)."""

    async def setup(self, netns_path: str, *, container_id: str, pod: Obj, pod_cidr: str) -> list[str]: ...
    async def teardown(self, netns_path: str, *, container_id: str, pod: Obj | None = None) -> None: ...


class LoopbackNetwork:
    """No pod network, only ``lo`` up: for tests and for nodes whose CNI is not configured."""

    async def setup(self, netns_path: str, *, container_id: str, pod: Obj, pod_cidr: str) -> list[str]:
        await run_ip("-n", os.path.basename(netns_path), "link", "set", "lo", "up")
        return []

    async def teardown(self, netns_path: str, *, container_id: str, pod: Obj | None = None) -> None:
        return None


class NetnsError(RuntimeError):
    pass


async def run_ip(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec("ip", *args, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {err.decode(errors='replace').strip() or proc.returncode}")
    return out.decode(errors="replace")


def netns_name(sandbox_id: str) -> str:
    return NETNS_PREFIX + sandbox_id[:16]


async def create_netns(name: str) -> str:
    await run_ip("netns", "add", name)
    return str(NETNS_DIR / name)


async def delete_netns(name: str) -> None:
    if not (NETNS_DIR / name).exists():
        return
    try:
        await run_ip("netns", "delete", name)
    except NetnsError as e:
        if (NETNS_DIR / name).exists():
            raise
        log.debug("netns already gone", extra={"netns": name, "error": str(e)})


@dataclass(frozen=True, slots=True)
class SandboxDir:
    path: Path

    @property
    def shm(self) -> Path:
        return self.path / "shm"

    def files(self, *, host_ipc: bool, host_network: bool) -> PodFiles:
        return PodFiles(hosts=str(self.path / "hosts"), resolv_conf=str(self.path / "resolv.conf"),
                        hostname="" if host_network else str(self.path / "hostname"),
                        shm="" if host_ipc else str(self.shm))


def read_host_file(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def write_pod_files(d: SandboxDir, pod: Obj, *, ips: Sequence[str], cluster_dns: Sequence[str],
                    cluster_domain: str, node_hostname: str) -> list[str]:
    """``hostname``, ``hosts``, ``resolv.conf`` of the pod; returns the DNS warnings (limits hit)."""
    d.path.mkdir(parents=True, exist_ok=True)
    host_network = bool((pod.get("spec") or {}).get("hostNetwork"))
    (d.path / "hostname").write_text(dnsfiles.hostname_file(pod, cluster_domain=cluster_domain,
                                                            node_hostname=node_hostname))
    (d.path / "hosts").write_text(dnsfiles.hosts_file(
        pod, pod_ips=ips, cluster_domain=cluster_domain,
        node_hosts=read_host_file("/etc/hosts") if host_network else None))
    dns = dnsfiles.pod_dns(pod, host=dnsfiles.parse_resolv_conf(read_host_file("/etc/resolv.conf")),
                           cluster_dns=cluster_dns, cluster_domain=cluster_domain)
    (d.path / "resolv.conf").write_text(dns.render())
    return list(dns.warnings)


def setup_shm(d: SandboxDir) -> None:
    if not rootfs.is_mount_point(d.shm):
        rootfs.mount_tmpfs(d.shm, size=SHM_SIZE)


def remove_dir(d: SandboxDir) -> None:
    """Unmount the shm tmpfs and delete the directory (never following a mount into something else)."""
    if d.shm.exists():
        while rootfs.unmount(d.shm):
            pass
        if rootfs.is_mount_point(d.shm):
            raise OSError(16, f"{d.shm} is still mounted")
    shutil.rmtree(d.path, ignore_errors=True)
