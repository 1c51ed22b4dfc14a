"""Tables of rbac.authorization.k8s.io/v1 bindings (ROLE "ClusterRole/view"; wide USERS, GROUPS,
SERVICEACCOUNTS). Roles and ClusterRoles have no printer upstream: they get the default NAME/CREATED AT table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pybernetes.api.tables.descriptions import DOCS
from pybernetes.api.tables.printer import AGE, NAME, Obj, Printer, age_of, column

__all__ = ["PRINTERS", "subjects_strings"]

_EMPTY: dict[str, Any] = {}


def subjects_strings(subjects: list[dict[str, Any]]) -> tuple[list[str], list[str], list[str], list[str]]:
    """``rbac.SubjectsStrings``: users, groups, "namespace/name" service accounts, and "kind/ns/name" others."""
    users: list[str] = []
    groups: list[str] = []
    sas: list[str] = []
    others: list[str] = []
    for s in subjects:
        kind, name, ns = s.get("kind") or "", s.get("name") or "", s.get("namespace") or ""
        if kind == "ServiceAccount":
            sas.append(f"{ns}/{name}")
        elif kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
        else:
            others.append(f"{kind}/{ns}/{name}")
    return users, groups, sas, others


def _binding(obj: Obj, now: datetime) -> list[Any]:
    ref = obj.get("roleRef") or _EMPTY
    users, groups, sas, _ = subjects_strings(obj.get("subjects") or [])
    return [(obj.get("metadata") or _EMPTY).get("name", ""), f"{ref.get('kind') or ''}/{ref.get('name') or ''}",
            age_of(obj, now), ", ".join(users), ", ".join(groups), ", ".join(sas)]


def _columns(what: str, role_ref_doc: str) -> tuple[dict[str, Any], ...]:
    return (
        NAME,
        column("Role", "string", role_ref_doc),
        AGE,
        column("Users", "string", f"Users in the {what}", priority=1),
        column("Groups", "string", f"Groups in the {what}", priority=1),
        column("ServiceAccounts", "string", f"ServiceAccounts in the {what}", priority=1),
    )


PRINTERS = {
    ("rbac.authorization.k8s.io", "RoleBinding"): Printer(
        _columns("roleBinding", DOCS["rbacv1beta1.RoleBinding.roleRef"]), _binding),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): Printer(
        _columns("clusterRoleBinding", DOCS["rbacv1beta1.ClusterRoleBinding.roleRef"]), _binding),
}
