"""ResourceHandler's request-body reading: whole bodies by Content-Length, counted ones when compressed or chunked."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from pybernetes.api.errors import APIError
from pybernetes.apiserver.handlers import ResourceHandler

LIMIT = 1000


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:
    handler = ResourceHandler.__new__(ResourceHandler)
    handler.state = SimpleNamespace(config=SimpleNamespace(max_body_bytes=LIMIT))  # type: ignore[assignment]

    async def echo(request: web.Request) -> web.Response:
        try:
            body = await handler.read_body(request)
        except APIError as e:
            return web.Response(status=e.code, text=str(e))
        assert type(body) is bytes
        return web.Response(body=body)

    app = web.Application()
    app.router.add_post("/", echo)
    async with TestClient(TestServer(app)) as c:
        yield c


async def _chunks(data: bytes, size: int = 100) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


@pytest.mark.parametrize(("data", "headers", "status", "want"), [
    (b"", {}, 200, b""),
    (b'{"kind":"Pod"}', {}, 200, b'{"kind":"Pod"}'),
    (b"x" * LIMIT, {}, 200, b"x" * LIMIT),
    (b"x" * (LIMIT + 1), {}, 413, None),
    (gzip.compress(b"y" * 500), {"Content-Encoding": "gzip"}, 200, b"y" * 500),
    (gzip.compress(b"y" * 5000), {"Content-Encoding": "gzip"}, 413, None),      # small on the wire, not inflated
    (zlib.compress(b"z" * 5000), {"Content-Encoding": "deflate"}, 413, None),
    (b"not gzip", {"Content-Encoding": "gzip"}, 400, None),
])
async def test_read_body(client: TestClient, data: bytes, headers: dict[str, str], status: int,
                         want: bytes | None) -> None:
    resp = await client.post("/", data=data, headers=headers)
    assert resp.status == status
    if want is not None:
        assert await resp.read() == want


@pytest.mark.parametrize(("size", "status"), [(LIMIT, 200), (LIMIT + 1, 413)])
async def test_chunked_body_is_counted(client: TestClient, size: int, status: int) -> None:
    data = b"c" * size
    kwargs: dict[str, Any] = {"data": _chunks(data)}
    resp = await client.post("/", **kwargs)
    assert resp.status == status
    if status == 200:
        assert await resp.read() == data


async def _trickle(data: bytes) -> AsyncIterator[bytes]:
    for i in range(len(data)):
        yield data[i:i + 1]
        for _ in range(3):
            await asyncio.sleep(0)          # let the server start on a body that has not all arrived


async def test_body_still_arriving_is_awaited(client: TestClient) -> None:
    data = b'{"kind":"Pod","apiVersion":"v1"}'
    resp = await client.post("/", data=_trickle(data), headers={"Content-Length": str(len(data))})
    assert resp.status == 200
    assert await resp.read() == data
