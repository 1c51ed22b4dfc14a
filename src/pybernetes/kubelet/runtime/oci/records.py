"""What the shim knows about one container, kept in ``<root>/containers/<id>/record.json`` so that a restarted
shim — and through it a restarted agent — finds every container again with its exit status, OOM kill and times.

``meta`` is the agent's (pod, container name, restart count, image, sandbox facts): the shim stores and returns it
but never reads it, as containerd keeps labels for the CRI plugin.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

CREATED, RUNNING, EXITED = "created", "running", "exited"
RECORD = "record.json"


@dataclass(slots=True)
class Record:
    id: str
    bundle: str                         # the container's directory: config.json, rootfs/, fifos, logs of the runtime
    log_path: str                       # the CRI log file ("" for none: the pause process)
    cgroup: str                         # the absolute cgroupsPath (where oom_kill is read)
    meta: dict[str, Any] = field(default_factory=dict)
    rootfs: dict[str, Any] = field(default_factory=dict)   # {"lowerdirs": [...]} (overlay) or {"path": dir}
    stop_signal: str = "SIGTERM"
    tty: bool = False
    stdin: bool = False
    stdin_once: bool = False
    state: str = CREATED
    pid: int = 0
    pid_start: int = 0                  # /proc/<pid>/stat start time: the pid names this process only
    boot_id: str = ""
    created_at: int = 0                 # nanoseconds since the epoch
    started_at: int = 0
    finished_at: int = 0
    exit_code: int | None = None
    reason: str = ""                    # OOMKilled | StartError | Unknown (exit status lost)
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Record:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in names})


def save(rec: Record) -> None:
    """Atomically (write, fsync-less rename): a crash leaves the old or the new record, never half of one."""
    path = Path(rec.bundle) / RECORD
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps(rec.to_json()))
    os.replace(tmp, path)


def load_all(containers_dir: Path) -> list[Record]:
    out: list[Record] = []
    if not containers_dir.is_dir():
        return out
    for d in sorted(containers_dir.iterdir()):
        p = d / RECORD
        try:
            out.append(Record.from_json(orjson.loads(p.read_bytes())))
        except (OSError, orjson.JSONDecodeError, TypeError):
            continue
    return out
