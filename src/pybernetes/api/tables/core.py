"""Tables of the core/v1 kinds other than Pod and Event (upstream ``printers.go``, same columns and cells).

LimitRange has no printer upstream and gets the default NAME/CREATED AT table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pybernetes.api.tables.descriptions import DOCS
from pybernetes.api.tables.printer import (
    AGE,
    CONTAINERS,
    IMAGES,
    NAME,
    Obj,
    Printer,
    age_of,
    column,
    containers_of,
    format_labels,
    layout_containers,
    quantity,
)

__all__ = ["PRINTERS", "access_modes", "endpoints_cell", "service_external_ip"]

_EMPTY: dict[str, Any] = {}


def _meta(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or _EMPTY


def _spec(obj: Obj) -> dict[str, Any]:
    return obj.get("spec") or _EMPTY


def _status(obj: Obj) -> dict[str, Any]:
    return obj.get("status") or _EMPTY


# -- PodTemplate, ReplicationController ---------------------------------------------------------------------------

def _pod_template(obj: Obj, now: datetime) -> list[Any]:
    template = obj.get("template") or _EMPTY
    names, images = layout_containers(containers_of(template))
    labels = (template.get("metadata") or _EMPTY).get("labels")
    return [_meta(obj).get("name", ""), names, images, format_labels(labels)]


def _replication_controller(obj: Obj, now: datetime) -> list[Any]:
    spec, status = _spec(obj), _status(obj)
    names, images = layout_containers(containers_of(spec.get("template")))
    return [_meta(obj).get("name", ""), spec.get("replicas") or 0, status.get("replicas") or 0,
            status.get("readyReplicas") or 0, age_of(obj, now), names, images, format_labels(spec.get("selector"))]


# -- Service, Endpoints -------------------------------------------------------------------------------------------

def _load_balancer(status: dict[str, Any]) -> str:
    """``loadBalancerStatusStringer`` (wide: never clipped): sorted, de-duplicated IPs or hostnames."""
    found = set()
    for ing in (status.get("loadBalancer") or _EMPTY).get("ingress") or ():
        if ing.get("ip"):
            found.add(ing["ip"])
        elif ing.get("hostname"):
            found.add(ing["hostname"])
    return ",".join(sorted(found))


def service_external_ip(svc: Obj) -> str:
    """``getServiceExternalIP``: EXTERNAL-IP by service type ("<none>", "<pending>", "<unknown>" …)."""
    spec = _spec(svc)
    external = spec.get("externalIPs") or []
    kind = spec.get("type")
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if kind == "LoadBalancer":
        lb = _load_balancer(_status(svc))
        if external:
            return ",".join([*(lb.split(",") if lb else []), *external])
        return lb or "<pending>"
    if kind == "ExternalName":
        return spec.get("externalName") or ""
    return "<unknown>"


def _ports(ports: list[dict[str, Any]]) -> str:
    pieces = []
    for p in ports:
        node_port = p.get("nodePort") or 0
        proto = p.get("protocol") or ""
        pieces.append(f"{p.get('port') or 0}:{node_port}/{proto}" if node_port > 0 else f"{p.get('port') or 0}/{proto}")
    return ",".join(pieces)


def _service(obj: Obj, now: datetime) -> list[Any]:
    spec = _spec(obj)
    ips = spec.get("clusterIPs") or []
    return [_meta(obj).get("name", ""), spec.get("type") or "", ips[0] if ips else "<none>", service_external_ip(obj),
            _ports(spec.get("ports") or []) or "<none>", age_of(obj, now), format_labels(spec.get("selector"))]


def _join_host_port(host: str, port: int) -> str:
    """``net.JoinHostPort``: brackets around any host containing a colon (IPv6)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def endpoints_cell(obj: Obj, limit: int = 3) -> str:
    """``formatEndpoints``: the first three ``ip:port`` pairs, then " + N more..."; "<none>" without subsets."""
    subsets = obj.get("subsets") or []
    if not subsets:
        return "<none>"
    out: list[str] = []
    count = 0
    more = False
    for ss in subsets:
        addresses = ss.get("addresses") or []
        ports = ss.get("ports") or []
        if not ports:                                   # headless service without ports
            count += len(addresses)
            for a in addresses:
                if len(out) == limit:
                    more = True
                    break
                out.append(a.get("ip") or "")
            continue
        for p in ports:
            count += len(addresses)
            for a in addresses:
                if len(out) == limit:
                    more = True
                    break
                out.append(_join_host_port(a.get("ip") or "", p.get("port") or 0))
    text = ",".join(out)
    return f"{text} + {count - limit} more..." if more else text


def _endpoints(obj: Obj, now: datetime) -> list[Any]:
    return [_meta(obj).get("name", ""), endpoints_cell(obj), age_of(obj, now)]


# -- Node ---------------------------------------------------------------------------------------------------------

_ROLE_PREFIX = "node-role.kubernetes.io/"
_ROLE_LABEL = "kubernetes.io/role"


