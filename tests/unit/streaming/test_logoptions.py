"""PodLogOptions from query strings (apimachinery's conversions) and their validation (upstream messages)."""

from __future__ import annotations

import datetime

import pytest

from pybernetes.api.errors import Invalid
from pybernetes.streaming import logoptions as lo


@pytest.mark.parametrize("value,expected", [
    (None, False), ("true", True), ("", True), ("1", True), ("t", True), ("anything", True),
    ("0", False), ("false", False), ("FALSE", False), ("False", False),
])
def test_bools_convert_as_apimachinery_does(value: str | None, expected: bool) -> None:
    assert lo.query_bool(value) is expected


@pytest.mark.parametrize("value,expected", [(None, None), ("", None), ("10", 10), ("-3", -3), ("+7", 7)])
def test_ints(value: str | None, expected: int | None) -> None:
    assert lo.query_int(value) == expected


@pytest.mark.parametrize("value,message", [
    ("abc", 'strconv.ParseInt: parsing "abc": invalid syntax'),
    ("1.5", 'strconv.ParseInt: parsing "1.5": invalid syntax'),
    ("99999999999999999999", 'strconv.ParseInt: parsing "99999999999999999999": value out of range'),
])
def test_bad_ints_say_what_go_says(value: str, message: str) -> None:
    with pytest.raises(lo.QueryError) as e:
        lo.query_int(value)
    assert str(e.value) == message


def test_a_full_query() -> None:
    q = lo.parse_pod_log_query({"container": "c", "follow": "true", "previous": "false", "timestamps": "1",
                                "sinceTime": "2026-01-02T03:04:05Z", "tailLines": "10", "limitBytes": "100"})
    assert q == lo.PodLogQuery(container="c", follow=True, timestamps=True,
                               since_time=datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC), tail_lines=10,
                               limit_bytes=100)
    assert q.kubelet_query() == {"follow": "true", "timestamps": "true", "sinceTime": "2026-01-02T03:04:05Z",
                                 "tailLines": "10", "limitBytes": "100"}


@pytest.mark.parametrize("tail,expected", [("5", 5), ("all", None)])
def test_the_kubelets_legacy_tail(tail: str, expected: int | None) -> None:
    assert lo.parse_pod_log_query({"tailLines": "1", "tail": tail}).tail_lines == expected


@pytest.mark.parametrize("text,expected", [
    ("2026-01-02T03:04:05+02:00", datetime.datetime(2026, 1, 2, 1, 4, 5, tzinfo=datetime.UTC)),
    ("2026-01-02T03:04:05.123456789Z", datetime.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=datetime.UTC)),
])
def test_rfc3339(text: str, expected: datetime.datetime) -> None:
    assert lo.parse_rfc3339(text) == expected


def test_bad_times() -> None:
    with pytest.raises(lo.QueryError, match='parsing time "yesterday"'):
        lo.parse_pod_log_query({"sinceTime": "yesterday"})


@pytest.mark.parametrize("query,message", [
    ({"tailLines": "-1"}, 'PodLogOptions "p" is invalid: tailLines: Invalid value: -1: must be greater than or '
                          "equal to 0"),
    ({"limitBytes": "0"}, 'PodLogOptions "p" is invalid: limitBytes: Invalid value: 0: must be greater than 0'),
    ({"sinceSeconds": "0"}, 'PodLogOptions "p" is invalid: sinceSeconds: Invalid value: 0: must be greater than 0'),
    ({"sinceSeconds": "5", "sinceTime": "2026-01-02T03:04:05Z"},
     'PodLogOptions "p" is invalid: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified'),
    ({"stream": "Both"}, 'PodLogOptions "p" is invalid: stream: Unsupported value: "Both": supported values: '
                         '"All", "Stdout", "Stderr"'),
])
def test_validation_messages(query: dict[str, str], message: str) -> None:
    errs = lo.validate(lo.parse_pod_log_query(query))
    assert Invalid("PodLogOptions", "", "p", errs).message == message


def test_valid_options_have_no_errors() -> None:
    assert lo.validate(lo.parse_pod_log_query({"tailLines": "0", "sinceSeconds": "1", "limitBytes": "1"})) == []
