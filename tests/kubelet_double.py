"""A test double of the container runtime for the streaming transport: "containers" are host processes.

This is not a runtime (there is no isolation, no image): it exists so the kubelet server's protocols — websocket,
SPDY, the port-forward tunnel, CRI log reading — can be driven by real clients before and besides real
containers. ``exec`` runs the command on the host in the container's directory (with a pty for ``tty``),
``attach`` joins the container's main process (a host process whose output is also written as a CRI log), and
``port_forward`` connects to a loopback port the test maps the pod port to. The e2e tests drive the same paths
with real containers.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import fcntl
import os
import pathlib
import pty
import struct
import termios
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pybernetes.kubelet.runtime.interface import ContainerState, ContainerStatus, RuntimeFailure
from pybernetes.kubelet.server import PodEntry
from pybernetes.streaming.crilog import format_time

Obj = dict[str, Any]


def cri_line(stream: str, content: bytes, *, partial: bool = False, time_ns: int | None = None) -> bytes:
    """One CRI log line (content without its newline)."""
    ts = format_time(time_ns if time_ns is not None else time.time_ns())
    return b"%s %s %s %s\n" % (ts.encode(), stream.encode(), b"P" if partial else b"F", content)


@dataclass
class FakeContainer:
    id: str
    name: str
    sandbox_id: str
    workdir: pathlib.Path
    log_path: pathlib.Path
    attempt: int = 0
    state: ContainerState = ContainerState.RUNNING
    main: asyncio.subprocess.Process | None = None
    attached: list[Any] = field(default_factory=list)
    pump: asyncio.Task[None] | None = None


class HostRuntime:
    """The :class:`~pybernetes.kubelet.server.StreamingRuntime` double."""

    runtime_name = "fake"
    runtime_version = "0.0.0"

    def __init__(self, root: pathlib.Path) -> None:
        self.root = root
        self.containers: dict[str, FakeContainer] = {}
        self.port_map: dict[int, int] = {}        # pod port → a loopback port
        self.execs: list[tuple[str, list[str], bool]] = []

    # ---- test set-up
    def add_container(self, cid: str, name: str, sandbox_id: str, *, attempt: int = 0,
                      state: ContainerState = ContainerState.RUNNING) -> FakeContainer:
        workdir = self.root / "containers" / cid
        workdir.mkdir(parents=True, exist_ok=True)
        log_path = self.root / "logs" / sandbox_id / name / f"{attempt}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.touch()
        c = self.containers[cid] = FakeContainer(cid, name, sandbox_id, workdir, log_path, attempt, state)
        return c

    def log(self, cid: str, stream: str, content: bytes, **kw: Any) -> None:
        with open(self.containers[cid].log_path, "ab") as f:
            f.write(cri_line(stream, content, **kw))

    async def start_main(self, cid: str, script: str) -> None:
        """Run the container's main process: a shell script whose output becomes the CRI log and goes to every
        attached session."""
        c = self.containers[cid]
        c.main = await asyncio.create_subprocess_exec("/bin/sh", "-c", script, cwd=c.workdir,
                                                      stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                                      stderr=asyncio.subprocess.STDOUT)
        c.pump = asyncio.ensure_future(self._pump(c))

    async def _pump(self, c: FakeContainer) -> None:
        assert c.main is not None and c.main.stdout is not None
        while line := await c.main.stdout.readline():
            self.log(c.id, "stdout", line.rstrip(b"\n"), partial=not line.endswith(b"\n"))
            for io in list(c.attached):
                with contextlib.suppress(Exception):
                    await io.write_stdout(line)
        await c.main.wait()
        c.state = ContainerState.EXITED

    async def stop(self) -> None:
        for c in self.containers.values():
            if c.main is not None and c.main.returncode is None:
                c.main.kill()
                await c.main.wait()
            if c.pump is not None:
                c.pump.cancel()

    # ---- the runtime surface the kubelet server uses
    async def list_containers(self, sandbox_id: str) -> list[ContainerStatus]:
        now = datetime.datetime.now(datetime.UTC)
        return [ContainerStatus(c.id, c.name, c.attempt, c.state, "img", "img@sha256:0", now)
                for c in self.containers.values() if c.sandbox_id == sandbox_id]

    async def container_status(self, container_id: str) -> ContainerStatus | None:
        c = self.containers.get(container_id)
        if c is None:
            return None
        return ContainerStatus(c.id, c.name, c.attempt, c.state, "img", "img@sha256:0",
                               datetime.datetime.now(datetime.UTC))

    async def container_log_path(self, container_id: str) -> str:
        c = self.containers.get(container_id)
        return str(c.log_path) if c else ""

    async def exec(self, container_id: str, cmd: Sequence[str], streams: Any, *, tty: bool) -> int:
        c = self.containers[container_id]
        self.execs.append((container_id, list(cmd), tty))
        try:
            if tty:
                return await _run_pty(list(cmd), c.workdir, streams)
            return await _run_pipes(list(cmd), c.workdir, streams)
        except FileNotFoundError as e:
            raise RuntimeFailure(f'exec: "{cmd[0]}": executable file not found in $PATH: {e}') from None

    async def attach(self, container_id: str, streams: Any, *, tty: bool) -> None:
        c = self.containers[container_id]
        if c.main is None or c.main.stdin is None:
            raise RuntimeFailure("container has no main process")
        c.attached.append(streams)
        try:
            while (data := await streams.read_stdin()) is not None:
                c.main.stdin.write(data)
                await c.main.stdin.drain()
            await c.main.wait()
        finally:
            c.attached.remove(streams)

    async def port_forward(self, sandbox_id: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        target = self.port_map.get(port)
        if target is None:
            raise RuntimeFailure(f"failed to connect to localhost:{port} inside namespace of {sandbox_id}: "
                                 "connect: connection refused")
        return await asyncio.open_connection("127.0.0.1", target)


async def _run_pipes(cmd: list[str], cwd: pathlib.Path, streams: Any) -> int:
    proc = await asyncio.create_subprocess_exec(*cmd, cwd=cwd, stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None

    async def feed() -> None:
        assert proc.stdin is not None
        with contextlib.suppress(ConnectionError, BrokenPipeError):
            while (data := await streams.read_stdin()) is not None:
                proc.stdin.write(data)
                await proc.stdin.drain()
        proc.stdin.close()

    async def copy(src: asyncio.StreamReader, write: Any) -> None:
        while data := await src.read(65536):
            await write(data)

    feeder = asyncio.ensure_future(feed())
    try:
        await asyncio.gather(copy(proc.stdout, streams.write_stdout), copy(proc.stderr, streams.write_stderr))
        return await proc.wait()
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        raise
    finally:
        feeder.cancel()


def _controlling_tty() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)      # after setsid: the pty becomes the shell's terminal


async def _run_pty(cmd: list[str], cwd: pathlib.Path, streams: Any) -> int:
    master, slave = pty.openpty()
    proc = await asyncio.create_subprocess_exec(*cmd, cwd=cwd, stdin=slave, stdout=slave, stderr=slave,
                                                start_new_session=True, preexec_fn=_controlling_tty,
                                                env={**os.environ, "TERM": "xterm"})
    os.close(slave)
    loop = asyncio.get_running_loop()
    out: asyncio.Queue[bytes] = asyncio.Queue()

    def readable() -> None:
        try:
            data = os.read(master, 65536)
        except OSError:
            data = b""
        out.put_nowait(data)
        if not data:
            loop.remove_reader(master)

    loop.add_reader(master, readable)

    async def feed() -> None:
        while (data := await streams.read_stdin()) is not None:
            os.write(master, data)

    async def sizes() -> None:
        async for w, h in streams.resizes():
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", h, w, 0, 0))

    tasks = [asyncio.ensure_future(feed()), asyncio.ensure_future(sizes())]
    try:
        while data := await out.get():
            await streams.write_stdout(data)
        return await proc.wait()
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        raise
    finally:
        loop.remove_reader(master)
        os.close(master)
        for t in tasks:
            t.cancel()


class PodTable:
    """The :class:`~pybernetes.kubelet.server.PodIndex` double: pods the test declares."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], PodEntry] = {}

    def put(self, pod: Obj, status: Obj, sandbox_id: str) -> None:
        meta = pod["metadata"]
        self.entries[(meta["namespace"], meta["name"])] = PodEntry(pod, status, sandbox_id)

    def find(self, namespace: str, name: str) -> PodEntry | None:
        return self.entries.get((namespace, name))


def running_status(pod: Obj, container_ids: dict[str, str], *, runtime: str = "fake",
                   last: dict[str, str] | None = None) -> Obj:
    """A Running pod status whose containers run with the given ids (and, optionally, a previous terminated
    instance each)."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    statuses = []
    for c in pod["spec"]["containers"]:
        cid = container_ids.get(c["name"], "")
        cs: Obj = {"name": c["name"], "ready": True, "restartCount": 1 if last and c["name"] in last else 0,
                   "image": c.get("image", "img"), "imageID": "img@sha256:0", "started": True,
                   "containerID": f"{runtime}://{cid}", "state": {"running": {"startedAt": now}}, "lastState": {}}
        if last and c["name"] in last:
            cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": now,
                                              "finishedAt": now, "containerID": f"{runtime}://{last[c['name']]}"}}
        statuses.append(cs)
    return {"phase": "Running", "hostIP": "127.0.0.1", "podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}],
            "startTime": now, "qosClass": "BestEffort", "containerStatuses": statuses,
            "conditions": [{"type": t, "status": "True", "lastTransitionTime": now}
                           for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                                     "PodScheduled")]}
