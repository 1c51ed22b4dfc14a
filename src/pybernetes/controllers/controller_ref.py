"""Owner references: who controls what (upstream ``controller_ref_manager.go`` and the controllerUID indexes).

A controller only ever acts on objects whose controller ``ownerReference`` points at it. :class:`RefManager`
reconciles that with label selectors — adopting matching orphans, releasing owned objects that no longer match —
for pods (ReplicaSets, Jobs, ...) and ReplicaSets (Deployments) alike. The informer indexes here let a controller
find its objects and the orphans of a namespace without scanning everything.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from pybernetes.api.meta import controller_ref, is_being_deleted, key_of, labels_of, name_of, namespace_of, uid_of
from pybernetes.api.selectors import LabelSelector, label_selector_from_dict
from pybernetes.client.informer import Informer
from pybernetes.client.resources import ResourceRef
from pybernetes.client.rest import APIStatusError, is_not_found
from pybernetes.client.rest import has_status_cause as has_status_cause  # re-exported: controllers import it here

log = logging.getLogger(__name__)
Obj = dict[str, Any]
CONTROLLER_UID_INDEX = "controllerUID"     # uid of the object's controller ownerReference
ORPHANS_INDEX = "orphansByNamespace"       # namespace of objects without a controller ownerReference
NAMESPACE_INDEX = "namespace"


def controller_uid_index(obj: Obj) -> list[str]:
    ref = controller_ref(obj)
    return [ref["uid"]] if ref and ref.get("uid") else []


def orphans_index(obj: Obj) -> list[str]:
    return [] if controller_ref(obj) else [namespace_of(obj)]


def namespace_index(obj: Obj) -> list[str]:
    return [namespace_of(obj)]


def add_indexes(informer: Informer) -> None:
    informer.add_index(CONTROLLER_UID_INDEX, controller_uid_index)
    informer.add_index(ORPHANS_INDEX, orphans_index)
    informer.add_index(NAMESPACE_INDEX, namespace_index)


def new_controller_ref(owner: Obj, *, api_version: str, kind: str) -> Obj:
    """``metav1.NewControllerRef``: controller and blockOwnerDeletion both true."""
    return {"apiVersion": api_version, "kind": kind, "name": name_of(owner), "uid": uid_of(owner),
            "controller": True, "blockOwnerDeletion": True}


def error_message(e: BaseException) -> str:
    """What Go's ``err.Error()`` prints for an API error: the Status message."""
    if isinstance(e, APIStatusError):
        return str(e.status.get("message") or e)
    return str(e)


def is_invalid(e: BaseException) -> bool:
    return isinstance(e, APIStatusError) and e.code == 422


class RefManager:
    """Upstream ``BaseControllerRefManager``: decides which objects an owner controls, adopting and releasing.

    An object controlled by someone else is ignored. One controlled by ``owner`` stays claimed while the selector
    matches, else is released (unless the owner is being deleted). An orphan the selector matches is adopted,
    but first ``can_adopt`` re-reads the owner from the API once (the cache may miss its deletion, #42639).
    Adoption and release are strategic merge patches that carry the object's uid as a precondition.
    """

    def __init__(self, client: Any, *, owner: Obj, owner_ref: Obj, selector: LabelSelector, res: ResourceRef,
                 can_adopt: Callable[[], Awaitable[None]]) -> None:
        self.client = client
        self.owner = owner
        self.owner_ref = owner_ref
        self.selector = selector
        self.res = res
        self._can_adopt = can_adopt
        self._adoptable: bool | BaseException | None = None       # the outcome of the one can_adopt check

    async def claim(self, objs: Iterable[Obj]) -> list[Obj]:
        claimed: list[Obj] = []
        errors: list[BaseException] = []
        for obj in objs:
            try:
                if await self._claim_one(obj):
                    claimed.append(obj)
            except APIStatusError as e:
                errors.append(e)
            except RuntimeError as e:
                errors.append(e)
        if errors:
            raise errors[0]
        return claimed

    async def _claim_one(self, obj: Obj) -> bool:
        ref = controller_ref(obj)
        owner_uid = uid_of(self.owner)
        if ref is not None:
            if ref.get("uid") != owner_uid:
                return False
            if self.selector.matches(labels_of(obj)):
                return True
            if is_being_deleted(self.owner):
                return False
            await self._patch(obj, {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": owner_uid}],
                                                 "uid": uid_of(obj)}}, releasing=True)
            return False
        if is_being_deleted(self.owner) or not self.selector.matches(labels_of(obj)):
            return False
        if is_being_deleted(obj):
            return False
        if namespace_of(self.owner) and namespace_of(self.owner) != namespace_of(obj):
            return False
        if self._adoptable is None:
            try:
                await self._can_adopt()
                self._adoptable = True
            except (APIStatusError, RuntimeError) as e:
                self._adoptable = e
        if isinstance(self._adoptable, BaseException):
            raise self._adoptable
        return await self._patch(obj, {"metadata": {"ownerReferences": [self.owner_ref], "uid": uid_of(obj)}},
                                 releasing=False)

    async def _patch(self, obj: Obj, patch: Obj, *, releasing: bool) -> bool:
        try:
            await self.client.patch(self.res, name_of(obj), patch, namespace_of(obj), patch_type="strategic")
        except APIStatusError as e:
            if is_not_found(e) or (releasing and is_invalid(e)):
                return False
            raise
        log.debug("released" if releasing else "adopted", extra={"owner": key_of(self.owner), "object": key_of(obj)})
        return True


