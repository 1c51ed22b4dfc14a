"""Pure helpers of the generic registry."""

from __future__ import annotations

import re
import uuid

from pybernetes.apiserver import registry

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_new_uid_is_a_random_version_4_uuid() -> None:
    uids = [registry.new_uid() for _ in range(1000)]      # crosses a refill of the 4 KiB pool (256 uids)
    assert all(UUID4.match(u) for u in uids)
    assert all(uuid.UUID(u).version == 4 for u in uids)
    assert len(set(uids)) == len(uids)


def test_new_uid_formats_the_pool_bytes_as_uuid_does() -> None:
    """The hand-rolled version/variant bits and hex layout are exactly ``uuid.UUID(bytes=..., version=4)``."""
    for raw in (bytes(16), b"\xff" * 16, bytes(range(16)), bytes(range(240, 256))):
        registry._RANDOM[:] = raw
        assert registry.new_uid() == str(uuid.UUID(bytes=raw, version=4))


def test_random_suffix_uses_upstreams_alphabet() -> None:
    suffixes = {registry._random_suffix() for _ in range(200)}
    assert all(len(s) == 5 and set(s) <= set(registry.GENERATE_CHARS) for s in suffixes)
    assert len(suffixes) > 190


def test_copy_object_is_deep_for_containers_and_shares_immutable_leaves() -> None:
    import datetime
    stamp = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    obj = {"metadata": {"name": "x", "labels": {"a": "b"}, "finalizers": ["f"]},
           "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}], "n": 1, "f": 1.5, "b": True,
                    "none": None, "big": 2 ** 80, "when": stamp}}
    out = registry.copy_object(obj)
    assert out == obj
    out["metadata"]["labels"]["a"] = "changed"
    out["metadata"]["finalizers"].append("g")
    out["spec"]["containers"][0]["ports"][0]["containerPort"] = 81
    assert obj["metadata"]["labels"] == {"a": "b"}
    assert obj["metadata"]["finalizers"] == ["f"]
    assert obj["spec"]["containers"][0]["ports"][0]["containerPort"] == 80
    assert out["spec"]["when"] is stamp and out["spec"]["big"] == 2 ** 80

