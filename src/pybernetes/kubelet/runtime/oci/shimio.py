"""Moving bytes in the shim: a container's output into its CRI log file and to whoever is attached, and the
channel framing of exec/attach sessions between the shim and the agent.

Output is read as it comes (non-blocking fds in the event loop) and always written to the log — an attached
client that reads slowly loses chunks rather than stalling the container or its log, and is told so.

Session frames (WebSocket binary messages on the shim's socket) start with one channel byte, like the
Kubernetes ``channel.k8s.io`` protocol the streaming server speaks outside: to the process 0 = stdin, 4 = resize
(``{"width": w, "height": h}``), 255 = end of stdin; from it 1 = stdout, 2 = stderr, 3 = the end
(``{"exit_code": n}`` or ``{"error": "..."}``).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from collections.abc import Callable

from pybernetes.kubelet.runtime.oci.logs import LogFile

log = logging.getLogger(__name__)
READ_SIZE = 64 * 1024
SUBSCRIBER_QUEUE = 256
STDIN, STDOUT, STDERR, STATUS, RESIZE, CLOSE_STDIN = 0, 1, 2, 3, 4, 255
STREAM_CHANNEL = {"stdout": STDOUT, "stderr": STDERR}

Chunk = tuple[str, bytes] | None        # (stream, data); None: the output ended


class Broadcast:
    """Attached listeners of one container's output."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Chunk]] = set()

    def subscribe(self) -> asyncio.Queue[Chunk]:
        q: asyncio.Queue[Chunk] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self._queues.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[Chunk]) -> None:
        self._queues.discard(q)

    def publish(self, chunk: Chunk) -> None:
        for q in list(self._queues):
            try:
                q.put_nowait(chunk)
            except asyncio.QueueFull:
                if chunk is None:       # the end must arrive: make room for it
                    q.get_nowait()
                    q.put_nowait(None)

    def __len__(self) -> int:
        return len(self._queues)


class OutputPump:
    """Reads a container's output fds (FIFOs, or a terminal's master as ``stdout``) until each ends."""

    def __init__(self, sources: dict[str, int], *, log_file: LogFile | None, broadcast: Broadcast | None = None,
                 on_data: Callable[[str, bytes], None] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        self.sources = dict(sources)
        self.log_file = log_file
        self.broadcast = broadcast
        self.on_data = on_data
        self.done = asyncio.Event()
        for stream, fd in self.sources.items():
            os.set_blocking(fd, False)
            self.loop.add_reader(fd, self._readable, stream, fd)
        if not self.sources:
            self.done.set()

    def _readable(self, stream: str, fd: int) -> None:
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno != errno.EIO:    # EIO: a terminal whose other side is gone — the end, as EOF
                log.warning("container output read failed", extra={"stream": stream, "error": str(e)})
            data = b""
        if not data:
            self._finish(stream, fd)
            return
        if self.log_file is not None:
            try:
                self.log_file.write(stream, data)
            except OSError as e:
                log.warning("container log write failed", extra={"path": str(self.log_file.path), "error": str(e)})
        if self.broadcast is not None and len(self.broadcast):
            self.broadcast.publish((stream, data))
        if self.on_data is not None:
            self.on_data(stream, data)

    def _finish(self, stream: str, fd: int) -> None:
        if self.sources.pop(stream, None) is None:
            return
        self.loop.remove_reader(fd)
        os.close(fd)
        if self.log_file is not None:
            try:
                self.log_file.close_stream(stream)
            except OSError:
                pass
        if not self.sources:
            self.done.set()

    async def drained(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self.done.wait(), timeout)
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        for stream, fd in list(self.sources.items()):
            self._finish(stream, fd)
        if self.log_file is not None:
            self.log_file.close()
        if self.broadcast is not None:
            self.broadcast.publish(None)


async def wait_fd(fd: int, *, write: bool = False) -> None:
    """Until ``fd`` is readable (or writable)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()

    def ready() -> None:
        if not fut.done():
            fut.set_result(None)

    if write:
        loop.add_writer(fd, ready)
    else:
        loop.add_reader(fd, ready)
    try:
        await fut
    finally:
        if write:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)


async def write_all(fd: int, data: bytes) -> None:
    """Write to a non-blocking fd (a pipe or a terminal), waiting while it is full."""
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
            view = view[n:]
        except BlockingIOError:
            await wait_fd(fd, write=True)


async def read_until_eof(fd: int, *, limit: int) -> bytes:
    """Everything from a non-blocking fd until EOF (at most ``limit`` bytes kept)."""
    chunks: list[bytes] = []
    size = 0
    os.set_blocking(fd, False)
    while True:
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            await wait_fd(fd)
            continue
        except OSError as e:
            if e.errno == errno.EIO:
                break
            raise
        if not data:
            break
        if size < limit:
            chunks.append(data[:limit - size])
            size += len(chunks[-1])
    return b"".join(chunks)
