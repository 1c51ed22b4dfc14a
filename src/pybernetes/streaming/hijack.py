"""Taking over an aiohttp server connection after ``101 Switching Protocols`` (Go's ``http.Hijacker``).

aiohttp only knows the websocket upgrade; SPDY upgrades (``Upgrade: SPDY/3.1`` on a POST) and the API server's
upgrade-aware proxying need the raw connection. The same seam aiohttp's own ``WebSocketResponse`` uses does it:
``RequestHandler.set_parser`` routes every byte the peer sends from then on (including any already buffered behind
the request) to our reader, and writes go straight to the transport. The handler keeps running for the whole
session and finally returns :func:`done`, a response that sends nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

from aiohttp import web


class _Inbox:
    """What the peer sends, buffered for :meth:`HijackedChannel.read`; also the payload-parser shape aiohttp
    feeds. Past ``limit`` buffered bytes the transport stops reading until the reader catches up — on the transport
    itself: aiohttp's protocol-level pause is for its HTTP parser and asserts outside of parsing."""

    __slots__ = ("_buf", "_eof", "_paused", "_transport", "_waiter", "limit", "size")

    def __init__(self, transport: asyncio.BaseTransport, limit: int = 1 << 18) -> None:
        self._transport = transport
        self._buf: list[bytes] = []
        self._eof = False
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        self.limit = limit
        self.size = 0

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if data:
            self._buf.append(data)
            self.size += len(data)
            if self.size > self.limit and not self._paused and isinstance(self._transport, asyncio.ReadTransport):
                self._paused = True
                self._transport.pause_reading()
            self._wake()
        return False, b""

    def feed_eof(self) -> None:
        self._eof = True
        self._wake()

    async def read(self) -> bytes:
        while not self._buf:
            if self._eof:
                return b""
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        data = b"".join(self._buf)
        self._buf.clear()
        self.size = 0
        if self._paused and isinstance(self._transport, asyncio.ReadTransport) and not self._transport.is_closing():
            self._paused = False
            self._transport.resume_reading()
        return data


class HijackedChannel:
    """A :class:`~pybernetes.streaming.spdysession.ByteChannel` over a taken-over aiohttp connection."""

    def __init__(self, request: web.Request) -> None:
        protocol = request.protocol
        transport = request.transport
        if protocol is None or transport is None:
            raise ConnectionResetError("connection lost")
        self._protocol: Any = protocol
        self._transport = transport
        self.inbox = _Inbox(transport)
        protocol.set_parser(self.inbox)          # type: ignore[arg-type]
        protocol.keep_alive(False)

    async def read(self) -> bytes:
        return await self.inbox.read()

    async def write(self, data: bytes) -> None:
        if self._transport.is_closing():
            raise ConnectionResetError("connection closed")
        self._transport.write(data)
        await self._protocol._drain_helper()

    async def close(self) -> None:
        self._transport.close()


def take_over(request: web.Request) -> HijackedChannel:
    """Route the connection's bytes to a :class:`HijackedChannel`. Call before sending the 101, so that nothing the
    peer sends after reading it can reach aiohttp's HTTP parser."""
    return HijackedChannel(request)


def response_head(status: int, reason: str, headers: Iterable[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class _Done(web.StreamResponse):
    """Returned by a handler whose connection was taken over: the exchange is over, nothing more is written."""

    def __init__(self) -> None:
        super().__init__(status=101)

    async def prepare(self, request: web.BaseRequest) -> None:
        return None

    async def write_eof(self, data: bytes = b"") -> None:
        return None


def done(channel: HijackedChannel | None = None) -> web.StreamResponse:
    if channel is not None:
        with contextlib.suppress(Exception):
            channel._transport.close()
    return _Done()
