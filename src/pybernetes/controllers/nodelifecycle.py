"""Node lifecycle: notice nodes that stopped heart-beating, taint them, and evict pods from NoExecute-tainted nodes.

Two controllers, as upstream splits them (``pkg/controller/nodelifecycle`` and ``pkg/controller/tainteviction``):

:class:`NodeLifecycleController` (one key per node)
    A node is healthy while its kubelet renews its Lease in ``kube-node-lease`` (or posts a new Ready heartbeat).
    "Renewed" is judged by *this controller's clock* at the moment it sees the change (upstream's
    ``probeTimestamp``), never by comparing the node's timestamps with ours, so clock skew cannot condemn a node,
    and a restarted controller gives every node a fresh grace period. After ``node_monitor_grace_period`` (40 s;
    60 s for a node that never posted a Ready condition) without renewal, the Ready, MemoryPressure, DiskPressure
    and PIDPressure conditions become Unknown ("Kubelet stopped posting node status."), the node's pods are marked
    not Ready (so Services stop sending them traffic) and the node gets ``node.kubernetes.io/unreachable``
    taints; Ready=False gets ``node.kubernetes.io/not-ready`` instead. NoSchedule taints follow the node's
    conditions and ``spec.unschedulable`` at once; NoExecute taints are added at ``node_eviction_rate`` nodes per
    second per zone (0.1), slower or not at all when a large part of a zone is down (likely a network partition,
    not dead nodes), and removed from every node when every zone is down (upstream's "master disruption mode":
    evicting everything would only make things worse). They are removed as soon as the node is Ready again.

:class:`TaintEvictionController` (one key per pod)
    A pod on a node with NoExecute taints it does not tolerate is deleted now; one that tolerates them for a while
    (``tolerationSeconds``: 300 s by default from admission, shorter if the pod says so) is deleted when the
    shortest of its matching tolerations runs out, counted from when this controller first saw the taints. The
    pod first gets ``DisruptionTarget`` (DeletionByTaintManager), and events ``TaintManagerEviction`` say what
    happens. A taint that goes away in time cancels the eviction.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from pybernetes.api.meta import format_rfc3339, key_of, split_key
from pybernetes.api.tolerations import tolerates as tolerates  # re-exported: callers used nodelifecycle.tolerates
from pybernetes.client.resources import LEASES, NODES, PODS
from pybernetes.client.rest import APIStatusError, is_not_found
from pybernetes.controllers.base import Controller, ControllerContext

log = logging.getLogger(__name__)
Obj = dict[str, Any]

NODE_LEASE_NAMESPACE = "kube-node-lease"
NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
# Upstream nodeConditionToTaintKeyStatusMap: condition type → {status: taint key} for NoSchedule taints.
CONDITION_TAINTS: dict[str, dict[str, str]] = {
    "Ready": {"False": NOT_READY, "Unknown": UNREACHABLE},
    "MemoryPressure": {"True": "node.kubernetes.io/memory-pressure"},
    "DiskPressure": {"True": "node.kubernetes.io/disk-pressure"},
    "NetworkUnavailable": {"True": "node.kubernetes.io/network-unavailable"},
    "PIDPressure": {"True": "node.kubernetes.io/pid-pressure"},
}
NO_SCHEDULE_KEYS = frozenset({*(k for m in CONDITION_TAINTS.values() for k in m.values()), UNSCHEDULABLE})
UNKNOWN_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
NODE_INDEX = "nodeName"
ZONE_LABELS = (("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region"),
               ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone"))
DEFAULTS = {"node_monitor_grace_period": 40.0, "node_startup_grace_period": 60.0, "node_monitor_period": 5.0,
            "node_eviction_rate": 0.1, "secondary_node_eviction_rate": 0.01, "large_cluster_size_threshold": 50,
            "unhealthy_zone_threshold": 0.55}


# ------------------------------------------------------------------ taints and tolerations
def matching_tolerations(taints: list[Obj], tolerations: list[Obj]) -> list[Obj] | None:
    """The tolerations used to tolerate ``taints``, or None if some taint is not tolerated at all."""
    used: list[Obj] = []
    for taint in taints:
        found = [t for t in tolerations if tolerates(t, taint)]
        if not found:
            return None
        used += found
    return used


def min_toleration_seconds(tolerations: list[Obj]) -> float:
    """Upstream ``getMinTolerationTime``: 0 with no tolerations or a non-positive one, -1 (forever) when none
    sets ``tolerationSeconds``, else the smallest."""
    if not tolerations:
        return 0.0
    least: float | None = None
    for t in tolerations:
        s = t.get("tolerationSeconds")
        if s is None:
            continue
        if s <= 0:
            return 0.0
        least = s if least is None else min(least, s)
    return -1.0 if least is None else float(least)


def no_execute_taints(node: Obj | None) -> list[Obj]:
    return [t for t in ((node or {}).get("spec") or {}).get("taints") or () if t.get("effect") == "NoExecute"]


def condition(node: Obj, type_: str) -> Obj | None:
    for c in (node.get("status") or {}).get("conditions") or ():
        if c.get("type") == type_:
            return c  # type: ignore[no-any-return]
    return None


def ready_status(node: Obj) -> str:
    c = condition(node, "Ready")
    return str(c.get("status")) if c else "Unknown"


def zone_key(node: Obj) -> str:
    labels = (node.get("metadata") or {}).get("labels") or {}
    region = labels.get(ZONE_LABELS[0][0]) or labels.get(ZONE_LABELS[0][1]) or ""
    zone = labels.get(ZONE_LABELS[1][0]) or labels.get(ZONE_LABELS[1][1]) or ""
    return f"{region}:\x00:{zone}" if region or zone else ""


def unknown_conditions(node: Obj, *, now: str) -> list[Obj] | None:
    """The node's conditions after it stopped reporting (upstream ``tryUpdateNodeHealth``), or None when they are
    already all Unknown. A condition the kubelet never posted is added as NodeStatusNeverUpdated."""
    conds = [dict(c) for c in (node.get("status") or {}).get("conditions") or ()]
    changed = False
    created = (node.get("metadata") or {}).get("creationTimestamp")
    for type_ in UNKNOWN_CONDITIONS:
        cur = next((c for c in conds if c.get("type") == type_), None)
        if cur is None:
            conds.append({"type": type_, "status": "Unknown", "lastHeartbeatTime": created,
                          "lastTransitionTime": now, "reason": "NodeStatusNeverUpdated",
                          "message": "Kubelet never posted node status."})
            changed = True
        elif cur.get("status") != "Unknown":
            cur.update(status="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status.",
                       lastTransitionTime=now)
            changed = True
    return conds if changed else None


def desired_taints(node: Obj, *, now: str, may_add_no_execute: bool) -> list[Obj]:
    """The node's taints with the ones this controller manages brought in line with its conditions: NoSchedule
    taints exactly as the conditions (and ``spec.unschedulable``) say; the NoExecute not-ready/unreachable taint
    matching Ready False/Unknown (added only if ``may_add_no_execute``; swapped for the other one at once)."""
    taints = list((node.get("spec") or {}).get("taints") or ())
    want_ns: set[str] = set()
    for type_, by_status in CONDITION_TAINTS.items():
        c = condition(node, type_)
        if c is not None and c.get("status") in by_status:
            want_ns.add(by_status[c["status"]])
    if (node.get("spec") or {}).get("unschedulable"):
        want_ns.add(UNSCHEDULABLE)
    ready = ready_status(node) if condition(node, "Ready") is not None else "None"
    want_ne = {"False": NOT_READY, "Unknown": UNREACHABLE}.get(ready)
    have_ne = {t.get("key") for t in taints if t.get("effect") == "NoExecute" and t.get("key") in (NOT_READY,
                                                                                                     UNREACHABLE)}
    out = [t for t in taints if not (t.get("effect") == "NoSchedule" and t.get("key") in NO_SCHEDULE_KEYS
                                     and t.get("key") not in want_ns)
           and not (t.get("effect") == "NoExecute" and t.get("key") in (NOT_READY, UNREACHABLE)
                    and t.get("key") != want_ne)]
    have_ns = {t.get("key") for t in out if t.get("effect") == "NoSchedule"}
    for key in sorted(want_ns - have_ns):
        out.append({"key": key, "effect": "NoSchedule", "timeAdded": now})
    if want_ne and want_ne not in have_ne and (may_add_no_execute or have_ne):
        out.append({"key": want_ne, "effect": "NoExecute", "timeAdded": now})
    return out


def pod_ready_false(pod: Obj, *, now: str) -> Obj | None:
    """The pod's status with Ready=False (upstream ``MarkPodsNotReady``), or None if it is not Ready=True."""
    st = pod.get("status") or {}
    conds = st.get("conditions") or []
    for i, c in enumerate(conds):
        if c.get("type") == "Ready":
            if c.get("status") == "False":
                return None
            new = list(conds)
            new[i] = {**c, "status": "False", "lastTransitionTime": now}
            return {**st, "conditions": new}
    return None


