"""The agent's end of the shim's socket: calls, the event stream, exec/attach sessions, and starting the shim
when nothing answers (in its own session, so it outlives the agent; see ``shim``)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import orjson

log = logging.getLogger(__name__)
START_TIMEOUT = 20.0
CALL_TIMEOUT = 120.0


class ShimCallError(Exception):
    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class ShimUnavailable(ShimCallError):
    def __init__(self, message: str) -> None:
        super().__init__(message, status=0)


class ShimClient:
    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.UnixConnector(path=str(self.socket_path), limit=64),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=5))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, method: str, path: str, body: Any = None, *, params: dict[str, str] | None = None,
                   timeout: float | None = CALL_TIMEOUT) -> Any:
        data = orjson.dumps(body) if body is not None else None
        try:
            async with self.session.request(method, "http://shim" + path, data=data, params=params,
                                            headers={"Content-Type": "application/json"},
                                            timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                raw = await resp.read()
                doc = orjson.loads(raw) if raw else None
                if resp.status >= 400:
                    msg = doc.get("error") if isinstance(doc, dict) else raw.decode(errors="replace")
                    raise ShimCallError(str(msg), status=resp.status)
                return doc
        except (aiohttp.ClientConnectionError, FileNotFoundError, ConnectionRefusedError) as e:
            raise ShimUnavailable(f"runtime shim at {self.socket_path} is not answering: {e}") from None

    async def version(self, timeout: float = 5.0) -> dict[str, Any]:
        doc: dict[str, Any] = await self.call("GET", "/v1/version", timeout=timeout)
        return doc

    async def list(self, **meta: str) -> list[dict[str, Any]]:
        """Every container, or those whose meta matches all of ``meta``."""
        doc: list[dict[str, Any]] = await self.call("GET", "/v1/containers",
                                                    params={f"meta.{k}": v for k, v in meta.items()})
        return doc

    async def get(self, cid: str) -> dict[str, Any] | None:
        try:
            doc: dict[str, Any] = await self.call("GET", f"/v1/containers/{cid}")
            return doc
        except ShimCallError as e:
            if e.status == 404:
                return None
            raise

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        doc: dict[str, Any] = await self.call("POST", "/v1/containers", body)
        return doc

    async def start(self, cid: str) -> dict[str, Any]:
        doc: dict[str, Any] = await self.call("POST", f"/v1/containers/{cid}/start")
        return doc

    async def stop(self, cid: str, timeout: float) -> dict[str, Any]:
        doc: dict[str, Any] = await self.call("POST", f"/v1/containers/{cid}/stop", {"timeout": timeout},
                                              timeout=timeout + CALL_TIMEOUT)
        return doc

    async def kill(self, cid: str, sig: str = "SIGKILL") -> None:
        await self.call("POST", f"/v1/containers/{cid}/kill", {"signal": sig})

    async def delete(self, cid: str) -> None:
        await self.call("DELETE", f"/v1/containers/{cid}")

    async def exec_sync(self, cid: str, cmd: Sequence[str], *, timeout: float) -> tuple[int, bytes, bytes, bool]:
        doc = await self.call("POST", f"/v1/containers/{cid}/exec-sync", {"cmd": list(cmd), "timeout": timeout},
                              timeout=(timeout or 0) + CALL_TIMEOUT)
        return (int(doc["exit_code"]), base64.b64decode(doc["stdout"]), base64.b64decode(doc["stderr"]),
                bool(doc.get("timed_out")))

    async def shutdown(self, *, kill_containers: bool) -> None:
        await self.call("POST", "/v1/shutdown", {"kill_containers": kill_containers})

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """The shim's events until the connection ends (a ``hello`` first, once subscribed)."""
        try:
            async with self.session.get("http://shim/v1/events",
                                        timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as resp:
                async for line in resp.content:
                    if line.strip():
                        yield orjson.loads(line)
        except (aiohttp.ClientConnectionError, FileNotFoundError, ConnectionRefusedError) as e:
            raise ShimUnavailable(f"runtime shim event stream ended: {e}") from None

    async def websocket(self, path: str, params: dict[str, str]) -> aiohttp.ClientWebSocketResponse:
        try:
            return await self.session.ws_connect("http://shim" + path, params=params, max_msg_size=0,
                                                 autoping=True, heartbeat=None)
        except aiohttp.WSServerHandshakeError as e:
            raise ShimCallError(e.message, status=e.status) from None
        except (aiohttp.ClientConnectionError, FileNotFoundError) as e:
            raise ShimUnavailable(f"runtime shim at {self.socket_path} is not answering: {e}") from None


def shim_command(root: Path, socket_path: Path, runtime: str) -> list[str]:
    return [sys.executable, "-m", "pybernetes", "shim", "--root", str(root), "--socket", str(socket_path),
            "--runtime", runtime]


async def ensure_shim(client: ShimClient, *, root: Path, runtime: str, command: Sequence[str] | None = None,
                      timeout: float = START_TIMEOUT) -> dict[str, Any]:
    """The shim's version info; starts the shim first if its socket does not answer. The shim runs in its own
    session with its output in ``<root>/shim.log``; a reaper task of ours collects it if it ends while we run."""
    with contextlib.suppress(ShimUnavailable, TimeoutError):
        return await client.version()
    os.makedirs(root, exist_ok=True)
    argv = list(command or shim_command(root, client.socket_path, runtime))
    logf = os.open(root / "shim.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
    try:
        proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL, stdout=logf,
                                                    stderr=logf, start_new_session=True,
                                                    env={**os.environ, "PYTHONUNBUFFERED": "1"})
    finally:
        os.close(logf)
    log.info("started runtime shim", extra={"pid": proc.pid, "root": str(root), "runtime": runtime})
    _keep(asyncio.ensure_future(proc.wait()))
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await client.version(timeout=2.0)
        except (TimeoutError, ShimUnavailable):
            if proc.returncode is not None:
                tail = _tail(root / "shim.log")
                raise ShimUnavailable(f"runtime shim exited with {proc.returncode}: {tail}") from None
            if time.monotonic() > deadline:
                raise ShimUnavailable(f"runtime shim did not answer on {client.socket_path} "
                                      f"within {timeout:.0f}s") from None
            await asyncio.sleep(0.05)


_KEEP: set[asyncio.Future[Any]] = set()


def _keep(fut: asyncio.Future[Any]) -> None:
    _KEEP.add(fut)
    fut.add_done_callback(_KEEP.discard)


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""
