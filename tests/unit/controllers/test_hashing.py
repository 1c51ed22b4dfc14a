"""Name hashes: FNV-32 and FNV-32a test vectors, the safe alphabet, and pod-template-hash values that must not drift."""

from __future__ import annotations

import pytest

from pybernetes.controllers import deployment_util, history
from pybernetes.controllers.hashing import SAFE_ALPHANUMS, compute_hash, fnv32, fnv32a, safe_encode

TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}


@pytest.mark.parametrize(("data", "fnv1", "fnv1a"), [
    (b"", 0x811C9DC5, 0x811C9DC5),
    (b"a", 0x050C5D7E, 0xE40C292C),
    (b"foobar", 0x31F0B262, 0xBF9CF968),
])
def test_fnv_vectors(data: bytes, fnv1: int, fnv1a: int) -> None:
    assert fnv32(data) == fnv1
    assert fnv32a(data) == fnv1a


def test_safe_encode_maps_every_character_onto_the_alphabet() -> None:
    assert safe_encode("0123456789") == "".join(SAFE_ALPHANUMS[ord(c) % 27] for c in "0123456789")
    assert set(safe_encode("4294967295")) <= set(SAFE_ALPHANUMS)
    assert not set(SAFE_ALPHANUMS) & set("aeiou013")


@pytest.mark.parametrize(("collision_count", "want"), [
    (None, "59bd5955b7"), (0, "78fbd7fdff"), (1, "5f745cc8bb"), (7, "cbd97947b"),
])
def test_pod_template_hash_is_stable(collision_count: int | None, want: str) -> None:
    # ReplicaSets and DaemonSet pods already in a cluster carry these: a changed value would roll every workload.
    assert compute_hash(TEMPLATE, collision_count) == want


def test_the_old_homes_still_export_them() -> None:
    assert deployment_util.compute_hash is compute_hash
    assert history.fnv32 is fnv32 and history.safe_encode is safe_encode
