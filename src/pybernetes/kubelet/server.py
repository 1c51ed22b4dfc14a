"""The kubelet's HTTPS server (port 10250): container logs, exec, attach and port-forward for the API server.

The API server proxies ``pods/{name}/log|exec|attach|portforward`` here (``apiserver/proxy.py``), so the paths,
query parameters and error texts are upstream kubelet's (``pkg/kubelet/server/server.go``):

    GET       /containerLogs/{namespace}/{pod}/{container}?follow&tailLines&timestamps&previous&sinceSeconds…
    GET|POST  /exec/{namespace}/{pod}[/{uid}]/{container}?command=…&input=1&output=1&error=1&tty=1
    GET|POST  /attach/{namespace}/{pod}[/{uid}]/{container}?input=1&output=1&error=1&tty=1
    GET|POST  /portForward/{namespace}/{pod}[/{uid}][?port=80,443]

Streams upgrade to a websocket (``v5``/``v4``/``channel.k8s.io``/``base64.channel.k8s.io``; port-forward ``v4``
and kubectl 1.31+'s SPDY tunnel ``SPDY/3.1+portforward.k8s.io``) or to SPDY/3.1 (``POST``, ``Upgrade: SPDY/3.1``,
``X-Stream-Protocol-Version``). Whatever the API server receives it forwards unchanged, so every protocol a
client speaks is served here and nothing is translated in between.

Security: the serving certificate is self-signed, made at first start in ``<data-dir>/kubelet`` (the API server
does not verify it, as upstream's default). Clients must present a certificate from the cluster's client CA —
fetched from the API server at start (``GET /v1-pybernetes/client-ca.crt``) — in group ``system:masters``: the API
server's own client certificate is.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime
import logging
import os
import pathlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from pybernetes.apiserver.authn import from_peercert
from pybernetes.kubelet.runtime.interface import ContainerState, ContainerStatus, RuntimeFailure, StreamIO
from pybernetes.kubelet.serving import CLIENT_CA_PATH, ensure_serving_cert, fetch_client_ca, server_ssl_context
from pybernetes.streaming import channels as ch
from pybernetes.streaming import crilog, hijack, portforward, remotecommand
from pybernetes.streaming.logoptions import PodLogQuery, QueryError, parse_pod_log_query, validate
from pybernetes.streaming.spdysession import SpdySession

log = logging.getLogger(__name__)
Obj = dict[str, Any]
DEFAULT_PORT = 10250
ALLOWED_GROUP = "system:masters"


# ------------------------------------------------------------------ what the server needs from the kubelet
@dataclass(frozen=True, slots=True)
class PodEntry:
    pod: Obj                    # the API object the kubelet runs (spec and metadata)
    status: Obj                 # the freshest status it computed
    sandbox_id: str


class PodIndex(Protocol):
    def find(self, namespace: str, name: str) -> PodEntry | None: ...


class StreamingRuntime(Protocol):
    """The part of :class:`~pybernetes.kubelet.runtime.interface.Runtime` the server uses."""

    runtime_name: str

    async def list_containers(self, sandbox_id: str) -> list[ContainerStatus]: ...
    async def container_status(self, container_id: str) -> ContainerStatus | None: ...
    async def container_log_path(self, container_id: str) -> str: ...
    async def exec(self, container_id: str, cmd: Sequence[str], streams: StreamIO, *, tty: bool) -> int: ...
    async def attach(self, container_id: str, streams: StreamIO, *, tty: bool) -> None: ...
    async def port_forward(self, sandbox_id: str, port: int
                           ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]: ...


class WorkerPods:
    """:class:`PodIndex` over the agent's pod workers and status manager."""

    def __init__(self, workers: Any, status: Any) -> None:
        self.workers = workers
        self.status = status

    def find(self, namespace: str, name: str) -> PodEntry | None:
        for rec in self.workers.records.values():
            pod = rec.pod
            meta = (pod or {}).get("metadata") or {}
            if pod is not None and meta.get("name") == name and meta.get("namespace") == namespace:
                status = self.status.get(rec.uid) or pod.get("status") or {}
                return PodEntry(pod, status, rec.sandbox_id)
        return None


