"""A SPDY/3.1 session over any byte channel: streams, replies, pings, GOAWAY and flow control.

Either end can use it (``server=True`` takes even stream ids and accepts the peer's streams; a client opens odd
ones), so the kubelet serves kubectl with it and the tests drive the kubelet with it.

Flow control, as spoken with the Go side: moby/spdystream — behind every kubectl and client-go — never sends
WINDOW_UPDATE and ignores the ones it gets. Holding our sends to the 64 KiB initial window would therefore stall
every stream after 64 KiB. So the send windows are enforced only once the peer shows it does flow control (a
WINDOW_UPDATE or an INITIAL_WINDOW_SIZE setting arrives); a peer that never does is paced by TCP alone. Our own
receive side always grants back what the application consumed (per stream and, as 3.1 adds, per session), which
spdystream ignores and a real SPDY/3.1 peer needs. Inbound data waits in per-stream buffers; when one fills past
``max_buffer`` the session stops reading the socket until it drains, so a slow reader pushes back through TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from pybernetes.streaming import spdy
from pybernetes.streaming.spdy import Headers

log = logging.getLogger(__name__)
CHUNK = 32 * 1024                   # data frames we send are at most this long
MAX_BUFFER = 1 << 20                # per-stream inbound bytes buffered before reading pauses


class ByteChannel(Protocol):
    """A reliable, ordered byte pipe (a TCP/TLS connection, or websocket messages carrying bytes)."""

    async def read(self) -> bytes: ...          # the next bytes; b"" once the peer has closed
    async def write(self, data: bytes) -> None: ...
    async def close(self) -> None: ...


class StreamChannel:
    """:class:`ByteChannel` over asyncio streams."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def read(self) -> bytes:
        try:
            return await self.reader.read(65536)
        except (ConnectionError, OSError):
            return b""

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


class StreamReset(ConnectionError):
    """The stream was reset (RST_STREAM) or its session ended before it finished."""


class SpdyStream:
    """One stream: ``read`` gives the peer's data (b"" after its FIN), ``write``/``close`` send ours."""

    def __init__(self, session: SpdySession, stream_id: int, headers: Headers, *, remote_fin: bool) -> None:
        self.session = session
        self.id = stream_id
        self.headers = headers
        self.replied = asyncio.Event()
        self.remote_closed = remote_fin
        self.local_closed = False
        self.reset_status: int | None = None
        self._buf = bytearray()
        self._readable = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._unacked = 0                       # consumed bytes not yet granted back by WINDOW_UPDATE
        self.send_window = session.initial_send_window
        self._window_open = asyncio.Event()
        self._window_open.set()
        if remote_fin:
            self._readable.set()

    def header(self, name: str) -> str:
        values = self.headers.get(name.lower())
        return values[0] if values else ""

    @property
    def done(self) -> bool:
        return self.reset_status is not None or (self.local_closed and self.remote_closed)

    # ---- receiving
    def _feed(self, data: bytes, fin: bool) -> None:
        if data:
            self._buf += data
            if len(self._buf) > self.session.max_buffer:
                self._drained.clear()
        if fin:
            self.remote_closed = True
        self._readable.set()
        self.session._maybe_forget(self)

    def _terminate(self, status: int) -> None:
        if self.reset_status is None:
            self.reset_status = status
        self._readable.set()
        self._drained.set()
        self._window_open.set()
        self.replied.set()

    async def read(self, max_bytes: int = -1) -> bytes:
        """Buffered data (at most ``max_bytes``); b"" once the peer finished the stream or it was reset."""
        while not self._buf:
            if self.remote_closed or self.reset_status is not None:
                return b""
            self._readable.clear()
            await self._readable.wait()
        if max_bytes < 0 or max_bytes >= len(self._buf):
            data = bytes(self._buf)
            self._buf.clear()
        else:
            data = bytes(self._buf[:max_bytes])
            del self._buf[:max_bytes]
        if len(self._buf) <= self.session.max_buffer:
            self._drained.set()
        await self.session._consumed(self, len(data))
        return data

    async def read_all(self) -> bytes:
        out = bytearray()
        while chunk := await self.read():
            out += chunk
        return bytes(out)

    # ---- sending
    async def write(self, data: bytes) -> None:
        if self.reset_status is not None:
            raise StreamReset(f"stream {self.id} was reset ({self.reset_status})")
        if self.local_closed:
            raise StreamReset(f"stream {self.id} is closed for writing")
        view = memoryview(data)
        while view:
            n = await self.session._send_allowance(self, min(len(view), CHUNK))
            await self.session._send(spdy.encode_data(self.id, bytes(view[:n])))
            view = view[n:]

    async def close(self) -> None:
        """Half-close: an empty DATA frame with FIN (we send nothing more; the peer may go on)."""
        if self.local_closed or self.reset_status is not None:
            return
        self.local_closed = True
        with contextlib.suppress(ConnectionError):
            await self.session._send(spdy.encode_data(self.id, b"", fin=True))
        self.session._maybe_forget(self)

    async def reset(self, status: int = spdy.CANCEL) -> None:
        if self.reset_status is not None:
            return
        self._terminate(status)
        with contextlib.suppress(ConnectionError):
            await self.session._send(spdy.encode(spdy.RstStream(self.id, status)))
        self.session._maybe_forget(self)


