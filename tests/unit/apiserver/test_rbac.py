"""RBAC: rule matching (verbs, apiGroups, resources and subresources incl. ``*/scale``, resourceNames,
nonResourceURLs), bindings (RoleBinding to a Role or a ClusterRole, ClusterRoleBinding), subjects (User, Group,
ServiceAccount), system:masters, reasons, SelfSubjectRulesReview rules, and cache invalidation on RBAC writes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from pybernetes.apiserver.authn import UserInfo
from pybernetes.apiserver.authz import Attributes
from pybernetes.apiserver.rbac import RBAC, RBACAuthorizer, describe_subject, rule_allows, subject_matches
from pybernetes.storage.watchcache import WatchCache

try:
    from tests.unit.storage.memstore import MemStore
except ModuleNotFoundError:  # pytest's default (prepend) import mode
    from memstore import MemStore  # type: ignore[no-redef]

Obj = dict[str, Any]
JANE = UserInfo("jane", groups=("dev", "system:authenticated"))
SA = UserInfo("system:serviceaccount:ns1:robot", groups=("system:serviceaccounts", "system:serviceaccounts:ns1",
                                                         "system:authenticated"))


def res(verb: str, resource: str, *, group: str = "", ns: str = "", sub: str = "", name: str = "",
        user: UserInfo = JANE) -> Attributes:
    return Attributes(user=user, verb=verb, resource_request=True, namespace=ns, api_group=group,
                      resource=resource, subresource=sub, name=name)


def url(verb: str, path: str, user: UserInfo = JANE) -> Attributes:
    return Attributes(user=user, verb=verb, resource_request=False, path=path)


# ------------------------------------------------------------------------------------------------ rule matching
RULE_CASES = [
    # verbs
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, res("get", "pods"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, res("list", "pods"), False),
    ({"verbs": ["*"], "apiGroups": [""], "resources": ["pods"]}, res("deletecollection", "pods"), True),
    ({"verbs": [], "apiGroups": [""], "resources": ["pods"]}, res("get", "pods"), False),
    # api groups
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["deployments"]}, res("get", "deployments", group="apps"),
     False),
    ({"verbs": ["get"], "apiGroups": ["apps"], "resources": ["deployments"]},
     res("get", "deployments", group="apps"), True),
    ({"verbs": ["get"], "apiGroups": ["*"], "resources": ["deployments"]}, res("get", "deployments", group="apps"),
     True),
    ({"verbs": ["get"], "resources": ["pods"]}, res("get", "pods"), False),           # no apiGroups: nothing
    # resources and subresources
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["*"]}, res("get", "pods", sub="log"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, res("get", "pods", sub="log"), False),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]}, res("get", "pods", sub="log"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]}, res("get", "pods"), False),
    ({"verbs": ["update"], "apiGroups": ["*"], "resources": ["*/scale"]},
     res("update", "deployments", group="apps", sub="scale"), True),
    ({"verbs": ["update"], "apiGroups": ["*"], "resources": ["*/scale"]},
     res("update", "deployments", group="apps"), False),
    ({"verbs": ["update"], "apiGroups": ["*"], "resources": ["*/scale"]},
     res("update", "deployments", group="apps", sub="status"), False),
    ({"verbs": ["update"], "apiGroups": ["*"], "resources": ["*/scale"]},
     res("update", "deployments", group="apps", sub="xscale"), False),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["*/*"]}, res("get", "pods", sub="log"), False),
    # resourceNames: only named requests, only those names (a list has no name)
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]},
     res("get", "configmaps", name="a"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]},
     res("get", "configmaps", name="b"), False),
    ({"verbs": ["list"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]},
     res("list", "configmaps"), False),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": []},
     res("get", "configmaps", name="b"), True),
    # a resource rule never allows a path, a URL rule never allows a resource
    ({"verbs": ["get"], "apiGroups": ["*"], "resources": ["*"]}, url("get", "/healthz"), False),
    ({"verbs": ["get"], "nonResourceURLs": ["*"]}, res("get", "pods"), False),
    # nonResourceURLs: exact, "*" for everything, a trailing "*" as a prefix
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, url("get", "/healthz"), True),
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, url("get", "/healthz/ping"), False),
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, url("post", "/healthz"), False),
    ({"verbs": ["get"], "nonResourceURLs": ["*"]}, url("get", "/anything"), True),
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz/*"]}, url("get", "/healthz/ping"), True),
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz/*"]}, url("get", "/healthz"), False),
    ({"verbs": ["get"], "nonResourceURLs": ["/api*"]}, url("get", "/apis/apps/v1"), True),
    ({"verbs": ["get"], "nonResourceURLs": ["/api**"]}, url("get", "/api/v1"), True),     # TrimRight("*")
    ({"verbs": ["get"], "nonResourceURLs": ["/openapi/*"]}, url("get", "/openapi"), False),
]


@pytest.mark.parametrize(("rule", "attrs", "allowed"), RULE_CASES)
def test_rule_allows(rule: Obj, attrs: Attributes, allowed: bool) -> None:
    assert rule_allows(rule, attrs) is allowed


@pytest.mark.parametrize(("subject", "user", "binding_ns", "matches"), [
    ({"kind": "User", "name": "jane"}, JANE, "", True),
    ({"kind": "User", "name": "dev"}, JANE, "", False),
    ({"kind": "Group", "name": "dev"}, JANE, "", True),
    ({"kind": "Group", "name": "system:authenticated"}, JANE, "", True),
    ({"kind": "Group", "name": "jane"}, JANE, "", False),
    ({"kind": "ServiceAccount", "name": "robot", "namespace": "ns1"}, SA, "", True),
    ({"kind": "ServiceAccount", "name": "robot", "namespace": "ns2"}, SA, "", False),
    ({"kind": "ServiceAccount", "name": "robot"}, SA, "ns1", True),     # RoleBinding's namespace by default
    ({"kind": "ServiceAccount", "name": "robot"}, SA, "ns2", False),
    ({"kind": "ServiceAccount", "name": "robot"}, SA, "", False),       # no namespace anywhere: never
    ({"kind": "User", "name": "system:serviceaccount:ns1:robot"}, SA, "", True),
    ({"kind": "Group", "name": "system:serviceaccounts:ns1"}, SA, "", True),
    ({"kind": "Robot", "name": "jane"}, JANE, "", False),
])
def test_subject_matches(subject: Obj, user: UserInfo, binding_ns: str, matches: bool) -> None:
    assert subject_matches(subject, user, binding_ns) is matches


def test_describe_subject() -> None:
    assert describe_subject({"kind": "User", "name": "jane"}, "") == 'User "jane"'
    assert describe_subject({"kind": "ServiceAccount", "name": "r", "namespace": "a"}, "a") == \
        'ServiceAccount "r"'
    assert describe_subject({"kind": "ServiceAccount", "name": "r", "namespace": "a"}, "") == \
        'ServiceAccount "a/r"'


# ------------------------------------------------------------------------------------------------ the authorizer
class Cluster:
    """RBAC objects written to a store, seen by the authorizer through the watch cache."""

    def __init__(self, store: MemStore, cache: WatchCache) -> None:
        self.store, self.cache = store, cache
        self.authz = RBACAuthorizer(cache)

    def _key(self, plural: str, name: str, ns: str) -> str:
        return f"/registry/{RBAC}/{plural}/{ns + '/' if ns else ''}{name}"

    async def put(self, plural: str, name: str, body: Obj, *, ns: str = "") -> None:
        meta: Obj = {"name": name, **({"namespace": ns} if ns else {})}
        k = self._key(plural, name, ns)
        value = orjson.dumps({"metadata": meta, **body})
        cur = await self.store.get(k)
        if cur is None:
            await self.store.create(k, value)
        else:
            await self.store.update(k, value, expect_mod_revision=cur.mod_revision)
        await self.cache.sync()

    async def delete(self, plural: str, name: str, *, ns: str = "") -> None:
        await self.store.delete(self._key(plural, name, ns))
        await self.cache.sync()

    async def role(self, name: str, *rules: Obj, ns: str = "") -> None:
        await self.put("roles" if ns else "clusterroles", name, {"rules": list(rules)}, ns=ns)

    async def bind(self, name: str, role_kind: str, role: str, *subjects: Obj, ns: str = "") -> None:
        await self.put("rolebindings" if ns else "clusterrolebindings", name,
                       {"roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role}, "subjects": list(subjects)},
                       ns=ns)

    async def allowed(self, a: Attributes) -> bool:
        return (await self.authz.authorize(a)).allowed


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    store = MemStore()
    cache = WatchCache(store)
    await cache.start()
    yield Cluster(store, cache)
    await cache.close()


VIEW_PODS = {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods"]}
USER_JANE = {"kind": "User", "apiGroup": RBAC, "name": "jane"}


async def test_system_masters_may_do_anything(cluster: Cluster) -> None:
    root = UserInfo("admin", groups=("system:masters", "system:authenticated"))
    assert await cluster.allowed(res("delete", "nodes", name="n", user=root))
    assert await cluster.allowed(url("get", "/metrics", user=root))
    assert not await cluster.allowed(res("get", "pods", ns="a"))             # nobody else, with no bindings


async def test_role_binding_to_a_cluster_role_grants_only_in_its_namespace(cluster: Cluster) -> None:
    await cluster.role("view", VIEW_PODS)
    await cluster.bind("jane-view", "ClusterRole", "view", USER_JANE, ns="a")
    assert await cluster.allowed(res("list", "pods", ns="a"))
    assert await cluster.allowed(res("get", "pods", ns="a", name="p"))
    assert not await cluster.allowed(res("list", "pods", ns="b"))
    assert not await cluster.allowed(res("list", "pods"))                     # all namespaces: cluster scope
    assert not await cluster.allowed(res("delete", "pods", ns="a", name="p"))
    d = await cluster.authz.authorize(res("list", "pods", ns="a"))
    assert d.reason == 'RBAC: allowed by RoleBinding "jane-view/a" of ClusterRole "view" to User "jane"'


async def test_role_binding_to_a_role(cluster: Cluster) -> None:
    await cluster.role("cm-editor", {"verbs": ["*"], "apiGroups": [""], "resources": ["configmaps"]}, ns="a")
    await cluster.bind("b", "Role", "cm-editor", {"kind": "Group", "name": "dev"}, ns="a")
    await cluster.bind("b", "Role", "cm-editor", {"kind": "Group", "name": "dev"}, ns="b")   # no Role in "b"
    assert await cluster.allowed(res("create", "configmaps", ns="a"))
    assert not await cluster.allowed(res("create", "configmaps", ns="b"))
    d = await cluster.authz.authorize(res("create", "configmaps", ns="b"))
    assert d.reason == f'RBAC: role.{RBAC} "cm-editor" not found'


async def test_cluster_role_binding_grants_everywhere(cluster: Cluster) -> None:
    await cluster.role("node-reader", {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["nodes"]},
                       VIEW_PODS, {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/api/*"]})
    await cluster.bind("readers", "ClusterRole", "node-reader", {"kind": "Group", "name": "dev"})
    assert await cluster.allowed(res("list", "nodes"))
    assert await cluster.allowed(res("list", "pods", ns="anything"))
    assert await cluster.allowed(res("list", "pods"))
    assert await cluster.allowed(url("get", "/healthz"))
    assert await cluster.allowed(url("get", "/api/v1"))
    assert not await cluster.allowed(url("get", "/apis"))
    d = await cluster.authz.authorize(res("list", "nodes"))
    assert d.reason == 'RBAC: allowed by ClusterRoleBinding "readers" of ClusterRole "node-reader" to Group "dev"'


async def test_service_account_subjects(cluster: Cluster) -> None:
    await cluster.role("view", VIEW_PODS)
    await cluster.bind("sa-view", "ClusterRole", "view", {"kind": "ServiceAccount", "name": "robot"}, ns="ns1")
    await cluster.bind("sa-view", "ClusterRole", "view", {"kind": "ServiceAccount", "name": "robot"}, ns="ns2")
    assert await cluster.allowed(res("list", "pods", ns="ns1", user=SA))      # subject namespace = ns1
    assert not await cluster.allowed(res("list", "pods", ns="ns2", user=SA))  # means ns2:robot there
    await cluster.bind("other", "ClusterRole", "view",
                       {"kind": "ServiceAccount", "name": "robot", "namespace": "ns1"}, ns="ns3")
    assert await cluster.allowed(res("list", "pods", ns="ns3", user=SA))
    d = await cluster.authz.authorize(res("list", "pods", ns="ns3", user=SA))
    assert d.reason == 'RBAC: allowed by RoleBinding "other/ns3" of ClusterRole "view" to ServiceAccount "ns1/robot"'
    # a ClusterRoleBinding needs the namespace spelled out
    await cluster.role("nodes", {"verbs": ["get"], "apiGroups": [""], "resources": ["nodes"]})
    await cluster.bind("crb", "ClusterRole", "nodes", {"kind": "ServiceAccount", "name": "robot"})
    assert not await cluster.allowed(res("get", "nodes", name="n", user=SA))
    await cluster.bind("crb", "ClusterRole", "nodes", {"kind": "ServiceAccount", "name": "robot", "namespace": "ns1"})
    assert await cluster.allowed(res("get", "nodes", name="n", user=SA))


async def test_scale_and_resource_names_through_bindings(cluster: Cluster) -> None:
    await cluster.role("scaler", {"verbs": ["get", "update", "patch"], "apiGroups": ["apps"],
                                  "resources": ["*/scale"]},
                       {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["token"]})
    await cluster.bind("jane-scaler", "ClusterRole", "scaler", USER_JANE, ns="a")
    assert await cluster.allowed(res("patch", "deployments", group="apps", ns="a", name="web", sub="scale"))
    assert await cluster.allowed(res("update", "statefulsets", group="apps", ns="a", name="db", sub="scale"))
    assert not await cluster.allowed(res("patch", "deployments", group="apps", ns="a", name="web"))
    assert await cluster.allowed(res("get", "secrets", ns="a", name="token"))
    assert not await cluster.allowed(res("get", "secrets", ns="a", name="other"))
    assert not await cluster.allowed(res("list", "secrets", ns="a"))


async def test_missing_cluster_role_is_the_denial_reason(cluster: Cluster) -> None:
    await cluster.bind("dangling", "ClusterRole", "nope", USER_JANE)
    await cluster.bind("dangling2", "ClusterRole", "gone", USER_JANE, ns="a")
    d = await cluster.authz.authorize(res("get", "pods", ns="a", name="p"))
    assert not d.allowed
    assert d.reason == f'RBAC: [clusterrole.{RBAC} "nope" not found, clusterrole.{RBAC} "gone" not found]'
    _, _, incomplete = await cluster.authz.rules_for(JANE, "a")
    assert incomplete


async def test_cache_follows_rbac_changes(cluster: Cluster) -> None:
    a = res("list", "pods", ns="a")
    assert not await cluster.allowed(a)                          # cached: no rules for jane in "a"
    await cluster.role("view", VIEW_PODS)
    assert not await cluster.allowed(a)
    await cluster.bind("jane-view", "ClusterRole", "view", USER_JANE, ns="a")
    assert await cluster.allowed(a)                              # a new binding is seen at once
    await cluster.role("view", {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]})
    assert not await cluster.allowed(a)                          # an edited role too
    assert await cluster.allowed(res("get", "pods", ns="a", name="p"))
    await cluster.bind("jane-view", "ClusterRole", "view", {"kind": "User", "name": "bob"}, ns="a")
    assert not await cluster.allowed(res("get", "pods", ns="a", name="p"))   # subjects changed
    await cluster.bind("jane-view", "ClusterRole", "view", USER_JANE, ns="a")
    assert await cluster.allowed(res("get", "pods", ns="a", name="p"))
    await cluster.delete("clusterroles", "view")
    assert not await cluster.allowed(res("get", "pods", ns="a", name="p"))   # a deleted role
    await cluster.role("view", VIEW_PODS)
    await cluster.delete("rolebindings", "jane-view", ns="a")
    assert not await cluster.allowed(a)                                       # a deleted binding


async def test_unrelated_writes_keep_the_cache(cluster: Cluster) -> None:
    await cluster.role("view", VIEW_PODS)
    await cluster.bind("jane-view", "ClusterRole", "view", USER_JANE, ns="a")
    assert await cluster.allowed(res("list", "pods", ns="a"))
    assert cluster.authz._rules
    await cluster.store.create("/registry/core/configmaps/a/x", b'{"metadata":{"name":"x","namespace":"a"}}')
    await cluster.cache.sync()
    assert cluster.authz._rules                                  # only RBAC objects invalidate


async def test_rules_for(cluster: Cluster) -> None:
    await cluster.role("mixed", VIEW_PODS, {"verbs": ["get"], "nonResourceURLs": ["/version"]},
                       {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["s"]})
    await cluster.bind("b", "ClusterRole", "mixed", USER_JANE, ns="a")
    resource_rules, non_resource, incomplete = await cluster.authz.rules_for(JANE, "a")
    assert resource_rules == [VIEW_PODS, {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"],
                                          "resourceNames": ["s"]}]
    assert non_resource == [{"verbs": ["get"], "nonResourceURLs": ["/version"]}]
    assert not incomplete
    assert await cluster.authz.rules_for(JANE, "b") == ([], [], False)
    root = UserInfo("admin", groups=("system:masters",))
    assert (await cluster.authz.rules_for(root, "x"))[0] == [{"verbs": ["*"], "apiGroups": ["*"],
                                                             "resources": ["*"]}]
