"""Probes: the threshold state machine (upstream worker_test.go cases), workers on a FakeClock, and the exec,
HTTP and TCP checks against loopback servers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from pybernetes.client.clock import FakeClock
from pybernetes.kubelet.prober import (
    Outcome,
    ProbeManager,
    ProbeSpec,
    ProbeState,
    Result,
    check_exec,
    check_http,
    check_tcp,
    http_url,
    resolve_port,
)
from pybernetes.kubelet.runtime.interface import ExecResult, RuntimeFailure

Obj = dict[str, Any]
S, F, U = Result.SUCCESS, Result.FAILURE, Result.UNKNOWN


@pytest.mark.parametrize(("kind", "spec", "attempts", "results"), [
    # readiness starts failed; one success flips it; three failures flip it back
    ("readiness", ProbeSpec(), [S, F, F, F], [S, S, S, F]),
    ("readiness", ProbeSpec(success_threshold=2), [S, F, S, S], [F, F, F, S]),
    ("liveness", ProbeSpec(), [F, F, S, F, F, F], [S, S, S, S, S, F]),
    ("liveness", ProbeSpec(failure_threshold=1), [F], [F]),
    ("startup", ProbeSpec(), [U, F, S], [U, U, S]),              # unknown attempts change nothing
    ("readiness", ProbeSpec(), [Result.WARNING], [S]),            # a warning is a success
])
def test_thresholds(kind: str, spec: ProbeSpec, attempts: list[Result], results: list[Result]) -> None:
    st = ProbeState(kind, spec)
    got = []
    for a in attempts:
        if st.on_hold:
            break
        st.observe(a)
        got.append(st.result)
    assert got == results[:len(got)]


def test_liveness_failure_holds_until_reset() -> None:
    st = ProbeState("liveness", ProbeSpec(failure_threshold=1))
    assert st.observe(F) and st.on_hold
    st.reset()
    assert (st.result, st.on_hold) == (S, False)


def test_probe_spec_defaults() -> None:
    assert ProbeSpec.of({}) == ProbeSpec(0, 10, 1, 1, 3)
    assert ProbeSpec.of({"initialDelaySeconds": 5, "periodSeconds": 2, "timeoutSeconds": 3, "successThreshold": 1,
                         "failureThreshold": 6}) == ProbeSpec(5, 2, 3, 1, 6)


class FakeExec:
    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.calls: list[tuple[str, list[str]]] = []

    async def exec_sync(self, container_id: str, cmd: list[str], *, timeout: float) -> ExecResult:
        self.calls.append((container_id, cmd))
        if cmd[0] == "boom":
            raise RuntimeFailure("container not running")
        if cmd[0] == "hang":
            raise TimeoutError
        code = self.codes.get(cmd[0], 0)
        return ExecResult(code, stdout=b"out:" + cmd[0].encode(), stderr=b"")


def pod(**containers: Obj) -> Obj:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u"},
            "spec": {"containers": [{"name": n, **c} for n, c in containers.items()]}}


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_readiness_and_liveness_workers() -> None:
    clock, runtime = FakeClock(), FakeExec()
    changes: list[str] = []
    events: list[tuple[str, str, str]] = []
    pm = ProbeManager(runtime=runtime, clock=clock, on_change=changes.append,
                      event=lambda p, t, r, m, f: events.append((r, m, f)))
    p = pod(app={"readinessProbe": {"exec": {"command": ["ready"]}, "periodSeconds": 5, "initialDelaySeconds": 3},
                 "livenessProbe": {"exec": {"command": ["live"]}, "periodSeconds": 5, "failureThreshold": 2}})
    pm.update(p, "10.42.0.5", {"app": ("c1", clock.monotonic())})
    assert pm.started("u", "app", "c1") and not pm.ready("u", "app", "c1")
    await settle()
    assert not pm.ready("u", "app", "c1")                    # initial delay: not probed yet
    clock.advance(5)
    await settle()
    assert pm.ready("u", "app", "c1") and "u" in changes
    runtime.codes["live"] = 1
    clock.advance(5)
    await settle()
    assert pm.kill_reason("u", "app", "c1") is None          # one failure of two
    clock.advance(5)
    await settle()
    assert pm.kill_reason("u", "app", "c1") == "Container app failed liveness probe"
    assert ("Unhealthy", "Liveness probe failed: out:live", "spec.containers{app}") in events
    calls = len(runtime.calls)
    clock.advance(5)
    await settle()
    assert [c for c in runtime.calls[calls:] if c[1] == ["live"]] == []    # on hold until a new container
    runtime.codes["live"] = 0
    pm.update(p, "10.42.0.5", {"app": ("c2", clock.monotonic())})           # restarted
    assert pm.kill_reason("u", "app", "c2") is None and not pm.ready("u", "app", "c2")
    clock.advance(5)
    await settle()
    assert pm.ready("u", "app", "c2") and not pm.ready("u", "app", "c1")
    pm.remove_pod("u")
    assert not pm.started("u", "app", "c2")
    await pm.stop()


async def test_startup_probe_gates_the_others() -> None:
    clock, runtime = FakeClock(), FakeExec()
    pm = ProbeManager(runtime=runtime, clock=clock)
    runtime.codes["start"] = 1
    p = pod(app={"startupProbe": {"exec": {"command": ["start"]}, "periodSeconds": 1, "failureThreshold": 30},
                 "livenessProbe": {"exec": {"command": ["live"]}, "periodSeconds": 1}})
    pm.update(p, "", {"app": ("c1", 0.0)})
    assert not pm.started("u", "app", "c1") and not pm.ready("u", "app", "c1")
    for _ in range(3):
        clock.advance(1)
        await settle()
    assert not any(c[1] == ["live"] for c in runtime.calls)
    runtime.codes["start"] = 0
    clock.advance(1)
    await settle()
    assert pm.started("u", "app", "c1") and pm.ready("u", "app", "c1")       # no readiness probe: ready
    pm.update(p, "", {"app": ("c1", 0.0)})
    assert pm.started("u", "app", "c1")                                      # kept across syncs
    clock.advance(1)
    await settle()
    assert any(c[1] == ["live"] for c in runtime.calls)
    n = sum(c[1] == ["start"] for c in runtime.calls)
    clock.advance(3)
    await settle()
    assert sum(c[1] == ["start"] for c in runtime.calls) == n                # startup stops once passed
    await pm.stop()


async def test_sidecar_probe_events_name_the_init_container() -> None:
    clock, runtime = FakeClock(), FakeExec()
    events: list[str] = []
    pm = ProbeManager(runtime=runtime, clock=clock, event=lambda p, t, r, m, f: events.append(f))
    runtime.codes["check"] = 1
    p = {"metadata": {"uid": "u"}, "spec": {"containers": [{"name": "app"}], "initContainers": [
        {"name": "proxy", "restartPolicy": "Always", "readinessProbe": {"exec": {"command": ["check"]},
                                                                       "periodSeconds": 1}}]}}
    pm.update(p, "", {"proxy": ("c1", 0.0)})
    clock.advance(1)
    await settle()
    assert events and set(events) == {"spec.initContainers{proxy}"}
    await pm.stop()


async def test_startup_failure_kills() -> None:
    clock, runtime = FakeClock(), FakeExec()
    pm = ProbeManager(runtime=runtime, clock=clock)
    runtime.codes["start"] = 1
    pm.update(pod(app={"startupProbe": {"exec": {"command": ["start"]}, "periodSeconds": 1, "failureThreshold": 2}}),
              "", {"app": ("c1", 0.0)})
    for _ in range(3):
        clock.advance(1)
        await settle()
    assert pm.kill_reason("u", "app", "c1") == "Container app failed startup probe"
    await pm.stop()


async def test_check_exec() -> None:
    rt = FakeExec()
    assert await check_exec(rt, "c", ["ok"], timeout=1) == Outcome(S, "out:ok")
    rt.codes["bad"] = 2
    assert (await check_exec(rt, "c", ["bad"], timeout=1)).result == F
    assert await check_exec(rt, "c", ["hang", "x"], timeout=1) == Outcome(F, 'command "hang x" timed out')
    assert (await check_exec(rt, "c", ["boom"], timeout=1)).result == U


@pytest.mark.parametrize(("action", "url"), [
    ({"port": 8080, "path": "/healthz"}, "http://10.42.0.5:8080/healthz"),
    ({"port": "http", "path": "ready", "scheme": "HTTPS"}, "https://10.42.0.5:80/ready"),
    ({"port": 81, "host": "127.0.0.1"}, "http://127.0.0.1:81/"),
    ({"port": "9000"}, "http://10.42.0.5:9000/"),
])
def test_http_url(action: Obj, url: str) -> None:
    assert http_url(action, pod_ip="10.42.0.5", container={"ports": [{"name": "http", "containerPort": 80}]}) == url


def test_resolve_port_unknown_name() -> None:
    with pytest.raises(ValueError, match="couldn't find port: web"):
        resolve_port("web", {"name": "c"})


SEEN: list[Obj] = []


@pytest.fixture
async def http_server() -> AsyncIterator[str]:
    seen = SEEN
    seen.clear()

    async def handler(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        code = int(request.match_info["code"])
        if code == 301:                     # on this host: followed
            return web.Response(status=301, headers={"Location": "/500"})
        if code == 307:                     # to another host: not followed, a warning
            return web.Response(status=307, text="moved", headers={"Location": "http://elsewhere.invalid/x"})
        if code == 308:                     # to itself: endless
            return web.Response(status=308, headers={"Location": "/308"})
        return web.Response(status=code, text="body", headers={"Location": "/elsewhere"} if code == 302 else None)

    app = web.Application()
    app.router.add_get("/{code}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_check_http(http_server: str) -> None:
    async with aiohttp.ClientSession() as s:
        assert (await check_http(s, f"{http_server}/200", headers=[], timeout=2)) == Outcome(S, "body")
        assert (await check_http(s, f"{http_server}/302", headers=[], timeout=2)).result == F   # /elsewhere: 404
        assert (await check_http(s, f"{http_server}/301", headers=[], timeout=2)).output.endswith("statuscode: 500")
        assert await check_http(s, f"{http_server}/307", headers=[], timeout=2) == Outcome(
            Result.WARNING, "Probe terminated redirects, Response body: moved")
        assert (await check_http(s, f"{http_server}/308", headers=[], timeout=2)).output.endswith(
            "stopped after 10 redirects")
        assert await check_http(s, f"{http_server}/500", headers=[], timeout=2) == Outcome(
            F, "HTTP probe failed with statuscode: 500")
        got = await check_http(s, f"{http_server}/200", headers=[{"name": "X-Custom", "value": "1"},
                                                                 {"name": "User-Agent", "value": "mine"}], timeout=2)
        assert got.result == S
        assert SEEN[0]["User-Agent"] == "kube-probe/1.33" and SEEN[0]["Accept"] == "*/*"
        assert SEEN[-1]["User-Agent"] == "mine" and SEEN[-1]["X-Custom"] == "1"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        url = f"http://127.0.0.1:{port}/x"
        assert await check_http(s, url, headers=[], timeout=2) == Outcome(
            F, f'Get "{url}": dial tcp 127.0.0.1:{port}: connect: connection refused')


async def test_check_tcp() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    assert await check_tcp("127.0.0.1", port, timeout=2) == Outcome(S)
    server.close()
    await server.wait_closed()
    assert await check_tcp("127.0.0.1", port, timeout=2) == Outcome(
        F, f"dial tcp 127.0.0.1:{port}: connect: connection refused")
