"""SPDY sessions over an in-memory pipe: stream set-up and refusal, half-close, resets, pings, GOAWAY, protocol
errors, flow control only against peers that do it, and back-pressure from a slow reader."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from pybernetes.streaming import spdy
from pybernetes.streaming.spdysession import SpdySession, StreamReset


class End:
    """One end of an in-memory byte pipe (a ByteChannel); records every write."""

    def __init__(self, inbox: asyncio.Queue[bytes], outbox: asyncio.Queue[bytes]) -> None:
        self.inbox, self.outbox = inbox, outbox
        self.written: list[bytes] = []
        self.reads = 0
        self.closed = False

    async def read(self) -> bytes:
        self.reads += 1
        return await self.inbox.get()

    async def write(self, data: bytes) -> None:
        if self.closed:
            raise ConnectionResetError("closed")
        self.written.append(data)
        await self.outbox.put(data)

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self.outbox.put(b"")


async def settle() -> None:
    """Let every ready task run (no wall-clock waiting)."""
    for _ in range(20):
        await asyncio.sleep(0)


def pipe() -> tuple[End, End]:
    a: asyncio.Queue[bytes] = asyncio.Queue()
    b: asyncio.Queue[bytes] = asyncio.Queue()
    return End(a, b), End(b, a)


class Raw:
    """A bare peer that speaks frames directly (like spdystream: no flow control)."""

    def __init__(self, end: End) -> None:
        self.end = end
        self.codec = spdy.HeaderCodec()
        self.reader = spdy.FrameReader(self.codec)
        self.frames: list[spdy.Frame] = []

    async def send(self, frame: spdy.Frame) -> None:
        await self.end.write(spdy.encode(frame, self.codec))

    async def next(self) -> spdy.Frame:
        while not self.frames:
            data = await asyncio.wait_for(self.end.read(), 2)
            if not data:
                raise EOFError
            self.frames += self.reader.feed(data)
        return self.frames.pop(0)

    async def until(self, kind: type, n: int = 1) -> list[spdy.Frame]:
        got = []
        while len(got) < n:
            f = await self.next()
            if isinstance(f, kind):
                got.append(f)
        return got


@contextlib.asynccontextmanager
async def sessions(**server_kw: object):  # type: ignore[no-untyped-def]
    a, b = pipe()
    client = SpdySession(a, server=False)
    server = SpdySession(b, server=True, **server_kw)  # type: ignore[arg-type]
    tasks = [asyncio.ensure_future(client.run()), asyncio.ensure_future(server.run())]
    try:
        yield client, server
    finally:
        await client.close()
        await server.close()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_streams_carry_data_both_ways_and_half_close() -> None:
    async with sessions() as (client, server):
        cs = await client.open_stream({"streamtype": ["stdin"]})
        ss = await server.accept()
        assert ss is not None and ss.header("streamType") == "stdin" and ss.id == cs.id == 1
        await cs.write(b"to server")
        await cs.close()
        assert await ss.read_all() == b"to server"
        await ss.write(b"to client")
        await ss.close()
        assert await cs.read_all() == b"to client"
        assert cs.done and ss.done
        assert 1 not in server.streams and 1 not in client.streams


async def test_the_filter_refuses_streams_with_a_reset() -> None:
    async with sessions(accept=lambda s: "no port" if not s.header("port") else None) as (client, server):
        with pytest.raises(StreamReset):
            await client.open_stream({"streamtype": ["data"]})
        ok = await client.open_stream({"streamtype": ["data"], "port": ["80"]})
        accepted = await server.accept()
        assert accepted is not None and accepted.id == ok.id == 3


async def test_reset_ends_reads_and_fails_writes() -> None:
    async with sessions() as (client, server):
        cs = await client.open_stream({"streamtype": ["data"]})
        ss = await server.accept()
        assert ss is not None
        await cs.reset()
        assert await ss.read() == b""
        with pytest.raises(StreamReset):
            await ss.write(b"late")
        assert ss.reset_status == spdy.CANCEL


async def test_pings_are_answered_and_matched() -> None:
    async with sessions() as (client, server):
        await client.ping()
        await server.ping()


async def test_end_of_channel_ends_every_stream_and_accept() -> None:
    a, b = pipe()
    server = SpdySession(b, server=True)
    run = asyncio.ensure_future(server.run())
    peer = Raw(a)
    await peer.send(spdy.SynStream(1, {"streamtype": ["stdout"]}))
    s = await server.accept()
    assert s is not None
    await a.close()
    await run
    assert await s.read() == b""
    assert await server.accept() is None and await server.accept() is None


async def test_goaway_names_the_last_stream_and_protocol_errors_end_the_session() -> None:
    a, b = pipe()
    server = SpdySession(b, server=True)
    run = asyncio.ensure_future(server.run())
    peer = Raw(a)
    await peer.send(spdy.SynStream(5, {"streamtype": ["error"]}))
    assert isinstance(await peer.next(), spdy.SynReply)
    await server.goaway()
    assert await peer.next() == spdy.GoAway(5, spdy.GOAWAY_OK)
    server.goaway_sent = False
    await a.write(b"\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01")       # a SPDY/2 frame
    await run
    assert await peer.next() == spdy.GoAway(5, spdy.GOAWAY_PROTOCOL_ERROR)
    assert server.closed.is_set()


async def test_a_peer_without_flow_control_is_not_held_to_the_window() -> None:
    """spdystream (kubectl) never sends WINDOW_UPDATE: 200 KiB must go out without waiting for one."""
    a, b = pipe()
    server = SpdySession(b, server=True)
    run = asyncio.ensure_future(server.run())
    peer = Raw(a)
    await peer.send(spdy.SynStream(1, {"streamtype": ["stdout"]}))
    s = await server.accept()
    assert s is not None
    await asyncio.wait_for(s.write(b"x" * 200_000), 2)
    data = b""
    while len(data) < 200_000:
        f = await peer.next()
        if isinstance(f, spdy.DataFrame):
            assert len(f.data) <= 32 * 1024
            data += f.data
    assert data == b"x" * 200_000
    run.cancel()


async def test_a_peer_that_does_flow_control_is_held_to_its_windows() -> None:
    a, b = pipe()
    server = SpdySession(b, server=True)
    run = asyncio.ensure_future(server.run())
    peer = Raw(a)
    await peer.send(spdy.Settings(((0, spdy.SETTINGS_INITIAL_WINDOW_SIZE, 10),)))
    await peer.send(spdy.SynStream(1, {"streamtype": ["stdout"]}))
    s = await server.accept()
    assert s is not None
    writer = asyncio.ensure_future(s.write(b"abcdefghijklmnopqrstuvwxy"))
    first = (await peer.until(spdy.DataFrame))[0]
    assert first.data == b"abcdefghij"
    await settle()
    assert not writer.done() and not peer.frames
    await peer.send(spdy.WindowUpdate(1, 100))
    rest = await peer.until(spdy.DataFrame)
    assert rest[0].data == b"klmnopqrstuvwxy"
    await writer
    run.cancel()


async def test_consumed_data_is_granted_back() -> None:
    a, b = pipe()
    server = SpdySession(b, server=True)
    run = asyncio.ensure_future(server.run())
    peer = Raw(a)
    await peer.send(spdy.SynStream(1, {"streamtype": ["stdin"]}))
    s = await server.accept()
    assert s is not None
    await peer.send(spdy.DataFrame(1, b"y" * 40_000))
    assert len(await s.read()) == 40_000
    updates = await peer.until(spdy.WindowUpdate, 2)
    assert {(u.stream_id, u.delta) for u in updates} == {(1, 40_000), (0, 40_000)}
    run.cancel()


async def test_a_slow_reader_stops_the_session_reading_the_channel() -> None:
    a, b = pipe()
    server = SpdySession(b, server=True, max_buffer=10)
    run = asyncio.ensure_future(server.run())
    peer = Raw(a)
    await peer.send(spdy.SynStream(1, {"streamtype": ["stdin"]}))
    s = await server.accept()
    assert s is not None
    await peer.send(spdy.DataFrame(1, b"0123456789abcdef"))
    await peer.send(spdy.DataFrame(1, b"second"))
    await settle()
    reads = b.reads
    await settle()
    assert b.reads == reads                 # paused: the second frame waits in the channel
    assert await s.read() == b"0123456789abcdef"
    assert await s.read() == b"second"
    run.cancel()


async def test_streams_of_our_own_parity_or_reused_ids_are_refused() -> None:
    a, b = pipe()
    server = SpdySession(b, server=True)
    run = asyncio.ensure_future(server.run())
    peer = Raw(a)
    await peer.send(spdy.SynStream(2, {"streamtype": ["x"]}))
    assert await peer.next() == spdy.RstStream(2, spdy.PROTOCOL_ERROR)
    await peer.send(spdy.SynStream(1, {"streamtype": ["x"]}))
    assert isinstance(await peer.next(), spdy.SynReply)
    await peer.send(spdy.SynStream(1, {"streamtype": ["x"]}))
    assert await peer.next() == spdy.RstStream(1, spdy.PROTOCOL_ERROR)
    run.cancel()
