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


class Resizes:
    """The client's terminal sizes, read ahead into a queue: the first one decides the size a new terminal starts
    with (else ``stty size`` right at the start sees 0x0 — the client's first resize races the process), the
    others are forwarded as they come."""

    FIRST_WAIT = 0.25

    def __init__(self, streams: StreamIO) -> None:
        self.queue: asyncio.Queue[tuple[int, int] | None] = asyncio.Queue()
        self.task = asyncio.ensure_future(self._read(streams))

    async def _read(self, streams: StreamIO) -> None:
        try:
            async for size in streams.resizes():
                self.queue.put_nowait((int(size[0]), int(size[1])))
        finally:
            self.queue.put_nowait(None)

    async def first(self) -> tuple[int, int] | None:
        try:
            return await asyncio.wait_for(self.queue.get(), self.FIRST_WAIT)
        except TimeoutError:
            return None

    async def send(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while (size := await self.queue.get()) is not None:
            await ws.send_bytes(bytes([shimio.RESIZE]) + orjson.dumps({"width": size[0], "height": size[1]}))

    def close(self) -> None:
        self.task.cancel()


async def run_session(ws: aiohttp.ClientWebSocketResponse, streams: StreamIO, *, stdin: bool,
                      tty: bool, resizes: Resizes | None = None) -> dict[str, Any]:
    """Pump one session until the shim sends its final status (returned) or the connection ends."""
    senders: list[asyncio.Future[Any]] = []
    if stdin:
        senders.append(asyncio.ensure_future(_send_stdin(ws, streams)))
    if tty:
        resizes = resizes or Resizes(streams)
        senders.append(asyncio.ensure_future(resizes.send(ws)))
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
        if resizes is not None:
            resizes.close()
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
