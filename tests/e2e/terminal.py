"""A program on a pseudo-terminal, driven as a person at it would: ``kubectl exec -it`` in the e2e tests."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import termios
import time
from collections.abc import Mapping, Sequence


def terminal_session(argv: Sequence[str], env: Mapping[str, str], *, rows: int, cols: int,
                     conversation: Sequence[tuple[bytes, bytes]], timeout: float = 60) -> tuple[bytes, int]:
    """Run ``argv`` on a pty of ``rows``×``cols``; for each ``(prompt, reply)`` wait until ``prompt`` shows in
    the output, then type ``reply``; read to the end of the session. Returns (everything shown, exit code)."""
    pid, fd = pty.fork()
    if pid == 0:                                            # the child: the program on the pty
        os.execve(argv[0], list(argv), dict(env))
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    out = b""
    deadline = time.monotonic() + timeout

    def until(marker: bytes | None) -> None:
        nonlocal out
        while (marker is None or marker not in out) and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.5)[0]:
                try:
                    data = os.read(fd, 4096)
                except OSError:                             # the session ended (EIO on Linux)
                    return
                if not data:
                    return
                out += data

    for prompt, reply in conversation:
        until(prompt)
        os.write(fd, reply)
    until(None)                                             # to the end of the session
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return out, os.waitstatus_to_exitcode(status)
