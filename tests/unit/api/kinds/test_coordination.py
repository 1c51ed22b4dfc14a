"""Lease validation and the gated coordinated-leader-election fields."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pybernetes.api.kinds.coordination import LeaseStrategy

S = LeaseStrategy()


@pytest.mark.parametrize(("spec", "expected"), [
    ({"holderIdentity": "n1", "leaseDurationSeconds": 40, "leaseTransitions": 0}, []),
    ({"leaseDurationSeconds": 0}, ["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]),
    ({"leaseTransitions": -1}, ["spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"]),
    ({"preferredHolder": "n2"}, ["spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined"]),
])
def test_validation(spec: dict[str, Any], expected: list[str]) -> None:
    assert [str(e) for e in S.validate({"spec": spec})] == expected


def test_gated_fields_are_dropped_unless_already_used() -> None:
    lease = {"metadata": {"name": "n1"}, "spec": {"holderIdentity": "n1", "strategy": "OldestEmulationVersion",
                                                  "preferredHolder": "n2"}}
    S.prepare_for_create(lease)
    assert lease["spec"] == {"holderIdentity": "n1"}
    assert "generation" not in lease["metadata"]
    old = copy.deepcopy(lease)
    old["spec"]["strategy"] = "OldestEmulationVersion"
    new = copy.deepcopy(old)
    S.prepare_for_update(new, old)
    assert new["spec"]["strategy"] == "OldestEmulationVersion"
