"""Applying an nftables transaction: the ``nft`` command, or libnftables in-process.

Both take a whole script and commit it as one kernel transaction (all or nothing). libnftables
(``libnftables.so.1``, shipped with the ``nftables`` package) saves a process start per transaction — most of
the cost of a small incremental update; the command is the fallback when the library cannot be loaded.
Calls block, so the async wrappers run them in a thread.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import shutil
import subprocess
import threading
from typing import Protocol

log = logging.getLogger(__name__)


class NftError(Exception):
    """nft refused the script; the message is nft's own."""


class Runner(Protocol):
    async def apply(self, script: str) -> None: ...          # NftError when refused
    async def list(self, what: str) -> str: ...             # ``nft list <what>``; NftError when absent


class CommandRunner:
    """``nft -f -``."""

    def __init__(self, binary: str = "nft") -> None:
        self.binary = shutil.which(binary) or binary

    def _run(self, args: list[str], stdin: str) -> str:
        try:
            p = subprocess.run([self.binary, *args], input=stdin, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise NftError(str(e)) from None
        if p.returncode != 0:
            raise NftError(p.stderr.strip() or f"nft exited with {p.returncode}")
        return p.stdout

    async def apply(self, script: str) -> None:
        await asyncio.to_thread(self._run, ["-f", "-"], script)

    async def list(self, what: str) -> str:
        return await asyncio.to_thread(self._run, ["list", *what.split()], "")


class LibRunner:
    """libnftables through ctypes: one context per call, so no rule cache outlives a transaction."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._lib = lib
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        self._lock = threading.Lock()       # the library is not documented as thread-safe

    @classmethod
    def load(cls) -> LibRunner | None:
        name = ctypes.util.find_library("nftables") or "libnftables.so.1"
        try:
            return cls(ctypes.CDLL(name))
        except OSError:
            return None

    def run(self, script: str) -> str:
        with self._lock:
            ctx = self._lib.nft_ctx_new(0)
            if not ctx:
                raise NftError("nft_ctx_new failed")
            try:
                self._lib.nft_ctx_buffer_output(ctx)
                self._lib.nft_ctx_buffer_error(ctx)
                rc = self._lib.nft_run_cmd_from_buffer(ctx, script.encode())
                out = (self._lib.nft_ctx_get_output_buffer(ctx) or b"").decode(errors="replace")
                err = (self._lib.nft_ctx_get_error_buffer(ctx) or b"").decode(errors="replace")
            finally:
                self._lib.nft_ctx_free(ctx)
        if rc != 0:
            raise NftError(err.strip() or f"nft_run_cmd_from_buffer returned {rc}")
        return out

    async def apply(self, script: str) -> None:
        await asyncio.to_thread(self.run, script)

    async def list(self, what: str) -> str:
        return await asyncio.to_thread(self.run, f"list {what}")


def default_runner() -> Runner:
    lib = LibRunner.load()
    if lib is not None:
        return lib
    log.info("libnftables not found: running the nft command")
    return CommandRunner()
