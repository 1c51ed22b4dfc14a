"""The parent side of the load generators: a few long-lived child processes that run jobs in step.

Each child is a fresh interpreter (``spawn``): nothing of the parent's state leaks into it, and each has its own
core's worth of GIL. :meth:`Fleet.run` hands one job to each of several children, waits until every one has
prepared (connections open and warm), then sends them all the same start instant, so their measurements
overlap exactly.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection as Pipe
from multiprocessing.process import BaseProcess

from bench.loadgen import Job, Result, child_main

START_DELAY = 0.2                      # seconds between "go" and the start instant: every child is waiting by then


class FleetError(Exception):
    pass


class Fleet:
    """``size`` load-generator processes. Use as a context manager: children are ended (by PID) on exit."""

    def __init__(self, size: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipes: list[Pipe] = []
        self.procs: list[BaseProcess] = []
        for i in range(size):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=child_main, args=(child,), name=f"loadgen-{i}", daemon=True)
            p.start()
            child.close()
            self.pipes.append(parent)
            self.procs.append(p)

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, jobs: Sequence[Job], *, timeout: float = 120.0,
            on_go: Callable[[], None] | None = None) -> list[Result]:
        """Run ``jobs[i]`` on child ``i``, all starting at the same instant; their results, in order.
        ``on_go`` is called once every child has prepared, just before the start (e.g. to read CPU counters
        that should not include connection set-up)."""
        if len(jobs) > len(self.pipes):
            raise FleetError(f"{len(jobs)} jobs for {len(self.pipes)} load generators")
        pipes = self.pipes[:len(jobs)]
        for pipe, job in zip(pipes, jobs, strict=True):
            pipe.send(job)
        early: dict[int, Result] = {}
        for i, pipe in enumerate(pipes):
            kind, payload = self._recv(pipe, timeout)
            if kind == "done":                   # failed while preparing
                early[i] = payload
            elif kind != "ready":
                raise FleetError(f"load generator {i} said {kind!r}")
        if on_go is not None:
            on_go()
        start_at = time.monotonic() + START_DELAY
        for i, pipe in enumerate(pipes):
            if i not in early:
                pipe.send(("go", start_at))
        results = []
        for i, pipe in enumerate(pipes):
            if i in early:
                results.append(early[i])
                continue
            kind, payload = self._recv(pipe, timeout)
            if kind != "done":
                raise FleetError(f"load generator {i} said {kind!r}")
            results.append(payload)
        return results

    def _recv(self, pipe: Pipe, timeout: float) -> tuple[str, Result]:
        if not pipe.poll(timeout):
            raise FleetError(f"a load generator did not answer within {timeout} s")
        msg: tuple[str, Result] = pipe.recv()
        return msg

    def close(self) -> None:
        for pipe in self.pipes:
            try:
                pipe.send(None)
            except (BrokenPipeError, OSError):
                pass
        for p in self.procs:
            p.join(5)
            if p.is_alive():
                p.terminate()                    # by PID, this child only
                p.join(5)
        for pipe in self.pipes:
            pipe.close()
