"""Command lines of the OCI runtime binaries (crun, runc): the few differences between them in one place.

Both keep their state under ``--root`` (ours, not ``/run/crun``, so tests and other users of the binary never
see our containers) and write their own error messages to a log file (``crun --log=file:P``, ``runc --log P``):
their stdio is the container's, so an error can't be told from the container's output otherwise (DESIGN.md).
Containers are started with ``run --detach`` (one exec instead of create + start) and execs with
``exec --detach --process``: the process is then a child of the shim (a subreaper), which reaps it and so
learns its exit status.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

RUNTIMES = ("crun", "runc")
_VERSION = re.compile(r"(?:crun|runc) version (\S+)")


@dataclass(frozen=True, slots=True)
class OCIRuntimeCLI:
    name: str                           # crun | runc
    binary: str
    root: str

    def _base(self, log: str = "") -> list[str]:
        argv = [self.binary, "--root", self.root]
        if log:
            argv += [f"--log=file:{log}"] if self.name == "crun" else ["--log", log]
        return argv

    def run(self, cid: str, *, bundle: str, pid_file: str, log: str, console_socket: str = "") -> list[str]:
        argv = [*self._base(log), "run", "--detach", "--bundle", bundle, "--pid-file", pid_file]
        if console_socket:
            argv += ["--console-socket", console_socket]
        return [*argv, cid]

    def run_foreground(self, cid: str, *, bundle: str, log: str) -> list[str]:
        return [*self._base(log), "run", "--bundle", bundle, cid]

    def exec(self, cid: str, *, process: str, pid_file: str, log: str, console_socket: str = "") -> list[str]:
        argv = [*self._base(log), "exec", "--detach", "--process", process, "--pid-file", pid_file]
        if console_socket:
            argv += ["--console-socket", console_socket]
        return [*argv, cid]

    def kill(self, cid: str, signal: str, *, all_processes: bool = False) -> list[str]:
        return [*self._base(), "kill", *(["--all"] if all_processes else []), cid, signal]

    def delete(self, cid: str, *, force: bool = True) -> list[str]:
        return [*self._base(), "delete", *(["--force"] if force else []), cid]

    def state(self, cid: str) -> list[str]:
        return [*self._base(), "state", cid]


def find_binary(name: str) -> str | None:
    if name not in RUNTIMES:
        raise ValueError(f"unknown OCI runtime {name!r} (choose {' or '.join(RUNTIMES)})")
    return shutil.which(name) or next((p for p in (f"/usr/bin/{name}", f"/usr/sbin/{name}", f"/usr/local/bin/{name}")
                                       if shutil.which(p)), None)


def parse_version(text: str) -> str:
    m = _VERSION.search(text)
    return m.group(1).split("+")[0] if m else ""


def binary_version(binary: str) -> str:
    """``1.8.1`` from ``crun --version`` (``1.1.5`` from runc's ``1.1.5+ds1``); "" if it does not answer."""
    try:
        p = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return parse_version(p.stdout) if p.returncode == 0 else ""