# ------------------------------------------------------------------ small pure helpers
def runtime_id(container_id: str) -> str:
    """``crun://abc`` → ``abc`` (status container IDs carry the runtime's scheme)."""
    return container_id.split("://", 1)[1] if "://" in container_id else container_id


def has_container(pod: Obj, name: str) -> bool:
    spec = pod.get("spec") or {}
    return any(c.get("name") == name for key in ("containers", "initContainers", "ephemeralContainers")
               for c in spec.get(key) or ())


def log_container_id(pod_name: str, status: Obj, container: str, *, previous: bool) -> str:
    """The container whose log to serve (upstream ``validateContainerLogStatus``); ValueError with the kubelet's
    message when there is none."""
    cs = None
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        cs = next((c for c in status.get(key) or () if c.get("name") == container), None)
        if cs is not None:
            break
    if cs is None:
        raise ValueError(f'container "{container}" in pod "{pod_name}" is not available')
    state, last = cs.get("state") or {}, (cs.get("lastState") or {}).get("terminated")
    running, terminated, waiting = state.get("running"), state.get("terminated"), state.get("waiting")
    if previous:
        if not last or not last.get("containerID"):
            raise ValueError(f'previous terminated container "{container}" in pod "{pod_name}" not found')
        return str(last["containerID"])
    if running is not None and cs.get("containerID"):
        return str(cs["containerID"])
    if terminated is not None:
        if terminated.get("containerID"):
            return str(terminated["containerID"])
        if last and last.get("containerID"):
            return str(last["containerID"])
        raise ValueError(f'container "{container}" in pod "{pod_name}" is terminated')
    if last is not None:
        if not last.get("containerID"):
            raise ValueError(f'container "{container}" in pod "{pod_name}" is terminated')
        return str(last["containerID"])
    if waiting is not None:
        reason = waiting.get("reason", "")
        if reason == "ErrImagePull":
            reason = "image can't be pulled"
        elif reason == "ImagePullBackOff":
            reason = "trying and failing to pull image"
        raise ValueError(f'container "{container}" in pod "{pod_name}" is waiting to start: {reason}')
    raise ValueError(f'container "{container}" in pod "{pod_name}" is waiting to start - no logs yet')


def crilog_options(q: PodLogQuery, now_ns: int) -> crilog.LogOptions:
    since = 0
    if q.since_seconds is not None:
        since = now_ns - q.since_seconds * 1_000_000_000
    if q.since_time is not None:
        since = max(since, int(q.since_time.timestamp()) * 1_000_000_000)
    streams = {"Stdout": frozenset({"stdout"}), "Stderr": frozenset({"stderr"})}.get(
        q.stream or "All", frozenset({"stdout", "stderr"}))
    return crilog.LogOptions(tail=q.tail_lines if q.tail_lines is not None else -1,
                             limit_bytes=q.limit_bytes if q.limit_bytes is not None else -1,
                             since_ns=since, follow=q.follow, timestamps=q.timestamps, streams=streams)


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message, content_type="text/plain")


def _offered(request: web.Request, header: str) -> list[str]:
    return ch.split_header_values(request.headers.getall(header, []))


def is_websocket(request: web.Request) -> bool:
    return "upgrade" in request.headers.get("Connection", "").lower() and \
        request.headers.get("Upgrade", "").lower() == "websocket"


def is_spdy(request: web.Request) -> bool:
    return "upgrade" in request.headers.get("Connection", "").lower() and \
        "spdy/3.1" in request.headers.get("Upgrade", "").lower()


