"""The scheduling queue (upstream ``pkg/scheduler/backend/queue/scheduling_queue.go``).

Three places a pending pod can be:

- **active**: a heap ordered by priority (higher first), then by the time the pod entered the queue (PrioritySort);
  the scheduling loop pops from here.
- **backoff**: pods that failed recently wait ``1 s × 2^(attempts-1)``, capped at 10 s, measured from their last
  failure; a flusher moves them to active when their time is up.
- **unschedulable**: pods no node could take. They move back only when a cluster event that one of the plugins
  that rejected them registered for happens (a node added, a pod deleted, ...), or after 5 minutes there (the
  leftover flush, run every 30 s, as upstream). A pod rejected while such an event arrived during its own cycle
  goes to backoff instead, so it cannot miss the event.

Pods rejected by a PreEnqueue plugin (scheduling gates) are parked as *gated* unschedulable pods and only move
when an update makes them pass. The queue also keeps the **nominator**: pods nominated to a node by preemption,
which filters treat as already there when a lower-priority pod is evaluated on that node.

Time comes from an injected Clock (monotonic seconds), so tests drive backoff with a FakeClock.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pybernetes.client.clock import REAL, Clock
from pybernetes.scheduler.framework import WILDCARD, ClusterEvent, NominatingInfo, NominatingMode, Status
from pybernetes.scheduler.podinfo import PodInfo

log = logging.getLogger(__name__)
Obj = dict[str, Any]
DEFAULT_INITIAL_BACKOFF = 1.0
DEFAULT_MAX_BACKOFF = 10.0
DEFAULT_MAX_IN_UNSCHEDULABLE = 300.0
UNSCHEDULABLE_FLUSH_PERIOD = 30.0
BACKOFF_FLUSH_PERIOD = 1.0


class QueuedPodInfo:
    """A pod in the queue with its scheduling history."""

    __slots__ = ("attempts", "gated", "initial_attempt_timestamp", "pending_plugins", "pod_info", "timestamp",
                 "unschedulable_plugins")

    def __init__(self, pod_info: PodInfo, timestamp: float) -> None:
        self.pod_info = pod_info
        self.timestamp = timestamp
        self.attempts = 0
        self.initial_attempt_timestamp: float | None = None
        self.unschedulable_plugins: set[str] = set()
        self.pending_plugins: set[str] = set()
        self.gated = False

    @property
    def pod(self) -> Obj:
        return self.pod_info.pod

    @property
    def uid(self) -> str:
        return self.pod_info.uid

    def __repr__(self) -> str:
        return f"QueuedPodInfo({self.pod_info.key}, attempts={self.attempts})"


def is_pod_updated(old: Obj, new: Obj) -> bool:
    """Whether an update may change scheduling: anything but status, resourceVersion, generation, managedFields
    and finalizers (so the scheduler's own status patches do not requeue a pod)."""
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    if old.get("spec") != new.get("spec"):
        return True
    ignored = ("resourceVersion", "generation", "managedFields", "finalizers")
    return {k: v for k, v in om.items() if k not in ignored} != {k: v for k, v in nm.items() if k not in ignored}


class Nominator:
    """Pods nominated to nodes by preemption (upstream nominator)."""

    def __init__(self, pod_lister: Callable[[str, str], Obj | None] | None = None) -> None:
        self._by_node: dict[str, dict[str, PodInfo]] = {}
        self._node_of: dict[str, str] = {}
        self._pod_lister = pod_lister

    def add(self, pi: PodInfo, nominating: NominatingInfo | None = None) -> None:
        self.delete(pi.uid)
        if nominating is not None and nominating.mode == NominatingMode.OVERRIDE:
            node = nominating.nominated_node_name
        else:
            node = ((pi.pod.get("status") or {}).get("nominatedNodeName")) or ""
        if not node:
            return
        if self._pod_lister is not None:
            live = self._pod_lister(pi.namespace, pi.name)
            if live is None or (live.get("spec") or {}).get("nodeName"):
                return
        self._node_of[pi.uid] = node
        self._by_node.setdefault(node, {})[pi.uid] = pi

    def update(self, old: Obj, new_pi: PodInfo) -> None:
        """Keep an in-memory nomination when an update arrives that has not caught up with it yet."""
        nominating = None
        old_nnn = (old.get("status") or {}).get("nominatedNodeName") or ""
        new_nnn = (new_pi.pod.get("status") or {}).get("nominatedNodeName") or ""
        if not old_nnn and not new_nnn and new_pi.uid in self._node_of:
            nominating = NominatingInfo(self._node_of[new_pi.uid], NominatingMode.OVERRIDE)
        self.add(new_pi, nominating)

    def delete(self, uid: str) -> None:
        node = self._node_of.pop(uid, None)
        if node is None:
            return
        pods = self._by_node.get(node)
        if pods is not None:
            pods.pop(uid, None)
            if not pods:
                del self._by_node[node]

    def nominated_pods_for_node(self, node: str) -> list[PodInfo]:
        pods = self._by_node.get(node)
        return list(pods.values()) if pods else []

    def nominated_nodes(self) -> Any:
        """The names of nodes that have nominated pods (a live view)."""
        return self._by_node.keys()

    def nominated_node(self, uid: str) -> str:
        return self._node_of.get(uid, "")

    def __bool__(self) -> bool:
        return bool(self._node_of)


class SchedulingQueue:
    """Active, backoff and unschedulable pods plus the nominator. Single consumer (the scheduling loop)."""

    def __init__(self, *, clock: Clock = REAL, initial_backoff: float = DEFAULT_INITIAL_BACKOFF,
                 max_backoff: float = DEFAULT_MAX_BACKOFF,
                 max_in_unschedulable: float = DEFAULT_MAX_IN_UNSCHEDULABLE,
                 pre_enqueue: Callable[[Obj], Status | None] | None = None,
                 events: Mapping[str, Sequence[ClusterEvent]] | None = None,
                 pod_lister: Callable[[str, str], Obj | None] | None = None) -> None:
        self.clock = clock
        self.initial_backoff, self.max_backoff = initial_backoff, max_backoff
        self.max_in_unschedulable = max_in_unschedulable
        self.pre_enqueue = pre_enqueue
        self.events: Mapping[str, Sequence[ClusterEvent]] = events or {}
        self.nominator = Nominator(pod_lister)
        self._active: dict[str, QueuedPodInfo] = {}
        self._active_heap: list[tuple[int, float, int, str, QueuedPodInfo]] = []
        self._backoff: dict[str, QueuedPodInfo] = {}
        self._backoff_heap: list[tuple[float, int, str, QueuedPodInfo]] = []
        self.unschedulable: dict[str, QueuedPodInfo] = {}
        self.in_flight: set[str] = set()
        self._seq = itertools.count()
        self.scheduling_cycle = 0
        self.move_request_cycle = -1
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False

    # -------------------------------------------------------------------------------------------- sizes
    def __len__(self) -> int:
        return len(self._active) + len(self._backoff) + len(self.unschedulable)

    def active_count(self) -> int:
        return len(self._active)

    def backoff_count(self) -> int:
        return len(self._backoff)

    def where(self, uid: str) -> str:
        """"active", "backoff", "unschedulable", "in-flight" or "" (for tests and debugging)."""
        if uid in self._active:
            return "active"
        if uid in self._backoff:
            return "backoff"
        if uid in self.unschedulable:
            return "unschedulable"
        return "in-flight" if uid in self.in_flight else ""

    # -------------------------------------------------------------------------------------------- internals
    def _push_active(self, qpi: QueuedPodInfo) -> None:
        self._backoff.pop(qpi.uid, None)
        self._active[qpi.uid] = qpi
        heapq.heappush(self._active_heap, (-qpi.pod_info.priority, qpi.timestamp, next(self._seq), qpi.uid, qpi))
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _push_backoff(self, qpi: QueuedPodInfo) -> None:
        self._active.pop(qpi.uid, None)
        self._backoff[qpi.uid] = qpi
        heapq.heappush(self._backoff_heap, (self.backoff_expiry(qpi), next(self._seq), qpi.uid, qpi))

    def backoff_duration(self, qpi: QueuedPodInfo) -> float:
        if qpi.attempts == 0:
            return 0.0
        d = self.initial_backoff
        for _ in range(1, qpi.attempts):
            if d > self.max_backoff - d:
                return self.max_backoff
            d += d
        return d

    def backoff_expiry(self, qpi: QueuedPodInfo) -> float:
        return qpi.timestamp + self.backoff_duration(qpi)

    def is_backing_off(self, qpi: QueuedPodInfo) -> bool:
        return self.backoff_expiry(qpi) > self.clock.monotonic()

    def _requeue(self, qpi: QueuedPodInfo) -> str:
        if self.is_backing_off(qpi):
            self._push_backoff(qpi)
            return "backoff"
        self._push_active(qpi)
        return "active"

    def _gate(self, qpi: QueuedPodInfo) -> bool:
        """Run PreEnqueue; a rejected pod is parked as gated. True when the pod may enter the active queue."""
        if self.pre_enqueue is None:
            qpi.gated = False
            return True
        st = self.pre_enqueue(qpi.pod)
        qpi.gated = st is not None and not st.is_success()
        if qpi.gated:
            self.unschedulable[qpi.uid] = qpi
        return not qpi.gated

    # -------------------------------------------------------------------------------------------- informer side
    def add(self, pod: Obj | PodInfo) -> None:
        """A new pending pod."""
        pi = pod if isinstance(pod, PodInfo) else PodInfo(pod)
        if pi.uid in self._active or pi.uid in self._backoff or pi.uid in self.unschedulable:
            self.update(pi.pod, pi)
            return
        qpi = QueuedPodInfo(pi, self.clock.monotonic())
        self.nominator.add(pi)
        if self._gate(qpi):
            self._push_active(qpi)

    def update(self, old: Obj, new: Obj | PodInfo) -> None:
        pi = new if isinstance(new, PodInfo) else PodInfo(new)
        uid = pi.uid
        qpi = self._active.get(uid)
        if qpi is not None:
            self.nominator.update(old, pi)
            prio_changed = qpi.pod_info.priority != pi.priority
            qpi.pod_info = pi
            if prio_changed:
                self._push_active(qpi)      # the stale heap entry is skipped when popped
            return
        qpi = self._backoff.get(uid)
        if qpi is not None:
            self.nominator.update(old, pi)
            qpi.pod_info = pi
            return
        qpi = self.unschedulable.get(uid)
        if qpi is not None:
            self.nominator.update(old, pi)
            qpi.pod_info = pi
            if is_pod_updated(old, pi.pod):
                if qpi.gated:
                    del self.unschedulable[uid]
                    if self._gate(qpi):
                        self._push_active(qpi)
                    return
                del self.unschedulable[uid]
                self._requeue(qpi)
            return
        if uid in self.in_flight:
            self.nominator.update(old, pi)
            return
        self.add(pi)

    def delete(self, uid: str) -> None:
        self.nominator.delete(uid)
        self._active.pop(uid, None)
        self._backoff.pop(uid, None)
        self.unschedulable.pop(uid, None)

    # -------------------------------------------------------------------------------------------- scheduler side
    def pop_nowait(self) -> QueuedPodInfo | None:
        heap, active = self._active_heap, self._active
        while heap:
            neg_priority, _, _, uid, qpi = heapq.heappop(heap)
            if active.get(uid) is qpi and qpi.pod_info.priority == -neg_priority:
                del active[uid]
                qpi.attempts += 1
                if qpi.initial_attempt_timestamp is None:
                    qpi.initial_attempt_timestamp = self.clock.monotonic()
                self.scheduling_cycle += 1
                self.in_flight.add(uid)
                return qpi
        return None

    async def pop(self) -> QueuedPodInfo | None:
        """The next pod to schedule; waits while the active queue is empty; None once closed."""
        while True:
            qpi = self.pop_nowait()
            if qpi is not None or self._closed:
                return qpi
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def done(self, uid: str) -> None:
        self.in_flight.discard(uid)

    def add_unschedulable_if_not_present(self, qpi: QueuedPodInfo, cycle: int) -> str:
        """Put a pod that failed its cycle back: backoff when an event arrived since its cycle began or when no
        plugin rejected it (a transient error), else unschedulable. Returns where it went."""
        uid = qpi.uid
        self.in_flight.discard(uid)
        if uid in self._active or uid in self._backoff or uid in self.unschedulable:
            return ""
        qpi.timestamp = self.clock.monotonic()
        if self.move_request_cycle >= cycle or not (qpi.unschedulable_plugins or qpi.pending_plugins):
            self._push_backoff(qpi)
            return "backoff"
        self.unschedulable[uid] = qpi
        return "unschedulable"

    def activate(self, uids: Sequence[str]) -> None:
        """Move these pods to the active queue now (from unschedulable or backoff)."""
        for uid in uids:
            qpi = self.unschedulable.get(uid) or self._backoff.get(uid)
            if qpi is not None and not qpi.gated:
                self.unschedulable.pop(uid, None)
                self._push_active(qpi)

    # -------------------------------------------------------------------------------------------- moves
    def worth_requeuing(self, qpi: QueuedPodInfo, event: ClusterEvent, old: Any, new: Any) -> bool:
        if event.resource == WILDCARD:
            return True
        rejectors = qpi.unschedulable_plugins | qpi.pending_plugins if qpi.pending_plugins \
            else qpi.unschedulable_plugins
        if not rejectors:
            return True
        for plugin in rejectors:
            regs = self.events.get(plugin)
            if regs is None:
                return True                 # a plugin that registered nothing is woken by everything
            for reg in regs:
                if reg.matches(event) and (reg.hint is None or reg.hint(qpi.pod, old, new)):
                    return True
        return False

    def move_all_to_active_or_backoff(self, event: ClusterEvent, old: Any = None, new: Any = None,
                                      precheck: Callable[[Obj], bool] | None = None) -> int:
        """A cluster event happened: requeue the unschedulable pods it may help. Returns how many moved."""
        moved = 0
        if self.unschedulable:
            for uid, qpi in list(self.unschedulable.items()):
                if qpi.gated or not self.worth_requeuing(qpi, event, old, new):
                    continue
                if precheck is not None and not precheck(qpi.pod):
                    continue
                del self.unschedulable[uid]
                self._requeue(qpi)
                moved += 1
        self.move_request_cycle = self.scheduling_cycle
        return moved

    def flush_backoff_completed(self) -> int:
        now = self.clock.monotonic()
        heap, moved = self._backoff_heap, 0
        while heap and heap[0][0] <= now:
            _, _, uid, qpi = heapq.heappop(heap)
            if self._backoff.get(uid) is qpi:
                if self.backoff_expiry(qpi) > now:      # re-added with a later expiry
                    heapq.heappush(heap, (self.backoff_expiry(qpi), next(self._seq), uid, qpi))
                    continue
                del self._backoff[uid]
                self._push_active(qpi)
                moved += 1
        return moved

    def next_backoff_expiry(self) -> float | None:
        heap = self._backoff_heap
        while heap and self._backoff.get(heap[0][2]) is not heap[0][3]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def flush_unschedulable_leftover(self) -> int:
        """Pods unschedulable for longer than ``max_in_unschedulable`` get another try."""
        now, moved = self.clock.monotonic(), 0
        for uid, qpi in list(self.unschedulable.items()):
            if not qpi.gated and now - qpi.timestamp > self.max_in_unschedulable:
                del self.unschedulable[uid]
                self._requeue(qpi)
                moved += 1
        return moved

    async def run_flushers(self) -> None:
        """Move finished backoffs to active (at most every second, sooner when a backoff ends sooner) and flush
        leftover unschedulable pods every 30 s. Runs until cancelled."""
        last_leftover = self.clock.monotonic()
        while not self._closed:
            now = self.clock.monotonic()
            nxt = self.next_backoff_expiry()
            delay = BACKOFF_FLUSH_PERIOD if nxt is None else min(BACKOFF_FLUSH_PERIOD, max(nxt - now, 0.01))
            await self.clock.sleep(delay)
            self.flush_backoff_completed()
            if self.clock.monotonic() - last_leftover >= UNSCHEDULABLE_FLUSH_PERIOD:
                last_leftover = self.clock.monotonic()
                self.flush_unschedulable_leftover()

    def close(self) -> None:
        self._closed = True
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)
