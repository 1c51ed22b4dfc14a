"""Server-side apply: merge a configuration into the live object and move field ownership, or refuse with 409.

Follows kubernetes-sigs/structured-merge-diff v4.6 ``merge.Updater.Apply`` and the apply half of the manager
chain in k8s.io/apimachinery ``pkg/util/managedfields/internal``:

1. the configuration must be of the endpoint's kind (``versionCheckManager``), carry no managedFields, and be
   valid for the type (no undeclared fields, no duplicate list keys: ``ObjectToTyped`` without duplicates);
2. an object nobody manages yet first gets its current fields recorded as "before-first-apply" (Update);
3. the merge keeps the configuration's value for every field it sets: map-lists merge by key, sets by value,
   atomic lists, atomic structs and scalars are replaced; order follows the configuration where it speaks;
4. the applier now owns exactly the configuration's fields; what it owned before but no longer applies is
   removed from the object unless another manager owns it too (``prune`` and its two add-back passes);
5. every field whose value changes and that another manager owns is a conflict: without ``force`` the apply
   fails with every conflict listed; with it, ownership moves to the applier (Update writers lose fields too);
6. for the manager ``kubectl`` (``kubectl apply --server-side``) conflicts that the client-side-apply
   annotation explains are forced through, and that annotation is kept in step (``lastAppliedManager``,
   ``lastAppliedUpdater``), which is how client-side apply upgrades to server-side apply without conflicts.

An apply that changes nothing leaves the object as it is (the applier's ``time`` does not move).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from pybernetes.api.errors import APIError, BadRequest
from pybernetes.api.fieldset import (
    ABSENT,
    FieldSet,
    Tree,
    as_member,
    difference,
    intersection,
    is_member,
    kids,
    node,
    recursive_difference,
    union,
)
from pybernetes.api.managedfields import (
    LAST_APPLIED,
    STRIP,
    Ident,
    Managed,
    ManagerEntry,
    compare_trees,
    decode_managed_fields,
    encode_managed_fields,
    ident_json,
    print_manager,
    record_update,
    remove_changed,
)
from pybernetes.api.pathelement import Path, go_json, go_quote, path_string, pe_string
from pybernetes.api.schema import schema
from pybernetes.api.ssatypes import (
    DEDUCED,
    LIST,
    MAP,
    SCALAR,
    STRUCT,
    UNTYPED,
    PathElementError,
    TypeNode,
    item_pe,
    root_node,
)
from pybernetes.api.typeinfo import TypeInfo

ANNOTATIONS_SIZE_LIMIT = 256 * 1024         # TotalAnnotationSizeLimitB


class Conflict(NamedTuple):
    manager: str
    api_version: str
    path: str                                # as upstream prints it: .spec.template.spec.containers[name="x"].image


class ApplyConflict(APIError):
    """409 Conflict listing every field owned by another manager (``NewConflictError``).

    ``conflicts`` holds (manager, api_version, path); ``details.causes`` carry reason ``FieldManagerConflict``.
    """

    code, reason = 409, "Conflict"

    def __init__(self, found: list[tuple[Ident, str, Path]]) -> None:
        self.conflicts = [Conflict(i[0], v, path_string(p)) for i, v, p in found]
        causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {print_manager(i, v)}",
                   "field": path_string(p)} for i, v, p in found]
        if len(found) == 1:
            i, v, p = found[0]
            msg = f"Apply failed with 1 conflict: conflict with {print_manager(i, v)}: {path_string(p)}"
        else:
            lines = []
            seen: set[Ident] = set()
            for i, v, _ in found:
                if i not in seen:
                    seen.add(i)
                    lines.append(f"conflicts with {print_manager(i, v)}:")
                    lines.extend(f"- {path_string(q)}" for j, _, q in found if j == i)
            msg = f"Apply failed with {len(found)} conflicts: " + "\n".join(lines)
        super().__init__(msg, details={"causes": causes})


class _Conflicts(Exception):
    def __init__(self, found: list[tuple[Ident, str, Path]]) -> None:
        super().__init__("conflicts")
        self.found = found


def apply(live: dict[str, Any] | None, config: dict[str, Any], *, manager: str, force: bool, ti: TypeInfo,
          now: str, api_version: str, kind: str | None = None, subresource: str = "",
          ignored: FieldSet | None = None) -> dict[str, Any]:
    """Server-side apply of ``config`` by ``manager``; returns the new object (fresh, with managedFields).

    ``live`` None means create. ``ti`` is the kind's type, ``api_version``/``kind`` the endpoint's (``kind``
    defaults to the built-in type's), ``ignored`` the reset fields (``managedfields.reset_fields``): the
    applier never owns them and they never conflict. Raises :class:`ApplyConflict` (409), ``BadRequest``
    (wrong kind, managedFields sent) or a 500 for a configuration that does not fit the type, as upstream.
    Inputs are not modified. The caller still runs defaulting, the strategy and validation on the result.
    """
    root = root_node(ti)
    try:
        managed = decode_managed_fields(((live or {}).get("metadata") or {}).get("managedFields"))
    except ValueError as e:
        raise APIError(f"failed to decode managed fields: {e}", code=500, reason="") from None
    _check_kind(config, api_version, kind if kind is not None else _kind_of(ti))
    meta = config.get("metadata")
    if type(meta) is dict and meta.get("managedFields") is not None:
        raise BadRequest("metadata.managedFields must be nil")
    errs: list[tuple[str, str]] = []
    validate(config, root, "", errs)
    if errs:
        raise APIError(f"failed to create typed patch object ({_gvknn(config)}): {format_errors(errs)}",
                       code=500, reason="")
    cfg = set_tree(config, root) or {}
    if ignored:
        cfg = recursive_difference(cfg, ignored.tree)
    args = (live, config, cfg, managed, root, (manager, "Apply", "", subresource), now, api_version, ignored)
    try:
        obj, managed = _apply(*args, force=force)
    except _Conflicts as c:
        if manager != "kubectl":
            raise ApplyConflict(c.found) from None
        allowed = _allowed_by_last_applied(live, root, api_version)
        if allowed is None:
            raise ApplyConflict(c.found) from None
        rest = [x for x in c.found if not FieldSet.of_tree(allowed).has(x[2])]
        if difference(FieldSet([x[2] for x in c.found]).tree, allowed):
            raise ApplyConflict(rest) from None
        obj, managed = _apply(*args, force=True)
    if manager == "kubectl":
        _sync_last_applied(obj, config)
    out_meta = obj.setdefault("metadata", {})
    if managed:
        out_meta["managedFields"] = encode_managed_fields(managed)
    else:
        out_meta.pop("managedFields", None)
    return obj


def _apply(live: dict[str, Any] | None, config: dict[str, Any], cfg: Tree, decoded: Managed, root: TypeNode,
           ident: Ident, now: str, api_version: str, ignored: FieldSet | None, *,
           force: bool) -> tuple[dict[str, Any], Managed]:
    managed = {i: ManagerEntry(e.manager, e.operation, e.api_version, e.subresource, e.time, e.tree, e.raw)
               for i, e in decoded.items()}
    ign = ignored.tree if ignored else {}
    if not managed and live is not None:       # skipNonAppliedManager: record what is there before the apply
        rem, mod, add = (recursive_difference(x, ign) for x in compare_trees(None, live, root, ign))
        record_update(managed, rem, mod, add, manager="before-first-apply", subresource=ident[3], now=now,
                      api_version=api_version)
    live_d = live if live is not None else {}
    merged = merge(live_d, config, root)
    last = managed.get(ident)
    managed[ident] = ManagerEntry(ident[0], "Apply", api_version, ident[3], last.time if last else None, cfg)
    obj = _prune(merged, managed, last.tree if last else None, root)
    rem, mod, add = (recursive_difference(x, ign) for x in compare_trees(live, obj, root, ign))
    changed = union(mod, add)
    found: list[tuple[Ident, str, Path]] = []
    for i in sorted(managed, key=ident_json):
        if i != ident:
            c = intersection(managed[i].tree, changed)
            found.extend((i, managed[i].api_version, p) for p in FieldSet.of_tree(c))
    if found and not force:
        raise _Conflicts(found)
    remove_changed(managed, changed, rem, skip=ident)
    mine = managed.get(ident)
    if mine is not None:
        mine.tree = difference(mine.tree, STRIP)
        if not mine.tree:
            del managed[ident]
    if live is not None and same(live, obj, root, root.message is not None):
        return copy_json(live), managed       # nothing changed: the applier's time stays
    if mine is not None and ident in managed:
        mine.time = now
    return obj, managed


def _prune(merged: dict[str, Any], managed: Managed, last: Tree | None, root: TypeNode) -> dict[str, Any]:
    """Drop what the applier applied last time but not now, unless someone still owns it (``Updater.prune``)."""
    if not last:
        return merged
    last_n = ensure_named_members(last, root)
    owned: Tree = {}
    for e in managed.values():
        owned = union(owned, e.tree)
    owned_n = ensure_named_members(owned, root)
    if not difference(last_n, owned_n):
        return merged                          # all still owned (the usual re-apply): the passes remove nothing
    pruned = remove_items(merged, last_n, root)
    merged_set = ensure_named_members(set_tree(merged, root) or {}, root)
    pruned_set = ensure_named_members(set_tree(pruned, root) or {}, root)
    keep = union(pruned_set, owned_n)
    pruned = remove_items(merged, difference(merged_set, keep), root)
    pruned_set = ensure_named_members(set_tree(pruned, root) or {}, root)
    out: dict[str, Any] = remove_items(merged, intersection(difference(merged_set, pruned_set), last_n), root)
    return out


# ---------------------------------------------------------------------------------------------- typed walks
def copy_json(v: Any) -> Any:
    t = type(v)
    if t is dict:
        return {k: copy_json(x) for k, x in v.items()}
    if t is list:
        return [copy_json(x) for x in v]
    return v


def merge(lv: Any, rv: Any, t: TypeNode | None) -> Any:
    """SMD ``TypedValue.Merge`` (the right side wins on leaves); a fresh value, or ABSENT for no value."""
    if rv is ABSENT:
        return copy_json(lv)
    if lv is ABSENT or t is None or t.atomic:
        return copy_json(rv)
    if t.kind == LIST:
        ll = lv if type(lv) is list else None
        rl = rv if type(rv) is list else None
        if (ll is None and lv is not None) or (rl is None and rv is not None) or (not ll and not rl):
            return copy_json(rv)
        try:
            return _merge_list(ll or [], rl or [], t)
        except PathElementError:
            return copy_json(rv)
    ld = lv if type(lv) is dict else None
    rd = rv if type(rv) is dict else None
    if (ld is None and lv is not None) or (rd is None and rv is not None) or (not ld and not rd):
        return copy_json(rv)
    out: dict[str, Any] = {}
    if ld:
        for k, x in ld.items():
            y = rd.get(k, ABSENT) if rd is not None else ABSENT
            v = merge(x, y, t.field(k)) if y is not ABSENT else copy_json(x)
            if v is not ABSENT:
                out[k] = v
    if rd:
        for k, y in rd.items():
            if ld is None or k not in ld:
                out[k] = copy_json(y)
    return out if out else ABSENT


def _merge_list(ll: list[Any], rl: list[Any], t: TypeNode) -> Any:
    """Merge associative lists in SMD's order: shared items where the configuration puts them, the live
    object's other items where they were."""
    rpes = [item_pe(x, t) for x in rl]
    robs = dict(zip(rpes, rl, strict=True))
    lpes = [item_pe(x, t) for x in ll]
    lobs: dict[str, Any] = {}
    for pe, x in zip(lpes, ll, strict=True):
        lobs[pe] = None if pe in lobs else x     # duplicates are not merged with the new value
    shared = [pe for pe in rpes if pe in lobs]
    si = 0
    nxt = shared[0] if shared else None
    done: set[str] = set()
    out: list[Any] = []
    li = ri = 0
    elem = t.elem
    while li < len(lpes) or ri < len(rpes):
        if li < len(lpes) and ri < len(rpes):
            pe = lpes[li]
            if pe == rpes[ri]:
                done.add(pe)
                v = merge(lobs[pe], robs[pe], elem)
                if v is not ABSENT:
                    out.append(v)
                li += 1
                ri += 1
                si += 1
                nxt = shared[si] if si < len(shared) else None
                continue
            if pe in robs and nxt is not None and nxt != pe:
                li += 1
                continue
        if li < len(lpes):
            pe = lpes[li]
            if pe not in robs:
                out.append(copy_json(ll[li]))
                li += 1
                continue
            if pe in done:
                li += 1
        if ri < len(rpes):
            pe = rpes[ri]
            done.add(pe)
            v = merge(lobs.get(pe, ABSENT), robs[pe], elem)
            if v is not ABSENT:
                out.append(v)
            ri += 1
            if nxt is not None and nxt == pe:
                si += 1
                nxt = shared[si] if si < len(shared) else None
    return out if out else ABSENT


def remove_items(v: Any, tree: Tree, t: TypeNode | None) -> Any:
    """SMD ``RemoveItems``: ``v`` without the members of ``tree``. A map or list left empty by the removal is
    dropped (upstream leaves a null, which a Go round trip drops the same way)."""
    if t is None or t.kind in (SCALAR, UNTYPED) or not tree:
        return v
    if t.kind == LIST:
        if type(v) is not list:
            return v
        if not v or t.atomic:
            return ABSENT
        items = []
        for x in v:
            try:
                n = tree.get(item_pe(x, t))
            except PathElementError:
                n = None
            if n is not None:
                if is_member(n):
                    continue
                x = remove_items(x, n, t.elem)
                if x is ABSENT:
                    continue
            items.append(x)
        return items or ABSENT
    if type(v) is not dict:
        return v
    if not v or t.atomic:
        return ABSENT
    out = {}
    for k, x in v.items():
        n = tree.get("f:" + k)
        if n is not None:
            if is_member(n):
                continue
            x = remove_items(x, n, t.field(k))
            if x is ABSENT:
                continue
        out[k] = x
    return out or ABSENT


def same(lv: Any, rv: Any, t: TypeNode | None, mat: bool) -> bool:
    """Value equality as upstream sees typed objects (fields Go always writes count as present)."""
    if lv is rv:
        return True
    if type(lv) is dict and type(rv) is dict:
        if mat and t is not None and t.message is not None:
            z = t.zero()
            if z:
                lv = lv if z.keys() <= lv.keys() else {**z, **lv}
                rv = rv if z.keys() <= rv.keys() else {**z, **rv}
        if lv.keys() != rv.keys():
            return False
        return all(same(x, rv[k], t.field(k) if t is not None else None, mat) for k, x in lv.items())
    if type(lv) is list and type(rv) is list:
        elem = t.elem if t is not None else None
        return len(lv) == len(rv) and all(same(a, b, elem, mat) for a, b in zip(lv, rv, strict=True))
    return bool(lv == rv) and (type(lv) is bool) == (type(rv) is bool)


# ---------------------------------------------------------------------------------------------- ToFieldSet
def set_tree(v: Any, t: TypeNode | None) -> Tree | None:
    """The subtree a value contributes; a node dict, or None when it contributes nothing by itself."""
    if t is None or t.atomic:
        return {}
    kind = t.kind
    if kind == LIST:
        if type(v) is not list:
            return None if v is None else {}
        return _list_tree(v, t)
    if type(v) is not dict:
        return None if v is None else {}
    return _map_tree(v, t) if (kind == STRUCT or kind == MAP or kind == DEDUCED) else {}


def _map_tree(d: dict[str, Any], t: TypeNode) -> Tree | None:
    out: Tree = {}
    struct = t.kind == STRUCT
    for k, val in d.items():
        ft = t.field(k)
        if ft is None or ft.atomic:
            out["f:" + k] = {}
            continue
        sub = set_tree(val, ft)
        if val is None or (type(val) is dict and not val) or not struct or not t.declared(k):
            sub = as_member(sub)
        if sub is not None:
            out["f:" + k] = sub
    return out or None


def _list_tree(items: list[Any], t: TypeNode) -> Tree | None:
    try:
        pes = [item_pe(x, t) for x in items]
    except PathElementError:
        return {}
    out: Tree = {}
    seen: set[str] = set()
    dups: set[str] = set()
    for pe in pes:
        if pe in seen:
            dups.add(pe)
        seen.add(pe)
    elem = t.elem
    for pe, x in zip(pes, items, strict=True):
        out[pe] = {} if pe in dups else as_member(set_tree(x, elem))
    return out or None


def ensure_named_members(a: Tree, t: TypeNode | None) -> Tree:
    """SMD ``EnsureNamedFieldsAreMembers``: declared struct fields that have children become members too."""
    out: Tree = {}
    for k, n in a.items():
        if not n or t is None:
            out[k] = n
            continue
        ct = None
        named = False
        if k[:2] == "f:" and t.kind in (STRUCT, MAP, DEDUCED):
            ct = t.field(k[2:])
            named = t.declared(k[2:])
        elif k[:2] == "k:" and t.kind == LIST:
            ct = t.elem
        sub = ensure_named_members(kids(n), ct) if ct is not None else kids(n)
        out[k] = node(named or is_member(n), sub)
    return out


# ---------------------------------------------------------------------------------------------- validation
def validate(v: Any, t: TypeNode | None, path: str, errs: list[tuple[str, str]]) -> None:
    """SMD's validating walk (``AsTyped`` without duplicates), collecting (path, message)."""
    if t is None or t.kind == UNTYPED:
        return
    kind = t.kind
    if kind == SCALAR:
        msg = _scalar_error(v, t.scalar)
        if msg:
            errs.append((path, msg))
        return
    if kind == LIST:
        if v is None:
            return
        if type(v) is not list:
            errs.append((path, f"expected list, got &{{{_go_v(v)}}}"))
            return
        seen: set[str] = set()
        for i, x in enumerate(v):
            if t.rel == "atomic":
                step = f"[{i}]"
            else:
                try:
                    pe = item_pe(x, t)
                except PathElementError as e:
                    errs.append((path, f"element {i}: {e}"))
                    return
                step = pe_string(pe)
                if pe in seen:
                    errs.append((path, f"duplicate entries for key {step}"))
                seen.add(pe)
            validate(x, t.elem, path + step, errs)
        return
    if v is None or (kind == DEDUCED and type(v) is not dict):
        return
    if type(v) is not dict:
        errs.append((path, f"expected map, got &{{{_go_v(v)}}}"))
        return
    for k, x in v.items():
        ft = t.field(k)
        if ft is None:
            errs.append((f"{path}.{k}", "field not declared in schema"))
            return
        validate(x, ft, f"{path}.{k}", errs)


def _scalar_error(v: Any, scalar: str) -> str | None:
    if v is None:
        return None
    t = type(v)
    if scalar == "string":
        return None if t is str else f"expected string, got &value.valueUnstructured{{Value:{_go_sharp(v)}}}"
    if scalar == "numeric":
        return None if t is int or t is float else f"expected numeric (int or float), got {_go_type(v)}"
    if scalar == "boolean":
        return None if t is bool else f"expected boolean, got &{{{_go_v(v)}}}"
    return f"expected any scalar, got &{{{_go_v(v)}}}" if t is dict or t is list else None


def _go_type(v: Any) -> str:
    return {str: "string", bool: "bool", int: "int64", float: "float64", list: "[]interface {}",
            dict: "map[string]interface {}"}.get(type(v), "<nil>")


def _go_v(v: Any) -> str:
    """Go's ``%v`` of a decoded JSON value."""
    if v is None:
        return "<nil>"
    if type(v) is bool:
        return "true" if v else "false"
    if type(v) is list:
        return "[" + " ".join(_go_v(x) for x in v) + "]"
    if type(v) is dict:
        return "map[" + " ".join(f"{k}:{_go_v(v[k])}" for k in sorted(v)) + "]"
    return go_json(v) if type(v) is float else str(v)


def _go_sharp(v: Any) -> str:
    """Go's ``%#v`` of a decoded JSON value."""
    if v is None:
        return "interface {}(nil)"
    if type(v) is str:
        return go_quote(v)
    if type(v) is list:
        return "[]interface {}{" + ", ".join(_go_sharp(x) for x in v) + "}"
    if type(v) is dict:
        return "map[string]interface {}{" + ", ".join(f"{go_quote(k)}:{_go_sharp(v[k])}" for k in sorted(v)) + "}"
    return _go_v(v)


def format_errors(errs: list[tuple[str, str]]) -> str:
    """``typed.ValidationErrors.Error()``."""
    lines = [f"{p}: {m}" if p else m for p, m in errs]
    return lines[0] if len(lines) == 1 else "errors:\n" + "\n".join("  " + x for x in lines)


def _gvk(api_version: Any, kind: Any) -> str:
    av = api_version if type(api_version) is str else ""
    k = kind if type(kind) is str else ""
    if av.count("/") > 1:
        return "/, Kind="
    group, _, version = av.rpartition("/")
    return f"{group}/{version}, Kind={k}"


def _gvknn(config: dict[str, Any]) -> str:
    meta = config.get("metadata")
    meta = meta if type(meta) is dict else {}
    ns, name = meta.get("namespace") or "", meta.get("name") or ""
    return f"{ns}/{name}; {_gvk(config.get('apiVersion'), config.get('kind'))}"


def _kind_of(ti: TypeInfo) -> str | None:
    msg = schema().messages.get(ti.message) if ti.message else None
    return msg.gvk[2] if msg is not None and msg.gvk else None


def _check_kind(config: Any, api_version: str, kind: str | None) -> None:
    if type(config) is not dict:
        raise BadRequest("invalid object type: /, Kind=")
    if config.get("apiVersion") != api_version or (kind is not None and config.get("kind") != kind):
        raise BadRequest(f"invalid object type: {_gvk(config.get('apiVersion'), config.get('kind'))}")


# ---------------------------------------------------------------------------------------------- last-applied
def _allowed_by_last_applied(live: dict[str, Any] | None, root: TypeNode, api_version: str) -> Tree | None:
    """Fields the client-side-apply annotation still describes truthfully (``allowedConflictsFromLastApplied``);
    None when there is no usable annotation."""
    annotations = ((live or {}).get("metadata") or {}).get("annotations") or {}
    text = annotations.get(LAST_APPLIED) if type(annotations) is dict else None
    if not text or type(text) is not str or live is None:
        return None
    try:
        last = json.loads(text)
    except ValueError:
        return None
    if type(last) is not dict or last.get("apiVersion") != api_version:
        return None
    errs: list[tuple[str, str]] = []
    validate(last, root, "", errs)
    if errs:
        return None
    rem, mod, add = compare_trees(last, live, root)
    return difference(difference(difference(set_tree(last, root) or {}, mod), add), rem)


def _sync_last_applied(obj: dict[str, Any], config: dict[str, Any]) -> None:
    """Keep an existing client-side-apply annotation equal to what kubectl applied (``lastAppliedUpdater``)."""
    annotations = (obj.get("metadata") or {}).get("annotations")
    if type(annotations) is not dict or not annotations.get(LAST_APPLIED):
        return
    cfg = copy_json(config)
    cfg_ann = (cfg.get("metadata") or {}).get("annotations")
    if type(cfg_ann) is dict:
        cfg_ann.pop(LAST_APPLIED, None)
    annotations[LAST_APPLIED] = go_json(cfg) + "\n"
    if sum(len(k.encode()) + len(str(v).encode()) for k, v in annotations.items()) > ANNOTATIONS_SIZE_LIMIT:
        del annotations[LAST_APPLIED]
