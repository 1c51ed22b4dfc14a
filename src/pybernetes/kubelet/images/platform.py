"""Choosing one manifest from an image index for this node's platform, as containerd's default matcher does.

An index lists one manifest per ``os/architecture[/variant]``. A node takes the manifest of its own OS and
architecture; among variants it prefers its own, then the older ones it can also run (an ``arm/v7`` node runs
``v6`` and ``v5`` code; ``arm64`` is ``v8`` whether an index writes the variant or not). Entries without a
platform are taken only when nothing matches better, and ``unknown/unknown`` entries (build attestations) never.
Among equally good entries the first in the index wins, as in containerd.
"""

from __future__ import annotations

import platform as _platform
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pybernetes.kubelet.images.manifest import Descriptor

_ARCH_ALIASES = {
    "x86_64": ("amd64", ""), "x86-64": ("amd64", ""), "amd64": ("amd64", ""),
    "aarch64": ("arm64", "v8"), "arm64": ("arm64", "v8"),
    "armhf": ("arm", "v7"), "armv7l": ("arm", "v7"), "armv7": ("arm", "v7"),
    "armel": ("arm", "v6"), "armv6l": ("arm", "v6"), "armv5tel": ("arm", "v5"),
    "i386": ("386", ""), "i486": ("386", ""), "i586": ("386", ""), "i686": ("386", ""),
}

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    @classmethod
    def parse(cls, text: str) -> Platform:
        """``linux/arm64/v8``, ``linux/amd64``, or an architecture alone (``aarch64``)."""
        parts = text.strip().lower().split("/")
        if len(parts) == 1 and parts[0]:
            return normalize(cls("linux", parts[0]))
        if len(parts) > 3 or not all(parts):
            raise ValueError(f"invalid platform {text!r}")
        return normalize(cls(parts[0], parts[1], parts[2] if len(parts) == 3 else ""))


def normalize(p: Platform) -> Platform:
    """Go's architecture names, with the default variant spelled out (``arm64`` → ``v8``, ``arm`` → ``v7``)."""
    arch, variant = p.architecture.lower(), p.variant.lower()
    if arch in _ARCH_ALIASES:
        arch, default_variant = _ARCH_ALIASES[arch]
        variant = variant or default_variant
    elif arch == "arm" and not variant:
        variant = "v7"
    if arch == "arm64" and variant == "8":
        variant = "v8"
    return Platform(os=p.os.lower(), architecture=arch, variant=variant)


def host_platform() -> Platform:
    return normalize(Platform("linux", _platform.machine()))


def _variant_rank(want: Platform, variant: str) -> int | None:
    """0 is a perfect variant match; larger is worse; None is incompatible."""
    variant = variant.lower()
    if want.architecture == "arm64":
        return 0 if variant in ("", "v8", "8") else None
    if want.architecture == "arm":
        order = {"v7": ("v7", "v6", "v5"), "v6": ("v6", "v5"), "v5": ("v5",)}.get(want.variant, (want.variant,))
        v = variant or "v7"
        return order.index(v) if v in order else None
    if want.architecture == "amd64":
        return {"": 0, "v1": 1}.get(variant) if not want.variant else (0 if variant in ("", want.variant) else None)
    return 0 if variant in ("", want.variant) else None


def rank(want: Platform, spec: Mapping[str, Any] | None) -> int | None:
    """How well a descriptor's ``platform`` fits ``want`` (lower is better), or None if it does not run here."""
    if spec is None:
        return 100
    os_ = str(spec.get("os", "")).lower()
    arch = str(spec.get("architecture", "")).lower()
    if os_ == "unknown" or arch == "unknown":
        return None
    have = normalize(Platform(os_, arch, str(spec.get("variant", ""))))
    if have.os != want.os or have.architecture != want.architecture:
        return None
    return _variant_rank(want, str(spec.get("variant", "")))


def select(manifests: Iterable[Descriptor], want: Platform) -> Descriptor | None:
    """The best manifest of an index for ``want`` (first of the best), or None."""
    return best(((m, m.platform) for m in manifests), want)


def best(candidates: Iterable[tuple[T, Mapping[str, Any] | None]], want: Platform) -> T | None:
    chosen: T | None = None
    chosen_rank = 1 << 30
    for item, spec in candidates:
        r = rank(want, spec)
        if r is not None and r < chosen_rank:
            chosen, chosen_rank = item, r
    return chosen
