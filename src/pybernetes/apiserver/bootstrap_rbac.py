"""The default RBAC policy every cluster starts with (upstream ``plugin/pkg/auth/authorizer/rbac/bootstrappolicy``).

Only the roles users and workloads rely on: cluster-admin and the user-facing admin/edit/view (with their
aggregation labels), discovery and public-info roles bound to every authenticated (and, for public info, every
unauthenticated) user. Our own components authenticate as ``system:masters`` and need no roles.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]
AUTOUPDATE = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
BOOTSTRAP = {"kubernetes.io/bootstrapping": "rbac-defaults"}

# (apiGroups, resources) that namespace users see (upstream's view/edit role contents, condensed).
VIEW_RESOURCES: list[tuple[list[str], list[str]]] = [
    ([""], ["configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods",
            "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
            "services/status", "bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
            "replicationcontrollers/status", "resourcequotas", "resourcequotas/status", "namespaces"]),
    (["apps"], ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                "deployments/status", "replicasets", "replicasets/scale", "replicasets/status", "statefulsets",
                "statefulsets/scale", "statefulsets/status"]),
    (["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
    (["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
    (["discovery.k8s.io"], ["endpointslices"]),
    (["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"]),
    (["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
]
EDIT_RESOURCES: list[tuple[list[str], list[str]]] = [
    ([""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "configmaps", "endpoints",
            "persistentvolumeclaims", "replicationcontrollers", "replicationcontrollers/scale", "secrets",
            "serviceaccounts", "services", "services/proxy"]),
    (["apps"], ["daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets",
                "replicasets/scale", "statefulsets", "statefulsets/scale"]),
    (["autoscaling"], ["horizontalpodautoscalers"]),
    (["batch"], ["cronjobs", "jobs"]),
    (["networking.k8s.io"], ["ingresses", "networkpolicies"]),
    (["policy"], ["poddisruptionbudgets"]),
    (["discovery.k8s.io"], ["endpointslices"]),
]


def _role(name: str, rules: list[Obj], *, labels: dict[str, str] | None = None,
          aggregate_from: str = "") -> Obj:
    """A bootstrap ClusterRole; ``aggregate_from`` makes it an aggregated role (admin/edit/view) whose rules the
    clusterrole-aggregation controller keeps as the union of every ClusterRole labelled
    ``rbac.authorization.k8s.io/aggregate-to-<aggregate_from>: "true"`` (its initial rules are that union)."""
    meta: Obj = {"name": name, "labels": {**BOOTSTRAP, **(labels or {})}, "annotations": dict(AUTOUPDATE)}
    role: Obj = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": meta,
                 "rules": rules}
    if aggregate_from:
        role["aggregationRule"] = {"clusterRoleSelectors": [
            {"matchLabels": {f"rbac.authorization.k8s.io/aggregate-to-{aggregate_from}": "true"}}]}
    return role


def _binding(name: str, role: str, subjects: list[Obj]) -> Obj:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": dict(BOOTSTRAP), "annotations": dict(AUTOUPDATE)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": subjects}


def _group(name: str) -> Obj:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name}


def cluster_roles() -> list[Obj]:
    view_rules = [{"apiGroups": g, "resources": r, "verbs": READ} for g, r in VIEW_RESOURCES]
    edit_rules = [{"apiGroups": g, "resources": r, "verbs": READ + WRITE} for g, r in EDIT_RESOURCES]
    edit_rules.append({"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]})
    admin_rules = [*edit_rules,
                   {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings", "roles"],
                    "verbs": READ + WRITE},
                   {"apiGroups": ["authorization.k8s.io"], "resources": ["localsubjectaccessreviews"],
                    "verbs": ["create"]}]
    metrics_rules = [{"apiGroups": ["metrics.k8s.io"], "resources": ["pods", "nodes"], "verbs": READ}]
    to = "rbac.authorization.k8s.io/aggregate-to-"
    return [
        _role("cluster-admin", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                                {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
        _role("admin", admin_rules + view_rules + metrics_rules, aggregate_from="admin"),
        _role("edit", edit_rules + view_rules + metrics_rules, labels={f"{to}admin": "true"}, aggregate_from="edit"),
        _role("view", view_rules + metrics_rules, labels={f"{to}edit": "true"}, aggregate_from="view"),
        # The building blocks the aggregated roles above collect (upstream's system:aggregate-to-* roles).
        _role("system:aggregate-to-admin", admin_rules, labels={f"{to}admin": "true"}),
        _role("system:aggregate-to-edit", edit_rules, labels={f"{to}edit": "true"}),
        _role("system:aggregate-to-view", view_rules, labels={f"{to}view": "true"}),
        _role("system:aggregated-metrics-reader", metrics_rules,
              labels={f"{to}view": "true", f"{to}edit": "true", f"{to}admin": "true"}),
        _role("system:discovery", [{"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz",
                                                        "/livez", "/openapi", "/openapi/*", "/readyz", "/version",
                                                        "/version/"], "verbs": ["get"]}]),
        _role("system:basic-user", [{"apiGroups": ["authorization.k8s.io"],
                                     "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                                     "verbs": ["create"]},
                                    {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"],
                                     "verbs": ["create"]}]),
        _role("system:public-info-viewer", [{"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version",
                                                                 "/version/"], "verbs": ["get"]}]),
    ]


def cluster_role_bindings() -> list[Obj]:
    return [
        _binding("cluster-admin", "cluster-admin", [_group("system:masters")]),
        _binding("system:discovery", "system:discovery", [_group("system:authenticated")]),
        _binding("system:basic-user", "system:basic-user", [_group("system:authenticated")]),
        _binding("system:public-info-viewer", "system:public-info-viewer",
                 [_group("system:authenticated"), _group("system:unauthenticated")]),
    ]
