"""The Endpoints controller: one ``v1/Endpoints`` per Service with a selector, listing its pods' addresses.

As upstream's ``pkg/controller/endpoint`` (and the pod helpers of ``k8s.io/endpointslice/util``, which the
EndpointSlice controller shares from here):

- Only Services with a selector and a type other than ExternalName are managed. A selector-less Service's
  Endpoints belong to whoever wrote them (the API server's ``kubernetes`` Endpoints, users' manual ones) and are
  never touched; Endpoints whose Service is gone are deleted (upstream #6877), except leader-election records.
- A pod contributes an address when it has an IP, is not terminal, and (unless the Service publishes not-ready
  addresses) is not terminating; ready pods go to ``addresses``, the rest to ``notReadyAddresses``.
- Named target ports are resolved per pod (a containerPort with that name and protocol, sidecars included), so
  pods exposing a name on different numbers land in different subsets.
- ``endpoints.kubernetes.io/last-change-trigger-time`` is the earliest change (pod readiness transition or
  Service creation) not yet reflected, for the latency SLI.
- A write is skipped when nothing changed; a cache still showing the version we replaced is retried later rather
  than acted on (``staleEndpointsTracker``), so a slow watch cannot make us write an older state back.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pybernetes.api.meta import key_of, parse_time_or_none, split_key
from pybernetes.client.informer import Informer
from pybernetes.client.resources import ENDPOINTS, PODS, SERVICES
from pybernetes.client.rest import APIStatusError, is_namespace_terminating, is_not_found
from pybernetes.controllers.base import Controller, ControllerContext
from pybernetes.controllers.pods import is_pod_ready, ready_condition

log = logging.getLogger(__name__)
Obj = dict[str, Any]

LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
HEADLESS_LABEL = "service.kubernetes.io/headless"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
MAX_CAPACITY = 1000
NAMESPACE_INDEX = "namespace"


# ------------------------------------------------------------------ pod and service facts (shared with endpointslice)
def by_namespace(obj: Obj) -> list[str]:
    return [(obj.get("metadata") or {}).get("namespace") or ""]


def is_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def should_pod_be_in_endpoints(pod: Obj, *, include_terminating: bool) -> bool:
    """Upstream ``ShouldPodBeInEndpoints``: has an IP, is not terminal, and is not terminating unless asked."""
    if is_terminal(pod):
        return False
    st = pod.get("status") or {}
    if not st.get("podIP") and not st.get("podIPs"):
        return False
    return include_terminating or not (pod.get("metadata") or {}).get("deletionTimestamp")


def should_set_hostname(pod: Obj, svc: Obj) -> bool:
    """A pod's ``hostname`` is published only by the Service named by its ``subdomain`` (StatefulSet DNS)."""
    spec = pod.get("spec") or {}
    pmeta, smeta = pod.get("metadata") or {}, svc.get("metadata") or {}
    return bool(spec.get("hostname")) and spec.get("subdomain") == smeta.get("name") \
        and pmeta.get("namespace") == smeta.get("namespace")


