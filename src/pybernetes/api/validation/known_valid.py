"""Sub-objects a pure validator already found valid, remembered by their JSON bytes.

Why: most Pods of a cluster repeat the same pieces word for word. Admission gives every Pod the same projected
service-account token volume and the same two default tolerations; the replicas of a workload share their
containers' resource requirements. Validating each again costs tens of µs of a ~600 µs create, while
``orjson.dumps`` of such a piece costs about one.

Only a *valid* verdict is remembered: errors carry the field path of the object at hand, so an invalid piece
is validated (and reported) afresh each time. A validator may use this only when its verdict depends on the
value alone (not on sibling fields, feature gates or the path). Keys are exact JSON, so ``1``, ``1.0``,
``true`` and ``"1"`` never share a verdict; a value orjson cannot encode (an integer beyond 64 bits) is simply
not remembered, nor is one larger than ``max_bytes`` (8 KiB). The set is bounded (2,048 values by default): it
is emptied when full, as the other per-value caches of ``api`` are.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["KnownValid"]


class KnownValid:
    """A bounded set of JSON encodings of values one validator found valid."""

    __slots__ = ("_limit", "_max_bytes", "_seen")

    def __init__(self, *, limit: int = 2048, max_bytes: int = 8192) -> None:
        self._seen: set[bytes] = set()
        self._limit = limit
        self._max_bytes = max_bytes

    def key(self, value: Any) -> bytes | None:
        """The value's identity for the cache; None when it cannot be encoded or is too large to keep (then it
        is never remembered)."""
        try:
            data = orjson.dumps(value)
        except TypeError:                     # orjson.JSONEncodeError is a TypeError
            return None
        return data if len(data) <= self._max_bytes else None

    def known(self, key: bytes | None) -> bool:
        return key is not None and key in self._seen

    def add(self, key: bytes | None) -> None:
        if key is None:
            return
        if len(self._seen) >= self._limit:
            self._seen.clear()
        self._seen.add(key)

    def __len__(self) -> int:
        return len(self._seen)
