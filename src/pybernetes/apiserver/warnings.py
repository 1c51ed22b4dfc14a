"""Per-request warnings, sent back as ``Warning: 299 - "..."`` headers (upstream ``warning.AddWarning(ctx)``).

A context variable holds the request's list so that any layer (decoding, strategies, admission) can warn
without threading a parameter through every call.
"""

from __future__ import annotations

import contextvars
import re

# Upstream's NewWarningHeader refuses text with control characters (unicode.IsControl: C0, DEL, C1), and its
# recorder then drops the warning; a newline in a header would also break the response.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_WARNINGS: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("warnings", default=None)


def start() -> list[str]:
    lst: list[str] = []
    _WARNINGS.set(lst)
    return lst


def add(message: str) -> None:
    lst = _WARNINGS.get()
    if lst is not None and message and message not in lst and not _CONTROL.search(message):
        lst.append(message)


def header_value(message: str) -> str:
    escaped = message.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'