# ------------------------------------------------------------------ zones and rate limits
class TokenBucket:
    """A token bucket of ``qps`` (burst 1), as upstream's eviction limiters; qps 0 never admits. A new rate is a new
    limiter (upstream ``SwapLimiter``), starting with a full burst."""

    def __init__(self, qps: float, now: float) -> None:
        self.qps, self.tokens, self.last = qps, 1.0, now

    def set_qps(self, qps: float, now: float) -> None:
        if qps != self.qps:
            self.qps, self.tokens, self.last = qps, 1.0, now

    def _refill(self, now: float) -> None:
        self.tokens = min(1.0, self.tokens + max(0.0, now - self.last) * self.qps)
        self.last = now

    def try_accept(self, now: float) -> bool:
        if self.qps <= 0:
            return False
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def wait(self, now: float) -> float | None:
        self._refill(now)
        return None if self.qps <= 0 else max(0.0, (1.0 - self.tokens) / self.qps)


def zone_state(statuses: list[str], *, threshold: float) -> str:
    """Upstream ``ComputeZoneState``: full disruption when nothing is Ready, partial when more than two and at
    least ``threshold`` of the nodes are not Ready."""
    ready = sum(1 for s in statuses if s == "True")
    not_ready = len(statuses) - ready
    if ready == 0 and not_ready > 0:
        return "FullDisruption"
    if not_ready > 2 and not_ready / len(statuses) >= threshold:
        return "PartialDisruption"
    return "Normal"


