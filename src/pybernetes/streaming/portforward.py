"""Port-forward sessions, server side (upstream kubelet ``portforward``), over SPDY or a websocket.

- SPDY (kubectl, every version; 1.31+ first tunnels the same SPDY bytes in websocket binary messages with the
  subprotocol ``SPDY/3.1+portforward.k8s.io``): per forwarded connection the client opens an ``error`` and a
  ``data`` stream carrying the same ``requestID`` and ``port`` headers. Once both are there the pod port is dialled
  and bytes copied both ways; the client's FIN on data half-closes the pod connection; when the pod side ends we
  FIN data and error. A failure is written as text to the error stream (kubectl prints it and gives up).
- websocket (the Python client, ``v4.channel.k8s.io``, ``?ports=a,b``): port i uses channel 2i for data and 2i+1
  for errors; the first message on each is the port, 16 bits little-endian. Every port is dialled once at the
  start; the session closes (1000) when every pod connection ended, or when the client closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from pybernetes.streaming import channels as ch
from pybernetes.streaming.spdysession import SpdySession, SpdyStream

log = logging.getLogger(__name__)
PAIR_TIMEOUT = 30.0                     # upstream streamCreationTimeout: both streams of a request must arrive
READ_CHUNK = 32 * 1024

Dial = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
"""Connects to a port of the pod (the runtime's ``port_forward`` bound to the pod's sandbox)."""


class PortsError(ValueError):
    pass


def parse_ports(query_values: list[str]) -> list[int]:
    """``?ports=80,443&ports=8080`` → [80, 443, 8080] (upstream ``NewV4Options`` messages)."""
    if not query_values:
        raise PortsError('query parameter "port" is required')
    ports: list[int] = []
    for value in query_values:
        if not value:
            raise PortsError('query parameter "port" cannot be empty')
        for p in value.split(","):
            try:
                port = int(p, 10)
                if not 0 <= port <= 65535:
                    raise ValueError
            except ValueError:
                raise PortsError(f'unable to parse "{value}" as a port: invalid syntax') from None
            if port < 1:
                raise PortsError(f'port "{value}" must be > 0')
            ports.append(port)
    return ports


def forward_error(port: int, pod: str, uid: str, err: BaseException) -> str:
    return f"error forwarding port {port} to pod {pod}, uid {uid}: {err}"


# ------------------------------------------------------------------ SPDY
def check_stream(stream: SpdyStream) -> str | None:
    """Upstream's checks on each new port-forward stream (a message rejects it)."""
    port = stream.header(ch.PORT_HEADER)
    if not port:
        return f'"{ch.PORT_HEADER}" header is required'
    try:
        n = int(port, 10)
        if not 0 <= n <= 65535:
            raise ValueError
    except ValueError:
        return f'unable to parse "{port}" as a port'
    if n < 1:
        return f'port "{port}" must be > 0'
    kind = stream.header(ch.STREAM_TYPE)
    if not kind:
        return f'"{ch.STREAM_TYPE}" header is required'
    if kind not in ("error", "data"):
        return f'invalid stream type "{kind}"'
    return None


@dataclass(slots=True)
class _Pair:
    request_id: str
    data: SpdyStream | None = None
    error: SpdyStream | None = None
    created: float = 0.0
    task: asyncio.Task[None] | None = field(default=None, repr=False)


def request_id(stream: SpdyStream) -> str:
    """The stream's requestID; very old clients send none, so pair by stream id as upstream does (error n, data
    n+2)."""
    rid = stream.header(ch.REQUEST_ID)
    if rid:
        return rid
    return str(stream.id if stream.header(ch.STREAM_TYPE) == "error" else stream.id - 2)


async def serve_spdy(session: SpdySession, dial: Dial, *, pod: str, uid: str = "",
                     pair_timeout: float = PAIR_TIMEOUT) -> None:
    """Serve port-forward requests until the session ends (its ``run()`` loop must already be going, with
    :func:`check_stream` as the stream filter)."""
    pairs: dict[str, _Pair] = {}
    tasks: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()
    try:
        while (stream := await session.accept()) is not None:
            rid = request_id(stream)
            pair = pairs.get(rid)
            if pair is None:
                pair = pairs[rid] = _Pair(rid, created=loop.time())
                t = loop.create_task(_expire(pairs, pair, pair_timeout))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
            kind = stream.header(ch.STREAM_TYPE)
            if getattr(pair, kind) is not None:
                msg = f"error processing stream for request {rid}: {kind} stream already assigned"
                if pair.error is not None:
                    with contextlib.suppress(ConnectionError):
                        await pair.error.write(msg.encode())
                continue
            setattr(pair, kind, stream)
            if pair.data is not None and pair.error is not None:
                del pairs[rid]
                t = loop.create_task(_forward(pair.data, pair.error, dial, pod=pod, uid=uid))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
    finally:
        for t in list(tasks):
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _expire(pairs: dict[str, _Pair], pair: _Pair, timeout: float) -> None:
    await asyncio.sleep(timeout)
    if pairs.get(pair.request_id) is pair:
        del pairs[pair.request_id]
        if pair.error is not None:
            with contextlib.suppress(ConnectionError):
                await pair.error.write(f"timed out waiting for streams of request {pair.request_id}".encode())
                await pair.error.close()


