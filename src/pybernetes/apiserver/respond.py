"""Writing API responses: JSON/YAML bodies, Tables, PartialObjectMetadata, warnings headers."""

from __future__ import annotations

from typing import Any

import orjson
import yaml
from aiohttp import web

from pybernetes.api.resources import Resource
from pybernetes.apiserver import warnings as warn
from pybernetes.apiserver.negotiation import Output

Obj = dict[str, Any]


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def body_response(data: bytes, *, status: int = 200, content_type: str = "application/json",
                  warnings: list[str] | None = None) -> web.Response:
    resp = web.Response(body=data, status=status, content_type=content_type)
    for w in warnings or ():
        resp.headers.add("Warning", warn.header_value(w))
    return resp


def encode(out: Output, obj: Any) -> bytes:
    if out.format == "yaml":
        return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, allow_unicode=True).encode()
    return orjson.dumps(obj)


def object_response(out: Output, res: Resource | None, obj: Obj, *, status: int = 200,
                    warnings: list[str] | None = None, include_object: str = "") -> web.Response:
    if out.as_kind == "Table" and res is not None:
        from pybernetes.api.tables import to_table
        rv = obj.get("metadata", {}).get("resourceVersion")
        obj = to_table(res, [obj], include_object=include_object or "Metadata",
                       api_version=f"meta.k8s.io/{out.as_version}")
        if rv:
            obj["metadata"] = {"resourceVersion": rv}
    elif out.as_kind in ("PartialObjectMetadata",) and res is not None:
        obj = partial_metadata(obj, out.as_version)
    return body_response(encode(out, obj), status=status, content_type=out.content_type, warnings=warnings)


def list_response(out: Output, res: Resource, lst: Obj, *, warnings: list[str] | None = None,
                  include_object: str = "", encoded: list[bytes] | None = None) -> web.Response:
    """The list in the representation asked for; ``encoded`` is each item's JSON when known (see
    :func:`joined_list`)."""
    if out.as_kind == "Table":
        from pybernetes.api.tables import to_table
        table = to_table(res, lst["items"], include_object=include_object or "Metadata",
                         api_version=f"meta.k8s.io/{out.as_version}")
        table["metadata"] = lst["metadata"]
        lst = table
    elif out.as_kind == "PartialObjectMetadataList":
        lst = {"kind": "PartialObjectMetadataList", "apiVersion": f"meta.k8s.io/{out.as_version}",
               "metadata": lst["metadata"],
               "items": [partial_metadata(o, out.as_version) for o in lst["items"]]}
    elif out.format == "json" and encoded:
        data = joined_list(lst, encoded)
        if data is not None:
            return body_response(data, content_type=out.content_type, warnings=warnings)
    return body_response(encode(out, lst), content_type=out.content_type, warnings=warnings)


def joined_list(lst: Obj, encoded: list[bytes]) -> bytes | None:
    """``orjson.dumps(lst)``, byte for byte, joined from ``encoded``, the JSON of each of ``lst["items"]`` that
    the watch cache holds (a 10,000-Pod LIST: ~2 ms instead of ~30 ms); None when they cannot be its items."""
    items = lst.get("items")
    if type(items) is not list or len(items) != len(encoded) or next(reversed(lst)) != "items":
        return None
    head = orjson.dumps({k: v for k, v in lst.items() if k != "items"})
    return b"".join((head[:-1], b',"items":[' if len(head) > 2 else b'"items":[', b",".join(encoded), b"]}"))


def partial_metadata(obj: Obj, version: str) -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{version}", "metadata": obj["metadata"]}


def status_success(res: Resource, obj: Obj) -> Obj:
    """The Status a DELETE returns for kinds that do not return the deleted object."""
    meta = obj.get("metadata", {})
    details: Obj = {"name": meta.get("name", "")}
    if res.group:
        details["group"] = res.group
    details["kind"] = res.plural
    if meta.get("uid"):
        details["uid"] = meta["uid"]
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}
