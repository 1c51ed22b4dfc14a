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

from aiohttp import streams, web


class _Feed:
    """The payload-parser shape aiohttp expects: every byte goes into our reader."""

    __slots__ = ("reader",)

    def __init__(self, reader: streams.StreamReader) -> None:
        self.reader = reader

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.reader.feed_data(data)
        return False, b""

    def feed_eof(self) -> None:
        self.reader.feed_eof()


class HijackedChannel:
    """A :class:`~pybernetes.streaming.spdysession.ByteChannel` over a taken-over aiohttp connection."""

    def __init__(self, request: web.Request) -> None:
        protocol = request.protocol
        transport = request.transport
        if protocol is None or transport is None:
            raise ConnectionResetError("connection lost")
        self._protocol: Any = protocol
        self._transport = transport
        self.reader = streams.StreamReader(protocol, 2**16, loop=asyncio.get_running_loop())
        protocol.set_parser(_Feed(self.reader))      # type: ignore[arg-type]
        protocol.keep_alive(False)

    async def read(self) -> bytes:
        try:
            return await self.reader.readany()
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            return b""

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

    async def prepare(self, request: web.BaseRequest) -> None:  # type: ignore[override]
        return None

    async def write_eof(self, data: bytes = b"") -> None:
        return None


def done(channel: HijackedChannel | None = None) -> web.StreamResponse:
    if channel is not None:
        with contextlib.suppress(Exception):
            channel._transport.close()
    return _Done()
