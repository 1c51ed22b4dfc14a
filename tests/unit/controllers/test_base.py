"""The worker loop every controller shares: errors retry with backoff; RetryLater does so without a traceback."""

from __future__ import annotations

import asyncio
import logging

import pytest
from tests.unit.controllers.fakeclient import harness

from pybernetes.controllers.base import Controller, RetryLater


class Flaky(Controller):
    name = "flaky"
    workers = 1

    def __init__(self, ctx, error: Exception) -> None:  # type: ignore[no-untyped-def]
        super().__init__(ctx)
        self.error = error
        self.calls = 0

    async def reconcile(self, key: str) -> float | None:
        self.calls += 1
        if self.calls == 1:
            raise self.error
        return None


@pytest.mark.parametrize(("error", "traceback"), [(RetryLater("the range is full"), False),
                                                  (RuntimeError("boom"), True)])
async def test_a_failed_reconcile_is_retried(error: Exception, traceback: bool,
                                             caplog: pytest.LogCaptureFixture) -> None:
    async with harness() as h:
        c = Flaky(h.ctx, error)
        worker = asyncio.create_task(c.run_worker())
        with caplog.at_level(logging.WARNING, logger="pybernetes.controllers.base"):
            c.enqueue("k")
            for _ in range(200):
                if c.calls >= 2:
                    break
                await asyncio.sleep(0)
                h.clock.advance(1)              # past the first backoff step
        await c.queue.shutdown()
        await worker
    assert c.calls == 2
    records = [r for r in caplog.records if r.name == "pybernetes.controllers.base"]
    assert len(records) == 1 and str(error) in records[0].getMessage() + str(records[0].exc_info)
    assert (records[0].exc_info is not None) is traceback
