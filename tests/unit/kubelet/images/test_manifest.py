"""Manifest and digest facts."""

from __future__ import annotations

import pytest

from pybernetes.kubelet.images import manifest as mt

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize(("digest", "error"), [
    (D, None), ("sha256:" + "AB" * 32, "invalid digest"), ("sha256:abc", "invalid digest"),
    ("sha512:" + "a" * 128, "unsupported digest algorithm"), ("sha256:../../etc/passwd", "invalid digest"),
    (None, "invalid digest"),
])
def test_check_digest(digest: object, error: str | None) -> None:
    if error is None:
        assert mt.check_digest(digest) == digest
    else:
        with pytest.raises(mt.ManifestError, match=error):
            mt.check_digest(digest)


@pytest.mark.parametrize(("doc", "content_type", "expected"), [
    ({"mediaType": mt.DOCKER_MANIFEST, "config": {}, "layers": []}, "", mt.DOCKER_MANIFEST),
    ({"schemaVersion": 2, "manifests": []}, "application/json", mt.OCI_INDEX),
    ({"schemaVersion": 2, "manifests": []}, mt.DOCKER_MANIFEST_LIST + "; charset=utf-8", mt.DOCKER_MANIFEST_LIST),
    ({"config": {"mediaType": mt.DOCKER_CONFIG}, "layers": []}, "", mt.DOCKER_MANIFEST),
    ({"config": {"mediaType": mt.OCI_CONFIG}, "layers": []}, "", mt.OCI_MANIFEST),
    ({"schemaVersion": 1, "fsLayers": []}, "application/json", mt.DOCKER_SCHEMA1),
])
def test_detect_media_type(doc: dict, content_type: str, expected: str) -> None:
    assert mt.detect_media_type(doc, content_type) == expected


def test_parse_manifest() -> None:
    layer = {"mediaType": mt.OCI_LAYER_GZIP, "digest": D, "size": 3}
    man = mt.parse_manifest({"config": {"mediaType": mt.OCI_CONFIG, "digest": D, "size": 2}, "layers": [layer]},
                            mt.OCI_MANIFEST)
    assert man.layers[0].size == 3 and man.config.media_type == mt.OCI_CONFIG
    with pytest.raises(mt.ManifestError, match="schema 1"):
        mt.parse_manifest({}, mt.DOCKER_SCHEMA1_SIGNED)
    with pytest.raises(mt.ManifestError, match="unsupported layer media type"):
        mt.parse_manifest({"config": {"digest": D, "size": 1},
                           "layers": [{"mediaType": "application/x-helm", "digest": D, "size": 1}]},
                          mt.OCI_MANIFEST)
    with pytest.raises(mt.ManifestError, match="invalid size"):
        mt.parse_manifest({"config": {"digest": D, "size": -1}, "layers": []}, mt.OCI_MANIFEST)
    with pytest.raises(mt.ManifestError, match=r"rootfs\.diff_ids"):
        mt.diff_ids({"rootfs": {}})
