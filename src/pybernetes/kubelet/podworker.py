"""Pod workers: one level-triggered sync loop per pod (upstream ``pkg/kubelet/pod_workers.go`` + ``SyncPod``).

Each pod the agent owns gets a :class:`PodRecord`. Any news about it — an informer event, a runtime event (a
container exited), a timer (a back-off ran out) — only marks the record pending; one task per pod then runs
:meth:`PodWorkers.sync` until nothing is pending, so a pod is never synced twice at once and a burst of events
costs one sync. ``sync`` compares the spec with what the runtime reports and acts:

- *active*: make the sandbox (its IP comes from the node's podCIDR), start what :func:`plan_starts` says, restart
  with crash-loop back-off, and hand the computed status to the status manager;
- *terminating* (``deletionTimestamp`` set, or a terminal phase): stop the containers within the grace period
  (``Killing`` events), tear the sandbox down (its IP is released), freeze the final status and tell the status
  manager the pod is terminated, which then deletes it from the API with ``gracePeriodSeconds=0`` and a UID
  precondition (as upstream's status manager does). A real node only *stops* the sandbox of a pod that finished
  without being deleted (a completed Job's pod): its containers and logs stay, so ``kubectl logs`` still works,
  until the pod is deleted — upstream removes them then (or by container GC), not when the pod finishes;
- *gone* from the API (deleted or force-deleted): kill everything, remove the sandbox and forget the pod.

A worker holds no goroutine-like task while idle, so 10,000 pods cost only their records.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pybernetes.api.meta import format_rfc3339, is_being_deleted
from pybernetes.client.clock import REAL, Clock
from pybernetes.kubelet.backoff import Backoff
from pybernetes.kubelet.containers import ContainerStarter, EventSink, field_path, plan_starts
from pybernetes.kubelet.podstatus import TERMINAL, format_pod, generate_pod_status, is_sidecar
from pybernetes.kubelet.runtime.interface import (
    ContainerState,
    ContainerStatus,
    PodSandboxConfig,
    Runtime,
    RuntimeFailure,
    SandboxStatus,
)
from pybernetes.kubelet.status import StatusManager
from pybernetes.kubelet.volumes.manager import VolumeError

if TYPE_CHECKING:
    from pybernetes.kubelet.podsetup import PodSetup

log = logging.getLogger(__name__)
Obj = dict[str, Any]
MIN_GRACE = 2          # upstream minimumGracePeriodInSeconds
DEFAULT_GRACE = 30
SANDBOX_RETRY = (1.0, 10.0)
VOLUME_RETRY = 2.0


class NodeView(EventSink, Protocol):
    """What a pod worker needs from the node a pod is bound to."""

    @property
    def name(self) -> str: ...
    @property
    def host_ips(self) -> tuple[str, ...]: ...
    def pod_cidr_for_pods(self) -> str: ...


@dataclass(slots=True)
class PodRecord:
    uid: str
    node: str
    pod: Obj | None
    sandbox_id: str = ""
    sandbox_ready: bool = False
    sandbox_attempt: int = 0
    ips: tuple[str, ...] = ()
    waiting: dict[str, tuple[str, str]] = field(default_factory=dict)
    carried: dict[str, Obj] = field(default_factory=dict)
    base_attempts: dict[str, int] = field(default_factory=dict)
    terminal: bool = False
    final: Obj | None = None
    first_status: Obj | None = None     # the API status at first sight, until the first sync used it
    pending: bool = False
    gone: bool = False
    failures: int = 0
    sandbox_failures: int = 0
    task: asyncio.Task[None] | None = None
    timer: asyncio.Task[None] | None = None
    timer_at: float = math.inf


def carried_statuses(pod: Obj) -> tuple[dict[str, Obj], dict[str, int]]:
    """Containers the API last saw finished for good (kept as they are if the runtime has no record of them),
    and every container's last restart count (new containers continue from it)."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    restart = spec.get("restartPolicy") or "Always"
    sidecars = {c.get("name") for c in spec.get("initContainers") or () if is_sidecar(c)}
    carried: dict[str, Obj] = {}
    attempts: dict[str, int] = {}
    for init, key in ((True, "initContainerStatuses"), (False, "containerStatuses")):
        for cs in status.get(key) or ():
            name = cs.get("name", "")
            attempts[name] = int(cs.get("restartCount") or 0)
            term = (cs.get("state") or {}).get("terminated")
            if term is None or name in sidecars:
                continue
            code = term.get("exitCode", 0)
            if (init and code == 0) or (not init and (restart == "Never" or (restart == "OnFailure" and not code))):
                carried[name] = cs
    return carried, attempts


