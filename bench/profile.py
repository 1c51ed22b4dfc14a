"""Where the API server's CPU goes under one load: ``python -m bench.profile --kind pods --op create --clients 16``.

The server runs in this process (so its frames can be sampled) on uvloop, with a SQLite store in a temporary
directory; the load comes from bench/loadgen.py processes, as in bench/api.py. Samples are taken on CPU time
(``SIGPROF``), not wall time: on a shared machine a wall-clock profiler mostly reports where the server waited
for a core. Each sample charges the main thread's current stack, so CPU of the SQLite writer thread lands on
whatever the loop was doing (usually a store call); the loop thread's own CPU per operation is printed apart.
py-spy (``py-spy record -p PID``) answers the same question for a server started by tests/harness.py.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import pathlib
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from types import FrameType

import orjson

from bench import objects
from bench.api import combine, split
from bench.loadgen import ClosedLoop, Result, Target
from bench.procs import Fleet

SITE = "site-packages/"


def frame_name(filename: str, function: str) -> str:
    """``pkg/module.py:function``: paths shortened to what follows site-packages/ or src/."""
    short = filename.split(SITE, 1)[-1].split("/src/", 1)[-1]
    return f"{short}:{function}"


@dataclass(slots=True)
class Profile:
    """Counts of CPU samples: by innermost line (self) and by function anywhere on the stack (inclusive)."""

    samples: int = 0
    own: collections.Counter[str] = field(default_factory=collections.Counter)
    inclusive: collections.Counter[str] = field(default_factory=collections.Counter)

    def add(self, stack: list[tuple[str, str, int]]) -> None:
        """One sample; ``stack`` innermost first, as (filename, function, line)."""
        self.samples += 1
        if not stack:
            return
        f, fn, line = stack[0]
        self.own[f"{frame_name(f, fn)}:{line}"] += 1
        for name in {frame_name(f, fn) for f, fn, _ in stack}:
            self.inclusive[name] += 1

    def report(self, top: int = 30) -> str:
        n = max(self.samples, 1)
        out = [f"{self.samples} CPU samples", "--- self (innermost line)"]
        out += [f"{100 * c / n:5.1f}%  {k}" for k, c in self.own.most_common(top)]
        out.append("--- inclusive (function anywhere on the stack)")
        out += [f"{100 * c / n:5.1f}%  {k}" for k, c in self.inclusive.most_common(top * 2)]
        return "\n".join(out)


class Sampler:
    """SIGPROF every ``interval`` s of process CPU time (the kernel rounds it to its tick)."""

    def __init__(self, profile: Profile, interval: float = 0.001) -> None:
        self.profile = profile
        self.interval = interval

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        stack = []
        while frame is not None:
            stack.append((frame.f_code.co_filename, frame.f_code.co_name, frame.f_lineno))
            frame = frame.f_back
        self.profile.add(stack)

    def __enter__(self) -> Sampler:
        signal.signal(signal.SIGPROF, self._on_signal)
        signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.signal(signal.SIGPROF, signal.SIG_DFL)


async def profile_load(fleet: Fleet, *, kind: str, op: str, clients: int, seconds: float,
                       base: pathlib.Path) -> tuple[str, Profile]:
    from bench.http1 import Connection
    from pybernetes.apiserver.server import APIServer, APIServerOptions
    srv = APIServer(APIServerOptions(data_dir=base, bind_address="127.0.0.1", port=0, token="bench"))
    await srv.start()
    try:
        assert srv.pki is not None
        target = Target("127.0.0.1", srv.port, str(srv.pki.server_ca), str(srv.pki.admin_cert),
                        str(srv.pki.admin_key))
        names = tuple(f"rw-{i}" for i in range(128))
        conn = await Connection.open(target.endpoint())
        for ns in ("bench-create", "bench-rw"):
            await conn.request("POST", "/api/v1/namespaces", orjson.dumps(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
        for i, name in enumerate(names):
            await conn.request("POST", objects.path(kind, "bench-rw"),
                               orjson.dumps(objects.make(kind, "bench-rw", name, seq=i)))
        conn.close()
        loop = asyncio.get_running_loop()

        def run(tag: str, secs: float) -> list[Result]:
            jobs, first = [], 0
            for n in split(clients, 2):
                jobs.append(ClosedLoop(target, op, kind, "bench-create" if op == "create" else "bench-rw", n, secs,
                                       first_client=first, total_clients=clients, names=names, tag=tag))
                first += n
            return fleet.run(jobs)

        await loop.run_in_executor(None, run, "warm", 1.0)
        prof = Profile()
        cpu0 = time.thread_time()
        with Sampler(prof):
            results = await loop.run_in_executor(None, run, "p", seconds)
        s = combine(results)
        loop_us = (time.thread_time() - cpu0) / max(s.count, 1) * 1e6
        head = (f"{kind} {op}, {clients} clients: {s.rate:,.0f}/s, p50 {s.p50 * 1e3:.1f} ms, p99 {s.p99 * 1e3:.1f} ms, "
                f"loop thread {loop_us:,.0f} µs CPU/op, errors {s.errors}")
        return head, prof
    finally:
        await srv.stop()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    ap.add_argument("--kind", choices=objects.KINDS, default="pods")
    ap.add_argument("--op", choices=("create", "get", "update", "list"), default="create")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--top", type=int, default=30)
    args = ap.parse_args(argv)
    import uvloop
    base = pathlib.Path(tempfile.mkdtemp(prefix="bench-profile-"))
    try:
        with Fleet(2) as fleet:
            head, prof = uvloop.run(profile_load(fleet, kind=args.kind, op=args.op, clients=args.clients,
                                                 seconds=args.seconds, base=base))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(head)
    print(prof.report(args.top))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
