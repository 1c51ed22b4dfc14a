"""Typed comparison of two objects of one type, as kubernetes-sigs/structured-merge-diff ``typed.Compare``.

What a write changed — fields removed, modified and added — decides who owns what (:mod:`pybernetes.api.managedfields`
records it; server-side apply in :mod:`pybernetes.api.apply` compares too). Walks follow the compiled type
(:class:`~pybernetes.api.ssatypes.TypeNode`): a built-in struct is seen as Go holds it (fields Go always writes are
present even when the JSON leaves them out), atomic values compare as leaves, associative lists by their items'
keys. Results are trees in FieldsV1 form (see :mod:`pybernetes.api.fieldset`), never mutated once built.

A create compares the type's zero value with the new object; :func:`created_fields` computes just what
``record_update`` keeps of that (modified ∪ added) in one walk, already in FieldsV1 order, remembering the result
for top-level structs the replicas of a workload repeat.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson

from pybernetes.api.fieldset import (
    ABSENT,
    FieldSet,
    Tree,
    as_member,
    is_member,
    kids,
    node,
    sorted_tree,
    union,
)
from pybernetes.api.pathelement import pe_sort_key
from pybernetes.api.ssatypes import LIST, STRUCT, PathElementError, TypeNode, item_pe, root_node
from pybernetes.api.typeinfo import TypeInfo

__all__ = ["Comparison", "compare", "compare_trees", "created_fields"]


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
    object has none). ``tests/unit/api/test_typedcompare.py`` checks it against the general path.
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
    merged = _merge(mod, add)
    return None if merged is None else sorted_tree(merged, False)


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
