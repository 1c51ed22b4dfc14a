"""exec and attach sessions between the agent's streaming server (a :class:`StreamIO`) and the shim's WebSocket
(``shimio`` framing): stdin and terminal resizes go in, stdout/stderr and the end come out."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp
import orjson

from pybernetes.kubelet.runtime.interface import RuntimeFailure, StreamIO
from pybernetes.kubelet.runtime.oci import shimio


async def _send_stdin(ws: aiohttp.ClientWebSocketResponse, streams: StreamIO) -> None:
    while True:
        data = await streams.read_stdin()
        if data is None:
            break
        if data:
            await ws.send_bytes(bytes([shimio.STDIN]) + data)
    await ws.send_bytes(bytes([shimio.CLOSE_STDIN]))


async def _send_resizes(ws: aiohttp.ClientWebSocketResponse, streams: StreamIO) -> None:
    async for width, height in streams.resizes():
        await ws.send_bytes(bytes([shimio.RESIZE]) + orjson.dumps({"width": width, "height": height}))


async def run_session(ws: aiohttp.ClientWebSocketResponse, streams: StreamIO, *, stdin: bool,
                      tty: bool) -> dict[str, Any]:
    """Pump one session until the shim sends its final status (returned) or the connection ends."""
    senders: list[asyncio.Future[Any]] = []
    if stdin:
        senders.append(asyncio.ensure_future(_send_stdin(ws, streams)))
    if tty:
        senders.append(asyncio.ensure_future(_send_resizes(ws, streams)))
    status: dict[str, Any] = {}
    try:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.BINARY or not msg.data:
                continue
            channel, data = msg.data[0], msg.data[1:]
            if channel == shimio.STDOUT:
                await streams.write_stdout(data)
            elif channel == shimio.STDERR:
                await streams.write_stderr(data)
            elif channel == shimio.STATUS:
                status = orjson.loads(data)
                break
    finally:
        for t in senders:
            t.cancel()
        await asyncio.gather(*senders, return_exceptions=True)
        with contextlib.suppress(Exception):
            await ws.close()
    if "error" in status:
        raise RuntimeFailure(str(status["error"]))
    if not status:
        raise RuntimeFailure("the runtime shim ended the session without a status")
    return status


def wants_stdin(streams: StreamIO) -> bool:
    """The streaming server's sessions say whether the client sent stdin; other StreamIOs are asked."""
    return bool(getattr(streams, "has_stdin", True))
