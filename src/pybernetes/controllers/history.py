"""ControllerRevisions: the pod-template history of StatefulSets and DaemonSets (upstream ``pkg/controller/history``
and the ``getPatch``/``ApplyRevision`` pair both controllers share).

A revision stores a strategic merge patch that puts a template back: ``{"spec": {"template": {..., "$patch":
"replace"}}}``. Two revisions are the same when their data bytes are; the data is serialised as Go's
``json.Marshal`` of a map would (keys sorted, ``<``/``>``/``&`` escaped), so it is stable whatever order the API
server hands the object back in, and the FNV-32 name hash is the one upstream computes for the same bytes.

The revision *number* orders the history: the current template's revision is always the highest; rolling back to
an older template bumps that revision's number instead of creating a duplicate (``UpdateControllerRevision``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import orjson

from pybernetes.api.meta import controller_ref, labels_of, name_of, namespace_of, uid_of
from pybernetes.api.selectors import LabelSelector
from pybernetes.client.informer import Informer
from pybernetes.client.resources import CONTROLLERREVISIONS
from pybernetes.client.rest import APIStatusError, is_already_exists, is_conflict, is_not_found
from pybernetes.controllers.controller_ref import new_controller_ref
from pybernetes.controllers.hashing import fnv32 as fnv32  # both re-exported: revision tests and callers use them here
from pybernetes.controllers.hashing import safe_encode as safe_encode

log = logging.getLogger(__name__)
Obj = dict[str, Any]

HASH_LABEL = "controller.kubernetes.io/hash"          # ControllerRevisionHashLabel: the hash of a revision's data
REVISION_LABEL = "controller-revision-hash"            # apps/v1 ControllerRevisionHashLabelKey, on pods
_GO_ESCAPES = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"),
               ("\u2028".encode(), b"\\u2028"), ("\u2029".encode(), b"\\u2029"))
MAX_CREATE_ATTEMPTS = 50


# ---------------------------------------------------------------------------------------------------------------
# Data, hashes and names (pure)


def template_patch(obj: Obj) -> Obj:
    """``getPatch``: the revision data that restores ``obj``'s pod template."""
    template = ((obj.get("spec") or {}).get("template")) or {}
    return {"spec": {"template": {**template, "$patch": "replace"}}}


def raw(data: Any) -> bytes:
    """Go's ``json.Marshal`` bytes of a decoded JSON value: compact, keys sorted, HTML characters escaped."""
    out = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    for plain, escaped in _GO_ESCAPES:
        if plain in out:
            out = out.replace(plain, escaped)
    return out


def hash_revision(data: Any, probe: int | None) -> str:
    """``HashControllerRevision``: FNV-32 of the data bytes and, if given, the collision count in decimal."""
    buf = raw(data)
    if probe is not None:
        buf += str(probe).encode()
    return safe_encode(str(fnv32(buf)))


def revision_name(prefix: str, hash_: str) -> str:
    """``<parent>-<hash>``, the prefix cut to 223 bytes so the name fits 253."""
    return f"{prefix[:223]}-{hash_}"


def new_revision(parent: Obj, *, api_version: str, kind: str, template_labels: dict[str, str] | None, data: Obj,
                 revision: int, collision_count: int | None, annotations: dict[str, str] | None = None) -> Obj:
    """A ControllerRevision body owned by ``parent``: the template's labels plus the hash label, named by hash."""
    hash_ = hash_revision(data, collision_count)
    meta: Obj = {"name": revision_name(name_of(parent), hash_), "namespace": namespace_of(parent),
                 "labels": {**(template_labels or {}), HASH_LABEL: hash_},
                 "ownerReferences": [new_controller_ref(parent, api_version=api_version, kind=kind)]}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": meta, "data": data,
            "revision": revision}


def revision_of(cr: Obj) -> int:
    return int(cr.get("revision") or 0)


def sort_revisions(revisions: Iterable[Obj]) -> list[Obj]:
    """By revision number; ties by creation time, then name (``byRevision``)."""
    return sorted(revisions, key=lambda r: (revision_of(r), (r.get("metadata") or {}).get("creationTimestamp")
                                            or "", name_of(r)))


