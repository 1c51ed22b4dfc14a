"""The scheduler: informer event handlers, the scheduling loop and the binding cycle (upstream
``pkg/scheduler/scheduler.go``, ``schedule_one.go``, ``eventhandlers.go``).

The loop pops one pod at a time and runs its scheduling cycle synchronously — filter, score, pick a node,
*assume* the pod onto it in the cache, Reserve, Permit — then starts the binding cycle (PreBind, Bind through
``pods/binding``, PostBind, the ``Scheduled`` event) as a task and moves on: many binds are in flight while the
next pods are scheduled. A failed cycle records ``FailedScheduling`` (with upstream's message) and patches the
pod's ``PodScheduled=False`` condition (and ``nominatedNodeName`` after preemption), then puts the pod back in
the queue, which decides when it is tried again.

Event handlers only update the cache and the queue: an unassigned pod of ours goes to the queue; an assigned pod
goes to the cache (confirming an assumption when the binding lands) and may requeue unschedulable pods; node
changes requeue pods whose rejecting plugins registered for that kind of change. Pods in a terminal phase are
treated as gone, as upstream's informer filters them out.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from pybernetes.api.meta import format_rfc3339
from pybernetes.client.clock import REAL, Clock
from pybernetes.client.resources import PODS
from pybernetes.client.rest import APIStatusError
from pybernetes.scheduler.algorithm import Algorithm, FitError
from pybernetes.scheduler.cache import Cache
from pybernetes.scheduler.framework import (
    CLEAR_NOMINATED_NODE,
    EVENT_ASSIGNED_POD_ADD,
    EVENT_ASSIGNED_POD_DELETE,
    EVENT_NODE_ADD,
    EVENT_NODE_DELETE,
    NODE,
    POD,
    ActionType,
    ClusterEvent,
    Code,
    CycleState,
    Listers,
    NominatingInfo,
    NominatingMode,
    PluginFactory,
    Recorder,
    StaticListers,
    Status,
    as_error,
)
from pybernetes.scheduler.plugins import DEFAULT_SCHEDULER_NAME, IN_TREE, default_profile
from pybernetes.scheduler.podinfo import PodInfo
from pybernetes.scheduler.queue import QueuedPodInfo, SchedulingQueue
from pybernetes.scheduler.runtime import Framework, Handle, Profile

log = logging.getLogger(__name__)
Obj = dict[str, Any]
NOTE_LENGTH_LIMIT = 1024
TERMINAL_PHASES = ("Succeeded", "Failed")


def truncate_message(msg: str, limit: int = NOTE_LENGTH_LIMIT) -> str:
    if len(msg) <= limit:
        return msg
    suffix = " ..."
    return msg[:limit - len(suffix)] + suffix


def assigned(pod: Obj) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES


def scheduler_name(pod: Obj) -> str:
    return (pod.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER_NAME


def node_update_actions(old: Obj, new: Obj) -> ActionType:
    """Which scheduling-relevant properties of a node changed (upstream nodeSchedulingPropertiesChange)."""
    act = ActionType(0)
    os_, ns_ = old.get("spec") or {}, new.get("spec") or {}
    ost, nst = old.get("status") or {}, new.get("status") or {}
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    if bool(os_.get("unschedulable")) != bool(ns_.get("unschedulable")) or os_.get("taints") != ns_.get("taints"):
        act |= ActionType.UPDATE_NODE_TAINT
    if ost.get("allocatable") != nst.get("allocatable"):
        act |= ActionType.UPDATE_NODE_ALLOCATABLE
    if om.get("labels") != nm.get("labels"):
        act |= ActionType.UPDATE_NODE_LABEL
    if ({c.get("type"): c.get("status") for c in ost.get("conditions") or ()}
            != {c.get("type"): c.get("status") for c in nst.get("conditions") or ()}):
        act |= ActionType.UPDATE_NODE_CONDITION
    if om.get("annotations") != nm.get("annotations"):
        act |= ActionType.UPDATE_NODE_ANNOTATION
    return act


def pod_scheduled_condition(pod: Obj, reason: str, message: str, now: str) -> Obj | None:
    """The PodScheduled=False condition to write, or None when the pod already has exactly it (upstream
    UpdatePodCondition: lastTransitionTime moves only when the status changes)."""
    old = next((c for c in (pod.get("status") or {}).get("conditions") or () if c.get("type") == "PodScheduled"),
               None)
    if old is not None and old.get("status") == "False" and old.get("reason") == reason \
            and old.get("message") == message:
        return None
    ltt = old.get("lastTransitionTime") if old is not None and old.get("status") == "False" else now
    return {"type": "PodScheduled", "status": "False", "lastProbeTime": None, "lastTransitionTime": ltt,
            "reason": reason, "message": message}


class Scheduler:
    """Profiles (frameworks), the cache, the queue and the loop. Dependencies come in through the constructor,
    so tests and benchmarks run it without an API server (a fake client for bindings, a list for events)."""

    def __init__(self, *, profiles: Sequence[Profile] | None = None,
                 registry: Mapping[str, PluginFactory] = IN_TREE, client: Any = None,
                 recorder: Recorder | None = None, listers: Listers | None = None, clock: Clock = REAL,
                 rng: random.Random | None = None, initial_backoff: float = 1.0, max_backoff: float = 10.0,
                 max_in_unschedulable: float = 300.0,
                 pod_lister: Callable[[str, str], Obj | None] | None = None) -> None:
        self.client = client
        self.recorder = recorder
        self.listers: Listers = listers if listers is not None else StaticListers()
        self.pod_lister = pod_lister
        self.clock = clock
        self.rng = rng or random.Random()
        self.cache = Cache()
        self.queue = SchedulingQueue(clock=clock, initial_backoff=initial_backoff, max_backoff=max_backoff,
                                     max_in_unschedulable=max_in_unschedulable, pre_enqueue=self._pre_enqueue,
                                     pod_lister=pod_lister)
        self.frameworks: dict[str, Framework] = {}
        for p in profiles or (default_profile(),):
            handle = Handle(snapshot=self.cache, client=client, recorder=recorder, listers=self.listers,
                            nominator=self.queue.nominator, clock=clock, rng=self.rng, spawn=self.spawn)
            self.frameworks[p.scheduler_name] = Framework(p, registry=registry, handle=handle)
        events: dict[str, tuple[ClusterEvent, ...]] = {}
        for fwk in self.frameworks.values():
            events.update(fwk.events_to_register())
        self.queue.events = events
        self.algorithm = Algorithm(self.cache, rng=self.rng)
        self._tasks: set[asyncio.Task[Any]] = set()
        self.scheduled = 0
        self.failed_attempts = 0

    # -------------------------------------------------------------------------------------------- plumbing
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run an API call in the background; the scheduler owns (and cancels) it."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def responsible(self, pod: Obj) -> bool:
        return scheduler_name(pod) in self.frameworks

    def _pre_enqueue(self, pod: Obj) -> Status | None:
        fwk = self.frameworks.get(scheduler_name(pod))
        return fwk.run_pre_enqueue(pod) if fwk is not None else None

    # -------------------------------------------------------------------------------------------- pod events
    def on_pod_add(self, pod: Obj) -> None:
        if terminal(pod):
            return
        if assigned(pod):
            self._add_assigned(pod)
        elif self.responsible(pod):
            self.queue.add(pod)

    def on_pod_update(self, old: Obj, new: Obj) -> None:
        if terminal(new):
            if not terminal(old):
                self.on_pod_delete(old)
            return
        if terminal(old):
            self.on_pod_add(new)
            return
        if assigned(old) or assigned(new):
            if not assigned(old):
                uid = (new.get("metadata") or {}).get("uid", "")
                self.queue.delete(uid)
                self._add_assigned(new)
                return
            pi = PodInfo(new)
            self.cache.update_pod(pi)
            if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
                self.queue.move_all_to_active_or_backoff(
                    ClusterEvent(POD, ActionType.UPDATE_POD_LABEL, "AssignedPodUpdate"), old, new)
            return
        if not self.responsible(new):
            return
        if self.cache.is_assumed((new.get("metadata") or {}).get("uid", "")):
            return
        self.queue.update(old, new)

    def on_pod_delete(self, pod: Obj) -> None:
        uid = (pod.get("metadata") or {}).get("uid", "")
        if self.cache.pod(uid) is not None or assigned(pod):
            self.cache.remove_pod(uid)
            self.queue.nominator.delete(uid)
            self.queue.move_all_to_active_or_backoff(EVENT_ASSIGNED_POD_DELETE, pod, None)
            return
        self.queue.delete(uid)
        for fwk in self.frameworks.values():
            if fwk.reject_waiting_pod(uid):
                self.queue.move_all_to_active_or_backoff(EVENT_ASSIGNED_POD_DELETE, pod, None)

    def _add_assigned(self, pod: Obj) -> None:
        pi = PodInfo(pod)
        self.cache.add_pod(pi)
        self.queue.nominator.delete(pi.uid)
        self.queue.move_all_to_active_or_backoff(EVENT_ASSIGNED_POD_ADD, None, pod)

    # -------------------------------------------------------------------------------------------- node events
    def on_node_add(self, node: Obj) -> None:
        self.cache.add_node(node)
        self.queue.move_all_to_active_or_backoff(EVENT_NODE_ADD, None, node)

    def on_node_update(self, old: Obj, new: Obj) -> None:
        self.cache.update_node(new)
        act = node_update_actions(old, new)
        if act:
            self.queue.move_all_to_active_or_backoff(ClusterEvent(NODE, act, "NodeUpdate"), old, new)

    def on_node_delete(self, node: Obj) -> None:
        self.cache.remove_node((node.get("metadata") or {}).get("name", ""))
        self.queue.move_all_to_active_or_backoff(EVENT_NODE_DELETE, node, None)

    def on_other_event(self, resource: str, action: ActionType) -> None:
        """A change to another kind some plugin registered for (PersistentVolumeClaim, StorageClass, ...)."""
        self.queue.move_all_to_active_or_backoff(ClusterEvent(resource, action, f"{resource}{action.name}"))

    # -------------------------------------------------------------------------------------------- the loop
    async def run(self) -> None:
        """Schedule pods until cancelled (or the queue is closed)."""
        flusher = self.spawn(self.queue.run_flushers())
        try:
            while True:
                qpi = await self.queue.pop()
                if qpi is None:
                    return
                try:
                    self.schedule_one(qpi)
                except Exception as e:          # a bug must cost one attempt of one pod, not the scheduler
                    log.exception("scheduling cycle failed", extra={"pod": qpi.pod_info.key})
                    fwk = self.frameworks.get(scheduler_name(qpi.pod))
                    if fwk is not None:
                        self.cache.forget_pod(qpi.uid)
                        self.handle_failure(fwk, qpi, as_error(e), self.queue.scheduling_cycle,
                                            nominating=CLEAR_NOMINATED_NODE)
                    else:
                        self.queue.done(qpi.uid)
                await asyncio.sleep(0)          # let informer events and binding replies in between pods
        finally:
            flusher.cancel()

    async def close(self) -> None:
        self.queue.close()
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def schedule_one(self, qpi: QueuedPodInfo) -> None:
        """One scheduling cycle (synchronous); binding continues in a task."""
        pod = qpi.pod
        fwk = self.frameworks.get(scheduler_name(pod))
        if fwk is None or (pod.get("metadata") or {}).get("deletionTimestamp") or self.cache.is_assumed(qpi.uid):
            self.queue.done(qpi.uid)
            return
        cycle = self.queue.scheduling_cycle
        state = CycleState(qpi.pod_info)
        result, err = self.algorithm.schedule_pod(fwk, state, pod)
        if err is not None:
            self._on_schedule_error(fwk, state, qpi, err, cycle)
            return
        host = result.suggested_host
        assumed = qpi.pod_info.with_node(host)
        if not self.cache.assume_pod(assumed):
            self.handle_failure(fwk, qpi, as_error(f"pod {qpi.pod_info.key} is already in the cache"), cycle,
                                nominating=CLEAR_NOMINATED_NODE)
            return
        self.queue.nominator.delete(qpi.uid)
        st = fwk.run_reserve(state, assumed.pod, host)
        if st is not None:
            fwk.run_unreserve(state, assumed.pod, host)
            self.cache.forget_pod(qpi.uid)
            self.handle_failure(fwk, qpi, st, cycle, nominating=CLEAR_NOMINATED_NODE)
            return
        st = fwk.run_permit(state, assumed.pod, host)
        if st is not None and st.code != Code.WAIT:
            fwk.run_unreserve(state, assumed.pod, host)
            self.cache.forget_pod(qpi.uid)
            self.handle_failure(fwk, qpi, st, cycle, nominating=CLEAR_NOMINATED_NODE)
            return
        self.spawn(self._binding_cycle(fwk, state, qpi, assumed, host, cycle, waiting=st is not None))

    def _on_schedule_error(self, fwk: Framework, state: CycleState, qpi: QueuedPodInfo, err: FitError | Status,
                           cycle: int) -> None:
        if isinstance(err, Status):
            self.handle_failure(fwk, qpi, err, cycle, nominating=CLEAR_NOMINATED_NODE)
            return
        nominating = None
        if fwk.post_filter_plugins:
            result, st = fwk.run_post_filter(state, qpi.pod, err.diagnosis.node_to_status)
            err.diagnosis.post_filter_msg = st.message()
            if st.code == Code.ERROR:
                log.error("postfilter failed", extra={"pod": qpi.pod_info.key, "error": st.message()})
            if result is not None:
                nominating = result.nominating
        qpi.unschedulable_plugins = set(err.diagnosis.unschedulable_plugins)
        qpi.pending_plugins = set(err.diagnosis.pending_plugins)
        self.handle_failure(fwk, qpi, Status(Code.UNSCHEDULABLE, (err.message(),)), cycle, nominating=nominating,
                            fit_error=True)

    async def _binding_cycle(self, fwk: Framework, state: CycleState, qpi: QueuedPodInfo, assumed: PodInfo,
                             host: str, cycle: int, *, waiting: bool) -> None:
        pod = assumed.pod
        try:
            st = await fwk.wait_on_permit(pod) if waiting else None
            if st is None:
                st = await fwk.run_pre_bind(state, pod, host)
            if st is None:
                st = await fwk.run_bind(state, pod, host)
            if st is not None:
                self._binding_failed(fwk, state, qpi, assumed, host, st, cycle)
                return
            self.cache.finish_binding(qpi.uid)
            self.scheduled += 1
            if self.recorder is not None:
                self.recorder.event(pod, "Normal", "Scheduled",
                                    f"Successfully assigned {assumed.namespace}/{assumed.name} to {host}")
            fwk.run_post_bind(state, pod, host)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("binding cycle failed", extra={"pod": assumed.key})
            self._binding_failed(fwk, state, qpi, assumed, host, as_error(e), cycle)
        finally:
            self.queue.done(qpi.uid)

    def _binding_failed(self, fwk: Framework, state: CycleState, qpi: QueuedPodInfo, assumed: PodInfo, host: str,
                        st: Status, cycle: int) -> None:
        fwk.run_unreserve(state, assumed.pod, host)
        self.cache.forget_pod(qpi.uid)
        uid = qpi.uid
        self.queue.move_all_to_active_or_backoff(EVENT_ASSIGNED_POD_DELETE, assumed.pod, None,
                                                 (lambda p: (p.get("metadata") or {}).get("uid") != uid)
                                                 if st.is_rejected() else None)
        qpi.unschedulable_plugins = set()
        self.handle_failure(fwk, qpi, st, cycle, nominating=CLEAR_NOMINATED_NODE)

    # -------------------------------------------------------------------------------------------- failures
    def handle_failure(self, fwk: Framework, qpi: QueuedPodInfo, st: Status, cycle: int, *,
                       nominating: NominatingInfo | None, fit_error: bool = False) -> None:
        """Requeue the pod (unless it is gone or bound meanwhile), record FailedScheduling and patch its
        PodScheduled condition (upstream handleSchedulingFailure)."""
        self.failed_attempts += 1
        reason = "Unschedulable" if st.is_rejected() else "SchedulerError"
        if not fit_error:
            qpi.unschedulable_plugins, qpi.pending_plugins = set(), set()
        pod = qpi.pod
        live = self.pod_lister(qpi.pod_info.namespace, qpi.pod_info.name) if self.pod_lister is not None else pod
        if live is None or (live.get("metadata") or {}).get("uid") != qpi.uid:
            self.queue.done(qpi.uid)
        elif assigned(live):
            self.queue.done(qpi.uid)
        else:
            if live is not pod:
                qpi.pod_info = PodInfo(live)
            self.queue.add_unschedulable_if_not_present(qpi, cycle)
        self.queue.nominator.add(qpi.pod_info, nominating)
        msg = st.message()
        if self.recorder is not None:
            self.recorder.event(pod, "Warning", "FailedScheduling", truncate_message(msg))
        cond = pod_scheduled_condition(qpi.pod, reason, msg, format_rfc3339(self.clock.now()))
        status = qpi.pod.get("status") or {}
        nnn_change = (nominating is not None and nominating.mode == NominatingMode.OVERRIDE
                      and (status.get("nominatedNodeName") or "") != nominating.nominated_node_name)
        if (cond is not None or nnn_change) and self.client is not None:
            patch: Obj = {}
            if cond is not None:
                patch["conditions"] = [cond]
            if nnn_change:
                patch["nominatedNodeName"] = nominating.nominated_node_name or None   # type: ignore[union-attr]
            self.spawn(self._patch_status(qpi.pod_info, {"status": patch}))

    async def _patch_status(self, pi: PodInfo, patch: Obj) -> None:
        try:
            await self.client.patch(PODS, pi.name, patch, pi.namespace, patch_type="strategic",
                                    subresource="status")
        except APIStatusError as e:
            if e.code != 404:
                log.warning("pod status update failed", extra={"pod": pi.key, "error": str(e)})
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.warning("pod status update failed", extra={"pod": pi.key, "error": repr(e)})
