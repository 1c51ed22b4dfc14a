"""What a real node adds to the pod workers: volumes, container environments and mounts, probes and lifecycle
hooks, behind one small interface (:class:`PodSetup`) so the simulated runtime runs without any of it.

The pod worker calls, in upstream's ``SyncPod`` order:

1. :meth:`PodSetup.prepare_pod` once the sandbox has its IPs — volumes are set up (``FailedMount`` and a retry
   when one fails, the pod staying ``ContainerCreating``);
2. :meth:`PodSetup.container_config` for each container it starts — environment (``env.py``), ``$(VAR)`` in
   command/args, volume mounts (``volumes/mounts.py``); a :class:`~pybernetes.kubelet.env.ConfigError` leaves the
   container waiting in ``CreateContainerConfigError``;
3. :meth:`PodSetup.post_start` after a container started, :meth:`PodSetup.pre_stop` before one is stopped;
4. :meth:`PodSetup.running` after each sync with the running containers, for the probes; the pod status reads
   :meth:`PodSetup.container_readiness`; :meth:`PodSetup.kill_reason` says which container a failed liveness or
   startup probe condemned;
5. :meth:`PodSetup.pod_gone` once the pod's containers and sandbox are gone — volumes torn down, probes dropped.

:meth:`PodSetup.run` refreshes the configMap/secret/downwardAPI/projected volumes of every running pod each
``refresh_period`` seconds (how ConfigMap updates and rotated tokens reach running pods).
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pybernetes.client.clock import REAL, Clock
from pybernetes.client.resources import PVS
from pybernetes.kubelet.env import ConfigError, expand_command, make_environment
from pybernetes.kubelet.hooks import run_handler
from pybernetes.kubelet.objects import APIObjects
from pybernetes.kubelet.prober import ProbeManager
from pybernetes.kubelet.runtime.interface import Mount, Runtime
from pybernetes.kubelet.volumes.localpath import cleanup_path, remove_volume_dir
from pybernetes.kubelet.volumes.manager import VolumeError, VolumeManager
from pybernetes.kubelet.volumes.mounts import container_mounts
from pybernetes.kubelet.volumes.tokens import TokenManager

log = logging.getLogger(__name__)
Obj = dict[str, Any]
REFRESH_PERIOD = 60.0
EventFn = Callable[[Obj, str, str, str, str], None]
"""(pod, type, reason, message, fieldPath)"""

__all__ = ["ConfigError", "PodSetup", "VolumeError"]


class PodSetup:
    def __init__(self, *, runtime: Runtime, objects: APIObjects, volumes: VolumeManager, event: EventFn,
                 clock: Clock = REAL, allocatable: Mapping[str, str] | None = None,
                 on_change: Callable[[str], None] = lambda uid: None,
                 refresh_period: float = REFRESH_PERIOD) -> None:
        self.runtime = runtime
        self.objects = objects
        self.volumes = volumes
        self.clock = clock
        self.allocatable = dict(allocatable or {})
        self.refresh_period = refresh_period
        self._event = event
        self._on_change = on_change
        self.prober = ProbeManager(runtime=runtime, clock=clock, on_change=self._changed, event=event)
        self._pods: dict[str, tuple[Obj, tuple[str, ...], tuple[str, ...]]] = {}
        self._paths: dict[str, dict[str, str]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    @classmethod
    def for_agent(cls, *, client: Any, runtime: Runtime, data_dir: pathlib.Path, event: EventFn, node_name: str,
                  allocatable: Mapping[str, str] | None = None, clock: Clock = REAL) -> PodSetup:
        """The real node's wiring: API objects through this agent's client, pod volumes under
        ``<data_dir>/pods``, and removal of this node's local-path volume directories when their PV is deleted
        (``node_name`` is the node's ``kubernetes.io/hostname``)."""
        objects = APIObjects(client)
        objects.start()
        tokens = TokenManager(objects.request_token, clock=clock)
        volumes = VolumeManager(root=data_dir / "pods", api=objects, tokens=tokens, allocatable=allocatable)
        setup = cls(runtime=runtime, objects=objects, volumes=volumes, event=event, clock=clock,
                    allocatable=allocatable)
        objects.informer(PVS).add_handler(None, None, lambda pv: setup.pv_deleted(pv, hostname=node_name))
        return setup

    def pv_deleted(self, pv: Obj, *, hostname: str) -> None:
        """A PersistentVolume is gone: remove its directory if it was this node's local-path volume."""
        if cleanup_path(pv, hostname=hostname) is None:
            return
        task = asyncio.get_running_loop().create_task(remove_volume_dir(pv, hostname=hostname),
                                                      name="local-path-cleanup")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def subscribe(self, on_change: Callable[[str], None]) -> None:
        """Where probe result changes go (the pod workers' ``poke``)."""
        self._on_change = on_change

    def _changed(self, uid: str) -> None:
        self._on_change(uid)

    # ------------------------------------------------------------------ pod
    async def prepare_pod(self, pod: Obj, *, ips: Sequence[str], host_ips: Sequence[str]) -> None:
        """Set up the pod's volumes (idempotent). Raises VolumeError."""
        uid = (pod.get("metadata") or {}).get("uid", "")
        self._pods[uid] = (pod, tuple(ips), tuple(host_ips))
        if uid not in self._paths:          # set up once; run() keeps the projected kinds current
            self._paths[uid] = await self.volumes.setup(pod, pod_ips=tuple(ips), host_ips=tuple(host_ips))

    async def container_config(self, pod: Obj, container: Obj) -> tuple[tuple[tuple[str, str], ...], list[str],
                                                                         list[str], tuple[Mount, ...]]:
        """(env, command, args, mounts) for a container about to be created. Raises ConfigError."""
        uid = (pod.get("metadata") or {}).get("uid", "")
        _, ips, host_ips = self._pods.get(uid, (pod, (), ()))
        name = container.get("name", "")

        def event(type_: str, reason: str, message: str) -> None:
            self._event(pod, type_, reason, message, f"spec.containers{{{name}}}")

        env = await make_environment(pod, container, objects=self.objects, pod_ips=ips, host_ips=host_ips,
                                     allocatable=self.allocatable, event=event)
        command, args = expand_command(container, env)
        mounts = await asyncio.to_thread(container_mounts, pod, container, self._paths.get(uid, {}), env=env)
        return tuple(env), command, args, mounts

    async def post_start(self, pod: Obj, container: Obj, container_id: str) -> str | None:
        """Run the postStart hook, if any; returns the failure message."""
        handler = (container.get("lifecycle") or {}).get("postStart")
        if not handler:
            return None
        uid = (pod.get("metadata") or {}).get("uid", "")
        ip = (self._pods.get(uid, (pod, ("",), ()))[1] or ("",))[0]
        grace = float((pod.get("spec") or {}).get("terminationGracePeriodSeconds") or 30)
        return await run_handler(handler, runtime=self.runtime, container_id=container_id, pod=pod,
                                 container=container, pod_ip=ip, timeout=max(grace, 30.0), clock=self.clock)

    async def pre_stop(self, pod: Obj, container: Obj, container_id: str, grace: float) -> float:
        """Run the preStop hook within ``grace`` seconds; returns the seconds it took (to be taken off the
        grace period of the stop that follows)."""
        handler = (container.get("lifecycle") or {}).get("preStop")
        if not handler:
            return 0.0
        uid = (pod.get("metadata") or {}).get("uid", "")
        ip = (self._pods.get(uid, (pod, ("",), ()))[1] or ("",))[0]
        t0 = time.monotonic()
        try:
            msg = await asyncio.wait_for(run_handler(handler, runtime=self.runtime, container_id=container_id,
                                                     pod=pod, container=container, pod_ip=ip, timeout=grace,
                                                     clock=self.clock), grace)
        except TimeoutError:
            msg = None
        if msg:
            self._event(pod, "Warning", "FailedPreStopHook", msg, f"spec.containers{{{container.get('name', '')}}}")
        return time.monotonic() - t0

    # ------------------------------------------------------------------ probes
    def running(self, pod: Obj, pod_ip: str, containers: Mapping[str, tuple[str, float]]) -> None:
        self.prober.update(pod, pod_ip, containers)

    def container_readiness(self, uid: str, name: str, container_id: str) -> tuple[bool, bool]:
        """(started, ready) of a running container as its probes say."""
        return (self.prober.started(uid, name, container_id), self.prober.ready(uid, name, container_id))

    def kill_reason(self, uid: str, name: str, container_id: str) -> str | None:
        return self.prober.kill_reason(uid, name, container_id)

    # ------------------------------------------------------------------ teardown and refresh
    async def pod_gone(self, uid: str) -> None:
        self.prober.remove_pod(uid)
        self._pods.pop(uid, None)
        self._paths.pop(uid, None)
        await self.volumes.teardown(uid)

    async def remove_orphans(self, known_uids: set[str]) -> int:
        """Tear down the volumes of pods this node no longer has (deleted while no agent ran): call once the pod
        informer has synced, with the UIDs of every pod bound here. Returns how many were removed."""
        gone = [uid for uid in self.volumes.known_pods() if uid not in known_uids and uid not in self._pods]
        for uid in gone:
            await self.volumes.teardown(uid)
        if gone:
            log.info("removed volumes of pods that are gone", extra={"pods": len(gone)})
        return len(gone)

    async def run(self) -> None:
        while True:
            await self.clock.sleep(self.refresh_period)
            for uid, (pod, ips, host_ips) in list(self._pods.items()):
                try:
                    await self.volumes.refresh(pod, pod_ips=ips, host_ips=host_ips)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("volume refresh failed", extra={"pod_uid": uid})

    def update_pod(self, pod: Obj) -> None:
        """A newer version of a pod object (labels/annotations for the downward API)."""
        uid = (pod.get("metadata") or {}).get("uid", "")
        if uid in self._pods:
            _, ips, host_ips = self._pods[uid]
            self._pods[uid] = (pod, ips, host_ips)

    async def stop(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.prober.stop()
        await self.objects.stop()