@dataclass(slots=True)
class Health:
    probe: float                 # our monotonic time when we last saw a heartbeat or lease renewal
    heartbeat: str | None        # the Ready condition's lastHeartbeatTime we saw then
    renew: str | None            # the lease's renewTime we saw then


# ------------------------------------------------------------------ the node lifecycle controller
class NodeLifecycleController(Controller):
    name = "node-lifecycle"
    workers = 4

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        o = {k: ctx.options.get(k, v) for k, v in DEFAULTS.items()}
        self.grace = float(o["node_monitor_grace_period"])
        self.startup_grace = float(o["node_startup_grace_period"])
        self.period = float(o["node_monitor_period"])
        self.rate, self.secondary_rate = float(o["node_eviction_rate"]), float(o["secondary_node_eviction_rate"])
        self.large_cluster, self.zone_threshold = int(o["large_cluster_size_threshold"]), \
            float(o["unhealthy_zone_threshold"])
        self.nodes = ctx.informers.informer(NODES)
        self.leases = ctx.informers.informer(LEASES, namespace=NODE_LEASE_NAMESPACE)
        self.pods = ctx.informers.informer(PODS)
        self.pods.add_index(NODE_INDEX, _by_node)
        self.health: dict[str, Health] = {}
        self.zone_states: dict[str, str] = {}
        self.limiters: dict[str, TokenBucket] = {}
        self.all_disrupted = False
        self.seen_down: set[str] = set()         # nodes the last zone pass saw not Ready
        self.nodes.add_handler(self._on_node, self._on_node_update, self._on_node_delete)
        self.leases.add_handler(self._on_lease, lambda _o, n: self._on_lease(n), None)

    # ---------------------------------------------------------------- handlers (cheap; no I/O)
    def _on_node(self, node: Obj) -> None:
        self.enqueue(key_of(node))

    def _on_node_update(self, old: Obj, new: Obj) -> None:
        self._observe_heartbeat(new)
        self.enqueue(key_of(new))

    def _on_node_delete(self, node: Obj) -> None:
        self.health.pop(key_of(node), None)

    def _on_lease(self, lease: Obj) -> None:
        name = (lease.get("metadata") or {}).get("name", "")
        renew = (lease.get("spec") or {}).get("renewTime")
        h = self.health.get(name)
        if h is None or renew == h.renew:
            return
        h.renew, h.probe = renew, self.clock.monotonic()
        node = self.nodes.get(name)
        if node is not None and ready_status(node) != "True":
            self.enqueue(name)

    def _observe_heartbeat(self, node: Obj) -> None:
        h = self.health.get(key_of(node))
        c = condition(node, "Ready")
        beat = c.get("lastHeartbeatTime") if c else None
        if h is not None and beat and beat != h.heartbeat:
            h.heartbeat, h.probe = beat, self.clock.monotonic()

    # ---------------------------------------------------------------- reconcile one node
    def _health_of(self, node: Obj) -> Health:
        name = key_of(node)
        h = self.health.get(name)
        c = condition(node, "Ready")
        lease = self.leases.get(f"{NODE_LEASE_NAMESPACE}/{name}")
        renew = (lease.get("spec") or {}).get("renewTime") if lease else None
        if h is None:
            h = self.health[name] = Health(self.clock.monotonic(), c.get("lastHeartbeatTime") if c else None, renew)
        else:
            self._observe_heartbeat(node)
            if renew and renew != h.renew:
                h.renew, h.probe = renew, self.clock.monotonic()
        return h

    async def reconcile(self, key: str) -> float | None:
        node = self.nodes.get(key)
        if node is None:
            self.health.pop(key, None)
            return None
        h = self._health_of(node)
        grace = self.grace if condition(node, "Ready") is not None else self.startup_grace
        now_mono = self.clock.monotonic()
        now = format_rfc3339(self.clock.now())
        observed = ready_status(node)
        if now_mono > h.probe + grace:
            conds = unknown_conditions(node, now=now)
            if conds is not None:
                node = await self._write_conditions(node, conds)
        current = ready_status(node)
        if current != "True" and observed == "True":
            self.recorder.event(node, "Normal", "NodeNotReady", f"Node {key} status is now: NodeNotReady")
        if current != "True":
            await self._mark_pods_not_ready(key, now)
        wait = await self._sync_taints(node, now, now_mono)
        if current == "True":
            return max(h.probe + grace - now_mono, 0.0) + 0.5
        return min(self.period, wait) if wait is not None else self.period

    async def _write_conditions(self, node: Obj, conds: list[Obj]) -> Obj:
        new = {**node, "status": {**(node.get("status") or {}), "conditions": conds}}
        out = await self.client.update(NODES, new, subresource="status")
        log.info("node stopped posting status", extra={"controller": self.name, "node": key_of(node)})
        return out

    async def _mark_pods_not_ready(self, node_name: str, now: str) -> None:
        for pod in self.pods.by_index(NODE_INDEX, node_name):
            status = pod_ready_false(pod, now=now)
            if status is None:
                continue
            try:
                await self.client.update(PODS, {**pod, "status": status}, subresource="status")
            except APIStatusError as e:
                if is_not_found(e):
                    continue
                raise
            self.recorder.event(pod, "Warning", "NodeNotReady", "Node is not ready")

    async def _sync_taints(self, node: Obj, now: str, now_mono: float) -> float | None:
        """Patch the managed taints; returns how long until a NoExecute taint may be added, if one is waiting."""
        zone = zone_key(node)
        bucket = self.limiters.setdefault(zone, TokenBucket(self._zone_qps(zone), now_mono))
        wanted = desired_taints(node, now=now, may_add_no_execute=False)
        eager = desired_taints(node, now=now, may_add_no_execute=True)
        wait = None
        if eager != wanted:
            # Only once a zone pass has seen the node down (as upstream taints after handleDisruption), so that
            # nodes dropping out together are judged together, not one by one.
            if key_of(node) not in self.seen_down:
                wait = self.period
            elif bucket.try_accept(now_mono):
                wanted = eager
            else:
                wait = bucket.wait(now_mono)
        if wanted != list((node.get("spec") or {}).get("taints") or ()):
            meta = node.get("metadata") or {}
            await self.client.patch(NODES, meta["name"], {"metadata": {"resourceVersion": meta.get("resourceVersion")},
                                                          "spec": {"taints": wanted or None}})
        return wait

    # ---------------------------------------------------------------- zones (periodic pass)
    def _zone_qps(self, zone: str) -> float:
        if self.all_disrupted:
            return 0.0
        state = self.zone_states.get(zone, "Normal")
        if state == "PartialDisruption":
            size = sum(1 for n in self.nodes.list() if zone_key(n) == zone)
            return self.secondary_rate if size > self.large_cluster else 0.0
        return self.rate

    async def handle_disruption(self) -> None:
        """Upstream ``handleDisruption``: recompute zone states and limiter rates; entering the all-zones-down
        state removes every NoExecute node taint, leaving it resets every node's grace period."""
        by_zone: dict[str, list[str]] = {}
        nodes = self.nodes.list()
        down: set[str] = set()
        for n in nodes:
            st = ready_status(n)
            by_zone.setdefault(zone_key(n), []).append(st)
            if st != "True" and condition(n, "Ready") is not None:
                down.add(key_of(n))
        for name in down - self.seen_down:
            self.enqueue(name)
        self.seen_down = down
        states = {z: zone_state(s, threshold=self.zone_threshold) for z, s in by_zone.items()}
        all_now = bool(states) and all(s == "FullDisruption" for s in states.values())
        was = self.all_disrupted
        self.zone_states = states
        self.all_disrupted = all_now
        now_mono = self.clock.monotonic()
        for zone in list(self.limiters):
            if zone not in states:
                del self.limiters[zone]
        for zone in states:
            self.limiters.setdefault(zone, TokenBucket(0.0, now_mono)).set_qps(self._zone_qps(zone), now_mono)
        if all_now and not was:
            log.warning("all nodes are not ready: entering disruption mode", extra={"controller": self.name})
            for n in nodes:
                if no_execute_taints(n):
                    await self._remove_no_execute(n)
        elif was and not all_now:
            log.warning("some nodes are ready: leaving disruption mode", extra={"controller": self.name})
            for h in self.health.values():
                h.probe = now_mono

    async def _remove_no_execute(self, node: Obj) -> None:
        taints = [t for t in (node.get("spec") or {}).get("taints") or ()
                  if not (t.get("effect") == "NoExecute" and t.get("key") in (NOT_READY, UNREACHABLE))]
        try:
            await self.client.patch(NODES, key_of(node), {"spec": {"taints": taints or None}})
        except APIStatusError as e:
            log.warning("could not remove taints", extra={"controller": self.name, "node": key_of(node),
                                                          "error": str(e)})

    async def background(self) -> None:
        while True:
            try:
                await self.handle_disruption()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("zone health pass failed", extra={"controller": self.name})
            await self.clock.sleep(self.period)


