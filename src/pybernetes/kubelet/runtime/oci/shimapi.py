"""The shim's API on its unix socket (JSON over HTTP; exec and attach as WebSocket sessions), and its main.

    GET    /v1/version                      {"runtime", "version", "pid"}
    GET    /v1/containers[?meta.K=V]        [record, ...]
    GET    /v1/containers/{id}              record
    POST   /v1/containers                   {id, config, rootfs, log_path, meta, stop_signal, stdin, stdin_once}
    POST   /v1/containers/{id}/start
    POST   /v1/containers/{id}/stop         {"timeout": s, "signal": ""}
    POST   /v1/containers/{id}/kill         {"signal": "SIGKILL"}
    DELETE /v1/containers/{id}[?keep_logs=1]
    POST   /v1/containers/{id}/exec-sync    {"cmd": [...], "timeout": s} → {"exit_code", "stdout", "stderr"} (base64)
    GET    /v1/containers/{id}/exec?cmd=JSON&tty=0|1&stdin=0|1[&width=W&height=H]   WebSocket (``shimio``)
    GET    /v1/containers/{id}/attach?stdin=0|1                        WebSocket
    GET    /v1/events                       NDJSON stream of {"type": "exit", "id", "state", "meta"}
    POST   /v1/shutdown                     {"kill_containers": bool}

Errors are ``{"error": message}`` with 400/404/409/500.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import signal
from pathlib import Path
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from pybernetes.kubelet.runtime.oci import procs, shimio, spec
from pybernetes.kubelet.runtime.oci.ocicli import OCIRuntimeCLI, binary_version, find_binary
from pybernetes.kubelet.runtime.oci.records import RUNNING
from pybernetes.kubelet.runtime.oci.shim import Container, Shim, ShimError, lock_root, runtime_error, signal_number

log = logging.getLogger(__name__)
SHIM = web.AppKey("shim", Shim)
EXEC_OUTPUT_LIMIT = 16 * 1024 * 1024
EXEC_DRAIN = 1.0


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


@web.middleware
async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        resp: web.StreamResponse = await handler(request)
        return resp
    except ShimError as e:
        return _json({"error": str(e)}, status=e.status)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        doc = orjson.loads(await request.read())
    except orjson.JSONDecodeError as e:
        raise ShimError(f"bad JSON: {e}", status=400) from None
    if not isinstance(doc, dict):
        raise ShimError("body must be a JSON object", status=400)
    return doc


def _shim(request: web.Request) -> Shim:
    return request.app[SHIM]


async def version(request: web.Request) -> web.Response:
    shim = _shim(request)
    return _json({"runtime": shim.cli.name, "version": shim.version, "pid": os.getpid()})


async def list_containers(request: web.Request) -> web.Response:
    """All records, or those whose ``meta`` has every ``meta.<key>=<value>`` of the query."""
    wanted = {k[5:]: v for k, v in request.query.items() if k.startswith("meta.")}
    out = _shim(request).list()
    if wanted:
        out = [r for r in out if all(str((r.get("meta") or {}).get(k, "")) == v for k, v in wanted.items())]
    return _json(out)


async def get_container(request: web.Request) -> web.Response:
    return _json(_shim(request).get(request.match_info["id"]).rec.to_json())


async def create(request: web.Request) -> web.Response:
    rec = await _shim(request).create(await _body(request))
    return _json(rec.to_json(), status=201)


async def start(request: web.Request) -> web.Response:
    return _json((await _shim(request).start_container(request.match_info["id"])).to_json())


async def stop(request: web.Request) -> web.Response:
    body = await _body(request)
    rec = await _shim(request).stop(request.match_info["id"], timeout=float(body.get("timeout", 30)),
                                    sig=str(body.get("signal") or ""))
    return _json(rec.to_json())


async def kill(request: web.Request) -> web.Response:
    body = await _body(request)
    _shim(request).signal(request.match_info["id"], signal_number(str(body.get("signal") or "SIGKILL")))
    return _json({})


async def delete(request: web.Request) -> web.Response:
    await _shim(request).delete(request.match_info["id"], remove_logs=request.query.get("keep_logs") != "1")
    return _json({})


async def events(request: web.Request) -> web.StreamResponse:
    shim = _shim(request)
    q = shim.subscribe()
    resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await resp.prepare(request)
    await resp.write(b'{"type":"hello"}\n')
    try:
        while True:
            ev = await q.get()
            if ev is None:
                break
            await resp.write(orjson.dumps(ev) + b"\n")
    except ConnectionError:                     # the agent went away (it re-subscribes when it is back)
        pass
    finally:
        shim.unsubscribe(q)
    return resp


async def shutdown(request: web.Request) -> web.Response:
    body = await _body(request)
    await _shim(request).shutdown(kill_containers=bool(body.get("kill_containers")))
    return _json({})


# ----------------------------------------------------------------------------------------------- exec

def _running(shim: Shim, cid: str) -> Container:
    c = shim.get(cid)
    if c.rec.state != RUNNING:
        raise ShimError(f"container {cid} is not running", status=409)
    return c


def _process_file(shim: Shim, c: Container, cmd: list[str], *, tty: bool, size: tuple[int, int] | None) -> Path:
    base = orjson.loads((c.dir / "config.json").read_bytes()).get("process") or {}
    proc = spec.exec_process(base, cmd, tty=tty)
    if tty and size and all(size):
        proc["consoleSize"] = {"width": size[0], "height": size[1]}
    path = shim.tmp_dir / f"exec-{os.urandom(6).hex()}.json"
    path.write_bytes(orjson.dumps(proc))
    return path


class ExecProcess:
    """One ``crun exec --detach`` process with pipes (or a terminal) for its stdio."""

    def __init__(self, shim: Shim, c: Container, cmd: list[str], *, tty: bool, stdin: bool,
                 size: tuple[int, int] | None = None) -> None:
        self.shim, self.c, self.cmd, self.tty, self.want_stdin, self.size = shim, c, cmd, tty, stdin, size
        self.pid = 0
        self.stdin_fd = -1
        self.outputs: dict[str, int] = {}
        self.pty_fd = -1

    async def start(self) -> None:
        shim, c = self.shim, self.c
        try:
            process = _process_file(shim, c, self.cmd, tty=self.tty, size=self.size)
        except spec.SpecError as e:
            raise ShimError(str(e), status=400) from None
        pid_file = shim.tmp_dir / f"{process.stem}.pid"
        log_file = shim.tmp_dir / f"{process.stem}.log"
        child: list[int] = []
        console = procs.ConsoleSocket(str(shim.tmp_dir)) if self.tty else None
        try:
            stdin_r = -1
            if self.want_stdin and not self.tty:
                stdin_r, self.stdin_fd = os.pipe2(os.O_CLOEXEC)
                os.set_blocking(self.stdin_fd, False)
                child.append(stdin_r)
            out_w = err_w = -1
            if not self.tty:
                self.outputs["stdout"], out_w = os.pipe2(os.O_CLOEXEC)
                self.outputs["stderr"], err_w = os.pipe2(os.O_CLOEXEC)
                child += [out_w, err_w]
            argv = shim.cli.exec(c.rec.id, process=str(process), pid_file=str(pid_file), log=str(log_file),
                                 console_socket=console.path if console else "")
            crun = shim.reaper.spawn(argv, stdin=stdin_r, stdout=out_w, stderr=err_w)
            receiving = asyncio.ensure_future(console.receive()) if console else None
            code = procs.exit_code(await shim.reaper.wait(crun))
            if receiving is not None:
                if code == 0:
                    self.pty_fd = await receiving
                    os.set_blocking(self.pty_fd, False)
                    self.outputs["stdout"] = os.dup(self.pty_fd)
                else:
                    receiving.cancel()
                    await asyncio.gather(receiving, return_exceptions=True)
            if code != 0:
                raise ShimError(runtime_error(log_file) or f"{shim.cli.name} exec exited with {code}")
            self.pid = int(pid_file.read_text().strip())
        except BaseException:
            self.close()
            raise
        finally:
            for fd in child:
                os.close(fd)
            if console is not None:
                console.close()
            for p in (process, pid_file, log_file):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()

    def wait(self) -> asyncio.Future[int]:
        return self.shim.reaper.wait(self.pid)

    def input_fd(self) -> int:
        return self.pty_fd if self.tty else self.stdin_fd

    def close_stdin(self) -> None:
        """End of the client's input. A terminal has no such thing: the session's end hangs it up instead."""
        if self.stdin_fd >= 0:
            os.close(self.stdin_fd)
            self.stdin_fd = -1

    def kill(self) -> None:
        if self.pid > 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def close(self) -> None:
        self.close_stdin()
        for fd in self.outputs.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self.outputs.clear()
        if self.pty_fd >= 0:
            os.close(self.pty_fd)
            self.pty_fd = -1


async def exec_sync(request: web.Request) -> web.Response:
    shim = _shim(request)
    body = await _body(request)
    cmd = [str(x) for x in body.get("cmd") or ()]
    timeout = float(body.get("timeout") or 0) or None
    c = _running(shim, request.match_info["id"])
    proc = ExecProcess(shim, c, cmd, tty=False, stdin=False)
    await proc.start()
    readers = {s: asyncio.ensure_future(shimio.read_until_eof(fd, limit=EXEC_OUTPUT_LIMIT))
               for s, fd in proc.outputs.items()}
    timed_out = False
    try:
        status = await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        timed_out = True
        proc.kill()
        status = await proc.wait()
    done, pending = await asyncio.wait(readers.values(), timeout=EXEC_DRAIN)
    for t in pending:                           # (a background child of the command still holds the pipe)
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)     # readers off their fds before the fds close
    out = {s: (t.result() if t in done and not t.exception() else b"") for s, t in readers.items()}
    proc.close()
    return _json({"exit_code": procs.exit_code(status), "timed_out": timed_out,
                  "stdout": base64.b64encode(out.get("stdout", b"")).decode(),
                  "stderr": base64.b64encode(out.get("stderr", b"")).decode()})


async def _pump_input(ws: web.WebSocketResponse, *, write_fd: Any, close_stdin: Any, resize_fd: Any) -> None:
    """Frames from the agent: stdin bytes, resizes, end of stdin."""
    async for msg in ws:
        if msg.type != WSMsgType.BINARY or not msg.data:
            continue
        channel, data = msg.data[0], msg.data[1:]
        if channel == shimio.STDIN:
            fd = write_fd()
            if fd >= 0 and data:
                try:
                    await shimio.write_all(fd, data)
                except OSError:
                    close_stdin()
        elif channel == shimio.RESIZE:
            fd = resize_fd()
            if fd >= 0:
                with contextlib.suppress(OSError, ValueError, orjson.JSONDecodeError):
                    size = orjson.loads(data)
                    procs.set_winsize(fd, int(size.get("width", 0)), int(size.get("height", 0)))
        elif channel == shimio.CLOSE_STDIN:
            close_stdin()


async def exec_ws(request: web.Request) -> web.StreamResponse:
    shim = _shim(request)
    try:
        cmd = [str(x) for x in orjson.loads(request.query.get("cmd", "[]"))]
    except orjson.JSONDecodeError:
        raise ShimError("cmd must be a JSON list", status=400) from None
    tty, want_stdin = request.query.get("tty") == "1", request.query.get("stdin") == "1"
    try:
        size = (int(request.query["width"]), int(request.query["height"])) if "width" in request.query else None
    except (KeyError, ValueError):
        raise ShimError("width and height must be numbers", status=400) from None
    c = _running(shim, request.match_info["id"])
    ws = web.WebSocketResponse(max_msg_size=0)
    await ws.prepare(request)
    proc = ExecProcess(shim, c, cmd, tty=tty, stdin=want_stdin, size=size)
    try:
        await proc.start()
    except ShimError as e:
        await ws.send_bytes(bytes([shimio.STATUS]) + orjson.dumps({"error": str(e)}))
        await ws.close()
        return ws

    async def forward(stream: str, fd: int) -> None:
        channel = shimio.STREAM_CHANNEL[stream]
        while True:
            try:
                data = os.read(fd, shimio.READ_SIZE)
            except BlockingIOError:
                await shimio.wait_fd(fd)
                continue
            except OSError:
                break
            if not data:
                break
            await ws.send_bytes(bytes([channel]) + data)

    for fd in proc.outputs.values():
        os.set_blocking(fd, False)
    outputs = [asyncio.ensure_future(forward(s, fd)) for s, fd in proc.outputs.items()]
    inputs = asyncio.ensure_future(_pump_input(ws, write_fd=proc.input_fd, close_stdin=proc.close_stdin,
                                               resize_fd=lambda: proc.pty_fd))
    try:
        waiter: asyncio.Future[Any] = asyncio.ensure_future(proc.wait())
        await asyncio.wait([waiter, inputs], return_when=asyncio.FIRST_COMPLETED)
        if not waiter.done():                # the agent went away: the process goes too
            proc.kill()
        status = await waiter
        await asyncio.wait(outputs, timeout=EXEC_DRAIN)
        if not ws.closed:
            await ws.send_bytes(bytes([shimio.STATUS]) + orjson.dumps({"exit_code": procs.exit_code(status)}))
            await ws.close()
    finally:
        for t in [*outputs, inputs]:
            t.cancel()
        await asyncio.gather(*outputs, inputs, return_exceptions=True)
        proc.close()
    return ws


async def attach_ws(request: web.Request) -> web.StreamResponse:
    shim = _shim(request)
    c = _running(shim, request.match_info["id"])
    want_stdin = request.query.get("stdin") == "1"
    ws = web.WebSocketResponse(max_msg_size=0)
    await ws.prepare(request)
    q = c.broadcast.subscribe()

    def close_stdin() -> None:
        if c.rec.stdin_once:
            c.close_stdin()

    inputs = asyncio.ensure_future(_pump_input(
        ws, write_fd=lambda: (c.pty_fd if c.rec.tty else c.stdin_fd) if want_stdin else -1,
        close_stdin=close_stdin, resize_fd=lambda: c.pty_fd))
    try:
        while True:
            getter = asyncio.ensure_future(q.get())
            await asyncio.wait([getter, inputs], return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                break
            chunk = getter.result()
            if chunk is None:
                break
            await ws.send_bytes(bytes([shimio.STREAM_CHANNEL[chunk[0]]]) + chunk[1])
        if not ws.closed:                       # the output ended: the container exited (just recorded)
            code = c.rec.exit_code if c.exited.is_set() else None
            await ws.send_bytes(bytes([shimio.STATUS]) + orjson.dumps({"exit_code": code}))
            await ws.close()
    finally:
        c.broadcast.unsubscribe(q)
        inputs.cancel()
        await asyncio.gather(inputs, return_exceptions=True)
        if want_stdin:
            close_stdin()
    return ws


# ----------------------------------------------------------------------------------------------- main

def make_app(shim: Shim) -> web.Application:
    app = web.Application(middlewares=[errors], client_max_size=64 * 1024 * 1024)
    app[SHIM] = shim
    app.router.add_get("/v1/version", version)
    app.router.add_get("/v1/containers", list_containers)
    app.router.add_post("/v1/containers", create)
    app.router.add_get("/v1/containers/{id}", get_container)
    app.router.add_delete("/v1/containers/{id}", delete)
    app.router.add_post("/v1/containers/{id}/start", start)
    app.router.add_post("/v1/containers/{id}/stop", stop)
    app.router.add_post("/v1/containers/{id}/kill", kill)
    app.router.add_post("/v1/containers/{id}/exec-sync", exec_sync)
    app.router.add_get("/v1/containers/{id}/exec", exec_ws)
    app.router.add_get("/v1/containers/{id}/attach", attach_ws)
    app.router.add_get("/v1/events", events)
    app.router.add_post("/v1/shutdown", shutdown)
    return app


async def serve(root: Path, socket_path: Path, runtime: str) -> int:
    """Run the shim until SIGTERM/SIGINT or ``/v1/shutdown``; containers keep running unless shut down with
    ``kill_containers``."""
    binary = find_binary(runtime)
    if binary is None:
        log.error("OCI runtime not found", extra={"runtime": runtime})
        return 2
    try:
        lock = lock_root(root)
    except BlockingIOError:
        log.error("another shim holds this root", extra={"root": str(root)})
        return 3
    procs.become_subreaper()
    cli = OCIRuntimeCLI(name=runtime, binary=binary, root=str(root / runtime))
    shim = Shim(root=root, cli=cli, version=await asyncio.to_thread(binary_version, binary))
    await shim.start()
    app = make_app(shim)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(socket_path)
    site = web.UnixSite(runner, str(socket_path))
    await site.start()
    os.chmod(socket_path, 0o600)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, shim.stopping.set)
    log.info("shim listening", extra={"socket": str(socket_path), "pid": os.getpid()})
    try:
        await shim.stopping.wait()
    finally:
        await shim.close()
        await runner.cleanup()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(socket_path)
        os.ftruncate(lock, 0)
        os.close(lock)
    return 0


def main(root: Path, socket_path: Path, runtime: str, *, stop: bool = False) -> int:
    """``pybernetes shim``: the plain asyncio loop (uvloop would want SIGCHLD for itself). With ``stop``, take
    the node's pods down instead (sandboxes, pod network, containers) and stop the running shim."""
    if stop:
        from pybernetes.kubelet.network.cni import CNINetwork
        from pybernetes.kubelet.runtime.oci.client import stop_node
        n = asyncio.run(stop_node(root.resolve(), runtime=runtime, network=CNINetwork(data_dir=root.resolve().parent)))
        print("no runtime shim was running" if n is None else f"stopped {n} pod sandbox(es) and the runtime shim")
        return 0
    return asyncio.run(serve(root.resolve(), socket_path.resolve(), runtime))
