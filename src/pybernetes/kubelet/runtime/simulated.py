"""A container runtime that runs nothing: sandboxes and containers are records in memory (10,000 pods cost a few
megabytes), one instance serving every simulated node of an agent process.

What a simulated container does is read from its spec (:func:`behaviour_of`), so tests of Jobs, restarts and
CrashLoopBackOff have something real to observe:

- an image whose repository contains ``fail`` exits 1 shortly after it starts;
- the command line is interpreted when it is made of well-known pieces: ``false`` → exit 1, ``true`` → exit 0,
  ``sleep N`` → exit 0 after N seconds (``sleep infinity`` never exits), ``exit N`` → N, and shell scripts
  (``sh -c "sleep 5; exit 3"``) chaining those with ``;``/``&&``/newlines; ``echo``/``printf``/``date``/``ls``
  succeed at once; a ``while``/``until`` loop or ``tail -f`` runs until stopped;
- any other program runs until stopped, except in init containers and in pods whose ``restartPolicy`` is
  ``Never``/``OnFailure`` (batch work), where it completes with 0 after ``run_seconds``.

Readiness is the kubelet's business (always ready in simulation). Stopping a running container takes
``min(timeout, stop_delay)``: within the grace period it exits 0 (as a process handling SIGTERM), otherwise it is
killed with 137. Pod IPs come from the sandbox's ``pod_cidr`` through one :class:`~pybernetes.kubelet.ipam.
IPAllocator` per node, like CNI host-local. Images are "preloaded" (present on every node) unless their name
matches ``unpullable`` (by default: contains ``nonexistent`` or ``doesnotexist``), which makes pulls fail as a
registry answering 404 would.

Resource usage (what ``kubectl top`` and the HorizontalPodAutoscaler see) is synthetic and deterministic: each
running container uses a small CPU rate (1–3m) that swings ±30% over two minutes and 8–24Mi of memory, both
derived from its namespace, pod and container names, so a test sees the same figures on every run. Two pod
annotations are **simulation controls** that replace the model for every container of the pod::

    sim.pybernetes.io/cpu-usage: "250m"       # each container uses exactly 250 millicores
    sim.pybernetes.io/memory-usage: "64Mi"    # each container's working set is exactly 64Mi

The agent forwards a pod's current annotations before each collection (:meth:`SimulatedRuntime.
set_pod_annotations`), so changing one with ``kubectl annotate`` moves the usage from the next sample on; the
cumulative CPU counter stays monotonic across the change, as a cgroup's does. Unreadable or negative values are
ignored. Nodes add a baseline of their own (:meth:`SimulatedRuntime.system_usage`): system daemons, 40–60m and
300–400Mi.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import hashlib
import logging
import math
import os
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from pybernetes.api.quantity import parse_quantity
from pybernetes.client.clock import REAL, Clock
from pybernetes.kubelet.images.reference import InvalidReference, parse
from pybernetes.kubelet.ipam import IPAllocator, PoolExhausted
from pybernetes.kubelet.runtime.interface import (
    ContainerConfig,
    ContainerState,
    ContainerStats,
    ContainerStatus,
    ExecResult,
    ImagePullFailure,
    ImageRef,
    NotSupported,
    PodEventHandler,
    PodSandboxConfig,
    Runtime,
    RuntimeFailure,
    SandboxFailure,
    SandboxStatus,
    StreamIO,
)

log = logging.getLogger(__name__)

SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh"})
NOOPS = frozenset({"echo", "printf", "date", "ls", "env", "hostname", "id", "pwd", "cat", "true", ":", "uname"})
FOREVER_WORDS = frozenset({"while", "until"})
_SPLIT = re.compile(r"\s*(?:;|&&|\|\||\n)\s*")


@dataclass(frozen=True, slots=True)
class Behaviour:
    """``exit_code`` None: runs until stopped; else exits with it ``run_seconds`` after starting."""

    exit_code: int | None
    run_seconds: float = 0.0


def _words(statement: str) -> list[str]:
    try:
        return shlex.split(statement)
    except ValueError:
        return statement.split()


def _interpret(statements: Sequence[Sequence[str]]) -> tuple[str, int, float]:
    """("exit" | "forever" | "unknown", exit code, seconds) for a sequence of simple commands."""
    code, seconds = 0, 0.0
    for words in statements:
        if not words:
            continue
        prog = os.path.basename(words[0])
        if prog in FOREVER_WORDS or (prog == "tail" and "-f" in words):
            return "forever", 0, seconds
        if prog == "exit":
            try:
                return "exit", int(words[1]) if len(words) > 1 else code, seconds
            except ValueError:
                return "exit", 2, seconds
        if prog == "sleep":
            arg = words[1] if len(words) > 1 else ""
            if arg in ("infinity", "inf"):
                return "forever", 0, seconds
            try:
                seconds += float(arg.rstrip("s"))
            except ValueError:
                return "unknown", 0, seconds
            code = 0
        elif prog == "false":
            code = 1
        elif prog in NOOPS:
            code = 0
        else:
            return "unknown", 0, seconds
    return "exit", code, seconds


def behaviour_of(config: ContainerConfig, *, restart_policy: str, run_seconds: float = 0.5) -> Behaviour:
    """What a simulated container does; see the module docstring."""
    try:
        path = parse(config.image).path
    except InvalidReference:
        path = config.image
    if "fail" in path:
        return Behaviour(1, run_seconds)
    argv = [*config.command, *config.args]
    statements: list[list[str]] = []
    if argv and os.path.basename(argv[0]) in SHELLS and "-c" in argv[1:]:
        i = argv.index("-c")
        script = argv[i + 1] if i + 1 < len(argv) else ""
        statements = [_words(s) for s in _SPLIT.split(script) if s.strip()]
    elif argv:
        statements = [argv]
    kind, code, seconds = _interpret(statements) if statements else ("unknown", 0, 0.0)
    if kind == "forever":
        return Behaviour(None)
    if kind == "exit":
        return Behaviour(code, seconds or run_seconds)
    if config.init or restart_policy in ("Never", "OnFailure"):
        return Behaviour(0, seconds + run_seconds)
    return Behaviour(None)


def default_unpullable(image: str) -> bool:
    return "nonexistent" in image or "doesnotexist" in image


@functools.lru_cache(maxsize=4096)
def image_ref(name: str) -> ImageRef:
    """The simulated registry's answer for ``name``: a stable digest and size derived from the name."""
    try:
        ref = parse(name)
    except InvalidReference as e:
        raise ImagePullFailure(f'Failed to inspect image "{name}": {e}', reason="InvalidImageName") from e
    full = str(ref)
    digest = ref.digest or "sha256:" + hashlib.sha256(full.encode()).hexdigest()
    size = 2_000_000 + int(digest[-8:], 16) % 200_000_000
    return ImageRef(name=full, id=f"{ref.repository}@{digest}", size=size)


