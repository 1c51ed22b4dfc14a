"""JSON merge patch (RFC 7386) as the Kubernetes API server applies it: evanphx/json-patch v4 ``MergePatch``.

A ``null`` member deletes, objects merge member by member, anything else replaces. Where v4 parts from the RFC
the API server's behaviour is kept:

- a value that lands where there was nothing (or no object) has its ``null`` members dropped recursively,
  including inside objects nested in arrays; a non-object value replacing an object is taken as it is;
- a whole-document patch that is an array replaces the document (the caller's decoding then rejects it);
  a scalar or ``null`` patch is 400 ``Invalid JSON Patch``.
"""

from __future__ import annotations

from typing import Any

from pybernetes.api.patch import bad_request, clone, internal, json_kind


def apply(doc: Any, patch: Any) -> Any:
    """Merge the decoded ``patch`` into ``doc`` and return the new document."""
    if doc is None:
        raise internal("Invalid JSON Document")
    if not isinstance(patch, (dict, list)):
        raise bad_request("Invalid JSON Patch")
    patch = clone(patch)
    if isinstance(patch, list) or not isinstance(doc, dict):
        _prune(patch)
        return patch
    out = clone(doc)
    _merge_into(out, patch)
    return out


def strict_errors(patch: Any) -> list[str]:
    """What upstream's strict decoding of the body adds under ``fieldValidation=Strict|Warn``.

    It first decodes the body into a JSON object, so an array or scalar body is a 400 there (instead of replacing
    the document); the duplicate keys it would report are gone once a body is decoded, so nothing is returned.
    """
    if patch is not None and not isinstance(patch, dict):
        raise bad_request(f"error decoding patch: json: cannot unmarshal {json_kind(patch)} into Go value of type "
                          "map[string]interface {}")
    return []


def _merge_into(doc: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            doc.pop(key, None)
            continue
        cur = doc.get(key)
        if cur is None:
            _prune(value)
            doc[key] = value
        elif type(cur) is not dict:
            _prune(value)
            doc[key] = value
        elif type(value) is dict:
            _merge_into(cur, value)
        else:
            doc[key] = value


def _prune(value: Any) -> None:
    """Drop null members of objects, at any depth; nulls that are array elements stay."""
    if type(value) is dict:
        for key in [k for k, v in value.items() if v is None]:
            del value[key]
        for v in value.values():
            _prune(v)
    elif type(value) is list:
        for v in value:
            if v is not None:
                _prune(v)
