"""Atomic updates of a volume's files (upstream ``pkg/volume/util/atomic_writer.go``).

ConfigMap, Secret, downward API and projected volumes are updated while containers read them. A reader must
never see a half-written file or a mix of old and new files, so the files live in a timestamped directory
``..2026_01_02_15_04_05.<random>`` and the volume holds:

- ``..data`` — a symlink to the current timestamped directory, swapped by ``rename(2)`` of a fresh
  ``..data_tmp`` symlink: the one atomic step of an update;
- for each top-level name of the payload, a user-visible symlink ``<name>`` → ``..data/<name>``.

An update writes the new directory in full, swaps ``..data``, adds the user-visible links that are new, removes
the ones no longer in the payload and finally the old directory. Writing the same payload again does nothing, so
a periodic refresh costs a compare. Paths are checked as upstream does: relative, no ``..`` element, not starting
with ``..``, at most 4,096 characters and 255 per element.
"""

from __future__ import annotations

import datetime
import os
import pathlib
import secrets
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass

DATA_DIR = "..data"
DATA_TMP = "..data_tmp"
MAX_PATH = 4096
MAX_NAME = 255


@dataclass(frozen=True, slots=True)
class FileProjection:
    data: bytes
    mode: int = 0o644


class PayloadError(ValueError):
    pass


def validate_path(path: str) -> None:
    if not path:
        raise PayloadError("invalid path: must not be empty")
    if len(path) > MAX_PATH:
        raise PayloadError(f"invalid path: must be less than or equal to {MAX_PATH} characters")
    if path.startswith("/"):
        raise PayloadError("invalid path: must be relative path")
    items = path.split("/")
    if ".." in items:
        raise PayloadError("invalid path: must not contain '..'")
    if items[0].startswith(".."):
        raise PayloadError("invalid path: must not start with '..'")
    if any(len(i) > MAX_NAME for i in items):
        raise PayloadError(f"invalid path: each element must be less than or equal to {MAX_NAME} characters")


def clean_payload(payload: Mapping[str, FileProjection]) -> dict[str, FileProjection]:
    out: dict[str, FileProjection] = {}
    for path, proj in payload.items():
        validate_path(path)
        clean = os.path.normpath(path)
        out[clean] = proj
    return out


def _current(target: pathlib.Path) -> pathlib.Path | None:
    try:
        link = os.readlink(target / DATA_DIR)
    except OSError:
        return None
    return target / link


def _same(ts_dir: pathlib.Path, payload: Mapping[str, FileProjection]) -> bool:
    """Whether ``ts_dir`` holds exactly ``payload`` (contents and modes)."""
    seen = 0
    for root, _dirs, files in os.walk(ts_dir):
        for f in files:
            full = pathlib.Path(root) / f
            rel = str(full.relative_to(ts_dir))
            proj = payload.get(rel)
            if proj is None:
                return False
            st = full.stat()
            if (st.st_mode & 0o7777) != proj.mode or full.read_bytes() != proj.data:
                return False
            seen += 1
    return seen == len(payload)


def _visible(target: pathlib.Path) -> set[str]:
    return {e.name for e in os.scandir(target) if not e.name.startswith("..")}


def write_payload(target: pathlib.Path | str, payload: Mapping[str, FileProjection], *,
                  now: datetime.datetime | None = None,
                  set_perms: Callable[[pathlib.Path], None] | None = None) -> bool:
    """Make ``target`` hold exactly ``payload`` (relative path → contents and mode). Returns whether anything
    changed. ``set_perms`` is applied to a new timestamped directory before it becomes visible (fsGroup
    ownership). Blocking file I/O: call through ``asyncio.to_thread`` from async code."""
    target = pathlib.Path(target)
    clean = clean_payload(payload)
    target.mkdir(parents=True, exist_ok=True)
    old = _current(target)
    tops = {p.split("/", 1)[0] for p in clean}
    stale = _visible(target) - tops
    changed = False
    if old is None or not old.is_dir() or not _same(old, clean):
        stamp = (now or datetime.datetime.now(datetime.UTC)).strftime("..%Y_%m_%d_%H_%M_%S.")
        new = target / f"{stamp}{secrets.randbelow(10 ** 9):09d}"
        new.mkdir(mode=0o755)
        for rel, proj in clean.items():
            full = new / rel
            full.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            full.write_bytes(proj.data)
            os.chmod(full, proj.mode)
        os.chmod(new, 0o755)
        if set_perms is not None:
            set_perms(new)
        tmp = target / DATA_TMP
        tmp.unlink(missing_ok=True)
        os.symlink(new.name, tmp)
        os.replace(tmp, target / DATA_DIR)
        changed = True
    for top in tops:
        link = target / top
        if not link.is_symlink() and not link.exists():
            os.symlink(f"{DATA_DIR}/{top}", link)
    for name in stale:
        p = target / name
        if p.is_symlink() or p.is_file():
            p.unlink()
        elif p.is_dir():
            shutil.rmtree(p)
        changed = True
    if changed and old is not None and old.exists() and old != _current(target):
        shutil.rmtree(old, ignore_errors=True)
    return changed


def read_payload(target: pathlib.Path | str) -> dict[str, bytes]:
    """What a container sees: the user-visible files under ``target`` (tests and debugging)."""
    target = pathlib.Path(target)
    out: dict[str, bytes] = {}
    for name in sorted(_visible(target)):
        p = target / name
        if p.is_dir():
            for root, _dirs, files in os.walk(p, followlinks=True):
                for f in files:
                    full = pathlib.Path(root) / f
                    out[str(full.relative_to(target))] = full.read_bytes()
        elif p.exists():
            out[name] = p.read_bytes()
    return out
