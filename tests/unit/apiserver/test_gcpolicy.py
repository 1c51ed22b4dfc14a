"""The GC policy's decisions, against a fake collector and clock (the real gc is never frozen here)."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from pybernetes.apiserver.gcpolicy import GCPolicy


class FakeGC:
    def __init__(self) -> None:
        self.callbacks: list[Any] = []
        self.calls: list[str] = []
        self.threshold = (700, 10, 10)

    def get_threshold(self) -> tuple[int, int, int]:
        return self.threshold

    def set_threshold(self, *t: int) -> None:
        self.threshold = (*t, *self.threshold[len(t):])  # type: ignore[assignment]

    def collect(self, generation: int = 2) -> int:
        self.calls.append("collect")
        for cb in list(self.callbacks):            # a real full collection reports itself
            cb("start", {"generation": 2})
            cb("stop", {"generation": 2, "collected": 0, "uncollectable": 0})
        return 0

    def freeze(self) -> None:
        self.calls.append("freeze")

    def unfreeze(self) -> None:
        self.calls.append("unfreeze")


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def policy() -> tuple[GCPolicy, FakeGC, Clock]:
    fake, clock = FakeGC(), Clock()
    p = GCPolicy(refresh=900.0, clock=clock, collector=fake)
    p.start()
    return p, fake, clock


def test_start_collects_and_freezes_what_startup_built(policy: tuple[GCPolicy, FakeGC, Clock]) -> None:
    p, fake, _ = policy
    assert fake.calls == ["unfreeze", "collect", "freeze"]    # its own collection does not freeze twice
    assert p.on_gc in fake.callbacks
    assert p.step() == "" and p.freezes == 0


@pytest.mark.parametrize(("generation", "phase", "freezes"), [
    (2, "stop", True),                            # a full collection just finished: freeze the survivors
    (2, "start", False),                          # not finished yet
    (1, "stop", False),                           # young collections leave the permanent generation alone
    (0, "stop", False),
])
def test_freeze_follows_only_finished_full_collections(policy: tuple[GCPolicy, FakeGC, Clock], generation: int,
                                                       phase: str, freezes: bool) -> None:
    p, fake, _ = policy
    fake.calls.clear()
    p.on_gc(phase, {"generation": generation})
    assert fake.calls == (["freeze"] if freezes else [])     # at once, in the callback
    assert p.freezes == int(freezes)
    assert p.step() == ""


def test_refresh_returns_the_permanent_generation_and_collects_it(policy: tuple[GCPolicy, FakeGC, Clock]) -> None:
    p, fake, clock = policy
    fake.calls.clear()
    clock.t += 899.0
    assert p.step() == ""
    clock.t += 1.0
    assert p.step() == "refresh"
    assert fake.calls == ["unfreeze", "collect", "freeze"]
    assert p.step() == ""
    clock.t += 900.0
    assert p.step() == "refresh"


def test_stop_unhooks_and_unfreezes(policy: tuple[GCPolicy, FakeGC, Clock]) -> None:
    p, fake, _ = policy
    p.stop()
    assert fake.callbacks == []
    assert fake.calls[-1] == "unfreeze"
    assert fake.threshold == (700, 10, 10)


def test_young_threshold_is_cpythons_unless_set() -> None:
    fake = FakeGC()
    GCPolicy(collector=fake).start()
    assert fake.threshold == (700, 10, 10)
    tuned = GCPolicy(collector=fake, young=5000)
    tuned.start()
    assert fake.threshold == (5000, 10, 10)
    tuned.stop()
    assert fake.threshold == (700, 10, 10)


async def test_run_stops_cleanly_when_cancelled() -> None:
    import asyncio
    fake = FakeGC()
    task = asyncio.create_task(GCPolicy(check=0.0, collector=fake).run())
    for _ in range(3):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fake.callbacks == [] and fake.calls[-1] == "unfreeze"


def test_the_default_collector_is_the_gc_module() -> None:
    assert GCPolicy().gc is gc


def test_with_the_real_collector_full_collections_freeze_their_survivors() -> None:
    p = GCPolicy(young=700)
    p.start()
    try:
        assert gc.get_freeze_count() > 0
        keep = []
        for _ in range(60):                   # enough promotions for CPython to run full collections on its own
            keep.append([{"a": [i]} for i in range(5000)])
            if p.freezes:
                break
        gc.collect(2)                         # a full collection: its survivors end up frozen as well
        assert p.freezes >= 1
        assert gc.get_count()[2] == 0
    finally:
        p.stop()
    assert gc.get_freeze_count() == 0 and p.on_gc not in gc.callbacks
