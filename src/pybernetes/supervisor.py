"""Running the control plane's other components as child processes of ``pybernetes server``.

Python has one core per process (DESIGN.md "Performance notes"), so the controller manager, the scheduler and
the node agent each get their own process; the server process (the API server) supervises them: a child that
exits is restarted with backoff, and all are stopped with SIGTERM (then SIGKILL) when the server stops. Each
child's output goes to ``<data-dir>/logs/<name>.log``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pathlib
import signal
import sys
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: pathlib.Path
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    env: dict[str, str] = field(default_factory=dict)


class Supervisor:
    def __init__(self, *, backoff: float = 1.0, max_backoff: float = 30.0) -> None:
        self.children: list[Child] = []
        self.backoff, self.max_backoff = backoff, max_backoff
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def add(self, name: str, args: list[str], log_dir: pathlib.Path, env: dict[str, str] | None = None) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.children.append(Child(name, [sys.executable, "-m", "pybernetes", *args], log_dir / f"{name}.log",
                                   env=env or {}))

    def start(self) -> None:
        for c in self.children:
            self._tasks.append(asyncio.create_task(self._keep(c), name=f"supervise-{c.name}"))

    async def _keep(self, c: Child) -> None:
        backoff = self.backoff
        while not self._stopping:
            with open(c.log_path, "ab", buffering=0) as out:  # noqa: ASYNC230 - a local append-only log file
                c.proc = await asyncio.create_subprocess_exec(
                    *c.argv, stdout=out, stderr=out, stdin=asyncio.subprocess.DEVNULL,
                    env={**os.environ, "PYTHONUNBUFFERED": "1", **c.env}, start_new_session=True)
                log.info("started component", extra={"component": c.name, "pid": c.proc.pid})
                started = asyncio.get_running_loop().time()
                rc = await c.proc.wait()
            if self._stopping:
                return
            c.restarts += 1
            log.warning("component exited; restarting", extra={"component": c.name, "rc": rc,
                                                              "restarts": c.restarts})
            if asyncio.get_running_loop().time() - started > 60:
                backoff = self.backoff
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM every child, SIGKILL those still running after ``timeout``, and reap them all. The keepers
        are cancelled first, so no child is (re)started behind our back while we stop."""
        self._stopping = True
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        procs = [c.proc for c in self.children if c.proc is not None and c.proc.returncode is None]
        for p in procs:
            try:
                p.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        if not procs:
            return
        waits = [asyncio.create_task(p.wait()) for p in procs]
        _, pending = await asyncio.wait(waits, timeout=timeout)
        for p in procs:
            if p.returncode is None:
                log.warning("component did not stop; killing it", extra={"pid": p.pid})
                try:
                    p.kill()
                except ProcessLookupError:
                    pass
        if pending:
            await asyncio.wait(pending, timeout=5.0)        # reap the killed ones
