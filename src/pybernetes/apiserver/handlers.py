"""HTTP handlers for resource requests: one dispatcher for every kind, built-in or custom.

The request is parsed into a :class:`~pybernetes.apiserver.requestinfo.RequestInfo`, authorized, then routed by
verb and subresource to the generic registry. Bodies are decoded and checked against the kind's type here
(``fieldValidation``), so the registry only ever sees well-formed objects.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from aiohttp import StreamReader, web
from aiohttp.web_protocol import RequestPayloadError

from pybernetes.api import errors
from pybernetes.api.decode import BodyError, cannot_handle, check_object, parse_body
from pybernetes.api.errors import APIError, BadRequest, MethodNotAllowed, NotFound, UnsupportedMediaType
from pybernetes.api.resources import Resource
from pybernetes.api.typeinfo import TypeInfo
from pybernetes.apiserver import warnings as warn
from pybernetes.apiserver.authn import UserInfo
from pybernetes.apiserver.authz import Attributes as AuthzAttributes
from pybernetes.apiserver.negotiation import choose
from pybernetes.apiserver.options import DeleteOptions, ListOptions, WriteOptions
from pybernetes.apiserver.registry import GenericREST
from pybernetes.apiserver.requestinfo import RequestInfo
from pybernetes.apiserver.respond import list_response, object_response, status_success
from pybernetes.apiserver.state import ServerState

log = logging.getLogger(__name__)
Obj = dict[str, Any]

BODY_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
# Kinds whose DELETE answers with the deleted object rather than a Status (upstream ReturnDeletedObject).
RETURNS_DELETED = frozenset({"core/pods", "core/services", "core/namespaces", "core/persistentvolumes",
                             "core/persistentvolumeclaims", "core/nodes", "core/replicationcontrollers",
                             "apps/deployments", "apps/replicasets", "apps/statefulsets", "apps/daemonsets",
                             "batch/jobs", "batch/cronjobs", "apiextensions.k8s.io/customresourcedefinitions"})


def media_type(request: web.Request) -> str:
    return request.headers.get("Content-Type", "").split(";")[0].strip().lower()


def default_manager(request: web.Request) -> str:
    """Upstream names an anonymous field manager after the User-Agent's first segment ("kubectl/v1.32…")."""
    ua = request.headers.get("User-Agent", "")
    return (ua.split("/")[0] or "unknown")[:128]


