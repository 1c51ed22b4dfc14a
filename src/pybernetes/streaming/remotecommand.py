"""Exec and attach sessions, server side, over a websocket or a SPDY session (upstream ``remotecommand`` server).

Both transports end up as one :class:`SessionIO` (the runtime's ``StreamIO``) handed to a runner — the runtime's
``exec`` or ``attach`` — whose returned ``metav1.Status`` is written to the error channel/stream at the end, as
JSON from v4 on. The endings are what clients wait for:

- websocket: the status on channel 3, then a close frame with code 1000 (kubectl treats any other close as an
  error); v5 clients end stdin with ``[255, 0]``, older ones only by closing;
- SPDY: the streams are the client's (``streamType`` error, stdin, stdout, stderr, resize; upstream waits for all
  it expects before starting); stdin ends with the client's FIN; we write the status, FIN every stream we write,
  send GOAWAY and let the client close the connection.

If the client goes away before the command ends, the runner is cancelled (the runtime kills what it started).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from pybernetes.streaming import channels as ch
from pybernetes.streaming.spdysession import SpdySession, SpdyStream

log = logging.getLogger(__name__)
STREAM_CREATION_TIMEOUT = 30.0          # upstream DefaultStreamCreationTimeout
CLOSE_WAIT = 30.0                       # how long the client may take to close after the status
STDIN_QUEUE = 64                        # websocket messages buffered for a process not reading its stdin


class OptionsError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class StreamOptions:
    stdin: bool = False
    stdout: bool = False
    stderr: bool = False
    tty: bool = False


def _flag(query: Mapping[str, str], *names: str) -> bool:
    return any(query.get(n, "").lower() in ("1", "true") for n in names)


def stream_options(query: Mapping[str, str]) -> StreamOptions:
    """The kubelet's stream flags: ``input``/``output``/``error``/``tty`` = 1 as the API server sends them (the
    pod-API names ``stdin``/``stdout``/``stderr`` = true are accepted too). A TTY has no separate stderr."""
    tty = _flag(query, "tty")
    stdin = _flag(query, "input", "stdin")
    stdout = _flag(query, "output", "stdout")
    stderr = _flag(query, "error", "stderr") and not tty
    if not (stdin or stdout or stderr):
        raise OptionsError("you must specify at least 1 of stdin, stdout, stderr")
    return StreamOptions(stdin=stdin, stdout=stdout, stderr=stderr, tty=tty)


Writer = Callable[[bytes], Awaitable[None]]


class SessionIO:
    """The runtime's ``StreamIO`` for one session: stdin until the client ends it (None), output to the client
    (dropped if the client did not ask for that stream), terminal sizes as they come."""

    def __init__(self, *, stdin: Callable[[], Awaitable[bytes | None]] | None, stdout: Writer | None,
                 stderr: Writer | None, tty: bool) -> None:
        self._stdin = stdin
        self._stdout = stdout
        self._stderr = stderr
        self.tty = tty
        self.resize_queue: asyncio.Queue[tuple[int, int] | None] = asyncio.Queue()
        self.has_stdin = stdin is not None
        self.has_stdout = stdout is not None
        self.has_stderr = stderr is not None

    async def read_stdin(self) -> bytes | None:
        if self._stdin is None:
            return None
        data = await self._stdin()
        return data or None

    async def write_stdout(self, data: bytes) -> None:
        if self._stdout is not None and data:
            with contextlib.suppress(ConnectionError, OSError):    # the client left: the session ends anyway
                await self._stdout(data)

    async def write_stderr(self, data: bytes) -> None:
        if self._stderr is not None and data:
            with contextlib.suppress(ConnectionError, OSError):
                await self._stderr(data)
        elif self.tty and data:
            await self.write_stdout(data)

    async def resizes(self) -> AsyncIterator[tuple[int, int]]:
        while (size := await self.resize_queue.get()) is not None:
            yield size


Runner = Callable[[SessionIO], Awaitable[dict[str, Any]]]
"""Runs the command (or attaches) with the session's streams; returns the final ``metav1.Status``."""


