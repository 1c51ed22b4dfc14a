"""Reading container logs written in the CRI format (upstream ``pkg/kubelet/kuberuntime/logs``).

A CRI log line is ``<RFC3339Nano time> <stdout|stderr> <tags> <content>\\n``; the first tag is ``P`` for a partial
line (the runtime split a long line; the content has no newline of its own) or ``F`` for a full one. What the
kubelet serves, as upstream does:

- each file line becomes its content alone (a partial line stays without newline), prefixed with the time in
  RFC3339Nano with exactly nine fraction digits and a space when ``timestamps``;
- ``tailLines`` counts file lines back from the end (an unfinished last line does not count), ``sinceSeconds``/
  ``sinceTime`` drop older lines, ``limitBytes`` cuts the output, mid-line if need be;
- ``follow`` keeps reading while the container runs and stops at the end of the file once it no longer does; a
  rotated file (renamed and recreated, or truncated in place) is finished and the new one at the same path read
  from its start. Times are kept as integer nanoseconds with their UTC offset, so no precision is lost.
"""

from __future__ import annotations

import asyncio
import calendar
import datetime
import logging
import os
import re
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import BinaryIO

log = logging.getLogger(__name__)
BLOCK = 4096
READ_SIZE = 64 * 1024
POLL = 0.25                         # follow: how often to look for new data (upstream: fsnotify + 1 s force check)
_TS = re.compile(rb"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})")


@dataclass(frozen=True, slots=True)
class LogLine:
    time_ns: int                    # nanoseconds since the epoch
    offset: int                     # the timestamp's UTC offset in seconds (kept for output)
    stream: str                     # "stdout" | "stderr"
    partial: bool
    content: bytes


@dataclass(frozen=True, slots=True)
class LogOptions:
    tail: int = -1                  # -1: everything
    limit_bytes: int = -1           # -1: no limit
    since_ns: int = 0               # drop lines older than this (ns since the epoch)
    follow: bool = False
    timestamps: bool = False
    streams: frozenset[str] = frozenset({"stdout", "stderr"})


def parse_time(raw: bytes) -> tuple[int, int]:
    """(ns since the epoch, UTC offset s) of an RFC 3339 time with up to nine fraction digits."""
    m = _TS.fullmatch(raw)
    if m is None:
        raise ValueError(f"unexpected timestamp {raw[:40]!r}")
    y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
    frac = m.group(7) or b""
    nanos = int((frac + b"000000000")[:9])
    tz = m.group(8)
    offset = 0 if tz == b"Z" else (1 if tz[:1] == b"+" else -1) * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    secs = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) - offset
    return secs * 1_000_000_000 + nanos, offset


