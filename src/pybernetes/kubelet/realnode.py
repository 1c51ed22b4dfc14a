"""``pybernetes agent`` without ``--simulated``: one real node on this machine, its containers run by the OCI
runtime (``runtime/oci``) through the node's shim.

The node is named after the host (or ``--node-name``) and reports what the machine has: CPUs, memory from
``/proc/meminfo``, 110 pods, the data directory's filesystem as ephemeral storage (allocatable minus the default
eviction thresholds, as a kubelet without reservations), the primary IPv4 address (the default route's interface)
as InternalIP, and nodeInfo from the host (machine-id, product UUID, boot id, kernel, ``/etc/os-release``,
``crun://1.8.1``).

Start-up order: host checks (refuse to start with every failed check named), the image puller
(``--registry-config``), the pod network (CNI), the runtime (starting or re-joining the shim, which keeps the
containers a previous agent left running: the pod workers adopt them), the pod set-up of a real node (volumes,
environment, probes, hooks: ``podsetup.PodSetup``), the kubelet's streaming server, then the agent itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import hashlib
import ipaddress
import logging
import os
import re
import socket
import struct
import sys
import uuid
from pathlib import Path
from typing import Any

from pybernetes.kubelet import nodestatus as ns
from pybernetes.kubelet.config import AgentConfig, ConfigError, parse_labels

log = logging.getLogger(__name__)
SIOCGIFADDR = 0x8915
MAX_PODS = 110
_NODE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


# ---------------------------------------------------------------------------------------------- facts

def default_node_name() -> str:
    """The hostname, lowercased, as the kubelet names its node."""
    return socket.gethostname().strip().lower()


def default_route_interface(route_table: str) -> str:
    """The interface of the IPv4 default route in ``/proc/net/route`` (lowest metric first)."""
    best: tuple[int, str] | None = None
    for line in route_table.splitlines()[1:]:
        f = line.split()
        if len(f) < 8 or f[1] != "00000000" or f[7] != "00000000":
            continue
        metric = int(f[6]) if f[6].isdigit() else 0
        if best is None or metric < best[0]:
            best = (metric, f[0])
    return best[1] if best else ""


def interface_ipv4(iface: str) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            data = fcntl.ioctl(s.fileno(), SIOCGIFADDR, struct.pack("256s", iface.encode()[:15]))
        except OSError:
            return ""
    return socket.inet_ntoa(data[20:24])


def primary_ipv4(proc: Path = Path("/proc")) -> str:
    """The address of the default route's interface; else the first non-loopback address we can find; else
    127.0.0.1. Nothing is sent anywhere to learn it."""
    try:
        iface = default_route_interface((proc / "net" / "route").read_text())
    except OSError:
        iface = ""
    ip = interface_ipv4(iface) if iface else ""
    if ip:
        return ip
    for _, name in socket.if_nameindex():
        if name != "lo" and (ip := interface_ipv4(name)) and not ipaddress.ip_address(ip).is_loopback:
            return ip
    return "127.0.0.1"


def _first_line(*paths: str) -> str:
    for p in paths:
        try:
            text = Path(p).read_text().strip()
        except OSError:
            continue
        if text:
            return text.splitlines()[0].strip()
    return ""


def identity(name: str, host: ns.HostInfo, *, internal_ip: str = "") -> ns.NodeIdentity:
    """The node's ids as the kubelet reads them (machine-id, DMI product UUID), each derived from the other or
    the name when the machine lacks it."""
    machine_id = _first_line("/etc/machine-id", "/var/lib/dbus/machine-id")
    if not machine_id:
        machine_id = hashlib.sha256(name.encode()).hexdigest()[:32]
    system_uuid = _first_line("/sys/class/dmi/id/product_uuid").lower()
    if not system_uuid:
        system_uuid = str(uuid.UUID(hashlib.sha256(machine_id.encode()).hexdigest()[:32]))
    return ns.NodeIdentity(name=name, internal_ip=internal_ip or primary_ipv4(), hostname=socket.gethostname(),
                           machine_id=machine_id, system_uuid=system_uuid, boot_id=host.boot_id)


def meminfo_total_kib(text: str) -> int:
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def capacity(data_dir: Path, *, proc: Path = Path("/proc")) -> dict[str, str]:
    """What the machine has, as Node capacity quantities."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        mem_kib = meminfo_total_kib((proc / "meminfo").read_text())
    except OSError:
        mem_kib = 0
    data_dir.mkdir(parents=True, exist_ok=True)
    st = os.statvfs(data_dir)
    disk_kib = st.f_blocks * st.f_frsize // 1024
    return {"cpu": str(cpus), "memory": f"{mem_kib}Ki", "pods": str(MAX_PODS),
            "ephemeral-storage": f"{disk_kib}Ki", "hugepages-1Gi": "0", "hugepages-2Mi": "0"}