def _by_node(pod: Obj) -> list[str]:
    n = (pod.get("spec") or {}).get("nodeName")
    return [n] if n else []


# ------------------------------------------------------------------ taint-based eviction
class TaintEvictionController(Controller):
    name = "taint-eviction-controller"
    workers = 4

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.nodes = ctx.informers.informer(NODES)
        self.pods = ctx.informers.informer(PODS)
        self.pods.add_index(NODE_INDEX, _by_node)
        self.scheduled: dict[str, float] = {}        # pod key -> monotonic time the eviction was scheduled
        self.nodes.add_handler(self._on_node, self._on_node_update, self._on_node)
        self.pods.add_handler(self._on_pod, self._on_pod_update, self._on_pod_delete)

    def _on_node(self, node: Obj) -> None:
        if no_execute_taints(node):
            self._enqueue_pods_of(key_of(node))

    def _on_node_update(self, old: Obj, new: Obj) -> None:
        if _taint_set(no_execute_taints(old)) != _taint_set(no_execute_taints(new)):
            self._enqueue_pods_of(key_of(new))

    def _enqueue_pods_of(self, node_name: str) -> None:
        for pod in self.pods.by_index(NODE_INDEX, node_name):
            self.enqueue(key_of(pod))

    def _on_pod(self, pod: Obj) -> None:
        node = (pod.get("spec") or {}).get("nodeName")
        if node and (no_execute_taints(self.nodes.get(node)) or key_of(pod) in self.scheduled):
            self.enqueue(key_of(pod))

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        os_, ns_ = old.get("spec") or {}, new.get("spec") or {}
        if os_.get("nodeName") != ns_.get("nodeName") or os_.get("tolerations") != ns_.get("tolerations"):
            self._on_pod(new)

    def _on_pod_delete(self, pod: Obj) -> None:
        self.scheduled.pop(key_of(pod), None)

    def _cancel(self, key: str, pod: Obj) -> None:
        if self.scheduled.pop(key, None) is not None:
            self.recorder.event(pod, "Normal", "TaintManagerEviction", f"Cancelling deletion of Pod {key}")

    async def reconcile(self, key: str) -> float | None:
        pod = self.pods.get(key)
        if pod is None:
            self.scheduled.pop(key, None)
            return None
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            self.scheduled.pop(key, None)
            return None
        node_name = (pod.get("spec") or {}).get("nodeName")
        taints = no_execute_taints(self.nodes.get(node_name)) if node_name else []
        if not taints:
            self._cancel(key, pod)
            return None
        used = matching_tolerations(taints, (pod.get("spec") or {}).get("tolerations") or [])
        now = self.clock.monotonic()
        if used is None:
            await self._evict(key, pod)
            return None
        seconds = min_toleration_seconds(used)
        if seconds < 0:
            self._cancel(key, pod)
            return None
        start = self.scheduled.setdefault(key, now)
        left = start + seconds - now
        if left > 0:
            return left
        await self._evict(key, pod)
        return None

    async def _evict(self, key: str, pod: Obj) -> None:
        ns, name = split_key(key)
        self.recorder.event(pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {key}")
        status = _with_disruption_target(pod, now=format_rfc3339(self.clock.now()))
        try:
            if status is not None:
                await self.client.update(PODS, {**pod, "status": status}, subresource="status")
            await self.client.delete(PODS, name, ns)
        except APIStatusError as e:
            if not is_not_found(e):
                raise
        self.scheduled.pop(key, None)
        log.info("evicted pod from tainted node", extra={"controller": self.name, "key": key})


def _taint_set(taints: list[Obj]) -> set[tuple[str, str, str]]:
    return {(t.get("key", ""), t.get("value", ""), t.get("effect", "")) for t in taints}


def _with_disruption_target(pod: Obj, *, now: str) -> Obj | None:
    st = pod.get("status") or {}
    conds = list(st.get("conditions") or ())
    for c in conds:
        if c.get("type") == "DisruptionTarget" and c.get("status") == "True" \
                and c.get("reason") == "DeletionByTaintManager":
            return None
    conds = [c for c in conds if c.get("type") != "DisruptionTarget"]
    conds.append({"type": "DisruptionTarget", "status": "True", "lastProbeTime": None, "lastTransitionTime": now,
                  "reason": "DeletionByTaintManager", "message": "Taint manager: deleting due to NoExecute taint"})
    return {**st, "conditions": conds}
