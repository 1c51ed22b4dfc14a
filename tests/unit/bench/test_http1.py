"""The load generators' HTTP/1.1 client: request heads, response heads, chunked line streams."""

from __future__ import annotations

import asyncio

import pytest
from bench.http1 import Connection, Endpoint, HTTPError, LineStream, parse_head, request_head


def test_request_head_with_and_without_body() -> None:
    get = request_head("GET", "/api/v1/pods", "127.0.0.1:6443", 0)
    assert get.startswith(b"GET /api/v1/pods HTTP/1.1\r\nHost: 127.0.0.1:6443\r\n") and get.endswith(b"\r\n\r\n")
    assert b"Content-Length" not in get
    post = request_head("POST", "/x", "h:1", 12)
    assert b"\r\nContent-Type: application/json\r\nContent-Length: 12\r\n" in post
    assert b"Content-Length: 0" in request_head("PUT", "/x", "h:1", 0)


@pytest.mark.parametrize(("head", "want"), [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n", (200, 42, False, True)),
    (b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\nConnection: close\r\n\r\n", (201, 0, False, False)),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", (200, None, True, True)),
    (b"HTTP/1.0 404 Not Found\r\n\r\n", (404, None, False, False)),
])
def test_parse_head(head: bytes, want: tuple[int, int | None, bool, bool]) -> None:
    assert parse_head(head) == want


def test_parse_head_refuses_what_is_not_http() -> None:
    with pytest.raises(HTTPError):
        parse_head(b"SSH-2.0-OpenSSH\r\n\r\n")


async def test_line_stream_splits_chunks_into_lines() -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for piece in (b'{"a":1}\n{"b"', b':2}\n', b"\n", b'{"c":3}\n'):
            yield piece
    stream = LineStream(chunks())
    assert [await stream.next() for _ in range(4)] == [b'{"a":1}', b'{"b":2}', b'{"c":3}', None]


async def test_connection_reads_length_and_chunked_bodies() -> None:
    """Against a tiny in-process loopback server speaking canned responses."""
    responses = [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
                 b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
                 b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nx\ny\nz\n\r\n0\r\n\r\n"]

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for resp in responses:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(resp)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        conn = await Connection.open(Endpoint("127.0.0.1", port, None))
        assert await conn.request("GET", "/a") == (200, b"hello")
        assert await conn.request("GET", "/b") == (200, b"abcde")
        lines = await conn.watch("/c")
        assert [await lines.next() for _ in range(4)] == [b"x", b"y", b"z", None]
        conn.close()
    finally:
        server.close()
        await server.wait_closed()
