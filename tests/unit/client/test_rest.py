"""APIStatusError predicates: the reason and cause checks controllers branch on."""

from __future__ import annotations

from typing import Any

import pytest

from pybernetes.client.rest import (
    APIStatusError,
    has_status_cause,
    is_already_exists,
    is_conflict,
    is_namespace_terminating,
    is_not_found,
)


def _err(code: int, reason: str, *causes: str) -> APIStatusError:
    status: dict[str, Any] = {"reason": reason, "message": "m"}
    if causes:
        status["details"] = {"causes": [{"reason": c} for c in causes]}
    return APIStatusError(code, status)


TERMINATING = _err(403, "Forbidden", "NamespaceTerminating")


@pytest.mark.parametrize(("e", "want"), [
    (_err(404, "NotFound"), (True, False, False, False)),
    (_err(409, "Conflict"), (False, True, False, False)),
    (_err(409, "AlreadyExists"), (False, False, True, False)),
    (TERMINATING, (False, False, False, True)),
    (_err(403, "Forbidden"), (False, False, False, False)),
    (_err(422, "Invalid", "NamespaceTerminating"), (False, False, False, False)),   # the cause alone is not enough
    (ValueError("x"), (False, False, False, False)),
])
def test_predicates(e: BaseException, want: tuple[bool, bool, bool, bool]) -> None:
    assert (is_not_found(e), is_conflict(e), is_already_exists(e), is_namespace_terminating(e)) == want


def test_has_status_cause() -> None:
    assert has_status_cause(TERMINATING, "NamespaceTerminating")
    assert not has_status_cause(TERMINATING, "FieldValueInvalid")
    assert not has_status_cause(_err(403, "Forbidden"), "NamespaceTerminating")
    assert not has_status_cause(ValueError("x"), "NamespaceTerminating")
