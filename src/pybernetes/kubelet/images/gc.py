"""Which images to delete when the image filesystem fills up: the kubelet's image GC policy, as a pure function.

Upstream (``pkg/kubelet/images/image_gc_manager.go``): when disk usage reaches ``imageGCHighThresholdPercent``
(85), free ``capacity × (100 − imageGCLowThresholdPercent (80)) / 100 − available`` bytes, deleting images that
no container uses, least recently used first, skipping images first seen less than ``imageMinimumGCAge`` (2 min)
ago. The caller (the agent) gathers usage from ``statvfs`` and the store, removes the chosen names and prunes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

HIGH_THRESHOLD_PERCENT = 85
LOW_THRESHOLD_PERCENT = 80
MINIMUM_GC_AGE = 120.0


@dataclass(frozen=True, slots=True)
class ImageUsage:
    id: str
    size: int
    last_used: float                   # wall clock; the first-seen time when never used
    first_seen: float
    in_use: bool = False               # a container (running or not) refers to it
    pinned: bool = False               # the pause image and other images never collected


def images_to_delete(images: Iterable[ImageUsage], *, capacity: int, available: int, now: float,
                     high_percent: int = HIGH_THRESHOLD_PERCENT, low_percent: int = LOW_THRESHOLD_PERCENT,
                     min_age: float = MINIMUM_GC_AGE) -> list[str]:
    """The IDs to delete, in order (empty when usage is below the high threshold)."""
    if capacity <= 0:
        return []
    usage_percent = 100 - available * 100 // capacity
    if usage_percent < high_percent:
        return []
    to_free = capacity * (100 - low_percent) // 100 - available
    out: list[str] = []
    freed = 0
    candidates = sorted((i for i in images if not i.in_use and not i.pinned and now - i.first_seen >= min_age),
                        key=lambda i: (i.last_used, i.first_seen, i.id))
    for image in candidates:
        if freed >= to_free:
            break
        out.append(image.id)
        freed += image.size
    return out
