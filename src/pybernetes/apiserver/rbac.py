"""RBAC authorization from Roles, ClusterRoles and their bindings in the watch cache (upstream
``plugin/pkg/auth/authorizer/rbac``). ``system:masters`` is allowed everything before RBAC is consulted, as
upstream's privileged-group authorizer does.

The rules that apply to a subject are computed once and cached per (user, groups, namespace) until any RBAC
object changes, so authorizing a request is a walk over that subject's rules only.
"""

from __future__ import annotations

from typing import Any

from pybernetes.apiserver.authn import UserInfo
from pybernetes.apiserver.authz import Attributes, Decision
from pybernetes.storage.watchcache import CachedEvent, WatchCache

Obj = dict[str, Any]
RBAC = "rbac.authorization.k8s.io"
STORAGES = {f"{RBAC}/{p}" for p in ("roles", "rolebindings", "clusterroles", "clusterrolebindings")}


def subject_matches(subject: Obj, user: UserInfo, binding_namespace: str = "") -> bool:
    """Upstream ``appliesToUser``: a ServiceAccount subject without a namespace means the binding's own
    namespace (so never matches from a ClusterRoleBinding)."""
    kind = subject.get("kind")
    name = subject.get("name", "")
    if kind == "User":
        return name == user.name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_namespace
        return bool(ns) and user.name == f"system:serviceaccount:{ns}:{name}"
    return False


def describe_subject(subject: Obj, binding_namespace: str) -> str:
    """As upstream's ``describeSubject`` in "allowed by" reasons: namespaced only when it differs."""
    ns = subject.get("namespace") or ""
    name = subject.get("name", "")
    if ns and ns != binding_namespace:
        name = f"{ns}/{name}"
    return f'{subject.get("kind")} "{name}"'


def _has(values: list[str] | None, want: str) -> bool:
    return bool(values) and ("*" in values or want in values)  # type: ignore[operator]


def _resource_matches(rule: Obj, resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for r in rule.get("resources") or ():
        if r in ("*", combined):
            return True
        if subresource and r == f"*/{subresource}":
            return True
    return False


def _url_matches(rule: Obj, path: str) -> bool:
    for u in rule.get("nonResourceURLs") or ():
        if u == "*" or u == path or (u.endswith("*") and path.startswith(u.rstrip("*"))):
            return True
    return False


def rule_allows(rule: Obj, a: Attributes) -> bool:
    if not _has(rule.get("verbs"), a.verb):
        return False
    if not a.resource_request:
        return _url_matches(rule, a.path)
    if not _has(rule.get("apiGroups"), a.api_group):
        return False
    if not _resource_matches(rule, a.resource, a.subresource):
        return False
    names = rule.get("resourceNames")
    if names:
        return bool(a.name) and a.name in names
    return True


class RBACAuthorizer:
    def __init__(self, cache: WatchCache) -> None:
        self.cache = cache
        # (user, groups, namespace) → (rules with their source, errors met resolving role references)
        self._rules: dict[tuple[str, tuple[str, ...], str], tuple[list[tuple[Obj, str]], list[str]]] = {}
        cache.listeners.append(self._on_event)

    def _on_event(self, ev: CachedEvent) -> None:
        if ev.key.split("/", 4)[2:4] and "/".join(ev.key.split("/")[2:4]) in STORAGES:
            self._rules.clear()

    def _objects(self, plural: str) -> dict[str, Obj]:
        return self.cache.resource(f"{RBAC}/{plural}").objects

    def _role_rules(self, ref: Obj, namespace: str) -> tuple[list[Obj], str]:
        """The rules a roleRef points at, or the error upstream's ``GetRoleReferenceRules`` reports."""
        kind, name = ref.get("kind"), ref.get("name")
        if kind == "ClusterRole":
            role = self._objects("clusterroles").get(f"/registry/{RBAC}/clusterroles/{name}")
            missing = f'clusterrole.{RBAC} "{name}" not found'
        elif kind == "Role":
            role = self._objects("roles").get(f"/registry/{RBAC}/roles/{namespace}/{name}") if namespace else None
            missing = f'role.{RBAC} "{name}" not found'
        else:
            return [], f'unsupported role reference kind: "{kind}"'
        if role is None:
            return [], missing
        return list(role.get("rules") or []), ""

    def rules(self, user: UserInfo, namespace: str) -> list[tuple[Obj, str]]:
        """(rule, source description) pairs that apply to ``user`` in ``namespace`` (cluster-wide included)."""
        return self._resolve(user, namespace)[0]

    def _resolve(self, user: UserInfo, namespace: str) -> tuple[list[tuple[Obj, str]], list[str]]:
        key = (user.name, user.groups, namespace)
        cached = self._rules.get(key)
        if cached is not None:
            return cached
        out: list[tuple[Obj, str]] = []
        errs: list[str] = []
        for b in self._objects("clusterrolebindings").values():
            for s in b.get("subjects") or ():
                if subject_matches(s, user):
                    ref = b.get("roleRef") or {}
                    src = (f'ClusterRoleBinding "{b["metadata"]["name"]}" of {ref.get("kind")} "{ref.get("name")}" '
                           f"to {describe_subject(s, '')}")
                    rules, err = self._role_rules(ref, "")
                    out.extend((r, src) for r in rules)
                    if err:
                        errs.append(err)
                    break
        if namespace:
            prefix = f"/registry/{RBAC}/rolebindings/{namespace}/"
            for k, b in self._objects("rolebindings").items():
                if not k.startswith(prefix):
                    continue
                for s in b.get("subjects") or ():
                    if subject_matches(s, user, namespace):
                        ref = b.get("roleRef") or {}
                        src = (f'RoleBinding "{b["metadata"]["name"]}/{namespace}" of {ref.get("kind")} '
                               f'"{ref.get("name")}" to {describe_subject(s, namespace)}')
                        rules, err = self._role_rules(ref, namespace)
                        out.extend((r, src) for r in rules)
                        if err:
                            errs.append(err)
                        break
        if len(self._rules) > 10000:
            self._rules.clear()
        self._rules[key] = (out, errs)
        return out, errs

    async def authorize(self, a: Attributes) -> Decision:
        if "system:masters" in a.user.groups:
            return Decision(True, "")
        rules, errs = self._resolve(a.user, a.namespace if a.resource_request else "")
        for rule, src in rules:
            if rule_allows(rule, a):
                return Decision(True, f"RBAC: allowed by {src}")
        # As upstream: no opinion, with the broken role references as the reason (shown after a 403 message).
        if not errs:
            return Decision(False, "")
        return Decision(False, "RBAC: " + (errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"))

    async def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Obj], list[Obj], bool]:
        """SelfSubjectRulesReview: the resource and non-resource rules of ``user`` in ``namespace``."""
        if "system:masters" in user.groups:
            return ([{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                    [{"verbs": ["*"], "nonResourceURLs": ["*"]}], False)
        res, non = [], []
        rules, errs = self._resolve(user, namespace)
        for rule, _ in rules:
            if rule.get("nonResourceURLs"):
                non.append({"verbs": rule.get("verbs") or [], "nonResourceURLs": rule["nonResourceURLs"]})
            else:
                r = {k: rule[k] for k in ("verbs", "apiGroups", "resources", "resourceNames") if rule.get(k)}
                res.append(r)
        return res, non, bool(errs)