CPU_USAGE_ANNOTATION = "sim.pybernetes.io/cpu-usage"
MEMORY_USAGE_ANNOTATION = "sim.pybernetes.io/memory-usage"
CPU_WAVE_SECONDS = 120.0
MEMORY_WAVE_SECONDS = 300.0
MI = 1 << 20
PAGE = 4096


@dataclass(frozen=True, slots=True)
class Usage:
    """A container's usage model: a mean CPU rate and working set, each swinging sinusoidally by a relative
    amplitude (0 for the fixed figures an annotation asks for); ``phase`` (radians) spreads containers apart."""

    cpu_nanocores: int
    memory_bytes: int
    cpu_swing: float = 0.0
    memory_swing: float = 0.0
    phase: float = 0.0

    def cpu_integral(self, t: float) -> float:
        """Core-nanoseconds used from 0 to ``t`` seconds: the closed-form integral of ``mean·(1 + swing·sin(ωt+φ))``,
        so the cumulative counter costs nothing however long the container ran, and never decreases."""
        w = 2 * math.pi / CPU_WAVE_SECONDS
        return self.cpu_nanocores * (t + self.cpu_swing / w * (math.cos(self.phase) - math.cos(w * t + self.phase)))

    def memory_at(self, t: float) -> int:
        """The working set at ``t``: whole pages, as a cgroup counts it (a fixed figure is kept exact)."""
        if not self.memory_swing:
            return self.memory_bytes
        w = 2 * math.pi / MEMORY_WAVE_SECONDS
        raw = int(self.memory_bytes * (1 + self.memory_swing * math.sin(w * t + self.phase)))
        return raw - raw % PAGE


