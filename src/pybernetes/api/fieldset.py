"""Field sets: the fields of an object a manager owns, and their ``FieldsV1`` wire form.

Server-side apply tracks ownership per field path, exactly as kubernetes-sigs/structured-merge-diff (SMD) v4
``fieldpath`` does. A path is a tuple of serialized path elements (``f:spec``, ``k:{"name":"web"}``, ``v:"x"``,
``i:0``), made, parsed, spelled canonically and ordered by :mod:`pybernetes.api.pathelement` (whose names are
re-exported here).

A set is stored as a tree in ``FieldsV1`` form: a node is a dict from path element to child node; a node is a
*member* of the set when it is ``{}`` or holds the ``"."`` key, and ``"."`` appears only beside children. So a
decoded ``managedFields[].fieldsV1`` that is already canonical *is* the tree and needs no copy; only output is
sorted into upstream's order (``"."`` first, then field names, keys, values, indices as ``PathElement.Compare``).
Trees are never mutated once built, so operations share unchanged subtrees, and a FieldsV1 object found
canonical once is remembered by identity (objects stored or produced here must be treated as immutable).

``fieldset_of`` computes what an object sets (SMD ``TypedValue.ToFieldSet``) from a
:class:`~pybernetes.api.typeinfo.TypeInfo`; the per-type facts are compiled once and cached
(``ssatypes.TypeNode``), and the walk lives with the other typed walks in ``apply``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pybernetes.api.pathelement import (
    Path,
    _pe_less,
    canonical_pe,
    field,
    go_json,
    go_quote,
    index,
    key,
    make_path,
    parse_pe,
    path_string,
    pe_sort_key,
    pe_string,
    value,
)
from pybernetes.api.typeinfo import TypeInfo

__all__ = [
    "ABSENT", "FieldSet", "Path", "Tree", "as_member", "canonical_pe", "decode_fields_v1", "difference", "field",
    "fieldset_of", "go_json", "go_quote", "index", "intersection", "intersects", "is_member", "key", "kids",
    "make_path", "mark_canonical", "node", "parse_pe", "path_string", "pe_sort_key", "pe_string",
    "recursive_difference", "sorted_tree", "union", "value",
]

Tree = dict[str, Any]

ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "ABSENT"})()  # a missing key, unlike JSON null


# ---------------------------------------------------------------------------------------------- tree operations
def is_member(n: Tree) -> bool:
    return not n or "." in n


def kids(n: Tree) -> Tree:
    """The children of a node (the node itself when it carries no ``"."``)."""
    if "." not in n:
        return n
    return {k: v for k, v in n.items() if k != "."}


def node(member: bool, children: Tree) -> Tree | None:
    """A node from its membership and children; None when it would be neither."""
    if not children:
        return {} if member else None
    if member:
        out: Tree = {".": {}}
        out.update(children)
        return out
    return children


def as_member(n: Tree | None) -> Tree:
    if n is None:
        return {}
    return n if (not n or "." in n) else node(True, n)  # type: ignore[return-value]


def union(a: Tree, b: Tree) -> Tree:
    """Children maps a ∪ b."""
    if not a or a is b:
        return b
    if not b:
        return a
    out = dict(a)
    for k, bn in b.items():
        an = out.get(k)
        if an is None:
            out[k] = bn
        elif an is not bn:
            both = union(kids(an), kids(bn))
            out[k] = as_member(both) if is_member(an) or is_member(bn) else both
    return out


def intersection(a: Tree, b: Tree) -> Tree:
    if len(a) > len(b):
        a, b = b, a
    out: Tree = {}
    for k, an in a.items():
        bn = b.get(k)
        if bn is not None:
            n = node(is_member(an) and is_member(bn), intersection(kids(an), kids(bn)))
            if n is not None:
                out[k] = n
    return out


def intersects(a: Tree, b: Tree) -> bool:
    if len(a) > len(b):
        a, b = b, a
    for k, an in a.items():
        bn = b.get(k)
        if bn is not None and ((is_member(an) and is_member(bn)) or intersects(kids(an), kids(bn))):
            return True
    return False


def difference(a: Tree, b: Tree) -> Tree:
    """SMD ``Set.Difference``: members of a not members of b; subtrees compared child by child."""
    if not b or not a:
        return a
    out: Tree = {}
    changed = False
    for k, an in a.items():
        bn = b.get(k)
        if bn is None:
            out[k] = an
            continue
        ka = kids(an)
        kd = difference(ka, kids(bn))
        m = is_member(an) and not is_member(bn)
        if kd is ka and m == is_member(an):
            out[k] = an
            continue
        changed = True
        n = node(m, kd)
        if n is not None:
            out[k] = n
    return out if changed else a


def recursive_difference(a: Tree, b: Tree) -> Tree:
    """SMD ``Set.RecursiveDifference``: a member of b removes the whole subtree from a."""
    if not b or not a:
        return a
    out: Tree = {}
    for k, an in a.items():
        bn = b.get(k)
        if bn is None:
            out[k] = an
        elif not is_member(bn):
            n = node(is_member(an), recursive_difference(kids(an), kids(bn)))
            if n is not None:
                out[k] = n
    return out


def _leaves(a: Tree) -> Tree:
    out: Tree = {}
    for k, n in a.items():
        if not n:
            out[k] = {}
        else:
            sub = _leaves(kids(n))
            if sub:
                out[k] = sub
    return out


def _size(a: Tree) -> int:
    return sum(is_member(n) + _size(kids(n)) for n in a.values())


def _iterate(a: Tree, prefix: Path) -> Iterator[Path]:
    """Members in upstream's ``Set.Iterate`` order: a level's members first, then its children, all sorted."""
    ks = sorted(a, key=pe_sort_key)
    for k in ks:
        if is_member(a[k]):
            yield (*prefix, k)
    for k in ks:
        n = a[k]
        if n and (len(n) > 1 or "." not in n):
            yield from _iterate(kids(n), (*prefix, k))


def sorted_tree(a: Tree, root: bool = True) -> Tree:
    """The tree in upstream's key order; returns ``a`` itself when it already is (no copy)."""
    ordered = True
    changed: Tree | None = None
    prev = None
    for i, (k, n) in enumerate(a.items()):
        if k == ".":
            ordered = ordered and i == 0
            continue
        if ordered and prev is not None and ((k < prev) if (k[0] == "f" and prev[0] == "f")
                                             else not pe_sort_key(prev) < pe_sort_key(k)):
            ordered = False
        prev = k
        if n:
            s = sorted_tree(n, False)
            if s is not n:
                changed = changed if changed is not None else {}
                changed[k] = s
    if ordered and changed is None:
        return a
    out: Tree = {".": {}} if (not root and "." in a) else {}
    ks = [k for k in a if k != "."]
    for k in (ks if ordered else sorted(ks, key=pe_sort_key)):
        out[k] = changed.get(k, a[k]) if changed is not None else a[k]
    return out


