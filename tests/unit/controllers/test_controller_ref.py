"""RefManager: claim, adopt and release with the uid precondition; adoption re-checks the owner once.
OwnerLookup: owners by controller reference and, for orphans, by cached selector."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.controllers.fakeclient import FakeClient

from pybernetes.api.selectors import label_selector_from_dict
from pybernetes.client.resources import PODS, REPLICASETS
from pybernetes.client.rest import APIStatusError
from pybernetes.controllers.controller_ref import (
    NAMESPACE_INDEX,
    OwnerLookup,
    RefManager,
    controller_uid_index,
    namespace_index,
    new_controller_ref,
    orphans_index,
    recheck_owner,
)

Obj = dict[str, Any]
SPEC = {"containers": [{"name": "c", "image": "i"}]}


async def make(fake: FakeClient) -> tuple[Obj, RefManager]:
    owner = await fake.create(REPLICASETS, {"metadata": {"name": "rs"}, "spec": {
        "selector": {"matchLabels": {"app": "a"}}, "template": {"metadata": {"labels": {"app": "a"}},
                                                                "spec": SPEC}}}, "ns")
    m = RefManager(fake, owner=owner, owner_ref=new_controller_ref(owner, api_version="apps/v1", kind="ReplicaSet"),
                   selector=label_selector_from_dict({"matchLabels": {"app": "a"}}), res=PODS,
                   can_adopt=recheck_owner(fake, REPLICASETS, owner, "ReplicaSet"))
    return owner, m


async def pod(fake: FakeClient, name: str, labels: dict[str, str], owner: Obj | None = None) -> Obj:
    meta: Obj = {"name": name, "labels": labels}
    if owner is not None:
        meta["ownerReferences"] = [new_controller_ref(owner, api_version="apps/v1", kind="ReplicaSet")]
    return await fake.create(PODS, {"metadata": meta, "spec": SPEC}, "ns")


async def test_claims_adopts_releases_and_ignores_others() -> None:
    fake = FakeClient()
    owner, m = await make(fake)
    other = {"metadata": {"name": "x", "uid": "other-uid"}}
    pods = [await pod(fake, "mine", {"app": "a"}, owner), await pod(fake, "orphan", {"app": "a"}),
            await pod(fake, "stray", {"app": "b"}, owner), await pod(fake, "theirs", {"app": "a"}, other),
            await pod(fake, "unmatched", {"app": "b"})]
    claimed = await m.claim(pods)
    assert [p["metadata"]["name"] for p in claimed] == ["mine", "orphan"]
    assert fake.peek(PODS, "orphan", "ns")["metadata"]["ownerReferences"][0]["uid"] == owner["metadata"]["uid"]  # type: ignore[index]
    assert not fake.peek(PODS, "stray", "ns")["metadata"].get("ownerReferences")                # type: ignore[index]
    assert fake.count("get", "replicasets.apps") == 1                # one re-check for any number of adoptions
    patches = [a.body[1] for a in fake.actions if a.verb == "patch"]
    assert all(p["metadata"]["uid"] for p in patches)                # the uid travels as a precondition


async def test_adoption_refused_when_owner_was_replaced() -> None:
    fake = FakeClient()
    _, m = await make(fake)
    orphan = await pod(fake, "orphan", {"app": "a"})
    await fake.delete(REPLICASETS, "rs", "ns")
    await fake.create(REPLICASETS, {"metadata": {"name": "rs"}, "spec": {
        "selector": {"matchLabels": {"app": "a"}}, "template": {"metadata": {"labels": {"app": "a"}},
                                                                "spec": SPEC}}}, "ns")
    with pytest.raises(RuntimeError, match="original ReplicaSet ns/rs is gone: got uid"):
        await m.claim([orphan])
    assert not fake.peek(PODS, "orphan", "ns")["metadata"].get("ownerReferences")               # type: ignore[index]


async def test_release_of_a_recreated_pod_is_ignored() -> None:
    fake = FakeClient()
    owner, m = await make(fake)
    stray = await pod(fake, "stray", {"app": "b"}, owner)
    await fake.delete(PODS, "stray", "ns")
    await pod(fake, "stray", {"app": "b"})                           # same name, another uid: 422, ignored
    assert await m.claim([stray]) == []


def test_indexes() -> None:
    owned = {"metadata": {"namespace": "ns", "ownerReferences": [{"uid": "u", "controller": True}]}}
    loose = {"metadata": {"namespace": "ns", "ownerReferences": [{"uid": "u"}]}}
    assert (controller_uid_index(owned), orphans_index(owned)) == (["u"], [])
    assert (controller_uid_index(loose), orphans_index(loose)) == ([], ["ns"])


async def test_adoption_refused_when_owner_has_just_been_deleted() -> None:
    fake = FakeClient()
    owner, m = await make(fake)
    orphan = await pod(fake, "orphan", {"app": "a"})
    held = await fake.get(REPLICASETS, "rs", "ns")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    await fake.update(REPLICASETS, held)
    await fake.delete(REPLICASETS, "rs", "ns")          # the cached owner (``owner``) does not know yet
    with pytest.raises(RuntimeError, match="ns/rs has just been deleted at"):
        await m.claim([orphan])
    assert not owner["metadata"].get("deletionTimestamp")


async def test_adopt_errors_are_reported_after_trying_all() -> None:
    fake = FakeClient()
    _, m = await make(fake)
    pods = [await pod(fake, "a", {"app": "a"}), await pod(fake, "b", {"app": "a"})]
    fake.fail("patch", "pods", APIStatusError(500, {"reason": "InternalError", "message": "boom"}), times=1)
    with pytest.raises(APIStatusError, match="boom"):
        await m.claim(pods)
    assert fake.peek(PODS, "b", "ns")["metadata"]["ownerReferences"]                             # type: ignore[index]


def _owner(name: str, uid: str, selector: Obj | None, generation: int = 1, ns: str = "ns") -> Obj:
    return {"metadata": {"name": name, "namespace": ns, "uid": uid, "generation": generation,
                         "resourceVersion": str(generation)}, "spec": {"selector": selector}}


class _Cache:
    """The two informer reads OwnerLookup makes: get by key, and the namespace index."""

    def __init__(self, owners: tuple[Obj, ...]) -> None:
        self.owners = {f"{o['metadata']['namespace']}/{o['metadata']['name']}": o for o in owners}

    def get(self, key: str) -> Obj | None:
        return self.owners.get(key)

    def by_index(self, name: str, value: str) -> list[Obj]:
        assert name == NAMESPACE_INDEX
        return [o for o in self.owners.values() if namespace_index(o) == [value]]


def _lookup(*owners: Obj) -> OwnerLookup:
    return OwnerLookup(_Cache(owners), "ReplicaSet")  # type: ignore[arg-type]


def test_owner_lookup_resolves_a_controller_reference_of_its_kind_and_uid() -> None:
    lookup = _lookup(_owner("rs", "u1", {"matchLabels": {"app": "a"}}))
    assert lookup.resolve("ns", {"kind": "ReplicaSet", "name": "rs", "uid": "u1"}) is not None
    assert lookup.resolve("ns", {"kind": "ReplicaSet", "name": "rs", "uid": "u2"}) is None      # replaced
    assert lookup.resolve("ns", {"kind": "StatefulSet", "name": "rs", "uid": "u1"}) is None     # not ours
    assert lookup.resolve("other", {"kind": "ReplicaSet", "name": "rs", "uid": "u1"}) is None


def test_owner_lookup_selecting_skips_empty_and_broken_selectors_and_other_namespaces() -> None:
    broken = _owner("broken", "u3", {"matchExpressions": [{"key": "app", "operator": "Nope"}]})
    lookup = _lookup(_owner("a", "u1", {"matchLabels": {"app": "a"}}), _owner("empty", "u2", {}), broken,
                     _owner("elsewhere", "u4", {"matchLabels": {"app": "a"}}, ns="other"))
    pod = {"metadata": {"name": "p", "namespace": "ns", "labels": {"app": "a"}}}
    assert [o["metadata"]["name"] for o in lookup.selecting(pod)] == ["a"]
    assert lookup.selector_of(broken) is None


def test_owner_lookup_parses_a_selector_once_per_generation_until_forgotten() -> None:
    lookup = _lookup()
    first = lookup.selector_of(_owner("a", "u1", {"matchLabels": {"app": "a"}}))
    assert lookup.selector_of(_owner("a", "u1", {"matchLabels": {"app": "changed"}})) is first   # same generation
    newer = lookup.selector_of(_owner("a", "u1", {"matchLabels": {"app": "b"}}, generation=2))
    assert newer is not first and newer is not None and newer.matches({"app": "b"})
    lookup.forget(_owner("a", "u1", None))
    again = lookup.selector_of(_owner("a", "u1", {"matchLabels": {"app": "c"}}, generation=2))
    assert again is not None and again.matches({"app": "c"})
