"""A whole cluster as separate processes, for the end-to-end benchmarks: ``pybernetes server`` (the API server
supervising its controller manager and scheduler) and ``pybernetes agent --simulated N`` processes.

Everything is started here and stopped here by PID (agents first, so no node is left writing to a stopping
server; then the server, whose supervisor stops its children), even when a measurement fails. Requests the
benchmark itself makes go over HTTPS with the admin client certificate through bench/http1.py, the same client the
load generators use.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bench.api import http_calls, write_credentials
from bench.http1 import Connection
from bench.loadgen import Target
from bench.pidstat import children, component_name
from bench.reqcount import RequestCounts, request_counts

READY_LINE = b"agent ready"
COMPONENTS = ("controller-manager", "scheduler")
LEADER_LEASES = ("kube-controller-manager", "kube-scheduler")     # kube-system Leases the components hold
# Room for every simulated node's /24 pod CIDR: the default 10.42.0.0/16 holds 256, and with 5,000 nodes the node
# IPAM controller would spend the run retrying (and logging) CIDRRangeFull for the other 4,744, as upstream's would.
SERVER_ARGS = ("--cluster-cidr", "10.128.0.0/9")


class ClusterError(RuntimeError):
    """The cluster did not come up, or a request the benchmark needed was refused."""


@dataclass
class AgentProcess:
    """One ``pybernetes agent --simulated N`` process and where its output goes."""

    name: str
    nodes: int
    proc: subprocess.Popen[bytes]
    log: pathlib.Path
    started: float
    _seen: int = 0
    ready_after: float | None = None

    def ready(self) -> bool:
        """Whether the agent has said it is ready (every node registered, the pod informer synced); read
        incrementally, as a 5,000-node agent's log is long."""
        if self.ready_after is not None:
            return True
        try:
            with open(self.log, "rb") as f:
                f.seek(max(0, self._seen - len(READY_LINE)))
                data = f.read()
        except OSError:
            return False
        if READY_LINE in data:
            self.ready_after = time.monotonic() - self.started
            return True
        self._seen += len(data) - min(len(data), len(READY_LINE))
        return False

    def tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


@dataclass
class Cluster:
    """A running server with its components, and the agents added to it. Use as a context manager."""

    base: pathlib.Path
    server_args: tuple[str, ...] = SERVER_ARGS
    server: Any = None                          # tests.harness.Server
    target: Target | None = None
    agents: list[AgentProcess] = field(default_factory=list)
    _pids: dict[str, int] = field(default_factory=dict)

    def __enter__(self) -> Cluster:
        from tests.harness import start_server
        self.base.mkdir(parents=True, exist_ok=True)
        self.server = start_server(self.base / "server", *self.server_args, timeout=120)
        host, port = self.server.url.removeprefix("https://").rsplit(":", 1)
        ca, cert, key = write_credentials(self.server.kubeconfig, self.base)
        self.target = Target(host, int(port), ca, cert, key)
        self._pids = {"apiserver": self.server.proc.pid}
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------ processes

    def components(self) -> dict[str, int]:
        """Name → PID of the API server, its supervised components (found once they run) and the agents."""
        want = [n for n in COMPONENTS if n not in self._pids]
        if want and self.server is not None:
            for pid, argv in children(self.server.proc.pid).items():
                name = component_name(argv)
                if name in want:
                    self._pids[name] = pid
        return {**self._pids, **{a.name: a.proc.pid for a in self.agents if a.proc.poll() is None}}

    def add_agent(self, nodes: int, *, prefix: str, capacity: str, extra: Iterable[str] = ()) -> AgentProcess:
        """Start ``pybernetes agent --simulated nodes`` joining this server (its output in a log file)."""
        name = f"agent-{len(self.agents)}"
        data = self.base / name
        log = self.base / f"{name}.log"
        cmd = [sys.executable, "-m", "pybernetes", "agent", "--server", self.server.url, "--token",
               self.server.token, "--data-dir", str(data), "--simulated", str(nodes), "--node-name-prefix", prefix,
               "--node-capacity", capacity, *extra]
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1"})
        agent = AgentProcess(name, nodes, proc, log, time.monotonic())
        self.agents.append(agent)
        return agent

    def wait_agents(self, *, timeout: float) -> float:
        """Wait until every agent is ready; the seconds the slowest took from its start."""
        deadline = time.monotonic() + timeout
        while not all(a.ready() for a in self.agents):
            for a in self.agents:
                if a.proc.poll() is not None:
                    raise ClusterError(f"{a.name} exited with {a.proc.returncode}:\n{a.tail()}")
            if time.monotonic() > deadline:
                raise ClusterError(f"agents not ready within {timeout:g} s:\n"
                                   + "\n".join(a.tail(5) for a in self.agents))
            time.sleep(0.2)
        return max(a.ready_after or 0.0 for a in self.agents)

    def wait_components(self, *, timeout: float) -> None:
        """Wait until the controller manager and the scheduler lead (their kube-system Leases exist): before
        that, a pod would wait for a scheduler that is still importing, and a measurement would time start-up."""
        deadline = time.monotonic() + timeout
        paths = [f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{n}" for n in LEADER_LEASES]
        while any(status != 200 for status, _ in self.requests([("GET", p, None) for p in paths])):
            if time.monotonic() > deadline:
                raise ClusterError(f"{', '.join(LEADER_LEASES)} not all leading within {timeout:g} s")
            time.sleep(0.2)

    def stop(self) -> list[str]:
        """Stop the agents, then the server (and with it its components), by PID; what did not exit cleanly."""
        problems = []
        for a in self.agents:
            code = stop_process(a.proc)
            if code not in (0, None, -signal.SIGTERM):
                problems.append(f"{a.name} exited with {code}: {a.tail(5)}")
        if self.server is not None:
            code = self.server.stop(timeout=30)
            if code not in (0, None):
                problems.append(f"server exited with {code}: {''.join(self.server.log[-10:])}")
            self.server = None
        return problems

    # ------------------------------------------------------------------------------------------ requests

    def request(self, method: str, path: str, body: Any = None, *, ok: tuple[int, ...] = (200, 201)) -> Any:
        """One request from the benchmark process (set-up and checks, not measured)."""
        ((status, data),) = self.requests([(method, path, body)])
        if status not in ok:
            raise ClusterError(f"{method} {path}: {status} {str(data)[:300]}")
        return data

    def requests(self, calls: list[tuple[str, str, Any]]) -> list[tuple[int, Any]]:
        assert self.target is not None
        return http_calls(self.target.endpoint(), calls)

    def request_counts(self) -> RequestCounts:
        """The API server's request counters now (subtract two readings for what happened between)."""
        assert self.target is not None
        endpoint = self.target.endpoint()

        async def go() -> bytes:
            conn = await Connection.open(endpoint)
            try:
                status, data = await conn.request("GET", "/metrics")
            finally:
                conn.close()
            if status != 200:
                raise ClusterError(f"GET /metrics: {status}")
            return data
        return request_counts(asyncio.run(go()).decode())

    def namespace(self, name: str) -> None:
        self.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                   "metadata": {"name": name}}, ok=(201, 409))

    def resource_version(self, path: str) -> str:
        """The collection's current resourceVersion (a one-item LIST): where a watch that must miss nothing
        of what follows starts."""
        sep = "&" if "?" in path else "?"
        return str(self.request("GET", f"{path}{sep}limit=1")["metadata"]["resourceVersion"])


def stop_process(proc: subprocess.Popen[bytes], *, timeout: float = 30) -> int | None:
    """SIGTERM this one process, SIGKILL it after ``timeout``; its exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode

