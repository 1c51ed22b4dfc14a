"""What a Node object says about a node, as the kubelet fills it (upstream ``pkg/kubelet/nodestatus/setters.go``
and ``kubelet_node_status.go``). Pure functions over plain values.

- labels ``kubernetes.io/hostname``, ``kubernetes.io/os``, ``kubernetes.io/arch`` and their deprecated
  ``beta.kubernetes.io/*`` twins; the ``volumes.kubernetes.io/controller-managed-attach-detach`` annotation;
- ``nodeInfo`` with every field (1.33 leaves ``kubeProxyVersion`` empty: DisableNodeKubeProxyVersion is on);
- capacity, and allocatable = capacity minus the default hard eviction thresholds (``memory.available<100Mi``,
  ``nodefs.available<10%``), as a kubelet with no reservations reports;
- conditions MemoryPressure, DiskPressure, PIDPressure, then Ready last (upstream keeps Ready last for old
  clients), with the kubelet's reasons and messages; ``lastTransitionTime`` moves only on a change;
- ``daemonEndpoints.kubeletEndpoint.Port`` (capital P: that is the JSON name).
"""

from __future__ import annotations

import functools
import hashlib
import pathlib
import platform
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pybernetes import KUBE_VERSION, __version__
from pybernetes.api.quantity import BINARY_SI, Quantity, parse_quantity
from pybernetes.kubelet.runtime.interface import ImageRef

Obj = dict[str, Any]
KUBELET_PORT = 10250
MAX_IMAGES = 50                        # upstream nodeStatusMaxImages
MAX_NAMES_PER_IMAGE = 5
EVICTION_MEMORY = parse_quantity("100Mi")
EVICTION_NODEFS_PERCENT = 10
DEFAULT_CAPACITY = {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi",
                    "hugepages-1Gi": "0", "hugepages-2Mi": "0"}
ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
        "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}

# (type, reason and message when fine) in the order the kubelet appends them.
CONDITIONS: tuple[tuple[str, str, str, str], ...] = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)
CONDITION_EVENTS = {"MemoryPressure": "NodeHasSufficientMemory", "DiskPressure": "NodeHasNoDiskPressure",
                    "PIDPressure": "NodeHasSufficientPID", "Ready": "NodeReady"}


@dataclass(frozen=True, slots=True)
class HostInfo:
    """Facts about the machine the agent runs on, shared by every node it simulates."""

    kernel_version: str
    os_image: str
    operating_system: str
    architecture: str
    boot_id: str
    container_runtime_version: str
    kubelet_version: str


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    name: str
    internal_ip: str
    hostname: str
    machine_id: str
    system_uuid: str
    boot_id: str


def _os_image() -> str:
    try:
        for line in pathlib.Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()


def _host_boot_id() -> str:
    try:
        return pathlib.Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return str(uuid.uuid4())


@functools.cache
def host_info(runtime_name: str, runtime_version: str) -> HostInfo:
    return HostInfo(kernel_version=platform.release(), os_image=_os_image(),
                    operating_system=platform.system().lower() or "linux",
                    architecture=ARCH.get(platform.machine().lower(), platform.machine().lower()),
                    boot_id=_host_boot_id(), container_runtime_version=f"{runtime_name}://{runtime_version}",
                    kubelet_version=f"{KUBE_VERSION}+pybernetes.{__version__}")


