"""Liveness, readiness and startup probes (upstream ``pkg/kubelet/prober``: ``worker.go``, ``prober.go`` and
``pkg/probe/{exec,http,tcp}``).

One :class:`ProbeWorker` per (pod, container, probe kind) runs every ``periodSeconds`` while the container runs:

- nothing happens during ``initialDelaySeconds`` after the container started; liveness and readiness wait until
  the startup probe (if any) has succeeded, and the startup probe stops once it has;
- a result counts once it repeats ``successThreshold``/``failureThreshold`` times in a row; readiness starts at
  failure, liveness at success, startup at unknown, and a new container (restart) starts over;
- a liveness or startup failure puts the worker on hold until the container is replaced: the pod worker reads
  :meth:`ProbeManager.kill_reason` and restarts the container (``Killing``: "Container x failed liveness probe,
  will be restarted"); each failed attempt records an ``Unhealthy`` event ("Liveness probe failed: …").

Checks run from the node: ``exec`` through the runtime (``exec_sync`` with ``timeoutSeconds``), ``httpGet`` and
``tcpSocket`` to the pod IP (pod IPs are routable from the node's bridge), success for HTTP 200–399. ``grpc`` is
not supported and reports a warning instead of a result.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import yarl

from pybernetes.client.clock import REAL, Clock
from pybernetes.kubelet.env import go_quote
from pybernetes.kubelet.runtime.interface import RuntimeFailure

log = logging.getLogger(__name__)
Obj = dict[str, Any]
USER_AGENT = "kube-probe/1.33"
MAX_OUTPUT = 10 * 1024


class Result(enum.Enum):
    SUCCESS = "success"
    WARNING = "warning"          # a success worth an event (a redirect to another host was not followed)
    FAILURE = "failure"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Outcome:
    result: Result
    output: str = ""


class Execer(Protocol):
    async def exec_sync(self, container_id: str, cmd: Sequence[str], *, timeout: float) -> Any: ...


# ---------------------------------------------------------------------------------------------------- checks

def resolve_port(port: int | str | None, container: Obj) -> int:
    """A probe or handler port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    if isinstance(port, str):
        if port.isdigit():
            return int(port)
        for p in container.get("ports") or ():
            if p.get("name") == port:
                return int(p.get("containerPort") or 0)
        raise ValueError(f"couldn't find port: {port} in {container.get('name', '')}")
    raise ValueError("no port")


