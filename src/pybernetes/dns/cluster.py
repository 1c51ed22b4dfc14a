"""What cluster DNS knows about the cluster: Namespaces, Services, EndpointSlices and Pods cut down to the facts
that make records, with the indexes lookups use (by name, by ClusterIP, by endpoint IP, by pod IP).

Each object is reduced once when its informer event arrives (CoreDNS's ``object.ToService`` & co. do the
same), so a query costs dictionary lookups and no re-reading of API objects. EndpointSlices keep only their
ready endpoints — a missing ``ready`` condition counts as ready, as the API documents and CoreDNS reads it — so
every consumer sees the same set. The ``serial`` (the zone's SOA serial) is the Unix time of the last change.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pybernetes.dns.names import endpoint_label

Obj = Mapping[str, Any]
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
Key = tuple[str, str]                     # (namespace, name)


@dataclass(frozen=True, slots=True)
class Port:
    name: str                             # lower case
    protocol: str                         # lower case: tcp | udp | sctp
    port: int                             # -1: a slice without ports (CoreDNS's sentinel)


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    namespace: str
    name: str
    cluster_ips: tuple[str, ...]          # () for headless and ExternalName Services
    headless: bool
    external_name: str                    # ExternalName Services only
    ports: tuple[Port, ...]


@dataclass(frozen=True, slots=True)
class Endpoint:
    ip: str
    hostname: str                         # the endpoint's hostname, or its dashed IP


@dataclass(frozen=True, slots=True)
class SliceRecord:
    namespace: str
    service: str
    ports: tuple[Port, ...]
    endpoints: tuple[Endpoint, ...]       # ready ones only


def _port(p: Obj) -> Port:
    port = p.get("port")
    return Port(name=str(p.get("name") or "").lower(), protocol=str(p.get("protocol") or "TCP").lower(),
                port=int(port) if port is not None else -1)


def service_record(svc: Obj) -> ServiceRecord:
    meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
    typ = spec.get("type") or "ClusterIP"
    ips = [ip for ip in (spec.get("clusterIPs") or [spec.get("clusterIP")]) if ip]
    headless = typ != "ExternalName" and bool(ips) and ips[0] == "None"
    return ServiceRecord(namespace=meta.get("namespace", ""), name=meta.get("name", ""),
                         cluster_ips=() if headless or typ == "ExternalName" else tuple(ips),
                         headless=headless,
                         external_name=str(spec.get("externalName") or "") if typ == "ExternalName" else "",
                         ports=tuple(_port(p) for p in spec.get("ports") or ()))


def slice_record(sl: Obj) -> SliceRecord | None:
    """The slice's facts, or None when it belongs to no Service (no ``kubernetes.io/service-name``)."""
    meta = sl.get("metadata") or {}
    service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL) or ""
    if not service:
        return None
    ports = tuple(_port(p) for p in sl.get("ports") or ()) or (Port("", "", -1),)
    eps: list[Endpoint] = []
    for ep in sl.get("endpoints") or ():
        if (ep.get("conditions") or {}).get("ready") is False:
            continue
        hostname = ep.get("hostname") or ""
        for ip in ep.get("addresses") or ():
            eps.append(Endpoint(ip=ip, hostname=(hostname or endpoint_label(ip)).lower()))
    return SliceRecord(namespace=meta.get("namespace", ""), service=service, ports=ports, endpoints=tuple(eps))


