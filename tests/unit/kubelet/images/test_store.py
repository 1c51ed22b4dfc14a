"""The image store: names, repo digests and image IDs, layers unpacked once, other processes, pruning."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from pybernetes.kubelet.images import store as store_mod
from pybernetes.kubelet.images.store import ImageStore, Layer, StoreError
from pybernetes.testing.images import BuiltImage, Rootfs, make_image

BASE = Rootfs().file("bin/sh", "sh").tar()


def add(store: ImageStore, img: BuiltImage, name: str | None = None) -> None:
    """What a pull does once the blobs are fetched: write them, unpack, record."""
    layers = []
    below: list[Path] = []
    import json
    diff_ids = json.loads(img.config.data)["rootfs"]["diff_ids"]
    for blob, diff_id in zip(img.layers, diff_ids, strict=True):
        store.write_blob(blob.data, blob.digest)
        layer = Layer(digest=blob.digest, diff_id=diff_id, media_type=blob.media_type, size=len(blob.data))
        below.append(store.unpack(layer, parents=below[::-1]))
        layers.append(layer)
    store.write_blob(img.config.data)
    store.write_blob(img.manifest.data)
    store.record(name or img.name, target=img.target.digest, manifest_digest=img.manifest.digest,
                 media_type=img.manifest.media_type, config_digest=img.config.digest, layers=layers,
                 size=len(img.manifest.data) + len(img.config.data) + sum(len(x.data) for x in img.layers))


def image(name: str, *files: str) -> BuiltImage:
    fs = Rootfs()
    for f in files:
        fs.file(f, f)
    return make_image(name, [BASE, fs.tar()], config={"Cmd": ["sh"], "WorkingDir": "/w"})


@pytest.fixture()
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "images")


def test_lookups(store: ImageStore) -> None:
    img = image("docker.io/library/app:1", "a")
    add(store, img)
    add(store, img, "docker.io/library/app:latest")
    want = f"docker.io/library/app@{img.index.digest}"
    for ref in ("app:1", "docker.io/library/app:1", "library/app:1"):
        assert store.image_ref(ref).id == want
    assert store.image_ref("app").name == "docker.io/library/app:latest"
    by_digest = store.image_ref(f"app@{img.index.digest}")
    assert (by_digest.name, by_digest.id) == (want, want)
    assert store.image_ref(f"app@{img.manifest.digest}").id == f"docker.io/library/app@{img.manifest.digest}"
    assert store.get(img.config.digest).names == ("docker.io/library/app:1", "docker.io/library/app:latest")
    assert store.get("app:1").repo_digests == (want,)
    assert store.get("app:1").id == img.config.digest
    assert store.image_ref("app:2") is None and store.image_ref("other@" + img.index.digest) is None
    assert store.image_ref("NOT VALID") is None
    assert [r.name for r in store.image_refs()] == ["docker.io/library/app:1", "docker.io/library/app:latest"]
    assert store.image_config("app:1").working_dir == "/w"


def test_rootfs_layers_lowest_first_and_restored(store: ImageStore) -> None:
    add(store, image("docker.io/library/app:1", "etc/app"))
    base, top = store.rootfs_layers("app:1")
    assert (base / "bin/sh").read_text() == "sh" and (top / "etc/app").read_text() == "etc/app"
    store_mod._rmtree(top.parent)                    # lost on disk: unpacked again from the blob
    assert store.rootfs_layers("app:1")[1] == top and (top / "etc/app").exists()


def test_layers_are_shared_and_unpacked_once(store: ImageStore, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    real = store_mod.apply_layer

    def counting(blob: Path, dest: Path, **kw):  # type: ignore[no-untyped-def]
        calls.append(blob)
        return real(blob, dest, **kw)

    monkeypatch.setattr(store_mod, "apply_layer", counting)
    a, b = image("docker.io/library/a:1", "a"), image("docker.io/library/b:1", "b")
    add(store, a)
    add(store, b)
    assert len(calls) == 3
    assert store.rootfs_layers("a:1")[0] == store.rootfs_layers("b:1")[0]


def test_concurrent_unpack_of_one_layer(store: ImageStore, monkeypatch: pytest.MonkeyPatch) -> None:
    img = image("docker.io/library/a:1", "a")
    blob = img.layers[1]
    store.write_blob(blob.data)
    import json
    layer = Layer(digest=blob.digest, diff_id=json.loads(img.config.data)["rootfs"]["diff_ids"][1],
                  media_type=blob.media_type, size=len(blob.data))
    calls = []
    real = store_mod.apply_layer
    monkeypatch.setattr(store_mod, "apply_layer", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(store.unpack(layer))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(set(results)) == 1


def test_diff_id_checked(store: ImageStore) -> None:
    img = image("docker.io/library/a:1", "a")
    store.write_blob(img.layers[0].data)
    bad = Layer(digest=img.layers[0].digest, diff_id="sha256:" + "1" * 64, media_type="", size=1)
    with pytest.raises(store_mod.UnpackError, match="diffID mismatch"):
        store.unpack(bad)
    assert not store.has_layer(bad.diff_id) and list(store.tmp.iterdir()) == []


def test_another_process_sees_new_names(tmp_path: Path) -> None:
    one, two = ImageStore(tmp_path / "s"), ImageStore(tmp_path / "s")
    assert two.image_ref("app:1") is None
    add(one, image("docker.io/library/app:1", "a"))
    assert two.image_ref("app:1") is not None
    assert two.remove("app:1") and one.image_ref("app:1") is None


def test_write_blob_checks_digest(store: ImageStore) -> None:
    with pytest.raises(StoreError, match="digest mismatch"):
        store.write_blob(b"data", "sha256:" + "0" * 64)
    with pytest.raises(StoreError, match="not in the store"):
        store.read_blob("sha256:" + "0" * 64)
    with pytest.raises(ValueError, match="invalid digest"):
        store.blob_path("sha256:../../etc/passwd")


def test_prune_keeps_what_others_use(store: ImageStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_mod, "PRUNE_GRACE_SECONDS", -60.0)
    a, b = image("docker.io/library/a:1", "a"), image("docker.io/library/b:1", "b")
    add(store, a)
    add(store, b)
    assert store.prune() == 0
    shared = store.rootfs_layers("b:1")[0]
    only_a = store.rootfs_layers("a:1")[1]
    assert store.remove("a:1") and not store.remove("a:1")
    freed = store.prune()
    assert freed >= len(a.layers[1].data) + len(a.config.data)
    assert shared.is_dir() and not only_a.exists()
    assert not store.has_blob(a.config.digest) and store.has_blob(b.config.digest)
    assert store.rootfs_layers("b:1")[0] == shared


def test_prune_spares_fresh_content(store: ImageStore) -> None:
    digest = store.write_blob(b"a pull in progress")
    store.prune()
    assert store.has_blob(digest)
