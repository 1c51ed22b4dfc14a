"""Image references normalised as Docker (``distribution/reference.ParseNormalizedNamed``) does.

``nginx`` → ``docker.io/library/nginx:latest``; ``user/app:v1`` → ``docker.io/user/app:v1``;
``localhost:5000/x`` keeps its registry. Container statuses report the normalised name as ``image`` and
``<repository>@sha256:<digest>`` as ``imageID``, as containerd does.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"

_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_PATH = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")


class InvalidReference(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ImageName:
    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def repository(self) -> str:
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        """The familiar-free full reference: repository, then ``:tag`` and/or ``@digest``."""
        out = self.repository
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


@functools.lru_cache(maxsize=4096)
def parse(ref: str) -> ImageName:
    """Parse and normalise ``ref``; a reference with neither tag nor digest gets ``:latest``."""
    if not ref or ref != ref.strip():
        raise InvalidReference(f"invalid reference format: {ref!r}")
    name, _, digest = ref.partition("@")
    if digest and not _DIGEST.fullmatch(digest):
        raise InvalidReference(f"invalid digest in {ref!r}")
    tag = ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
        if not _TAG.fullmatch(tag):
            raise InvalidReference(f"invalid tag in {ref!r}")
    domain, sep, rest = name.partition("/")
    if not sep or not ("." in domain or ":" in domain or domain == "localhost"):
        domain, rest = DEFAULT_DOMAIN, name
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in rest:
        rest = OFFICIAL_REPO_PREFIX + rest
    if not _PATH.fullmatch(rest):
        raise InvalidReference(f"invalid reference format: repository name must be lowercase: {ref!r}")
    if not tag and not digest:
        tag = DEFAULT_TAG
    return ImageName(domain=domain, path=rest, tag=tag, digest=digest)


def normalize(ref: str) -> str:
    """``nginx`` → ``docker.io/library/nginx:latest``."""
    return str(parse(ref))
