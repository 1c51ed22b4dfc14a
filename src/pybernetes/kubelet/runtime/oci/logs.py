"""Container logs in the CRI format, written by the shim from the container's stdout/stderr.

One line per line of output, as containerd writes them (``pkg/cri/io/logger.go``)::

    2026-11-27T04:05:06.123456789Z stdout F hello
    2026-11-27T04:05:06.12345Z stderr P first 16 KiB of a long line…

The timestamp is Go's ``time.RFC3339Nano`` in UTC (trailing zeros of the fraction dropped); ``F`` ends a line,
``P`` is a piece of a longer one (lines are cut at 16 KiB); output that ends without a newline is written as
``F`` when the stream closes. Paths are the kubelet's: ``/var/log/pods/<ns>_<pod>_<uid>/<container>/<restart>.log``
with a ``/var/log/containers/<pod>_<ns>_<container>-<id>.log`` link, which log shippers' Kubernetes
configurations read.

Rotation is the kubelet's ``container_log_manager`` done where the bytes are written: when the file reaches
``max_size`` it is renamed ``<log>.<YYYYMMDD-hhmmss>`` and a new one opened; older rotated files are gzipped and
at most ``max_files`` files (current, latest rotated, and ``max_files - 2`` compressed) are kept, oldest removed
first so a running ``kubectl logs`` is not cut short.
"""

from __future__ import annotations

import datetime
import glob
import gzip
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

MAX_LINE = 16 * 1024                   # containerd's default max_container_log_line_size
DEFAULT_MAX_SIZE = 10 * 1024 * 1024    # kubelet containerLogMaxSize
DEFAULT_MAX_FILES = 5                  # kubelet containerLogMaxFiles
ROTATED_FORMAT = "%Y%m%d-%H%M%S"       # Go "20060102-150405"
GZ = ".gz"
TMP = ".tmp"
STREAMS = ("stdout", "stderr")


def rfc3339nano(ns: int) -> bytes:
    """Nanoseconds since the epoch as Go formats ``time.RFC3339Nano`` in UTC."""
    secs, frac = divmod(ns, 1_000_000_000)
    t = time.gmtime(secs)
    base = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    if frac:
        base += "." + f"{frac:09d}".rstrip("0")
    return (base + "Z").encode()


def cri_line(ts: bytes, stream: str, partial: bool, content: bytes) -> bytes:
    return b"%s %s %s %s\n" % (ts, stream.encode(), b"P" if partial else b"F", content)


def pod_log_dir(root: Path | str, *, namespace: str, name: str, uid: str) -> Path:
    return Path(root) / "pods" / f"{namespace}_{name}_{uid}"


def container_log_path(root: Path | str, *, namespace: str, name: str, uid: str, container: str,
                       attempt: int) -> Path:
    return pod_log_dir(root, namespace=namespace, name=name, uid=uid) / container / f"{attempt}.log"


def container_log_link(root: Path | str, *, namespace: str, name: str, container: str, container_id: str) -> Path:
    return Path(root) / "containers" / f"{name}_{namespace}_{container}-{container_id}.log"


class LineSplitter:
    """Cuts one stream's bytes into (partial?, content) pieces: whole lines, 16 KiB pieces of longer ones, and
    the unterminated rest at the end."""

    __slots__ = ("_buf", "max_line")

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._buf = b""
        self.max_line = max_line

    def feed(self, data: bytes) -> list[tuple[bool, bytes]]:
        buf = self._buf + data if self._buf else data
        out: list[tuple[bool, bytes]] = []
        start = 0
        n = len(buf)
        while start < n:
            nl = buf.find(b"\n", start, start + self.max_line + 1)
            if nl >= 0:
                out.append((False, buf[start:nl]))
                start = nl + 1
            elif n - start >= self.max_line:
                out.append((True, buf[start:start + self.max_line]))
                start += self.max_line
            else:
                break
        self._buf = buf[start:]
        return out

    def flush(self) -> list[tuple[bool, bytes]]:
        rest, self._buf = self._buf, b""
        return [(False, rest)] if rest else []


def rotated_logs(path: Path) -> tuple[list[str], list[str]]:
    """(in use, leftovers) among ``<path>.*``: temporaries of a failed compression, and plain files whose
    ``.gz`` exists, are leftovers (upstream ``filterUnusedLogs``)."""
    logs = glob.glob(glob.escape(str(path)) + ".*")
    names = set(logs)
    inuse, unused = [], []
    for p in logs:
        if p.endswith(TMP) or (not p.endswith(GZ) and p + GZ in names):
            unused.append(p)
        else:
            inuse.append(p)
    return sorted(inuse), unused


def compress(path: str) -> None:
    """``path`` → ``path.gz`` through a temporary file, then the original is removed."""
    tmp = path + TMP
    try:
        with open(path, "rb") as src, gzip.open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(tmp, path + GZ)
        os.unlink(path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class LogFile:
    """The CRI log file of one container run, appended to by the shim as output arrives."""

    def __init__(self, path: Path | str, *, max_size: int = DEFAULT_MAX_SIZE, max_files: int = DEFAULT_MAX_FILES,
                 now_ns: Callable[[], int] = time.time_ns,
                 background: Callable[[Callable[[], None]], None] | None = None) -> None:
        self.path = Path(path)
        self.max_size = max_size
        self.max_files = max(2, max_files)
        self.now_ns = now_ns
        self.background = background or (lambda job: job())
        self._splitters = {s: LineSplitter() for s in STREAMS}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self._size = os.fstat(self._fd).st_size

    def write(self, stream: str, data: bytes) -> None:
        pieces = self._splitters[stream].feed(data)
        if pieces:
            self._emit(stream, pieces)

    def close_stream(self, stream: str) -> None:
        """The stream ended: an unterminated last line is written as a whole one (as containerd does at EOF)."""
        pieces = self._splitters[stream].flush()
        if pieces:
            self._emit(stream, pieces)

    def _emit(self, stream: str, pieces: list[tuple[bool, bytes]]) -> None:
        ts = rfc3339nano(self.now_ns())
        data = b"".join(cri_line(ts, stream, partial, content) for partial, content in pieces)
        if self._fd < 0:
            return
        os.write(self._fd, data)
        self._size += len(data)
        if 0 < self.max_size <= self._size:
            self.rotate()

    def rotate(self) -> None:
        """Rename the current file aside and start a new one (see the module docstring)."""
        stamp = datetime.datetime.fromtimestamp(self.now_ns() / 1e9).strftime(ROTATED_FORMAT)
        target = f"{self.path}.{stamp}"
        if os.path.exists(target) or os.path.exists(target + GZ):
            return                      # rotated this second already: next write tries again
        inuse, unused = rotated_logs(self.path)
        for p in unused:
            _unlink(p)
        keep = max(self.max_files - 2, 0)
        excess, inuse = inuse[:max(len(inuse) - keep, 0)], inuse[max(len(inuse) - keep, 0):]
        for p in excess:
            _unlink(p)
        os.rename(self.path, target)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self._size = 0
        plain = [p for p in inuse if not p.endswith(GZ)]
        if plain:
            self.background(lambda: _compress_all(plain))

    def close(self) -> None:
        for s in STREAMS:
            self.close_stream(s)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _compress_all(paths: list[str]) -> None:
    for p in paths:
        if os.path.exists(p):
            compress(p)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