def find_port(pod: Obj, svc_port: Obj) -> int | None:
    """Upstream ``FindPort``: a numeric targetPort is used as is; a name is looked up among the containers' (and
    restartable init containers') ports with the same protocol. None when the pod has no such port."""
    target = svc_port.get("targetPort")
    if target is None:
        target = svc_port.get("port")
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    proto = svc_port.get("protocol") or "TCP"
    spec = pod.get("spec") or {}
    sidecars = [c for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always"]
    for c in (*(spec.get("containers") or ()), *sidecars):
        for p in c.get("ports") or ():
            if p.get("name") == target and (p.get("protocol") or "TCP") == proto:
                return int(p["containerPort"])
    return None


def has_selector(svc: Obj) -> bool:
    return (svc.get("spec") or {}).get("selector") is not None


def is_service_ip_set(svc: Obj) -> bool:
    cip = (svc.get("spec") or {}).get("clusterIP") or ""
    return cip not in ("", "None")


def selector_matches(selector: Mapping[str, str] | None, labels: Mapping[str, str] | None) -> bool:
    """A Service selector is a plain map; nil matches nothing, ``{}`` everything."""
    if selector is None:
        return False
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


def services_for_labels(services: Iterable[Obj], labels: Mapping[str, str] | None) -> set[str]:
    return {key_of(s) for s in services if selector_matches((s.get("spec") or {}).get("selector"), labels)}


def pod_endpoints_changed(old: Obj, new: Obj) -> tuple[bool, bool]:
    """Upstream ``podEndpointsChanged``: (the pod's endpoint may have changed, its Service membership may have)."""
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    os_, ns_ = old.get("spec") or {}, new.get("spec") or {}
    labels_changed = (om.get("labels") or {}) != (nm.get("labels") or {}) \
        or os_.get("hostname") != ns_.get("hostname") or os_.get("subdomain") != ns_.get("subdomain")
    if om.get("deletionTimestamp") != nm.get("deletionTimestamp") or is_pod_ready(old) != is_pod_ready(new):
        return True, labels_changed
    oips = [p.get("ip") for p in (old.get("status") or {}).get("podIPs") or ()]
    nips = [p.get("ip") for p in (new.get("status") or {}).get("podIPs") or ()]
    if oips != nips or (old.get("status") or {}).get("phase") != (new.get("status") or {}).get("phase"):
        return True, labels_changed
    return False, labels_changed


def services_to_update(services: Iterable[Obj], old: Obj | None, new: Obj | None) -> set[str]:
    """The Services whose endpoints a pod event may change (upstream ``GetServicesToUpdateOnPodChange``)."""
    if old is None or new is None:
        pod = new if new is not None else old
        assert pod is not None
        return services_for_labels(services, (pod.get("metadata") or {}).get("labels"))
    pod_changed, labels_changed = pod_endpoints_changed(old, new)
    if not pod_changed and not labels_changed:
        return set()
    svcs = list(services)
    now = services_for_labels(svcs, (new.get("metadata") or {}).get("labels"))
    if not labels_changed:
        return now
    before = services_for_labels(svcs, (old.get("metadata") or {}).get("labels"))
    return now | before if pod_changed else now ^ before


def selected_pods(svc: Obj, candidates: Iterable[Obj]) -> list[Obj] | None:
    """The pods among ``candidates`` (its namespace's) a Service selects; None when it selects none by design
    (ExternalName, or no selector: its endpoints are written by someone else)."""
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName" or spec.get("selector") is None:
        return None
    selector = spec["selector"]
    return [p for p in candidates if selector_matches(selector, (p.get("metadata") or {}).get("labels"))]


def enqueue_services_of_pods(pods: Informer, services: Informer, enqueue: Callable[[str], None]) -> None:
    """Wire pod events to the Services whose endpoints they may change (upstream ``addPod``/``updatePod``/
    ``deletePod``): :func:`services_to_update` over the pod's namespace (``services`` needs :data:`NAMESPACE_INDEX`)."""
    def namespace_services(pod: Obj) -> list[Obj]:
        return services.by_index(NAMESPACE_INDEX, (pod.get("metadata") or {}).get("namespace") or "")

    def on_add(pod: Obj) -> None:
        for key in services_to_update(namespace_services(pod), None, pod):
            enqueue(key)

    def on_update(old: Obj, new: Obj) -> None:
        for key in services_to_update(namespace_services(new), old, new):
            enqueue(key)

    pods.add_handler(on_add, on_update, on_add)


def pod_ip_for_family(pod: Obj, family: str) -> str | None:
    for p in (pod.get("status") or {}).get("podIPs") or ():
        ip = p.get("ip") or ""
        try:
            v6 = ipaddress.ip_address(ip).version == 6
        except ValueError:
            continue
        if v6 == (family == "IPv6"):
            return str(ip)
    return None


def service_family(svc: Obj, pod: Obj) -> str:
    """The family the Endpoints of ``svc`` publish: its first IP family, else that of its cluster IP (or, headless,
    of the pod's IP), as upstream does for servers that predate IP families."""
    spec = svc.get("spec") or {}
    fams = spec.get("ipFamilies") or []
    if fams:
        return str(fams[0])
    probe = spec.get("clusterIP") if is_service_ip_set(svc) else (pod.get("status") or {}).get("podIP")
    try:
        return "IPv6" if probe and ipaddress.ip_address(probe).version == 6 else "IPv4"
    except ValueError:
        return "IPv4"


def target_ref(pod: Obj) -> Obj:
    m = pod.get("metadata") or {}
    return {"kind": "Pod", "namespace": m.get("namespace", ""), "name": m.get("name", ""), "uid": m.get("uid", "")}


def format_rfc3339_nano(t: datetime.datetime) -> str:
    """Go's ``time.RFC3339Nano`` in UTC: the fraction without trailing zeros, none at all when whole."""
    t = t.astimezone(datetime.UTC)
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{t.microsecond:06d}".rstrip("0")
    return f"{base}.{frac}Z" if frac else base + "Z"


@dataclass(slots=True)
class _TriggerState:
    service: datetime.datetime | None = None
    pods: dict[str, datetime.datetime] = field(default_factory=dict)


class TriggerTimeTracker:
    """Upstream ``TriggerTimeTracker``: the earliest trigger (a pod's Ready transition or the Service's creation)
    that changed since the previous sync of the same Service; the Service's creation time on its first sync."""

    def __init__(self) -> None:
        self._states: dict[str, _TriggerState] = {}

    def compute(self, key: str, svc: Obj, pods: Iterable[Obj]) -> datetime.datetime | None:
        state = self._states.get(key)
        known = state is not None
        if state is None:
            state = self._states[key] = _TriggerState()
        earliest: datetime.datetime | None = None
        pod_times: dict[str, datetime.datetime] = {}
        for pod in pods:
            cond = ready_condition(pod)
            t = parse_time_or_none(cond.get("lastTransitionTime")) if cond else None
            if t is None:
                continue
            name = (pod.get("metadata") or {}).get("name", "")
            pod_times[name] = t
            last = state.pods.get(name)
            if last is None or t > last:
                earliest = t if earliest is None or t < earliest else earliest
        created = parse_time_or_none((svc.get("metadata") or {}).get("creationTimestamp"))
        if created is not None and (state.service is None or created > state.service):
            earliest = created if earliest is None or created < earliest else earliest
        state.pods, state.service = pod_times, created
        return created if not known else earliest

    def delete(self, key: str) -> None:
        self._states.pop(key, None)


# ------------------------------------------------------------------ the desired Endpoints
def _address(pod: Obj, svc: Obj, family: str) -> Obj | None:
    ip = pod_ip_for_family(pod, family)
    if ip is None:
        return None
    addr: Obj = {"ip": ip}
    if should_set_hostname(pod, svc):
        addr["hostname"] = pod["spec"]["hostname"]
    addr["nodeName"] = (pod.get("spec") or {}).get("nodeName", "")
    addr["targetRef"] = target_ref(pod)
    return addr


def _endpoint_port(svc_port: Obj, number: int) -> Obj:
    port: Obj = {}
    if svc_port.get("name"):
        port["name"] = svc_port["name"]
    port["port"] = number
    port["protocol"] = svc_port.get("protocol") or "TCP"
    if svc_port.get("appProtocol"):
        port["appProtocol"] = svc_port["appProtocol"]
    return port


def _addr_key(a: Obj) -> tuple[str, str]:
    return a["ip"], (a.get("targetRef") or {}).get("uid", "")


def _port_key(p: Obj) -> tuple[str, int, str, str]:
    return p.get("name", ""), p["port"], p.get("protocol", ""), p.get("appProtocol", "")


def desired_subsets(svc: Obj, pods: Iterable[Obj]) -> list[Obj]:
    """The Service's subsets, repacked: one subset per distinct set of ports, addresses de-duplicated by IP and
    pod UID, a not-ready entry winning over a ready one for the same port (upstream ``RepackSubsets``). Sorted
    so that equal inputs give equal lists."""
    spec = svc.get("spec") or {}
    publish = bool(spec.get("publishNotReadyAddresses"))
    ports = spec.get("ports") or []
    headless_no_ports = not ports and spec.get("clusterIP") == "None"
    addrs: dict[tuple[str, str], Obj] = {}
    # port key -> {address key: ready}
    by_port: dict[tuple[str, int, str, str], tuple[Obj | None, dict[tuple[str, str], bool]]] = {}
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, include_terminating=publish):
            continue
        addr = _address(pod, svc, service_family(svc, pod))
        if addr is None:
            continue
        ready = publish or is_pod_ready(pod)
        ak = _addr_key(addr)
        addrs.setdefault(ak, addr)
        targets: list[Obj | None]
        if headless_no_ports:
            targets = [None]
        else:
            targets = []
            for sp in ports:
                n = find_port(pod, sp)
                if n is not None:
                    targets.append(_endpoint_port(sp, n))
        for ep in targets:
            pk = _port_key(ep) if ep is not None else ("", -1, "", "")
            _, members = by_port.setdefault(pk, (ep, {}))
            if members.get(ak, True):
                members[ak] = ready
    # group ports by identical (address, ready) sets
    groups: dict[tuple[tuple[tuple[str, str], bool], ...], list[Obj | None]] = {}
    for ep, members in by_port.values():
        groups.setdefault(tuple(sorted(members.items())), []).append(ep)
    subsets = []
    for members_key, eps in groups.items():
        ss: Obj = {}
        ready_addrs = [addrs[k] for k, r in members_key if r]
        not_ready = [addrs[k] for k, r in members_key if not r]
        if ready_addrs:
            ss["addresses"] = ready_addrs
        if not_ready:
            ss["notReadyAddresses"] = not_ready
        real = sorted((p for p in eps if p is not None), key=_port_key)
        if real:
            ss["ports"] = real
        subsets.append(ss)
    subsets.sort(key=_subset_key)
    return subsets


