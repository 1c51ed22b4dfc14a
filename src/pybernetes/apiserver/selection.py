"""Label and field selectors of list/watch/deletecollection requests, compiled into one predicate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pybernetes.api.errors import BadRequest
from pybernetes.api.resources import Resource
from pybernetes.api.selectors import field_labels, parse_field_selector, parse_label_selector

Obj = dict[str, Any]


def build_matcher(res: Resource, *, label_selector: str = "", field_selector: str = "",
                  name: str = "") -> Callable[[Obj], bool] | None:
    """None when nothing is filtered (the fast path); raises 400 for selectors that do not parse."""
    preds: list[Callable[[Obj], bool]] = []
    if label_selector:
        try:
            ls = parse_label_selector(label_selector)
        except ValueError as e:
            raise BadRequest(f"unable to parse requirement: {e}" if "unable to parse" not in str(e) else str(e)) \
                from None
        if not ls.empty:
            preds.append(lambda o: ls.matches(o.get("metadata", {}).get("labels") or {}))
    if field_selector:
        try:
            fs = parse_field_selector(field_selector)
        except ValueError as e:
            raise BadRequest(str(e)) from None
        reqs = fs.requirements
        if reqs:
            kind = res.kind
            group = "" if res.custom else res.group
            # Validate the field names once against an empty object's field set.
            known = set(field_labels(group, kind, {"metadata": {}}).keys())
            for f, _, _ in reqs:
                if f not in known:
                    allowed = ", ".join(f'"{k}"' for k in sorted(known, key=_field_order))
                    raise BadRequest(f'"{f}" is not a known field selector: only {allowed}')
            # Fast path for metadata.name=x: most common (kubectl delete/wait).
            preds.append(lambda o: fs.matches(field_labels(group, kind, o)))
    if name:
        preds.append(lambda o: o.get("metadata", {}).get("name") == name)
    if not preds:
        return None
    if len(preds) == 1:
        return preds[0]
    return lambda o: all(p(o) for p in preds)


def _field_order(k: str) -> tuple[int, str]:
    return (0 if k.startswith("metadata.") else 1, k)
