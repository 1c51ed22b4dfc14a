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
Custom resources are unstructured upstream and get no such view.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from pybernetes.api.fieldset import (
    ABSENT,
    FieldSet,
    Tree,
    as_member,
    decode_fields_v1,
    difference,
    is_member,
    kids,
    mark_canonical,
    node,
    recursive_difference,
    sorted_tree,
    union,
)
from pybernetes.api.pathelement import go_json, go_quote, pe_sort_key
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
from pybernetes.api.typeinfo import TypeInfo

__all__ = [
    "DEDUCED", "DEDUCED_NODE", "LAST_APPLIED", "LIST", "MAP", "MAX_UPDATE_MANAGERS", "SCALAR", "STRIP", "STRUCT",
    "UNTYPED", "UNTYPED_NODE", "Comparison", "Ident", "Managed", "ManagerEntry", "PathElementError", "TypeNode",
    "cap_update_managers", "compare", "compare_trees", "created_fields", "decode_managed_fields",
    "encode_managed_fields", "ident_json", "item_pe", "live_or_new", "node_of", "print_manager", "record_update",
    "remove_changed", "reset_fields", "root_node", "update_managed_fields",
]


# ---------------------------------------------------------------------------------------------- Compare
class Comparison(NamedTuple):
    """SMD ``typed.Comparison``: fields the right side removed, modified and added."""

    removed: FieldSet
    modified: FieldSet
    added: FieldSet

    def is_same(self) -> bool:
        return not (self.removed or self.modified or self.added)


def compare(lhs: dict[str, Any] | None, rhs: dict[str, Any], ti: TypeInfo) -> Comparison:
    """Compare two objects of one type (``lhs`` None: a create, compared with the type's zero value)."""
    rem, mod, add = compare_trees(lhs, rhs, root_node(ti))
    return Comparison(FieldSet.of_tree(rem), FieldSet.of_tree(mod), FieldSet.of_tree(add))


def compare_trees(lhs: dict[str, Any] | None, rhs: dict[str, Any], root: TypeNode,
                  skip: Tree | None = None) -> tuple[Tree, Tree, Tree]:
    """(removed, modified, added) trees; subtrees that are members of ``skip`` (reset fields) are not walked."""
    rem, mod, add = _cmp_map(lhs if lhs is not None else {}, rhs, root, root.message is not None, skip)
    return rem or {}, mod or {}, add or {}


def _leaf(lv: Any, rv: Any) -> tuple[Tree | None, Tree | None, Tree | None]:
    if lv is ABSENT:
        return None, None, {}
    if rv is ABSENT:
        return {}, None, None
    if lv == rv:
        return None, None, None
    return None, {}, None


def _go_view(d: Any, t: TypeNode, mat: bool) -> Any:
    """A built-in struct as Go holds it: fields Go always writes are there even when the JSON omits them."""
    if mat and t.message is not None and type(d) is dict:
        z = t.zero()
        if z is not None and not d.keys() >= z.keys():     # a C-level subset test: no Python loop per key
            return {**z, **d}
    return d


def _cmp(lv: Any, rv: Any, t: TypeNode | None, mat: bool,
         skip: Tree | None = None) -> tuple[Tree | None, Tree | None, Tree | None]:
    """(removed, modified, added) nodes for one value; ``mat``: view built-in structs as Go does."""
    if t is None or t.atomic:
        return _leaf(lv, rv)
    if lv is ABSENT:
        return None, None, _one_side(rv, t, mat)
    if rv is ABSENT:
        return _one_side(lv, t, mat), None, None
    if t.kind == LIST:
        ll = lv if type(lv) is list else None
        rl = rv if type(rv) is list else None
        if (ll is None and lv is not None) or (rl is None and rv is not None) or (not ll and not rl):
            return _leaf(lv, rv)
        try:
            return _cmp_list(ll or [], rl or [], t, mat)
        except PathElementError:
            return _leaf(lv, rv)
    ld = _go_view(lv, t, mat) if type(lv) is dict else None
    rd = _go_view(rv, t, mat) if type(rv) is dict else None
    if (ld is None and lv is not None) or (rd is None and rv is not None) or (not ld and not rd):
        return _leaf(lv, rv)
    return _cmp_map(ld, rd, t, mat, skip)


