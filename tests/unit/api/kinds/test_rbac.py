"""RBAC roles and bindings: name rule, policy rules, aggregation, subjects, frozen roleRef."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pybernetes.api.kinds.rbac import (
    ClusterRoleBindingStrategy,
    ClusterRoleStrategy,
    RoleBindingStrategy,
    RoleStrategy,
)

ROLE, CROLE = RoleStrategy(), ClusterRoleStrategy()
BINDING, CBINDING = RoleBindingStrategy(), ClusterRoleBindingStrategy()


def msgs(errs: list[Any]) -> list[str]:
    return [str(e) for e in errs]


def test_names_are_path_segments() -> None:
    assert ROLE.name_fn is not None
    assert ROLE.name_fn("system:controller:job-controller", False) == []
    assert ROLE.name_fn("a/b", False) == ["may not contain '/'"]
    assert CBINDING.name_fn is not None and CBINDING.name_fn("..", False) == ["may not be '..'"]


@pytest.mark.parametrize(("rules", "expected"), [
    ([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}], []),
    ([{"apiGroups": [""], "resources": ["pods"]}],
     ["rules[0].verbs: Required value: verbs must contain at least one value"]),
    ([{"verbs": ["get"]}],
     ["rules[0].apiGroups: Required value: resource rules must supply at least one api group",
      "rules[0].resources: Required value: resource rules must supply at least one resource"]),
    ([{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}],
     ['rules[0].nonResourceURLs: Invalid value: []string{"/healthz"}: namespaced rules cannot apply to '
      "non-resource URLs"]),
])
def test_role_rules(rules: list[dict[str, Any]], expected: list[str]) -> None:
    assert msgs(ROLE.validate({"rules": rules})) == expected


def test_cluster_roles_may_use_non_resource_urls_but_not_mixed() -> None:
    assert CROLE.validate({"rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]}) == []
    assert msgs(CROLE.validate({"rules": [{"verbs": ["get"], "nonResourceURLs": ["/x"], "resources": ["pods"]}]})) == [
        'rules[0].nonResourceURLs: Invalid value: []string{"/x"}: rules cannot apply to both regular resources and '
        "non-resource URLs"]


@pytest.mark.parametrize(("rule", "expected"), [
    ({"clusterRoleSelectors": [{"matchLabels": {"rbac.example.com/aggregate-to-view": "true"}}]}, []),
    ({"clusterRoleSelectors": []},
     ["aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if "
      "aggregationRule is non-nil"]),
])
def test_aggregation_rule(rule: dict[str, Any], expected: list[str]) -> None:
    assert msgs(CROLE.validate({"aggregationRule": rule})) == expected


def binding(**over: Any) -> dict[str, Any]:
    b = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "read", "namespace": "default"},
         "roleRef": {"kind": "Role", "name": "reader"},
         "subjects": [{"kind": "User", "name": "jane"}, {"kind": "ServiceAccount", "name": "bot"}]}
    b.update(over)
    return b


def test_binding_defaults() -> None:
    b = binding()
    BINDING.default(b)
    assert b["roleRef"] == {"kind": "Role", "name": "reader", "apiGroup": "rbac.authorization.k8s.io"}
    assert b["subjects"] == [{"kind": "User", "name": "jane", "apiGroup": "rbac.authorization.k8s.io"},
                             {"kind": "ServiceAccount", "name": "bot", "apiGroup": ""}]
    assert BINDING.validate(b) == []


@pytest.mark.parametrize(("over", "strategy", "expected"), [
    ({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Secret", "name": "x"}}, BINDING,
     ['roleRef.kind: Unsupported value: "Secret": supported values: "Role", "ClusterRole"']),
    ({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "x"}, "subjects": []}, CBINDING,
     ['roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"']),
    ({"subjects": [{"kind": "Robot", "name": "r"}]}, BINDING,
     ['subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"']),
    ({"roleRef": {"kind": "ClusterRole", "name": "view"}, "subjects": [{"kind": "ServiceAccount", "name": "bot"}]},
     CBINDING,
     ["subjects[0].namespace: Required value"]),
    ({"subjects": [{"kind": "User", "name": "", "apiGroup": "example.com"}]}, BINDING,
     ["subjects[0].name: Required value",
      'subjects[0].apiGroup: Unsupported value: "example.com": supported values: "rbac.authorization.k8s.io"']),
])
def test_binding_mistakes(over: dict[str, Any], strategy: Any, expected: list[str]) -> None:
    b = binding(**over)
    strategy.default(b)
    assert msgs(strategy.validate(b)) == expected


def test_role_ref_cannot_change() -> None:
    old = binding()
    BINDING.default(old)
    new = copy.deepcopy(old)
    new["roleRef"]["name"] = "admin"
    assert msgs(BINDING.validate_update(new, old)) == [
        'roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", Name:"admin"}: '
        "cannot change roleRef"]
    new = copy.deepcopy(old)
    new["subjects"].append({"kind": "Group", "name": "devs", "apiGroup": "rbac.authorization.k8s.io"})
    assert BINDING.validate_update(new, old) == []
