"""Per-container restart back-off, as upstream's ``client-go/util/flowcontrol.Backoff`` used by the kubelet.

The kubelet asks :meth:`Backoff.in_backoff_since` with the time the container last finished: while less than the
current back-off has passed since then, the restart waits (``CrashLoopBackOff``). When it may restart,
:meth:`Backoff.next` doubles the back-off (10 s, 20 s, 40 s, … capped at 5 min; no jitter, as the kubelet uses
it). So the first crash restarts at once and the second waits 10 s. An entry not updated for twice the cap
(10 min) is stale: a container that ran that long starts over at 10 s.

Times are seconds on the clock's wall time (``clock.now().timestamp()``), since the finish time comes from the
runtime as a timestamp.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from pybernetes.client.clock import REAL, Clock

INITIAL = 10.0
MAX = 300.0


@dataclass(slots=True)
class _Entry:
    backoff: float
    last_update: float


class Backoff:
    def __init__(self, *, initial: float = INITIAL, cap: float = MAX, clock: Clock = REAL) -> None:
        self.initial, self.cap = initial, cap
        self.clock = clock
        self._entries: dict[Hashable, _Entry] = {}
        self._by_prefix: dict[Hashable, set[Hashable]] = {}

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def _expired(self, event_time: float, entry: _Entry) -> bool:
        return event_time - entry.last_update > 2 * self.cap

    def get(self, key: Hashable) -> float:
        """The current back-off of ``key`` (0 if none)."""
        e = self._entries.get(key)
        return e.backoff if e else 0.0

    def next(self, key: Hashable, event_time: float) -> None:
        """Record a restart: start at ``initial`` (new or stale entry), else double up to the cap."""
        e = self._entries.get(key)
        if e is None or self._expired(event_time, e):
            self._entries[key] = _Entry(self.initial, self._now())
            if isinstance(key, tuple) and key:
                self._by_prefix.setdefault(key[0], set()).add(key)
            return
        e.backoff = min(e.backoff * 2, self.cap)
        e.last_update = self._now()

    def in_backoff_since(self, key: Hashable, event_time: float) -> bool:
        e = self._entries.get(key)
        if e is None or self._expired(event_time, e):
            return False
        return self._now() - event_time < e.backoff

    def remaining(self, key: Hashable, event_time: float) -> float:
        """Seconds until ``key`` may restart (0 if it may now)."""
        e = self._entries.get(key)
        if e is None or self._expired(event_time, e):
            return 0.0
        return max(0.0, event_time + e.backoff - self._now())

    def reset(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def forget_prefix(self, prefix: Hashable) -> None:
        """Drop every entry whose key is a tuple starting with ``prefix`` (a pod's UID when it goes away)."""
        for k in self._by_prefix.pop(prefix, ()):
            self._entries.pop(k, None)

    def __len__(self) -> int:
        return len(self._entries)


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String`` for whole seconds and above: ``10s``, ``1m20s``, ``5m0s``, ``1h0m0s``."""
    total = round(seconds, 9)
    if total < 1:
        ms = total * 1000
        return f"{ms:g}ms" if ms else "0s"
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    sec = f"{s:g}s"
    if h:
        return f"{int(h)}h{int(m)}m{sec}"
    if m:
        return f"{int(m)}m{sec}"
    return sec
