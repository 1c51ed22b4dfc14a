"""Which containers of a pod to (re)start now, and starting one — upstream's ``computePodActions`` and
``startContainer`` (``pkg/kubelet/kuberuntime``).

:func:`plan_starts` is pure: init containers run one at a time in order (a restartable "sidecar" init container
only has to have started), regular containers start once every init container is done, and an exited container
is restarted as the pod's ``restartPolicy`` says. :class:`ContainerStarter` applies one step: the image pull
policy (with pull back-off → ``ErrImagePull``/``ImagePullBackOff``), create, start, and the events the kubelet
records for each (``Pulled``, ``Created``, ``Started``, ``Failed``, ``BackOff``) with the container's
``fieldPath``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pybernetes.api.kinds.pod_defaults import default_pull_policy
from pybernetes.client.clock import REAL, Clock
from pybernetes.kubelet.backoff import Backoff, go_duration
from pybernetes.kubelet.env import ConfigError
from pybernetes.kubelet.podstatus import is_sidecar
from pybernetes.kubelet.runtime.interface import (
    ContainerConfig,
    ContainerState,
    ContainerStatus,
    ImagePullFailure,
    ImageRef,
    Mount,
    PodSandboxConfig,
    Runtime,
    RuntimeFailure,
)

if TYPE_CHECKING:
    from pybernetes.kubelet.podsetup import PodSetup

Obj = dict[str, Any]
CONFIG_RETRY = 5.0          # a missing ConfigMap/Secret: look again soon (upstream resyncs when it appears)


class EventSink(Protocol):
    def event(self, obj: Obj, type_: str, reason: str, message: str, *, field_path: str = "") -> None: ...


@dataclass(frozen=True, slots=True)
class Start:
    """Start ``container``; ``previous`` is the exited record it replaces (a restart), else None."""

    container: Obj
    init: bool
    previous: ContainerStatus | None


def should_restart(restart_policy: str, exit_code: int | None) -> bool:
    if restart_policy == "Always":
        return True
    if restart_policy == "OnFailure":
        return (exit_code or 0) != 0
    return False


def plan_starts(spec: Obj, history: Mapping[str, Sequence[ContainerStatus]], carried: Mapping[str, Obj]
                ) -> list[Start]:
    """The containers to (re)start now, in order. ``history`` is the runtime's records per name (newest first);
    ``carried`` names containers finished before the runtime lost them (never run again)."""
    restart = spec.get("restartPolicy") or "Always"
    out: list[Start] = []
    for c in spec.get("initContainers") or ():
        name = c.get("name", "")
        hist = history.get(name) or ()
        latest = hist[0] if hist else None
        sidecar = is_sidecar(c)
        if latest is None:
            if name in carried and not sidecar:
                continue
            out.append(Start(c, True, None))
            if sidecar:
                continue
            return out
        if latest.state == ContainerState.RUNNING:
            if sidecar:
                continue
            return out
        if latest.state != ContainerState.EXITED:
            return out
        if sidecar:
            out.append(Start(c, True, latest))
            continue
        if latest.exit_code == 0:
            continue
        if restart != "Never":
            out.append(Start(c, True, latest))
        return out
    for c in spec.get("containers") or ():
        name = c.get("name", "")
        hist = history.get(name) or ()
        latest = hist[0] if hist else None
        if latest is None:
            if name not in carried:
                out.append(Start(c, False, None))
        elif latest.state == ContainerState.EXITED and should_restart(restart, latest.exit_code):
            out.append(Start(c, False, latest))
    return out


def field_path(container: Obj, init: bool) -> str:
    return f"spec.{'initContainers' if init else 'containers'}{{{container.get('name', '')}}}"


def pull_duration(seconds: float) -> str:
    """A pull time as the ``Pulled`` event prints it: Go's Duration.String truncated to milliseconds
    (``0s``, ``797ms``, ``1.256s``, ``1m4.5s``)."""
    ms = int(seconds * 1000)
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    m, rest = divmod(ms, 60_000)
    sec = f"{rest // 1000}.{rest % 1000:03d}".rstrip("0").rstrip(".") + "s"
    return f"{m}m{sec}" if m else sec


class ContainerStarter:
    """Pulls, creates and starts one container; returns whether it is now running, and records why not in
    ``waiting`` (the container's waiting reason/message for the status)."""

    def __init__(self, runtime: Runtime, *, backoff: Backoff, clock: Clock = REAL,
                 setup: PodSetup | None = None) -> None:
        self.runtime = runtime
        self.setup = setup          # real nodes: env, mounts and hooks (podsetup.py); None for simulated pods
        self.backoff = backoff
        self.clock = clock
        self._pull_failed_at: dict[tuple[str, str], float] = {}

    def forget(self, uid: str) -> None:
        for k in [k for k in self._pull_failed_at if k[0] == uid]:
            del self._pull_failed_at[k]

    async def ensure_image(self, pod: Obj, c: Obj, init: bool, sandbox: PodSandboxConfig, events: EventSink,
                           waiting: dict[str, tuple[str, str]]) -> tuple[ImageRef | None, float | None]:
        """The image to run, or (None, seconds until a retry makes sense)."""
        name, image = c.get("name", ""), c.get("image", "")
        fp = field_path(c, init)
        policy = c.get("imagePullPolicy") or default_pull_policy(image)
        present = await self.runtime.image_status(image, node=sandbox.node_name)
        if present is not None and policy != "Always":
            events.event(pod, "Normal", "Pulled", f'Container image "{image}" already present on machine',
                         field_path=fp)
            return present, None
        if policy == "Never":
            msg = f'Container image "{image}" is not present with pull policy of Never'
            waiting[name] = ("ErrImageNeverPull", msg)
            events.event(pod, "Warning", "ErrImageNeverPull", msg, field_path=fp)
            return None, None
        key = (sandbox.uid, name)
        failed_at = self._pull_failed_at.get(key)
        pull_key = ("pull", sandbox.uid, name)
        if failed_at is not None and self.backoff.in_backoff_since(pull_key, failed_at):
            msg = f'Back-off pulling image "{image}"'
            waiting[name] = ("ImagePullBackOff", msg)
            events.event(pod, "Normal", "BackOff", msg, field_path=fp)
            return None, self.backoff.remaining(pull_key, failed_at)
        events.event(pod, "Normal", "Pulling", f'Pulling image "{image}"', field_path=fp)
        t0 = self.clock.monotonic()
        try:
            ref = await self.runtime.pull_image(image, sandbox=sandbox, auth=await self.pull_auth(pod, events))
        except ImagePullFailure as e:
            now = self.clock.now().timestamp()
            self._pull_failed_at[key] = now
            self.backoff.next(pull_key, now)
            waiting[name] = (e.reason, f'Failed to pull image "{image}": {e}')
            events.event(pod, "Warning", "Failed", f'Failed to pull image "{image}": {e}', field_path=fp)
            events.event(pod, "Warning", "Failed", f"Error: {e.reason}", field_path=fp)
            # look again shortly, so the status moves on to ImagePullBackOff as a kubelet's does
            return None, min(1.0, self.backoff.remaining(pull_key, now))
        self._pull_failed_at.pop(key, None)
        self.backoff.reset(pull_key)
        took = pull_duration(self.clock.monotonic() - t0)
        events.event(pod, "Normal", "Pulled", f'Successfully pulled image "{image}" in {took} ({took} including '
                     f"waiting). Image size: {ref.size} bytes.", field_path=fp)
        return ref, None

    async def pull_auth(self, pod: Obj, events: EventSink) -> Any:
        """The pod's ``imagePullSecrets`` as a keyring for the pull (real nodes read the Secrets; upstream warns
        about the ones it cannot get and pulls anyway). A secret that is not docker config JSON fails the pull."""
        refs = [r.get("name") for r in (pod.get("spec") or {}).get("imagePullSecrets") or () if r.get("name")]
        if self.setup is None or not refs:
            return None
        from pybernetes.kubelet.images import config as image_config
        namespace = (pod.get("metadata") or {}).get("namespace", "")
        found: list[Obj] = []
        missing: list[str] = []
        for name in refs:
            secret = await self.setup.objects.secret(namespace, name)
            if secret is None:
                missing.append(name)
            else:
                found.append(secret)
        if missing:
            events.event(pod, "Warning", "FailedToRetrieveImagePullSecret",
                         f"Unable to retrieve some image pull secrets ({', '.join(missing)}); attempting to pull the "
                         "image may not succeed.")
        try:
            return image_config.keyring_from_secrets(found)
        except image_config.ConfigError as e:
            raise ImagePullFailure(str(e)) from None

    def restart_delay(self, pod_ref: str, uid: str, start: Start, events: EventSink, pod: Obj,
                      waiting: dict[str, tuple[str, str]]) -> float | None:
        """For a restart: None if it may happen now (the back-off grows), else the seconds to wait, with
        ``CrashLoopBackOff`` recorded."""
        prev = start.previous
        if prev is None:
            return None
        name = start.container.get("name", "")
        key = (uid, name)
        finished = (prev.finished_at or self.clock.now()).timestamp()
        if self.backoff.in_backoff_since(key, finished):
            msg = (f"back-off {go_duration(self.backoff.get(key))} restarting failed container={name} "
                   f"pod={pod_ref}")
            if waiting.get(name) != ("CrashLoopBackOff", msg):
                events.event(pod, "Warning", "BackOff",
                             f"Back-off restarting failed container {name} in pod {pod_ref}",
                             field_path=field_path(start.container, start.init))
            waiting[name] = ("CrashLoopBackOff", msg)
            return self.backoff.remaining(key, finished)
        self.backoff.next(key, finished)
        return None

    async def start(self, pod: Obj, sandbox_id: str, sandbox: PodSandboxConfig, start: Start, attempt: int,
                    events: EventSink, waiting: dict[str, tuple[str, str]]) -> tuple[bool, float | None]:
        """Pull (per policy), create and start; (running?, retry-after seconds or None)."""
        c, init = start.container, start.init
        name = c.get("name", "")
        fp = field_path(c, init)
        ref, retry = await self.ensure_image(pod, c, init, sandbox, events, waiting)
        if ref is None:
            return False, retry
        meta = pod.get("metadata") or {}
        command, args = list(c.get("command") or ()), list(c.get("args") or ())
        env = tuple((e.get("name", ""), str(e.get("value", ""))) for e in c.get("env") or () if "value" in e)
        mounts: tuple[Mount, ...] = ()
        if self.setup is not None:
            try:
                env, command, args, mounts = await self.setup.container_config(pod, c)
            except ConfigError as e:
                waiting[name] = (e.reason, str(e))
                events.event(pod, "Warning", "Failed", f"Error: {e}", field_path=fp)
                return False, CONFIG_RETRY
        config = ContainerConfig(
            name=name, image=ref.name, attempt=attempt, command=tuple(command), args=tuple(args), env=env,
            mounts=mounts, working_dir=c.get("workingDir") or "", init=init,
            labels={"io.kubernetes.pod.name": meta.get("name", ""),
                    "io.kubernetes.pod.namespace": meta.get("namespace", ""),
                    "io.kubernetes.pod.uid": meta.get("uid", ""), "io.kubernetes.container.name": name},
            annotations={"io.kubernetes.container.restartCount": str(attempt)}, spec=c)
        try:
            cid = await self.runtime.create_container(sandbox_id, config)
        except RuntimeFailure as e:
            waiting[name] = ("CreateContainerError", str(e))
            events.event(pod, "Warning", "Failed", f"Error: {e}", field_path=fp)
            return False, None
        events.event(pod, "Normal", "Created", f"Created container: {name}", field_path=fp)
        try:
            await self.runtime.start_container(cid)
        except RuntimeFailure as e:
            waiting[name] = ("RunContainerError", str(e))
            events.event(pod, "Warning", "Failed", f"Error: {e}", field_path=fp)
            return False, None
        events.event(pod, "Normal", "Started", f"Started container {name}", field_path=fp)
        if self.setup is not None:
            msg = await self.setup.post_start(pod, c, cid)
            if msg is not None:             # upstream: the container is killed and reported PostStartHookError
                events.event(pod, "Warning", "FailedPostStartHook", msg, field_path=fp)
                events.event(pod, "Normal", "Killing", "FailedPostStartHook", field_path=fp)
                grace = float((pod.get("spec") or {}).get("terminationGracePeriodSeconds") or 30)
                await self.runtime.stop_container(cid, grace)
                waiting[name] = ("PostStartHookError", msg)
                return False, None
        waiting.pop(name, None)
        return True, None
