"""Image reference normalisation (Docker's ParseNormalizedNamed)."""

from __future__ import annotations

import pytest

from pybernetes.kubelet.images.reference import InvalidReference, normalize, parse

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(("ref", "full"), [
    ("nginx", "docker.io/library/nginx:latest"),
    ("nginx:1.19.1", "docker.io/library/nginx:1.19.1"),
    ("library/nginx", "docker.io/library/nginx:latest"),
    ("user/app:v1", "docker.io/user/app:v1"),
    ("index.docker.io/user/app", "docker.io/user/app:latest"),
    ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
    ("localhost:5000/team/app", "localhost:5000/team/app:latest"),
    ("localhost/app", "localhost/app:latest"),
    (f"nginx@{DIGEST}", f"docker.io/library/nginx@{DIGEST}"),
    (f"quay.io/a/b:1@{DIGEST}", f"quay.io/a/b:1@{DIGEST}"),
])
def test_normalize(ref: str, full: str) -> None:
    assert normalize(ref) == full


def test_parts() -> None:
    n = parse("localhost:5000/team/app:2")
    assert (n.domain, n.path, n.tag, n.repository) == ("localhost:5000", "team/app", "2", "localhost:5000/team/app")


@pytest.mark.parametrize("ref", ["", " nginx", "Nginx", "nginx:bad tag", "nginx@sha256:short", "a//b"])
def test_invalid(ref: str) -> None:
    with pytest.raises(InvalidReference):
        parse(ref)
