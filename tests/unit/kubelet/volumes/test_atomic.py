"""AtomicWriter semantics (upstream atomic_writer_test.go): layout, updates as one symlink swap, removals,
no-op rewrites, path validation."""

from __future__ import annotations

import datetime
import os
import pathlib

import pytest

from pybernetes.kubelet.volumes.atomic import FileProjection, PayloadError, read_payload, validate_path, write_payload

T = datetime.datetime(2026, 1, 2, 15, 4, 5, tzinfo=datetime.UTC)


def fp(data: str, mode: int = 0o644) -> FileProjection:
    return FileProjection(data.encode(), mode)


def test_layout(tmp_path: pathlib.Path) -> None:
    assert write_payload(tmp_path, {"foo": fp("a"), "bar/zab": fp("b", 0o600)}, now=T)
    data = os.readlink(tmp_path / "..data")
    assert data.startswith("..2026_01_02_15_04_05.")
    assert os.readlink(tmp_path / "foo") == "..data/foo"
    assert os.readlink(tmp_path / "bar") == "..data/bar"
    assert (tmp_path / "bar" / "zab").read_text() == "b"
    assert (tmp_path / data / "bar" / "zab").stat().st_mode & 0o777 == 0o600
    assert read_payload(tmp_path) == {"bar/zab": b"b", "foo": b"a"}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["..data", data, "foo", "bar"])


def test_update_swaps_and_removes_old(tmp_path: pathlib.Path) -> None:
    write_payload(tmp_path, {"foo": fp("a"), "gone": fp("x"), "dir/f": fp("y")}, now=T)
    first = os.readlink(tmp_path / "..data")
    fd = os.open(tmp_path / "foo", os.O_RDONLY)            # a reader holding the old file keeps its contents
    assert write_payload(tmp_path, {"foo": fp("b"), "new": fp("n")}, now=T)
    second = os.readlink(tmp_path / "..data")
    assert second != first and not (tmp_path / first).exists()
    assert os.read(fd, 10) == b"a"
    os.close(fd)
    assert read_payload(tmp_path) == {"foo": b"b", "new": b"n"}
    assert not os.path.lexists(tmp_path / "gone") and not os.path.lexists(tmp_path / "dir")
    assert not os.path.lexists(tmp_path / "..data_tmp")


def test_same_payload_is_a_no_op(tmp_path: pathlib.Path) -> None:
    payload = {"a": fp("1"), "b/c": fp("2", 0o400)}
    assert write_payload(tmp_path, payload, now=T)
    first = os.readlink(tmp_path / "..data")
    assert not write_payload(tmp_path, payload, now=T)
    assert os.readlink(tmp_path / "..data") == first
    assert write_payload(tmp_path, {"a": fp("1"), "b/c": fp("2", 0o440)}, now=T)     # a mode change is a change


def test_empty_payload(tmp_path: pathlib.Path) -> None:
    write_payload(tmp_path, {"a": fp("1")}, now=T)
    assert write_payload(tmp_path, {}, now=T)
    assert read_payload(tmp_path) == {}
    assert os.path.islink(tmp_path / "..data")


@pytest.mark.parametrize(("path", "message"), [
    ("", "must not be empty"),
    ("/abs", "must be relative path"),
    ("a/../b", "must not contain '..'"),
    ("..", "must not contain '..'"),
    ("..data", "must not start with '..'"),
    ("..foo/x", "must not start with '..'"),
    ("x" * 256, "each element"),
    ("a/" * 2049, "4096"),
])
def test_invalid_paths(path: str, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        validate_path(path)


@pytest.mark.parametrize("path", ["a", "a/b/c", ".hidden", "a..b", "a/..b"])
def test_valid_paths(path: str) -> None:
    validate_path(path)
