"""Managed fields: who owns which field, recorded on every write, as the Go API server's field manager does.

Mirrors k8s.io/apimachinery ``pkg/util/managedfields/internal`` (the manager chain ``NewDefaultFieldManager``
builds) over kubernetes-sigs/structured-merge-diff v4.6 (``merge.Updater``, ``typed.Compare``/``ToFieldSet``):

- a write that is not an apply (create, update, non-apply patch) compares the old and new object; the fields it
  added or modified become owned by its manager (operation ``Update``) and are taken from every other manager,
  appliers included; removed fields leave every set (``Updater.Update``, ``managedFieldsUpdater``);
- ownership is keyed by (manager, operation, apiVersion — for Update only —, subresource); an entry's ``time``
  moves only when that write changed something it owns;
- fields the API server never tracks are stripped (``stripMetaManager``), reset fields (status on the main
  resource of a kind with a status subresource, ...) are filtered out (``IgnoreFilter``), and more than ten
  Update managers are folded into ``ancient-changes`` buckets (``capManagersManager``);
- a client may replace ``metadata.managedFields`` on the main resource, and reset them with ``[]`` (or one empty
  entry); an object whose managed fields are empty is then no longer tracked until the next apply
  (``skipNonAppliedManager``);
- a ``/scale`` write is recorded on the parent (``.spec.replicas``, subresource ``scale``) without a time, as
  upstream's ``ScaleHandler`` leaves it.

Typed walks need the type: :class:`~pybernetes.api.ssatypes.TypeNode` (in :mod:`pybernetes.api.ssatypes`,
re-exported here with the other compiled-type names) compiles a :class:`~pybernetes.api.typeinfo.TypeInfo` into
SMD's notions once per type (cached). Built-in kinds are Go structs upstream, so a struct field that Go always writes
(a non-pointer struct, a non-omitempty scalar) counts as present even when the JSON dict leaves it out: that is
what makes ``f:spec`` carry no ``"."`` but a new container's ``f:resources: {}`` appear, exactly as on a cluster.
Custom resources are unstructured upstream and get no such view. The comparison itself (SMD ``typed.Compare``, and
the one-walk form a create needs) lives in :mod:`pybernetes.api.typedcompare`, its names re-exported here.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from pybernetes.api.fieldset import (
    FieldSet,
    Tree,
    decode_fields_v1,
    difference,
    mark_canonical,
    recursive_difference,
    sorted_tree,
    union,
)
from pybernetes.api.pathelement import go_json, go_quote
from pybernetes.api.ssatypes import (
    DEDUCED,
    DEDUCED_NODE,
    LIST,
    MAP,
    SCALAR,
    STRUCT,
    UNTYPED,
    UNTYPED_NODE,
    PathElementError,
    TypeNode,
    item_pe,
    node_of,
    root_node,
)
from pybernetes.api.typedcompare import Comparison, compare, compare_trees, created_fields
from pybernetes.api.typeinfo import TypeInfo

__all__ = [
    "DEDUCED", "DEDUCED_NODE", "LAST_APPLIED", "LIST", "MAP", "MAX_UPDATE_MANAGERS", "SCALAR", "STRIP", "STRUCT",
    "UNTYPED", "UNTYPED_NODE", "Comparison", "Ident", "Managed", "ManagerEntry", "PathElementError", "TypeNode",
    "cap_update_managers", "compare", "compare_trees", "created_fields", "decode_managed_fields",
    "encode_managed_fields", "ident_json", "item_pe", "live_or_new", "node_of", "print_manager", "record_update",
    "remove_changed", "reset_fields", "root_node", "update_managed_fields",
]


# ---------------------------------------------------------------------------------------------- managers
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_UPDATE_MANAGERS = 10
# Fields no manager ever owns (stripMetaManager); a plain difference: labels and annotations stay owned.
STRIP = FieldSet([("f:apiVersion",), ("f:kind",), ("f:metadata",)] + [
    ("f:metadata", "f:" + k) for k in ("name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName",
                                       "generation", "managedFields", "resourceVersion")]).tree

Ident = tuple[str, str, str, str]          # (manager, operation, apiVersion for Update else "", subresource)


@dataclass(slots=True)
class ManagerEntry:
    """One ``managedFields`` entry, decoded. ``raw`` is the fieldsV1 object ``tree`` came from (canonical,
    reused on output while the tree is unchanged)."""

    manager: str
    operation: str
    api_version: str
    subresource: str
    time: str | None
    tree: Tree
    raw: dict[str, Any] | None = None

    @property
    def ident(self) -> Ident:
        return (self.manager, self.operation, self.api_version if self.operation == "Update" else "",
                self.subresource)

    @property
    def fields(self) -> FieldSet:
        return FieldSet.of_tree(self.tree)


Managed = dict[Ident, ManagerEntry]


def decode_managed_fields(entries: Any) -> Managed:
    """Decode ``metadata.managedFields``; ValueError (upstream's message) for an invalid entry."""
    out: Managed = {}
    if entries is None:
        return out
    if type(entries) is not list:
        raise ValueError("managedFields must be a list")
    for i, e in enumerate(entries):
        if type(e) is not dict:
            raise ValueError(f"managed fields entry {i} is not an object")
        op = e.get("operation")
        if op not in ("Apply", "Update"):
            raise ValueError("operation must be `Apply` or `Update`")
        av = e.get("apiVersion") or ""
        if not av:
            raise ValueError("apiVersion must not be empty")
        ft = e.get("fieldsType") or ""
        if ft != "FieldsV1":
            raise ValueError(f"missing fieldsType in managed fields entry {i}" if not ft else
                             f"invalid fieldsType {go_quote(ft)} in managed fields entry {i}")
        raw = e.get("fieldsV1")
        tree = decode_fields_v1(raw) if raw is not None else {}
        entry = ManagerEntry(e.get("manager") or "", op, av, e.get("subresource") or "", e.get("time") or None,
                             tree, raw if (raw is not None and tree is raw) else None)
        out[entry.ident] = entry
    return out


_UNIX: dict[str, int] = {}


def _unix(t: str | None) -> int:
    if not t:
        return 0
    got = _UNIX.get(t)
    if got is None:
        try:
            got = int(datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp())
        except ValueError:
            got = 0
        if len(_UNIX) > 10000:
            _UNIX.clear()
        _UNIX[t] = got
    return got


def encode_managed_fields(managed: Managed) -> list[dict[str, Any]]:
    """``managedFields`` entries in upstream's order: Apply before Update, then by time, manager, version."""
    out = []
    for e in sorted(managed.values(), key=lambda e: (e.operation, _unix(e.time), e.manager, e.api_version,
                                                      e.subresource)):
        d: dict[str, Any] = {}
        if e.manager:
            d["manager"] = e.manager
        d["operation"] = e.operation
        d["apiVersion"] = e.api_version
        if e.time:
            d["time"] = e.time
        d["fieldsType"] = "FieldsV1"
        if e.raw is not None:
            d["fieldsV1"] = e.raw
        else:
            d["fieldsV1"] = e.raw = sorted_tree(e.tree)
            mark_canonical(e.raw)
        if e.subresource:
            d["subresource"] = e.subresource
        out.append(d)
    return out


def ident_json(ident: Ident) -> str:
    """The manager identifier upstream keys conflicts by (``BuildManagerIdentifier``); sorts conflict lists."""
    parts = [f'"{k}":{go_json(v)}' for k, v in zip(("manager", "operation", "apiVersion"), ident, strict=False) if v]
    if ident[3]:
        parts.append('"subresource":' + go_json(ident[3]))
    return "{" + ",".join(parts) + "}"


def print_manager(ident: Ident, api_version: str) -> str:
    """How a conflict names its manager (``printManager``): Update managers say which version they used."""
    s = go_quote(ident[0])
    if ident[3]:
        s += f" with subresource {go_quote(ident[3])}"
    return f"{s} using {api_version}" if ident[1] == "Update" else s


def remove_changed(managed: Managed, changed: Tree, removed: Tree, skip: Ident | None = None) -> None:
    """Take changed and removed fields from every manager but ``skip``; drop managers left empty."""
    for ident, e in list(managed.items()):
        if ident != skip:
            t = difference(difference(e.tree, changed), removed)
            if t is not e.tree:
                e.tree, e.raw = t, None
        if not e.tree:
            del managed[ident]


def record_update(managed: Managed, rem: Tree, mod: Tree, add: Tree, *, manager: str, subresource: str,
                  now: str | None, api_version: str) -> None:
    """``Updater.Update`` as seen through ``managedFieldsUpdater`` (the write as manager "current-operation");
    ``now`` None leaves the entry without a time."""
    changed = union(mod, add)
    remove_changed(managed, changed, rem)
    cur = difference(changed, STRIP)
    if not cur:
        return
    ident = (manager or "unknown", "Update", api_version, subresource)
    e = managed.get(ident)
    if e is None:
        managed[ident] = ManagerEntry(ident[0], "Update", api_version, subresource, now, cur)
    else:
        e.tree, e.raw, e.time = union(cur, e.tree), None, now


def cap_update_managers(managed: Managed, limit: int = MAX_UPDATE_MANAGERS) -> None:
    """Fold the oldest Update managers into one ``ancient-changes`` entry per version (``capManagersManager``)."""
    updaters = [i for i, e in managed.items() if e.operation == "Update"]
    if len(updaters) <= limit:
        return
    updaters.sort(key=lambda i: (_unix(managed[i].time), ident_json(i)))
    first_of: dict[str, Ident] = {}
    length = len(updaters)
    for ident in updaters:
        if length <= limit:
            break
        e = managed[ident]
        bucket = ("ancient-changes", "Update", e.api_version, "")
        first = first_of.get(e.api_version)
        if first is None or ident == bucket:
            first_of.setdefault(e.api_version, ident)
            continue
        if bucket not in managed:
            s = managed.pop(first)
            managed[bucket] = ManagerEntry("ancient-changes", "Update", e.api_version, "", s.time, s.tree)
        b = managed[bucket]
        b.tree, b.raw, b.time = union(e.tree, b.tree), None, e.time
        del managed[ident]
        length -= 1


def _decode_or_empty(entries: Any) -> Managed:
    try:
        return decode_managed_fields(entries)
    except ValueError:
        return {}


def _is_reset(mf: Any) -> bool:
    """``[]`` or one all-empty entry: the client asks to drop managed fields (``isResetManagedFields``)."""
    if type(mf) is not list or len(mf) > 1:
        return False
    return not mf or (type(mf[0]) is dict and all(v in (None, "") for v in mf[0].values()))


def live_or_new(old: dict[str, Any] | None, new_meta: dict[str, Any], subresource: str) -> Managed:
    """Which managed fields an update starts from (``decodeLiveOrNew``): the request's own, when it sends valid
    non-empty ones to the main resource; none when it resets them; else the stored object's."""
    live_mf = ((old or {}).get("metadata") or {}).get("managedFields")
    if subresource:
        return _decode_or_empty(live_mf)
    new_mf = new_meta.get("managedFields")
    if _is_reset(new_mf):
        return {}
    if new_mf and new_mf is not live_mf and new_mf != live_mf:
        try:
            managed = decode_managed_fields(new_mf)
        except ValueError:
            managed = {}
        if managed:
            return managed
    return _decode_or_empty(live_mf)


def reset_fields(*, subresource: str = "", has_status_subresource: bool) -> FieldSet | None:
    """The usual reset fields (``GetResetFields``): status for the main resource of a kind with a status
    subresource, spec for the status subresource. Kinds that reset more pass their own set."""
    if subresource == "status":
        return _RESET_SPEC
    if not subresource and has_status_subresource:
        return _RESET_STATUS
    return None


_RESET_SPEC = FieldSet([("f:spec",)])         # immutable: shared by every write
_RESET_STATUS = FieldSet([("f:status",)])


def update_managed_fields(old: dict[str, Any] | None, new: dict[str, Any], *, manager: str,
                          operation: str = "Update", subresource: str = "", ti: TypeInfo, now: str,
                          api_version: str, ignored: FieldSet | None = None) -> None:
    """Record a create/update/non-apply patch in ``new["metadata"]["managedFields"]`` (mutates ``new`` only).

    ``old`` is the stored object (None for a create); ``now`` an RFC 3339 time; ``api_version`` the request's
    group/version; ``ignored`` the reset fields (see :func:`reset_fields`). Unchanged entries keep their
    ``fieldsV1`` objects (shared with ``old``; treat them as immutable).
    """
    if operation != "Update":
        raise ValueError("update_managed_fields records Update operations; use apply.apply for Apply")
    meta = new.get("metadata")
    if type(meta) is not dict:
        return
    managed = live_or_new(old, meta, subresource)
    meta.pop("managedFields", None)
    if not managed and old is not None and (old.get("metadata") or {}).get("uid"):
        return                                 # untracked object: stays so until an apply
    skip = ignored.tree if ignored else None
    if old is None and not managed:
        _record_create(meta, created_fields(new, root_node(ti), skip), skip, manager=manager,
                       subresource=subresource, now=None if subresource == "scale" else now, api_version=api_version)
        return
    rem, mod, add = compare_trees(old, new, root_node(ti), skip)
    if ignored:
        rem, mod, add = (recursive_difference(x, ignored.tree) for x in (rem, mod, add))
    # Upstream's ScaleHandler maps the Scale's entries back onto the parent without their time: a /scale writer's
    # entry never carries one (real clusters show `subresource: scale` entries with no time).
    record_update(managed, rem, mod, add, manager=manager, subresource=subresource,
                  now=None if subresource == "scale" else now, api_version=api_version)
    cap_update_managers(managed)
    if managed:
        meta["managedFields"] = encode_managed_fields(managed)


def _record_create(meta: dict[str, Any], changed: Tree, ignored: Tree | None, *, manager: str, subresource: str,
                   now: str | None, api_version: str) -> None:
    """What :func:`record_update` and :func:`encode_managed_fields` make of a create with no managed fields yet:
    one entry owning the changed fields, whose tree is already in FieldsV1 order (so it is its own fieldsV1)."""
    if ignored:
        changed = recursive_difference(changed, ignored)
    cur = difference(changed, STRIP)
    if not cur:
        return
    mark_canonical(cur)
    e = ManagerEntry(manager or "unknown", "Update", api_version, subresource, now, cur, cur)
    meta["managedFields"] = encode_managed_fields({e.ident: e})