class ResourceHandler:
    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.rest = GenericREST(state)
        # subresource name → handler(request, res, info, user, out) ; filled by apiserver.subresources
        self.subresources: dict[str, Any] = {}
        # group/resource → create handler for virtual kinds (reviews, bindings)
        self.virtual: dict[str, Any] = {}

    # ------------------------------------------------------------------ entry
    async def handle(self, request: web.Request, info: RequestInfo, user: UserInfo) -> web.StreamResponse:
        res = self.state.resources.get(info.group, info.version, info.resource)
        if res is None:
            raise errors.resource_not_found()
        await self.authorize(user, info)
        verb = info.verb
        if info.subresource:
            sub = res.subresource(info.subresource)
            if sub is None:
                raise errors.resource_not_found()
            handler = self.subresources.get(info.subresource)
            if handler is None:
                raise MethodNotAllowed(res.plural, res.group, verb)
            return await handler(request, res, info, user)
        virtual = self.virtual.get(res.group_resource)
        if virtual is not None:
            if verb != "create":
                raise MethodNotAllowed(res.plural, res.group, verb)
            return await virtual(request, res, info, user)
        if verb not in res.verbs and not (verb == "watch" and "watch" in res.verbs):
            details = {"group": res.group, "kind": res.plural} if res.group else {"kind": res.plural}   # omitempty
            raise errors.APIError("the server does not allow this method on the requested resource",
                                  code=405, reason="MethodNotAllowed", details=details)
        if res.namespaced and not info.namespace and verb in ("create", "update", "patch", "delete", "get") \
                and not (verb == "get" and not info.name):
            raise errors.resource_not_found()
        fn = getattr(self, f"do_{verb}", None)
        if fn is None:
            raise MethodNotAllowed(res.plural, res.group, verb)
        return await fn(request, res, info, user)

    async def authorize(self, user: UserInfo, info: RequestInfo, *, verb: str | None = None,
                        subresource: str | None = None) -> None:
        attrs = AuthzAttributes(user=user, verb=verb or info.verb, resource_request=True, namespace=info.namespace,
                                api_group=info.group, api_version=info.version, resource=info.resource,
                                subresource=info.subresource if subresource is None else subresource,
                                name=info.name, path=info.path)
        d = await self.state.authorizer.authorize(attrs)
        if not d.allowed:
            from pybernetes.apiserver.authz_messages import forbidden_message
            raise errors.APIError(forbidden_message(attrs, d.reason), code=403, reason="Forbidden",
                                  details=_forbidden_details(info))

    # ------------------------------------------------------------------ bodies
    async def read_body(self, request: web.Request) -> bytes:
        limit = self.state.config.max_body_bytes
        length = request.content_length
        if length is not None and length > limit:
            raise errors.RequestEntityTooLarge(f"Request entity too large: limit is {limit}")
        try:
            if length is not None and "Content-Encoding" not in request.headers:
                # The parser frames the body by its Content-Length, so it cannot outgrow the limit: read it whole
                # (no chunk iterator, no copy; no wait at all when it has all arrived, as small bodies usually
                # have). A compressed body may inflate past it: read with a count.
                content = request.content
                return content.read_nowait() if content.is_eof() else await content.read()
            return await _read_limited(request.content, limit)
        except RequestPayloadError as e:
            # e.g. a Content-Encoding the body does not match: the request is broken, not the server.
            cause = e.__cause__ or e
            raise BadRequest(f"error reading the request body: {getattr(cause, 'message', cause)}") from None

    async def decode_object(self, request: web.Request, res: Resource, ti: TypeInfo, *, mode: str,
                            kind: str | None = None, api_version: str | None = None) -> Obj:
        ct = media_type(request) or "application/json"
        if ct not in BODY_TYPES:
            raise UnsupportedMediaType(ct, ("application/json", "application/yaml",
                                            "application/vnd.kubernetes.protobuf"))
        body = await self.read_body(request)
        kind = kind or res.kind
        api_version = api_version or res.api_version
        dups: list[str] = []
        try:
            obj = parse_body(body, ct, duplicates=dups)
        except BodyError as e:
            raise BadRequest(e.for_kind(kind)) from None
        if not isinstance(obj, dict):
            raise BadRequest(cannot_handle(kind, api_version.rpartition("/")[2], "the body must be a JSON object"))
        self.check_kind(obj, kind, api_version, res)
        self.check_fields(obj, ti, mode=mode, kind=kind, version=api_version.rpartition("/")[2], duplicates=dups)
        return obj

    @staticmethod
    def check_kind(obj: Obj, kind: str, api_version: str, res: Resource) -> None:
        have_kind, have_av = obj.get("kind"), obj.get("apiVersion")
        version = api_version.rpartition("/")[2]
        if (have_kind is not None and not isinstance(have_kind, str)) or \
                (have_av is not None and not isinstance(have_av, str)):
            raise BadRequest(cannot_handle(kind, version, "apiVersion and kind must be strings"))
        if have_av and have_av != api_version:
            raise BadRequest(f"the API version in the data ({have_av}) does not match the expected API version "
                             f"({api_version})")
        if have_kind and have_kind != kind:
            raise BadRequest(f"the kind in the data ({have_kind}) does not match the expected kind ({kind})")
        # kind and apiVersion first, in that order, as the Go server writes TypeMeta.
        rest = {k: obj.pop(k) for k in list(obj) if k not in ("apiVersion", "kind")}
        obj.clear()
        obj["kind"], obj["apiVersion"] = kind, api_version
        obj.update(rest)

    @staticmethod
    def check_fields(obj: Obj, ti: TypeInfo, *, mode: str, kind: str, version: str,
                     duplicates: list[str] | None = None) -> None:
        result = check_object(obj, ti, mode=mode)
        if result.type_errors:
            raise BadRequest(cannot_handle(kind, version, result.type_errors[0]))
        if mode == "Ignore":
            return
        msgs = result.strict_errors(duplicates or ())
        if msgs:
            if mode == "Strict":
                raise BadRequest(cannot_handle(kind, version, "strict decoding error: " + ", ".join(msgs)))
            for m in msgs:
                warn.add(m)

    def write_options(self, request: web.Request, *, default_validation: str = "Warn", kind: str | None = None,
                      apply: bool = False) -> WriteOptions:
        """The request's write options; ``kind`` names them in a 422 (default by method, as upstream)."""
        if kind is None:
            kind = {"POST": "CreateOptions", "PUT": "UpdateOptions", "PATCH": "PatchOptions"}.get(request.method,
                                                                                                  "CreateOptions")
        opts = WriteOptions.parse(request.query, default_validation=default_validation, kind=kind, apply=apply)
        if not opts.field_manager:
            opts.field_manager = default_manager(request)
        return opts

    # ------------------------------------------------------------------ verbs
    async def do_get(self, request: web.Request, res: Resource, info: RequestInfo, user: UserInfo) -> web.Response:
        out = choose(request.headers.get("Accept"), allow_as=("Table", "PartialObjectMetadata"))
        obj = await self.rest.get(res, info.namespace, info.name,
                                  resource_version=request.query.get("resourceVersion", ""))
        return object_response(out, res, obj, include_object=request.query.get("includeObject", ""))

    async def do_list(self, request: web.Request, res: Resource, info: RequestInfo, user: UserInfo) -> web.Response:
        out = choose(request.headers.get("Accept"), allow_as=("Table", "PartialObjectMetadataList"))
        opts = ListOptions.parse(request.query)
        match = self.matcher(res, opts)
        encoded: list[bytes] = []
        lst = await self.rest.list(res, info.namespace, opts, match, encoded=encoded)
        return list_response(out, res, lst, include_object=request.query.get("includeObject", ""),
                             encoded=encoded)

    def matcher(self, res: Resource, opts: ListOptions, name: str = "") -> Any:
        from pybernetes.apiserver.selection import build_matcher
        return build_matcher(res, label_selector=opts.label_selector, field_selector=opts.field_selector,
                             name=name)

    async def do_watch(self, request: web.Request, res: Resource, info: RequestInfo,
                       user: UserInfo) -> web.StreamResponse:
        from pybernetes.apiserver.watch import serve_watch
        return await serve_watch(self, request, res, info)

    async def do_create(self, request: web.Request, res: Resource, info: RequestInfo,
                        user: UserInfo) -> web.Response:
        out = choose(request.headers.get("Accept"), allow_as=("Table", "PartialObjectMetadata"))
        opts = self.write_options(request)
        obj = await self.decode_object(request, res, self.rest.typeinfo(res), mode=opts.field_validation)
        if info.name:
            raise MethodNotAllowed(res.plural, res.group, "create")
        created = await self.rest.create(res, info.namespace, obj, opts=opts, user=user)
        return object_response(out, res, created, status=201)

    async def do_update(self, request: web.Request, res: Resource, info: RequestInfo,
                        user: UserInfo) -> web.Response:
        out = choose(request.headers.get("Accept"), allow_as=("Table", "PartialObjectMetadata"))
        opts = self.write_options(request)
        obj = await self.decode_object(request, res, self.rest.typeinfo(res), mode=opts.field_validation)
        result, created = await self.rest.update(res, info.namespace, info.name, obj, opts=opts, user=user)
        return object_response(out, res, result, status=201 if created else 200)

    async def do_patch(self, request: web.Request, res: Resource, info: RequestInfo,
                       user: UserInfo) -> web.Response:
        from pybernetes.apiserver.patching import patch_object
        out = choose(request.headers.get("Accept"), allow_as=("Table", "PartialObjectMetadata"))
        result, created = await patch_object(self, request, res, info, user)
        return object_response(out, res, result, status=201 if created else 200)

    async def delete_options(self, request: web.Request) -> DeleteOptions:
        body = await self.read_body(request)
        parsed: Any = None
        if body.strip():
            try:
                parsed = parse_body(body, media_type(request) or "application/json")
            except BodyError as e:
                raise BadRequest(str(e)) from None
        return DeleteOptions.parse(request.query, parsed)

    async def do_delete(self, request: web.Request, res: Resource, info: RequestInfo,
                        user: UserInfo) -> web.Response:
        out = choose(request.headers.get("Accept"), allow_as=())
        opts = await self.delete_options(request)
        obj, deleted = await self.rest.delete(res, info.namespace, info.name, opts, user=user)
        if not deleted:
            return object_response(out, res, obj, status=202 if opts.grace_period_seconds != 0 else 200)
        if res.storage in RETURNS_DELETED or res.custom:
            return object_response(out, res, obj)
        return object_response(out, None, status_success(res, obj))

    async def do_deletecollection(self, request: web.Request, res: Resource, info: RequestInfo,
                                  user: UserInfo) -> web.Response:
        out = choose(request.headers.get("Accept"), allow_as=())
        dopts = await self.delete_options(request)
        lopts = ListOptions.parse(request.query)
        lst = await self.rest.list(res, info.namespace, ListOptions(label_selector=lopts.label_selector,
                                                                    field_selector=lopts.field_selector),
                                   self.matcher(res, lopts))
        deleted = []
        for item in lst["items"]:
            meta = item["metadata"]
            try:
                obj, _ = await self.rest.delete(res, meta.get("namespace", ""), meta["name"],
                                                copy.copy(dopts), user=user)
                deleted.append(obj)
            except NotFound:
                continue
        lst["items"] = deleted
        return object_response(out, None, lst)


async def _read_limited(content: StreamReader, limit: int) -> bytes:
    """A body of unknown or encoded length, refused as soon as it outgrows ``limit``."""
    data = bytearray()
    async for chunk in content.iter_chunked(65536):
        data += chunk
        if len(data) > limit:
            raise errors.RequestEntityTooLarge(f"Request entity too large: limit is {limit}")
    return bytes(data)


def _forbidden_details(info: RequestInfo) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if info.name:
        d["name"] = info.name
    if info.group:
        d["group"] = info.group
    d["kind"] = info.resource
    return d


__all__ = ["APIError", "ResourceHandler"]