def _one_side(v: Any, t: TypeNode | None, mat: bool) -> Tree:
    """The node of a value only one side has: everything in it added (or removed), containers included."""
    if t is None or t.atomic:
        return {}
    if t.kind == LIST:
        if type(v) is not list or not v:
            return {}
        try:
            pes = [item_pe(x, t) for x in v]
        except PathElementError:
            return {}
        out: Tree = {".": {}}
        dups = {pe for pe in pes if pes.count(pe) > 1} if len(set(pes)) != len(pes) else ()
        for pe, x in sorted(zip(pes, v, strict=True), key=_by_pe) if len(pes) > 1 else zip(pes, v, strict=True):
            if pe not in out:
                out[pe] = {} if pe in dups else _one_side(x, t.elem, mat)
        return out
    v = _go_view(v, t, mat)
    if type(v) is not dict or not v:
        return {}
    out = {".": {}}
    for k in sorted(v):                        # emitted in FieldsV1 order: no re-sort when encoding
        ft = t.field(k)
        out["f:" + k] = {} if ft is None or ft.atomic else _one_side(v[k], ft, mat)
    return out


def _by_pe(item: tuple[str, Any]) -> tuple[Any, ...]:
    return pe_sort_key(item[0])


def _put(out: Tree | None, pe: str, n: Tree | None) -> Tree | None:
    if n is None:
        return out
    if out is None:
        return {pe: n}
    old = out.get(pe)
    out[pe] = n if old is None else node(is_member(old) or is_member(n), union(kids(old), kids(n)))
    return out


def _cmp_map(ld: dict[str, Any] | None, rd: dict[str, Any] | None, t: TypeNode, mat: bool,
             skip: Tree | None = None) -> tuple[Tree | None, Tree | None, Tree | None]:
    ld = _go_view(ld, t, mat)
    rd = _go_view(rd, t, mat)
    rem: Tree | None = None
    mod: Tree | None = None
    add: Tree | None = None
    if ld:
        for k, lv in ld.items():
            rv = rd.get(k, ABSENT) if rd is not None else ABSENT
            if rv is lv or (rv is not ABSENT and rv == lv):
                continue                       # equal values compare to nothing, whatever their type
            pe = "f:" + k
            sk = skip.get(pe) if skip else None
            if sk is not None and is_member(sk):
                continue
            ft = t.field(k)
            if ft is None or ft.atomic:        # leaves inline: most fields are
                if rv is ABSENT:
                    rem = rem if rem is not None else {}
                    rem[pe] = {}
                else:
                    mod = mod if mod is not None else {}
                    mod[pe] = {}
                continue
            a, b, c = _cmp(lv, rv, ft, mat, sk)
            rem, mod, add = _put(rem, pe, a), _put(mod, pe, b), _put(add, pe, c)
    if rd:
        for k, rv in rd.items():
            if ld and k in ld:
                continue
            pe = "f:" + k
            if skip and pe in skip and is_member(skip[pe]):
                continue
            ft = t.field(k)
            add = _put(add, pe, {} if ft is None or ft.atomic else _one_side(rv, ft, mat))
    return rem, mod, add


def _cmp_list(ll: list[Any], rl: list[Any], t: TypeNode,
              mat: bool) -> tuple[Tree | None, Tree | None, Tree | None]:
    order: list[str] = []
    lvals: dict[str, list[Any]] = {}
    rvals: dict[str, list[Any]] = {}
    for x in ll:
        pe = item_pe(x, t)
        got = lvals.get(pe)
        if got is None:
            lvals[pe] = [x]
            order.append(pe)
        else:
            got.append(x)
    for x in rl:
        pe = item_pe(x, t)
        got = rvals.get(pe)
        if got is None:
            rvals[pe] = [x]
            if pe not in lvals:
                order.append(pe)
        else:
            got.append(x)
    rem = mod = add = None
    elem = t.elem
    for pe in order:
        lL = lvals.get(pe, ())
        rL = rvals.get(pe, ())
        if len(lL) <= 1 and len(rL) <= 1:
            lv = lL[0] if lL else ABSENT
            rv = rL[0] if rL else ABSENT
            if lv is rv or (lv is not ABSENT and rv is not ABSENT and lv == rv):
                continue
            a, b, c = _cmp(lv, rv, elem, mat)
            rem, mod, add = _put(rem, pe, a), _put(mod, pe, b), _put(add, pe, c)
        elif len(lL) >= 2 and len(rL) >= 2:
            if lL != rL:
                mod = _put(mod, pe, {})
        elif len(lL) >= 2:                     # duplicates resolved: the survivor is new, the duplicates gone
            if rL:
                a, b, c = _cmp(ABSENT, rL[0], elem, mat)
                rem, mod, add = _put(rem, pe, a), _put(mod, pe, b), _put(add, pe, c)
            rem = _put(rem, pe, {})
        else:                                  # new duplicates: the old item is gone, the duplicates new
            if lL:
                a, b, c = _cmp(lL[0], ABSENT, elem, mat)
                rem, mod, add = _put(rem, pe, a), _put(mod, pe, b), _put(add, pe, c)
            add = _put(add, pe, {})
    return rem, mod, add


