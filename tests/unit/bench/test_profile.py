"""The CPU-sample aggregation of bench/profile.py."""

from __future__ import annotations

from bench.profile import Profile, frame_name


def test_frame_names_are_short() -> None:
    assert frame_name("/x/.venv/lib/python3.11/site-packages/aiohttp/web.py", "f") == "aiohttp/web.py:f"
    assert frame_name("/work/main/src/pybernetes/api/decode.py", "g") == "pybernetes/api/decode.py:g"
    assert frame_name("<string>", "h") == "<string>:h"


def test_self_and_inclusive_counts() -> None:
    p = Profile()
    leaf = ("/s/src/pkg/a.py", "leaf", 10)
    mid = ("/s/src/pkg/b.py", "mid", 5)
    p.add([leaf, mid, mid])                       # recursion counts once inclusively
    p.add([mid])
    p.add([])
    assert p.samples == 3
    assert p.own == {"pkg/a.py:leaf:10": 1, "pkg/b.py:mid:5": 1}
    assert p.inclusive == {"pkg/a.py:leaf": 1, "pkg/b.py:mid": 2}
    text = p.report(top=5)
    assert text.startswith("3 CPU samples") and " 66.7%  pkg/b.py:mid" in text