async def _forward(data: SpdyStream, error: SpdyStream, dial: Dial, *, pod: str, uid: str) -> None:
    port = int(data.header(ch.PORT_HEADER))
    try:
        try:
            reader, writer = await dial(port)
        except (OSError, RuntimeError, ValueError) as e:
            log.info("port-forward dial failed", extra={"pod": pod, "port": port, "error": str(e)})
            with contextlib.suppress(ConnectionError):
                await error.write(forward_error(port, pod, uid, e).encode())
            return
        except Exception as e:          # the runtime's own failure types
            with contextlib.suppress(ConnectionError):
                await error.write(forward_error(port, pod, uid, e).encode())
            return
        await _copy_both(data, reader, writer)
    finally:
        with contextlib.suppress(ConnectionError):
            await data.close()
            await error.close()


async def _copy_both(stream: SpdyStream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    async def to_pod() -> None:
        try:
            while chunk := await stream.read():
                writer.write(chunk)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            pass

    upstream = asyncio.ensure_future(to_pod())
    try:
        while chunk := await reader.read(READ_CHUNK):
            await stream.write(chunk)
    except (ConnectionError, OSError):
        pass
    finally:
        upstream.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await upstream
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


# ------------------------------------------------------------------ websocket
async def serve_websocket(ws: web.WebSocketResponse, protocol: ch.WsProtocol, ports: list[int], dial: Dial, *,
                          pod: str, uid: str = "") -> None:
    lock = asyncio.Lock()

    async def send(channel: int, data: bytes) -> None:
        msg = ch.encode_message(protocol, channel, data)
        async with lock:
            if isinstance(msg, bytes):
                await ws.send_bytes(msg)
            else:
                await ws.send_str(msg)

    # Each port's pod connection, once dialled (None if the dial failed): data the client sends before that waits.
    conns: dict[int, asyncio.Future[asyncio.StreamWriter | None]] = {
        i: asyncio.get_running_loop().create_future() for i in range(len(ports))}
    copies: list[asyncio.Task[None]] = []

    async def pod_to_client(i: int, port: int) -> None:
        try:
            reader, writer = await dial(port)
        except Exception as e:
            conns[i].set_result(None)
            await send(2 * i + 1, forward_error(port, pod, uid, e).encode())
            return
        conns[i].set_result(writer)
        try:
            while chunk := await reader.read(READ_CHUNK):
                await send(2 * i, chunk)
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def client_to_pod() -> None:
        async for msg in ws:
            if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                continue
            decoded = ch.decode_message(protocol, msg.data)
            if decoded is None:
                continue
            channel, data = decoded
            conn = conns.get(channel // 2) if channel % 2 == 0 else None
            w = await conn if conn is not None else None
            if w is not None and data and not w.is_closing():
                with contextlib.suppress(ConnectionError, OSError):
                    w.write(data)
                    await w.drain()

    try:
        for i, port in enumerate(ports):
            prefix = struct.pack("<H", port)
            await send(2 * i, prefix)
            await send(2 * i + 1, prefix)
        copies = [asyncio.ensure_future(pod_to_client(i, p)) for i, p in enumerate(ports)]
        reader = asyncio.ensure_future(client_to_pod())
        all_done = asyncio.ensure_future(asyncio.gather(*copies, return_exceptions=True))
        await asyncio.wait((reader, all_done), return_when=asyncio.FIRST_COMPLETED)
        reader.cancel()
        for t in copies:
            t.cancel()
        await asyncio.gather(reader, all_done, return_exceptions=True)
    except (ConnectionError, OSError):
        pass
    finally:
        for fut in conns.values():
            if fut.done() and fut.result() is not None:
                fut.result().close()     # type: ignore[union-attr]
        for t in copies:
            t.cancel()
    with contextlib.suppress(ConnectionError, OSError, asyncio.TimeoutError):
        await ws.close(code=1000)


class WebSocketChannel:
    """A :class:`~pybernetes.streaming.spdysession.ByteChannel` over websocket binary messages (the tunnel)."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws

    async def read(self) -> bytes:
        while True:
            try:
                msg = await self.ws.receive()
            except (ConnectionError, OSError, RuntimeError):
                return b""
            if msg.type == WSMsgType.BINARY:
                if msg.data:
                    return bytes(msg.data)
                continue
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return b""

    async def write(self, data: bytes) -> None:
        try:
            await self.ws.send_bytes(data)
        except RuntimeError as e:           # aiohttp raises this once the websocket is closing
            raise ConnectionResetError(str(e)) from None

    async def close(self) -> None:
        with contextlib.suppress(ConnectionError, OSError, asyncio.TimeoutError, RuntimeError):
            await self.ws.close(code=1000)

