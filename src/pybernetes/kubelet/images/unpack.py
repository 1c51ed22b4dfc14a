"""Unpacking one layer into its own directory, ready to be an overlayfs lower layer (containerd's
``archive.Apply`` with ``OverlayConvertWhiteout``).

Each layer is unpacked once, alone, into an empty directory; a container's root is the overlay of those
directories, so a layer's deletions cannot be applied by deleting files (they are in other directories). They are
*converted* into overlayfs's own markers instead:

- ``dir/.wh.name`` (``name`` deleted) → a character device 0:0 at ``dir/name``;
- ``dir/.wh..wh..opq`` (``dir`` replaced as a whole) → the xattr ``trusted.overlay.opaque=y`` on ``dir``;
- other ``.wh..wh.*`` entries (aufs bookkeeping) are dropped.

Both need root (``mknod`` and ``trusted.*``); unprivileged, the OCI markers are kept as empty files so nothing is
lost, and device nodes and ownership are skipped. Ownership, permissions (set after ``lchown``, which clears
setuid bits), mtimes (directories last, since filling a directory moves its mtime) and ``SCHILY.xattr.*`` PAX
records are kept; hardlinks must point inside the layer.

Untrusted archives: an entry may not leave the layer's directory — a name with ``..`` past the root is an error,
and symlinks met on the way to an entry are resolved *inside* the layer's directory (``/etc`` in a link means the
layer's ``etc``), never the host's. The layer's diffID (sha256 of the uncompressed tar) is computed while
unpacking, so the caller can check it against the image config without reading the data twice.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import os
import shutil
import stat
import subprocess
import tarfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
PAX_XATTR = "SCHILY.xattr."
MAX_SYMLINK_HOPS = 40
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_READ = 1 << 20


class UnpackError(Exception):
    pass


class _HashingReader(io.RawIOBase):
    """Passes reads through, hashing them: the diffID of the uncompressed stream."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.sha = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self.inner.read(n)
        self.sha.update(data)
        self.size += len(data)
        return data

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        while self.read(_READ):
            pass


def _open_uncompressed(blob: Path) -> tuple[BinaryIO, subprocess.Popen[bytes] | None, BinaryIO]:
    """(uncompressed stream, zstd process or None, raw file) — compression detected by magic number, as
    containerd does, not by media type (``docker save`` layers are plain tars whatever they are called)."""
    raw = open(blob, "rb")                 # closed by the caller
    magic = os.pread(raw.fileno(), 4, 0)   # not raw.read(): a child reading the fd must start at offset 0
    if magic[:2] == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb"), None, raw  # type: ignore[return-value]
    if magic == _ZSTD_MAGIC:
        zstd = shutil.which("zstd")
        if zstd is None:
            raw.close()
            raise UnpackError("zstd-compressed layer, but the zstd program is not installed")
        proc = subprocess.Popen([zstd, "-d", "-c", "-q"], stdin=raw, stdout=subprocess.PIPE)
        assert proc.stdout is not None
        return proc.stdout, proc, raw  # type: ignore[return-value]
    return raw, None, raw


def clean_name(name: str) -> str:
    """A tar entry name relative to the layer root (``./a//b/`` → ``a/b``); ``..`` past the root is an error."""
    parts: list[str] = []
    for p in name.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            if not parts:
                raise UnpackError(f"invalid entry {name!r}: path escapes the layer root")
            parts.pop()
        else:
            parts.append(p)
    return "/".join(parts)