def _node_roles(labels: dict[str, str]) -> str:
    roles = set()
    for k, v in labels.items():
        if k.startswith(_ROLE_PREFIX):
            if role := k[len(_ROLE_PREFIX):]:
                roles.add(role)
        elif k == _ROLE_LABEL and v:
            roles.add(v)
    return ",".join(sorted(roles)) or "<none>"


def _node_address(status: dict[str, Any], kind: str) -> str:
    for a in status.get("addresses") or ():
        if a.get("type") == kind:
            return a.get("address") or ""
    return "<none>"


def _node(obj: Obj, now: datetime) -> list[Any]:
    status = _status(obj)
    ready = None
    for c in status.get("conditions") or ():
        if c.get("type") == "Ready":
            ready = c                                   # the last Ready condition wins, as upstream's map
    states = ["Unknown"] if ready is None else ["Ready" if ready.get("status") == "True" else "NotReady"]
    if _spec(obj).get("unschedulable"):
        states.append("SchedulingDisabled")
    info = status.get("nodeInfo") or _EMPTY
    meta = _meta(obj)
    return [meta.get("name", ""), ",".join(states), _node_roles(meta.get("labels") or {}), age_of(obj, now),
            info.get("kubeletVersion") or "", _node_address(status, "InternalIP"), _node_address(status, "ExternalIP"),
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


# -- Namespace, Secret, ServiceAccount, ConfigMap -----------------------------------------------------------------

def _namespace(obj: Obj, now: datetime) -> list[Any]:
    return [_meta(obj).get("name", ""), _status(obj).get("phase") or "", age_of(obj, now)]


def _secret(obj: Obj, now: datetime) -> list[Any]:
    return [_meta(obj).get("name", ""), obj.get("type") or "", len(obj.get("data") or ()), age_of(obj, now)]


def _service_account(obj: Obj, now: datetime) -> list[Any]:
    return [_meta(obj).get("name", ""), len(obj.get("secrets") or ()), age_of(obj, now)]


def _config_map(obj: Obj, now: datetime) -> list[Any]:
    return [_meta(obj).get("name", ""), len(obj.get("data") or ()) + len(obj.get("binaryData") or ()),
            age_of(obj, now)]


# -- PersistentVolume, PersistentVolumeClaim ----------------------------------------------------------------------

_BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"


def access_modes(modes: list[str] | None) -> str:
    """``GetAccessModesAsString``: RWO, ROX, RWX, RWOP in that order, each once."""
    have = set(modes or ())
    return ",".join(short for mode, short in (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"),
                                              ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP"))
                    if mode in have)


def _storage_class(obj: Obj, spec_class: Any) -> str:
    annotations = _meta(obj).get("annotations") or _EMPTY
    if _BETA_STORAGE_CLASS in annotations:
        return str(annotations[_BETA_STORAGE_CLASS])
    return spec_class or ""


def _persistent_volume(obj: Obj, now: datetime) -> list[Any]:
    spec, status, meta = _spec(obj), _status(obj), _meta(obj)
    ref = spec.get("claimRef")
    claim = f"{ref.get('namespace') or ''}/{ref.get('name') or ''}" if ref is not None else ""
    phase = "Terminating" if meta.get("deletionTimestamp") else status.get("phase") or ""
    vac = spec.get("volumeAttributesClassName")
    mode = spec.get("volumeMode")
    return [meta.get("name", ""), quantity((spec.get("capacity") or _EMPTY).get("storage")),
            access_modes(spec.get("accessModes")), spec.get("persistentVolumeReclaimPolicy") or "", phase, claim,
            _storage_class(obj, spec.get("storageClassName")), "<unset>" if vac is None else vac,
            status.get("reason") or "", age_of(obj, now), "<unset>" if mode is None else mode]


def _persistent_volume_claim(obj: Obj, now: datetime) -> list[Any]:
    spec, status, meta = _spec(obj), _status(obj), _meta(obj)
    phase = "Terminating" if meta.get("deletionTimestamp") else status.get("phase") or ""
    volume = spec.get("volumeName") or ""
    capacity = modes = ""
    if volume:
        modes = access_modes(status.get("accessModes"))
        capacity = quantity((status.get("capacity") or _EMPTY).get("storage"))
    vac = spec.get("volumeAttributesClassName")
    mode = spec.get("volumeMode")
    return [meta.get("name", ""), phase, volume, capacity, modes, _storage_class(obj, spec.get("storageClassName")),
            "<unset>" if vac is None else vac, age_of(obj, now), "<unset>" if mode is None else mode]


# -- ResourceQuota ------------------------------------------------------------------------------------------------

def _resource_quota(obj: Obj, now: datetime) -> list[Any]:
    status = _status(obj)
    hard = status.get("hard") or _EMPTY
    used = status.get("used") or _EMPTY
    requests: list[str] = []
    limits: list[str] = []
    for name in sorted(hard):
        pieces = name.split(".")
        target = limits if len(pieces) > 1 and pieces[0] == "limits" else requests
        target.append(f"{name}: {quantity(used.get(name))}/{quantity(hard[name])}")
    return [_meta(obj).get("name", ""), ", ".join(requests), ", ".join(limits), age_of(obj, now)]


PRINTERS = {
    ("", "PodTemplate"): Printer((
        NAME,
        column("Containers", "string", CONTAINERS),
        column("Images", "string", IMAGES),
        column("Pod Labels", "string", "The labels for the pod template."),
    ), _pod_template),
    ("", "ReplicationController"): Printer((
        NAME,
        column("Desired", "integer", DOCS["core.ReplicationControllerSpec.replicas"]),
        column("Current", "integer", DOCS["core.ReplicationControllerStatus.replicas"]),
        column("Ready", "integer", DOCS["core.ReplicationControllerStatus.readyReplicas"]),
        AGE,
        column("Containers", "string", CONTAINERS, priority=1),
        column("Images", "string", IMAGES, priority=1),
        column("Selector", "string", DOCS["core.ReplicationControllerSpec.selector"], priority=1),
    ), _replication_controller),
    ("", "Service"): Printer((
        NAME,
        column("Type", "string", DOCS["core.ServiceSpec.type"]),
        column("Cluster-IP", "string", DOCS["core.ServiceSpec.clusterIP"]),
        column("External-IP", "string", DOCS["core.ServiceSpec.externalIPs"]),
        column("Port(s)", "string", DOCS["core.ServiceSpec.ports"]),
        AGE,
        column("Selector", "string", DOCS["core.ServiceSpec.selector"], priority=1),
    ), _service),
    ("", "Endpoints"): Printer((
        NAME,
        column("Endpoints", "string", DOCS["core.Endpoints.subsets"]),
        AGE,
    ), _endpoints),
    ("", "Node"): Printer((
        NAME,
        column("Status", "string", "The status of the node"),
        column("Roles", "string", "The roles of the node"),
        AGE,
        column("Version", "string", DOCS["core.NodeSystemInfo.kubeletVersion"]),
        column("Internal-IP", "string", DOCS["core.NodeStatus.addresses"], priority=1),
        column("External-IP", "string", DOCS["core.NodeStatus.addresses"], priority=1),
        column("OS-Image", "string", DOCS["core.NodeSystemInfo.osImage"], priority=1),
        column("Kernel-Version", "string", DOCS["core.NodeSystemInfo.kernelVersion"], priority=1),
        column("Container-Runtime", "string", DOCS["core.NodeSystemInfo.containerRuntimeVersion"], priority=1),
    ), _node),
    ("", "Namespace"): Printer((
        NAME,
        column("Status", "string", "The status of the namespace"),
        AGE,
    ), _namespace),
    ("", "Secret"): Printer((
        NAME,
        column("Type", "string", DOCS["core.Secret.type"]),
        column("Data", "string", DOCS["core.Secret.data"]),
        AGE,
    ), _secret),
    ("", "ServiceAccount"): Printer((
        NAME,
        column("Secrets", "string", DOCS["core.ServiceAccount.secrets"]),
        AGE,
    ), _service_account),
    ("", "ConfigMap"): Printer((
        NAME,
        column("Data", "string", DOCS["core.ConfigMap.data"]),
        AGE,
    ), _config_map),
    ("", "PersistentVolume"): Printer((
        NAME,
        column("Capacity", "string", DOCS["core.PersistentVolumeSpec.capacity"]),
        column("Access Modes", "string", DOCS["core.PersistentVolumeSpec.accessModes"]),
        column("Reclaim Policy", "string", DOCS["core.PersistentVolumeSpec.persistentVolumeReclaimPolicy"]),
        column("Status", "string", DOCS["core.PersistentVolumeStatus.phase"]),
        column("Claim", "string", DOCS["core.PersistentVolumeSpec.claimRef"]),
        column("StorageClass", "string", "StorageClass of the pv"),
        column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
        column("Reason", "string", DOCS["core.PersistentVolumeStatus.reason"]),
        AGE,
        column("VolumeMode", "string", DOCS["core.PersistentVolumeSpec.volumeMode"], priority=1),
    ), _persistent_volume),
    ("", "PersistentVolumeClaim"): Printer((
        NAME,
        column("Status", "string", DOCS["core.PersistentVolumeClaimStatus.phase"]),
        column("Volume", "string", DOCS["core.PersistentVolumeClaimSpec.volumeName"]),
        column("Capacity", "string", DOCS["core.PersistentVolumeClaimStatus.capacity"]),
        column("Access Modes", "string", DOCS["core.PersistentVolumeClaimStatus.accessModes"]),
        column("StorageClass", "string", "StorageClass of the pvc"),
        column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
        AGE,
        column("VolumeMode", "string", DOCS["core.PersistentVolumeClaimSpec.volumeMode"], priority=1),
    ), _persistent_volume_claim),
    ("", "ResourceQuota"): Printer((
        NAME,
        column("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
        column("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use "
                                  "independent of contention on the node."),
        AGE,
    ), _resource_quota),
}
