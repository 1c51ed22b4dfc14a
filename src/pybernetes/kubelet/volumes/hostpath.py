"""``hostPath`` type checks (upstream ``pkg/volume/hostpath``): ``DirectoryOrCreate`` and ``FileOrCreate`` make
what is missing (a directory 0755 with its parents; an empty file 0644, whose parent must exist), the other types
only check what is there. Messages are upstream's, shown after ``MountVolume.SetUp failed for volume "x" : ``."""

from __future__ import annotations

import os
import stat

from pybernetes.kubelet.volumes.projection import MountError

_CHECKS = {
    "Directory": (stat.S_ISDIR, "is not a directory"),
    "File": (stat.S_ISREG, "is not a file"),
    "Socket": (stat.S_ISSOCK, "is not a socket file"),
    "CharDevice": (stat.S_ISCHR, "is not a character device"),
    "BlockDevice": (stat.S_ISBLK, "is not a block device"),
}


def set_volume_ownership(path: str, fs_group: int, *, read_only: bool) -> None:
    """upstream ``SetVolumeOwnership``: everything under ``path`` gets group ``fs_group`` and group (and owner)
    read, plus write unless the volume is read-only; directories also get the setgid bit and search permission,
    so files created later belong to the group too. Symlinks are re-owned, not re-moded. Blocking."""
    mask = 0o440 if read_only else 0o660
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            _own(os.path.join(root, name), fs_group, mask)
    _own(path, fs_group, mask)


def _own(p: str, fs_group: int, mask: int) -> None:
    st = os.lstat(p)
    os.lchown(p, -1, fs_group)
    if stat.S_ISLNK(st.st_mode):
        return
    extra = mask | (stat.S_ISGID | 0o110 if stat.S_ISDIR(st.st_mode) else 0)
    os.chmod(p, stat.S_IMODE(st.st_mode) | extra)


def _mode(path: str) -> int | None:
    try:
        return os.stat(path).st_mode
    except OSError:
        return None


def check_host_path(path: str, type_: str | None) -> None:
    """Check (and for the *OrCreate types, create) ``path`` as ``type_`` says. Blocking; raises MountError."""
    kind = type_ or ""
    if kind == "":
        return
    mode = _mode(path)
    if kind == "DirectoryOrCreate":
        if mode is None:
            try:
                os.makedirs(path, mode=0o755, exist_ok=True)
            except OSError as e:
                raise MountError(f"failed to create directory {path}: {e.strerror}") from None
            return
        kind = "Directory"
    elif kind == "FileOrCreate":
        if mode is None:
            try:
                fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
                os.close(fd)
            except OSError as e:
                raise MountError(f"open {path}: {e.strerror.lower() if e.strerror else e}") from None
            return
        kind = "File"
    check = _CHECKS.get(kind)
    if check is None:
        raise MountError(f"{kind} is an invalid volume type")
    if mode is None or not check[0](mode):
        raise MountError(f"hostPath type check failed: {path} {check[1]}")