class _Applier:
    def __init__(self, root: Path, parents: Sequence[Path], privileged: bool) -> None:
        self.root = str(root)
        self.parents = [str(p) for p in parents]
        self.privileged = privileged
        self.dirs: dict[str, str] = {"": self.root}      # tar-relative dir → resolved absolute path
        self.deferred: list[tuple[str, tarfile.TarInfo]] = []
        self.warned: set[str] = set()
        # new entries already belong to us; lchown only when the archive says otherwise (a syscall per entry
        # saved on typical all-root layers), or always once a setgid directory may have passed its group on
        self.ids = (os.geteuid(), os.getegid())
        self.chown_always = False

    # -------------------------------------------------------------------------------- path resolution
    def resolve_dir(self, rel: str) -> str:
        """The directory ``rel`` of the layer as an absolute path, symlinks resolved inside the layer, missing
        parents created (with the attributes the same directory has in a lower layer, if any)."""
        found = self.dirs.get(rel)
        if found is not None:
            return found
        todo = rel.split("/")
        cur: list[str] = []
        hops = 0
        while todo:
            p = todo.pop(0)
            if p in ("", "."):
                continue
            if p == "..":
                if cur:
                    cur.pop()
                continue
            path = os.path.join(self.root, *cur, p)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                self._mkparent(path, "/".join([*cur, p]))
                cur.append(p)
                continue
            if stat.S_ISLNK(st.st_mode):
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    raise UnpackError(f"too many levels of symbolic links resolving {rel!r}")
                target = os.readlink(path)
                if target.startswith("/"):
                    cur = []
                todo[:0] = target.split("/")
            elif stat.S_ISDIR(st.st_mode):
                cur.append(p)
            else:
                raise UnpackError(f"cannot unpack under {rel!r}: {'/'.join([*cur, p])} is not a directory")
        out = os.path.join(self.root, *cur)
        self.dirs[rel] = out
        return out

    def _mkparent(self, path: str, rel: str) -> None:
        os.mkdir(path, 0o755)
        for parent in self.parents:
            candidate = os.path.join(parent, rel)
            if not os.path.realpath(candidate).startswith(os.path.realpath(parent) + "/"):
                continue            # a symlink on the way in the lower layer: not the same directory
            try:
                st = os.lstat(candidate)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                if self.privileged:
                    os.lchown(path, st.st_uid, st.st_gid)
                    self.chown_always |= bool(st.st_mode & stat.S_ISGID)
                os.chmod(path, stat.S_IMODE(st.st_mode))
            break

    def _remove(self, path: str) -> None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(path)
        else:
            os.unlink(path)
        self.dirs = {"": self.root}          # a resolved directory may have been this path or under it

    # -------------------------------------------------------------------------------- entries
    def apply(self, tf: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        name = clean_name(m.name)
        if not name:
            return                            # the root itself: its attributes come from the lowest layer
        parent_rel, _, base = name.rpartition("/")
        if base.startswith(WHITEOUT_PREFIX):
            self.whiteout(m, parent_rel, base)
            return
        parent = self.resolve_dir(parent_rel)
        path = os.path.join(parent, base)
        try:
            st = os.lstat(path)
            if not (stat.S_ISDIR(st.st_mode) and m.isdir()):
                self._remove(path)
        except FileNotFoundError:
            pass
        if m.isdir():
            if not os.path.isdir(path):
                os.mkdir(path, 0o700)
            self.deferred.append((path, m))
            self._owner(path, m)
            return
        if m.isreg():
            src = tf.extractfile(m)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as out:
                if src is not None:
                    shutil.copyfileobj(src, out, _READ)
        elif m.issym():
            os.symlink(m.linkname, path)
        elif m.islnk():
            os.link(self.hardlink_target(m), path, follow_symlinks=False)
            return                            # same inode: its attributes are the target's
        elif m.ischr() or m.isblk():
            if not self.privileged:
                self.warn("device", "device nodes skipped: not running as root")
                return
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
            os.mknod(path, kind | stat.S_IMODE(m.mode), os.makedev(m.devmajor, m.devminor))
        elif m.isfifo():
            os.mkfifo(path, stat.S_IMODE(m.mode))
        else:
            raise UnpackError(f"unhandled tar entry type {m.type!r} for {m.name!r}")
        self._owner(path, m)
        if not m.issym():
            os.chmod(path, stat.S_IMODE(m.mode))
        os.utime(path, ns=(_ns(m.mtime), _ns(m.mtime)), follow_symlinks=False)

    def hardlink_target(self, m: tarfile.TarInfo) -> str:
        target = clean_name(m.linkname)
        if not target:
            raise UnpackError(f"invalid hardlink {m.name!r} to the layer root")
        tparent, _, tbase = target.rpartition("/")
        path = os.path.join(self.resolve_dir(tparent), tbase)
        if not os.path.lexists(path):
            raise UnpackError(f"hardlink {m.name!r} points to {m.linkname!r}, which is not in the layer")
        return path

    def whiteout(self, m: tarfile.TarInfo, parent_rel: str, base: str) -> None:
        parent = self.resolve_dir(parent_rel)
        if base == WHITEOUT_OPAQUE:
            if self.privileged:
                os.setxattr(parent, OPAQUE_XATTR, b"y")
            else:
                self.warn("whiteout", "whiteouts kept in OCI form: overlayfs markers need root")
                open(os.path.join(parent, base), "wb").close()
            return
        if base.startswith(WHITEOUT_META_PREFIX):
            return
        target = base[len(WHITEOUT_PREFIX):]
        if target in ("", ".", ".."):
            raise UnpackError(f"invalid whiteout {m.name!r}")
        if not self.privileged:
            self.warn("whiteout", "whiteouts kept in OCI form: overlayfs markers need root")
            open(os.path.join(parent, base), "wb").close()
            return
        path = os.path.join(parent, target)
        self._remove(path)
        os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))
        os.lchown(path, m.uid, m.gid)

    def _owner(self, path: str, m: tarfile.TarInfo) -> None:
        if not self.privileged:
            return
        if m.isdir() and m.mode & stat.S_ISGID:
            self.chown_always = True
        if self.chown_always or m.isdir() or (m.uid, m.gid) != self.ids:   # a directory may pre-exist
            os.lchown(path, m.uid, m.gid)
        for key, value in m.pax_headers.items():
            if key.startswith(PAX_XATTR):
                attr = key[len(PAX_XATTR):]
                try:
                    os.setxattr(path, attr, value.encode("utf-8", "surrogateescape"), follow_symlinks=False)
                except OSError as e:
                    self.warn(f"xattr:{attr}", f"xattr {attr} not kept: {e.strerror}")

    def finish(self) -> None:
        for path, m in reversed(self.deferred):      # deepest last written first; mode and mtime set last
            os.chmod(path, stat.S_IMODE(m.mode))
            os.utime(path, ns=(_ns(m.mtime), _ns(m.mtime)), follow_symlinks=False)

    def warn(self, key: str, message: str) -> None:
        if key not in self.warned:
            self.warned.add(key)
            log.warning(message, extra={"layer": self.root})


