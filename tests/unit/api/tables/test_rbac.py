"""Tables of RBAC bindings."""

from __future__ import annotations

from datetime import UTC, datetime

from pybernetes.api.tables.rbac import PRINTERS, subjects_strings

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
SUBJECTS = [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"},
            {"kind": "ServiceAccount", "name": "default", "namespace": "kube-system"},
            {"kind": "Group", "name": "system:authenticated"}, {"kind": "User", "name": "bob"},
            {"kind": "Robot", "name": "r2", "namespace": "d2"}]


def test_subjects_strings() -> None:
    assert subjects_strings(SUBJECTS) == (["alice", "bob"], ["system:authenticated"], ["kube-system/default"],
                                          ["Robot/d2/r2"])


def test_role_binding() -> None:
    rb = {"metadata": {"name": "view-all", "creationTimestamp": "2025-03-01T11:00:00Z"},
          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
          "subjects": SUBJECTS}
    for kind in ("RoleBinding", "ClusterRoleBinding"):
        assert PRINTERS[("rbac.authorization.k8s.io", kind)].cells(rb, NOW) == [
            "view-all", "ClusterRole/view", "60m", "alice, bob", "system:authenticated", "kube-system/default"]
    bare = {"metadata": {"name": "b"}, "roleRef": {"kind": "Role", "name": "r"}}
    assert PRINTERS[("rbac.authorization.k8s.io", "RoleBinding")].cells(bare, NOW) == [
        "b", "Role/r", "<unknown>", "", "", ""]


def test_columns() -> None:
    cols = PRINTERS[("rbac.authorization.k8s.io", "ClusterRoleBinding")].columns
    assert [(c["name"], c["priority"]) for c in cols] == [("Name", 0), ("Role", 0), ("Age", 0), ("Users", 1),
                                                           ("Groups", 1), ("ServiceAccounts", 1)]
    assert cols[3]["description"] == "Users in the clusterRoleBinding"
    assert PRINTERS[("rbac.authorization.k8s.io", "RoleBinding")].columns[5]["description"] == (
        "ServiceAccounts in the roleBinding")
    assert ("rbac.authorization.k8s.io", "Role") not in PRINTERS
