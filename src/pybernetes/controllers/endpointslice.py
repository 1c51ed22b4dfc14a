"""The EndpointSlice controller: a Service's pods as ``discovery.k8s.io/v1`` EndpointSlices, at most 100 each.

As upstream's ``pkg/controller/endpointslice`` and its reconciler (``k8s.io/endpointslice``):

- Slices carry ``kubernetes.io/service-name`` and ``endpointslice.kubernetes.io/managed-by:
  endpointslice-controller.k8s.io``, the Service's other labels (plus ``service.kubernetes.io/headless`` for
  headless Services), and a controller ownerReference to the Service (the garbage collector deletes them with it).
- Endpoints are grouped by their resolved port list (named ports can differ per pod) and by address type (one per
  IP family of the Service). Every pod with an IP that is not terminal is listed, terminating ones too, with
  ``ready`` (serving and not terminating, or ``publishNotReadyAddresses``), ``serving`` and ``terminating``.
- Minimal churn: endpoints stay in the slice that already holds them; changed slices are filled up first, then
  leftovers go into the unchanged slice closest to full, and only then into new slices; a create paired with a
  delete becomes an update of the slice that would have been deleted. A Service with no endpoints keeps one
  empty placeholder slice.
- A cache that has not yet seen our own writes (generation tracking) makes the sync retry instead of acting on
  old slices, which would create duplicates.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pybernetes.api.meta import key_of, split_key
from pybernetes.client.resources import ENDPOINTSLICES, NODES, PODS, SERVICES
from pybernetes.client.rest import APIStatusError, is_namespace_terminating, is_not_found
from pybernetes.controllers.base import Controller, ControllerContext
from pybernetes.controllers.endpoints import (
    HEADLESS_LABEL,
    LAST_CHANGE_TRIGGER_TIME,
    NAMESPACE_INDEX,
    TriggerTimeTracker,
    by_namespace,
    enqueue_services_of_pods,
    find_port,
    format_rfc3339_nano,
    is_service_ip_set,
    selected_pods,
    should_pod_be_in_endpoints,
    should_set_hostname,
    target_ref,
)
from pybernetes.controllers.pods import is_pod_ready

log = logging.getLogger(__name__)
Obj = dict[str, Any]

CONTROLLER_NAME = "endpointslice-controller.k8s.io"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
ZONE_LABEL = "topology.kubernetes.io/zone"
RESERVED_LABELS = frozenset({SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL})
MAX_ENDPOINTS_PER_SLICE = 100
SERVICE_INDEX = "service"
# Upstream endpointSliceChangeMinSyncDelay: a burst of slice events is one sync.
SLICE_CHANGE_DELAY = 1.0

PortKey = tuple[tuple[str, str, int, str], ...]
EndpointKey = tuple[tuple[str, ...], str, str, str]


# ------------------------------------------------------------------ pure pieces
def address_types(svc: Obj) -> list[str]:
    """The slice address types a Service needs: one per IP family; from the cluster IP for servers without
    families; both for a headless Service without families."""
    spec = svc.get("spec") or {}
    types = [f for f in ("IPv4", "IPv6") if f in (spec.get("ipFamilies") or ())]
    if types:
        return types
    if is_service_ip_set(svc):
        try:
            return ["IPv6" if ipaddress.ip_address(spec["clusterIP"]).version == 6 else "IPv4"]
        except ValueError:
            return ["IPv4"]
    return ["IPv4", "IPv6"]


def endpoint_ports(svc: Obj, pod: Obj) -> list[Obj]:
    spec = svc.get("spec") or {}
    out: list[Obj] = []
    if not spec.get("ports") and spec.get("clusterIP") == "None":
        return out
    for sp in spec.get("ports") or ():
        n = find_port(pod, sp)
        if n is None:
            continue
        p: Obj = {"name": sp.get("name") or "", "protocol": sp.get("protocol") or "TCP", "port": n}
        if sp.get("appProtocol"):
            p["appProtocol"] = sp["appProtocol"]
        out.append(p)
    return out


def port_key(ports: Iterable[Obj]) -> PortKey:
    return tuple(sorted((p.get("name") or "", p.get("protocol") or "TCP", p.get("port") or 0, p.get("appProtocol")
                         or "") for p in ports))


def endpoint_key(ep: Obj) -> EndpointKey:
    """Upstream hashes an endpoint by addresses, hostname and pod: conditions or topology changing in place is an
    update of the same endpoint, not a new one."""
    ref = ep.get("targetRef") or {}
    return tuple(sorted(ep.get("addresses") or ())), ep.get("hostname") or "", ref.get("namespace", ""), \
        ref.get("name", "")


def pod_to_endpoint(pod: Obj, node: Obj | None, svc: Obj, address_type: str) -> Obj:
    serving = is_pod_ready(pod)
    terminating = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    ready = bool((svc.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    addrs = []
    for p in (pod.get("status") or {}).get("podIPs") or ():
        try:
            ip = ipaddress.ip_address(p.get("ip") or "")
        except ValueError:
            continue
        if (ip.version == 6) == (address_type == "IPv6"):
            addrs.append(str(ip))
    ep: Obj = {"addresses": addrs, "conditions": {"ready": ready, "serving": serving, "terminating": terminating}}
    if should_set_hostname(pod, svc):
        ep["hostname"] = pod["spec"]["hostname"]
    ep["targetRef"] = target_ref(pod)
    node_name = (pod.get("spec") or {}).get("nodeName")
    if node_name:
        ep["nodeName"] = node_name
    zone = ((node or {}).get("metadata") or {}).get("labels", {}).get(ZONE_LABEL) if node else None
    if zone:
        ep["zone"] = zone
    return ep


def endpoints_equal_beyond_key(a: Obj, b: Obj) -> bool:
    ra = {k: v for k, v in (a.get("targetRef") or {}).items() if k != "resourceVersion"}
    rb = {k: v for k, v in (b.get("targetRef") or {}).items() if k != "resourceVersion"}
    return a.get("nodeName") == b.get("nodeName") and a.get("zone") == b.get("zone") \
        and (a.get("conditions") or {}) == (b.get("conditions") or {}) and ra == rb


def slice_labels(current: Obj | None, svc: Obj) -> tuple[dict[str, str], bool]:
    """The labels a slice of ``svc`` must have, and whether the Service's own labels differ from the slice's."""
    cur = {k: v for k, v in (((current or {}).get("metadata") or {}).get("labels") or {}).items()
           if k not in RESERVED_LABELS}
    want = {k: v for k, v in ((svc.get("metadata") or {}).get("labels") or {}).items() if k not in RESERVED_LABELS}
    changed = cur != want
    if not is_service_ip_set(svc):
        want[HEADLESS_LABEL] = ""
    smeta = svc.get("metadata") or {}
    want[SERVICE_NAME_LABEL] = smeta.get("name", "")
    want[MANAGED_BY_LABEL] = CONTROLLER_NAME
    return want, changed


def new_slice(svc: Obj, ports: list[Obj], address_type: str) -> Obj:
    smeta = svc.get("metadata") or {}
    name = smeta.get("name", "")
    prefix = f"{name}-" if len(name) < 253 else name
    labels, _ = slice_labels(None, svc)
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"generateName": prefix, "namespace": smeta.get("namespace", ""), "labels": labels,
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": name,
                                              "uid": smeta.get("uid", ""), "controller": True,
                                              "blockOwnerDeletion": True}]},
            "addressType": address_type, "endpoints": [], "ports": ports}


def owned_by(sl: Obj, svc: Obj) -> bool:
    uid = (svc.get("metadata") or {}).get("uid")
    return any(o.get("uid") == uid and o.get("kind") == "Service" and o.get("apiVersion") == "v1"
               for o in (sl.get("metadata") or {}).get("ownerReferences") or ())


def _is_placeholder(sl: Obj, svc: Obj) -> bool:
    """Upstream compares the would-be-deleted slice with a fresh placeholder: same namespace, labels, owner, no
    ports and no endpoints."""
    want = new_slice(svc, [], sl.get("addressType", ""))
    meta = sl.get("metadata") or {}
    return not sl.get("endpoints") and not sl.get("ports") and (meta.get("labels") or {}) == \
        want["metadata"]["labels"] and meta.get("namespace") == want["metadata"]["namespace"] and \
        owned_by(sl, svc)


@dataclass(slots=True)
class Plan:
    create: list[Obj]
    update: list[Obj]
    delete: list[Obj]


def _reconcile_port_group(svc: Obj, existing: list[Obj], desired: dict[EndpointKey, Obj], ports: list[Obj],
                          address_type: str, max_per_slice: int) -> Plan:
    """Upstream ``reconcileByPortMapping`` for one port list. ``desired`` is consumed."""
    by_name: dict[str, Obj] = {}
    unchanged: list[str] = []
    to_update: list[str] = []
    to_delete: list[str] = []
    for sl in existing:
        name = sl["metadata"]["name"]
        by_name[name] = sl
        kept: list[Obj] = []
        updated = False
        for ep in sl.get("endpoints") or ():
            got = desired.pop(endpoint_key(ep), None)
            if got is not None:
                kept.append(got)
                if not endpoints_equal_beyond_key(got, ep):
                    updated = True
        labels, labels_changed = slice_labels(sl, svc)
        if updated or len(kept) != len(sl.get("endpoints") or ()):
            if not kept:
                to_delete.append(name)
            else:
                by_name[name] = _copy_with(sl, endpoints=kept, labels=labels)
                to_update.append(name)
        elif labels_changed:
            by_name[name] = _copy_with(sl, endpoints=list(sl.get("endpoints") or ()), labels=labels)
            to_update.append(name)
        else:
            unchanged.append(name)
    pending = list(desired.values())
    if pending and to_update:
        for name in sorted(to_update, key=lambda n: -len(by_name[n]["endpoints"])):
            sl = by_name[name]
            room = max_per_slice - len(sl["endpoints"])
            if room > 0:
                sl["endpoints"].extend(pending[:room])
                pending = pending[room:]
    create: list[Obj] = []
    while pending:
        fill: Obj | None = None
        if len(pending) < max_per_slice and unchanged:
            fill = _slice_to_fill([by_name[n] for n in unchanged], len(pending), max_per_slice)
        if fill is None:
            fill = new_slice(svc, ports, address_type)
        else:
            fill = _copy_with(fill, endpoints=list(fill.get("endpoints") or ()))
            by_name[fill["metadata"]["name"]] = fill
        room = max_per_slice - len(fill["endpoints"])
        fill["endpoints"].extend(pending[:room])
        pending = pending[room:]
        name = fill["metadata"].get("name")
        if name:
            to_update.append(name)
            unchanged.remove(name)
        else:
            create.append(fill)
    return Plan(create, [by_name[n] for n in to_update], [by_name[n] for n in to_delete])


def _copy_with(sl: Obj, *, endpoints: list[Obj], labels: dict[str, str] | None = None) -> Obj:
    out = {**sl, "metadata": dict(sl.get("metadata") or {}), "endpoints": endpoints}
    if labels is not None:
        out["metadata"]["labels"] = labels
    return out


def _slice_to_fill(slices: list[Obj], n: int, max_per_slice: int) -> Obj | None:
    """The slice closest to full once ``n`` endpoints are added, if any has room (upstream ``getSliceToFill``)."""
    best, best_diff = None, max_per_slice
    for sl in slices:
        diff = max_per_slice - (n + len(sl.get("endpoints") or ()))
        if 0 <= diff < best_diff:
            best, best_diff = sl, diff
            if diff == 0:
                break
    return best


def plan_address_type(svc: Obj, pods: list[Obj], existing: list[Obj], nodes: dict[str, Obj], address_type: str, *,
                      max_per_slice: int = MAX_ENDPOINTS_PER_SLICE) -> tuple[Plan, list[str]]:
    """Upstream ``reconcileByAddressType`` (no topology hints): the slices to create, update and delete, and the
    names of pods skipped because their Node is missing (the caller retries those later)."""
    publish = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
    create: list[Obj] = []
    update: list[Obj] = []
    delete: list[Obj] = []
    existing_by_ports: dict[PortKey, list[Obj]] = {}
    for sl in existing:
        if owned_by(sl, svc):
            existing_by_ports.setdefault(port_key(sl.get("ports") or ()), []).append(sl)
        else:
            delete.append(sl)
    desired: dict[PortKey, dict[EndpointKey, Obj]] = {}
    desired_ports: dict[PortKey, list[Obj]] = {}
    missing_nodes: list[str] = []
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, include_terminating=True):
            continue
        ports = endpoint_ports(svc, pod)
        pk = port_key(ports)
        group = desired.setdefault(pk, {})
        desired_ports.setdefault(pk, ports)
        node_name = (pod.get("spec") or {}).get("nodeName") or ""
        node = nodes.get(node_name)
        if node is None and not publish:
            missing_nodes.append((pod.get("metadata") or {}).get("name", ""))
            continue
        ep = pod_to_endpoint(pod, node, svc, address_type)
        if ep["addresses"]:
            group[endpoint_key(ep)] = ep
    for pk, eps in desired.items():
        plan = _reconcile_port_group(svc, existing_by_ports.get(pk, []), eps, desired_ports[pk], address_type,
                                     max_per_slice)
        create += plan.create
        update += plan.update
        delete += plan.delete
    for pk, slices in existing_by_ports.items():
        if pk not in desired:
            delete += slices
    if len(existing) == len(delete) and not create:
        if len(delete) == 1 and _is_placeholder(delete[0], svc):
            delete = []
        else:
            create.append(new_slice(svc, [], address_type))
    return _pair_creates_with_deletes(Plan(create, update, delete), svc), missing_nodes


def _pair_creates_with_deletes(plan: Plan, svc: Obj) -> Plan:
    """Upstream ``finalize``: rather than create one slice and delete another, rewrite the one to be deleted."""
    create, update, delete = list(plan.create), list(plan.update), list(plan.delete)
    i = 0
    while i < len(delete) and create:
        old = delete[i]
        new = create[-1]
        if old.get("addressType") == new.get("addressType") and owned_by(old, svc):
            new = {**new, "metadata": {**old["metadata"], "labels": new["metadata"]["labels"],
                                       "ownerReferences": new["metadata"]["ownerReferences"]}}
            new["metadata"].pop("generateName", None)
            create.pop()
            update.append(new)
            delete.pop(i)
        else:
            i += 1
    return Plan(create, update, delete)


def with_trigger_time(sl: Obj, trigger: datetime.datetime | None) -> Obj:
    meta = dict(sl.get("metadata") or {})
    ann = dict(meta.get("annotations") or {})
    if trigger is not None:
        ann[LAST_CHANGE_TRIGGER_TIME] = format_rfc3339_nano(trigger)
    else:
        ann.pop(LAST_CHANGE_TRIGGER_TIME, None)
    meta["annotations"] = ann
    return {**sl, "metadata": meta}


# ------------------------------------------------------------------ generation tracking
class SliceTracker:
    """Upstream ``EndpointSliceTracker``: the generation of every slice this controller wrote, per Service, so that
    echoes of our own writes are not re-synced and a cache that has not caught up is recognised."""

    DELETION_EXPECTED = -1

    def __init__(self) -> None:
        self._by_service: dict[str, dict[str, int]] = {}

    @staticmethod
    def _service_key(sl: Obj) -> str:
        meta = sl.get("metadata") or {}
        return f"{meta.get('namespace', '')}/{(meta.get('labels') or {}).get(SERVICE_NAME_LABEL, '')}"

    def update(self, sl: Obj) -> None:
        meta = sl.get("metadata") or {}
        self._by_service.setdefault(self._service_key(sl), {})[meta.get("uid", "")] = int(meta.get("generation") or 0)

    def expect_deletion(self, sl: Obj) -> None:
        meta = sl.get("metadata") or {}
        self._by_service.setdefault(self._service_key(sl), {})[meta.get("uid", "")] = self.DELETION_EXPECTED

    def should_sync(self, sl: Obj) -> bool:
        gens = self._by_service.get(self._service_key(sl))
        meta = sl.get("metadata") or {}
        if gens is None or meta.get("uid", "") not in gens:
            return True
        return int(meta.get("generation") or 0) > gens[meta.get("uid", "")]

    def has(self, sl: Obj) -> bool:
        return (sl.get("metadata") or {}).get("uid", "") in self._by_service.get(self._service_key(sl), {})

    def handle_deletion(self, sl: Obj) -> bool:
        """Forget a deleted slice; True if we deleted it ourselves."""
        gens = self._by_service.get(self._service_key(sl), {})
        uid = (sl.get("metadata") or {}).get("uid", "")
        expected = gens.pop(uid, None) == self.DELETION_EXPECTED
        return expected

    def stale(self, service_key: str, slices: list[Obj]) -> bool:
        gens = self._by_service.get(service_key)
        if not gens:
            return False
        seen = set()
        for sl in slices:
            meta = sl.get("metadata") or {}
            uid = meta.get("uid", "")
            seen.add(uid)
            g = gens.get(uid)
            if g is not None and (g == self.DELETION_EXPECTED or g > int(meta.get("generation") or 0)):
                return True
        return any(uid not in seen for uid, g in gens.items() if g != self.DELETION_EXPECTED)

    def delete_service(self, service_key: str) -> None:
        self._by_service.pop(service_key, None)


# ------------------------------------------------------------------ the controller
class StaleSlices(Exception):
    """The slice cache has not caught up with this controller's own writes."""