StreamFilter = Callable[[SpdyStream], str | None]
"""Called for each stream the peer opens, before it is answered: an error message rejects it (RST_STREAM)."""


class SpdySession:
    def __init__(self, channel: ByteChannel, *, server: bool, accept: StreamFilter | None = None,
                 max_buffer: int = MAX_BUFFER) -> None:
        self.channel = channel
        self.server = server
        self.accept_filter = accept
        self.max_buffer = max_buffer
        self.codec = spdy.HeaderCodec()
        self.streams: dict[int, SpdyStream] = {}
        self.incoming: asyncio.Queue[SpdyStream | None] = asyncio.Queue()
        self.closed = asyncio.Event()
        self.goaway_received = False
        self.peer_goaway = asyncio.Event()      # set when the peer sent GOAWAY (no new streams from us)
        self.goaway_sent = False
        self.flow_control = False               # the peer has shown it does flow control: honour its windows
        self.initial_send_window = spdy.DEFAULT_WINDOW
        self.session_send_window = spdy.DEFAULT_WINDOW
        self._session_window_open = asyncio.Event()
        self._session_window_open.set()
        self._session_unacked = 0
        self._next_id = 2 if server else 1
        self._next_ping = 2 if server else 1
        self._pings: dict[int, asyncio.Future[None]] = {}
        self._last_peer_stream = 0
        self._write_lock = asyncio.Lock()

    # ------------------------------------------------------------------ running
    async def run(self) -> None:
        """Read and dispatch frames until the channel ends; then every stream is over."""
        reader = spdy.FrameReader(self.codec)
        try:
            while True:
                data = await self.channel.read()
                if not data:
                    break
                for frame in reader.feed(data):
                    await self._dispatch(frame)
        except spdy.ProtocolError as e:
            log.info("SPDY protocol error; ending the session", extra={"error": str(e)})
            with contextlib.suppress(ConnectionError):
                await self.goaway(spdy.GOAWAY_PROTOCOL_ERROR)
        except (ConnectionError, OSError):
            pass
        finally:
            self._finish()

    def _finish(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for s in list(self.streams.values()):
            s._terminate(spdy.CANCEL)
        self.streams.clear()
        for fut in self._pings.values():
            if not fut.done():
                fut.set_exception(ConnectionError("SPDY session closed"))
        self._session_window_open.set()
        self.incoming.put_nowait(None)

    async def accept(self) -> SpdyStream | None:
        """The next stream the peer opened, or None once the session is over."""
        if self.closed.is_set() and self.incoming.empty():
            return None
        s = await self.incoming.get()
        if s is None:
            self.incoming.put_nowait(None)      # every later accept() sees the end too
        return s

    async def _dispatch(self, f: spdy.Frame) -> None:
        if isinstance(f, spdy.DataFrame):
            s = self.streams.get(f.stream_id)
            if s is None:
                return                          # a stream we already forgot (reset): drop, as spdystream does
            s._feed(f.data, f.fin)
            if not s._drained.is_set():
                await s._drained.wait()         # back-pressure: stop reading the socket until it drains
        elif isinstance(f, spdy.SynStream):
            await self._on_syn_stream(f)
        elif isinstance(f, spdy.SynReply):
            s = self.streams.get(f.stream_id)
            if s is not None:
                s.replied.set()
                if f.fin:
                    s._feed(b"", True)
        elif isinstance(f, spdy.RstStream):
            s = self.streams.pop(f.stream_id, None)
            if s is not None:
                s._terminate(f.status)
        elif isinstance(f, spdy.Ping):
            if (f.ping_id & 1) != (self._next_ping & 1):
                await self._send(spdy.encode(f))           # the peer's ping: echo it
            else:
                fut = self._pings.pop(f.ping_id, None)
                if fut is not None and not fut.done():
                    fut.set_result(None)
        elif isinstance(f, spdy.GoAway):
            self.goaway_received = True
            self.peer_goaway.set()
        elif isinstance(f, spdy.WindowUpdate):
            self._on_window_update(f)
        elif isinstance(f, spdy.Settings):
            size = f.get(spdy.SETTINGS_INITIAL_WINDOW_SIZE)
            if size is not None:
                self._enable_flow_control()
                delta = size - self.initial_send_window
                self.initial_send_window = size
                for s in self.streams.values():
                    s.send_window += delta
                    if s.send_window > 0:
                        s._window_open.set()
        elif isinstance(f, spdy.HeadersFrame):
            s = self.streams.get(f.stream_id)
            if s is not None:
                for k, v in f.headers.items():
                    s.headers.setdefault(k, []).extend(v)
                if f.fin:
                    s._feed(b"", True)

    async def _on_syn_stream(self, f: spdy.SynStream) -> None:
        if self.goaway_sent or f.stream_id in self.streams or (f.stream_id & 1) == (self._next_id & 1):
            await self._send(spdy.encode(spdy.RstStream(f.stream_id, spdy.PROTOCOL_ERROR)))
            return
        self._last_peer_stream = max(self._last_peer_stream, f.stream_id)
        s = SpdyStream(self, f.stream_id, f.headers, remote_fin=f.fin)
        if f.unidirectional:
            s.local_closed = True
        problem = self.accept_filter(s) if self.accept_filter is not None else None
        if problem is not None:
            log.info("SPDY stream rejected", extra={"stream": f.stream_id, "reason": problem})
            s._terminate(spdy.CANCEL)
            await self._send(spdy.encode(spdy.RstStream(f.stream_id, spdy.CANCEL)))
            return
        self.streams[f.stream_id] = s
        s.replied.set()
        async with self._write_lock:          # encode under the lock: header blocks share one zlib stream
            await self.channel.write(spdy.encode(spdy.SynReply(f.stream_id), self.codec))
        self.incoming.put_nowait(s)

    # ------------------------------------------------------------------ opening streams (client side)
    async def open_stream(self, headers: Headers, *, fin: bool = False, timeout: float = 30.0) -> SpdyStream:
        """Open a stream and wait for the peer's SYN_REPLY (RST_STREAM instead raises :class:`StreamReset`)."""
        if self.closed.is_set() or self.goaway_received:
            raise ConnectionError("SPDY session is closed")
        sid = self._next_id
        self._next_id += 2
        s = SpdyStream(self, sid, headers, remote_fin=False)
        s.local_closed = fin
        self.streams[sid] = s
        async with self._write_lock:
            await self.channel.write(spdy.encode(spdy.SynStream(sid, headers, fin=fin), self.codec))
        await asyncio.wait_for(s.replied.wait(), timeout)
        if s.reset_status is not None:
            raise StreamReset(f"stream {sid} was refused ({s.reset_status})")
        return s

    async def ping(self, timeout: float = 10.0) -> None:
        pid = self._next_ping
        self._next_ping += 2
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pings[pid] = fut
        await self._send(spdy.encode(spdy.Ping(pid)))
        await asyncio.wait_for(fut, timeout)

    async def goaway(self, status: int = spdy.GOAWAY_OK) -> None:
        if self.goaway_sent:
            return
        self.goaway_sent = True
        await self._send(spdy.encode(spdy.GoAway(self._last_peer_stream, status)))

    async def close(self) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            await self.channel.close()
        self._finish()

    async def wait_closed(self, timeout: float) -> bool:
        """Wait for the peer to end the session; False if it did not within ``timeout``."""
        try:
            await asyncio.wait_for(self.closed.wait(), timeout)
            return True
        except TimeoutError:
            return False

    # ------------------------------------------------------------------ internals
    async def _send(self, data: bytes) -> None:
        if self.closed.is_set():
            raise ConnectionError("SPDY session is closed")
        async with self._write_lock:
            await self.channel.write(data)

    def _maybe_forget(self, s: SpdyStream) -> None:
        if s.done and self.streams.get(s.id) is s:
            del self.streams[s.id]

    async def _consumed(self, s: SpdyStream, n: int) -> None:
        """Grant back what the application read, once half a window has accumulated."""
        if n <= 0 or self.closed.is_set():
            return
        frames = []
        s._unacked += n
        if s._unacked >= spdy.DEFAULT_WINDOW // 2 and not s.remote_closed and s.reset_status is None:
            frames.append(spdy.encode(spdy.WindowUpdate(s.id, s._unacked)))
            s._unacked = 0
        self._session_unacked += n
        if self._session_unacked >= spdy.DEFAULT_WINDOW // 2:
            frames.append(spdy.encode(spdy.WindowUpdate(0, self._session_unacked)))
            self._session_unacked = 0
        if frames:
            with contextlib.suppress(ConnectionError):
                await self._send(b"".join(frames))

    def _enable_flow_control(self) -> None:
        self.flow_control = True

    def _on_window_update(self, f: spdy.WindowUpdate) -> None:
        self._enable_flow_control()
        if f.stream_id == 0:
            self.session_send_window += f.delta
            if self.session_send_window > 0:
                self._session_window_open.set()
            return
        s = self.streams.get(f.stream_id)
        if s is not None:
            s.send_window += f.delta
            if s.send_window > 0:
                s._window_open.set()

    async def _send_allowance(self, s: SpdyStream, want: int) -> int:
        """How many bytes ``s`` may send now (waiting for window if the peer does flow control)."""
        while self.flow_control:
            if s.reset_status is not None or self.closed.is_set():
                raise StreamReset(f"stream {s.id} was reset")
            if s.send_window <= 0:
                s._window_open.clear()
                await s._window_open.wait()
                continue
            if self.session_send_window <= 0:
                self._session_window_open.clear()
                await self._session_window_open.wait()
                continue
            n = min(want, s.send_window, self.session_send_window)
            s.send_window -= n
            self.session_send_window -= n
            return n
        s.send_window -= want               # kept up to date in case flow control starts later
        self.session_send_window -= want
        return want
