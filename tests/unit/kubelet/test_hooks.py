"""Lifecycle handlers: exec (upstream's failure message), httpGet (only transport errors fail), sleep."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from aiohttp import web

from pybernetes.client.clock import FakeClock
from pybernetes.kubelet.hooks import run_handler
from pybernetes.kubelet.runtime.interface import ExecResult

POD = {"metadata": {"name": "p", "namespace": "ns", "uid": "u"}}
C = {"name": "c", "ports": [{"name": "web", "containerPort": 0}]}


class Exec:
    def __init__(self, code: int) -> None:
        self.code = code

    async def exec_sync(self, container_id: str, cmd: list[str], *, timeout: float) -> ExecResult:
        return ExecResult(self.code, stdout=b"o", stderr=b"e")


async def run(handler: dict[str, Any], **kw: Any) -> str | None:
    return await run_handler(handler, runtime=kw.pop("runtime", Exec(0)), container_id="cid", pod=POD,
                             container=kw.pop("container", C), pod_ip="127.0.0.1", timeout=5, **kw)


async def test_exec() -> None:
    assert await run({"exec": {"command": ["sh", "-c", "true"]}}) is None
    assert await run({"exec": {"command": ["sh", "-c", "exit 3"]}}, runtime=Exec(3)) == (
        'Exec lifecycle hook ([sh -c exit 3]) for Container "c" in Pod "p_ns(u)" failed - error: command '
        "'sh -c exit 3' exited with 3: e, message: \"oe\"")


async def test_http() -> None:
    hits: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(status=500)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        assert await run({"httpGet": {"path": "/shutdown", "port": port}}) is None     # a 500 is still an answer
        assert hits == ["/shutdown"]
    finally:
        await runner.cleanup()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    msg = await run({"httpGet": {"path": "/x", "port": closed}})
    assert msg is not None and msg.startswith('HTTP lifecycle hook (/x) for Container "c" in Pod "p_ns(u)" failed - '
                                              "error: ")


async def test_sleep() -> None:
    clock = FakeClock()
    task = asyncio.create_task(run({"sleep": {"seconds": 3}}, clock=clock))
    await asyncio.sleep(0)
    assert not task.done()
    clock.advance(3)
    assert await task is None
