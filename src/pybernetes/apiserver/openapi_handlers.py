"""Serving OpenAPI: /openapi/v3 (index and per group-version documents) and /openapi/v2 (JSON or protobuf)."""

from __future__ import annotations

import orjson
from aiohttp import web

from pybernetes.api import errors, openapi
from pybernetes.apiserver.state import ServerState

V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"


async def serve_openapi(state: ServerState, request: web.Request, segs: list[str]) -> web.StreamResponse:
    reg = state.resources
    if len(segs) >= 2 and segs[1] == "v2":
        accept = request.headers.get("Accept", "")
        if "protobuf" in accept and "application/json" not in accept.split(",")[0]:
            return web.Response(body=openapi.v2_protobuf(reg), content_type=V2_PROTOBUF)
        return web.Response(body=orjson.dumps(openapi.v2_document(reg)), content_type="application/json")
    if len(segs) >= 2 and segs[1] == "v3":
        if len(segs) == 2:
            return web.Response(body=orjson.dumps(openapi.v3_index(reg)), content_type="application/json")
        rest = segs[2:]
        if rest[0] == "api" and len(rest) == 2:
            group, version = "", rest[1]
        elif rest[0] == "apis" and len(rest) == 3:
            group, version = rest[1], rest[2]
        else:
            raise errors.resource_not_found()
        doc = openapi.v3_document(reg, group, version)
        if doc is None:
            raise errors.resource_not_found()
        etag = openapi.v3_etag(reg, group, version)
        headers = {"Etag": f'"{etag}"'}
        if request.query.get("hash") == etag:
            headers["Cache-Control"] = "public, immutable"
        else:
            headers["Cache-Control"] = "no-cache, private"
        return web.Response(body=orjson.dumps(doc), content_type="application/json", headers=headers)
    raise errors.resource_not_found()