def pod_ips(pod: Obj) -> tuple[str, ...]:
    """A running pod's IPs; none while it terminates or after it finished (CoreDNS's pod watch filters the
    same phases and deletions)."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    if meta.get("deletionTimestamp") or status.get("phase") in ("Succeeded", "Failed", "Unknown"):
        return ()
    ips = [p.get("ip") for p in status.get("podIPs") or () if p.get("ip")]
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    return tuple(ips)


def _index_add(idx: dict[str, set[Key]], values: Iterable[str], key: Key) -> None:
    for v in values:
        idx.setdefault(v, set()).add(key)


def _index_remove(idx: dict[str, set[Key]], values: Iterable[str], key: Key) -> None:
    for v in values:
        s = idx.get(v)
        if s is not None:
            s.discard(key)
            if not s:
                del idx[v]


def _key(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return meta.get("namespace", ""), meta.get("name", "")


class ClusterRecords:
    """The DNS view of the cluster, fed by informer events (``set_*`` on add/update, ``remove_*`` on delete)."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.namespaces: set[str] = set()
        self.services: dict[Key, ServiceRecord] = {}
        self.slices: dict[Key, SliceRecord] = {}
        self.pods: dict[Key, tuple[str, ...]] = {}
        self._by_cluster_ip: dict[str, set[Key]] = {}
        self._slices_of: dict[str, set[Key]] = {}         # "ns/service" → slice keys
        self._by_endpoint_ip: dict[str, set[Key]] = {}
        self._pods_by_ip: dict[str, set[Key]] = {}
        self.serial = int(clock())
        self.synced = False

    def _touch(self) -> None:
        self.serial = max(self.serial, int(self.clock()))

    # ------------------------------------------------------------------------------------------ namespaces
    def set_namespace(self, ns: Obj) -> None:
        self.namespaces.add((ns.get("metadata") or {}).get("name", ""))
        self._touch()

    def remove_namespace(self, ns: Obj) -> None:
        self.namespaces.discard((ns.get("metadata") or {}).get("name", ""))
        self._touch()

    # ------------------------------------------------------------------------------------------ services
    def set_service(self, svc: Obj) -> None:
        key = _key(svc)
        self.remove_service(svc)
        rec = self.services[key] = service_record(svc)
        _index_add(self._by_cluster_ip, rec.cluster_ips, key)
        self._touch()

    def remove_service(self, svc: Obj) -> None:
        key = _key(svc)
        old = self.services.pop(key, None)
        if old is not None:
            _index_remove(self._by_cluster_ip, old.cluster_ips, key)
            self._touch()

    def service(self, namespace: str, name: str) -> ServiceRecord | None:
        return self.services.get((namespace, name))

    def services_by_ip(self, ip: str) -> list[ServiceRecord]:
        return [self.services[k] for k in sorted(self._by_cluster_ip.get(ip, ()))]

    # ------------------------------------------------------------------------------------------ slices
    def set_slice(self, sl: Obj) -> None:
        key = _key(sl)
        self.remove_slice(sl)
        rec = slice_record(sl)
        if rec is None:
            return
        self.slices[key] = rec
        self._slices_of.setdefault(f"{rec.namespace}/{rec.service}", set()).add(key)
        _index_add(self._by_endpoint_ip, (e.ip for e in rec.endpoints), key)
        self._touch()

    def remove_slice(self, sl: Obj) -> None:
        key = _key(sl)
        old = self.slices.pop(key, None)
        if old is None:
            return
        _index_remove(self._slices_of, (f"{old.namespace}/{old.service}",), key)
        _index_remove(self._by_endpoint_ip, (e.ip for e in old.endpoints), key)
        self._touch()

    def slices_of(self, namespace: str, service: str) -> list[SliceRecord]:
        """The Service's slices, in name order (answers do not shuffle between identical queries)."""
        return [self.slices[k] for k in sorted(self._slices_of.get(f"{namespace}/{service}", ()))]

    def slices_by_ip(self, ip: str) -> list[SliceRecord]:
        return [self.slices[k] for k in sorted(self._by_endpoint_ip.get(ip, ()))]

    # ------------------------------------------------------------------------------------------ pods
    def set_pod(self, pod: Obj) -> None:
        key = _key(pod)
        ips = pod_ips(pod)
        old = self.pods.get(key)
        if old == ips:
            return
        if old is not None:
            _index_remove(self._pods_by_ip, old, key)
        if ips:
            self.pods[key] = ips
            _index_add(self._pods_by_ip, ips, key)
        else:
            self.pods.pop(key, None)

    def remove_pod(self, pod: Obj) -> None:
        key = _key(pod)
        old = self.pods.pop(key, None)
        if old is not None:
            _index_remove(self._pods_by_ip, old, key)

    def pod_namespaces_by_ip(self, ip: str) -> set[str]:
        return {ns for ns, _ in self._pods_by_ip.get(ip, ())}