def _copy_sorted(a: Tree, root: bool = True) -> Tree:
    out: Tree = {}
    if not root and "." in a:
        out["."] = {}
    for k in sorted((k for k in a if k != "."), key=pe_sort_key):
        out[k] = _copy_sorted(a[k], False)
    return out


def _canonical(a: Any, root: bool) -> bool:
    """True when ``a`` is exactly what upstream would serialize (so it can serve as the tree, uncopied)."""
    if type(a) is not dict:
        return False
    prev = None
    for i, (k, n) in enumerate(a.items()):
        if type(n) is not dict:
            return False
        if k == ".":
            if root or i != 0 or n or len(a) == 1:
                return False
            continue
        if k[:2] != "f:":
            try:
                if canonical_pe(k) != k:
                    return False
            except ValueError:
                return False
        if prev is not None and not _pe_less(prev, k):
            return False
        prev = k
        if n and not _canonical(n, False):
            return False
    return True


def _from_v1(d: Any) -> tuple[Tree, bool]:
    """Children and membership of a FieldsV1 node, as upstream's ``readIterV1`` (unknown elements dropped)."""
    if type(d) is not dict:
        raise ValueError("fieldsV1 node is not an object")
    children: Tree = {}
    member = False
    for k, v in d.items():
        if k == ".":
            member = True
            continue
        pe = canonical_pe(k)
        if pe is None:
            continue
        sub, sub_member = _from_v1(v)
        n = node(sub_member, sub)
        if n is None:
            continue
        old = children.get(pe)
        children[pe] = n if old is None else node(is_member(old) or sub_member, union(kids(old), sub))
    if not children:
        member = True
    return children, member


_VERIFIED: dict[int, Tree] = {}


def mark_canonical(d: Tree) -> None:
    """Remember that ``d`` (never mutated afterwards) is canonical, so decoding it again costs nothing."""
    if len(_VERIFIED) > 20000:
        _VERIFIED.clear()
    _VERIFIED[id(d)] = d                       # the reference keeps the id from being reused


