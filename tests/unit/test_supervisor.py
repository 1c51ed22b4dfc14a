"""Supervisor: a child that exits is restarted (with its output appended to its log), and stop() terminates
every child — SIGKILL for one that ignores SIGTERM — and reaps it."""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import sys

from pybernetes.supervisor import Child, Supervisor


def child(tmp_path: pathlib.Path, name: str, code: str, env: dict[str, str] | None = None) -> Child:
    return Child(name, [sys.executable, "-c", code], tmp_path / f"{name}.log", env=env or {})


async def wait_for(cond, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    """Poll a condition on real processes (there is no event to await for "the child wrote its log")."""
    for _ in range(int(timeout / 0.01)):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_child_that_exits_is_restarted(tmp_path: pathlib.Path) -> None:
    sup = Supervisor(backoff=0.01)
    code = "import os, sys; print('run', os.environ['TAG'], flush=True); sys.exit(3)"
    sup.children.append(child(tmp_path, "flaky", code, {"TAG": "x"}))
    sup.start()
    try:
        await wait_for(lambda: sup.children[0].restarts >= 3)
        lines = (tmp_path / "flaky.log").read_text().splitlines()
        assert lines[:3] == ["run x", "run x", "run x"]            # every run appends to the same log
    finally:
        await sup.stop(timeout=2)


async def test_stop_terminates_children(tmp_path: pathlib.Path) -> None:
    sup = Supervisor(backoff=0.01)
    sup.children.append(child(tmp_path, "sleeper", "import time; print('up', flush=True); time.sleep(60)"))
    sup.children.append(child(tmp_path, "stubborn",
                              "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                              "print('up', flush=True); time.sleep(60)"))
    sup.start()
    await wait_for(lambda: all(c.log_path.exists() and "up" in c.log_path.read_text() for c in sup.children))
    pids = [c.proc.pid for c in sup.children if c.proc is not None]
    assert len(pids) == 2 and all(alive(p) for p in pids)
    await sup.stop(timeout=0.5)
    sleeper, stubborn = (c.proc for c in sup.children)
    assert sleeper is not None and sleeper.returncode == -signal.SIGTERM
    assert stubborn is not None and stubborn.returncode == -signal.SIGKILL
    assert not any(alive(p) for p in pids)
    assert all(c.restarts == 0 for c in sup.children)             # stopping is not a crash


async def test_stop_during_backoff_starts_nothing_new(tmp_path: pathlib.Path) -> None:
    sup = Supervisor(backoff=30)
    sup.children.append(child(tmp_path, "quick", "pass"))
    sup.start()
    await wait_for(lambda: sup.children[0].restarts == 1)           # exited, now waiting 30 s to restart
    await sup.stop(timeout=1)
    assert sup.children[0].restarts == 1 and all(t.done() for t in sup._tasks)


def test_add_runs_pybernetes_components(tmp_path: pathlib.Path) -> None:
    sup = Supervisor()
    sup.add("scheduler", ["scheduler", "--kubeconfig", "k"], tmp_path / "logs", env={"A": "1"})
    (c,) = sup.children
    assert c.argv == [sys.executable, "-m", "pybernetes", "scheduler", "--kubeconfig", "k"]
    assert c.log_path == tmp_path / "logs" / "scheduler.log" and c.env == {"A": "1"}
    assert (tmp_path / "logs").is_dir()
