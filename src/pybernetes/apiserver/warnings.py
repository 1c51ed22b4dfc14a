"""Per-request warnings, sent back as ``Warning: 299 - "..."`` headers (upstream ``warning.AddWarning(ctx)``).

A context variable holds the request's list so that any layer (decoding, strategies, admission) can warn
without threading a parameter through every call.
"""

from __future__ import annotations

import contextvars

_WARNINGS: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("warnings", default=None)


def start() -> list[str]:
    lst: list[str] = []
    _WARNINGS.set(lst)
    return lst


def add(message: str) -> None:
    lst = _WARNINGS.get()
    if lst is not None and message not in lst:
        lst.append(message)


def header_value(message: str) -> str:
    escaped = message.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'
