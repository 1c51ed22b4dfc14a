"""CRI log lines (format, partial lines) and size-based rotation as the kubelet's log manager does it."""

from __future__ import annotations

import datetime
import gzip
import os
from pathlib import Path

import pytest

from pybernetes.kubelet.runtime.oci import logs


@pytest.mark.parametrize(("ns", "text"), [
    (1_795_752_306_123_456_789, b"2026-11-27T04:05:06.123456789Z"),
    (1_795_752_306_120_000_000, b"2026-11-27T04:05:06.12Z"),          # Go trims trailing zeros
    (1_795_752_306_000_000_000, b"2026-11-27T04:05:06Z"),
    (1_795_752_306_000_000_001, b"2026-11-27T04:05:06.000000001Z"),
])
def test_rfc3339nano(ns: int, text: bytes) -> None:
    assert logs.rfc3339nano(ns) == text
    parsed = datetime.datetime.fromisoformat(text.decode().replace("Z", "+00:00"))
    assert int(parsed.timestamp()) == ns // 1_000_000_000


def test_cri_line() -> None:
    assert logs.cri_line(b"T", "stdout", False, b"hi") == b"T stdout F hi\n"
    assert logs.cri_line(b"T", "stderr", True, b"") == b"T stderr P \n"


@pytest.mark.parametrize(("chunks", "want", "rest"), [
    ([b"a\nb\n"], [(False, b"a"), (False, b"b")], []),
    ([b"ab", b"c\n"], [(False, b"abc")], []),
    ([b"x" * 10], [(True, b"x" * 4), (True, b"x" * 4)], [(False, b"xx")]),
    ([b"xxxx\n"], [(False, b"xxxx")], []),                          # exactly max_line before the newline
    ([b"xxxxx\n"], [(True, b"xxxx"), (False, b"x")], []),
    ([b"\n\n"], [(False, b""), (False, b"")], []),
    ([b"tail"], [(True, b"tail")], []),
    ([b"no newline"], [(True, b"no n"), (True, b"ewli")], [(False, b"ne")]),
    ([b"a\r\n"], [(False, b"a\r")], []),
])
def test_line_splitter(chunks: list[bytes], want: list[tuple[bool, bytes]], rest: list[tuple[bool, bytes]]) -> None:
    s = logs.LineSplitter(max_line=4)
    got: list[tuple[bool, bytes]] = []
    for c in chunks:
        got += s.feed(c)
    assert got == want
    assert s.flush() == rest
    assert s.flush() == []


class Clock:
    def __init__(self) -> None:
        self.ns = 1_795_752_306_000_000_000

    def __call__(self) -> int:
        return self.ns

    def tick(self, seconds: int = 1) -> None:
        self.ns += seconds * 1_000_000_000


def test_log_file_writes_cri_lines(tmp_path: Path) -> None:
    clock = Clock()
    f = logs.LogFile(tmp_path / "pods" / "0.log", now_ns=clock)
    f.write("stdout", b"hello\nwor")
    f.write("stderr", b"oops\n")
    f.write("stdout", b"ld\n")
    f.write("stdout", b"unterminated")
    f.close()
    assert (tmp_path / "pods" / "0.log").read_bytes() == (
        b"2026-11-27T04:05:06Z stdout F hello\n2026-11-27T04:05:06Z stderr F oops\n"
        b"2026-11-27T04:05:06Z stdout F world\n2026-11-27T04:05:06Z stdout F unterminated\n")


def test_log_file_appends_to_an_existing_file(tmp_path: Path) -> None:
    p = tmp_path / "0.log"
    p.write_bytes(b"old\n")
    f = logs.LogFile(p, now_ns=Clock())
    f.write("stdout", b"new\n")
    f.close()
    assert p.read_bytes().startswith(b"old\n") and p.read_bytes().endswith(b"stdout F new\n")


def test_rotation_keeps_max_files_and_compresses_older_ones(tmp_path: Path) -> None:
    clock = Clock()
    p = tmp_path / "0.log"
    f = logs.LogFile(p, max_size=100, max_files=3, now_ns=clock)
    for i in range(6):
        f.write("stdout", b"%d" % i + b"x" * 80 + b"\n")         # each line alone passes 100 bytes
        clock.tick()
    f.close()
    stamp = [datetime.datetime.fromtimestamp((clock.ns - (6 - i) * 10**9) / 1e9).strftime(logs.ROTATED_FORMAT)
             for i in range(6)]
    names = sorted(os.listdir(tmp_path))
    assert names == sorted(["0.log", f"0.log.{stamp[5]}", f"0.log.{stamp[4]}.gz"])    # max_files: 3
    assert p.read_bytes() == b""
    assert (tmp_path / f"0.log.{stamp[5]}").read_bytes().split(b" ", 3)[3].startswith(b"5x")
    with gzip.open(tmp_path / f"0.log.{stamp[4]}.gz") as g:
        assert g.read().split(b" ", 3)[3].startswith(b"4x")


def test_rotation_waits_for_the_next_second(tmp_path: Path) -> None:
    clock = Clock()
    f = logs.LogFile(tmp_path / "0.log", max_size=10, max_files=5, now_ns=clock)
    f.write("stdout", b"first line\n")
    f.write("stdout", b"second line\n")              # same second: the rotated name is taken, no rotation
    assert len(os.listdir(tmp_path)) == 2
    assert b"second line" in (tmp_path / "0.log").read_bytes()
    f.close()


def test_rotated_logs_leftovers(tmp_path: Path) -> None:
    base = tmp_path / "0.log"
    for name in ("0.log.1", "0.log.1.gz", "0.log.2.gz", "0.log.3", "0.log.3.gz.tmp", "other.log.1"):
        (tmp_path / name).write_text("x")
    inuse, unused = logs.rotated_logs(base)
    assert [Path(p).name for p in inuse] == ["0.log.1.gz", "0.log.2.gz", "0.log.3"]
    assert sorted(Path(p).name for p in unused) == ["0.log.1", "0.log.3.gz.tmp"]


def test_background_compression_is_handed_off(tmp_path: Path) -> None:
    jobs = []
    clock = Clock()
    f = logs.LogFile(tmp_path / "0.log", max_size=10, max_files=5, now_ns=clock, background=jobs.append)
    for _ in range(3):
        f.write("stdout", b"0123456789\n")
        clock.tick()
    f.close()
    assert len(jobs) == 2                 # the second and third rotations compress what was rotated before
    for job in jobs:
        job()                             # a file the first job compressed is skipped by the second
    files = os.listdir(tmp_path)
    assert len(files) == 4 and "0.log" in files                 # current, latest rotated, two compressed
    assert sum(n.endswith(".gz") for n in files) == 2


def test_paths() -> None:
    assert logs.container_log_path("/var/log", namespace="ns", name="web", uid="u1", container="app",
                                   attempt=2) == Path("/var/log/pods/ns_web_u1/app/2.log")
    assert logs.container_log_link("/var/log", namespace="ns", name="web", container="app",
                                   container_id="abc") == Path("/var/log/containers/web_ns_app-abc.log")
