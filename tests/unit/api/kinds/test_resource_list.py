"""Pod QoS class (remembered by the containers' resources): every answer as if computed afresh."""

from __future__ import annotations

from typing import Any

import pytest

from pybernetes.api.kinds import resource_list
from pybernetes.api.kinds.resource_list import pod_qos_class

G = {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}
B = {"requests": {"cpu": "100m"}}


def _spec(containers: list[Any], init: list[Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": f"c{i}", "resources": r} for i, r in enumerate(containers)]}
    if init is not None:
        spec["initContainers"] = [{"name": f"i{i}", "resources": r} for i, r in enumerate(init)]
    return spec


@pytest.mark.parametrize(("spec", "want"), [
    (_spec([{}]), "BestEffort"),
    (_spec([G]), "Guaranteed"),
    (_spec([G, G]), "Guaranteed"),
    (_spec([G, B]), "Burstable"),
    (_spec([G], init=[B]), "Burstable"),
    (_spec([B], init=[G]), "Burstable"),
    (_spec([G], init=[G]), "Guaranteed"),
    (_spec([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1Gi"}}]), "Guaranteed"),
    (_spec([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "999m", "memory": "1Gi"}}]), "Burstable"),
    ({}, "BestEffort"),
])
def test_qos_class_is_the_same_remembered_or_not(spec: dict[str, Any], want: str) -> None:
    resource_list._QOS.clear()
    assert pod_qos_class(spec) == want
    assert pod_qos_class(spec) == want                 # remembered
    assert resource_list._qos_class(spec) == want


def test_containers_and_init_containers_are_told_apart() -> None:
    assert pod_qos_class(_spec([G], init=[B])) == "Burstable"
    assert pod_qos_class(_spec([G, B])) == "Burstable"
    assert pod_qos_class(_spec([G, G])) == "Guaranteed"
    assert pod_qos_class({"initContainers": [{"resources": G}], "containers": [{"resources": G}]}) == "Guaranteed"
