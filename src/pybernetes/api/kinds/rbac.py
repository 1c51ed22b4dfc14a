"""rbac.authorization.k8s.io/v1: Role, ClusterRole, RoleBinding, ClusterRoleBinding (upstream ``pkg/apis/rbac``).

Role and binding names are path segments, not DNS names (``system:controller:foo`` is a valid role name), so
these strategies set ``name_fn``. A binding's ``roleRef`` can never change: what a binding grants must not shift
under the subjects that hold it — changing it means deleting and recreating the binding.
"""

from __future__ import annotations

from typing import Any

from pybernetes.api.field import FieldError, Path, invalid, not_supported, required
from pybernetes.api.kinds.common import GoRepr
from pybernetes.api.selectors import label_selector_from_dict, validate_label_selector
from pybernetes.api.strategy import Obj, Strategy
from pybernetes.api.validation.names import name_is_dns_subdomain, path_segment_name

GROUP = "rbac.authorization.k8s.io"
SUBJECT_KINDS = ("ServiceAccount", "User", "Group")


def rbac_name(name: str, prefix: bool = False) -> list[str]:
    """``ValidateRBACName``: only what would break a URL path is refused."""
    return path_segment_name(name, prefix)


def validate_policy_rule(rule: Obj, namespaced: bool, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    if not rule.get("verbs"):
        errs.append(required(path.child("verbs"), "verbs must contain at least one value"))
    urls = rule.get("nonResourceURLs") or []
    if urls:
        if namespaced:
            errs.append(invalid(path.child("nonResourceURLs"), _go_strings(urls),
                                "namespaced rules cannot apply to non-resource URLs"))
        if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
            errs.append(invalid(path.child("nonResourceURLs"), _go_strings(urls),
                                "rules cannot apply to both regular resources and non-resource URLs"))
        return errs
    if not rule.get("apiGroups"):
        errs.append(required(path.child("apiGroups"), "resource rules must supply at least one api group"))
    if not rule.get("resources"):
        errs.append(required(path.child("resources"), "resource rules must supply at least one resource"))
    return errs


def _go_strings(items: list[Any]) -> GoRepr:
    return GoRepr("[]string{" + ", ".join('"' + str(s).replace('"', '\\"') + '"' for s in items) + "}")


def _rules(obj: Obj, namespaced: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate(obj.get("rules") or []):
        errs += validate_policy_rule(rule or {}, namespaced, Path("rules").index(i))
    return errs


def validate_aggregation_rule(rule: Obj | None) -> list[FieldError]:
    if rule is None:
        return []
    path = Path("aggregationRule", "clusterRoleSelectors")
    selectors = rule.get("clusterRoleSelectors") or []
    errs: list[FieldError] = []
    if not selectors:
        errs.append(required(path, "at least one clusterRoleSelector required if aggregationRule is non-nil"))
    for i, sel in enumerate(selectors):
        errs += validate_label_selector(sel, path.index(i))
        try:
            label_selector_from_dict(sel or {})
        except Exception:           # conversion failure: upstream adds its own line on top of the details
            errs.append(invalid(path.index(i), sel, "invalid label selector."))
    return errs


def validate_subject(subject: Obj, namespaced: bool, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    name = subject.get("name", "")
    group = subject.get("apiGroup", "")
    if not name:
        errs.append(required(path.child("name")))
    kind = subject.get("kind", "")
    if kind == "ServiceAccount":
        if name:
            errs += [invalid(path.child("name"), name, m) for m in name_is_dns_subdomain(name, False)]
        if group:
            errs.append(not_supported(path.child("apiGroup"), group, [""]))
        if not namespaced and not subject.get("namespace"):
            errs.append(required(path.child("namespace")))
    elif kind in ("User", "Group"):
        if group != GROUP:
            errs.append(not_supported(path.child("apiGroup"), group, [GROUP]))
    else:
        errs.append(not_supported(path.child("kind"), kind, list(SUBJECT_KINDS)))
    return errs


def validate_binding(obj: Obj, *, namespaced: bool) -> list[FieldError]:
    ref = obj.get("roleRef") or {}
    errs: list[FieldError] = []
    if ref.get("apiGroup", "") != GROUP:
        errs.append(not_supported(Path("roleRef", "apiGroup"), ref.get("apiGroup", ""), [GROUP]))
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if ref.get("kind", "") not in kinds:
        errs.append(not_supported(Path("roleRef", "kind"), ref.get("kind", ""), kinds))
    name = ref.get("name", "")
    if not name:
        errs.append(required(Path("roleRef", "name")))
    else:
        errs += [invalid(Path("roleRef", "name"), name, m) for m in rbac_name(name)]
    for i, subject in enumerate(obj.get("subjects") or []):
        errs += validate_subject(subject or {}, namespaced, Path("subjects").index(i))
    return errs


def role_ref_repr(ref: Obj) -> GoRepr:
    """``rbac.RoleRef{APIGroup:"…", Kind:"…", Name:"…"}``, as Go prints the value in the error."""
    return GoRepr(f'rbac.RoleRef{{APIGroup:"{ref.get("apiGroup", "")}", Kind:"{ref.get("kind", "")}", '
                  f'Name:"{ref.get("name", "")}"}}')


def role_ref_unchanged(obj: Obj, old: Obj) -> list[FieldError]:
    ref, old_ref = obj.get("roleRef") or {}, old.get("roleRef") or {}
    keys = ("apiGroup", "kind", "name")
    if any(ref.get(k, "") != old_ref.get(k, "") for k in keys):
        return [invalid("roleRef", role_ref_repr(ref), "cannot change roleRef")]
    return []


def default_binding(obj: Obj) -> None:
    """``SetDefaults_RoleBinding``/``…ClusterRoleBinding``/``…Subject``: the RBAC group where it is implied."""
    ref = obj.get("roleRef")
    if isinstance(ref, dict) and not ref.get("apiGroup"):
        ref["apiGroup"] = GROUP
    for subject in obj.get("subjects") or ():
        if isinstance(subject, dict) and not subject.get("apiGroup"):
            if subject.get("kind") in ("User", "Group"):
                subject["apiGroup"] = GROUP
            elif subject.get("kind") == "ServiceAccount":
                subject["apiGroup"] = ""


class RoleStrategy(Strategy):
    name_fn = staticmethod(rbac_name)  # type: ignore[assignment]  # unbound on instances

    def validate(self, obj: Obj) -> list[FieldError]:
        return _rules(obj, True)


class ClusterRoleStrategy(Strategy):
    name_fn = staticmethod(rbac_name)  # type: ignore[assignment]  # unbound on instances

    def validate(self, obj: Obj) -> list[FieldError]:
        return _rules(obj, False) + validate_aggregation_rule(obj.get("aggregationRule"))


class RoleBindingStrategy(Strategy):
    name_fn = staticmethod(rbac_name)  # type: ignore[assignment]  # unbound on instances

    def default(self, obj: Obj) -> None:
        default_binding(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_binding(obj, namespaced=True)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return self.validate(obj) + role_ref_unchanged(obj, old)

    def canonicalize(self, obj: Obj) -> None:
        """Subject's ``apiGroup`` and ``namespace`` are ``omitempty``: a ServiceAccount subject defaulted (or sent,
        as kubectl's protobuf body does) with ``apiGroup: ""`` is stored and served without it, as upstream."""
        for subject in obj.get("subjects") or ():
            if isinstance(subject, dict):
                for key in ("apiGroup", "namespace"):
                    if subject.get(key) == "":
                        del subject[key]


class ClusterRoleBindingStrategy(RoleBindingStrategy):
    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_binding(obj, namespaced=False)