def decode_fields_v1(d: Any) -> Tree:
    """The tree of a FieldsV1 object; the object itself when canonical (then it must not be mutated)."""
    known = _VERIFIED.get(id(d))
    if known is not None and known is d:
        return known
    if _canonical(d, True):
        tree: Tree = d
        mark_canonical(tree)
        return tree
    if d == {} or d is None:
        return {}
    children, _ = _from_v1(d)
    return children


def _go_json_tree(a: Tree) -> str:
    return "{" + ",".join(go_json(k) + ":" + _go_json_tree(n) for k, n in a.items()) + "}"


# ---------------------------------------------------------------------------------------------- FieldSet
class FieldSet:
    """An immutable set of field paths (SMD ``fieldpath.Set``); ``|``, ``&``, ``-`` are union, intersection and
    (non-recursive) difference. Iteration yields member paths in upstream's ``Set.Iterate`` order."""

    __slots__ = ("_h", "_t")

    def __init__(self, paths: Iterable[Path] = ()) -> None:
        t: Tree = {}
        for p in paths:
            if not p:
                continue                       # the whole object is never owned
            n: Tree = {}
            for pe in reversed(p):
                c = canonical_pe(pe)
                if c is None:
                    raise ValueError(f"unknown path element {pe!r}")
                n = {c: n}
            t = union(t, n)
        self._t = t
        self._h: int | None = None

    @classmethod
    def of_tree(cls, tree: Tree) -> FieldSet:
        """Wrap a tree (FieldsV1 form, never mutated afterwards) without copying it."""
        fs = cls.__new__(cls)
        fs._t = tree
        fs._h = None
        return fs

    @property
    def tree(self) -> Tree:
        """The FieldsV1-form tree (shared: treat as immutable)."""
        return self._t

    @classmethod
    def from_fields_v1(cls, d: dict[str, Any]) -> FieldSet:
        """Parse a FieldsV1 object (``managedFields[].fieldsV1``); ValueError when malformed."""
        if type(d) is not dict:
            raise ValueError("fieldsV1 must be an object")
        return cls.of_tree(_copy_sorted(decode_fields_v1(d)))

    def to_fields_v1(self) -> dict[str, Any]:
        """A fresh FieldsV1 object in upstream's order (``"."`` first, then fields, keys, values, indices)."""
        return _copy_sorted(self._t)

    def to_json(self) -> bytes:
        """The FieldsV1 bytes exactly as the Go API server writes them (protobuf ``FieldsV1.Raw``)."""
        return _go_json_tree(sorted_tree(self._t)).encode()

    def union(self, other: FieldSet) -> FieldSet:
        return FieldSet.of_tree(union(self._t, other._t))

    def intersection(self, other: FieldSet) -> FieldSet:
        return FieldSet.of_tree(intersection(self._t, other._t))

    def difference(self, other: FieldSet) -> FieldSet:
        return FieldSet.of_tree(difference(self._t, other._t))

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        return FieldSet.of_tree(recursive_difference(self._t, other._t))

    __or__ = union
    __and__ = intersection
    __sub__ = difference

    def has(self, path: Path) -> bool:
        if not path:
            return False
        n: Tree | None = self._t
        for pe in path:
            if n is None:
                return False
            n = n.get(pe)
        return n is not None and is_member(n)

    __contains__ = has

    def with_prefix(self, pe: str) -> FieldSet:
        n = self._t.get(pe)
        return FieldSet.of_tree(kids(n) if n else {})

    def leaves(self) -> FieldSet:
        return FieldSet.of_tree(_leaves(self._t))

    def empty(self) -> bool:
        return not self._t

    def __bool__(self) -> bool:
        return bool(self._t)

    def __len__(self) -> int:
        return _size(self._t)

    def __iter__(self) -> Iterator[Path]:
        return _iterate(self._t, ())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldSet) and self._t == other._t

    def __hash__(self) -> int:
        if self._h is None:
            self._h = hash(frozenset(self))
        return self._h

    def __repr__(self) -> str:
        return "FieldSet([" + ", ".join(path_string(p) for p in self) + "])"


def fieldset_of(obj: dict[str, Any], ti: TypeInfo) -> FieldSet:
    """The fields ``obj`` sets, as SMD ``ToFieldSet``: leaves, list elements, empty/null values and map keys.

    Lenient where upstream would fail validation: a key the type does not declare counts as one atomic leaf.
    The typed walk lives with the other walks apply needs (``apply.set_tree``).
    """
    from pybernetes.api.apply import set_tree
    from pybernetes.api.ssatypes import root_node

    return FieldSet.of_tree(set_tree(obj, root_node(ti)) or {})
