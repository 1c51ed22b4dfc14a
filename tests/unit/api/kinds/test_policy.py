"""PodDisruptionBudget validation, generation and status."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pybernetes.api.kinds.policy import PodDisruptionBudgetStrategy

S = PodDisruptionBudgetStrategy()


@pytest.mark.parametrize(("spec", "expected"), [
    ({"minAvailable": 2, "selector": {"matchLabels": {"app": "db"}}}, []),
    ({"maxUnavailable": "10%"}, []),
    ({"minAvailable": 1, "maxUnavailable": 1},
     ['spec: Invalid value: {"minAvailable":1,"maxUnavailable":1}: minAvailable and maxUnavailable cannot be both '
      "set"]),
    ({"minAvailable": -1}, ["spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"]),
    ({"maxUnavailable": "150%"}, ['spec.maxUnavailable: Invalid value: "150%": must not be greater than 100%']),
    ({"unhealthyPodEvictionPolicy": "Never"},
     ['spec.unhealthyPodEvictionPolicy: Unsupported value: "Never": supported values: "AlwaysAllow", '
      '"IfHealthyBudget"']),
])
def test_validation(spec: dict[str, Any], expected: list[str]) -> None:
    assert [str(e) for e in S.validate({"spec": spec})] == expected


def test_generation_and_status() -> None:
    pdb = {"metadata": {"name": "db"}, "spec": {"minAvailable": 1}, "status": {"expectedPods": 3}}
    S.prepare_for_create(pdb)
    assert pdb["metadata"]["generation"] == 1
    assert pdb["status"] == {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}
    new = copy.deepcopy(pdb)
    new["spec"]["minAvailable"] = 2
    S.prepare_for_update(new, pdb)
    assert new["metadata"]["generation"] == 2
    new["status"] = {"disruptionsAllowed": -1}
    assert [str(e) for e in S.validate_status_update(new, pdb)] == [
        "status.disruptionsAllowed: Invalid value: -1: must be greater than or equal to 0"]
