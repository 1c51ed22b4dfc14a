"""CRDs: served resources follow the CRD, status conditions NamesAccepted/Established and acceptedNames as
upstream's naming controller computes them (conflicts per name, Established kept once true), and deletion
cleanup through the REST layer honouring the custom resources' finalizers."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pybernetes.api.builtin import builtin_registry
from pybernetes.api.errors import APIError, NotFound
from pybernetes.apiserver import crds
from pybernetes.apiserver import rest as rest_hooks
from pybernetes.apiserver.admission import AdmissionChain
from pybernetes.apiserver.authn import UserInfo
from pybernetes.apiserver.authz import AlwaysAllowAuthenticated
from pybernetes.apiserver.options import DeleteOptions, WriteOptions
from pybernetes.apiserver.registry import GenericREST
from pybernetes.apiserver.state import ServerConfig, ServerState
from pybernetes.storage.watchcache import WatchCache

try:
    from tests.unit.storage.memstore import MemStore
except ModuleNotFoundError:  # pytest's default (prepend) import mode
    from memstore import MemStore  # type: ignore[no-redef]

Obj = dict[str, Any]
ADMIN = UserInfo("admin", groups=("system:masters", "system:authenticated"))
OPTS = WriteOptions()


def crd(plural: str, kind: str, *, group: str = "example.com", short: tuple[str, ...] = (),
        singular: str | None = None, cats: tuple[str, ...] = ()) -> Obj:
    names: Obj = {"plural": plural, "kind": kind, "singular": singular or kind.lower()}
    if short:
        names["shortNames"] = list(short)
    if cats:
        names["categories"] = list(cats)
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "scope": "Namespaced", "names": names, "versions": [
                {"name": "v1", "served": True, "storage": True,
                 "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}


class Env:
    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.rest = GenericREST(state)
        self.ctl = crds.CRDController(state, None)  # type: ignore[arg-type]
        crds.install_hooks()
        state.cache.listeners.append(self.ctl.on_event)
        crd_res = state.resources.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        assert crd_res is not None
        self.crd_res = crd_res

    async def settle(self, *, pending_ok: bool = False) -> None:
        """Run the controller until its queue is empty (as its task would, without the waits)."""
        for _ in range(50):
            await self.state.cache.sync()
            if self.ctl.queue.empty():
                return
            name = self.ctl.queue.get_nowait()
            try:
                await self.ctl.reconcile(name)
            except crds._Pending:
                if not pending_ok:
                    raise
        raise AssertionError("CRD controller never settled")

    async def create_crd(self, obj: Obj) -> None:
        await self.rest.create(self.crd_res, "", copy.deepcopy(obj), opts=OPTS, user=ADMIN)
        await self.settle()

    async def get_crd(self, name: str) -> Obj:
        return await self.rest.get(self.crd_res, "", name)

    async def update_spec(self, name: str, fn: Any) -> None:
        def upd(old: Obj) -> Obj:
            new = copy.deepcopy(old)
            fn(new["spec"])
            return new
        await self.rest.guaranteed_update(self.crd_res, "", name, upd, opts=OPTS, user=ADMIN)
        await self.settle()

    def conds(self, obj: Obj) -> dict[str, tuple[str, str, str]]:
        return {c["type"]: (c["status"], c["reason"], c["message"]) for c in obj["status"]["conditions"]}


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    store = MemStore()
    cache = WatchCache(store)
    await cache.start()
    rest_hooks.install()
    state = ServerState(config=ServerConfig(), store=store, cache=cache, resources=builtin_registry(),  # type: ignore[arg-type]
                        authorizer=AlwaysAllowAuthenticated(), admission=AdmissionChain())
    yield Env(state)
    await cache.close()


def test_resources_of_served_versions_and_subresources() -> None:
    c = crd("foos", "Foo", short=("f",), cats=("all",))
    c["spec"]["versions"][0]["subresources"] = {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                                         "statusReplicasPath": ".status.replicas"}}
    c["spec"]["versions"].append({"name": "v2", "served": False, "storage": False})
    (r,) = crds.resources_of(c)
    assert (r.group, r.version, r.kind, r.plural, r.singular, r.namespaced) == ("example.com", "v1", "Foo", "foos",
                                                                               "foo", True)
    assert (r.short_names, r.categories, r.list_kind, r.storage, r.crd_name) == (
        ("f",), ("all",), "FooList", "example.com/foos", "foos.example.com")
    assert [s.name for s in r.subresources] == ["status", "scale"]
    assert "create" in r.verbs
    c["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    (r,) = crds.resources_of(c)
    assert "create" not in r.verbs and {"get", "list", "update", "patch", "delete", "watch"} <= set(r.verbs)


async def test_a_new_crd_is_served_accepted_and_established(env: Env) -> None:
    await env.create_crd(crd("foos", "Foo", short=("f",), cats=("all",)))
    obj = await env.get_crd("foos.example.com")
    assert env.conds(obj) == {"NamesAccepted": ("True", "NoConflicts", "no conflicts found"),
                              "Established": ("True", "InitialNamesAccepted", "the initial names have been accepted")}
    assert [c["type"] for c in obj["status"]["conditions"]] == ["NamesAccepted", "Established"]
    assert obj["status"]["acceptedNames"] == {"plural": "foos", "singular": "foo", "shortNames": ["f"],
                                              "kind": "Foo", "listKind": "FooList", "categories": ["all"]}
    assert obj["status"]["storedVersions"] == ["v1"]
    assert "finalizers" not in obj["metadata"]          # upstream adds its cleanup finalizer only on delete
    assert env.state.resources.get("example.com", "v1", "foos") is not None
    # a second pass writes nothing (conditions and their times are stable)
    rv = obj["metadata"]["resourceVersion"]
    await env.ctl.reconcile("foos.example.com")
    assert (await env.get_crd("foos.example.com"))["metadata"]["resourceVersion"] == rv


@pytest.mark.parametrize(("second", "reason", "message", "accepted"), [
    (crd("bars", "Bar", short=("f",)), "ShortNamesConflict", '"f" is already in use',
     {"plural": "bars", "singular": "bar", "kind": "Bar", "listKind": "BarList"}),
    (crd("bars", "Bar", singular="foos"), "SingularConflict", '"foos" is already in use',
     {"plural": "bars", "kind": "Bar", "listKind": "BarList"}),
    # singular "foo", kind and list kind all conflict: the last check (list kind) names the conflict
    (crd("bars", "Foo"), "ListKindConflict", '"FooList" is already in use', {"plural": "bars"}),
    (crd("bars", "Bar", short=("foo", "b")), "ShortNamesConflict", '"foo" is already in use',
     {"plural": "bars", "singular": "bar", "kind": "Bar", "listKind": "BarList"}),
])
async def test_name_conflicts_in_a_group(env: Env, second: Obj, reason: str, message: str, accepted: Obj) -> None:
    await env.create_crd(crd("foos", "Foo", short=("f",)))
    await env.create_crd(second)
    obj = await env.get_crd("bars.example.com")
    c = env.conds(obj)
    assert c["NamesAccepted"] == ("False", reason, message)
    assert c["Established"] == ("False", "NotAccepted", "not all names are accepted")
    assert {k: v for k, v in obj["status"]["acceptedNames"].items() if v} == accepted
    # the first CRD is untouched
    assert env.conds(await env.get_crd("foos.example.com"))["NamesAccepted"][0] == "True"


async def test_kind_conflict_keeps_the_kind_unaccepted(env: Env) -> None:
    await env.create_crd(crd("foos", "Foo"))
    c = crd("bars", "Foo", singular="bar")
    c["spec"]["names"]["listKind"] = "BarList"
    await env.create_crd(c)
    obj = await env.get_crd("bars.example.com")
    assert env.conds(obj)["NamesAccepted"] == ("False", "KindConflict", '"Foo" is already in use')
    assert obj["status"]["acceptedNames"]["kind"] == "" and obj["status"]["acceptedNames"]["listKind"] == "BarList"


async def test_same_names_in_another_group_do_not_conflict(env: Env) -> None:
    await env.create_crd(crd("foos", "Foo", short=("f",)))
    await env.create_crd(crd("foos", "Foo", short=("f",), group="other.io"))
    assert env.conds(await env.get_crd("foos.other.io"))["NamesAccepted"][0] == "True"


async def test_a_conflict_resolves_when_the_holder_goes(env: Env) -> None:
    await env.create_crd(crd("foos", "Foo", short=("f",)))
    await env.create_crd(crd("bars", "Bar", short=("f",)))
    assert env.conds(await env.get_crd("bars.example.com"))["NamesAccepted"][0] == "False"
    await env.update_spec("foos.example.com", lambda spec: spec["names"].update(shortNames=["fo"]))
    assert (await env.get_crd("foos.example.com"))["status"]["acceptedNames"]["shortNames"] == ["fo"]
    await env.ctl.reconcile("bars.example.com")                     # upstream requeues the group's CRDs
    obj = await env.get_crd("bars.example.com")
    assert env.conds(obj)["NamesAccepted"] == ("True", "NoConflicts", "no conflicts found")
    assert env.conds(obj)["Established"][0] == "True"
    assert obj["status"]["acceptedNames"]["shortNames"] == ["f"]


async def test_established_stays_true_when_a_rename_conflicts(env: Env) -> None:
    await env.create_crd(crd("foos", "Foo"))
    await env.create_crd(crd("bars", "Bar", short=("b",)))
    await env.update_spec("bars.example.com", lambda spec: spec["names"].update(shortNames=["b", "foo"]))
    obj = await env.get_crd("bars.example.com")
    assert env.conds(obj)["NamesAccepted"] == ("False", "ShortNamesConflict", '"foo" is already in use')
    assert env.conds(obj)["Established"] == ("True", "InitialNamesAccepted", "the initial names have been accepted")
    assert obj["status"]["acceptedNames"]["shortNames"] == ["b"]              # the old, accepted ones


async def test_deleting_a_crd_deletes_its_resources_honouring_finalizers(env: Env) -> None:
    await env.create_crd(crd("foos", "Foo"))
    res = env.state.resources.get("example.com", "v1", "foos")
    assert res is not None
    for name, fins in (("plain", []), ("kept", ["example.com/keep"])):
        await env.rest.create(res, "ns", {"apiVersion": "example.com/v1", "kind": "Foo",
                                          "metadata": {"name": name, "finalizers": fins}}, opts=OPTS, user=ADMIN)
    obj, deleted = await env.rest.delete(env.crd_res, "", "foos.example.com", DeleteOptions(), user=ADMIN)
    assert not deleted and obj["metadata"].get("deletionTimestamp")        # it stays while instances go
    assert env.conds(obj)["Terminating"] == (
        "True", "InstanceDeletionPending",
        "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon")
    await env.settle(pending_ok=True)
    obj = await env.get_crd("foos.example.com")
    assert env.conds(obj)["Terminating"] == ("True", "InstanceDeletionInProgress",
                                             "CustomResource deletion is in progress")
    assert env.conds(obj)["Established"][0] == "True"
    res = env.state.resources.get("example.com", "v1", "foos")
    assert res is not None and "create" not in res.verbs    # still served, but no new objects
    with pytest.raises(NotFound):
        await env.rest.get(res, "ns", "plain")
    kept = await env.rest.get(res, "ns", "kept")
    assert kept["metadata"].get("deletionTimestamp")         # deleted through the API: waits for its finalizer
    with pytest.raises(crds._Pending):
        await env.ctl.reconcile("foos.example.com")
    # a second delete of the CRD changes nothing
    _, deleted = await env.rest.delete(env.crd_res, "", "foos.example.com", DeleteOptions(), user=ADMIN)
    assert not deleted

    def release(old: Obj) -> Obj:
        new = copy.deepcopy(old)
        new["metadata"]["finalizers"] = []
        return new
    await env.rest.guaranteed_update(res, "ns", "kept", release, opts=OPTS, user=ADMIN)
    await env.state.cache.sync()
    await env.ctl.reconcile("foos.example.com")
    await env.settle()
    with pytest.raises(APIError) as ei:
        await env.get_crd("foos.example.com")
    assert ei.value.code == 404
    assert env.state.resources.get("example.com", "v1", "foos") is None
    assert await env.state.store.count("/registry/example.com/foos/") == 0


async def test_deleting_an_empty_crd_takes_one_pass(env: Env) -> None:
    await env.create_crd(crd("foos", "Foo"))
    _, deleted = await env.rest.delete(env.crd_res, "", "foos.example.com", DeleteOptions(), user=ADMIN)
    assert not deleted
    await env.settle()
    with pytest.raises(APIError):
        await env.get_crd("foos.example.com")
    assert env.state.resources.get("example.com", "v1", "foos") is None


async def test_a_crd_carrying_upstreams_finalizer_is_still_deleted(env: Env) -> None:
    c = crd("foos", "Foo")
    await env.create_crd(c)
    kv = await env.state.store.get("/registry/apiextensions.k8s.io/customresourcedefinitions/foos.example.com")
    assert kv is not None
    stored = GenericREST.decode(kv)
    stored["metadata"]["finalizers"] = [crds.FINALIZER]
    await env.state.store.update(kv.key, GenericREST.encode(stored), expect_mod_revision=kv.mod_revision)
    await env.state.cache.sync()
    await env.rest.delete(env.crd_res, "", "foos.example.com", DeleteOptions(), user=ADMIN)
    await env.settle()
    with pytest.raises(APIError):
        await env.get_crd("foos.example.com")


@pytest.mark.parametrize(("requested", "accepted", "used", "err"), [
    ("foos", "foos", {"foos"}, ""), ("foos", "", set(), ""), ("foos", "", {"foos"}, '"foos" is already in use'),
    ("foos", "bars", {"foos", "bars"}, '"foos" is already in use'),
])
def test_equal_to_accepted_or_fresh(requested: str, accepted: str, used: set[str], err: str) -> None:
    assert crds._fresh(requested, accepted, used) == err


def test_set_condition_keeps_transition_time_while_status_holds() -> None:
    old = [{"type": "A", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z", "reason": "r",
            "message": "m"}, {"type": "B", "status": "False", "lastTransitionTime": "t", "reason": "", "message": ""}]
    out = crds.set_condition(old, "A", "True", "r2", "m2")
    assert out[0] == {"type": "A", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z", "reason": "r2",
                      "message": "m2"}
    assert out[1] is old[1]
    flipped = crds.set_condition(old, "A", "False", "r", "m")
    assert flipped[0]["lastTransitionTime"] != "2020-01-01T00:00:00Z"
    assert [c["type"] for c in crds.set_condition(old, "C", "True", "x", "y")] == ["A", "B", "C"]