def _ns(mtime: float) -> int:
    return int(mtime * 1_000_000_000)


def apply_layer(blob: Path, dest: Path, *, parents: Sequence[Path] = (), privileged: bool | None = None) -> str:
    """Unpack layer ``blob`` (tar, gzip or zstd) into the empty directory ``dest``; its diffID.

    ``parents`` are the unpacked lower layers, top first (only consulted for the attributes of directories that
    this layer creates implicitly). ``privileged`` defaults to "running as root"."""
    if privileged is None:
        privileged = os.geteuid() == 0
    stream, proc, raw = _open_uncompressed(blob)
    reader = _HashingReader(stream)
    applier = _Applier(dest, parents, privileged)
    try:
        with tarfile.open(fileobj=reader, mode="r|", bufsize=_READ, errors="surrogateescape") as tf:
            for member in tf:
                applier.apply(tf, member)
        reader.drain()
        applier.finish()
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise UnpackError(f"invalid layer {blob.name}: {e}") from None
    except OSError as e:
        raise UnpackError(f"unpacking layer {blob.name}: {e}") from None
    finally:
        stream.close()
        raw.close()
        if proc is not None:
            proc.wait()
    if proc is not None and proc.returncode != 0:
        raise UnpackError(f"invalid layer {blob.name}: zstd exited with status {proc.returncode}")
    return "sha256:" + reader.sha.hexdigest()
