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


# Upstream's recorder (apiserver filters/warning.go) keeps the headers to 4 Ki runes of text in all: past that it
# cuts every warning to 256 runes, replays them, and drops whatever no longer fits — a response with hundreds of
# Warning headers breaks clients (Python's http.client refuses more than 100 headers).
TOTAL_RUNES = 4 * 1024
ITEM_RUNES = 256


class Recorder(list[str]):
    """The request's warnings as they will be sent, in order: deduplicated, and capped as upstream caps them."""

    __slots__ = ("_ordered", "_truncating", "_written")

    def __init__(self) -> None:
        super().__init__()
        self._ordered: list[str] = []       # every distinct warning, uncut, for the replay when truncation starts
        self._written = 0
        self._truncating = False

    def record(self, message: str) -> None:
        if self._truncating and self._written >= TOTAL_RUNES:
            return
        if message in self._ordered:
            return
        self._ordered.append(message)
        if self._truncating:
            text = message[:ITEM_RUNES]
        elif self._written + len(message) <= TOTAL_RUNES:
            text = message
        else:                               # over budget: cut and replay everything recorded so far
            self._truncating = True
            self._written = 0
            self.clear()
            for m in self._ordered:
                self._written += len(cut := m[:ITEM_RUNES])
                self.append(cut)
            return
        self._written += len(text)
        self.append(text)


def start() -> list[str]:
    lst = Recorder()
    _WARNINGS.set(lst)
    return lst


def add(message: str) -> None:
    lst = _WARNINGS.get()
    if lst is not None and message and not _CONTROL.search(message):
        if isinstance(lst, Recorder):
            lst.record(message)
        elif message not in lst:
            lst.append(message)


def header_value(message: str) -> str:
    escaped = message.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'
