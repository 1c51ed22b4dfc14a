"""The image GC policy (kubelet's thresholds, LRU order, in-use and young images spared)."""

from __future__ import annotations

import pytest

from pybernetes.kubelet.images.gc import ImageUsage, images_to_delete

NOW = 10_000.0


def img(id_: str, size: int, last_used: float, **kw) -> ImageUsage:  # type: ignore[no-untyped-def]
    return ImageUsage(id=id_, size=size, last_used=last_used, first_seen=kw.pop("first_seen", 0.0), **kw)


IMAGES = [img("old", 30, 100), img("older", 30, 50), img("used", 500, 10, in_use=True),
          img("pinned", 500, 1, pinned=True), img("young", 500, 1, first_seen=NOW - 10), img("new", 30, 900)]


@pytest.mark.parametrize(("available", "expected"), [
    (200, []),                          # 80 % used: below the high threshold
    (150, ["older", "old"]),            # 85 %: free 200 - 150 = 50 bytes → two images of 30
    (170, []),                          # 83 %
    (100, ["older", "old", "new"]),     # free 100: everything collectable (90)
])
def test_images_to_delete(available: int, expected: list[str]) -> None:
    assert images_to_delete(IMAGES, capacity=1000, available=available, now=NOW) == expected


def test_no_capacity() -> None:
    assert images_to_delete(IMAGES, capacity=0, available=0, now=NOW) == []