def _subset_key(ss: Obj) -> tuple[Any, ...]:
    return (tuple(_port_key(p) for p in ss.get("ports") or ()),
            tuple(_addr_key(a) for a in ss.get("addresses") or ()),
            tuple(_addr_key(a) for a in ss.get("notReadyAddresses") or ()))


def truncate(subsets: list[Obj], *, max_capacity: int = MAX_CAPACITY) -> bool:
    """Keep at most ``max_capacity`` addresses, ready ones first, spread over subsets in proportion (upstream
    ``truncateEndpoints``). Returns whether anything was dropped."""
    total_ready = sum(len(s.get("addresses") or ()) for s in subsets)
    total_not_ready = sum(len(s.get("notReadyAddresses") or ()) for s in subsets)
    if total_ready + total_not_ready <= max_capacity:
        return False
    truncate_ready = total_ready > max_capacity
    budget = max_capacity if truncate_ready else max_capacity - total_ready
    total = total_ready if truncate_ready else total_not_ready
    left = budget
    for s in subsets:
        field_ = "addresses" if truncate_ready else "notReadyAddresses"
        n = len(s.get(field_) or ())
        take = min(-(-n * budget // total) if total else 0, left)
        if n:
            s[field_] = s[field_][:take]
            if not s[field_]:
                del s[field_]
        if truncate_ready:
            s.pop("notReadyAddresses", None)
        left -= min(n, take)
    return True


def _same_subsets(a: list[Obj] | None, b: list[Obj] | None) -> bool:
    """Equal ignoring targetRef.resourceVersion (pod updates we do not care about)."""
    def strip(subsets: list[Obj] | None) -> list[Obj]:
        out = []
        for s in subsets or ():
            s2 = dict(s)
            for f in ("addresses", "notReadyAddresses"):
                if f in s2:
                    s2[f] = [{**a, "targetRef": {k: v for k, v in (a.get("targetRef") or {}).items()
                                                 if k != "resourceVersion"}} if "targetRef" in a else a
                             for a in s2[f]]
            out.append(s2)
        return out
    return strip(a) == strip(b)


def endpoints_up_to_date(current: Obj, svc: Obj, subsets: list[Obj]) -> bool:
    meta = current.get("metadata") or {}
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != HEADLESS_LABEL}
    if labels != ((svc.get("metadata") or {}).get("labels") or {}):
        return False
    n = sum(len(s.get("addresses") or ()) + len(s.get("notReadyAddresses") or ()) for s in current.get("subsets")
            or ())
    if n > MAX_CAPACITY or OVER_CAPACITY in (meta.get("annotations") or {}):
        return False
    return _same_subsets(current.get("subsets"), subsets)


def build_endpoints(current: Obj | None, svc: Obj, subsets: list[Obj],
                    trigger: datetime.datetime | None) -> Obj:
    """The Endpoints to write: the current object (or a new one) with the Service's labels, the subsets and the
    bookkeeping annotations."""
    smeta = svc.get("metadata") or {}
    if current is None:
        meta: Obj = {"name": smeta.get("name"), "namespace": smeta.get("namespace")}
        ep: Obj = {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta}
    else:
        ep = {**current, "metadata": dict(current.get("metadata") or {})}
        meta = ep["metadata"]
    labels = dict(smeta.get("labels") or {})
    if is_service_ip_set(svc):
        labels.pop(HEADLESS_LABEL, None)
    else:
        labels[HEADLESS_LABEL] = ""
    meta["labels"] = labels
    ann = dict(meta.get("annotations") or {})
    if trigger is not None:
        ann[LAST_CHANGE_TRIGGER_TIME] = format_rfc3339_nano(trigger)
    else:
        ann.pop(LAST_CHANGE_TRIGGER_TIME, None)
    subsets = [dict(s) for s in subsets]
    if truncate(subsets):
        ann[OVER_CAPACITY] = "truncated"
    else:
        ann.pop(OVER_CAPACITY, None)
    meta["annotations"] = ann
    if subsets:
        ep["subsets"] = subsets
    else:
        ep.pop("subsets", None)
    return ep


# ------------------------------------------------------------------ the controller
class StaleCache(Exception):
    """The informer still shows a version this controller already replaced; retry once it has caught up."""


class EndpointsController(Controller):
    name = "endpoints"
    workers = 5

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.services = ctx.informers.informer(SERVICES)
        self.pods = ctx.informers.informer(PODS)
        self.endpoints = ctx.informers.informer(ENDPOINTS)
        self.pods.add_index(NAMESPACE_INDEX, by_namespace)
        self.services.add_index(NAMESPACE_INDEX, by_namespace)
        self.triggers = TriggerTimeTracker()
        self._replaced: dict[str, str] = {}        # key -> resourceVersion we overwrote
        self.services.add_handler(self._on_service, lambda _o, n: self._on_service(n), self._on_service)
        enqueue_services_of_pods(self.pods, self.services, self.enqueue)
        self.endpoints.add_handler(self._on_endpoints_add, None, self._on_endpoints_delete)

    # ---------------------------------------------------------------- handlers
    def _on_service(self, svc: Obj) -> None:
        self.enqueue(key_of(svc))

    def _on_endpoints_add(self, ep: Obj) -> None:
        # Leftovers (a Service deleted while we were down) are found by looking at every Endpoints once.
        if self.services.get(key_of(ep)) is None:
            self.enqueue(key_of(ep))

    def _on_endpoints_delete(self, ep: Obj) -> None:
        self.enqueue(key_of(ep))

    # ---------------------------------------------------------------- reconcile
    async def reconcile(self, key: str) -> float | None:
        ns, name = split_key(key)
        svc = self.services.get(key)
        if svc is None:
            await self._delete_orphan(key, ns, name)
            return None
        pods = selected_pods(svc, self.pods.by_index(NAMESPACE_INDEX, ns))
        if pods is None:
            return None
        trigger = self.triggers.compute(key, svc, pods)
        subsets = desired_subsets(svc, pods)
        current = self.endpoints.get(key)
        if current is not None and self._replaced.get(key) == current["metadata"].get("resourceVersion"):
            raise StaleCache(key)
        if current is not None and endpoints_up_to_date(current, svc, subsets):
            return None
        new = build_endpoints(current, svc, subsets, trigger)
        await self._write(key, current, new, svc)
        return None

    async def _write(self, key: str, current: Obj | None, new: Obj, svc: Obj) -> None:
        ns = new["metadata"]["namespace"]
        try:
            if current is None:
                await self.client.create(ENDPOINTS, new, ns)
            else:
                out = await self.client.update(ENDPOINTS, new)
                old_rv = current["metadata"].get("resourceVersion")
                if out.get("metadata", {}).get("resourceVersion") != old_rv:
                    self._replaced[key] = old_rv
        except APIStatusError as e:
            if current is None and is_namespace_terminating(e):
                return
            if current is None:
                self.recorder.event(new, "Warning", "FailedToCreateEndpoint",
                                    f"Failed to create endpoint for service {key}: {e.status.get('message', e)}")
            else:
                self.recorder.event(new, "Warning", "FailedToUpdateEndpoint",
                                    f"Failed to update endpoint {key}: {e.status.get('message', e)}")
            raise

    async def _delete_orphan(self, key: str, ns: str, name: str) -> None:
        self.triggers.delete(key)
        self._replaced.pop(key, None)
        ep = self.endpoints.get(key)
        if ep is not None and LEADER_ANNOTATION in ((ep.get("metadata") or {}).get("annotations") or {}):
            return
        if ep is None:
            return
        try:
            await self.client.delete(ENDPOINTS, name, ns)
        except APIStatusError as e:
            if not is_not_found(e):
                raise