def real_config(args: argparse.Namespace, data_dir: Path) -> AgentConfig:
    name = (args.node_name or default_node_name()).lower()
    if len(name) > 253 or not _NODE_NAME.fullmatch(name):
        raise ConfigError(f"invalid node name {name!r}: must be a lowercase RFC 1123 subdomain (use --node-name)")
    node_ip = str(getattr(args, "node_ip", "") or "")
    if node_ip:
        try:
            ipaddress.IPv4Address(node_ip)
        except ValueError:
            raise ConfigError(f"--node-ip: {node_ip!r} is not an IPv4 address") from None
    return AgentConfig(server=args.server.rstrip("/"), token=args.token, data_dir=data_dir, node_names=(name,),
                       simulated=False, capacity=capacity(data_dir), labels=parse_labels(args.node_labels or ""),
                       node_ip=node_ip)


# ---------------------------------------------------------------------------------------------- running

async def run_real(config: AgentConfig, ca: bytes | None, args: argparse.Namespace) -> int:
    from pybernetes.client.rest import Client, ClientConfig
    from pybernetes.kubelet.agent import Agent
    from pybernetes.kubelet.images import config as images_config
    from pybernetes.kubelet.images.puller import ImagePuller
    from pybernetes.kubelet.main import USER_AGENT
    from pybernetes.kubelet.network.cni import CNINetwork
    from pybernetes.kubelet.podsetup import PodSetup
    from pybernetes.kubelet.runtime.oci import host
    from pybernetes.kubelet.runtime.oci.client import OCIConfig, OCIRuntime

    runtime_name = getattr(args, "oci_runtime", "crun") or "crun"
    try:
        log_root, cgroup_parent = node_paths(args)
    except ConfigError as e:
        print(f"pybernetes agent: {e}", file=sys.stderr)
        return 2
    checks = await asyncio.to_thread(host.check_host, runtime=runtime_name)
    try:
        host.require(checks)
        smoke = await asyncio.to_thread(_smoke_test, config.data_dir / "runtime", runtime_name,
                                        cgroup=f"{cgroup_parent}/hostcheck")
        host.require([smoke])
    except host.HostError as e:
        print(f"pybernetes agent: {e}", file=sys.stderr)
        return 1
    try:
        puller = ImagePuller.for_agent(config.data_dir, registry_config=getattr(args, "registry_config", None),
                                       disable_default_endpoint=bool(getattr(args, "disable_default_registry_endpoint",
                                                                             False)))
    except images_config.ConfigError as e:
        print(f"pybernetes agent: {e}", file=sys.stderr)
        return 2
    mem = int(config.capacity.get("memory", "0Ki")[:-2] or 0) * 1024
    cluster_dns = tuple(x for x in str(getattr(args, "cluster_dns", "") or "10.43.0.10").split(",") if x)
    bridge = str(getattr(args, "cni_bridge", "") or "pyb0")
    runtime = OCIRuntime(OCIConfig(root=config.data_dir / "runtime", runtime=runtime_name,
                                   cluster_dns=cluster_dns,
                                   cluster_domain=getattr(args, "cluster_domain", "") or "cluster.local",
                                   node_hostname=socket.gethostname(), memory_capacity=mem, log_root=log_root,
                                   cgroup_parent=cgroup_parent),
                         images=puller, network=CNINetwork(data_dir=config.data_dir, bridge=bridge))
    try:
        await runtime.start()
    except Exception as e:
        await puller.close()
        print(f"pybernetes agent: cannot start the container runtime: {e}", file=sys.stderr)
        return 1
    cfg = ClientConfig(server=config.server, ca_pem=ca, token=config.token, user_agent=USER_AGENT)
    client, hb, ev = Client(cfg, limit=32), Client(cfg, limit=8), Client(cfg, limit=8)
    node = config.node_names[0]
    agent: Agent | None = None

    def event(pod: Any, type_: str, reason: str, message: str, field_path: str) -> None:
        if agent is not None:
            agent.recorders.event(node, pod, type_, reason, message, field_path=field_path)

    setup = PodSetup.for_agent(client=client, runtime=runtime, data_dir=config.data_dir, event=event, node_name=node,
                               allocatable=ns.resources(config.capacity)[1])
    agent = Agent(config=config, client=client, heartbeat_client=hb, events_client=ev, runtime=runtime,
                  setup=setup)
    from pybernetes.kubelet.clusternet import ClusterNetwork  # host-gw routes and cluster DNS (issue 5)
    net = ClusterNetwork.for_agent(agent, config=config, ca=ca, cluster_dns=cluster_dns,
                                   cluster_domain=getattr(args, "cluster_domain", "") or "cluster.local",
                                   bridge=bridge)
    extras: list[Any] = [setup, net]
    refresh = asyncio.get_running_loop().create_task(setup.run(), name="pod-volume-refresh")
    net.start()
    log.info("starting agent", extra={"server": config.server, "node": config.node_names[0],
                                      "runtime": f"{runtime.runtime_name}://{runtime.runtime_version}"})
    try:
        server = await _kubelet_server(config, ca, args, agent, runtime)
        if server is not None:
            extras.append(server)
            agent.nodes.kubelet_port = server.port
        await agent.run()
        return 0
    finally:
        refresh.cancel()
        await asyncio.shield(_close(agent, runtime, puller, extras, client, hb, ev))


