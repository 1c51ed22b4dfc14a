"""Unpacking layers for overlayfs: whiteouts, opaque directories, links, metadata, hostile archives."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from pybernetes.kubelet.images.unpack import OPAQUE_XATTR, UnpackError, apply_layer, clean_name

ROOT = os.geteuid() == 0
MTIME = 1_600_000_000


def entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", *, mode: int = 0o644, uid: int = 0,
          gid: int = 0, link: str = "", pax: dict[str, str] | None = None, dev: tuple[int, int] = (0, 0)
          ) -> tuple[tarfile.TarInfo, bytes]:
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.uid, ti.gid, ti.mtime, ti.linkname = kind, mode, uid, gid, MTIME, link
    ti.devmajor, ti.devminor = dev
    ti.size = len(data) if kind == tarfile.REGTYPE else 0
    if pax:
        ti.pax_headers = pax
    return ti, data


def layer(tmp_path: Path, entries: list[tuple[tarfile.TarInfo, bytes]], *, compress: str = "gzip") -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for ti, data in entries:
            tf.addfile(ti, io.BytesIO(data) if ti.type == tarfile.REGTYPE else None)
    raw = buf.getvalue()
    path = tmp_path / f"layer-{hashlib.sha256(raw).hexdigest()[:8]}"
    if compress == "gzip":
        path.write_bytes(gzip.compress(raw))
    elif compress == "zstd":
        zstd = shutil.which("zstd")
        if zstd is None:
            assert not os.environ.get("CI"), "zstd must be installed in CI (tools/install-deps.sh)"
            pytest.skip("zstd is not installed")
        path.write_bytes(subprocess.run([zstd, "-q", "-c"], input=raw, capture_output=True, check=True).stdout)
    else:
        path.write_bytes(raw)
    path.with_suffix(".diffid").write_text("sha256:" + hashlib.sha256(raw).hexdigest())
    return path


def unpack(tmp_path: Path, blob: Path, **kw) -> tuple[Path, str]:  # type: ignore[no-untyped-def]
    dest = tmp_path / f"fs-{blob.name}-{kw.get('privileged')}"
    dest.mkdir()
    return dest, apply_layer(blob, dest, **kw)


@pytest.mark.parametrize("compress", ["gzip", "zstd", "none"])
def test_files_dirs_links_and_diffid(tmp_path: Path, compress: str) -> None:
    blob = layer(tmp_path, [
        entry("etc", tarfile.DIRTYPE, mode=0o755),
        entry("etc/hello", data=b"hello\n", mode=0o640, uid=1000, gid=1001),
        entry("usr/bin/tool", data=b"#!/bin/sh\n", mode=0o4755),        # parent dirs implied
        entry("bin", tarfile.SYMTYPE, link="usr/bin"),
        entry("etc/hello.hard", tarfile.LNKTYPE, link="etc/hello"),
        entry("etc/readonly", tarfile.DIRTYPE, mode=0o555),
        entry("run/fifo", tarfile.FIFOTYPE, mode=0o600),
    ], compress=compress)
    fs, diff_id = unpack(tmp_path, blob)
    assert diff_id == blob.with_suffix(".diffid").read_text()
    assert (fs / "etc/hello").read_bytes() == b"hello\n"
    st = os.stat(fs / "etc/hello")
    assert stat.S_IMODE(st.st_mode) == 0o640 and st.st_mtime == MTIME
    if ROOT:
        assert (st.st_uid, st.st_gid) == (1000, 1001)
    assert stat.S_IMODE(os.stat(fs / "usr/bin/tool").st_mode) == 0o4755     # setuid survives the chown
    assert os.readlink(fs / "bin") == "usr/bin"
    assert os.lstat(fs / "bin").st_mtime == MTIME
    assert os.stat(fs / "etc/hello.hard").st_ino == st.st_ino
    assert stat.S_IMODE(os.stat(fs / "etc/readonly").st_mode) == 0o555
    assert os.stat(fs / "etc").st_mtime == MTIME                           # directories: mtime set last
    assert stat.S_ISFIFO(os.stat(fs / "run/fifo").st_mode)


def test_whiteouts_become_overlay_markers(tmp_path: Path) -> None:
    if not ROOT:
        assert not os.environ.get("CI"), "CI runs as root"
        pytest.skip("overlayfs whiteouts need root")
    blob = layer(tmp_path, [
        entry("etc", tarfile.DIRTYPE, mode=0o755),
        entry("etc/.wh.passwd"),
        entry("var/cache", tarfile.DIRTYPE, mode=0o700),
        entry("var/cache/.wh..wh..opq"),
        entry("var/cache/new", data=b"n"),
        entry("etc/.wh..wh.plnk"),
    ])
    fs, _ = unpack(tmp_path, blob, privileged=True)
    st = os.lstat(fs / "etc/passwd")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)
    assert os.getxattr(fs / "var/cache", OPAQUE_XATTR) == b"y"
    assert sorted(os.listdir(fs / "var/cache")) == ["new"]
    assert sorted(os.listdir(fs / "etc")) == ["passwd"]


def test_whiteouts_through_a_real_overlay(tmp_path: Path) -> None:
    """The converted markers do what the OCI layer meant once overlayfs stacks the layers."""
    if not ROOT:
        assert not os.environ.get("CI"), "CI runs as root"
        pytest.skip("mounting overlayfs needs root")
    lower = layer(tmp_path, [entry("a/keep", data=b"k"), entry("a/gone", data=b"g"), entry("b/old", data=b"o"),
                             entry("c", data=b"file")])
    upper = layer(tmp_path, [entry("a/.wh.gone"), entry("b", tarfile.DIRTYPE, mode=0o755),
                             entry("b/.wh..wh..opq"), entry("b/new", data=b"n"), entry(".wh.c")])
    l1, _ = unpack(tmp_path, lower, privileged=True)
    l2, _ = unpack(tmp_path, upper, privileged=True)
    merged = tmp_path / "merged"
    merged.mkdir()
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={l2}:{l1}", str(merged)], check=True)
    try:
        assert sorted(os.listdir(merged)) == ["a", "b"]
        assert sorted(os.listdir(merged / "a")) == ["keep"]
        assert sorted(os.listdir(merged / "b")) == ["new"]
    finally:
        subprocess.run(["umount", str(merged)], check=True)


def test_unprivileged_keeps_oci_whiteouts_and_skips_devices(tmp_path: Path) -> None:
    blob = layer(tmp_path, [
        entry("etc/.wh.passwd"),
        entry("var/.wh..wh..opq"),
        entry("dev/null", tarfile.CHRTYPE, mode=0o666, dev=(1, 3)),
        entry("etc/owned", data=b"x", uid=4242),
    ])
    fs, _ = unpack(tmp_path, blob, privileged=False)
    assert (fs / "etc/.wh.passwd").is_file() and not (fs / "etc/passwd").exists()
    assert (fs / "var/.wh..wh..opq").is_file()
    assert not (fs / "dev/null").exists()
    assert os.stat(fs / "etc/owned").st_uid == os.geteuid()


def test_device_nodes_as_root(tmp_path: Path) -> None:
    if not ROOT:
        assert not os.environ.get("CI"), "CI runs as root"
        pytest.skip("mknod needs root")
    blob = layer(tmp_path, [entry("dev/null", tarfile.CHRTYPE, mode=0o666, dev=(1, 3))])
    fs, _ = unpack(tmp_path, blob, privileged=True)
    st = os.lstat(fs / "dev/null")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)


def test_xattrs_from_pax_records(tmp_path: Path) -> None:
    if not ROOT:
        assert not os.environ.get("CI"), "CI runs as root"
        pytest.skip("xattrs are kept as root only")
    blob = layer(tmp_path, [entry("bin/ping", data=b"elf", mode=0o755,
                                  pax={"SCHILY.xattr.user.pybernetes": "v1"})])
    fs, _ = unpack(tmp_path, blob, privileged=True)
    assert os.getxattr(fs / "bin/ping", "user.pybernetes") == b"v1"


def test_later_entry_replaces_earlier(tmp_path: Path) -> None:
    blob = layer(tmp_path, [entry("x", data=b"file"), entry("x", tarfile.DIRTYPE, mode=0o755),
                            entry("x/y", data=b"y"), entry("l", tarfile.SYMTYPE, link="x"),
                            entry("l", data=b"now a file")])
    fs, _ = unpack(tmp_path, blob)
    assert (fs / "x").is_dir() and (fs / "x/y").read_bytes() == b"y"
    assert not (fs / "l").is_symlink() and (fs / "l").read_bytes() == b"now a file"


@pytest.mark.parametrize("name", ["../evil", "a/../../evil", "/../evil", "./../../etc/passwd"])
def test_names_escaping_the_layer_are_rejected(tmp_path: Path, name: str) -> None:
    blob = layer(tmp_path, [entry(name, data=b"pwned")])
    with pytest.raises(UnpackError, match="escapes the layer root"):
        unpack(tmp_path, blob)
    assert not (tmp_path / "evil").exists()


@pytest.mark.parametrize("target", ["ABS", "../../..", "../../../../../../.."])
def test_symlinks_are_resolved_inside_the_layer(tmp_path: Path, target: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    link = str(outside) if target == "ABS" else target
    blob = layer(tmp_path, [entry("escape", tarfile.SYMTYPE, link=link), entry("escape/pwned", data=b"x")])
    fs, _ = unpack(tmp_path, blob)
    assert not (outside / "pwned").exists()
    assert not (tmp_path / "pwned").exists()
    inside = fs / str(outside).lstrip("/") / "pwned" if target == "ABS" else fs / "pwned"
    assert inside.read_bytes() == b"x"


@pytest.mark.parametrize(("link", "error"), [
    ("../../etc/passwd", "escapes the layer root"),
    ("etc/missing", "not in the layer"),
])
def test_bad_hardlinks(tmp_path: Path, link: str, error: str) -> None:
    blob = layer(tmp_path, [entry("etc/x", data=b"x"), entry("etc/link", tarfile.LNKTYPE, link=link)])
    with pytest.raises(UnpackError, match=error):
        unpack(tmp_path, blob)


def test_hardlink_through_symlinked_dir_stays_inside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host secret")
    blob = layer(tmp_path, [entry("d", tarfile.SYMTYPE, link=str(outside)), entry("stolen", tarfile.LNKTYPE,
                                                                                  link="d/secret")])
    with pytest.raises(UnpackError, match="not in the layer"):
        unpack(tmp_path, blob)


def test_implicit_parents_copy_lower_layer_attributes(tmp_path: Path) -> None:
    lower = layer(tmp_path, [entry("srv", tarfile.DIRTYPE, mode=0o750)])
    upper = layer(tmp_path, [entry("srv/data", data=b"d")])
    l1, _ = unpack(tmp_path, lower)
    dest = tmp_path / "upper"
    dest.mkdir()
    apply_layer(upper, dest, parents=[l1])
    assert stat.S_IMODE(os.stat(dest / "srv").st_mode) == 0o750


def test_garbage_is_an_unpack_error(tmp_path: Path) -> None:
    blob = tmp_path / "garbage"
    blob.write_bytes(gzip.compress(b"not a tar archive at all" * 100))
    with pytest.raises(UnpackError, match="invalid layer"):
        unpack(tmp_path, blob)


@pytest.mark.parametrize(("name", "clean"), [("./a//b/", "a/b"), ("a/./b/../c", "a/c"), ("/", ""), ("./", "")])
def test_clean_name(name: str, clean: str) -> None:
    assert clean_name(name) == clean
