"""The wire side of :class:`~pybernetes.storage.etcd.EtcdStore`: HTTP/1.1 to etcd's JSON gateway and its forms.

A small keep-alive client on asyncio streams, not aiohttp's ClientSession: both drive etcd to the same rate, but
aiohttp spends ~230 µs of this process's CPU per request against ~80 µs here, and this process is the API server
(numbers and the gRPC comparison in :mod:`pybernetes.storage.etcd`). Here: endpoint URLs; one connection's
reads (Content-Length, chunked or until EOF); the de-chunking of a ``/v3/watch`` stream into the gateway's JSON
lines; the gateway's JSON forms (base64 keys and values, 64-bit integers as strings, key ranges) as
:class:`~pybernetes.storage.interface.KV` and :class:`~pybernetes.storage.interface.Event`; and the classification
of failures that failover depends on: a request that reached no member (:class:`_NotSent`: safe to resend
anywhere), one that may have reached a member but got no answer (:class:`_Broken`: only a read may be resent),
and etcd's own refusals (:class:`_EtcdError`). The connection pool and the failover policy stay with the store.
"""

from __future__ import annotations

import asyncio
import binascii
from typing import Any

import orjson

from pybernetes.storage.interface import KV, Event, StoreError

DEFAULT_PORT = 2379
_READ_LIMIT = 1 << 20                # asyncio stream buffer: large responses arrive in few wake-ups
_NO_LEADER = "no leader"
_UNAVAILABLE_CODES = (4, 14)         # gRPC DEADLINE_EXCEEDED, UNAVAILABLE: the outcome of a write is unknown


def parse_endpoints(url: str) -> list[tuple[str, int]]:
    """``etcd://h1:p1,h2:p2`` (or ``http://h:p``, one scheme per item allowed) → [(host, port), ...].

    Plain HTTP only: ``https://``/``etcds://`` (TLS) are refused rather than silently sent in clear text.
    """
    out: list[tuple[str, int]] = []
    for item in url.split(","):
        item = item.strip()
        scheme, sep, rest = item.partition("://")
        if not sep:
            scheme, rest = "etcd", item
        if scheme not in ("etcd", "http"):
            raise ValueError(f"unsupported etcd endpoint {item!r}: only etcd://HOST:PORT or http://HOST:PORT (no TLS)")
        rest = rest.split("/", 1)[0]
        if rest.startswith("["):                                   # [::1]:2379
            host, _, tail = rest[1:].partition("]")
            port = tail.removeprefix(":")
        else:
            host, _, port = rest.partition(":")
        if not host or (port and not port.isdigit()):
            raise ValueError(f"bad etcd endpoint {item!r}: expected HOST[:PORT]")
        out.append((host, int(port) if port else DEFAULT_PORT))
    return out


def range_end(prefix: bytes) -> bytes:
    """etcd's end of the key range holding every key that starts with ``prefix``: the prefix with its last byte
    below 0xff incremented (and what follows dropped). ``\\0`` means "no end": the empty prefix is every key."""
    stem = prefix.rstrip(b"\xff")
    if not stem:
        return b"\x00"
    return stem[:-1] + bytes((stem[-1] + 1,))


def _b64(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False)


_unb64 = binascii.a2b_base64


def _kv(d: dict[str, Any]) -> KV:
    return KV(_unb64(d["key"]).decode(), _unb64(d.get("value", "")), int(d["create_revision"]),
              int(d["mod_revision"]))


def _kv_of(key: str, d: dict[str, Any]) -> KV:
    return KV(key, _unb64(d.get("value", "")), int(d["create_revision"]), int(d["mod_revision"]))


def _event(ev: dict[str, Any]) -> Event:
    """A watch event; a DELETE carries the last value at the delete's revision (etcd sends only the key)."""
    kv = ev["kv"]
    key = _unb64(kv["key"]).decode()
    raw_prev = ev.get("prev_kv")
    prev = None if raw_prev is None else _kv_of(key, raw_prev)
    if ev.get("type") == "DELETE":
        rev = int(kv["mod_revision"])
        if prev is None:                   # its previous version was compacted between the write and the send
            return Event("DELETE", KV(key, b"", 0, rev), None)
        return Event("DELETE", KV(key, prev.value, prev.create_revision, rev), prev)
    return Event("PUT", _kv_of(key, kv), prev)


