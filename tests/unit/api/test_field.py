"""Field paths as upstream's ``field.Path`` prints them."""

from __future__ import annotations

import pytest

from pybernetes.api.field import Path


@pytest.mark.parametrize(("path", "want"), [
    (Path("spec"), "spec"),
    (Path("spec").child("containers").index(0).child("image"), "spec.containers[0].image"),
    (Path("metadata").child("labels").key("app"), "metadata.labels[app]"),
    (Path().child("spec"), "spec"),
    (Path().child("spec", "template", "spec"), "spec.template.spec"),
    (Path("a").child("b", "c").index(2).key("k").child("d"), "a.b.c[2][k].d"),
    (Path("spec", "selector"), "spec.selector"),
])
def test_paths_render_like_upstream(path: Path, want: str) -> None:
    assert str(path) == want
    assert path == Path._raw(want) and hash(path) == hash(Path._raw(want))
    assert repr(path) == f"Path({want!r})"


def test_paths_are_immutable_values() -> None:
    base = Path("spec")
    a, b = base.child("x"), base.child("y")
    assert (str(base), str(a), str(b)) == ("spec", "spec.x", "spec.y")
    assert type(a) is Path and a != "spec.x"
