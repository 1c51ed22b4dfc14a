"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for load generators.

Why not aiohttp's client: a load generator must cost less than the server it measures. aiohttp spends ~200 µs
of client CPU per request (measured for storage/etcd.py's transport choice); this one about a third of that,
so on a two-core machine more of the second core is left for the server under test, and client-side queueing
inflates the latencies less. It speaks just what the API server answers: Content-Length bodies, chunked
bodies (watch streams) and ``Connection: close``.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass

STREAM_LIMIT = 1 << 22                   # one buffered read can hold a 10,000-pod LIST's chunks


class HTTPError(Exception):
    """The connection broke, or the server answered something this client does not speak."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how to connect: host, port and a TLS context carrying the client certificate."""

    host: str
    port: int
    tls: ssl.SSLContext | None


def client_tls(*, ca: str, cert: str, key: str) -> ssl.SSLContext:
    """TLS as kubectl does it with the admin kubeconfig: verify the server against the CA, present the cert."""
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def request_head(method: str, path: str, host: str, body_len: int, content_type: str = "application/json") -> bytes:
    """The request line and headers; a body (when any) follows as is."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Accept: application/json",
             "User-Agent: pybernetes-bench/1"]
    if body_len or method in ("POST", "PUT", "PATCH"):
        lines += [f"Content-Type: {content_type}", f"Content-Length: {body_len}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def parse_head(head: bytes) -> tuple[int, int | None, bool, bool]:
    """(status, content length or None, chunked, keep-alive) of a response head ending in CRLFCRLF."""
    if not head.startswith(b"HTTP/1."):
        raise HTTPError(f"not an HTTP response: {head[:40]!r}")
    status = int(head[9:12])
    low = head.lower()
    length = None
    i = low.find(b"\r\ncontent-length:")
    if i >= 0:
        length = int(low[i + 17:low.index(b"\r\n", i + 2)])
    chunked = b"\r\ntransfer-encoding: chunked" in low
    keep = low.startswith(b"http/1.1") and b"\r\nconnection: close" not in low
    return status, length, chunked, keep


class Connection:
    """One keep-alive connection; requests on it are sequential (one client of the benchmark)."""

    __slots__ = ("_host", "endpoint", "reader", "writer")

    def __init__(self, endpoint: Endpoint, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.endpoint = endpoint
        self.reader = reader
        self.writer = writer
        self._host = f"{endpoint.host}:{endpoint.port}"

    @classmethod
    async def open(cls, endpoint: Endpoint) -> Connection:
        reader, writer = await asyncio.open_connection(
            endpoint.host, endpoint.port, ssl=endpoint.tls, limit=STREAM_LIMIT,
            server_hostname=endpoint.host if endpoint.tls else None)
        return cls(endpoint, reader, writer)

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        """Send one request and read the whole response: (status, body)."""
        self.writer.write(request_head(method, path, self._host, len(body)) + body)
        try:
            status, length, chunked, keep = parse_head(await self.reader.readuntil(b"\r\n\r\n"))
            if length is not None:
                data = await self.reader.readexactly(length) if length else b""
            elif chunked:
                data = b"".join([piece async for piece in self._chunks()])
            else:
                data, keep = await self.reader.read(), False
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError) as e:
            raise HTTPError(f"{method} {path}: {e!r}") from e
        if not keep:
            self.close()
        return status, data

    async def watch(self, path: str) -> LineStream:
        """GET a chunked stream (a watch); returns once the response head has arrived."""
        self.writer.write(request_head("GET", path, self._host, 0))
        status, _, chunked, _ = parse_head(await self.reader.readuntil(b"\r\n\r\n"))
        if status != 200 or not chunked:
            raise HTTPError(f"GET {path}: status {status}")
        return LineStream(self._chunks())

    async def _chunks(self) -> AsyncIterator[bytes]:
        reader = self.reader
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")         # no trailers from our server: the final CRLF
                return
            data = await reader.readexactly(size + 2)
            yield data[:-2]

    def close(self) -> None:
        self.writer.close()


class LineStream:
    """The lines of a chunked body, without their newlines (one watch event each)."""

    __slots__ = ("_buf", "_chunks", "_lines")

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""
        self._lines: list[bytes] = []

    async def next(self) -> bytes | None:
        """The next non-empty line; None at the end of the body."""
        while not self._lines:
            try:
                piece = await anext(self._chunks)
            except StopAsyncIteration:
                return None
            *lines, self._buf = (self._buf + piece).split(b"\n")
            self._lines = [line for line in lines if line]
            self._lines.reverse()
        return self._lines.pop()