def recheck_owner(client: Any, res: ResourceRef, owner: Obj, kind: str) -> Callable[[], Awaitable[None]]:
    """Upstream ``RecheckDeletionTimestamp`` over a fresh GET: adoption is refused if the owner is gone,
    replaced (another uid) or being deleted."""
    async def check() -> None:
        fresh = await client.get(res, name_of(owner), namespace_of(owner) or None)
        if uid_of(fresh) != uid_of(owner):
            raise RuntimeError(f"original {kind} {namespace_of(owner)}/{name_of(owner)} is gone: got uid "
                               f"{uid_of(fresh)}, wanted {uid_of(owner)}")
        if is_being_deleted(fresh):
            raise RuntimeError(f"{namespace_of(owner)}/{name_of(owner)} has just been deleted at "
                               f"{fresh['metadata']['deletionTimestamp']}")
    return check


def spec_selector(owner: Obj) -> LabelSelector:
    """``spec.selector`` as a LabelSelector (ValueError when it does not parse): the selector of most owners."""
    return label_selector_from_dict((owner.get("spec") or {}).get("selector"))


class OwnerLookup:
    """The owners of one kind in an informer, as a workload controller finds them from a dependent's events.

    By controller reference: same kind and name, and still the same object (uid). For orphans: the owners of the
    dependent's namespace (the informer needs :data:`NAMESPACE_INDEX`) whose non-empty selector matches its labels.
    Selectors are parsed once per owner uid and generation (one that does not parse matches nothing); the
    controller calls :meth:`forget` when an owner is deleted.
    """

    def __init__(self, informer: Informer, kind: str,
                 selector: Callable[[Obj], LabelSelector] = spec_selector) -> None:
        self.informer = informer
        self.kind = kind
        self._parse = selector
        self._selectors: dict[str, tuple[int, LabelSelector | None]] = {}

    def selector_of(self, owner: Obj) -> LabelSelector | None:
        """The parsed selector, cached per uid and generation; None if it cannot be parsed."""
        uid, gen = uid_of(owner), int((owner.get("metadata") or {}).get("generation") or 0)
        hit = self._selectors.get(uid)
        if hit is not None and hit[0] == gen:
            return hit[1]
        try:
            sel: LabelSelector | None = self._parse(owner)
        except ValueError:
            sel = None
        self._selectors[uid] = (gen, sel)
        return sel

    def forget(self, owner: Obj) -> None:
        self._selectors.pop(uid_of(owner), None)

    def resolve(self, namespace: str, ref: Obj) -> Obj | None:
        """The owner a controller reference points at, if it is ours and still the same object (uid)."""
        if ref.get("kind") != self.kind:
            return None
        owner = self.informer.get(f"{namespace}/{ref.get('name')}")
        return owner if owner is not None and uid_of(owner) == ref.get("uid") else None

    def selecting(self, obj: Obj) -> list[Obj]:
        """Owners in ``obj``'s namespace whose selector matches it (for orphans)."""
        labels = labels_of(obj)
        out = []
        for owner in self.informer.by_index(NAMESPACE_INDEX, namespace_of(obj)):
            sel = self.selector_of(owner)
            if sel is not None and not sel.empty and sel.matches(labels):
                out.append(owner)
        return out