def format_time(time_ns: int, offset: int = 0) -> str:
    """RFC3339Nano with a fixed nine-digit fraction (upstream ``RFC3339NanoFixed``), in the given offset."""
    secs, nanos = divmod(time_ns, 1_000_000_000)
    t = datetime.datetime.fromtimestamp(secs + offset, datetime.UTC)
    if offset == 0:
        zone = "Z"
    else:
        sign = "+" if offset > 0 else "-"
        hh, mm = divmod(abs(offset) // 60, 60)
        zone = f"{sign}{hh:02d}:{mm:02d}"
    return f"{t:%Y-%m-%dT%H:%M:%S}.{nanos:09d}{zone}"


def parse_line(line: bytes) -> LogLine:
    """One CRI log line (with its newline, if it had one). Raises ValueError if it is not CRI."""
    i = line.find(b" ")
    if i < 0:
        raise ValueError("timestamp is not found")
    time_ns, offset = parse_time(line[:i])
    rest = line[i + 1:]
    j = rest.find(b" ")
    if j < 0:
        raise ValueError("stream type is not found")
    stream = rest[:j].decode("ascii", "replace")
    if stream not in ("stdout", "stderr"):
        raise ValueError(f"unexpected stream type {stream!r}")
    rest = rest[j + 1:]
    k = rest.find(b" ")
    if k < 0:
        raise ValueError("log tag is not found")
    partial = rest[:k].split(b":")[0] == b"P"
    content = rest[k + 1:]
    if partial and content.endswith(b"\n"):
        content = content[:-1]
    return LogLine(time_ns, offset, stream, partial, content)


def format_line(line: LogLine, *, timestamps: bool) -> bytes:
    if timestamps:
        return format_time(line.time_ns, line.offset).encode() + b" " + line.content
    return line.content


def tail_start(f: BinaryIO, n: int) -> int:
    """Offset where the last ``n`` complete lines start (upstream ``FindTailLineStartIndex``; n < 0: 0)."""
    if n < 0:
        return 0
    size = f.seek(0, os.SEEK_END)
    count = 0
    left = size
    buf = b""
    right = size
    while right > 0 and count <= n:
        left = max(0, right - BLOCK)
        f.seek(left)
        buf = f.read(right - left)
        count += buf.count(b"\n")
        right = left
    while count > n:
        idx = buf.index(b"\n") + 1
        buf = buf[idx:]
        left += idx
        count -= 1
    return left


class LogWriter:
    """Applies ``since``, the stream filter and ``limitBytes`` to parsed lines; ``done`` once the limit is hit."""

    def __init__(self, opts: LogOptions) -> None:
        self.opts = opts
        self.remain = opts.limit_bytes if opts.limit_bytes >= 0 else -1
        self.done = False

    def render(self, line: LogLine) -> bytes:
        if line.time_ns < self.opts.since_ns or line.stream not in self.opts.streams or self.done:
            return b""
        out = format_line(line, timestamps=self.opts.timestamps)
        if self.remain >= 0:
            if len(out) >= self.remain:
                out = out[:self.remain]
                self.done = True
            self.remain -= len(out)
        return out


Running = Callable[[], Awaitable[bool]]
Sleep = Callable[[float], Awaitable[None]]


async def read_log(path: str, opts: LogOptions, *, running: Running | None = None, sleep: Sleep = asyncio.sleep,
                   poll: float = POLL) -> AsyncGenerator[bytes, None]:
    """The container's log as the kubelet serves it, chunk by chunk. ``running`` tells whether to keep following
    (default: not running, so ``follow`` reads to the end once). File access runs in a thread."""
    f = await asyncio.to_thread(_open_at_tail, path, opts.tail)
    writer = LogWriter(opts)
    # Without follow, tailLines also bounds how many lines are read (lines written meanwhile are not served).
    budget = opts.tail if opts.tail >= 0 and not opts.follow else -1
    pending = b""                   # an unfinished line waiting for its end (follow)
    try:
        while True:
            chunk = await asyncio.to_thread(f.read, READ_SIZE)
            if chunk:
                out, pending, budget = _render_block(writer, pending + chunk, path, budget)
                if out:
                    yield out
                if writer.done or budget == 0:
                    return
                continue
            if opts.follow:
                rotated = await asyncio.to_thread(_reopen_if_rotated, f, path)
                if rotated is not None:
                    pending += await asyncio.to_thread(f.read)      # finish the old file first
                    f.close()
                    f = rotated
                    continue
                if running is not None and await running():
                    await sleep(poll)
                    continue
                # Stopped: one last read, the container may have written its final lines just before.
                pending += await asyncio.to_thread(f.read)
            out, pending, budget = _render_block(writer, pending, path, budget)
            if pending and budget != 0 and not writer.done:
                out += _render(writer, pending, path)            # an unfinished last line is served as it is
            if out:
                yield out
            return
    finally:
        f.close()


def _render_block(writer: LogWriter, data: bytes, path: str, budget: int) -> tuple[bytes, bytes, int]:
    """Render the complete lines of ``data``: (output, the unfinished rest, lines still allowed or -1)."""
    lines = data.split(b"\n")
    rest = lines.pop()
    out = bytearray()
    for raw in lines:
        if budget == 0 or writer.done:
            break
        out += _render(writer, raw + b"\n", path)
        if budget > 0:
            budget -= 1
    return bytes(out), rest, budget


def _render(writer: LogWriter, raw: bytes, path: str) -> bytes:
    try:
        line = parse_line(raw)
    except ValueError as e:
        log.debug("skipping a log line that is not CRI", extra={"path": path, "error": str(e)})
        return b""
    return writer.render(line)


def _open_at_tail(path: str, tail: int) -> BinaryIO:
    f = open(os.path.realpath(path), "rb")                # closed by read_log
    try:
        f.seek(tail_start(f, tail))
    except BaseException:
        f.close()
        raise
    return f


def _reopen_if_rotated(f: BinaryIO, path: str) -> BinaryIO | None:
    """A new file object if the log at ``path`` is no longer the open file (renamed away and recreated) or was
    truncated below our position (copytruncate); else None."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None                 # rotated away, the new file not created yet: keep the old one for now
    old = os.fstat(f.fileno())
    if (st.st_ino, st.st_dev) != (old.st_ino, old.st_dev) or st.st_size < f.tell():
        try:
            return open(path, "rb")
        except FileNotFoundError:
            return None
    return None