async def _run_until_gone(run: Runner, io: SessionIO, gone: Awaitable[Any]) -> dict[str, Any] | None:
    """The runner's status, or None if the client went away first (the runner is then cancelled)."""
    task = asyncio.ensure_future(run(io))
    waiter = asyncio.ensure_future(gone)
    try:
        await asyncio.wait((task, waiter), return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        return None
    finally:
        waiter.cancel()
        if not task.done():
            task.cancel()


# ------------------------------------------------------------------ websocket
async def serve_websocket(ws: web.WebSocketResponse, protocol: ch.WsProtocol, opts: StreamOptions,
                          run: Runner) -> None:
    """Run one exec/attach session on a prepared websocket, then close it with 1000."""
    stdin_q: asyncio.Queue[bytes | None] = asyncio.Queue(STDIN_QUEUE)
    lock = asyncio.Lock()

    async def send(channel: int, data: bytes) -> None:
        msg = ch.encode_message(protocol, channel, data)
        async with lock:
            if isinstance(msg, bytes):
                await ws.send_bytes(msg)
            else:
                await ws.send_str(msg)

    async def stdin() -> bytes | None:
        return await stdin_q.get()

    io = SessionIO(stdin=stdin if opts.stdin else None,
                   stdout=(lambda d: send(ch.STDOUT, d)) if opts.stdout else None,
                   stderr=(lambda d: send(ch.STDERR, d)) if opts.stderr else None, tty=opts.tty)
    resize = ch.ResizeDecoder()

    async def read_client() -> None:
        try:
            async for msg in ws:
                if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                    continue
                decoded = ch.decode_message(protocol, msg.data)
                if decoded is None:
                    continue
                channel, data = decoded
                if channel == ch.STDIN and opts.stdin and data:
                    await stdin_q.put(data)
                elif channel == ch.RESIZE:
                    for size in resize.feed(data):
                        io.resize_queue.put_nowait(size)
                elif channel == ch.CLOSE and protocol.version >= 5 and data[:1] == bytes((ch.STDIN,)):
                    await stdin_q.put(None)
        finally:
            with contextlib.suppress(asyncio.QueueFull):
                stdin_q.put_nowait(None)
            io.resize_queue.put_nowait(None)

    reader = asyncio.ensure_future(read_client())
    try:
        # As upstream: an empty message on the lowest channel we write tells the client the session is up.
        first = ch.STDOUT if opts.stdout else ch.STDERR if opts.stderr else ch.ERROR
        await send(first, b"")
        status = await _run_until_gone(run, io, asyncio.shield(reader))
        if status is None:
            return
        data = ch.status_bytes(status, as_json=protocol.json_status)
        if data:
            await send(ch.ERROR, data)
    except (ConnectionError, OSError):
        return
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
        io.resize_queue.put_nowait(None)
    with contextlib.suppress(ConnectionError, OSError, asyncio.TimeoutError):
        await ws.close(code=1000)


# ------------------------------------------------------------------ SPDY
def expected_stream_types(opts: StreamOptions, version: str) -> set[str]:
    types = {"error"}
    if opts.stdin:
        types.add("stdin")
    if opts.stdout:
        types.add("stdout")
    if opts.stderr:
        types.add("stderr")
    if opts.tty and version in (ch.V3, ch.V4, ch.V5):
        types.add("resize")
    return types


async def collect_streams(session: SpdySession, expected: set[str], *,
                          timeout: float = STREAM_CREATION_TIMEOUT) -> dict[str, SpdyStream] | None:
    """The client's streams by type, once every expected one arrived (None on timeout or disconnect)."""
    got: dict[str, SpdyStream] = {}

    async def gather() -> bool:
        while not expected <= got.keys():
            s = await session.accept()
            if s is None:
                return False
            kind = s.header(ch.STREAM_TYPE)
            if kind in ("error", "stdin", "stdout", "stderr", "resize"):
                got[kind] = s
            else:
                log.info("unexpected exec stream type", extra={"stream_type": kind})
        return True

    try:
        ok = await asyncio.wait_for(gather(), timeout)
    except TimeoutError:
        log.info("timed out waiting for client to create streams", extra={"have": sorted(got)})
        return None
    return got if ok else None


async def serve_spdy(session: SpdySession, version: str, opts: StreamOptions, run: Runner, *,
                     creation_timeout: float = STREAM_CREATION_TIMEOUT, close_wait: float = CLOSE_WAIT) -> None:
    """Run one exec/attach session on a SPDY session whose ``run()`` loop is already going."""
    streams = await collect_streams(session, expected_stream_types(opts, version), timeout=creation_timeout)
    if streams is None:
        await session.close()
        return
    stdin_s, stdout_s, stderr_s = streams.get("stdin"), streams.get("stdout"), streams.get("stderr")
    io = SessionIO(stdin=stdin_s.read if stdin_s is not None else None,
                   stdout=stdout_s.write if stdout_s is not None else None,
                   stderr=stderr_s.write if stderr_s is not None else None, tty=opts.tty)
    resize_task = None
    if "resize" in streams:
        resize_task = asyncio.ensure_future(_pump_resizes(streams["resize"], io))
    else:
        io.resize_queue.put_nowait(None)
    try:
        status = await _run_until_gone(run, io, session.closed.wait())
        if status is None:
            return
        err = streams["error"]
        data = ch.status_bytes(status, as_json=version in (ch.V4, ch.V5))
        with contextlib.suppress(ConnectionError):
            if data:
                await err.write(data)
            for s in (stdout_s, stderr_s, err):
                if s is not None:
                    await s.close()
            await session.goaway()
        await session.wait_closed(close_wait)
    finally:
        if resize_task is not None:
            resize_task.cancel()
        await session.close()


async def _pump_resizes(stream: SpdyStream, io: SessionIO) -> None:
    decoder = ch.ResizeDecoder()
    try:
        while data := await stream.read():
            for size in decoder.feed(data):
                io.resize_queue.put_nowait(size)
    finally:
        io.resize_queue.put_nowait(None)
