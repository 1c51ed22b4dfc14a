"""hostPath type checks (upstream hostpath_test.go cases: create, check, wrong kind)."""

from __future__ import annotations

import os
import pathlib
import socket

import pytest

from pybernetes.kubelet.volumes.hostpath import check_host_path
from pybernetes.kubelet.volumes.projection import MountError


@pytest.fixture
def things(tmp_path: pathlib.Path) -> dict[str, str]:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    sock.close()
    return {"dir": str(tmp_path / "dir"), "file": str(tmp_path / "file"), "sock": str(tmp_path / "sock"),
            "none": str(tmp_path / "none"), "chr": "/dev/null"}


@pytest.mark.parametrize(("type_", "thing", "error"), [
    (None, "none", None), ("", "file", None),
    ("Directory", "dir", None), ("Directory", "file", "is not a directory"), ("Directory", "none",
                                                                              "is not a directory"),
    ("DirectoryOrCreate", "dir", None), ("DirectoryOrCreate", "file", "is not a directory"),
    ("File", "file", None), ("File", "dir", "is not a file"), ("File", "none", "is not a file"),
    ("FileOrCreate", "file", None), ("FileOrCreate", "dir", "is not a file"),
    ("Socket", "sock", None), ("Socket", "file", "is not a socket file"),
    ("CharDevice", "chr", None), ("CharDevice", "file", "is not a character device"),
    ("BlockDevice", "chr", "is not a block device"),
    ("Bogus", "file", "Bogus is an invalid volume type"),
])
def test_checks(things: dict[str, str], type_: str | None, thing: str, error: str | None) -> None:
    path = things[thing]
    if error is None:
        check_host_path(path, type_)
    else:
        with pytest.raises(MountError, match=error) as info:
            check_host_path(path, type_)
        if "type check failed" in str(info.value):
            assert str(info.value) == f"hostPath type check failed: {path} {error}"


def test_or_create(tmp_path: pathlib.Path) -> None:
    d = tmp_path / "a" / "b"
    check_host_path(str(d), "DirectoryOrCreate")
    assert d.is_dir() and (d.stat().st_mode & 0o777) == 0o755 & ~_umask()
    f = tmp_path / "f"
    check_host_path(str(f), "FileOrCreate")
    assert f.is_file() and f.read_bytes() == b""
    with pytest.raises(MountError):
        check_host_path(str(tmp_path / "missing" / "f"), "FileOrCreate")      # the parent is not created


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old