# ---------------------------------------------------------------------------------------------- create
def created_fields(new: dict[str, Any], root: TypeNode, skip: Tree | None = None) -> Tree:
    """``union(modified, added)`` of :func:`compare_trees` ``(None, new, root, skip)``, in one walk and already in
    FieldsV1 order (as :func:`~pybernetes.api.fieldset.sorted_tree` would put it).

    A create's old object is the type's zero value, so nothing is removed, and the changed fields are all
    :func:`record_update` keeps of the comparison (removed fields are taken from other managers: a created
    object has none). ``tests/unit/api/test_managedfields_create.py`` checks it against the general path.
    """
    mat = root.message is not None
    return _changed_map(_go_view({}, root, mat), _go_view(new, root, mat), root, mat, skip, memo=True) or {}


# The changed fields of a top-level struct (a Pod's spec, a Deployment's spec ...) by its JSON: the replicas of a
# workload are created with the same spec, and its walk was most of the cost of recording a create. The trees are
# shared by the entries of every object that had that spec, as unchanged entries already share theirs (trees are
# never mutated). Bounded in count and in the size of the values remembered.
_CREATED_MEMO: dict[tuple[TypeNode, str, bytes], Tree | None] = {}
_MEMO_ENTRIES = 1024
_MEMO_MAX_BYTES = 16384


def _changed_memo(root: TypeNode, k: str, lv: Any, rv: dict[str, Any], ft: TypeNode, mat: bool) -> Tree | None:
    try:
        data = orjson.dumps(rv)
    except TypeError:
        data = b""
    if not data or len(data) > _MEMO_MAX_BYTES:
        return _one_side(rv, ft, mat) if lv is ABSENT else _changed(lv, rv, ft, mat, None)
    key = (root, k, data)
    if key in _CREATED_MEMO:
        return _CREATED_MEMO[key]
    n = _one_side(rv, ft, mat) if lv is ABSENT else _changed(lv, rv, ft, mat, None)
    if len(_CREATED_MEMO) >= _MEMO_ENTRIES:
        _CREATED_MEMO.clear()
    _CREATED_MEMO[key] = n
    return n


def _merge(mod: Tree | None, add: Tree | None) -> Tree | None:
    """One key of ``union(mod, add)``: the two nodes a comparison gave for it, merged as :func:`union` does."""
    if mod is None:
        return add
    if add is None:
        return mod
    both = union(kids(mod), kids(add))
    return as_member(both) if is_member(mod) or is_member(add) else both


def _changed(lv: Any, rv: Any, t: TypeNode | None, mat: bool, skip: Tree | None) -> Tree | None:
    """The modified and added nodes :func:`_cmp` gives for one value, merged; sorted."""
    if t is None or t.atomic:
        return None if rv is ABSENT or (lv is not ABSENT and lv == rv) else {}
    if lv is ABSENT:
        return _one_side(rv, t, mat)
    if rv is ABSENT:
        return None
    if t.kind == LIST:
        if lv is None and type(rv) is list and rv:
            # Go's nil slice against items: every item added (the list itself is no member: it was "there").
            n = _one_side(rv, t, mat)
            return kids(n) if n else {}
    elif type(lv) is dict and type(rv) is dict:
        ld, rd = _go_view(lv, t, mat), _go_view(rv, t, mat)
        if ld or rd:
            return _changed_map(ld, rd, t, mat, skip)
    _, mod, add = _cmp(lv, rv, t, mat, skip)      # mismatched shapes, non-nil zero lists: the general walk
    n = _merge(mod, add)
    return None if n is None else sorted_tree(n, False)


def _changed_map(ld: dict[str, Any], rd: dict[str, Any], t: TypeNode, mat: bool,
                 skip: Tree | None, *, memo: bool = False) -> Tree | None:
    """``memo``: the object's top level, whose struct fields but metadata are looked up in ``_CREATED_MEMO``."""
    out: Tree = {}
    for k in sorted(rd.keys() | ld.keys() if ld else rd):
        lv = ld.get(k, ABSENT) if ld else ABSENT
        rv = rd.get(k, ABSENT)
        if rv is lv or (rv is not ABSENT and rv == lv):
            continue
        pe = "f:" + k
        sk = skip.get(pe) if skip else None
        if sk is not None and is_member(sk):
            continue
        ft = t.field(k)
        if ft is None or ft.atomic:
            if rv is not ABSENT:
                out[pe] = {}
            continue
        if memo and sk is None and ft.kind == STRUCT and type(rv) is dict and k != "metadata":
            n = _changed_memo(t, k, lv, rv, ft, mat)
        else:
            n = _one_side(rv, ft, mat) if lv is ABSENT else _changed(lv, rv, ft, mat, sk)
        if n is not None:
            out[pe] = n
    return out or None


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
