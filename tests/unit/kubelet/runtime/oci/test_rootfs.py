"""Users resolved from image layers, overlay options, the pause root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pybernetes.kubelet.runtime.oci import rootfs
from pybernetes.kubelet.runtime.oci.spec import SpecError, User

PASSWD = "root:x:0:0:root:/root:/bin/sh\nnginx:x:101:101:nginx:/:/bin/false\nbob:x:1000:1000::/home/bob:/bin/sh\n"
GROUP = "root:x:0:\nnginx:x:101:\nwww:x:33:nginx,bob\nstaff:x:50:bob\n"


@pytest.mark.parametrize(("image_user", "run_as_user", "run_as_group", "supplemental", "want"), [
    ("", None, None, (), User(0, 0)),
    ("nginx", None, None, (), User(101, 101, (33,))),
    ("nginx:staff", None, None, (), User(101, 50, (33,))),
    ("101:7", None, None, (), User(101, 7, (33,))),
    ("4242", None, None, (), User(4242, 0)),                       # not in passwd: group 0
    ("nginx", 1000, None, (), User(1000, 1000, (33, 50))),           # runAsUser wins over the image's user
    ("", 1000, 2000, (3000, 33), User(1000, 2000, (33, 50, 3000))),
    ("", None, 5, (), User(0, 5)),
])
def test_resolve_user(image_user: str, run_as_user: int | None, run_as_group: int | None,
                      supplemental: tuple[int, ...], want: User) -> None:
    assert rootfs.resolve_user(image_user=image_user, run_as_user=run_as_user, run_as_group=run_as_group,
                               supplemental=supplemental, passwd=PASSWD, group=GROUP) == want


@pytest.mark.parametrize(("image_user", "error"), [("nobody", "unable to find user nobody"),
                                                   ("nginx:wheel", "unable to find group wheel")])
def test_resolve_user_errors(image_user: str, error: str) -> None:
    with pytest.raises(SpecError, match=error):
        rootfs.resolve_user(image_user=image_user, run_as_user=None, run_as_group=None, supplemental=(),
                            passwd=PASSWD, group=GROUP)


def test_user_for_reads_the_topmost_layer(tmp_path: Path) -> None:
    lower, upper, top = tmp_path / "l0", tmp_path / "l1", tmp_path / "l2"
    for d in (lower, upper, top):
        (d / "etc").mkdir(parents=True)
    (lower / "etc/passwd").write_text("app:x:5:5::/:/bin/sh\n")
    (lower / "etc/group").write_text("app:x:5:\n")
    (upper / "etc/passwd").write_text("app:x:7:7::/:/bin/sh\n")
    assert rootfs.user_for([str(lower), str(upper), str(top)], image_user="app", run_as_user=None,
                           run_as_group=None, supplemental=()) == User(7, 7)
    (top / "etc/.wh.passwd").write_text("")                       # deleted in the top layer
    with pytest.raises(SpecError):
        rootfs.user_for([str(lower), str(upper), str(top)], image_user="app", run_as_user=None, run_as_group=None,
                        supplemental=())


def test_overlay_options_fall_back_to_relative_paths() -> None:
    layers = [f"/var/lib/pybernetes/agent/images/layers/sha256/{i:064x}/fs" for i in range(3)]
    opts, base = rootfs.overlay_options(layers, "/c/upper", "/c/work")
    assert base == "" and opts.startswith(f"lowerdir={layers[2]}:{layers[1]}:{layers[0]},upperdir=/c/upper")
    many = [f"/var/lib/pybernetes/agent/images/layers/sha256/{i:064x}/fs" for i in range(50)]
    opts, base = rootfs.overlay_options(many, "/c/upper", "/c/work")
    assert base == "/var/lib/pybernetes/agent/images/layers/sha256" and len(opts) <= rootfs.MAX_OPTIONS
    assert opts.startswith(f"lowerdir={49:064x}/fs:{48:064x}/fs:")
    with pytest.raises(rootfs.MountError):
        rootfs.overlay_options([f"/x/{i:0200x}" for i in range(60)], "/u", "/w")


def test_pause_rootfs(tmp_path: Path) -> None:
    busybox = tmp_path / "busybox"
    busybox.write_bytes(b"\x7fELF")
    root = rootfs.make_pause_rootfs(tmp_path / "pause", busybox=str(busybox))
    assert (root / "bin/busybox").read_bytes() == b"\x7fELF" and os.readlink(root / "bin/sh") == "busybox"
    assert all((root / d).is_dir() for d in rootfs.PAUSE_DIRS)
    assert rootfs.make_pause_rootfs(tmp_path / "pause", busybox=str(tmp_path / "gone")) == root   # made once
    with pytest.raises(FileNotFoundError, match="busybox-static"):
        rootfs.make_pause_rootfs(tmp_path / "other", busybox=str(tmp_path / "gone"))
