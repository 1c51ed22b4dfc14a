"""Pure parts of the load generators."""

from __future__ import annotations

import orjson
from bench import objects
from bench.loadgen import Result, stamp_in_line


def test_stamp_in_line_reads_the_send_time_without_decoding_the_event() -> None:
    obj = objects.make("configmaps", "ns", "a", stamp=1234.5678)
    line = orjson.dumps({"type": "MODIFIED", "object": obj})
    assert stamp_in_line(line) == 1234.5678
    assert stamp_in_line(orjson.dumps({"type": "BOOKMARK", "object": {"metadata": {}}})) is None


def test_result_keeps_the_first_error_and_counts_all() -> None:
    r = Result()
    r.fail("first")
    r.fail("second")
    assert (r.errors, r.first_error) == (2, "first")
