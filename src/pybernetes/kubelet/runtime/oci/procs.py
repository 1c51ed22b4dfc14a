"""Processes of the shim: spawning without fork, reaping as a child subreaper, and the plumbing of stdio
(FIFOs, pipes, the pty master a runtime hands over a console socket).

The shim marks itself ``PR_SET_CHILD_SUBREAPER``: the OCI runtime's ``run --detach``/``exec --detach`` leave the
container's (or exec'd) process orphaned and the kernel re-parents it to the shim, whose SIGCHLD handler then
``waitpid(-1)``s every child — the only way to learn an exit status, since ``crun state`` has none (DESIGN.md).
Statuses of processes nobody waits for yet are kept a while: a container can exit before its runtime has even
written its pid file. Nothing else in the shim may wait for children (no ``subprocess``, no asyncio
subprocesses), or the two would steal each other's statuses.
"""

from __future__ import annotations

import array
import asyncio
import ctypes
import ctypes.util
import errno
import fcntl
import logging
import os
import signal
import socket
import struct
import termios
import time
from collections.abc import Mapping, Sequence

log = logging.getLogger(__name__)
PR_SET_CHILD_SUBREAPER = 36
UNCLAIMED_TTL = 120.0

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def become_subreaper() -> None:
    if _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(err)}")


def exit_code(status: int) -> int:
    """A wait status as a shell reports it: the code, or 128 + the signal."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return 255


def process_start_time(pid: int) -> int:
    """Field 22 of ``/proc/<pid>/stat`` (clock ticks since boot): with the pid, it names one process for good."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return 0
    rest = data[data.rfind(b")") + 2:].split()
    try:
        return int(rest[19])
    except (IndexError, ValueError):
        return 0


def alive(pid: int, start_time: int) -> bool:
    return pid > 0 and process_start_time(pid) == start_time != 0


class Reaper:
    """Waits for the shim's children. Call :meth:`install` once, in the running loop."""

    def __init__(self) -> None:
        self._waiters: dict[int, asyncio.Future[int]] = {}
        self._unclaimed: dict[int, tuple[int, float]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def install(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.add_signal_handler(signal.SIGCHLD, self.reap)
        self.reap()                      # children that ended before the handler existed

    def spawn(self, argv: Sequence[str], *, stdin: int = -1, stdout: int = -1, stderr: int = -1,
              env: Mapping[str, str] | None = None, setsid: bool = False) -> int:
        """Start ``argv`` (posix_spawn: no fork of this process's memory) with the given fds as its stdio
        (-1: /dev/null); the pid is registered before the loop can see its SIGCHLD."""
        null = -1
        actions: list[tuple[int, int, int]] = []
        for target, fd in ((0, stdin), (1, stdout), (2, stderr)):
            if fd < 0:
                if null < 0:
                    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
                fd = null
            actions.append((os.POSIX_SPAWN_DUP2, fd, target))
        try:
            pid = os.posix_spawn(argv[0], list(argv), dict(env if env is not None else os.environ),
                                 file_actions=actions, setsid=setsid)
        finally:
            if null >= 0:
                os.close(null)
        self._future(pid)
        return pid

    def _future(self, pid: int) -> asyncio.Future[int]:
        fut = self._waiters.get(pid)
        if fut is None:
            assert self._loop is not None, "Reaper.install() first"
            fut = self._waiters[pid] = self._loop.create_future()
            got = self._unclaimed.pop(pid, None)
            if got is not None:
                fut.set_result(got[0])
                self._waiters.pop(pid, None)
        return fut

    def wait(self, pid: int) -> asyncio.Future[int]:
        """The raw wait status of child ``pid`` (also if it already ended unclaimed)."""
        return asyncio.shield(self._future(pid))

    def reap(self) -> None:
        now = time.monotonic()
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            if pid == 0:
                break
            fut = self._waiters.pop(pid, None)
            if fut is not None:
                if not fut.done():
                    fut.set_result(status)
            else:
                self._unclaimed[pid] = (status, now)
        for pid in [p for p, (_, t) in self._unclaimed.items() if now - t > UNCLAIMED_TTL]:
            del self._unclaimed[pid]

    async def run(self, argv: Sequence[str], *, stdin: int = -1, stdout: int = -1, stderr: int = -1) -> int:
        """Spawn and wait; the exit code."""
        pid = self.spawn(argv, stdin=stdin, stdout=stdout, stderr=stderr)
        return exit_code(await self.wait(pid))


async def wait_pidfd(pid: int, start_time: int) -> None:
    """Wait for a process that is not our child (adopted after a shim restart) to end: a pidfd becomes readable
    when it exits."""
    if not alive(pid, start_time):
        return
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def ready() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(fd, ready)
    try:
        if alive(pid, start_time):
            await done
    finally:
        loop.remove_reader(fd)
        os.close(fd)


# ------------------------------------------------------------------------------------------- stdio

def make_fifo(path: str) -> None:
    try:
        os.mkfifo(path, 0o600)
    except FileExistsError:
        pass


def open_fifo_reader(path: str) -> int:
    return os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)


def open_fifo_for_child(path: str) -> int:
    """The container's end of an output FIFO: read-write, so the FIFO always has a reader (the container
    itself) and output blocks instead of failing with EPIPE while the shim restarts."""
    return os.open(path, os.O_RDWR | os.O_CLOEXEC)


def set_nonblocking(fd: int) -> None:
    os.set_blocking(fd, False)


def set_winsize(fd: int, width: int, height: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", max(height, 0), max(width, 0), 0, 0))


class ConsoleSocket:
    """The unix socket an OCI runtime sends a terminal's master fd to (``--console-socket``)."""

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, f"c{os.urandom(6).hex()}.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.sock.setblocking(False)

    async def receive(self, timeout: float = 30.0) -> int:
        loop = asyncio.get_running_loop()
        conn, _ = await asyncio.wait_for(loop.sock_accept(self.sock), timeout)
        try:
            fut: asyncio.Future[int] = loop.create_future()

            def readable() -> None:
                try:
                    _msg, anc, _flags, _addr = conn.recvmsg(1024, socket.CMSG_SPACE(4 * 4))
                except BlockingIOError:
                    return
                except OSError as e:
                    if not fut.done():
                        fut.set_exception(e)
                    return
                fds = array.array("i")
                for level, kind, data in anc:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
                if not fut.done():
                    if fds:
                        for extra in fds[1:]:
                            os.close(extra)
                        fut.set_result(fds[0])
                    else:
                        fut.set_exception(OSError(errno.EPROTO, "no terminal fd on the console socket"))

            conn.setblocking(False)
            loop.add_reader(conn.fileno(), readable)
            try:
                return await asyncio.wait_for(fut, timeout)
            finally:
                loop.remove_reader(conn.fileno())
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
