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


def test_random_suffix_uses_upstreams_alphabet() -> None:
    suffixes = {registry._random_suffix() for _ in range(200)}
    assert all(len(s) == 5 and set(s) <= set(registry.GENERATE_CHARS) for s in suffixes)
    assert len(suffixes) > 190
