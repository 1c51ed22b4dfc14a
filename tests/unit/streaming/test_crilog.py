"""CRI log files as the kubelet serves them: parsing, timestamps, tail, since, limitBytes, stream selection, and
following across writes, rotation and the container's end (driven by a scripted ``sleep``, no waiting)."""

from __future__ import annotations

import io
import os
import pathlib
from collections.abc import Callable

import pytest

from pybernetes.streaming import crilog

T0 = crilog.parse_time(b"2026-01-01T00:00:00Z")[0]
SEC = 1_000_000_000


def line(t: int, text: str, stream: str = "stdout", tag: str = "F") -> bytes:
    return f"{crilog.format_time(T0 + t * SEC)} {stream} {tag} {text}\n".encode()


@pytest.fixture()
def logfile(tmp_path: pathlib.Path) -> pathlib.Path:
    p = tmp_path / "0.log"
    p.write_bytes(line(0, "zero") + line(1, "one", "stderr") + line(2, "par", tag="P") + line(3, "tial")
                  + line(4, "four"))
    return p


async def read(path: pathlib.Path, opts: crilog.LogOptions, **kw: object) -> bytes:
    out = b""
    async for chunk in crilog.read_log(str(path), opts, **kw):  # type: ignore[arg-type]
        out += chunk
    return out


@pytest.mark.parametrize("raw,expected", [
    (b"2016-10-06T00:17:09.669794202Z stdout P log content 1\n",
     crilog.LogLine(1475713029669794202, 0, "stdout", True, b"log content 1")),
    (b"2016-10-06T00:17:09.669794203Z stderr F log content 2\n",
     crilog.LogLine(1475713029669794203, 0, "stderr", False, b"log content 2\n")),
    (b"2016-10-06T02:17:09+02:00 stdout F:x tagged\n",
     crilog.LogLine(1475713029000000000, 7200, "stdout", False, b"tagged\n")),
    (b"2016-10-06T00:17:09.5Z stdout F  leading space\n",
     crilog.LogLine(1475713029500000000, 0, "stdout", False, b" leading space\n")),
])
def test_parse_line(raw: bytes, expected: crilog.LogLine) -> None:
    assert crilog.parse_line(raw) == expected


@pytest.mark.parametrize("raw", [b"garbage", b"2016-10-06T00:17:09Z", b"2016-10-06T00:17:09Z stdin F x\n",
                                 b"2016-10-06T00:17:09Z stdout", b'{"log":"docker json"}\n'])
def test_non_cri_lines_are_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        crilog.parse_line(raw)


@pytest.mark.parametrize("ns,offset,text", [
    (1475713029669794202, 0, "2016-10-06T00:17:09.669794202Z"),
    (1475713029000000000, 0, "2016-10-06T00:17:09.000000000Z"),
    (1475713029000000001, 7200, "2016-10-06T02:17:09.000000001+02:00"),
    (1475713029000000001, -16200, "2016-10-05T19:47:09.000000001-04:30"),
])
def test_format_time_has_nine_fraction_digits_and_the_lines_offset(ns: int, offset: int, text: str) -> None:
    assert crilog.format_time(ns, offset) == text
    assert crilog.parse_time(text.encode()) == (ns, offset)


@pytest.mark.parametrize("data,n,start", [
    (b"a\nb\nc\n", -1, 0), (b"a\nb\nc\n", 0, 6), (b"a\nb\nc\n", 1, 4), (b"a\nb\nc\n", 3, 0), (b"a\nb\nc\n", 9, 0),
    (b"a\nb\nunfinished", 1, 2), (b"a\nb\nunfinished", 0, 4), (b"", 5, 0),
    (b"x" * 5000 + b"\n" + b"y" * 5000 + b"\n", 1, 5001),        # lines across the 4 KiB blocks
])
def test_tail_start(data: bytes, n: int, start: int) -> None:
    assert crilog.tail_start(io.BytesIO(data), n) == start


async def test_everything_partial_lines_joined_by_their_content(logfile: pathlib.Path) -> None:
    assert await read(logfile, crilog.LogOptions()) == b"zero\none\npartial\nfour\n"


async def test_timestamps_prefix_every_file_line(logfile: pathlib.Path) -> None:
    out = await read(logfile, crilog.LogOptions(timestamps=True, tail=2))
    assert out == b"2026-01-01T00:00:03.000000000Z tial\n2026-01-01T00:00:04.000000000Z four\n"