def equal_revision(a: Obj | None, b: Obj | None) -> bool:
    """Same data bytes (``EqualRevision``; the hash label is only a shortcut upstream)."""
    if a is None or b is None:
        return a is b
    return raw(a.get("data")) == raw(b.get("data"))


def find_equal_revisions(revisions: Iterable[Obj], needle: Obj) -> list[Obj]:
    want = raw(needle.get("data"))
    return [r for r in revisions if raw(r.get("data")) == want]


def next_revision(revisions: list[Obj]) -> int:
    """One more than the highest revision of the (sorted) history; 1 for an empty one."""
    return revision_of(revisions[-1]) + 1 if revisions else 1


def owned_revisions(revisions: Iterable[Obj], parent: Obj, selector: LabelSelector) -> list[Obj]:
    """``ListControllerRevisions``: revisions the selector matches that ``parent`` controls or nobody does."""
    uid = uid_of(parent)
    out = []
    for r in revisions:
        if not selector.matches(labels_of(r)):
            continue
        ref = controller_ref(r)
        if ref is None or ref.get("uid") == uid:
            out.append(r)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Writes


class History:
    """Creates, renumbers, adopts and deletes one controller's revisions through the API (``realHistory``)."""

    def __init__(self, client: Any, revisions: Informer) -> None:
        self.client = client
        self.revisions = revisions

    def in_namespace(self, namespace: str) -> list[Obj]:
        return self.revisions.list(namespace)

    async def create(self, parent: Obj, body: Obj, collision_count: int) -> tuple[Obj, int]:
        """Create ``body``, renaming it with a bumped collision count while its name is taken by other data.
        Returns the stored revision and the collision count that named it."""
        ns = namespace_of(parent)
        for _ in range(MAX_CREATE_ATTEMPTS):
            hash_ = hash_revision(body["data"], collision_count)
            body["metadata"]["name"] = revision_name(name_of(parent), hash_)
            body["metadata"]["labels"][HASH_LABEL] = hash_
            try:
                return await self.client.create(CONTROLLERREVISIONS, body, ns), collision_count
            except APIStatusError as e:
                if not is_already_exists(e):
                    raise
            exists = await self.client.get(CONTROLLERREVISIONS, body["metadata"]["name"], ns)
            if raw(exists.get("data")) == raw(body["data"]):
                return exists, collision_count
            collision_count += 1
        raise RuntimeError(f"could not find a free name for a revision of {ns}/{name_of(parent)}")

    async def update_revision(self, revision: Obj, number: int) -> Obj:
        """Renumber ``revision`` (a rollback to an old template), retrying on conflicts with a fresh read."""
        cur = revision
        for _ in range(5):
            if revision_of(cur) == number:
                return cur
            body = {**cur, "revision": number}
            try:
                return await self.client.update(CONTROLLERREVISIONS, body)  # type: ignore[no-any-return]
            except APIStatusError as e:
                if not is_conflict(e):
                    raise
            cur = await self.client.get(CONTROLLERREVISIONS, name_of(cur), namespace_of(cur))
        raise RuntimeError(f"could not update revision {namespace_of(cur)}/{name_of(cur)}")

    async def delete(self, revision: Obj) -> None:
        try:
            await self.client.delete(CONTROLLERREVISIONS, name_of(revision), namespace_of(revision))
        except APIStatusError as e:
            if not is_not_found(e):
                raise

    async def adopt(self, parent: Obj, revision: Obj, *, api_version: str, kind: str) -> Obj:
        """Add ``parent`` as the controller of an orphan revision (strategic merge patch with a uid precondition)."""
        if controller_ref(revision) is not None:
            raise RuntimeError(f"attempt to adopt revision owned by {controller_ref(revision)}")
        patch = {"metadata": {"ownerReferences": [new_controller_ref(parent, api_version=api_version, kind=kind)],
                              "uid": uid_of(revision)}}
        return await self.client.patch(CONTROLLERREVISIONS, name_of(revision), patch,  # type: ignore[no-any-return]
                                       namespace_of(revision), patch_type="strategic")