class _EtcdError(StoreError):
    """etcd refused a request (``{"error": ..., "code": N}``)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"etcd: {message}")
        self.code = code
        self.message = message


class _NotSent(Exception):
    """The request reached no member (or one that rejected it unprocessed): safe to send anywhere."""


class _Broken(Exception):
    """The request may have reached a member, but no answer came back: only a read may be resent."""


def _reply(status: int, data: bytes) -> dict[str, Any]:
    if status == 200:
        out: dict[str, Any] = orjson.loads(data)
        return out
    try:
        err = orjson.loads(data)
        code, message = int(err.get("code", 0)), str(err.get("message") or err.get("error"))
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
        code, message = 0, f"HTTP {status}: {data[:200]!r}"
    if code == 14 and _NO_LEADER in message:
        raise _NotSent(message)
    if code in _UNAVAILABLE_CODES:
        raise _Broken(message)
    raise _EtcdError(code, message)


class _Conn:
    """One HTTP/1.1 connection to one member's gateway."""

    __slots__ = ("ep", "reader", "writer")

    def __init__(self, ep: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.ep = ep
        self.reader = reader
        self.writer = writer


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The status code and the lower-cased header block of a response."""
    head = await reader.readuntil(b"\r\n\r\n")
    return int(head[9:12]), head.lower()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep-alive) of one response: Content-Length, chunked (Go's choice past 2 KiB) or until EOF."""
    status, head = await _read_head(reader)
    keep = head.startswith(b"http/1.1") and b"\r\nconnection: close" not in head
    i = head.find(b"\r\ncontent-length:")
    if i >= 0:
        length = int(head[i + 17:head.index(b"\r\n", i + 2)])
        body = await reader.readexactly(length) if length else b""
    elif b"\r\ntransfer-encoding: chunked" in head:
        parts = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16):
            parts.append((await reader.readexactly(size + 2))[:-2])
        while await reader.readuntil(b"\r\n") != b"\r\n":         # trailers
            pass
        body = b"".join(parts)
    else:
        body, keep = await reader.read(), False
    return status, body, keep


class _WatchStream:
    """An open ``/v3/watch`` response: de-chunks the body and splits it into the gateway's JSON lines.

    Every await leaves the state consistent when cancelled (asyncio stream reads consume nothing until they
    complete), so a read may be wrapped in a timeout and simply called again.
    """

    __slots__ = ("buf", "conn", "crlf", "left", "scanned")

    def __init__(self, conn: _Conn) -> None:
        self.conn = conn
        self.buf = bytearray()
        self.scanned = 0                  # no newline in buf[:scanned]
        self.left = 0                     # bytes still due in the current chunk
        self.crlf = False                 # a chunk's trailing CRLF is still due

    async def message(self) -> dict[str, Any] | None:
        """The next JSON message, None at the end of the stream."""
        while True:
            nl = self.buf.find(b"\n", self.scanned)
            if nl >= 0:
                line = bytes(self.buf[:nl])
                del self.buf[:nl + 1]
                self.scanned = 0
                if line.strip():
                    out: dict[str, Any] = orjson.loads(line)
                    return out
                continue
            self.scanned = len(self.buf)
            data = await self._piece()
            if not data:
                return None
            self.buf += data

    async def _piece(self) -> bytes:
        reader = self.conn.reader
        if self.left == 0:
            if self.crlf:
                await reader.readexactly(2)
                self.crlf = False
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                return b""
            self.left = size
        data = await reader.read(self.left)
        self.left -= len(data)
        self.crlf = self.left == 0
        return data


_STREAM_ERRORS = (OSError, EOFError, asyncio.LimitOverrunError, ValueError, TimeoutError)
