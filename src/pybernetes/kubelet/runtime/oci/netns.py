"""Connections made inside a pod's network namespace (port-forward), without a helper process.

A socket belongs to the namespace of the thread that created it, for life. So a short-lived thread enters the
pod's netns (``setns``), creates a socket, and ends; the socket — connected from the event loop afterwards —
reaches the pod's ``localhost`` as upstream's port-forward does (``nsenter`` + ``socat`` there). The thread never
returns to the pool, so no other work runs in the pod's namespace by accident.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import socket
import threading

CLONE_NEWNET = 0x40000000
CONNECT_TIMEOUT = 10.0

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def _socket_in_netns(netns_path: str, family: int) -> socket.socket:
    result: list[socket.socket | BaseException] = []

    def run() -> None:
        try:
            fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({netns_path}): {os.strerror(err)}")
            finally:
                os.close(fd)
            result.append(socket.socket(family, socket.SOCK_STREAM))
        except BaseException as e:
            result.append(e)

    t = threading.Thread(target=run, name="netns-socket", daemon=True)
    t.start()
    t.join()
    got = result[0]
    if isinstance(got, BaseException):
        raise got
    return got


async def open_connection(netns_path: str, port: int, *, host: str = "127.0.0.1",
                          timeout: float = CONNECT_TIMEOUT) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP connection to ``host:port`` as seen from inside ``netns_path`` ("" → the host's own namespace)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if netns_path:
        sock = await asyncio.to_thread(_socket_in_netns, netns_path, family)
    else:
        sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.sock_connect(sock, (host, port)), timeout)
        return await asyncio.open_connection(sock=sock)
    except BaseException:
        sock.close()
        raise