def _digest(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\0".join(parts).encode()).digest()[:8], "big")


def _annotated(annotations: Mapping[str, str], key: str, scale: int) -> int | None:
    """The annotation's quantity in units of ``10**scale``; None when absent, unreadable or negative."""
    text = annotations.get(key)
    if text is None:
        return None
    try:
        q = parse_quantity(text.strip())
    except ValueError:
        log.warning("ignoring unreadable simulation annotation", extra={"annotation": key, "value": text})
        return None
    return q.scaled_value(scale) if q.sign() >= 0 else None


def usage_model(namespace: str, pod: str, container: str, annotations: Mapping[str, str]) -> Usage:
    """The usage of one simulated container: the default deterministic wave, or the annotations' figures."""
    h = _digest(namespace, pod, container)
    cpu = _annotated(annotations, CPU_USAGE_ANNOTATION, -9)
    memory = _annotated(annotations, MEMORY_USAGE_ANNOTATION, 0)
    return Usage(cpu_nanocores=1_000_000 + h % 2_000_000 if cpu is None else cpu,
                 memory_bytes=8 * MI + (h >> 24) % (16 * MI) if memory is None else memory,
                 cpu_swing=0.3 if cpu is None else 0.0, memory_swing=0.02 if memory is None else 0.0,
                 phase=(h >> 48) % 6283 / 1000)


def node_system_usage(node: str, at: datetime.datetime) -> tuple[int, int]:
    """A simulated node's own (non-pod) usage at ``at``: (CPU nanocores, memory bytes)."""
    h = _digest(node)
    t = at.timestamp()
    model = Usage(cpu_nanocores=40_000_000 + h % 20_000_000, memory_bytes=300 * MI + (h >> 24) % (100 * MI),
                  cpu_swing=0.2, memory_swing=0.01, phase=(h >> 48) % 6283 / 1000)
    w = 2 * math.pi / CPU_WAVE_SECONDS
    return int(model.cpu_nanocores * (1 + model.cpu_swing * math.sin(w * t + model.phase))), model.memory_at(t)


@dataclass(slots=True)
class _Meter:
    """The cumulative CPU counter of one container under a model that may change (an annotation edited): what
    was used until ``since`` is kept in ``used``, the current model integrates from there."""

    model: Usage
    key: tuple[str | None, str | None]          # the annotation texts the model was made from
    used: float = 0.0
    since: float = 0.0

    def cpu(self, t: float) -> float:
        return self.used + self.model.cpu_integral(t) - self.model.cpu_integral(self.since)

    def switch(self, model: Usage, key: tuple[str | None, str | None], t: float) -> None:
        self.used, self.since, self.model, self.key = self.cpu(t), t, model, key


def _usage_key(annotations: Mapping[str, str]) -> tuple[str | None, str | None]:
    return annotations.get(CPU_USAGE_ANNOTATION), annotations.get(MEMORY_USAGE_ANNOTATION)


@dataclass(slots=True)
class _Container:
    id: str
    sandbox_id: str
    pod_uid: str
    config: ContainerConfig
    image: ImageRef
    behaviour: Behaviour
    created_at: datetime.datetime
    state: ContainerState = ContainerState.CREATED
    started_at: datetime.datetime | None = None
    finished_at: datetime.datetime | None = None
    exit_code: int | None = None
    reason: str = ""
    timer: asyncio.Task[None] | None = None
    meter: _Meter | None = None

    def status(self) -> ContainerStatus:
        return ContainerStatus(id=self.id, name=self.config.name, attempt=self.config.attempt, state=self.state,
                               image=self.image.name, image_ref=self.image.id, created_at=self.created_at,
                               started_at=self.started_at, finished_at=self.finished_at, exit_code=self.exit_code,
                               reason=self.reason)


@dataclass(slots=True)
class _Sandbox:
    id: str
    config: PodSandboxConfig
    pool: IPAllocator | None
    ip: str
    created_at: datetime.datetime
    ready: bool = True
    containers: dict[str, _Container] = field(default_factory=dict)

    def status(self) -> SandboxStatus:
        return SandboxStatus(id=self.id, pod_uid=self.config.uid, ready=self.ready,
                             ips=(self.ip,) if self.ip else (), created_at=self.created_at)


class SimulatedRuntime:
    runtime_name = "sim"
    runtime_version = "1.0.0"

    def __init__(self, *, clock: Clock = REAL, run_seconds: float = 0.5, stop_delay: float = 0.2,
                 unpullable: Callable[[str], bool] = default_unpullable) -> None:
        self.clock = clock
        self.run_seconds = run_seconds
        self.stop_delay = stop_delay
        self.unpullable = unpullable
        self._sandboxes: dict[str, _Sandbox] = {}
        self._containers: dict[str, _Container] = {}
        self._pools: dict[tuple[str, str], IPAllocator] = {}
        self._images: dict[str, dict[str, ImageRef]] = {}     # node → images used there
        self._handlers: list[PodEventHandler] = []
        self._annotations: dict[str, Mapping[str, str]] = {}   # pod uid → latest annotations (usage controls)

    def subscribe(self, handler: PodEventHandler) -> None:
        self._handlers.append(handler)

    def _notify(self, pod_uid: str) -> None:
        for h in self._handlers:
            try:
                h(pod_uid)
            except Exception:
                log.exception("runtime event handler failed", extra={"pod_uid": pod_uid})

    @staticmethod
    def _new_id() -> str:
        return os.urandom(32).hex()

    # ------------------------------------------------------------------ sandboxes
    def pool(self, node: str, cidr: str) -> IPAllocator:
        key = (node, cidr)
        p = self._pools.get(key)
        if p is None:
            p = self._pools[key] = IPAllocator(cidr)
        return p

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> SandboxStatus:
        pool: IPAllocator | None = None
        ip = ""
        if not (config.pod.get("spec") or {}).get("hostNetwork"):       # host-network pods get no IP of their own
            if not config.pod_cidr:
                raise SandboxFailure("network is not ready: the node has no pod CIDR")
            pool = self.pool(config.node_name, config.pod_cidr)
            try:
                ip = pool.allocate(config.uid, hint=config.ip_hint)
            except PoolExhausted as e:
                raise SandboxFailure(f"failed to set up sandbox container network: {e}") from e
        sb = _Sandbox(id=self._new_id(), config=config, pool=pool, ip=ip, created_at=self.clock.now())
        self._sandboxes[sb.id] = sb
        return sb.status()

    def _kill(self, c: _Container, code: int) -> None:
        if c.timer is not None:
            c.timer.cancel()
            c.timer = None
        if c.state in (ContainerState.RUNNING, ContainerState.CREATED):
            c.state = ContainerState.EXITED
            c.finished_at = self.clock.now()
            c.exit_code = code
            c.reason = "Completed" if code == 0 else "Error"

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        sb = self._sandboxes.get(sandbox_id)
        if sb is None:
            return
        for c in sb.containers.values():
            if c.state == ContainerState.RUNNING:
                self._kill(c, 137)
        sb.ready = False
        if sb.pool is not None:
            sb.pool.release(sb.config.uid)

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        await self.stop_pod_sandbox(sandbox_id)
        sb = self._sandboxes.pop(sandbox_id, None)
        if sb is not None:
            self._annotations.pop(sb.config.uid, None)
            for cid in sb.containers:
                self._containers.pop(cid, None)

    async def pod_sandbox_status(self, sandbox_id: str) -> SandboxStatus | None:
        sb = self._sandboxes.get(sandbox_id)
        return sb.status() if sb else None

    async def list_pod_sandboxes(self) -> list[SandboxStatus]:
        return [sb.status() for sb in self._sandboxes.values()]

    # ------------------------------------------------------------------ images
    async def pull_image(self, image: str, *, sandbox: PodSandboxConfig, auth: Mapping[str, str] | None = None
                         ) -> ImageRef:
        ref = image_ref(image)
        if self.unpullable(image):
            raise ImagePullFailure(f'failed to pull and unpack image "{ref.name}": failed to resolve reference '
                                   f'"{ref.name}": {ref.name}: not found')
        self._images.setdefault(sandbox.node_name, {})[ref.name] = ref
        return ref

    async def image_status(self, image: str, *, node: str = "") -> ImageRef | None:
        if self.unpullable(image):
            return None
        try:
            return image_ref(image)
        except RuntimeFailure:
            return None

    async def list_images(self, *, node: str = "") -> list[ImageRef]:
        return list(self._images.get(node, {}).values())

    # ------------------------------------------------------------------ containers
    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str:
        sb = self._sandboxes.get(sandbox_id)
        if sb is None or not sb.ready:
            raise RuntimeFailure(f"sandbox {sandbox_id} is not ready", reason="CreateContainerError")
        ref = image_ref(config.image)
        self._images.setdefault(sb.config.node_name, {}).setdefault(ref.name, ref)
        restart_policy = (sb.config.pod.get("spec") or {}).get("restartPolicy", "Always")
        c = _Container(id=self._new_id(), sandbox_id=sandbox_id, pod_uid=sb.config.uid, config=config, image=ref,
                       behaviour=behaviour_of(config, restart_policy=restart_policy, run_seconds=self.run_seconds),
                       created_at=self.clock.now())
        sb.containers[c.id] = c
        self._containers[c.id] = c
        return c.id

    async def start_container(self, container_id: str) -> None:
        c = self._containers.get(container_id)
        if c is None or c.state != ContainerState.CREATED:
            raise RuntimeFailure(f"container {container_id} cannot be started", reason="RunContainerError")
        c.state = ContainerState.RUNNING
        c.started_at = self.clock.now()
        sb = self._sandboxes.get(c.sandbox_id)
        if sb is not None:
            annotations = self._annotations.get(c.pod_uid, sb.config.annotations)
            c.meter = _Meter(usage_model(sb.config.namespace, sb.config.name, c.config.name, annotations),
                             _usage_key(annotations))
        if c.behaviour.exit_code is not None:
            c.timer = asyncio.get_running_loop().create_task(self._exit_later(c), name=f"sim-exit-{c.id[:12]}")

    async def _exit_later(self, c: _Container) -> None:
        assert c.started_at is not None
        ran = (self.clock.now() - c.started_at).total_seconds()
        await self.clock.sleep(c.behaviour.run_seconds - ran)
        c.timer = None
        if c.state == ContainerState.RUNNING:
            self._kill(c, c.behaviour.exit_code or 0)
            self._notify(c.pod_uid)

    async def stop_container(self, container_id: str, timeout: float) -> None:
        c = self._containers.get(container_id)
        if c is None or c.state != ContainerState.RUNNING:
            if c is not None and c.state == ContainerState.CREATED:
                self._kill(c, 0)
            return
        wait = min(max(timeout, 0.0), self.stop_delay)
        if wait > 0:
            await self.clock.sleep(wait)
        if c.state == ContainerState.RUNNING:
            self._kill(c, 0 if self.stop_delay <= timeout else 137)

    async def remove_container(self, container_id: str) -> None:
        c = self._containers.pop(container_id, None)
        if c is None:
            return
        self._kill(c, 137)
        sb = self._sandboxes.get(c.sandbox_id)
        if sb is not None:
            sb.containers.pop(container_id, None)

    async def container_status(self, container_id: str) -> ContainerStatus | None:
        c = self._containers.get(container_id)
        return c.status() if c else None

    async def list_containers(self, sandbox_id: str) -> list[ContainerStatus]:
        sb = self._sandboxes.get(sandbox_id)
        return [c.status() for c in sb.containers.values()] if sb else []

    # ------------------------------------------------------------------ usage (see the module docstring)
    async def container_stats(self, container_id: str) -> ContainerStats | None:
        c = self._containers.get(container_id)
        if c is None or c.state != ContainerState.RUNNING or c.meter is None or c.started_at is None:
            return None
        now = self.clock.now()
        t = max((now - c.started_at).total_seconds(), 0.0)
        annotations = self._annotations.get(c.pod_uid)
        if annotations is not None and _usage_key(annotations) != c.meter.key:
            sb = self._sandboxes[c.sandbox_id]
            c.meter.switch(usage_model(sb.config.namespace, sb.config.name, c.config.name, annotations),
                           _usage_key(annotations), t)
        return ContainerStats(timestamp=now, cpu_usage_core_nanoseconds=int(c.meter.cpu(t)),
                              memory_working_set_bytes=c.meter.model.memory_at(t))

    def set_pod_annotations(self, pod_uid: str, annotations: Mapping[str, str]) -> None:
        """Simulation control: the pod's current annotations, which may carry usage figures (kept until the pod's
        sandbox is removed)."""
        self._annotations[pod_uid] = annotations

    def system_usage(self, node: str, at: datetime.datetime) -> tuple[int, int]:
        """What a simulated node's system daemons use at ``at``: (CPU nanocores, memory bytes)."""
        return node_system_usage(node, at)

    # ------------------------------------------------------------------ streaming: nothing runs, nothing to stream
    async def container_log_path(self, container_id: str) -> str:
        return ""

    async def exec_sync(self, container_id: str, cmd: Sequence[str], *, timeout: float) -> ExecResult:
        raise NotSupported("the simulated runtime cannot run commands in containers")

    async def exec(self, container_id: str, cmd: Sequence[str], streams: StreamIO, *, tty: bool) -> int:
        raise NotSupported("the simulated runtime cannot run commands in containers")

    async def attach(self, container_id: str, streams: StreamIO, *, tty: bool) -> None:
        raise NotSupported("the simulated runtime has no container processes to attach to")

    async def port_forward(self, sandbox_id: str, port: int
                           ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        raise NotSupported("the simulated runtime has no pod network to forward to")

    def counts(self) -> dict[str, int]:
        """Sizes of the in-memory tables, for metrics and leak checks in tests."""
        return {"sandboxes": len(self._sandboxes), "containers": len(self._containers),
                "ips": sum(len(p) for p in self._pools.values())}


_: Runtime = SimulatedRuntime()
