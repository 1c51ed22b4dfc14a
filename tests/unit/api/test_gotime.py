"""Go's time and duration strings: formatting any int64 second or nanosecond count, and parsing with Go's messages."""

from __future__ import annotations

import pytest

from pybernetes.api import gotime, protobuf


@pytest.mark.parametrize(("ns", "want"), [
    (0, "0s"), (1, "1ns"), (1100, "1.1\u00b5s"), (2_200_000, "2.2ms"), (3_300_000_000, "3.3s"),
    (245_000_000_000, "4m5s"), (245_001_000_000, "4m5.001s"), (18_367_001_000_000, "5h6m7.001s"),
    (480_000_000_001, "8m0.000000001s"), (-1, "-1ns"), (3_600_000_000_000, "1h0m0s"),
    ((1 << 63) - 1, "2562047h47m16.854775807s"), (-(1 << 63), "-2562047h47m16.854775808s"),
])
def test_go_duration_string(ns: int, want: str) -> None:
    assert gotime.go_duration(ns) == want
    assert gotime.parse_go_duration(want) == ns


@pytest.mark.parametrize(("text", "want"), [
    ("1.5h", 5_400_000_000_000), ("-1.5h", -5_400_000_000_000), ("+5s", 5_000_000_000), ("0", 0),
    ("1h15m30.918273645s", 4_530_918_273_645), ("100us", 100_000), ("100\u03bcs", 100_000), (".5s", 500_000_000),
    ("3.s", 3_000_000_000),
])
def test_parse_go_duration(text: str, want: int) -> None:
    assert gotime.parse_go_duration(text) == want


@pytest.mark.parametrize(("text", "message"), [
    ("", 'time: invalid duration ""'),
    ("3", 'time: missing unit in duration "3"'),
    ("3x", 'time: unknown unit "x" in duration "3x"'),
    ("-", 'time: invalid duration "-"'),
    (".s", 'time: invalid duration ".s"'),
    ("9223372036854775808ns", 'time: invalid duration "9223372036854775808ns"'),
])
def test_parse_go_duration_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as e:
        gotime.parse_go_duration(text)
    assert str(e.value) == message


@pytest.mark.parametrize(("text", "micro", "want"), [
    ("2008-01-01T01:01:01Z", False, (1199149261, 0)),
    ("2008-01-01T03:01:01+02:00", False, (1199149261, 0)),
    ("2008-01-01T01:01:01.5Z", False, (1199149261, 500_000_000)),
    ("2008-01-01T1:01:01Z", False, (1199149261, 0)),                   # Go's hour takes one or two digits
    ("2008-01-01T01:01:01.123456Z", True, (1199149261, 123_456_000)),
])
def test_parse_rfc3339(text: str, micro: bool, want: tuple[int, int]) -> None:
    assert gotime.parse_rfc3339(text, micro=micro) == want


RFC = '"2006-01-02T15:04:05Z07:00"'


@pytest.mark.parametrize(("text", "micro", "message"), [
    ("foo", False, f'parsing time "foo" as {RFC}: cannot parse "foo" as "2006"'),
    ("2008-01-01", False, f'parsing time "2008-01-01" as {RFC}: cannot parse "" as "T"'),
    ("2008-13-01T00:00:00Z", False, 'parsing time "2008-13-01T00:00:00Z": month out of range'),
    ("2008-02-30T00:00:00Z", False, 'parsing time "2008-02-30T00:00:00Z": day out of range'),
    ("2008-01-01T00:00:00", False, f'parsing time "2008-01-01T00:00:00" as {RFC}: cannot parse "" as "Z07:00"'),
    ("2008-01-01T00:00:00Zjunk", False, 'parsing time "2008-01-01T00:00:00Zjunk": extra text: "junk"'),
    ("2008-01-01T00:00:00Z", True, 'parsing time "2008-01-01T00:00:00Z" as "2006-01-02T15:04:05.000000Z07:00": '
                                   'cannot parse "Z" as ".000000"'),
])
def test_parse_rfc3339_errors(text: str, micro: bool, message: str) -> None:
    with pytest.raises(ValueError) as e:
        gotime.parse_rfc3339(text, micro=micro)
    assert str(e.value) == message


def test_rfc3339_formats_any_second() -> None:
    assert gotime.rfc3339(0) == "1970-01-01T00:00:00Z"
    assert gotime.rfc3339(951782400) == "2000-02-29T00:00:00Z"
    assert gotime.rfc3339(-1) == "1969-12-31T23:59:59Z"


@pytest.mark.parametrize("name", ["RFC3339_LAYOUT", "RFC3339_MICRO_LAYOUT", "go_duration", "go_quote_time",
                                  "parse_go_duration", "parse_rfc3339", "rfc3339"])
def test_protobuf_still_exports_the_go_value_forms(name: str) -> None:
    assert getattr(protobuf, name) is getattr(gotime, name)
