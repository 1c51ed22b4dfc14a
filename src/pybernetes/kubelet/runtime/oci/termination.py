"""A finished container's ``message``: the kubelet's ``getTerminationMessage`` rules.

The file the container wrote at its ``terminationMessagePath`` (the last 4 KiB) is appended to the runtime's own
message (a start error, a lost exit status); with ``terminationMessagePolicy: FallbackToLogsOnError`` a failed
container that wrote nothing there gets the tail of its log instead (the last 80 lines, at most 2 KiB).
"""

from __future__ import annotations

import os
from typing import Any

MAX_MESSAGE = 4 * 1024                  # kubecontainer.MaxContainerTerminationMessageLength
MAX_LOG_LINES = 80                      # MaxContainerTerminationMessageLogLines
MAX_LOG_BYTES = 2 * 1024                # MaxContainerTerminationMessageLogLength
LOG_READ = 256 * 1024


def read_tail(path: str, limit: int) -> bytes:
    """The last ``limit`` bytes of a file (upstream ``tail.ReadAtMost``)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            f.seek(size - limit)
        return f.read(limit)


def log_content(raw: bytes) -> list[bytes]:
    """The lines a CRI log holds (partial pieces joined); a first line cut by the read is dropped."""
    lines: list[bytes] = []
    pending = b""
    for line in raw.split(b"\n"):
        parts = line.split(b" ", 3)
        if len(parts) < 3 or parts[1] not in (b"stdout", b"stderr"):
            continue
        content = parts[3] if len(parts) > 3 else b""
        if parts[2] == b"P":
            pending += content
            continue
        lines.append(pending + content)
        pending = b""
    if pending:
        lines.append(pending)
    return lines


def log_tail_message(log_path: str) -> str:
    try:
        raw = read_tail(log_path, LOG_READ)
    except OSError:
        return ""
    text = b"".join(line + b"\n" for line in log_content(raw)[-MAX_LOG_LINES:])
    return text[-MAX_LOG_BYTES:].decode(errors="replace")


def termination_message(rec: dict[str, Any]) -> str:
    """The message of the exited container described by a shim record."""
    meta = rec.get("meta") or {}
    message = str(rec.get("message") or "")
    code = rec.get("exit_code")
    fallback = meta.get("termination_policy") == "FallbackToLogsOnError" and code not in (0, None) \
        and rec.get("reason") != "StartError"
    written = ""
    path = str(meta.get("termination_file") or "")
    if path:
        try:
            written = read_tail(path, MAX_MESSAGE).decode(errors="replace")
        except FileNotFoundError:
            written = ""
        except OSError as e:
            written, fallback = f"Error on reading termination log {path}: {e}", False
    if not written and fallback:
        written = log_tail_message(str(rec.get("log_path") or ""))
    if written:
        message = f"{message}: {written}" if message else written
    return message
