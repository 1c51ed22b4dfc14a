"""PriorityClass: default preemption policy, reserved names, value limit and immutability."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pybernetes.api.kinds.scheduling import PriorityClassStrategy

S = PriorityClassStrategy()


def pc(name: str = "high", value: int = 1000, **over: Any) -> dict[str, Any]:
    obj = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name}, "value": value}
    obj.update(over)
    return obj


def test_default_preemption_policy() -> None:
    obj = pc()
    S.default(obj)
    assert obj["preemptionPolicy"] == "PreemptLowerPriority"
    assert S.validate(obj) == []


@pytest.mark.parametrize(("obj", "expected"), [
    (pc(value=2_000_000_000), ["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"]),
    (pc("system-mine"), ["metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for "
                         "system use only. error: system-mine is not a known system priority class"]),
    (pc("system-node-critical", 5), ["metadata.name: Forbidden: priority class names with 'system-' prefix are "
                                     "reserved for system use only. error: value of system-node-critical "
                                     "PriorityClass must be 2000001000"]),
    (pc("system-cluster-critical", 2_000_000_000), []),
    (pc(preemptionPolicy="Always"), ['preemptionPolicy: Unsupported value: "Always": supported values: "Never", '
                                     '"PreemptLowerPriority"']),
])
def test_validation(obj: dict[str, Any], expected: list[str]) -> None:
    assert [str(e) for e in S.validate(obj)] == expected


def test_value_and_policy_are_frozen_but_description_is_not() -> None:
    old = pc()
    S.default(old)
    new = copy.deepcopy(old)
    new["description"] = "for databases"
    new["globalDefault"] = True
    assert S.validate_update(new, old) == []
    new["value"] = 5
    new["preemptionPolicy"] = "Never"
    assert [str(e) for e in S.validate_update(new, old)] == [
        "value: Forbidden: may not be changed in an update.",
        'preemptionPolicy: Invalid value: "Never": field is immutable']
