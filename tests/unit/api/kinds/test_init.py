from __future__ import annotations

from pybernetes.api.builtin import builtin_registry
from pybernetes.api.kinds import STRATEGIES

CORE = ("Binding", "ConfigMap", "Endpoints", "Event", "LimitRange", "Namespace", "Node", "PersistentVolume",
        "PersistentVolumeClaim", "Pod", "PodTemplate", "ReplicationController", "ResourceQuota", "Secret", "Service",
        "ServiceAccount")


def test_every_core_kind_has_a_strategy_and_the_registry_uses_it() -> None:
    registry = builtin_registry()
    for kind in CORE:
        assert ("", kind) in STRATEGIES
        assert registry.by_kind("", "v1", kind).strategy is STRATEGIES[("", kind)]


def test_name_rules() -> None:
    assert STRATEGIES[("", "Namespace")].name_fn("a.b", False)
    assert STRATEGIES[("", "Service")].name_fn("9svc", False)
    assert STRATEGIES[("", "Pod")].name_fn is None          # DNS subdomain, the registry's default