@pytest.mark.parametrize("opts,expected", [
    (crilog.LogOptions(tail=0), b""),
    (crilog.LogOptions(tail=1), b"four\n"),
    (crilog.LogOptions(tail=3), b"partial\nfour\n"),
    (crilog.LogOptions(since_ns=T0 + 2 * SEC), b"partial\nfour\n"),
    (crilog.LogOptions(limit_bytes=7), b"zero\non"),
    (crilog.LogOptions(limit_bytes=5), b"zero\n"),
    (crilog.LogOptions(streams=frozenset({"stderr"})), b"one\n"),
    (crilog.LogOptions(streams=frozenset({"stdout"}), tail=4), b"partial\nfour\n"),
])
async def test_selection(logfile: pathlib.Path, opts: crilog.LogOptions, expected: bytes) -> None:
    assert await read(logfile, opts) == expected


async def test_an_unfinished_last_line_is_served_without_follow(tmp_path: pathlib.Path) -> None:
    p = tmp_path / "0.log"
    p.write_bytes(line(0, "done") + line(1, "half")[:-1])
    assert await read(p, crilog.LogOptions()) == b"done\nhalf"


async def test_lines_that_are_not_cri_are_skipped(tmp_path: pathlib.Path) -> None:
    p = tmp_path / "0.log"
    p.write_bytes(b"junk\n" + line(0, "ok"))
    assert await read(p, crilog.LogOptions()) == b"ok\n"


class Script:
    """A container that is running while steps remain; each ``sleep`` (the follower waiting) runs one step."""

    def __init__(self, steps: list[Callable[[], None]]) -> None:
        self.steps = steps
        self.sleeps = 0

    async def running(self) -> bool:
        return bool(self.steps)

    async def sleep(self, _seconds: float) -> None:
        self.sleeps += 1
        self.steps.pop(0)()


def append(p: pathlib.Path, data: bytes) -> Callable[[], None]:
    def do() -> None:
        with open(p, "ab") as f:
            f.write(data)
    return do


async def test_follow_reads_new_lines_until_the_container_stops(logfile: pathlib.Path) -> None:
    s = Script([append(logfile, line(5, "five")[:20]), append(logfile, line(5, "five")[20:]),
                append(logfile, line(6, "six"))])
    out = await read(logfile, crilog.LogOptions(follow=True, tail=1), running=s.running, sleep=s.sleep)
    assert out == b"four\nfive\nsix\n"
    assert s.sleeps == 3


async def test_follow_reads_the_last_lines_written_as_the_container_stopped(logfile: pathlib.Path) -> None:
    def stop() -> None:
        append(logfile, line(9, "bye"))()
    s = Script([stop])
    out = await read(logfile, crilog.LogOptions(follow=True, tail=0), running=s.running, sleep=s.sleep)
    assert out == b"bye\n"


async def test_follow_moves_to_the_new_file_after_rotation(logfile: pathlib.Path) -> None:
    def rotate() -> None:
        append(logfile, line(5, "last of the old file"))()
        os.rename(logfile, logfile.with_name("0.log.20260101-000005"))
        logfile.write_bytes(line(6, "first of the new file"))

    s = Script([rotate, append(logfile, line(7, "second"))])
    out = await read(logfile, crilog.LogOptions(follow=True, tail=0), running=s.running, sleep=s.sleep)
    assert out == b"last of the old file\nfirst of the new file\nsecond\n"


async def test_follow_restarts_a_file_truncated_in_place(logfile: pathlib.Path) -> None:
    def truncate() -> None:
        logfile.write_bytes(line(8, "after copytruncate"))
    s = Script([truncate])
    out = await read(logfile, crilog.LogOptions(follow=True, tail=0), running=s.running, sleep=s.sleep)
    assert out == b"after copytruncate\n"


async def test_follow_stops_at_the_byte_limit(logfile: pathlib.Path) -> None:
    s = Script([append(logfile, line(5, "five")), append(logfile, line(6, "six"))])
    out = await read(logfile, crilog.LogOptions(follow=True, tail=1, limit_bytes=8), running=s.running,
                     sleep=s.sleep)
    assert out == b"four\nfiv"
    assert s.sleeps == 1


async def test_a_symlinked_log_is_read(logfile: pathlib.Path, tmp_path: pathlib.Path) -> None:
    link = tmp_path / "containers-link.log"
    link.symlink_to(logfile)
    assert await read(link, crilog.LogOptions(tail=1)) == b"four\n"


async def test_a_missing_file_raises(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError):
        await read(tmp_path / "nope.log", crilog.LogOptions())
