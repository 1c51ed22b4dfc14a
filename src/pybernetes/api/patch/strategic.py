"""Strategic merge patch, as the API server applies it (kubernetes/apimachinery ``pkg/util/strategicpatch``).

A merge patch that knows the type: a list field tagged ``patchStrategy: merge`` is merged element by element —
by its ``patchMergeKey`` for objects (containers by ``name``, ports by ``containerPort``), as a set for scalars
(``finalizers``) — and every other list is replaced. Objects merge recursively, ``null`` deletes, and
directives in the patch say more:

- ``$patch: replace`` (take this object, or this list's other elements, as they are), ``$patch: delete`` (drop
  this object, or the list element with this merge key); ``$patch: merge`` and unknown values are errors;
- ``$retainKeys: [...]``: drop the members of the object not listed (how kubectl clears the other arm of a
  union such as a Deployment's ``strategy`` or a volume's source);
- ``$setElementOrder/<list>: [...]``: the order of the merged list — patch elements in that order, elements only
  on the server kept where they were relative to them (kubectl sends it with every merged list);
- ``$deleteFromPrimitiveList/<list>: [...]``: values to remove from a merged scalar list.

This is upstream's server side (``MergeParallelList`` and ``IgnoreUnmatchedNulls`` on), mirrored function for
function so that orders, error messages and status codes agree — including an order quirk that comes from Go
slices sharing a backing array (see ``_merge_ordered_lists``). Deliberate differences: a field the type does not
know is merged like a merge patch (upstream fails with "unable to find api field" when both sides hold an object
or list there), and so is a map whose values are objects; ``$setElementOrder`` still needs a known list field.
Upstream visits a patch's members in Go's random map order; where that shows (a value both added to a list and
named in its ``$deleteFromPrimitiveList``) the patch's own order is used, which is one of upstream's outcomes.
Custom resources carry no merge keys: upstream refuses this patch type for them with a 415
(:func:`supported`, or :func:`pybernetes.api.patch.check_content_type` before decoding).

Status codes follow the handler's ``interpretStrategicMergePatchError``: malformed directives are 400, a list of
lists is 422, everything else (bad merge keys, unknown ``$patch`` values, type mismatches) is a 500 carrying the
library's message.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from pybernetes.api.patch import (
    CUSTOM_PATCH_TYPES,
    bad_request,
    clone,
    go_s,
    go_type,
    go_v,
    internal,
    invalid,
    json_kind,
    server_panic,
    unsupported_media_type,
)
from pybernetes.api.typeinfo import TypeInfo

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"
SET_ELEMENT_ORDER = "$setElementOrder"

ERR_PRIMITIVE_LIST = "invalid patch format of primitive list"
ERR_RETAIN_KEYS = "invalid patch format of retainKeys"
ERR_ORDER_LIST = "invalid patch format of setElementOrder list"
ERR_LIST_OF_LISTS = "lists of lists are not supported"

Obj = dict[str, Any]


def supported(ti: TypeInfo) -> bool:
    """Whether a strategic merge patch may target this type: built-in kinds yes, custom resources no."""
    return ti.openapi is None


def apply(doc: Obj, patch: Any, ti: TypeInfo) -> Obj:
    """Apply the decoded strategic merge ``patch`` to ``doc`` of type ``ti`` (e.g. ``of_kind("apps/v1", ...)``)."""
    if not supported(ti):
        raise unsupported_media_type(CUSTOM_PATCH_TYPES)
    if patch is None:                 # decodes to a nil map upstream: nothing to merge
        return clone(doc)
    if not isinstance(patch, dict):
        raise bad_request(f"json: cannot unmarshal {json_kind(patch)} into Go value of type map[string]interface {{}}")
    return _merge_map(clone(doc), clone(patch), ti)


def strict_errors(patch: Any) -> list[str]:
    """What upstream's strict decoding of the body adds under ``fieldValidation=Strict|Warn``: the same 400 as
    :func:`apply` for a body that is not an object; duplicate keys are gone once decoded, so nothing else."""
    if patch is not None and not isinstance(patch, dict):
        raise bad_request(f"json: cannot unmarshal {json_kind(patch)} into Go value of type map[string]interface {{}}")
    return []


# --- maps ---------------------------------------------------------------------------------------------------

def _merge_map(original: Obj, patch: Obj, ti: TypeInfo | None) -> Obj:
    """Merge ``patch`` into ``original`` in place (both are ours) and return the result, as upstream mergeMap."""
    if DIRECTIVE in patch:
        return _map_directive(patch)
    if RETAIN_KEYS in patch:
        _retain_keys(original, patch)
    for key in patch:
        if key.startswith(SET_ELEMENT_ORDER):
            _merge_ordered_lists(original, patch, ti)
            break
    for key, value in patch.items():
        delete_list = key.startswith(DELETE_FROM_PRIMITIVE_LIST)
        if delete_list:
            key = _strip_prefix(key, DELETE_FROM_PRIMITIVE_LIST, ERR_PRIMITIVE_LIST) or key
        if value is None:
            original.pop(key, None)
            continue
        if key not in original:
            if not delete_list:
                _put(original, key, value)
            continue
        cur = original[key]
        kind = type(cur)
        if kind is not type(value):
            if not delete_list:
                _put(original, key, value)
            continue
        if kind is dict:
            sub = _child(ti, key)
            if sub is not None and _strategy(sub.patch_strategy) == "replace":
                original[key] = value
            else:
                original[key] = _merge_map(cur, value, sub)
        elif kind is list:
            strategy, merge_key, elem = _list_meta(ti, key)
            if strategy == "merge" or delete_list:
                original[key] = _merge_list(cur, value, elem, merge_key, delete_list=delete_list)
            else:
                original[key] = value
        else:
            original[key] = value
    return original


def _put(original: Obj, key: str, value: Any) -> None:
    """A value with nothing of its type to merge into: nulls and directive-bearing objects are dropped."""
    _discard_nulls(value)
    value, keep = _remove_directives(value)
    if keep:
        original[key] = value
    else:
        original.pop(key, None)


def _map_directive(patch: Obj) -> Obj:
    directive = patch[DIRECTIVE]
    if directive == "replace":
        del patch[DIRECTIVE]
        return patch
    if directive == "delete":
        return {}
    raise internal(f"unknown patch type: {go_s(directive)} in map: {go_v(patch)}")


def _retain_keys(original: Obj, patch: Obj) -> None:
    """Clear the members of ``original`` not listed; the patch itself may only set listed members."""
    retain = patch.pop(RETAIN_KEYS)
    if type(retain) is not list:
        raise bad_request(ERR_RETAIN_KEYS)
    keep = {_key(v) for v in retain}
    for k, v in patch.items():
        if v is None or k.startswith(DELETE_FROM_PRIMITIVE_LIST) or k.startswith(SET_ELEMENT_ORDER):
            continue
        if (str, k) not in keep:
            raise bad_request(ERR_RETAIN_KEYS)
    for k in [k for k in original if (str, k) not in keep]:
        del original[k]


def _merge_ordered_lists(original: Obj, patch: Obj, ti: TypeInfo | None) -> None:
    """Merge each list named by a ``$setElementOrder/<list>`` together with its directive (upstream
    mergePatchIntoOriginal), removing both from ``patch`` so the main loop leaves them alone."""
    for key in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(key)
        if type(order) is not list:
            raise internal(_bad_arg_type([], order))
        name = _strip_prefix(key, SET_ELEMENT_ORDER, ERR_ORDER_LIST)
        in_original, in_patch = name in original, name in patch
        o_list = original[name] if in_original else []
        p_list = patch[name] if in_patch else []
        if type(o_list) is not list:
            raise internal(_bad_arg_type([], o_list))
        if type(p_list) is not list:
            raise internal(_bad_arg_type([], p_list))
        strategy, merge_key, elem = _order_meta(ti, name)
        _check_order(p_list, order, merge_key)
        # Upstream merges through a slice header sharing its backing array with ``o_list``: deletions shift
        # its elements left and the first appends land in the freed tail. The server order used below is that
        # array, and upstream's own tests pin the resulting orders, so ``server_view`` mirrors those writes.
        server_view = list(o_list)
        if in_original and in_patch:
            merged = (_merge_list(o_list, p_list, elem, merge_key, view=server_view) if strategy == "merge"
                      else p_list)
        elif in_original:
            merged = o_list
        elif in_patch:
            merged = _remove_directives(p_list)[0]
        else:
            continue
        patch_items, server_only = _partition(merged, order, merge_key)
        kind = _elem_kind(server_view, p_list)
        original[name] = _normalize(patch_items, server_only, order, server_view, merge_key, kind)
        patch.pop(name, None)


def _check_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """The patch's elements (deletions aside) must appear in ``order``, in the same relative order."""
    if not order or not patch_list:
        return
    items = _split_deletes(patch_list)[0] if merge_key else patch_list
    pi = oi = 0
    while pi < len(items) and oi < len(order):
        item = items[pi]
        if type(item) is dict and DIRECTIVE in item:
            pi += 1
            continue
        if _merge_key_equal(item, order[oi], merge_key):
            pi += 1
        oi += 1
    if pi < len(items) and oi >= len(order):
        raise internal(f"The order in patch list:\n{go_v(patch_list)}\n doesn't match {SET_ELEMENT_ORDER} list:\n"
                       f"{go_v(order)}\n")


