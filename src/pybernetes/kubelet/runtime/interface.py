"""The one narrow seam between the kubelet and a container runtime (DESIGN.md "Runtime interface").

Shaped after the CRI (``k8s.io/cri-api`` ``RuntimeService`` + ``ImageService``) so the simulated runtime and the
OCI runtime of issue 4 are interchangeable: the kubelet decides *what* should run (pod workers, restart policy,
back-off, status), the runtime only does it and reports facts. Calls are async and may block as long as the
operation takes (``stop_container`` waits up to its timeout, as CRI ``StopContainer`` does).

Runtime-local ids (sandbox and container) are opaque strings without a scheme; the kubelet reports containers as
``<runtime_name>://<id>`` (``sim://…``, ``crun://…``). State changes that happen on their own (a container exits)
are pushed to the handler given to :meth:`Runtime.subscribe` — the PLEG of upstream — so pod workers stay
level-triggered without polling.
"""

from __future__ import annotations

import asyncio
import datetime
import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

Obj = dict[str, Any]


class RuntimeFailure(Exception):
    """An operation failed; ``reason`` is the Kubernetes waiting reason it maps to (``CreateContainerError``,
    ``ErrImagePull``, ``RunContainerError``, ...)."""

    reason = "RunContainerError"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason:
            self.reason = reason


class ImagePullFailure(RuntimeFailure):
    reason = "ErrImagePull"


class SandboxFailure(RuntimeFailure):
    reason = "FailedCreatePodSandBox"


class NotSupported(RuntimeFailure):
    """The runtime cannot do this at all (the simulated runtime has no processes to exec into)."""

    reason = "NotSupported"


class ContainerState(enum.StrEnum):
    CREATED = "CREATED"
    RUNNING = "RUNNING"
    EXITED = "EXITED"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class PodSandboxConfig:
    """What a runtime needs to set up a pod's sandbox (network namespace, pause process, IP)."""

    name: str
    namespace: str
    uid: str
    node_name: str
    attempt: int = 0
    hostname: str = ""
    pod_cidr: str = ""                 # the node's podCIDR the IP is taken from (CNI host-local's range)
    ip_hint: str = ""                  # keep this IP if it is free (a restarted agent re-creating a sandbox)
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    pod: Obj = field(default_factory=dict, compare=False, repr=False)   # the API object, read-only


@dataclass(frozen=True, slots=True)
class SandboxStatus:
    id: str
    pod_uid: str
    ready: bool
    ips: tuple[str, ...]
    created_at: datetime.datetime


@dataclass(frozen=True, slots=True)
class Mount:
    """A host path bind-mounted into a container (CRI ``Mount``): volumes, subPaths, ``/etc/hosts`` overrides.
    ``propagation`` is the Kubernetes name: ``None`` (private), ``HostToContainer`` (rslave) or ``Bidirectional``
    (rshared)."""

    container_path: str
    host_path: str
    read_only: bool = False
    propagation: str = "None"


@dataclass(frozen=True, slots=True)
class ContainerConfig:
    """One container to create. ``spec`` is the API container (read-only) for what the narrow fields do not
    carry (mounts, securityContext, resources); ``init`` marks init containers (run to completion in order)."""

    name: str
    image: str                         # the image reference as pulled (``ImageRef.name``)
    attempt: int = 0                   # restart count this container will report
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    working_dir: str = ""
    init: bool = False
    mounts: tuple[Mount, ...] = ()     # volume mounts, made by the kubelet (the runtime adds /proc, /dev, ...)
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    spec: Obj = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ContainerStatus:
    id: str
    name: str
    attempt: int
    state: ContainerState
    image: str                         # normalised name: docker.io/library/nginx:1.19.1
    image_ref: str                     # the imageID: docker.io/library/nginx@sha256:…
    created_at: datetime.datetime
    started_at: datetime.datetime | None = None
    finished_at: datetime.datetime | None = None
    exit_code: int | None = None
    reason: str = ""                   # for EXITED: Completed | Error | OOMKilled
    message: str = ""


@dataclass(frozen=True, slots=True)
class ContainerStats:
    """One usage sample of a running container, as cgroups report it (``cpuacct.usage``; memory usage minus
    ``inactive_file``). CPU is cumulative, so a rate needs two samples: the kubelet divides the difference."""

    timestamp: datetime.datetime
    cpu_usage_core_nanoseconds: int     # cumulative CPU time since the container started
    memory_working_set_bytes: int


@dataclass(frozen=True, slots=True)
class ImageRef:
    name: str                          # normalised tag reference (docker.io/library/nginx:latest)
    id: str                            # repo digest reference (docker.io/library/nginx@sha256:…)
    size: int = 0


@dataclass(frozen=True, slots=True)
class ExecResult:
    exit_code: int
    stdout: bytes = b""
    stderr: bytes = b""


class StreamIO(Protocol):
    """The client end of an exec/attach session (issue 4's streaming server provides it)."""

    async def read_stdin(self) -> bytes | None: ...
    async def write_stdout(self, data: bytes) -> None: ...
    async def write_stderr(self, data: bytes) -> None: ...
    def resizes(self) -> Any: ...      # async iterator of (width, height)


PodEventHandler = Callable[[str], None]
"""Called with a pod UID when something about its containers changed without the kubelet asking."""


class Runtime(Protocol):
    runtime_name: str                  # the scheme of containerIDs: "sim", "crun", "runc"
    runtime_version: str

    def subscribe(self, handler: PodEventHandler) -> None: ...

    # ---- sandboxes
    async def run_pod_sandbox(self, config: PodSandboxConfig) -> SandboxStatus: ...
    async def stop_pod_sandbox(self, sandbox_id: str) -> None: ...
    async def remove_pod_sandbox(self, sandbox_id: str) -> None: ...
    async def pod_sandbox_status(self, sandbox_id: str) -> SandboxStatus | None: ...
    async def list_pod_sandboxes(self) -> list[SandboxStatus]: ...

    # ---- images
    async def pull_image(self, image: str, *, sandbox: PodSandboxConfig, auth: Any = None) -> ImageRef: ...
    # auth: the pod's pull-secret keyring (images.config.Keyring), a CRI-style mapping, or None
    async def image_status(self, image: str, *, node: str = "") -> ImageRef | None: ...
    async def list_images(self, *, node: str = "") -> list[ImageRef]: ...

    # ---- containers
    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str: ...
    async def start_container(self, container_id: str) -> None: ...
    async def stop_container(self, container_id: str, timeout: float) -> None: ...
    async def remove_container(self, container_id: str) -> None: ...
    async def container_status(self, container_id: str) -> ContainerStatus | None: ...
    async def list_containers(self, sandbox_id: str) -> list[ContainerStatus]: ...
    async def container_stats(self, container_id: str) -> ContainerStats | None: ...   # None: not running

    # ---- streaming and logs (issue 4; the simulated runtime raises NotSupported or returns nothing)
    async def container_log_path(self, container_id: str) -> str: ...
    async def exec_sync(self, container_id: str, cmd: Sequence[str], *, timeout: float) -> ExecResult: ...
    async def exec(self, container_id: str, cmd: Sequence[str], streams: StreamIO, *, tty: bool) -> int: ...
    async def attach(self, container_id: str, streams: StreamIO, *, tty: bool) -> None: ...
    async def port_forward(self, sandbox_id: str, port: int
                           ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]: ...