class EndpointSliceController(Controller):
    name = "endpointslice"
    workers = 5

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.max_per_slice = int(ctx.options.get("max_endpoints_per_slice", MAX_ENDPOINTS_PER_SLICE))
        self.services = ctx.informers.informer(SERVICES)
        self.pods = ctx.informers.informer(PODS)
        self.slices = ctx.informers.informer(ENDPOINTSLICES)
        self.nodes = ctx.informers.informer(NODES)
        self.pods.add_index(NAMESPACE_INDEX, by_namespace)
        self.services.add_index(NAMESPACE_INDEX, by_namespace)
        self.slices.add_index(SERVICE_INDEX, _slice_service)
        self.triggers = TriggerTimeTracker()
        self.tracker = SliceTracker()
        self.services.add_handler(self._on_service, lambda _o, n: self._on_service(n), self._on_service)
        enqueue_services_of_pods(self.pods, self.services, self.enqueue)
        self.slices.add_handler(self._on_slice_add, self._on_slice_update, self._on_slice_delete)

    # ---------------------------------------------------------------- handlers
    def _on_service(self, svc: Obj) -> None:
        self.enqueue(key_of(svc))

    def _queue_for_slice(self, sl: Obj) -> None:
        key = _service_key_of(sl)
        if key:
            self.queue.add_after(key, SLICE_CHANGE_DELAY)

    def _on_slice_add(self, sl: Obj) -> None:
        if _managed(sl) and self.tracker.should_sync(sl):
            self._queue_for_slice(sl)

    def _on_slice_update(self, old: Obj, new: Obj) -> None:
        if _service_key_of(old) != _service_key_of(new):
            self._queue_for_slice(new)
            self._queue_for_slice(old)
            return
        if _managed(old) != _managed(new) or (_managed(new) and self.tracker.should_sync(new)):
            self._queue_for_slice(new)

    def _on_slice_delete(self, sl: Obj) -> None:
        if _managed(sl) and self.tracker.has(sl) and not self.tracker.handle_deletion(sl):
            self._queue_for_slice(sl)

    # ---------------------------------------------------------------- reconcile
    async def reconcile(self, key: str) -> float | None:
        ns, _name = split_key(key)
        svc = self.services.get(key)
        if svc is None:
            self.triggers.delete(key)
            self.tracker.delete_service(key)
            return None
        pods = selected_pods(svc, self.pods.by_index(NAMESPACE_INDEX, ns))
        if pods is None:
            return None
        slices = [s for s in self.slices.by_index(SERVICE_INDEX, key)
                  if _managed(s) and not (s.get("metadata") or {}).get("deletionTimestamp")]
        if self.tracker.stale(key, slices):
            raise StaleSlices(key)
        trigger = self.triggers.compute(key, svc, pods)
        nodes = {n: node for n in {(p.get("spec") or {}).get("nodeName") or "" for p in pods}
                 if (node := self.nodes.get(n)) is not None}
        wanted = address_types(svc)
        missing: list[str] = []
        errors: list[BaseException] = []
        for sl in slices:
            if sl.get("addressType") not in wanted:
                await self._delete(sl)
        for at in wanted:
            plan, skipped = plan_address_type(svc, pods, [s for s in slices if s.get("addressType") == at], nodes,
                                              at, max_per_slice=self.max_per_slice)
            missing += skipped
            try:
                await self._apply(svc, plan, trigger)
            except APIStatusError as e:
                errors.append(e)
        if errors:
            self.recorder.event(svc, "Warning", "FailedToUpdateEndpointSlices",
                                f"Error updating Endpoint Slices for Service {key}: {errors[0]}")
            raise errors[0]
        if missing:
            raise RuntimeError(f"skipping Pods {sorted(set(missing))} for Service {key}: Node not found")
        return None

    async def _apply(self, svc: Obj, plan: Plan, trigger: datetime.datetime | None) -> None:
        ns = (svc.get("metadata") or {}).get("namespace", "")
        if not (svc.get("metadata") or {}).get("deletionTimestamp"):
            for sl in plan.create:
                try:
                    out = await self.client.create(ENDPOINTSLICES, with_trigger_time(sl, trigger), ns)
                except APIStatusError as e:
                    if is_namespace_terminating(e):
                        return
                    raise
                self.tracker.update(out)
        for sl in plan.update:
            out = await self.client.update(ENDPOINTSLICES, with_trigger_time(sl, trigger))
            self.tracker.update(out)
        for sl in plan.delete:
            await self._delete(sl)

    async def _delete(self, sl: Obj) -> None:
        meta = sl.get("metadata") or {}
        try:
            await self.client.delete(ENDPOINTSLICES, meta["name"], meta.get("namespace"))
        except APIStatusError as e:
            if not is_not_found(e):
                raise
            return
        self.tracker.expect_deletion(sl)


def _managed(sl: Obj) -> bool:
    return ((sl.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY_LABEL) == CONTROLLER_NAME


def _service_key_of(sl: Obj) -> str:
    meta = sl.get("metadata") or {}
    svc = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    return f"{meta.get('namespace', '')}/{svc}" if svc else ""


def _slice_service(sl: Obj) -> list[str]:
    key = _service_key_of(sl)
    return [key] if key else []


__all__ = ["CONTROLLER_NAME", "EndpointSliceController", "Plan", "SliceTracker", "address_types",
           "endpoint_ports", "plan_address_type", "pod_to_endpoint"]