def node_paths(args: argparse.Namespace) -> tuple[Path, str]:
    """(the log root holding ``pods/`` and ``containers/``, the pods' cgroup parent) from ``--pod-log-dir`` and
    ``--cgroup-parent``: each agent sharing a machine with others gets its own (the test hosts of issue 5)."""
    from pybernetes.kubelet.runtime.oci.cgroups import PARENT
    pod_logs = Path(str(getattr(args, "pod_log_dir", "") or "/var/log/pods"))
    if not pod_logs.is_absolute() or pod_logs.name != "pods":
        raise ConfigError(f"--pod-log-dir {str(pod_logs)!r}: must be an absolute path ending in /pods "
                          "(container log links go to the containers/ beside it)")
    parent = "/" + str(getattr(args, "cgroup_parent", "") or PARENT).strip("/")
    if parent != PARENT and not parent.startswith(PARENT + "/"):
        raise ConfigError(f"--cgroup-parent {parent!r}: must be {PARENT} or below it")
    return pod_logs.parent, parent


def _smoke_test(root: Path, runtime: str, *, cgroup: str = "/pybernetes/hostcheck") -> Any:
    """Run one throw-away container: the runtime, cgroups and namespaces work together on this host."""
    from pybernetes.kubelet.runtime.oci import host, rootfs
    binary = host.Host().which(runtime) or runtime
    pause = rootfs.make_pause_rootfs(root / "pause")
    return host.smoke_test(runtime=runtime, binary=binary, work=root / "hostcheck", pause_rootfs=pause,
                           cgroup=cgroup)


async def _kubelet_server(config: AgentConfig, ca: bytes | None, args: argparse.Namespace, agent: Any,
                          runtime: Any) -> Any:
    """The kubelet's streaming server (logs, exec, attach, port-forward), authenticating the API server by the
    cluster's client CA."""
    from pybernetes.kubelet.server import KubeletServer, WorkerPods, fetch_client_ca

    client_ca = await fetch_client_ca(config.server, token=config.token, server_ca=ca)
    ip = config.node_ip or primary_ipv4()
    server = KubeletServer(runtime=runtime, pods=WorkerPods(agent.workers, agent.status), data_dir=config.data_dir,
                           client_ca=client_ca, port=int(getattr(args, "kubelet_port", 10250)),
                           names=(config.node_names[0], socket.gethostname()), ips=(ip, "127.0.0.1"))
    await server.start()
    return server


async def _close(agent: Any, runtime: Any, puller: Any, extras: list[Any], *clients: Any) -> None:
    """Stop the agent; the shim and its containers keep running for the next agent to adopt."""
    with contextlib.suppress(Exception):
        await agent.close()
    for x in extras:
        with contextlib.suppress(Exception):
            await x.stop()
    with contextlib.suppress(Exception):
        await runtime.close()
    with contextlib.suppress(Exception):
        await puller.close()
    for c in clients:
        with contextlib.suppress(Exception):
            await c.close()
