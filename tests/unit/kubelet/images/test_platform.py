"""Choosing a manifest from an index for this node's platform."""

from __future__ import annotations

import pytest

from pybernetes.kubelet.images import platform as plat
from pybernetes.kubelet.images.manifest import Descriptor
from pybernetes.kubelet.images.platform import Platform, normalize, select


def desc(n: int, spec: dict | None) -> Descriptor:
    return Descriptor(media_type="m", digest="sha256:" + f"{n:064x}", size=1, platform=spec)


P = {
    "amd64": {"os": "linux", "architecture": "amd64"},
    "arm64": {"os": "linux", "architecture": "arm64", "variant": "v8"},
    "arm64-novariant": {"os": "linux", "architecture": "arm64"},
    "armv7": {"os": "linux", "architecture": "arm", "variant": "v7"},
    "armv6": {"os": "linux", "architecture": "arm", "variant": "v6"},
    "windows": {"os": "windows", "architecture": "amd64"},
    "unknown": {"os": "unknown", "architecture": "unknown"},
    "none": None,
    "amd64v3": {"os": "linux", "architecture": "amd64", "variant": "v3"},
}


@pytest.mark.parametrize(("want", "entries", "chosen"), [
    ("linux/amd64", ["windows", "arm64", "amd64", "unknown"], "amd64"),
    ("linux/arm64", ["amd64", "arm64-novariant"], "arm64-novariant"),
    ("linux/arm64/v8", ["amd64", "arm64"], "arm64"),
    ("linux/arm/v7", ["armv6", "armv7"], "armv7"),
    ("linux/arm/v7", ["amd64", "armv6"], "armv6"),
    ("linux/arm/v6", ["armv7"], None),
    ("linux/amd64", ["unknown", "windows"], None),
    ("linux/amd64", ["none", "amd64"], "amd64"),
    ("linux/amd64", ["none"], "none"),
    ("linux/amd64", ["amd64v3"], None),
    ("linux/amd64", ["amd64", "amd64"], "amd64"),
])
def test_select(want: str, entries: list[str], chosen: str | None) -> None:
    descs = [desc(i, P[e]) for i, e in enumerate(entries)]
    got = select(descs, Platform.parse(want))
    assert (entries[descs.index(got)] if got else None) == chosen
    if chosen == "amd64" and entries.count("amd64") == 2:
        assert got is descs[0]                  # the first of equals wins


@pytest.mark.parametrize(("machine", "expected"), [
    ("x86_64", "linux/amd64"), ("aarch64", "linux/arm64/v8"), ("armv7l", "linux/arm/v7"), ("i686", "linux/386"),
    ("riscv64", "linux/riscv64"),
])
def test_host_platform(monkeypatch: pytest.MonkeyPatch, machine: str, expected: str) -> None:
    monkeypatch.setattr(plat._platform, "machine", lambda: machine)
    assert str(plat.host_platform()) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("linux/arm64", Platform("linux", "arm64", "v8")), ("aarch64", Platform("linux", "arm64", "v8")),
    ("linux/arm", Platform("linux", "arm", "v7")), ("linux/arm64/8", Platform("linux", "arm64", "v8")),
])
def test_parse(text: str, expected: Platform) -> None:
    assert Platform.parse(text) == expected == normalize(expected)


@pytest.mark.parametrize("text", ["", "linux//x", "a/b/c/d"])
def test_parse_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="invalid platform"):
        Platform.parse(text)