def _significant(old: Obj, new: Obj) -> bool:
    """Whether an update can change what the kubelet does (our own status writes come back as updates)."""
    if old.get("spec") != new.get("spec"):
        return True
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    if om.get("deletionTimestamp") != nm.get("deletionTimestamp") or \
            om.get("deletionGracePeriodSeconds") != nm.get("deletionGracePeriodSeconds"):
        return True
    return (old.get("status") or {}).get("phase") != (new.get("status") or {}).get("phase")


def volumes_need_pod_ips(pod: Obj) -> bool:
    """Whether a downwardAPI volume (plain or projected) reads a ``status.*`` field such as the pod's IP: only then
    must volume set-up wait for the sandbox. Upstream validation allows only ``metadata.*`` fields in volumes, so
    normally it never does and volumes are set up while the sandbox is being made."""
    for vol in (pod.get("spec") or {}).get("volumes") or ():
        sources = [vol.get("downwardAPI") or {}]
        sources += [s.get("downwardAPI") or {} for s in (vol.get("projected") or {}).get("sources") or ()]
        for src in sources:
            for item in src.get("items") or ():
                if str((item.get("fieldRef") or {}).get("fieldPath", "")).startswith("status."):
                    return True
    return False


class PodWorkers:
    def __init__(self, *, runtime: Runtime, status: StatusManager, nodes: Mapping[str, NodeView],
                 clock: Clock = REAL, backoff: Backoff | None = None, setup: PodSetup | None = None,
                 keep_finished: bool | None = None) -> None:
        self.runtime = runtime
        self.status = status
        self.nodes = nodes
        self.clock = clock
        self.backoff = backoff or Backoff(clock=clock)
        self.setup = setup          # real nodes: volumes, env, probes, hooks (podsetup.py); None when simulated
        # Keep a finished pod's stopped sandbox (containers, logs) until the pod is deleted: real nodes do, as
        # upstream; the simulated runtime has no logs to keep and frees its records at once (5,000 nodes' worth).
        self.keep_finished = setup is not None if keep_finished is None else keep_finished
        self.starter = ContainerStarter(runtime, backoff=self.backoff, clock=clock, setup=setup)
        if setup is not None:
            setup.subscribe(self.poke)
        self.records: dict[str, PodRecord] = {}
        self._orphans: dict[str, SandboxStatus] = {}
        runtime.subscribe(self.poke)

    # ------------------------------------------------------------------ inputs
    def update(self, pod: Obj) -> None:
        """An informer add/update for a pod bound to one of our nodes."""
        meta = pod.get("metadata") or {}
        uid = meta.get("uid", "")
        rec = self.records.get(uid)
        if rec is None:
            carried, attempts = carried_statuses(pod)
            rec = self.records[uid] = PodRecord(uid=uid, node=(pod.get("spec") or {}).get("nodeName", ""),
                                                pod=pod, carried=carried, base_attempts=attempts,
                                                first_status=pod.get("status") or {})
            orphan = self._orphans.pop(uid, None)
            if orphan is not None:
                rec.sandbox_id, rec.sandbox_ready, rec.ips = orphan.id, orphan.ready, orphan.ips
            self._kick(rec)
            return
        old, rec.pod = rec.pod, pod
        if self.setup is not None:
            self.setup.update_pod(pod)      # labels/annotations for downward API volumes
        if old is None or _significant(old, pod):
            self._kick(rec)

    def remove(self, pod: Obj) -> None:
        """The pod is gone from the API."""
        rec = self.records.get((pod.get("metadata") or {}).get("uid", ""))
        if rec is not None:
            rec.pod = None
            rec.gone = True
            self._kick(rec)

    def poke(self, uid: str) -> None:
        """Something changed in the runtime for this pod (a container exited)."""
        rec = self.records.get(uid)
        if rec is not None:
            self._kick(rec)

    async def adopt(self) -> None:
        """Remember sandboxes a previous agent left running, to be claimed by their pods (issue 4's real runtime
        keeps containers across agent restarts; the simulated one starts empty)."""
        for sb in await self.runtime.list_pod_sandboxes():
            self._orphans[sb.pod_uid] = sb

    async def remove_orphans(self) -> None:
        """After the informer synced: sandboxes whose pods no longer exist are torn down, then the volume
        directories and mounts of pods deleted while no agent ran (every pod bound here has a record by now)."""
        orphans, self._orphans = self._orphans, {}
        for sb in orphans.values():
            await self._remove_sandbox(sb.id)
        if self.setup is not None:
            await self.setup.remove_orphans(set(self.records))

    # ------------------------------------------------------------------ scheduling
    def _kick(self, rec: PodRecord) -> None:
        rec.pending = True
        if rec.task is None:
            rec.task = asyncio.get_running_loop().create_task(self._run(rec), name=f"pod-{rec.uid[:8]}")

    def _after(self, rec: PodRecord, delay: float) -> None:
        at = self.clock.monotonic() + delay
        if rec.timer is not None:
            if rec.timer_at <= at:
                return
            rec.timer.cancel()

        async def fire() -> None:
            await self.clock.sleep(delay)
            rec.timer, rec.timer_at = None, math.inf
            self._kick(rec)

        rec.timer_at = at
        rec.timer = asyncio.get_running_loop().create_task(fire(), name=f"pod-timer-{rec.uid[:8]}")

    async def _run(self, rec: PodRecord) -> None:
        try:
            while rec.pending:
                rec.pending = False
                try:
                    wake = await self.sync(rec)
                    rec.failures = 0
                    rec.first_status = None
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("pod sync failed", extra={"pod_uid": rec.uid})
                    wake = min(0.5 * 2 ** rec.failures, 10.0)
                    rec.failures += 1
                if wake is not None and not rec.gone:
                    self._after(rec, wake)
        finally:
            rec.task = None
        if rec.gone and not rec.pending and self.records.get(rec.uid) is rec:
            if rec.timer is not None:
                rec.timer.cancel()
            del self.records[rec.uid]

    async def stop(self) -> None:
        """Stop syncing (the agent is shutting down; running pods keep running for the next agent). Pods already
        gone from the API whose teardown this interrupts still get their volumes unmounted and removed: their
        sandboxes are the next agent's orphans (or ``pybernetes shim --stop``'s), but nothing else would ever
        unmount their tmpfs volumes if no agent comes back."""
        tasks = [t for r in self.records.values() for t in (r.task, r.timer) if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.setup is not None:
            for rec in [r for r in self.records.values() if r.gone]:
                try:
                    await self.setup.pod_gone(rec.uid)
                except Exception:
                    log.exception("volume teardown failed", extra={"pod_uid": rec.uid})

    async def idle(self) -> None:
        """Wait until no sync is running (tests)."""
        while True:
            running = [r.task for r in self.records.values() if r.task is not None]
            if not running:
                return
            await asyncio.gather(*running, return_exceptions=True)

    # ------------------------------------------------------------------ sync
    async def sync(self, rec: PodRecord) -> float | None:
        pod = rec.pod
        if pod is None:
            await self._teardown(rec, grace=MIN_GRACE, events=None)
            if self.setup is not None:
                await self.setup.pod_gone(rec.uid)
            self.status.forget(rec.uid)
            self.backoff.forget_prefix(rec.uid)
            self.starter.forget(rec.uid)
            return None
        node = self.nodes.get(rec.node)
        if node is None:
            return None
        phase = (pod.get("status") or {}).get("phase")
        if rec.terminal or is_being_deleted(pod) or phase in TERMINAL:
            await self._sync_terminating(rec, pod, node)
            return None
        return await self._sync_active(rec, pod, node)

    def _sandbox_config(self, rec: PodRecord, pod: Obj, node: NodeView) -> PodSandboxConfig:
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        hint = (pod.get("status") or {}).get("podIP") or ""
        return PodSandboxConfig(name=meta.get("name", ""), namespace=meta.get("namespace", ""), uid=rec.uid,
                                node_name=node.name, attempt=rec.sandbox_attempt,
                                hostname=spec.get("hostname") or meta.get("name", ""),
                                pod_cidr=node.pod_cidr_for_pods(), ip_hint=hint,
                                labels=meta.get("labels") or {}, annotations=meta.get("annotations") or {}, pod=pod)

    async def _history(self, rec: PodRecord) -> dict[str, list[ContainerStatus]]:
        out: dict[str, list[ContainerStatus]] = {}
        if rec.sandbox_id:
            for cs in await self.runtime.list_containers(rec.sandbox_id):
                out.setdefault(cs.name, []).append(cs)
            for hist in out.values():
                hist.sort(key=lambda c: c.attempt, reverse=True)
        return out

    def _status(self, rec: PodRecord, pod: Obj, node: NodeView, history: Mapping[str, list[ContainerStatus]],
                *, terminal: bool) -> Obj:
        old = self.status.get(rec.uid) or rec.first_status or pod.get("status") or {}
        setup = self.setup
        readiness = None if setup is None else (lambda name, cid: setup.container_readiness(rec.uid, name, cid))
        return generate_pod_status(pod, history=history, runtime_name=self.runtime.runtime_name,
                                   sandbox_ready=rec.sandbox_ready, pod_ips=rec.ips, host_ips=node.host_ips,
                                   old=old, waiting=rec.waiting, carried=rec.carried, terminal=terminal,
                                   now=format_rfc3339(self.clock.now()), readiness=readiness)

    async def _sync_active(self, rec: PodRecord, pod: Obj, node: NodeView) -> float | None:
        spec = pod.get("spec") or {}
        sandbox = self._sandbox_config(rec, pod, node)
        volumes: asyncio.Task[None] | None = None
        if not rec.sandbox_id or not rec.sandbox_ready:
            if self.setup is not None and not volumes_need_pod_ips(pod):
                # upstream mounts volumes before it makes the sandbox; neither needs the other, so they overlap
                volumes = asyncio.get_running_loop().create_task(
                    self.setup.prepare_pod(pod, ips=(), host_ips=node.host_ips), name=f"pod-volumes-{rec.uid[:8]}")
            try:
                failed = await self._make_sandbox(rec, pod, node, sandbox)
            except BaseException:
                if volumes is not None:
                    await asyncio.shield(asyncio.gather(volumes, return_exceptions=True))
                raise
            if failed is not None:
                if volumes is not None:
                    await asyncio.gather(volumes, return_exceptions=True)    # the next sync reports a mount error
                return failed
            sandbox = self._sandbox_config(rec, pod, node)
        if self.setup is not None:
            try:
                if volumes is not None:
                    await volumes
                await self.setup.prepare_pod(pod, ips=rec.ips, host_ips=node.host_ips)     # now with the pod's IPs
            except VolumeError as e:
                node.event(pod, "Warning", "FailedMount", str(e))
                self.status.set_pod_status(pod, self._status(rec, pod, node, await self._history(rec),
                                                             terminal=False))
                return VOLUME_RETRY
        history = await self._history(rec)
        if self.setup is not None and await self._kill_unhealthy(rec, pod, node, history):
            history = await self._history(rec)
        wake: float | None = None
        pod_ref = format_pod(pod)
        for step in plan_starts(spec, history, rec.carried):
            name = step.container.get("name", "")
            delay = self.starter.restart_delay(pod_ref, rec.uid, step, node, pod, rec.waiting)
            if delay is not None:
                wake = delay if wake is None else min(wake, delay)
                if step.init and not is_sidecar(step.container):
                    break
                continue
            if step.previous is not None:
                attempt = step.previous.attempt + 1
                for old in history.get(name, [])[1:]:          # keep only the last dead one (for lastState)
                    await self.runtime.remove_container(old.id)
            else:
                attempt = rec.base_attempts.get(name, 0)
            ok, retry = await self.starter.start(pod, rec.sandbox_id, sandbox, step, attempt, node, rec.waiting)
            if retry is not None:
                wake = retry if wake is None else min(wake, retry)
            if not ok and step.init and not is_sidecar(step.container):
                break
        history = await self._history(rec)
        if self.setup is not None:
            self.setup.running(pod, rec.ips[0] if rec.ips else "", self._running(history))
        status = self._status(rec, pod, node, history, terminal=False)
        if status["phase"] in TERMINAL:
            await self._sync_terminating(rec, pod, node)
            return None
        self.status.set_pod_status(pod, status)
        return wake

    async def _make_sandbox(self, rec: PodRecord, pod: Obj, node: NodeView, sandbox: PodSandboxConfig
                            ) -> float | None:
        """A new sandbox for the pod (the old one, not ready, removed first); the seconds until a retry when the
        runtime failed to make it, else None."""
        if rec.sandbox_id:
            await self._remove_sandbox(rec.sandbox_id)
            rec.sandbox_id, rec.sandbox_attempt = "", rec.sandbox_attempt + 1
            sandbox = self._sandbox_config(rec, pod, node)
        try:
            sb = await self.runtime.run_pod_sandbox(sandbox)
        except RuntimeFailure as e:
            node.event(pod, "Warning", "FailedCreatePodSandBox", f"Failed to create pod sandbox: {e}")
            self.status.set_pod_status(pod, self._status(rec, pod, node, {}, terminal=False))
            rec.sandbox_failures += 1
            return float(min(SANDBOX_RETRY[0] * 2.0 ** (rec.sandbox_failures - 1), SANDBOX_RETRY[1]))
        rec.sandbox_failures = 0
        rec.sandbox_id, rec.sandbox_ready, rec.ips = sb.id, sb.ready, sb.ips
        if (pod.get("spec") or {}).get("hostNetwork"):
            rec.ips = node.host_ips             # upstream: host-network pods report the node's IPs
        return None

    async def _sync_terminating(self, rec: PodRecord, pod: Obj, node: NodeView) -> None:
        deleting = is_being_deleted(pod)
        if rec.final is None:
            meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
            grace = meta.get("deletionGracePeriodSeconds") if deleting else None
            if grace is None:
                grace = spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE)
            api_status = pod.get("status") or {}
            if not rec.sandbox_id and api_status.get("phase") in TERMINAL:
                # finished before this agent ran it: nothing to compute (the informer's copy may be slimmed)
                rec.final = {**(rec.first_status or self.status.get(rec.uid) or {}), **api_status}
            else:
                await self._kill_containers(rec, pod, node, max(int(grace or 0), MIN_GRACE))
                history = await self._history(rec)
                rec.sandbox_ready = False
                rec.final = self._status(rec, pod, node, history, terminal=True)
                if self.keep_finished and not deleting and rec.sandbox_id:
                    await self.runtime.stop_pod_sandbox(rec.sandbox_id)   # removed once the pod is gone
                else:
                    await self._remove_sandbox(rec.sandbox_id)
                    rec.sandbox_id = ""
                if self.setup is not None:
                    await self.setup.pod_gone(rec.uid)
            rec.terminal = True
        self.status.set_pod_status(pod, rec.final, terminated=deleting)

    async def _kill_containers(self, rec: PodRecord, pod: Obj | None, node: NodeView | None, grace: float) -> None:
        if not rec.sandbox_id:
            return
        running = [cs for cs in await self.runtime.list_containers(rec.sandbox_id)
                   if cs.state == ContainerState.RUNNING]
        if pod is not None and node is not None:
            spec = pod.get("spec") or {}
            inits = {c.get("name") for c in spec.get("initContainers") or ()}
            for cs in running:
                node.event(pod, "Normal", "Killing", f"Stopping container {cs.name}",
                           field_path=field_path({"name": cs.name}, cs.name in inits))
        specs = {c.get("name"): c for key in ("initContainers", "containers")
                 for c in ((pod or {}).get("spec") or {}).get(key) or ()}

        async def stop(cs: ContainerStatus) -> None:
            g = grace
            if self.setup is not None and pod is not None and cs.name in specs:
                g = max(grace - await self.setup.pre_stop(pod, specs[cs.name], cs.id, grace), MIN_GRACE)
            await self.runtime.stop_container(cs.id, g)

        await asyncio.gather(*(stop(cs) for cs in running))

    def _running(self, history: Mapping[str, list[ContainerStatus]]) -> dict[str, tuple[str, float]]:
        """Running containers as the prober wants them: name → (id, start time on the monotonic clock)."""
        now, mono = self.clock.now(), self.clock.monotonic()
        return {name: (h[0].id, mono - ((now - h[0].started_at).total_seconds() if h[0].started_at else 0.0))
                for name, h in history.items() if h and h[0].state == ContainerState.RUNNING}

    async def _kill_unhealthy(self, rec: PodRecord, pod: Obj, node: NodeView,
                              history: Mapping[str, list[ContainerStatus]]) -> bool:
        """Stop running containers a liveness or startup probe failed (upstream computePodActions); the restart
        policy starts them again. Returns whether any was stopped."""
        assert self.setup is not None
        spec = pod.get("spec") or {}
        restart = (spec.get("restartPolicy") or "Always") != "Never"
        probed = {c.get("name"): (c, False) for c in spec.get("containers") or ()}
        probed.update({c.get("name"): (c, True) for c in spec.get("initContainers") or () if is_sidecar(c)})
        grace = float(spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE) or 0)
        killed = False
        for name, hist in history.items():
            latest = hist[0] if hist else None
            if latest is None or latest.state != ContainerState.RUNNING or name not in probed:
                continue
            reason = self.setup.kill_reason(rec.uid, name, latest.id)
            if reason is None:
                continue
            c, init = probed[name]
            node.event(pod, "Normal", "Killing", f"{reason}, will be restarted" if restart or init else reason,
                       field_path=field_path(c, init))
            g = max(grace - await self.setup.pre_stop(pod, c, latest.id, grace), MIN_GRACE)
            await self.runtime.stop_container(latest.id, g)
            killed = True
        return killed

    async def _remove_sandbox(self, sandbox_id: str) -> None:
        if not sandbox_id:
            return
        await self.runtime.stop_pod_sandbox(sandbox_id)
        await self.runtime.remove_pod_sandbox(sandbox_id)

    async def _teardown(self, rec: PodRecord, *, grace: float, events: NodeView | None) -> None:
        await self._kill_containers(rec, None, events, grace)
        await self._remove_sandbox(rec.sandbox_id)
        rec.sandbox_id, rec.sandbox_ready = "", False
