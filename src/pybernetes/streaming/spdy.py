"""SPDY/3.1 framing: frames as values, their byte encoding, and the zlib-compressed name/value header blocks.

Kubernetes streams exec, attach and port-forward over SPDY/3.1 (``Upgrade: SPDY/3.1``) with moby/spdystream on the
Go side. Only the wire format lives here (pure functions and a stateful header codec); sessions, streams and flow
control are :mod:`pybernetes.streaming.spdysession`.

Facts from the SPDY/3.1 draft (draft-mbelshe-httpbis-spdy-00 and the 3.1 flow-control addendum):

- every frame starts with 8 bytes: a control bit; then either *version (15 bits), type (16)* or a *stream id (31)*;
  then *flags (8), length (24)*;
- header blocks are ``count, (len, name, len, value)*`` with 32-bit big-endian lengths, names lowercase, several
  values of one name joined by NUL; each block is compressed by *one zlib stream per direction for the whole
  session* (a sync flush ends every block) primed with the SPDY/3 dictionary below;
- WINDOW_UPDATE on stream 0 grows the session window (3.1); the initial window is 64 KiB.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3

# control frame types
SYN_STREAM = 1
SYN_REPLY = 2
RST_STREAM = 3
SETTINGS = 4
PING = 6
GOAWAY = 7
HEADERS = 8
WINDOW_UPDATE = 9

FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
FLAG_SETTINGS_CLEAR = 0x01

# RST_STREAM status codes
PROTOCOL_ERROR = 1
INVALID_STREAM = 2
REFUSED_STREAM = 3
UNSUPPORTED_VERSION = 4
CANCEL = 5
INTERNAL_ERROR = 6
FLOW_CONTROL_ERROR = 7
STREAM_IN_USE = 8
STREAM_ALREADY_CLOSED = 9
FRAME_TOO_LARGE = 11

# GOAWAY status codes
GOAWAY_OK = 0
GOAWAY_PROTOCOL_ERROR = 1
GOAWAY_INTERNAL_ERROR = 2

SETTINGS_MAX_CONCURRENT_STREAMS = 4
SETTINGS_INITIAL_WINDOW_SIZE = 7

DEFAULT_WINDOW = 65536
MAX_LENGTH = 0xFFFFFF
MAX_HEADER_BLOCK = 1 << 20          # decompressed; a bigger block is a protocol error, not a memory exhaustion

# The SPDY/3 header compression dictionary (the spec's constant): 4-byte big-endian length-prefixed tokens, then
# a run of status codes, reason phrases, dates and content types, all as raw bytes.
_DICT_TOKENS = (
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
    "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection",
    "content-base", "content-encoding", "content-language", "content-length", "content-location", "content-md5",
    "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host", "if-match",
    "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
    "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer", "retry-after",
    "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning",
    "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie",
    "keep-alive", "origin",
)
_DICT_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
    "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY = b"".join(struct.pack(">I", len(t)) + t.encode() for t in _DICT_TOKENS) + _DICT_TAIL.encode()

Headers = dict[str, list[str]]


class ProtocolError(Exception):
    """The peer sent something that is not SPDY/3.1; the session must end (GOAWAY PROTOCOL_ERROR)."""


# ------------------------------------------------------------------ frames
@dataclass(frozen=True, slots=True)
class DataFrame:
    stream_id: int
    data: bytes
    fin: bool = False


@dataclass(frozen=True, slots=True)
class SynStream:
    stream_id: int
    headers: Headers
    associated_to: int = 0
    priority: int = 0
    slot: int = 0
    fin: bool = False
    unidirectional: bool = False


@dataclass(frozen=True, slots=True)
class SynReply:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    fin: bool = False


@dataclass(frozen=True, slots=True)
class RstStream:
    stream_id: int
    status: int


@dataclass(frozen=True, slots=True)
class Settings:
    values: tuple[tuple[int, int, int], ...]         # (flags, id, value)
    clear: bool = False

    def get(self, setting_id: int) -> int | None:
        for _flags, sid, value in self.values:
            if sid == setting_id:
                return value
        return None


@dataclass(frozen=True, slots=True)
class Ping:
    ping_id: int


@dataclass(frozen=True, slots=True)
class GoAway:
    last_good_stream_id: int
    status: int = GOAWAY_OK


@dataclass(frozen=True, slots=True)
class HeadersFrame:
    stream_id: int
    headers: Headers
    fin: bool = False


@dataclass(frozen=True, slots=True)
class WindowUpdate:
    stream_id: int
    delta: int


@dataclass(frozen=True, slots=True)
class UnknownControl:
    """A control frame of a type SPDY/3.1 does not define: the spec says to ignore it."""

    frame_type: int
    flags: int
    payload: bytes


Frame = (DataFrame | SynStream | SynReply | RstStream | Settings | Ping | GoAway | HeadersFrame | WindowUpdate
         | UnknownControl)


# ------------------------------------------------------------------ header blocks
def pack_headers(headers: Headers) -> bytes:
    """The uncompressed name/value block (names lowercased, several values NUL-joined)."""
    parts = [struct.pack(">I", len(headers))]
    for name, values in headers.items():
        n = name.lower().encode()
        v = "\x00".join(values).encode()
        parts += (struct.pack(">I", len(n)), n, struct.pack(">I", len(v)), v)
    return b"".join(parts)


def unpack_headers(block: bytes) -> Headers:
    """Parse an uncompressed name/value block; names are lowercased (spdystream lowercases what it receives)."""
    def field(pos: int) -> tuple[bytes, int]:
        (n,) = struct.unpack_from(">I", block, pos)
        if pos + 4 + n > len(block):
            raise ProtocolError("truncated header block")
        return block[pos + 4:pos + 4 + n], pos + 4 + n

    try:
        (count,) = struct.unpack_from(">I", block, 0)
        pos = 4
        out: Headers = {}
        for _ in range(count):
            name, pos = field(pos)
            value, pos = field(pos)
            out.setdefault(name.decode().lower(), []).extend(value.decode().split("\x00"))
    except (struct.error, UnicodeDecodeError) as e:
        raise ProtocolError(f"malformed header block: {e}") from None
    if pos != len(block):
        raise ProtocolError("trailing bytes after the header block")
    return out


class HeaderCodec:
    """Both zlib streams of one session end: what we send is compressed by one, what we receive decompressed by
    the other, each block a sync-flushed piece of a single stream (the peer's decompressor depends on every block
    we sent before, so one codec per session, used in frame order)."""

    __slots__ = ("_compress", "_decompress")

    def __init__(self) -> None:
        self._compress = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, zdict=DICTIONARY)
        self._decompress = zlib.decompressobj(zdict=DICTIONARY)

    def encode(self, headers: Headers) -> bytes:
        raw = pack_headers(headers)
        return self._compress.compress(raw) + self._compress.flush(zlib.Z_SYNC_FLUSH)

    def decode(self, block: bytes) -> Headers:
        try:
            raw = self._decompress.decompress(block, MAX_HEADER_BLOCK)
        except zlib.error as e:
            raise ProtocolError(f"header block does not decompress: {e}") from None
        if self._decompress.unconsumed_tail:
            raise ProtocolError("header block too large")
        return unpack_headers(raw)


# ------------------------------------------------------------------ encoding
def _control(frame_type: int, flags: int, payload: bytes) -> bytes:
    if len(payload) > MAX_LENGTH:
        raise ValueError("control frame payload too long")
    return struct.pack(">HHI", 0x8000 | VERSION, frame_type, (flags << 24) | len(payload)) + payload


def encode_data(stream_id: int, data: bytes, *, fin: bool = False) -> bytes:
    if len(data) > MAX_LENGTH:
        raise ValueError("data frame too long")
    return struct.pack(">II", stream_id & 0x7FFFFFFF, ((FLAG_FIN if fin else 0) << 24) | len(data)) + data


def encode(frame: Frame, codec: HeaderCodec | None = None) -> bytes:
    """The bytes of one frame. Frames carrying headers need the session's codec (and must then be sent in the
    order they were encoded)."""
    if isinstance(frame, DataFrame):
        return encode_data(frame.stream_id, frame.data, fin=frame.fin)
    if isinstance(frame, SynStream | SynReply | HeadersFrame):
        if codec is None:
            raise ValueError("header frames need the session's HeaderCodec")
        block = codec.encode(frame.headers)
        flags = FLAG_FIN if frame.fin else 0
        if isinstance(frame, SynStream):
            flags |= FLAG_UNIDIRECTIONAL if frame.unidirectional else 0
            head = struct.pack(">IIBB", frame.stream_id & 0x7FFFFFFF, frame.associated_to & 0x7FFFFFFF,
                               (frame.priority & 0x7) << 5, frame.slot)
            return _control(SYN_STREAM, flags, head + block)
        kind = SYN_REPLY if isinstance(frame, SynReply) else HEADERS
        return _control(kind, flags, struct.pack(">I", frame.stream_id & 0x7FFFFFFF) + block)
    if isinstance(frame, RstStream):
        return _control(RST_STREAM, 0, struct.pack(">II", frame.stream_id & 0x7FFFFFFF, frame.status))
    if isinstance(frame, Settings):
        body = struct.pack(">I", len(frame.values)) + b"".join(
            struct.pack(">II", ((flags & 0xFF) << 24) | (sid & 0xFFFFFF), value) for flags, sid, value in frame.values)
        return _control(SETTINGS, FLAG_SETTINGS_CLEAR if frame.clear else 0, body)
    if isinstance(frame, Ping):
        return _control(PING, 0, struct.pack(">I", frame.ping_id))
    if isinstance(frame, GoAway):
        return _control(GOAWAY, 0, struct.pack(">II", frame.last_good_stream_id & 0x7FFFFFFF, frame.status))
    if isinstance(frame, WindowUpdate):
        return _control(WINDOW_UPDATE, 0, struct.pack(">II", frame.stream_id & 0x7FFFFFFF, frame.delta & 0x7FFFFFFF))
    if isinstance(frame, UnknownControl):
        return _control(frame.frame_type, frame.flags, frame.payload)
    raise TypeError(f"not a SPDY frame: {frame!r}")


# ------------------------------------------------------------------ decoding
class FrameReader:
    """Incremental decoder: :meth:`feed` bytes as they arrive, get back every complete frame (in order)."""

    __slots__ = ("_buf", "_codec")

    def __init__(self, codec: HeaderCodec) -> None:
        self._buf = bytearray()
        self._codec = codec

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame]:
        buf = self._buf
        buf += data
        out: list[Frame] = []
        pos = 0
        n = len(buf)
        while n - pos >= 8:
            first, second = struct.unpack_from(">II", buf, pos)
            length = second & 0xFFFFFF
            if n - pos < 8 + length:
                break
            payload = bytes(buf[pos + 8:pos + 8 + length])
            flags = second >> 24
            pos += 8 + length
            if first & 0x80000000:
                version = (first >> 16) & 0x7FFF
                if version != VERSION:
                    raise ProtocolError(f"unsupported SPDY version {version}")
                out.append(self._control(first & 0xFFFF, flags, payload))
            else:
                out.append(DataFrame(first & 0x7FFFFFFF, payload, bool(flags & FLAG_FIN)))
        if pos:
            del buf[:pos]
        return out

    def _control(self, kind: int, flags: int, p: bytes) -> Frame:
        fin = bool(flags & FLAG_FIN)
        try:
            if kind == SYN_STREAM:
                sid, assoc, pri, slot = struct.unpack_from(">IIBB", p)
                return SynStream(sid & 0x7FFFFFFF, self._codec.decode(p[10:]), assoc & 0x7FFFFFFF, pri >> 5, slot,
                                 fin, bool(flags & FLAG_UNIDIRECTIONAL))
            if kind in (SYN_REPLY, HEADERS):
                (sid,) = struct.unpack_from(">I", p)
                headers = self._codec.decode(p[4:])
                if kind == SYN_REPLY:
                    return SynReply(sid & 0x7FFFFFFF, headers, fin)
                return HeadersFrame(sid & 0x7FFFFFFF, headers, fin)
            if kind == RST_STREAM:
                sid, status = struct.unpack_from(">II", p)
                return RstStream(sid & 0x7FFFFFFF, status)
            if kind == SETTINGS:
                (count,) = struct.unpack_from(">I", p)
                if len(p) != 4 + 8 * count:
                    raise ProtocolError("SETTINGS length does not match its entry count")
                vals = []
                for i in range(count):
                    fid, value = struct.unpack_from(">II", p, 4 + 8 * i)
                    vals.append((fid >> 24, fid & 0xFFFFFF, value))
                return Settings(tuple(vals), bool(flags & FLAG_SETTINGS_CLEAR))
            if kind == PING:
                (pid,) = struct.unpack_from(">I", p)
                return Ping(pid)
            if kind == GOAWAY:
                last, status = struct.unpack_from(">II", p)
                return GoAway(last & 0x7FFFFFFF, status)
            if kind == WINDOW_UPDATE:
                sid, delta = struct.unpack_from(">II", p)
                return WindowUpdate(sid & 0x7FFFFFFF, delta & 0x7FFFFFFF)
        except struct.error:
            raise ProtocolError(f"control frame {kind} too short") from None
        return UnknownControl(kind, flags, p)
