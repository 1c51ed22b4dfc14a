"""Toleration.ToleratesTaint, shared by the scheduler, the node lifecycle and the DaemonSet controllers."""

from __future__ import annotations

from typing import Any

import pytest

from pybernetes.api.tolerations import tolerates, tolerations_tolerate_taint
from pybernetes.controllers import nodelifecycle
from pybernetes.scheduler.plugins import taint_toleration

Obj = dict[str, Any]
TAINT = {"key": "k", "value": "v", "effect": "NoSchedule"}


@pytest.mark.parametrize(("tol", "want"), [
    ({"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"}, True),
    ({"key": "k", "value": "v"}, True),                     # empty effect matches any; Equal is the default
    ({"key": "k", "operator": "Exists"}, True),             # Exists ignores the value
    ({"operator": "Exists"}, True),                         # no key and Exists: every taint
    ({"key": "k"}, False),                                  # Equal with an empty value
    ({"key": "k", "operator": "Exists", "effect": "NoExecute"}, False),
    ({"key": "other", "operator": "Exists"}, False),
    ({"key": "k", "operator": "Gt", "value": "v"}, False),  # no other operator tolerates
])
def test_tolerates(tol: Obj, want: bool) -> None:
    assert tolerates(tol, TAINT) is want
    assert tolerations_tolerate_taint([{"key": "x", "operator": "Exists"}, tol], TAINT) is want


def test_the_old_homes_still_export_it() -> None:
    assert nodelifecycle.tolerates is tolerates and taint_toleration.tolerates is tolerates
