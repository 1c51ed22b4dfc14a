"""The inbox of a taken-over connection: bytes in order, end of stream, and back-pressure on the transport itself
(aiohttp's protocol-level pause asserts outside of HTTP parsing, so it must not be used)."""

from __future__ import annotations

import asyncio

from pybernetes.streaming.hijack import _Inbox, response_head


class Transport(asyncio.ReadTransport):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def pause_reading(self) -> None:
        self.calls.append("pause")

    def resume_reading(self) -> None:
        self.calls.append("resume")

    def is_closing(self) -> bool:
        return False


async def test_bytes_arrive_in_order_then_the_end() -> None:
    inbox = _Inbox(Transport())
    assert inbox.feed_data(b"ab") == (False, b"")
    inbox.feed_data(b"cd")
    assert await inbox.read() == b"abcd"
    reader = asyncio.ensure_future(inbox.read())
    await asyncio.sleep(0)
    assert not reader.done()
    inbox.feed_data(b"e")
    assert await reader == b"e"
    inbox.feed_eof()
    assert await inbox.read() == b"" and await inbox.read() == b""


async def test_a_full_inbox_pauses_the_transport_until_read() -> None:
    t = Transport()
    inbox = _Inbox(t, limit=10)
    inbox.feed_data(b"12345")
    assert t.calls == []
    inbox.feed_data(b"6789012")
    inbox.feed_data(b"more")
    assert t.calls == ["pause"]
    assert await inbox.read() == b"123456789012more"
    assert t.calls == ["pause", "resume"]


def test_response_head() -> None:
    assert response_head(101, "Switching Protocols", [("Upgrade", "SPDY/3.1")]) == \
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\n\r\n"
