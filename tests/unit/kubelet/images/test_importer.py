"""Importing OCI image layouts and docker save archives; the ``pybernetes images`` command."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from tests.unit.kubelet.images.builders import AMD64, ARM64, multi_platform

from pybernetes import cli
from pybernetes.kubelet.images import command
from pybernetes.kubelet.images import manifest as mt
from pybernetes.kubelet.images.importer import ArchiveError, import_archive
from pybernetes.kubelet.images.store import ImageStore
from pybernetes.testing.images import Rootfs, make_image, write_oci_layout

BASE = Rootfs().file("bin/sh", "sh").tar()
APP = Rootfs().file("etc/app.conf", "port=80\n").dir("var/empty", 0o700).tar()


def tar_dir(src: Path, dest: Path, *, gz: bool = False) -> Path:
    with tarfile.open(dest, "w:gz" if gz else "w") as tf:
        for p in sorted(src.rglob("*")):
            tf.add(p, arcname=str(p.relative_to(src)), recursive=False)
    return dest


@pytest.fixture()
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "images")


@pytest.mark.parametrize("form", ["dir", "tar", "tar.gz"])
def test_oci_layout(tmp_path: Path, store: ImageStore, form: str) -> None:
    one = make_image("docker.io/library/app:1", [BASE, APP], config={"Cmd": ["app"]})
    two = make_image("registry.example.com/team/tool:2", [BASE], config={}, oci=False, index=False)
    layout = write_oci_layout(tmp_path / "layout", [one, two])
    src = layout if form == "dir" else tar_dir(layout, tmp_path / f"layout.{form}", gz=form == "tar.gz")
    refs = import_archive(store, src, platform=AMD64)
    assert [(r.name, r.id) for r in refs] == [
        ("docker.io/library/app:1", f"docker.io/library/app@{one.index.digest}"),
        ("registry.example.com/team/tool:2", f"registry.example.com/team/tool@{two.manifest.digest}")]
    base, app = store.rootfs_layers("app:1")
    assert (app / "etc/app.conf").read_text() == "port=80\n" and (base / "bin/sh").exists()
    assert store.rootfs_layers("registry.example.com/team/tool:2")[0] == base        # shared layer
    assert store.image_config("app:1").cmd == ("app",)


def test_oci_layout_platform_and_tag_names(tmp_path: Path, store: ImageStore) -> None:
    arm = make_image("x", [Rootfs().file("arch", "arm64").tar()], config={}, platform=ARM64, index=False)
    amd = make_image("x", [Rootfs().file("arch", "amd64").tar()], config={}, platform=AMD64, index=False)
    index, images = multi_platform("x", [(AMD64, amd), (ARM64, arm)])
    layout = tmp_path / "layout"
    write_oci_layout(layout, [])
    for img in images:
        for b in (*img.blobs(), img.manifest):
            (layout / "blobs/sha256" / b.digest[7:]).write_bytes(b.data)
    (layout / "blobs/sha256" / index.digest[7:]).write_bytes(index.data)
    entry = index.descriptor(annotations={"org.opencontainers.image.ref.name": "v3"})
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    with pytest.raises(ArchiveError, match="has no name"):
        import_archive(store, layout)
    [ref] = import_archive(store, layout, base_name="quay.io/org/multi", platform=ARM64)
    assert ref.name == "quay.io/org/multi:v3" and ref.id == f"quay.io/org/multi@{index.digest}"
    assert (store.rootfs_layers(ref.name)[0] / "arch").read_text() == "arm64"


def test_oci_layout_blob_tampered(tmp_path: Path, store: ImageStore) -> None:
    img = make_image("docker.io/library/app:1", [APP], config={})
    layout = write_oci_layout(tmp_path / "layout", [img])
    (layout / "blobs/sha256" / img.layers[0].digest[7:]).write_bytes(b"evil")
    with pytest.raises(ArchiveError, match="digest mismatch"):
        import_archive(store, layout)
    assert store.image_ref("app:1") is None


def docker_save(path: Path, tags: list[str] | None) -> tuple[bytes, list[bytes]]:
    """A ``docker save`` archive as Docker < 25 writes it: <id>.json, <layer>/layer.tar, manifest.json."""
    layers = [BASE, APP]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["saved"]},
                         "rootfs": {"type": "layers", "diff_ids": [mt.sha256_digest(x) for x in layers]}}).encode()
    cid = mt.sha256_digest(config)[7:]
    files = {f"{cid}.json": config, "repositories": b"{}"}
    names = []
    for i, data in enumerate(layers):
        files[f"layer{i}/layer.tar"] = data
        files[f"layer{i}/VERSION"] = b"1.0"
        names.append(f"layer{i}/layer.tar")
    files["manifest.json"] = json.dumps([{"Config": f"{cid}.json", "RepoTags": tags, "Layers": names}]).encode()
    with tarfile.open(path, "w") as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return config, layers


def test_docker_save(tmp_path: Path, store: ImageStore) -> None:
    config, layers = docker_save(tmp_path / "saved.tar", ["nginx:1.25", "registry.example.com/web:v1"])
    refs = import_archive(store, tmp_path / "saved.tar")
    assert [r.name for r in refs] == ["docker.io/library/nginx:1.25", "registry.example.com/web:v1"]
    img = store.get("nginx:1.25")
    assert img.id == mt.sha256_digest(config)                    # Docker's image ID
    assert [x.digest for x in img.layers] == [mt.sha256_digest(x) for x in layers]
    assert img.media_type == mt.DOCKER_MANIFEST
    assert refs[0].id == f"docker.io/library/nginx@{img.manifest_digest}"
    assert json.loads(store.read_blob(img.manifest_digest))["config"]["digest"] == img.id
    assert (store.rootfs_layers(img)[1] / "etc/app.conf").exists()
    assert store.image_config("nginx:1.25").cmd == ("saved",)


def test_docker_save_untagged(tmp_path: Path, store: ImageStore) -> None:
    docker_save(tmp_path / "saved.tar", None)
    with pytest.raises(ArchiveError, match="no RepoTags"):
        import_archive(store, tmp_path / "saved.tar")
    assert [r.name for r in import_archive(store, tmp_path / "saved.tar", base_name="app:2")] == [
        "docker.io/library/app:2"]


def test_not_an_image_archive(tmp_path: Path, store: ImageStore) -> None:
    (tmp_path / "x.tar").write_bytes(b"not a tar")
    with pytest.raises(ArchiveError, match="not a tar archive"):
        import_archive(store, tmp_path / "x.tar")
    with tarfile.open(tmp_path / "empty.tar", "w"):
        pass
    with pytest.raises(ArchiveError, match="neither an OCI image layout"):
        import_archive(store, tmp_path / "empty.tar")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``pybernetes images …`` as cli.main dispatches it (without main's process-wide logging and uvloop setup)."""
    code = command.run(cli.parser().parse_args(["images", *argv]))
    out, err = capsys.readouterr()
    return code, out, err


def test_images_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = make_image("docker.io/library/app:1", [BASE, APP], config={})
    tar_dir(write_oci_layout(tmp_path / "layout", [img]), tmp_path / "app.tar")
    root = str(tmp_path / "store")
    code, out, _ = run_cli(capsys, "import", "--root", root, str(tmp_path / "app.tar"))
    assert code == 0 and out == f"imported docker.io/library/app:1 ({img.index.digest})\n"
    code, out, _ = run_cli(capsys, "list", "--root", root)
    header, row = out.splitlines()
    assert header.split() == ["IMAGE", "TAG", "IMAGE", "ID", "SIZE"]
    assert row.split()[:3] == ["docker.io/library/app", "1", img.config.digest[7:20]]
    code, out, err = run_cli(capsys, "import", "--root", root, str(tmp_path / "missing.tar"))
    assert code == 1 and "missing.tar" in err
    code, out, _ = run_cli(capsys, "rm", "--root", root, "app:1")
    assert code == 0 and ImageStore(root).image_ref("app:1") is None