def simulated_identity(name: str, internal_ip: str, host: HostInfo) -> NodeIdentity:
    """Stable ids for a simulated node: machineID and systemUUID from its name, bootID from its name and the host's
    boot (an agent restart is not a reboot; a host reboot is)."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    return NodeIdentity(name=name, internal_ip=internal_ip, hostname=name, machine_id=digest[:32],
                        system_uuid=str(uuid.UUID(digest[32:64])),
                        boot_id=str(uuid.uuid5(uuid.NAMESPACE_OID, f"{host.boot_id}/{name}")))


def default_labels(identity: NodeIdentity, host: HostInfo) -> dict[str, str]:
    return {"beta.kubernetes.io/arch": host.architecture, "beta.kubernetes.io/os": host.operating_system,
            "kubernetes.io/arch": host.architecture, "kubernetes.io/hostname": identity.hostname.lower(),
            "kubernetes.io/os": host.operating_system}


def node_info(identity: NodeIdentity, host: HostInfo) -> dict[str, str]:
    return {"machineID": identity.machine_id, "systemUUID": identity.system_uuid, "bootID": identity.boot_id,
            "kernelVersion": host.kernel_version, "osImage": host.os_image,
            "containerRuntimeVersion": host.container_runtime_version, "kubeletVersion": host.kubelet_version,
            "kubeProxyVersion": "", "operatingSystem": host.operating_system, "architecture": host.architecture}


def resources(capacity: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(capacity, allocatable) as canonical quantity strings; missing standard resources get defaults."""
    cap = {**DEFAULT_CAPACITY, **capacity}
    alloc: dict[str, str] = {}
    for k, v in cap.items():
        q = parse_quantity(v)
        if k == "memory":
            q = q - EVICTION_MEMORY
        elif k == "ephemeral-storage":
            q = q - Quantity.from_int(q.value() * EVICTION_NODEFS_PERCENT // 100, BINARY_SI)
        if q.sign() < 0:
            q = Quantity.from_int(0)
        alloc[k] = str(q)
        cap[k] = str(parse_quantity(v))
    return cap, alloc


def conditions(old: Sequence[Obj] | None, now: str) -> list[Obj]:
    """The four kubelet conditions, healthy; each keeps its ``lastTransitionTime`` unless its status changes."""
    prev = {c.get("type"): c for c in old or ()}
    out = []
    for ctype, status, reason, message in CONDITIONS:
        p = prev.get(ctype)
        since = p.get("lastTransitionTime") if p is not None and p.get("status") == status else None
        out.append({"type": ctype, "status": status, "lastHeartbeatTime": now, "lastTransitionTime": since or now,
                    "reason": reason, "message": message})
    return out


def transitions(old: Sequence[Obj] | None, new: Sequence[Obj]) -> list[str]:
    """Condition types whose status changed (for the kubelet's NodeReady/NodeHas… events)."""
    prev = {c.get("type"): c.get("status") for c in old or ()}
    return [c["type"] for c in new if prev.get(c["type"]) != c["status"]]


def images(refs: Sequence[ImageRef]) -> list[Obj]:
    """``status.images``: biggest first, at most 50, each with its digest and tag names."""
    out = []
    for ref in sorted(refs, key=lambda r: r.size, reverse=True)[:MAX_IMAGES]:
        out.append({"names": [ref.id, ref.name][:MAX_NAMES_PER_IMAGE], "sizeBytes": ref.size})
    return out


def node_status(identity: NodeIdentity, host: HostInfo, *, capacity: Mapping[str, str],
                allocatable: Mapping[str, str], conds: list[Obj], image_list: list[Obj],
                kubelet_port: int = KUBELET_PORT) -> Obj:
    status: Obj = {
        "capacity": dict(capacity), "allocatable": dict(allocatable), "conditions": conds,
        "addresses": [{"type": "InternalIP", "address": identity.internal_ip},
                      {"type": "Hostname", "address": identity.hostname}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
        "nodeInfo": node_info(identity, host),
    }
    if image_list:
        status["images"] = image_list
    return status


def initial_node(identity: NodeIdentity, host: HostInfo, *, labels: Mapping[str, str], status: Obj) -> Obj:
    """The Node the kubelet registers (upstream ``initialNode``)."""
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": identity.name, "labels": {**default_labels(identity, host), **labels},
                         "annotations": {"volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
            "spec": {}, "status": status}


def _without_heartbeats(status: Obj) -> Obj:
    conds = [{k: v for k, v in c.items() if k != "lastHeartbeatTime"} for c in status.get("conditions") or ()]
    return {**status, "conditions": conds}


def status_changed(old: Obj | None, new: Obj) -> bool:
    """Upstream ``nodeStatusHasChanged``: anything but heartbeat times differs."""
    if old is None:
        return True
    return _without_heartbeats(old) != _without_heartbeats(new)
