"""Impersonation headers → the impersonated user, with one ``impersonate`` check per part (as upstream's
filter) and a 403 naming the first refused part."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from multidict import CIMultiDict

from pybernetes.api.errors import APIError
from pybernetes.apiserver.authn import UserInfo
from pybernetes.apiserver.authz import Attributes, Decision
from pybernetes.apiserver.impersonation import impersonate, requested

ADMIN = UserInfo("admin", groups=("system:masters", "system:authenticated"))
JANE = UserInfo("jane", groups=("system:authenticated",))


class Recorder:
    """An authorizer that records every check and allows what ``allow`` says."""

    def __init__(self, allow: Callable[[Attributes], bool] = lambda a: True, reason: str = "") -> None:
        self.allow = allow
        self.reason = reason
        self.checks: list[tuple[str, str, str, str, str, str]] = []

    async def authorize(self, a: Attributes) -> Decision:
        self.checks.append((a.verb, a.api_group, a.resource, a.subresource, a.namespace, a.name))
        return Decision(True) if self.allow(a) else Decision(False, self.reason)


def headers(*pairs: tuple[str, str]) -> CIMultiDict[str]:
    return CIMultiDict(pairs)


@pytest.mark.parametrize(("hdrs", "want"), [
    ({"Impersonate-User": "x"}, True), ({"impersonate-group": "g"}, True), ({"Impersonate-Extra-Scopes": "a"}, True),
    ({"Authorization": "Bearer x"}, False), ({}, False),
    ({"IMPERSONATE-UID": "1"}, True), ({"Accept": "*/*", "iMpErSoNaTe-uSeR": "x"}, True),
    ({"If-None-Match": "x", "Impersonates": "x", "Impersonate": "x", "XImpersonate-User": "x"}, False),
])
def test_requested(hdrs: dict[str, str], want: bool) -> None:
    assert requested(hdrs) is want


async def test_user_with_groups_uid_and_extras() -> None:
    authz = Recorder()
    h = headers(("Impersonate-User", "bob"), ("Impersonate-Group", "dev"), ("Impersonate-Group", "ops"),
                ("Impersonate-Uid", "u-1"), ("Impersonate-Extra-Scopes", "view"),
                ("Impersonate-Extra-Scopes", "edit"), ("Impersonate-Extra-Example.com%2fteam", "blue"))
    u = await impersonate(ADMIN, h, authz)
    assert (u.name, u.uid, u.groups) == ("bob", "u-1", ("dev", "ops", "system:authenticated"))
    assert u.extra == {"scopes": ("view", "edit"), "example.com/team": ("blue",)}
    assert authz.checks == [
        ("impersonate", "", "users", "", "", "bob"),
        ("impersonate", "", "groups", "", "", "dev"),
        ("impersonate", "", "groups", "", "", "ops"),
        ("impersonate", "authentication.k8s.io", "userextras", "scopes", "", "view"),
        ("impersonate", "authentication.k8s.io", "userextras", "scopes", "", "edit"),
        ("impersonate", "authentication.k8s.io", "userextras", "example.com/team", "", "blue"),
        ("impersonate", "authentication.k8s.io", "uids", "", "", "u-1"),
    ]


async def test_service_account_is_checked_in_its_namespace_and_gets_its_groups() -> None:
    authz = Recorder()
    u = await impersonate(ADMIN, headers(("Impersonate-User", "system:serviceaccount:ns1:robot")), authz)
    assert u.name == "system:serviceaccount:ns1:robot"
    assert u.groups == ("system:serviceaccounts", "system:serviceaccounts:ns1", "system:authenticated")
    assert authz.checks == [("impersonate", "", "serviceaccounts", "", "ns1", "robot")]
    # groups given explicitly replace the service account's own (upstream adds them only when none are given)
    u = await impersonate(ADMIN, headers(("Impersonate-User", "system:serviceaccount:ns1:robot"),
                                         ("Impersonate-Group", "extra")), Recorder())
    assert u.groups == ("extra", "system:authenticated")


@pytest.mark.parametrize("name", ["system:serviceaccount:ns1", "system:serviceaccount::robot",
                                  "system:serviceaccount:a:b:c", "system:serviceaccounts:ns1"])
async def test_malformed_service_account_names_are_users(name: str) -> None:
    authz = Recorder()
    u = await impersonate(ADMIN, headers(("Impersonate-User", name)), authz)
    assert authz.checks[0][2] == "users"
    assert "system:serviceaccounts" not in u.groups


@pytest.mark.parametrize(("user", "groups", "want"), [
    ("bob", [], ("system:authenticated",)),
    ("bob", ["system:authenticated"], ("system:authenticated",)),
    ("bob", ["system:unauthenticated"], ("system:unauthenticated",)),
    ("system:anonymous", [], ("system:unauthenticated",)),
    ("system:anonymous", ["g"], ("g", "system:unauthenticated")),
    ("system:anonymous", ["system:unauthenticated"], ("system:unauthenticated",)),
])
async def test_authenticated_and_unauthenticated_groups(user: str, groups: list[str], want: tuple[str, ...]) -> None:
    h = headers(("Impersonate-User", user), *[("Impersonate-Group", g) for g in groups])
    assert (await impersonate(ADMIN, h, Recorder())).groups == want


@pytest.mark.parametrize(("h", "refuse", "message", "details"), [
    (headers(("Impersonate-User", "bob")), "users",
     'users "bob" is forbidden: User "jane" cannot impersonate resource "users" in API group "" at the cluster '
     'scope', {"name": "bob", "kind": "users"}),
    (headers(("Impersonate-User", "system:serviceaccount:ns1:robot")), "serviceaccounts",
     'serviceaccounts "robot" is forbidden: User "jane" cannot impersonate resource "serviceaccounts" in API group '
     '"" in the namespace "ns1"', {"name": "robot", "kind": "serviceaccounts"}),
    (headers(("Impersonate-User", "bob"), ("Impersonate-Group", "system:masters")), "groups",
     'groups "system:masters" is forbidden: User "jane" cannot impersonate resource "groups" in API group "" at '
     'the cluster scope', {"name": "system:masters", "kind": "groups"}),
    (headers(("Impersonate-User", "bob"), ("Impersonate-Uid", "1234")), "uids",
     'uids.authentication.k8s.io "1234" is forbidden: User "jane" cannot impersonate resource "uids" in API '
     'group "authentication.k8s.io" at the cluster scope',
     {"name": "1234", "group": "authentication.k8s.io", "kind": "uids"}),
    (headers(("Impersonate-User", "bob"), ("Impersonate-Extra-Scopes", "admin")), "userextras",
     'userextras.authentication.k8s.io "admin" is forbidden: User "jane" cannot impersonate resource '
     '"userextras/scopes" in API group "authentication.k8s.io" at the cluster scope',
     {"name": "admin", "group": "authentication.k8s.io", "kind": "userextras"}),
])
async def test_refused_parts_are_403(h: CIMultiDict[str], refuse: str, message: str, details: dict[str, str]) -> None:
    authz = Recorder(lambda a: a.resource != refuse)
    with pytest.raises(APIError) as ei:
        await impersonate(JANE, h, authz)
    assert (ei.value.code, ei.value.reason, str(ei.value)) == (403, "Forbidden", message)
    assert ei.value.details == details


async def test_denial_reason_is_appended() -> None:
    with pytest.raises(APIError) as ei:
        await impersonate(JANE, headers(("Impersonate-User", "bob")), Recorder(lambda a: False, "RBAC: broken"))
    assert str(ei.value).endswith('at the cluster scope: RBAC: broken')


async def test_groups_without_a_user_are_refused() -> None:
    authz = Recorder()
    with pytest.raises(APIError) as ei:
        await impersonate(ADMIN, headers(("Impersonate-Group", "dev")), authz)
    assert ei.value.code == 400
    assert authz.checks == []


async def test_plain_dict_headers() -> None:
    u = await impersonate(ADMIN, {"Impersonate-User": "bob", "Impersonate-Group": "dev"}, Recorder())
    assert u.groups == ("dev", "system:authenticated")