# ------------------------------------------------------------------ the server
class KubeletServer:
    def __init__(self, *, runtime: StreamingRuntime, pods: PodIndex, data_dir: pathlib.Path, client_ca: bytes,
                 port: int = DEFAULT_PORT, bind_address: str = "0.0.0.0", names: Iterable[str] = (),
                 ips: Iterable[str] = ()) -> None:
        self.runtime = runtime
        self.pods = pods
        self.data_dir = data_dir
        self.client_ca = client_ca
        self.port = port
        self.bind_address = bind_address
        self.names, self.ips = tuple(names), tuple(ips)
        self._runner: web.AppRunner | None = None
        self.sessions: set[asyncio.Task[Any]] = set()
        self.served: collections.Counter[str] = collections.Counter()    # "<kind>/<transport>/<protocol>"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    async def start(self) -> None:
        crt, key = await asyncio.to_thread(ensure_serving_cert, self.data_dir / "kubelet", names=self.names,
                                           ips=self.ips)
        self._runner = web.AppRunner(self.app(), handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.bind_address, self.port,
                           ssl_context=server_ssl_context(crt, key, self.client_ca), reuse_address=True)
        await site.start()
        server = site._server
        if self.port == 0 and server is not None:
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        log.info("kubelet server listening", extra={"address": self.bind_address, "port": self.port})

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- request handling
    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        denied = self.authorize(request)
        if denied is not None:
            return denied
        parts = [p for p in request.path.split("/") if p]
        kind = parts[0] if parts else ""
        if kind == "healthz" and len(parts) == 1:
            return _text(200, "ok")
        if kind == "containerLogs" and len(parts) == 4 and request.method == "GET":
            return await self.container_logs(request, *parts[1:4])
        if kind in ("exec", "attach") and len(parts) in (4, 5) and request.method in ("GET", "POST"):
            return await self.remote_command(request, kind, parts[1], parts[2], parts[-1],
                                             uid=parts[3] if len(parts) == 5 else "")
        if kind == "portForward" and len(parts) in (3, 4) and request.method in ("GET", "POST"):
            return await self.port_forward(request, parts[1], parts[2], uid=parts[3] if len(parts) == 4 else "")
        return _text(404, "404 page not found\n")

    def authorize(self, request: web.Request) -> web.Response | None:
        transport = request.transport
        cert = None
        if transport is not None:
            sslobj = transport.get_extra_info("ssl_object")
            if sslobj is not None:
                cert = sslobj.getpeercert()
        user = from_peercert(cert)
        if user is None:
            return _text(401, "Unauthorized")
        if ALLOWED_GROUP not in user.groups:
            verb = {"GET": "get", "HEAD": "get", "POST": "create"}.get(request.method, request.method.lower())
            return _text(403, f"Forbidden (user={user.name}, verb={verb}, resource=nodes, "
                              "subresource(s)=[proxy])\n")
        return None

    # ---- logs
    async def container_logs(self, request: web.Request, namespace: str, name: str,
                             container: str) -> web.StreamResponse:
        try:
            q = parse_pod_log_query(request.query)
        except QueryError:
            return _text(400, '{"message": "Unable to decode query."}')
        if validate(q):
            return _text(422, '{"message": "Invalid request."}')
        entry = self.pods.find(namespace, name)
        if entry is None:
            return _text(404, f'pod "{name}" does not exist')
        if not has_container(entry.pod, container):
            return _text(404, f'container "{container}" not found in pod "{name}"')
        try:
            cid = runtime_id(log_container_id(name, entry.status, container, previous=q.previous))
        except ValueError as e:
            return _text(400, str(e))
        path = await self.runtime.container_log_path(cid)
        resp = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
        if not path:
            await resp.prepare(request)
            return resp
        opts = crilog_options(q, time.time_ns())

        async def running() -> bool:
            st = await self.runtime.container_status(cid)
            return st is not None and st.state == ContainerState.RUNNING

        try:
            await asyncio.to_thread(os.stat, path)
        except FileNotFoundError:
            return _text(400, f'failed to try resolving symlinks in path "{path}": lstat {path}: '
                              "no such file or directory")
        except OSError as e:
            return _text(400, f'failed to open log file "{path}": {e}')
        # Headers go out now, before any log line (upstream's zero-byte write): a follower of an empty log must
        # see the stream open, and the API server waits for them before answering its client.
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        chunks = crilog.read_log(path, opts, running=running)
        try:
            async for chunk in chunks:
                await resp.write(chunk)
        except (ConnectionError, OSError):
            pass
        finally:
            await chunks.aclose()
        with contextlib.suppress(ConnectionError, OSError):
            await resp.write_eof()
        return resp

    # ---- exec and attach
    async def _running_container(self, entry: PodEntry, container: str) -> str | None:
        if not entry.sandbox_id:
            return None
        found = [c for c in await self.runtime.list_containers(entry.sandbox_id)
                 if c.name == container and c.state == ContainerState.RUNNING]
        return max(found, key=lambda c: c.attempt).id if found else None

    async def remote_command(self, request: web.Request, kind: str, namespace: str, name: str, container: str, *,
                             uid: str) -> web.StreamResponse:
        try:
            opts = remotecommand.stream_options(request.query)
        except remotecommand.OptionsError as e:
            return _text(400, str(e))
        entry = self.pods.find(namespace, name)
        if entry is None or (uid and (entry.pod.get("metadata") or {}).get("uid") != uid):
            return _text(404, "pod does not exist")
        cid = await self._running_container(entry, container)
        if cid is None:
            return _text(500, f'container not found ("{container}")')
        cmd = request.query.getall("command", [])
        if kind == "exec":
            run = self._exec_runner(cid, cmd, opts.tty)
        else:
            run = self._attach_runner(cid, opts.tty)
        if is_websocket(request):
            offered = _offered(request, "Sec-WebSocket-Protocol")
            chosen = ch.negotiate(offered, ch.WS_EXEC_PROTOCOLS) if offered else ""
            if chosen is None:
                return _text(403, f"unable to upgrade: requested protocol(s) are not supported: {offered}; "
                                  f"supports {list(ch.WS_EXEC_PROTOCOLS)}")
            ws = web.WebSocketResponse(protocols=(chosen,) if chosen else (), max_msg_size=0, autoping=True)
            await ws.prepare(request)
            self.served[f"{kind}/websocket/{chosen}"] += 1
            await self._tracked(remotecommand.serve_websocket(ws, ch.ws_protocol(chosen or ch.V1), opts, run))
            return ws
        if is_spdy(request):
            offered = _offered(request, "X-Stream-Protocol-Version")
            version = ch.negotiate(offered, ch.SPDY_EXEC_PROTOCOLS) if offered else ch.V1
            if version is None:
                return self._no_protocol(offered, ch.SPDY_EXEC_PROTOCOLS)
            session = await self._upgrade_spdy(request, version, accept=None)
            self.served[f"{kind}/spdy/{version}"] += 1

            async def serve() -> None:
                runner = asyncio.ensure_future(session.run())
                try:
                    await remotecommand.serve_spdy(session, version, opts, run)
                finally:
                    await session.close()
                    runner.cancel()

            await self._tracked(serve())
            return hijack.done()
        return _text(400, "Upgrade request required")

    def _exec_runner(self, cid: str, cmd: list[str], tty: bool) -> remotecommand.Runner:
        async def run(io: remotecommand.SessionIO) -> dict[str, Any]:
            if not cmd:
                return ch.internal_error_status("error executing command in container: command is required")
            try:
                code = await self.runtime.exec(cid, cmd, io, tty=tty)
            except RuntimeFailure as e:
                return ch.internal_error_status(f"error executing command in container: {e}")
            return ch.success_status() if code == 0 else ch.exit_status(code, cmd)
        return run

    def _attach_runner(self, cid: str, tty: bool) -> remotecommand.Runner:
        async def run(io: remotecommand.SessionIO) -> dict[str, Any]:
            try:
                await self.runtime.attach(cid, io, tty=tty)
            except RuntimeFailure as e:
                return ch.internal_error_status(f"error attaching to container: {e}")
            return ch.success_status()
        return run

    # ---- port-forward
    async def port_forward(self, request: web.Request, namespace: str, name: str, *,
                           uid: str) -> web.StreamResponse:
        ws_offered = _offered(request, "Sec-WebSocket-Protocol") if is_websocket(request) else []
        tunnel = ch.tunnel_protocols(ws_offered)
        ports: list[int] = []
        if is_websocket(request) and not tunnel:
            try:
                ports = portforward.parse_ports(request.query.getall("port", []) + request.query.getall("ports", []))
            except portforward.PortsError as e:
                return _text(400, str(e))
        entry = self.pods.find(namespace, name)
        if entry is None:
            return _text(404, "pod does not exist")
        pod_uid = (entry.pod.get("metadata") or {}).get("uid", "")
        if uid and pod_uid != uid:
            return _text(404, "pod not found")
        if not entry.sandbox_id:
            return _text(500, f'pod "{name}" has no sandbox')
        sandbox = entry.sandbox_id

        async def dial(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            try:
                return await self.runtime.port_forward(sandbox, port)
            except RuntimeFailure as e:
                raise OSError(str(e)) from None

        if is_websocket(request) and tunnel:
            chosen = ch.negotiate(tunnel, ch.SPDY_PORT_FORWARD_PROTOCOLS)
            if chosen is None:
                return self._no_protocol(tunnel, ch.SPDY_PORT_FORWARD_PROTOCOLS)
            ws = web.WebSocketResponse(protocols=(ch.TUNNEL_PREFIX + chosen,), max_msg_size=0, autoping=True)
            await ws.prepare(request)
            session = SpdySession(portforward.WebSocketChannel(ws), server=True, accept=portforward.check_stream)
            self.served[f"portforward/tunnel/{chosen}"] += 1
            await self._tracked(self._serve_pf_spdy(session, dial, sandbox, pod_uid))
            return ws
        if is_websocket(request):
            chosen = ch.negotiate(ws_offered, ch.WS_PORT_FORWARD_PROTOCOLS) if ws_offered else ""
            if chosen is None:
                return _text(403, f"unable to upgrade: requested protocol(s) are not supported: {ws_offered}; "
                                  f"supports {list(ch.WS_PORT_FORWARD_PROTOCOLS)}")
            ws = web.WebSocketResponse(protocols=(chosen,) if chosen else (), max_msg_size=0, autoping=True)
            await ws.prepare(request)
            self.served[f"portforward/websocket/{chosen}"] += 1
            await self._tracked(portforward.serve_websocket(ws, ch.ws_protocol(chosen or ch.V4), ports, dial,
                                                            pod=sandbox, uid=pod_uid))
            return ws
        if is_spdy(request):
            offered = _offered(request, "X-Stream-Protocol-Version")
            chosen = ch.negotiate(offered, ch.SPDY_PORT_FORWARD_PROTOCOLS)
            if chosen is None:
                return self._no_protocol(offered, ch.SPDY_PORT_FORWARD_PROTOCOLS)
            session = await self._upgrade_spdy(request, chosen, accept=portforward.check_stream)
            self.served[f"portforward/spdy/{chosen}"] += 1
            await self._tracked(self._serve_pf_spdy(session, dial, sandbox, pod_uid))
            return hijack.done()
        return _text(400, "Upgrade request required")

    async def _serve_pf_spdy(self, session: SpdySession, dial: portforward.Dial, pod: str, uid: str) -> None:
        runner = asyncio.ensure_future(session.run())
        try:
            await portforward.serve_spdy(session, dial, pod=pod, uid=uid)
        finally:
            await session.close()
            runner.cancel()

    # ---- upgrades
    @staticmethod
    def _no_protocol(offered: list[str], supported: Sequence[str]) -> web.Response:
        resp = _text(403, f"unable to upgrade: unable to negotiate protocol: client supports {offered}, server "
                          f"accepts {list(supported)}")
        for p in supported:
            resp.headers.add("X-Accepted-Stream-Protocol-Versions", p)
        return resp

    async def _upgrade_spdy(self, request: web.Request, protocol: str,
                            accept: Callable[[Any], str | None] | None) -> SpdySession:
        channel = hijack.take_over(request)
        head = hijack.response_head(101, "Switching Protocols", [
            ("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1"), ("X-Stream-Protocol-Version", protocol),
            ("Date", _http_date())])
        await channel.write(head)
        return SpdySession(channel, server=True, accept=accept)

    async def _tracked(self, coro: Any) -> None:
        """Run a session to its end (held by the request handler, so aiohttp keeps the connection)."""
        task = asyncio.ensure_future(coro)
        self.sessions.add(task)
        try:
            await task
        finally:
            self.sessions.discard(task)


def _http_date() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


__all__ = ["CLIENT_CA_PATH", "DEFAULT_PORT", "KubeletServer", "PodEntry", "PodIndex", "StreamingRuntime", "WorkerPods",
           "ensure_serving_cert", "fetch_client_ca"]
