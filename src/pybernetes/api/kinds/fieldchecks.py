"""Small field checks shared by the non-core kind strategies, with upstream's exact messages.

These mirror the handful of generic helpers that every ``pkg/apis/*/validation`` package in Kubernetes calls
(``ValidateNonnegativeField``, ``ValidateImmutableField``, ``ValidatePositiveIntOrPercent``, ``IsDecremented``), so
that each kind module reads like its upstream counterpart and the messages are spelled once.
"""

from __future__ import annotations

import re
from typing import Any

from pybernetes.api.field import FieldError, Path, invalid, required
from pybernetes.api.validation.names import dns1123_subdomain

IMMUTABLE = "field is immutable"
NEGATIVE = "must be greater than or equal to 0"
_PERCENT = re.compile(r"[0-9]+%")
PERCENT_MSG = ("a valid percent string must be a numeric string followed by an ending '%' "
               "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")


def immutable(new: Any, old: Any, path: Path | str) -> list[FieldError]:
    """``ValidateImmutableField``: any change, including set ↔ unset, is rejected with the new value."""
    if new == old:
        return []
    return [invalid(path, new, IMMUTABLE)]


def non_negative(value: Any, path: Path | str) -> list[FieldError]:
    """``ValidateNonnegativeField`` for an optional number (absent values are not checked)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        return [invalid(path, value, NEGATIVE)]
    return []


def is_decremented(new: int | None, old: int | None) -> bool:
    """``IsDecremented``: a counter went down, or was dropped after being set."""
    if old is None:
        return False
    return new is None or new < old


def is_percent(v: Any) -> bool:
    return isinstance(v, str) and _PERCENT.fullmatch(v) is not None


def percent_value(v: Any) -> int | None:
    """The number in ``"25%"``; None when the value is not a valid percent string."""
    return int(v[:-1]) if is_percent(v) else None


def int_or_percent_value(v: Any) -> int:
    """``getIntOrPercentValue``: percent strings give their number, other strings parse as ints (else 0)."""
    if v is None:
        return 0
    p = percent_value(v)
    if p is not None:
        return p
    if isinstance(v, bool):
        return 0
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            return 0
    return 0


def positive_int_or_percent(v: Any, path: Path | str) -> list[FieldError]:
    """``ValidatePositiveIntOrPercent``: a non-negative integer or a ``N%`` string."""
    if isinstance(v, str):
        return [] if is_percent(v) else [invalid(path, v, PERCENT_MSG)]
    if isinstance(v, int) and not isinstance(v, bool):
        return non_negative(v, path)
    if v is None:
        return []
    return [invalid(path, v, "must be an integer or percentage (e.g '5%%')")]


def not_more_than_100_percent(v: Any, path: Path | str) -> list[FieldError]:
    p = percent_value(v)
    if p is None or p <= 100:
        return []
    return [invalid(path, v, "must not be greater than 100%")]


def go_list(msgs: list[str]) -> str:
    """How Go's ``%v`` prints a ``[]string`` (used in warnings that embed validation messages)."""
    return "[" + " ".join(msgs) + "]"


def domain_prefixed_path(value: str, path: Path) -> list[FieldError]:
    """``IsDomainPrefixedPath``: ``example.com/controller``."""
    if not value:
        return [required(path)]
    host, sep, rest = value.partition("/")
    if not sep or not host or not rest:
        return [invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    errs = [invalid(path, host, m) for m in dns1123_subdomain(host)]
    if not HTTP_PATH.fullmatch(rest):
        errs.append(invalid(path, rest, f"must be a valid path (regex used for validation is '{HTTP_PATH_FMT}')"))
    return errs


HTTP_PATH_FMT = r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+"
HTTP_PATH = re.compile(HTTP_PATH_FMT)
