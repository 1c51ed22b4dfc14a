"""Expectations: what a controller is still waiting to see after its own writes (upstream ``controller_utils.go``,
``ControllerExpectations`` + ``UIDTrackingControllerExpectations``).

A reconcile reads the informer cache, which lags the API. Without expectations, a ReplicaSet that has just created
3 pods would be synced again before the pod informer saw them, count 0 pods, and create 3 more. So before writing,
the controller records "I expect N creations / these deletions" for its key; the pod informer's handlers lower the
counts as it observes them; and spec work (creating/deleting) waits until :meth:`Expectations.satisfied`. Status
is still recomputed on every sync.

Deletions are tracked by pod key, not by count, because a graceful deletion is observed twice (an update setting
``deletionTimestamp``, then the delete): each expected key is counted once, whichever comes first.

If a watch event is lost the counts never reach zero; after :data:`EXPECTATIONS_TIMEOUT` (5 minutes, as upstream)
expectations count as satisfied anyway, so a controller can never stay wedged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from pybernetes.client.clock import REAL, Clock

log = logging.getLogger(__name__)

EXPECTATIONS_TIMEOUT = 300.0


@dataclass(slots=True)
class Expectation:
    """Outstanding creations and deletions for one controller key, as of ``timestamp`` (monotonic seconds)."""
    add: int
    delete: int
    timestamp: float
    delete_keys: set[str] = field(default_factory=set)

    @property
    def fulfilled(self) -> bool:
        return self.add <= 0 and self.delete <= 0


class Expectations:
    """Per-key creation/deletion expectations with upstream's semantics.

    Setting expectations replaces earlier ones (``SetExpectations``); observations only lower them; a key without
    expectations is always satisfied. Not thread-safe by design: controllers run on one event loop.
    """

    def __init__(self, *, clock: Clock = REAL, timeout: float = EXPECTATIONS_TIMEOUT) -> None:
        self.clock = clock
        self.timeout = timeout
        self._by_key: dict[str, Expectation] = {}

    def get(self, key: str) -> Expectation | None:
        return self._by_key.get(key)

    def satisfied(self, key: str) -> bool:
        """True when the controller may act on ``key``'s spec: nothing outstanding, none recorded, or expired."""
        exp = self._by_key.get(key)
        if exp is None or exp.fulfilled:
            return True
        if self.clock.monotonic() - exp.timestamp > self.timeout:
            log.info("expectations expired", extra={"key": key, "add": exp.add, "delete": exp.delete})
            return True
        return False

    def expect_creations(self, key: str, count: int) -> None:
        self._by_key[key] = Expectation(add=count, delete=0, timestamp=self.clock.monotonic())

    def expect_deletions(self, key: str, pod_keys: Iterable[str]) -> None:
        """Expect the deletion of exactly these objects (``namespace/name``); replaces earlier expectations."""
        keys = set(pod_keys)
        self._by_key[key] = Expectation(add=0, delete=len(keys), timestamp=self.clock.monotonic(), delete_keys=keys)

    def creation_observed(self, key: str) -> None:
        exp = self._by_key.get(key)
        if exp is not None:
            exp.add -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        """Count ``pod_key``'s deletion once, and only if it was expected."""
        exp = self._by_key.get(key)
        if exp is not None and pod_key in exp.delete_keys:
            exp.delete_keys.discard(pod_key)
            exp.delete -= 1

    def lower(self, key: str, *, add: int = 0, delete: int = 0) -> None:
        """Give up on writes that were never made or failed (``LowerExpectations``)."""
        exp = self._by_key.get(key)
        if exp is not None:
            exp.add -= add
            exp.delete -= delete

    def forget(self, key: str) -> None:
        """Drop ``key``'s expectations (``DeleteExpectations``): its object is gone, or is new under the same name."""
        self._by_key.pop(key, None)

    def __len__(self) -> int:
        return len(self._by_key)
