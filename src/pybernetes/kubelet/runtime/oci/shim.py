"""The node's runtime daemon — the *shim* — a small containerd beside the agent:

    python -m pybernetes shim --root <data-dir>/runtime --socket <data-dir>/runtime/shim.sock [--runtime runc]

It is started by the agent when its socket does not answer, in its own session, and outlives agent restarts:
containers are its children (it is a child subreaper), so it alone can ``waitpid`` them for their exit status,
and it holds their stdio — reading output into CRI log files and feeding stdin — so nothing is lost while the
agent is away. A restarted agent asks it what runs and adopts that (``list_pod_sandboxes``/``list_containers``).

It knows containers, not pods: the agent sends each container's finished ``config.json``, its root (image layers
for an overlay, or a ready directory), its log path and opaque ``meta``; the shim mounts, runs the OCI runtime
(crun, or runc), records exits (code, OOM kill from the memory cgroup, time) in ``record.json`` and tells the agent
through an event stream. Its API is JSON over HTTP on a unix socket (``shimapi`` has the handlers); exec and attach
are WebSocket sessions (``shimio`` has the framing).

If the shim itself dies, containers keep running (their output FIFOs have the container as a reader, so writes
block instead of failing); a new shim re-opens the FIFOs and watches the processes with pidfds, but their exit
status is lost (reported as 255 ``Unknown``) since they are no longer its children.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import orjson

from pybernetes.kubelet.runtime.oci import records, rootfs, stats
from pybernetes.kubelet.runtime.oci.cgroups import Layout, host_layout
from pybernetes.kubelet.runtime.oci.logs import LogFile, rotated_logs
from pybernetes.kubelet.runtime.oci.ocicli import OCIRuntimeCLI
from pybernetes.kubelet.runtime.oci.procs import (
    ConsoleSocket,
    Reaper,
    alive,
    exit_code,
    make_fifo,
    open_fifo_for_child,
    open_fifo_reader,
    process_start_time,
    wait_pidfd,
)
from pybernetes.kubelet.runtime.oci.records import CREATED, EXITED, RUNNING, Record
from pybernetes.kubelet.runtime.oci.shimio import Broadcast, OutputPump

log = logging.getLogger(__name__)
DRAIN_TIMEOUT = 1.0                     # after an exit, how long output may still arrive before the exit is final
KILL_WAIT = 10.0
UNKNOWN_EXIT = 255


class ShimError(Exception):
    """An API error: ``status`` is the HTTP status (404 unknown container, 409 wrong state, 500 failure)."""

    def __init__(self, message: str, *, status: int = 500) -> None:
        super().__init__(message)
        self.status = status


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def signal_number(name: str) -> int:
    name = (name or "SIGTERM").upper()
    if name.isdigit():
        return int(name)
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        return int(signal.SIGTERM)


class Container:
    """A container the shim holds: its record and, while it runs, its stdio."""

    __slots__ = ("broadcast", "exited", "lock", "pty_fd", "pump", "rec", "stdin_fd", "watcher")

    def __init__(self, rec: Record) -> None:
        self.rec = rec
        self.pump: OutputPump | None = None
        self.broadcast = Broadcast()
        self.stdin_fd = -1
        self.pty_fd = -1
        self.exited = asyncio.Event()
        self.lock = asyncio.Lock()
        self.watcher: asyncio.Task[None] | None = None
        if rec.state == EXITED:
            self.exited.set()

    @property
    def dir(self) -> Path:
        return Path(self.rec.bundle)

    def close_stdin(self) -> None:
        if self.stdin_fd >= 0:
            os.close(self.stdin_fd)
            self.stdin_fd = -1


class Shim:
    def __init__(self, *, root: Path, cli: OCIRuntimeCLI, version: str, layout: Layout | None = None) -> None:
        self.root = root
        self.cli = cli
        self.version = version
        self.layout = layout or host_layout()
        self.containers_dir = root / "containers"
        self.tmp_dir = root / "tmp"
        self.reaper = Reaper()
        self.containers: dict[str, Container] = {}
        self.boot_id = boot_id()
        self._events: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.stopping = asyncio.Event()

    # ------------------------------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        for d in (self.containers_dir, self.tmp_dir, Path(self.cli.root)):
            d.mkdir(parents=True, exist_ok=True)
        for stale in self.tmp_dir.iterdir():
            with contextlib.suppress(OSError):
                stale.unlink()
        self.reaper.install()
        rebooted = False
        for rec in records.load_all(self.containers_dir):
            if rec.boot_id and rec.boot_id != self.boot_id:
                rebooted = True
            self.containers[rec.id] = c = Container(rec)
            await self._recover(c)
        if rebooted:                      # the runtime's state of the last boot names processes long gone
            await asyncio.to_thread(_empty_dir, Path(self.cli.root))
        log.info("shim started", extra={"containers": len(self.containers), "runtime": self.cli.name})

    async def _recover(self, c: Container) -> None:
        rec = c.rec
        if rec.state != RUNNING:
            return
        if rec.boot_id == self.boot_id and alive(rec.pid, rec.pid_start):
            if not rec.tty:
                sources = {s: open_fifo_reader(str(c.dir / f"{s}.fifo")) for s in ("stdout", "stderr")}
                c.pump = OutputPump(sources, log_file=self._log_file(rec), broadcast=c.broadcast)
            c.watcher = self._spawn(self._watch_adopted(c), f"adopted-{rec.id[:12]}")
            return
        self._record_exit(c, None)

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        t = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)
        return t

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for c in self.containers.values():
            if c.pump is not None:
                c.pump.close()
        for q in list(self._events):
            q.put_nowait(None)

    # ------------------------------------------------------------------------------------------ events
    def subscribe(self) -> asyncio.Queue[dict[str, Any] | None]:
        q: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._events.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[dict[str, Any] | None]) -> None:
        self._events.discard(q)

    def _publish(self, kind: str, rec: Record) -> None:
        ev = {"type": kind, "id": rec.id, "state": rec.state, "meta": rec.meta}
        for q in self._events:
            q.put_nowait(ev)

    # ------------------------------------------------------------------------------------------ queries
    def get(self, cid: str) -> Container:
        c = self.containers.get(cid)
        if c is None:
            raise ShimError(f"container {cid} not found", status=404)
        return c

    def list(self) -> list[dict[str, Any]]:
        return [c.rec.to_json() for c in self.containers.values()]

    # ------------------------------------------------------------------------------------------ create
    async def create(self, body: dict[str, Any]) -> Record:
        cid = str(body.get("id") or "")
        if not cid or not cid.isalnum() or len(cid) > 128:
            raise ShimError(f"invalid container id {cid!r}", status=400)
        if cid in self.containers:
            raise ShimError(f"container {cid} already exists", status=409)
        config = body.get("config")
        if not isinstance(config, dict):
            raise ShimError("config (the OCI runtime spec) is required", status=400)
        d = self.containers_dir / cid
        d.mkdir(parents=True, exist_ok=True)
        spec_rootfs = body.get("rootfs") or {}
        rec = Record(id=cid, bundle=str(d), log_path=str(body.get("log_path") or ""),
                     cgroup=str((config.get("linux") or {}).get("cgroupsPath") or ""), meta=body.get("meta") or {},
                     rootfs=spec_rootfs, stop_signal=str(body.get("stop_signal") or "SIGTERM"),
                     tty=bool((config.get("process") or {}).get("terminal")), stdin=bool(body.get("stdin")),
                     stdin_once=bool(body.get("stdin_once")), boot_id=self.boot_id, created_at=time.time_ns())
        try:
            if spec_rootfs.get("lowerdirs"):
                await asyncio.to_thread(self._mount_rootfs, rec)
                config.setdefault("root", {})["path"] = str(d / "rootfs")
            elif spec_rootfs.get("path"):
                config.setdefault("root", {})["path"] = str(spec_rootfs["path"])
            (d / "config.json").write_bytes(orjson.dumps(config))
            if not rec.tty:
                for s in ("stdout", "stderr"):
                    make_fifo(str(d / f"{s}.fifo"))
            records.save(rec)
        except (OSError, ValueError) as e:
            await asyncio.to_thread(self._cleanup_dir, rec)
            raise ShimError(f"failed to create container {cid}: {e}") from None
        self.containers[cid] = Container(rec)
        return rec

    def _mount_rootfs(self, rec: Record) -> None:
        d = Path(rec.bundle)
        target = d / "rootfs"
        if not rootfs.is_mount_point(target):
            rootfs.mount_overlay([str(p) for p in rec.rootfs["lowerdirs"]], upper=d / "upper", work=d / "work",
                                 target=target)

    def _cleanup_dir(self, rec: Record) -> None:
        d = Path(rec.bundle)
        if rec.rootfs.get("lowerdirs"):
            rootfs.unmount(d / "rootfs")
        if rootfs.is_mount_point(d / "rootfs"):
            raise OSError(16, f"{d / 'rootfs'} is still mounted")
        shutil.rmtree(d, ignore_errors=True)

    def _log_file(self, rec: Record) -> LogFile | None:
        if not rec.log_path:
            return None
        return LogFile(rec.log_path, background=self._in_thread)

    def _in_thread(self, job: Any) -> None:
        """Slow file work (compressing a rotated log) off the event loop."""
        self._spawn(asyncio.to_thread(job), "log-compress")

    # ------------------------------------------------------------------------------------------ start
    async def start_container(self, cid: str) -> Record:
        c = self.get(cid)
        async with c.lock:
            rec = c.rec
            if rec.state != CREATED:
                raise ShimError(f"container {cid} is {rec.state}, not created", status=409)
            if rec.rootfs.get("lowerdirs"):
                await asyncio.to_thread(self._mount_rootfs, rec)
            await self._run(c)
            return rec

    async def _run(self, c: Container) -> None:
        rec, d = c.rec, c.dir
        child_fds: list[int] = []
        console: ConsoleSocket | None = None
        sources: dict[str, int] = {}
        stdin_r = -1
        try:
            if rec.tty:
                console = ConsoleSocket(str(self.tmp_dir))
            else:
                for s in ("stdout", "stderr"):
                    sources[s] = open_fifo_reader(str(d / f"{s}.fifo"))
                    child_fds.append(open_fifo_for_child(str(d / f"{s}.fifo")))
            if rec.stdin and not rec.tty:      # a terminal's input goes through its master instead
                stdin_r, c.stdin_fd = os.pipe2(os.O_CLOEXEC)
                os.set_blocking(c.stdin_fd, False)
                child_fds.append(stdin_r)
            argv = self.cli.run(rec.id, bundle=str(d), pid_file=str(d / "pid"), log=str(d / "runtime.log"),
                                console_socket=console.path if console else "")
            pid = self.reaper.spawn(argv, stdin=stdin_r, stdout=child_fds[0] if sources else -1,
                                    stderr=child_fds[1] if sources else -1)
            receiving = asyncio.ensure_future(console.receive()) if console else None
            code = exit_code(await self.reaper.wait(pid))
            if receiving is not None:
                if code == 0:
                    c.pty_fd = await receiving
                    os.set_blocking(c.pty_fd, False)
                    sources["stdout"] = os.dup(c.pty_fd)
                else:
                    receiving.cancel()
                    await asyncio.gather(receiving, return_exceptions=True)
            if code != 0:
                msg = runtime_error(d / "runtime.log") or f"{self.cli.name} run exited with {code}"
                self._start_failed(c, msg)
                raise ShimError(msg)
            rec.pid = int((d / "pid").read_text().strip())
            rec.pid_start = process_start_time(rec.pid)
        except (OSError, ValueError, TimeoutError) as e:
            for fd in sources.values():
                os.close(fd)
            if rec.state == CREATED:
                self._start_failed(c, f"failed to start container: {e}")
            raise ShimError(f"failed to start container {rec.id}: {e}") from None
        except ShimError:
            for fd in sources.values():
                os.close(fd)
            raise
        finally:
            for fd in child_fds:
                os.close(fd)
            if console is not None:
                console.close()
        rec.state, rec.started_at = RUNNING, time.time_ns()
        records.save(rec)
        c.pump = OutputPump(sources, log_file=self._log_file(rec), broadcast=c.broadcast)
        c.watcher = self._spawn(self._watch(c, self.reaper.wait(rec.pid)), f"watch-{rec.id[:12]}")

    def _start_failed(self, c: Container, message: str) -> None:
        """As containerd reports a container whose task never started: exited, 128, ``StartError``."""
        self._finish_unstarted(c, code=128, reason="StartError", message=message)

    def _finish_unstarted(self, c: Container, *, code: int, reason: str, message: str) -> None:
        rec = c.rec
        rec.state, rec.exit_code, rec.reason, rec.message = EXITED, code, reason, message
        rec.started_at = rec.finished_at = time.time_ns()
        c.close_stdin()
        records.save(rec)
        c.exited.set()
        self._publish("exit", rec)

    # ------------------------------------------------------------------------------------------ exits
    async def _watch(self, c: Container, status: asyncio.Future[int]) -> None:
        code = exit_code(await status)
        if c.pump is not None:
            await c.pump.drained(DRAIN_TIMEOUT)
        self._record_exit(c, code)

    async def _watch_adopted(self, c: Container) -> None:
        await wait_pidfd(c.rec.pid, c.rec.pid_start)
        if c.pump is not None:
            await c.pump.drained(DRAIN_TIMEOUT)
        self._record_exit(c, None)

    def _record_exit(self, c: Container, code: int | None) -> None:
        rec = c.rec
        if rec.state == EXITED:
            return
        oom = bool(rec.cgroup) and stats.oom_kills(self.layout, rec.cgroup) > 0
        if code is None:
            code = 137 if oom else UNKNOWN_EXIT
            if not oom:
                rec.reason = "Unknown"
                rec.message = "exit status lost: the runtime shim was restarted while the container ran"
        rec.state, rec.exit_code, rec.finished_at = EXITED, code, time.time_ns()
        if oom:
            rec.reason = "OOMKilled"
        if c.pump is not None:
            c.pump.close()
            c.pump = None
        if c.pty_fd >= 0:
            os.close(c.pty_fd)
            c.pty_fd = -1
        c.close_stdin()
        records.save(rec)
        c.exited.set()
        log.info("container exited", extra={"id": rec.id, "exit_code": code, "reason": rec.reason})
        self._publish("exit", rec)

    # ------------------------------------------------------------------------------------------ stop, kill
    def signal(self, cid: str, sig: int) -> None:
        c = self.get(cid)
        if c.rec.state != RUNNING:
            raise ShimError(f"container {cid} is not running", status=409)
        with contextlib.suppress(ProcessLookupError):
            os.kill(c.rec.pid, sig)

    async def stop(self, cid: str, *, timeout: float, sig: str = "") -> Record:
        """The stop signal (the image's, else SIGTERM), up to ``timeout`` seconds, then SIGKILL: PID 1 in a
        container ignores SIGTERM unless it handles it (DESIGN.md)."""
        c = self.get(cid)
        if c.rec.state == CREATED:
            self._finish_unstarted(c, code=0, reason="", message="")
            return c.rec
        if c.rec.state != RUNNING:
            return c.rec
        with contextlib.suppress(ProcessLookupError):
            os.kill(c.rec.pid, signal_number(sig or c.rec.stop_signal))
        try:
            await asyncio.wait_for(c.exited.wait(), max(timeout, 0.0))
        except TimeoutError:
            await self._kill_and_wait(c)
        return c.rec

    async def _kill_and_wait(self, c: Container) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(c.rec.pid, signal.SIGKILL)
        try:
            await asyncio.wait_for(c.exited.wait(), KILL_WAIT)
        except TimeoutError:
            log.warning("container did not exit after SIGKILL", extra={"id": c.rec.id, "pid": c.rec.pid})

    # ------------------------------------------------------------------------------------------ delete
    async def delete(self, cid: str, *, remove_logs: bool = True) -> None:
        c = self.containers.get(cid)
        if c is None:
            return
        async with c.lock:
            if c.rec.state == RUNNING:
                await self._kill_and_wait(c)
            if c.rec.state == CREATED:
                self._finish_unstarted(c, code=0, reason="", message="")
            code = await self.reaper.run(self.cli.delete(cid))
            if code != 0:
                log.debug("runtime delete failed", extra={"id": cid, "code": code})
            if c.pump is not None:
                c.pump.close()
                c.pump = None
            try:
                await asyncio.to_thread(self._cleanup_dir, c.rec)
            except OSError as e:
                raise ShimError(f"failed to remove container {cid}: {e}") from None
            if remove_logs and c.rec.log_path:
                await asyncio.to_thread(remove_log_files, c.rec.log_path)
            del self.containers[cid]

    async def shutdown(self, *, kill_containers: bool) -> None:
        if kill_containers:
            await asyncio.gather(*(self.delete(cid) for cid in list(self.containers)), return_exceptions=True)
        self.stopping.set()


def runtime_error(path: Path) -> str:
    """The OCI runtime's last error from its log (crun/runc write JSON lines or plain text)."""
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    for line in reversed(lines):
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            return line.strip()
        if isinstance(doc, dict) and doc.get("level") in ("error", "fatal", None):
            return str(doc.get("msg") or line).strip()
    return lines[-1].strip() if lines else ""


def remove_log_files(path: str) -> None:
    inuse, unused = rotated_logs(Path(path))
    for p in (path, *inuse, *unused):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(p)
    with contextlib.suppress(OSError):
        os.rmdir(os.path.dirname(path))


def _empty_dir(d: Path) -> None:
    for entry in d.iterdir():
        shutil.rmtree(entry, ignore_errors=True)


def lock_root(root: Path) -> int:
    """One shim per root: an flock held for the shim's lifetime (the fd stays open)."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / "shim.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd
