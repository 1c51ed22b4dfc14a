"""RefManager: claim, adopt and release with the uid precondition; adoption re-checks the owner once."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.controllers.fakeclient import FakeClient

from pybernetes.api.selectors import label_selector_from_dict
from pybernetes.client.resources import PODS, REPLICASETS
from pybernetes.client.rest import APIStatusError
from pybernetes.controllers.controller_ref import (
    RefManager,
    controller_uid_index,
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