def _merge_key_equal(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return _go_eq(left, right)
    for side in (left, right):
        if type(side) is not dict:
            raise internal(_bad_arg_type({}, side))
        if merge_key not in side:
            raise internal(_no_merge_key(side, merge_key))
    return _go_eq(left[merge_key], right[merge_key])


# --- lists --------------------------------------------------------------------------------------------------

def _merge_list(original: list[Any], patch: list[Any], elem: TypeInfo | None, merge_key: str, *,
                delete_list: bool = False, view: list[Any] | None = None) -> list[Any]:
    """Upstream mergeSlice: scalars as a set (or a deletion list), objects by merge key, then ordered.

    ``view``, when given, receives the writes Go makes to ``original``'s backing array (see the caller)."""
    if not original and not patch:
        return original
    kind = _elem_kind(original, patch)
    if kind is not dict:
        if delete_list:
            drop = {_key(v) for v in patch}
            return [v for v in original if _key(v) not in drop]
        merged = _dedupe(original + patch)
    else:
        if not merge_key:
            raise internal("cannot merge lists without merge key for struct")
        original, patch = _special_elements(original, patch, merge_key, view)
        merged = _merge_elements(list(original), patch, merge_key, elem, view)
    patch_items, server_only = _partition(merged, patch, merge_key)
    return _normalize(patch_items, server_only, patch, original, merge_key, kind)


def _special_elements(original: list[Any], patch: list[Any], merge_key: str,
                      view: list[Any] | None) -> tuple[list[Any], list[Any]]:
    """Apply the ``$patch`` elements: deletions by merge key, or ``replace`` (the rest of the patch is the list)."""
    rest: list[Any] = []
    replace = False
    for item in patch:
        if DIRECTIVE not in item:
            rest.append(item)
            continue
        directive = item[DIRECTIVE]
        if directive == "delete":
            if merge_key not in item:
                raise internal(_no_merge_key(item, merge_key))
            value = item[merge_key]
            while (i := _index_by_key(original, merge_key, value)) >= 0:
                if view is not None:
                    view[i:len(original) - 1] = view[i + 1:len(original)]
                original = original[:i] + original[i + 1:]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise internal("merging lists cannot yet be specified in the patch")
        else:
            raise internal(f"unknown patch type: {go_s(directive)} in map: {go_v(item)}")
    return (rest, []) if replace else (original, rest)


def _merge_elements(original: list[Any], patch: list[Any], merge_key: str, elem: TypeInfo | None,
                    view: list[Any] | None) -> list[Any]:
    for item in patch:
        if merge_key not in item:
            raise internal(_no_merge_key(item, merge_key))
        i = _index_by_key(original, merge_key, item[merge_key])
        if i >= 0:
            original[i] = _merge_map(original[i], item, elem)
        else:
            if view is not None and len(original) < len(view):
                view[len(original)] = item
            original.append(item)
    return original


def _index_by_key(items: list[Any], merge_key: str, value: Any) -> int:
    for i, item in enumerate(items):
        if type(item) is not dict:
            raise internal(f"value for key {i} is not a map")
        if merge_key in item and _go_eq(item[merge_key], value):
            return i
    return -1


def _partition(merged: list[Any], by: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """Split ``merged`` into the elements named in ``by`` and the server-only ones, keeping their order."""
    inside: list[Any] = []
    outside: list[Any] = []
    if not merge_key:
        present = {_key(v) for v in by}
        for v in merged:
            (inside if _key(v) in present else outside).append(v)
        return inside, outside
    members, bad = _members(by, merge_key)
    for v in merged:
        if type(v) is not dict:
            raise internal(_bad_arg_type({}, v))
        if merge_key not in v:
            raise internal(_no_merge_key(v, merge_key))
        if _key(v[merge_key]) in members:
            inside.append(v)
        elif bad >= 0:                    # upstream's scan for it reaches the element that is not an object
            raise internal(f"value for key {bad} is not a map")
        else:
            outside.append(v)
    return inside, outside


def _members(items: list[Any], merge_key: str) -> tuple[set[tuple[type, Any]], int]:
    """The merge key values of ``items`` before the first element that is not an object, and its index."""
    members: set[tuple[type, Any]] = set()
    for i, item in enumerate(items):
        if type(item) is not dict:
            return members, i
        if merge_key in item:
            members.add(_key(item[merge_key]))
    return members, -1


def _normalize(patch_items: list[Any], server_only: list[Any], patch_order: list[Any], server_order: list[Any],
               merge_key: str, kind: type) -> list[Any]:
    """Patch elements in patch order, server-only elements in server order, interleaved by server position."""
    if kind is dict:
        for lst in (patch_items, patch_order, server_only, server_order):
            for item in lst:
                if type(item) is not dict:
                    raise internal(_bad_arg_type({}, item))
                if merge_key not in item:
                    raise internal(_no_merge_key(item, merge_key))
    server_rank = _rank_table(server_order, merge_key, kind)
    patch_items = _sort_by(patch_items, _rank_table(patch_order, merge_key, kind), merge_key, kind)
    server_only = _sort_by(server_only, server_rank, merge_key, kind)
    left = _ranks(server_only, server_rank, merge_key, kind)
    right = _ranks(patch_items, server_rank, merge_key, kind)
    out: list[Any] = []
    i = j = 0
    while i < len(server_only) and j < len(patch_items):
        if 0 <= left[i] and 0 <= right[j] and left[i] < right[j]:
            out.append(server_only[i])
            i += 1
        else:
            out.append(patch_items[j])
            j += 1
    out.extend(server_only[i:])
    out.extend(patch_items[j:])
    return out


def _sort_by(items: list[Any], rank: dict[tuple[type, Any], int], merge_key: str, kind: type) -> list[Any]:
    """Stable sort by position in the order list, elements marked ``$patch: delete`` moved to the end."""
    deletes: list[Any] = []
    if kind is dict:
        items, deletes = _split_deletes(items)
    ranks = _ranks(items, rank, merge_key, kind)
    if min(ranks, default=0) >= 0:
        return [items[i] for i in sorted(range(len(items)), key=ranks.__getitem__)] + deletes
    pairs = list(zip(ranks, items, strict=True))
    _insertion_sort(pairs, lambda a, b: a[0] < 0 or b[0] < 0 or a[0] < b[0])
    return [item for _, item in pairs] + deletes


def _rank_table(order: list[Any], merge_key: str, kind: type) -> dict[tuple[type, Any], int]:
    """First index in ``order`` of each merge key value (objects) or value (scalars); absent objects' keys
    count as null, as upstream's lookup has it."""
    table: dict[tuple[type, Any], int] = {}
    for i, o in enumerate(order):
        v = (o.get(merge_key) if type(o) is dict else None) if kind is dict else o
        table.setdefault(_key(v), i)
    return table


def _ranks(items: list[Any], rank: dict[tuple[type, Any], int], merge_key: str, kind: type) -> list[int]:
    try:
        if kind is dict:
            return [rank.get((type(v := x.get(merge_key)), v), -1) for x in items]
        return [rank.get((type(x), x), -1) for x in items]
    except TypeError:                     # an object or array as value: Go cannot compare those
        raise server_panic() from None


def _split_deletes(items: list[Any]) -> tuple[list[Any], list[Any]]:
    keep: list[Any] = []
    deletes: list[Any] = []
    for item in items:
        if type(item) is not dict:
            raise internal(_bad_arg_type({}, item))
        (deletes if item.get(DIRECTIVE) == "delete" else keep).append(item)
    return keep, deletes


def _elem_kind(*lists: list[Any]) -> type:
    """The one element type of the lists (upstream sliceElementType)."""
    kind: type | None = None
    for lst in lists:
        for v in lst:
            if kind is None:
                if v is None:
                    raise server_panic()
                if type(v) is list:
                    raise invalid(ERR_LIST_OF_LISTS)
                kind = type(v)
            elif type(v) is not kind:
                raise internal(f"list element types are not identical: {go_v(list(lists))}")
    if kind is None:
        raise internal("no elements in any of the given slices")
    return kind


def _dedupe(s: list[Any]) -> list[Any]:
    """Upstream's in-place deduplication: a duplicate is overwritten by the last element."""
    last = len(s) - 1
    i = 0
    while i < last:
        j = i + 1
        while j <= last:
            if _go_eq(s[i], s[j]):
                s[j] = s[last]
                del s[last]
                last -= 1
                j -= 1
            j += 1
        i += 1
    return s


def _insertion_sort(data: list[Any], less: Callable[[Any, Any], bool]) -> None:
    """What Go's sort.SliceStable does with up to 20 elements, which matters only for upstream's comparator when
    an element is missing from the order list (it then counts as smaller than anything); longer lists of that
    kind, which no client produces, may come out in a different order than Go's block merge would give."""
    for i in range(1, len(data)):
        j = i
        while j > 0 and less(data[j], data[j - 1]):
            data[j], data[j - 1] = data[j - 1], data[j]
            j -= 1


# --- values and types ---------------------------------------------------------------------------------------

def _remove_directives(value: Any) -> tuple[Any, bool]:
    """Drop every object carrying ``$patch`` (and say whether ``value`` itself survives); in place."""
    if type(value) is dict:
        if DIRECTIVE in value:
            return None, False
        for k in list(value):
            v, keep = _remove_directives(value[k])
            if keep:
                value[k] = v
            else:
                del value[k]
        return value, True
    if type(value) is list:
        return [v for v, keep in map(_remove_directives, value) if keep], True
    return value, True


def _discard_nulls(value: Any) -> None:
    if type(value) is dict:
        for k in [k for k, v in value.items() if v is None]:
            del value[k]
        for v in value.values():
            _discard_nulls(v)
    elif type(value) is list:
        for v in value:
            _discard_nulls(v)


def _child(ti: TypeInfo | None, key: str) -> TypeInfo | None:
    """Type of member ``key``; None when unknown (then merged like a merge patch)."""
    if ti is None:
        return None
    if ti.shape == "struct":
        return ti.field(key)
    if ti.shape == "map":
        return ti.elem()
    return None


def _list_meta(ti: TypeInfo | None, key: str) -> tuple[str, str, TypeInfo | None]:
    """(strategy, merge key, element type) of a list member; a non-list field behaves as a pointer to a struct
    does upstream (its own tags, itself as element type)."""
    sub = _child(ti, key)
    if sub is None:
        return "", "", None
    return _strategy(sub.patch_strategy), sub.patch_merge_key or "", sub.elem() if sub.shape == "list" else sub


def _order_meta(ti: TypeInfo | None, key: str) -> tuple[str, str, TypeInfo | None]:
    if ti is not None and ti.shape == "map":
        raise internal("merging an object in json but data type is not struct, instead is: map")
    if ti is None or ti.shape != "struct" or ti.field(key) is None:
        name = (ti.message or "").rpartition(".")[2] if ti is not None else ""
        raise internal(f'unable to find api field in struct {name} for the json field "{key}"')
    return _list_meta(ti, key)


@functools.lru_cache(maxsize=64)
def _strategy(tag: str | None) -> str:
    """The strategy a ``patchStrategy`` tag means on the server, ``retainKeys`` set aside (its directive is
    honoured wherever it appears)."""
    parts = (tag or "").split(",")
    if len(parts) == 1:
        return "" if parts[0] == "retainKeys" else parts[0]
    if len(parts) == 2 and "retainKeys" in parts:
        return parts[1] if parts[0] == "retainKeys" else parts[0]
    raise internal(f"unexpected patch strategy: {go_v(parts)}")


def _strip_prefix(key: str, prefix: str, error: str) -> str:
    head, sep, tail = key.partition("/")
    if not sep or head != prefix:
        raise bad_request(error)
    return tail


def _key(value: Any) -> tuple[type, Any]:
    """A hashable stand-in for Go's interface{} map keys: equal only for the same JSON type and value."""
    if type(value) is dict or type(value) is list:
        raise server_panic()              # Go: hash of unhashable type
    return type(value), value


def _go_eq(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if type(a) is dict or type(a) is list:
        raise server_panic()              # Go: comparing uncomparable type
    return bool(a == b)


def _no_merge_key(m: Obj, merge_key: str) -> str:
    return f"map: {go_v(m)} does not contain declared merge key: {merge_key}"


def _bad_arg_type(expected: Any, actual: Any) -> str:
    return f"expected a {go_type(expected)}, but received a {go_type(actual)}"
