"""The hashes controllers put in the names of what they create, as upstream computes them.

Two families, both printed in decimal and mapped onto ``rand.SafeEncodeString``'s alphabet (no vowels, no 0/1/3,
so a name never spells a word):

- ``controller.ComputeHash`` (``pkg/controller/controller_utils.go``): the ``pod-template-hash`` of a Deployment's
  ReplicaSets and a DaemonSet's pod template, FNV-32a of the template plus the collision count's 8 little-endian
  bytes. It lives here, not with either controller, because both use it.
- ``history.HashControllerRevision``: FNV-32 (FNV-1, not 1a) of a ControllerRevision's data bytes, used by
  :mod:`pybernetes.controllers.history`.

Pure functions over bytes and JSON values; no state.
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

SAFE_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"          # rand.SafeEncodeString: no vowels, no 0/1/3
_FNV32_OFFSET, _FNV32_PRIME = 0x811C9DC5, 0x01000193


def fnv32(data: bytes) -> int:
    """FNV-1 (not 1a), 32 bits: Go's ``hash/fnv.New32``."""
    h = _FNV32_OFFSET
    for b in data:
        h = ((h * _FNV32_PRIME) & 0xFFFFFFFF) ^ b
    return h


def fnv32a(data: bytes) -> int:
    """FNV-1a, 32 bits: Go's ``hash/fnv.New32a``."""
    h = _FNV32_OFFSET
    for b in data:
        h = ((h ^ b) * _FNV32_PRIME) & 0xFFFFFFFF
    return h


def safe_encode(s: str) -> str:
    """``rand.SafeEncodeString``: each character mapped onto :data:`SAFE_ALPHANUMS`."""
    return "".join(SAFE_ALPHANUMS[ord(c) % len(SAFE_ALPHANUMS)] for c in s)


def compute_hash(template: Any, collision_count: int | None) -> str:
    """The ``pod-template-hash``: FNV-32a of the template (plus the collision count's 8 little-endian bytes, as
    upstream ``ComputeHash``), printed in decimal and mapped onto upstream's safe alphabet (no vowels, no 0/1/3).

    Upstream feeds the hasher a spew dump of the Go struct; we feed canonical JSON (sorted keys). The value is
    stable for a given template, which is all the controllers need: the new ReplicaSet is found by comparing
    templates, never by hash.
    """
    data = orjson.dumps(template, option=orjson.OPT_SORT_KEYS)
    if collision_count is not None:
        data += struct.pack("<I", collision_count & 0xFFFFFFFF) + b"\0\0\0\0"
    return safe_encode(str(fnv32a(data)))
