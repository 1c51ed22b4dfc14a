"""Serving OpenAPI: /openapi/v3 (index and per group-version documents) and /openapi/v2 (JSON or protobuf).

kubectl 1.27/1.28 read only the v2 document in gnostic protobuf form; 1.29+ read v3. Documents are built and
cached per registry generation by ``pybernetes.api.openapi``.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from pybernetes.api import errors, openapi
from pybernetes.apiserver.state import ServerState

V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


async def serve_openapi(state: ServerState, request: web.Request, segs: list[str]) -> web.StreamResponse:
    reg = state.resources
    if len(segs) == 2 and segs[1] == "v2":
        if "com.github.proto-openapi.spec.v2" in request.headers.get("Accept", ""):
            return web.Response(body=openapi.v2_protobuf(reg), headers={"Content-Type": V2_PROTOBUF})
        body, digest = openapi.v2_json(reg)
        return web.Response(body=body, content_type="application/json", headers={"Etag": f'"{digest}"'})
    if len(segs) >= 2 and segs[1] == "v3":
        if len(segs) == 2:
            return web.Response(body=orjson.dumps(openapi.v3_index(reg)), content_type="application/json")
        found = openapi.v3_path_document(reg, "/".join(segs[2:]))
        if found is None:
            raise errors.resource_not_found()
        _doc, body, digest = found
        headers = {"Etag": f'"{digest}"'}
        headers["Cache-Control"] = "public, immutable" if request.query.get("hash") == digest else \
            "no-cache, private"
        return web.Response(body=body, content_type="application/json", headers=headers)
    raise errors.resource_not_found()
