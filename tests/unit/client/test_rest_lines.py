"""client/rest.complete_lines: a watch stream's chunks cut into event lines, whatever the chunk boundaries."""

from __future__ import annotations

import pytest

from pybernetes.client.rest import complete_lines

STREAM = b'{"type":"ADDED","n":1}\n{"type":"MODIFIED","n":2}\n\n{"type":"DELETED","n":3}\n'
WANT = [b'{"type":"ADDED","n":1}', b'{"type":"MODIFIED","n":2}', b"", b'{"type":"DELETED","n":3}']


def feed(chunks: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    pending: list[bytes] = []
    out: list[bytes] = []
    for c in chunks:
        out += complete_lines(pending, c)
    return out, pending


@pytest.mark.parametrize("size", [1, 2, 5, 17, len(STREAM)])
def test_any_chunking_gives_the_same_lines(size: int) -> None:
    out, pending = feed([STREAM[i:i + size] for i in range(0, len(STREAM), size)])
    assert out == WANT and pending == []


def test_an_unfinished_line_waits_for_its_newline() -> None:
    out, pending = feed([b'{"a":1}\n{"b"', b":2", b"}"])
    assert out == [b'{"a":1}'] and b"".join(pending) == b'{"b":2}'
    assert complete_lines(pending, b"\n") == [b'{"b":2}'] and pending == []


def test_many_events_in_one_chunk() -> None:
    lines = [b'{"n":%d}' % i for i in range(20000)]
    out, pending = feed([b"\n".join(lines) + b"\n"])
    assert out == lines and pending == []