def _host(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


async def check_exec(runtime: Execer, container_id: str, command: Sequence[str], *, timeout: float) -> Outcome:
    try:
        res = await asyncio.wait_for(runtime.exec_sync(container_id, list(command), timeout=timeout), timeout + 5)
    except TimeoutError:
        return Outcome(Result.FAILURE, f"command {go_quote(' '.join(command))} timed out")
    except RuntimeFailure as e:
        return Outcome(Result.UNKNOWN, str(e))
    output = (bytes(res.stdout or b"") + bytes(res.stderr or b""))[:MAX_OUTPUT].decode(errors="replace")
    if res.exit_code == 0:
        return Outcome(Result.SUCCESS, output)
    return Outcome(Result.FAILURE, output)


def http_url(action: Obj, *, pod_ip: str, container: Obj) -> str:
    scheme = (action.get("scheme") or "HTTP").lower()
    host = action.get("host") or pod_ip
    port = resolve_port(action.get("port"), container)
    path = action.get("path") or ""
    if not path.startswith("/"):
        path = "/" + path
    return f"{scheme}://{_host(host, port)}{path}"


async def check_http(session: aiohttp.ClientSession, url: str, *, headers: Sequence[Obj], timeout: float
                     ) -> Outcome:
    """GET ``url``; 200–399 succeed. Redirects are followed on the same host (at most 10); one to another host
    ends the probe as a warning, a success (upstream's ``RedirectChecker``)."""
    hdrs = {"User-Agent": USER_AGENT, "Accept": "*/*"}
    for h in headers:
        if h.get("name"):
            hdrs[h["name"]] = h.get("value", "")
    first = yarl.URL(url)
    target = first
    try:
        async with asyncio.timeout(timeout):
            for _ in range(11):
                async with session.get(target, headers=hdrs, allow_redirects=False, ssl=False) as resp:
                    body = (await resp.content.read(MAX_OUTPUT)).decode(errors="replace")
                    location = resp.headers.get("Location")
                    if 300 <= resp.status < 400 and location:
                        nxt = target.join(yarl.URL(location))
                        if nxt.host == first.host:
                            target = nxt
                            continue
                        return Outcome(Result.WARNING, f"Probe terminated redirects, Response body: {body}")
                    if 200 <= resp.status < 400:
                        return Outcome(Result.SUCCESS, body)
                    return Outcome(Result.FAILURE, f"HTTP probe failed with statuscode: {resp.status}")
            return Outcome(Result.FAILURE, f'Get "{target}": stopped after 10 redirects')
    except TimeoutError:
        return Outcome(Result.FAILURE, f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while '
                                       "awaiting headers)")
    except aiohttp.ClientConnectorError as e:
        return Outcome(Result.FAILURE, f'Get "{url}": dial tcp {_host(e.host, e.port or 0)}: connect: '
                                       f"{_errno_text(e.os_error)}")
    except aiohttp.ClientError as e:
        return Outcome(Result.FAILURE, f'Get "{url}": {e}')


def _errno_text(e: BaseException | None) -> str:
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror.lower()
    return str(e)


async def check_tcp(host: str, port: int, *, timeout: float) -> Outcome:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except TimeoutError:
        return Outcome(Result.FAILURE, f"dial tcp {_host(host, port)}: i/o timeout")
    except OSError as e:
        return Outcome(Result.FAILURE, f"dial tcp {_host(host, port)}: connect: {_errno_text(e)}")
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return Outcome(Result.SUCCESS)


# ---------------------------------------------------------------------------------------------------- state

@dataclass(frozen=True, slots=True)
class ProbeSpec:
    initial_delay: float = 0
    period: float = 10
    timeout: float = 1
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def of(cls, probe: Obj) -> ProbeSpec:
        return cls(initial_delay=float(probe.get("initialDelaySeconds") or 0),
                   period=float(probe.get("periodSeconds") or 10), timeout=float(probe.get("timeoutSeconds") or 1),
                   success_threshold=int(probe.get("successThreshold") or 1),
                   failure_threshold=int(probe.get("failureThreshold") or 3))


KINDS = {"liveness": "livenessProbe", "readiness": "readinessProbe", "startup": "startupProbe"}
INITIAL = {"liveness": Result.SUCCESS, "readiness": Result.FAILURE, "startup": Result.UNKNOWN}
LABEL = {"liveness": "Liveness", "readiness": "Readiness", "startup": "Startup"}


class ProbeState:
    """The threshold logic of one probe (pure): feed attempt results, read the current result."""

    def __init__(self, kind: str, spec: ProbeSpec) -> None:
        self.kind = kind
        self.spec = spec
        self.result = INITIAL[kind]
        self.last: Result | None = None
        self.run = 0
        self.on_hold = False

    def reset(self) -> None:
        """A new container: start over."""
        self.result = INITIAL[self.kind]
        self.last, self.run, self.on_hold = None, 0, False

    def observe(self, outcome: Result) -> bool:
        """Record one attempt; returns whether the probe's result changed."""
        if outcome == Result.UNKNOWN:
            return False
        if outcome == Result.WARNING:
            outcome = Result.SUCCESS
        if outcome == self.last:
            self.run += 1
        else:
            self.last, self.run = outcome, 1
        if (outcome == Result.FAILURE and self.run < self.spec.failure_threshold) or \
                (outcome == Result.SUCCESS and self.run < self.spec.success_threshold):
            return False
        changed = self.result != outcome
        self.result = outcome
        if self.kind in ("liveness", "startup") and outcome == Result.FAILURE:
            self.on_hold, self.run = True, 0
        return changed


@dataclass(frozen=True, slots=True)
class Running:
    """What a probe worker needs to know about its container now."""

    container_id: str
    started_at: float                    # monotonic seconds
    started: bool                        # the startup probe passed (or there is none)


EventFn = Callable[[Obj, str, str, str, str], None]
"""(pod, type, reason, message, fieldPath)"""


class ProbeWorker:
    def __init__(self, manager: ProbeManager, *, uid: str, container: Obj, kind: str) -> None:
        self.manager = manager
        self.uid = uid
        self.container = container
        self.name = container.get("name", "")
        self.kind = kind
        self.probe: Obj = container.get(KINDS[kind]) or {}
        self.state = ProbeState(kind, ProbeSpec.of(self.probe))
        self.container_id = ""
        self.task: asyncio.Task[None] | None = None

    async def step(self) -> None:
        """One period: probe if due, update the state, tell the manager about changes."""
        m = self.manager
        running = m.running(self.uid, self.name)
        if running is None:
            return
        if running.container_id != self.container_id:
            self.container_id = running.container_id
            self.state.reset()
            m.changed(self.uid)
        if self.state.on_hold:
            return
        if m.clock.monotonic() - running.started_at < self.state.spec.initial_delay:
            return
        if self.kind == "startup" and running.started:
            return
        if self.kind != "startup" and not running.started:
            return
        outcome = await m.check(self.uid, self.container, self.probe, self.container_id)
        if outcome.result == Result.FAILURE:
            m.event(self.uid, "Warning", "Unhealthy", f"{LABEL[self.kind]} probe failed: {outcome.output}",
                    self.name)
        elif outcome.result == Result.UNKNOWN:
            m.event(self.uid, "Warning", "Unhealthy", f"{LABEL[self.kind]} probe errored: {outcome.output}",
                    self.name)
        elif outcome.result == Result.WARNING:
            m.event(self.uid, "Warning", "ProbeWarning", f"{LABEL[self.kind]} probe warning: {outcome.output}",
                    self.name)
        if self.state.observe(outcome.result) or self.state.on_hold:
            m.changed(self.uid)

    async def run(self) -> None:
        spec = self.state.spec
        while True:
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("probe failed to run", extra={"pod_uid": self.uid, "container": self.name,
                                                            "probe": self.kind})
            await self.manager.clock.sleep(spec.period)


class ProbeManager:
    """Probe workers of every pod; the pod worker tells it what runs (:meth:`update`) and asks it for readiness,
    startup state and liveness kills."""

    def __init__(self, *, runtime: Execer, clock: Clock = REAL, on_change: Callable[[str], None] = lambda uid: None,
                 event: EventFn | None = None, session: aiohttp.ClientSession | None = None) -> None:
        self.runtime = runtime
        self.clock = clock
        self.on_change = on_change
        self._event = event
        self._session = session
        self._workers: dict[tuple[str, str, str], ProbeWorker] = {}
        self._running: dict[tuple[str, str], Running] = {}
        self._pods: dict[str, tuple[Obj, str]] = {}

    # ------------------------------------------------------------------ inputs from the pod worker
    def update(self, pod: Obj, pod_ip: str, running: Mapping[str, tuple[str, float]]) -> None:
        """The pod's running regular (and sidecar) containers: name → (container id, monotonic start time).
        Starts workers for probes not yet watched; forgets containers that stopped."""
        uid = (pod.get("metadata") or {}).get("uid", "")
        self._pods[uid] = (pod, pod_ip)
        spec = pod.get("spec") or {}
        containers = [*(c for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always"),
                      *(spec.get("containers") or ())]
        for c in containers:
            name = c.get("name", "")
            now = running.get(name)
            key = (uid, name)
            if now is None:
                self._running.pop(key, None)
                continue
            cid, started_at = now
            prev = self._running.get(key)
            started = prev.started if prev is not None and prev.container_id == cid else False
            if not c.get("startupProbe"):
                started = True
            self._running[key] = Running(cid, started_at, started)
            for kind, field in KINDS.items():
                if c.get(field) and (uid, name, kind) not in self._workers:
                    w = self._workers[(uid, name, kind)] = ProbeWorker(self, uid=uid, container=c, kind=kind)
                    w.task = asyncio.get_running_loop().create_task(w.run(), name=f"probe-{kind}-{name}")

    def remove_pod(self, uid: str) -> None:
        for key in [k for k in self._workers if k[0] == uid]:
            w = self._workers.pop(key)
            if w.task is not None:
                w.task.cancel()
        for rkey in [k for k in self._running if k[0] == uid]:
            del self._running[rkey]
        self._pods.pop(uid, None)

    # ------------------------------------------------------------------ answers
    def _worker(self, uid: str, name: str, kind: str, container_id: str) -> ProbeWorker | None:
        w = self._workers.get((uid, name, kind))
        return w if w is not None and w.container_id == container_id else None

    def ready(self, uid: str, name: str, container_id: str) -> bool:
        """Readiness of a running container: its readiness probe's result, else whether it has started."""
        if not self.started(uid, name, container_id):
            return False
        if (uid, name, "readiness") not in self._workers:
            return True
        w = self._worker(uid, name, "readiness", container_id)
        return w is not None and w.state.result == Result.SUCCESS

    def started(self, uid: str, name: str, container_id: str) -> bool:
        r = self._running.get((uid, name))
        return r is not None and r.container_id == container_id and r.started

    def kill_reason(self, uid: str, name: str, container_id: str) -> str | None:
        """Why the container must be restarted (a failed liveness or startup probe), else None."""
        for kind in ("liveness", "startup"):
            w = self._worker(uid, name, kind, container_id)
            if w is not None and w.state.result == Result.FAILURE:
                return f"Container {name} failed {kind} probe"
        return None

    # ------------------------------------------------------------------ for workers
    def running(self, uid: str, name: str) -> Running | None:
        return self._running.get((uid, name))

    def changed(self, uid: str) -> None:
        key_started = [(k, r) for k, r in self._running.items() if k[0] == uid]
        for (u, name), r in key_started:
            w = self._workers.get((u, name, "startup"))
            if w is not None and w.container_id == r.container_id and w.state.result == Result.SUCCESS \
                    and not r.started:
                self._running[(u, name)] = Running(r.container_id, r.started_at, True)
        self.on_change(uid)

    def event(self, uid: str, type_: str, reason: str, message: str, container: str) -> None:
        pod = self._pods.get(uid)
        if pod is not None and self._event is not None:
            spec = pod[0].get("spec") or {}
            init = any(c.get("name") == container for c in spec.get("initContainers") or ())
            self._event(pod[0], type_, reason, message,
                        f"spec.{'initContainers' if init else 'containers'}{{{container}}}")

    async def check(self, uid: str, container: Obj, probe: Obj, container_id: str) -> Outcome:
        pod_ip = self._pods.get(uid, ({}, ""))[1]
        timeout = float(probe.get("timeoutSeconds") or 1)
        try:
            if (action := probe.get("exec")) is not None:
                return await check_exec(self.runtime, container_id, action.get("command") or [], timeout=timeout)
            if (action := probe.get("httpGet")) is not None:
                url = http_url(action, pod_ip=pod_ip, container=container)
                return await check_http(self.session(), url, headers=action.get("httpHeaders") or (),
                                        timeout=timeout)
            if (action := probe.get("tcpSocket")) is not None:
                return await check_tcp(action.get("host") or pod_ip, resolve_port(action.get("port"), container),
                                       timeout=timeout)
        except ValueError as e:
            return Outcome(Result.UNKNOWN, str(e))
        if probe.get("grpc") is not None:
            return Outcome(Result.UNKNOWN, "gRPC probes are not supported by this node")
        return Outcome(Result.UNKNOWN, "missing probe handler")

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True, limit=0))
        return self._session

    async def stop(self) -> None:
        tasks = [w.task for w in self._workers.values() if w.task is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()
        if self._session is not None:
            await self._session.close()
