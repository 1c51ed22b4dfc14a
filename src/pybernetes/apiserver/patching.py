"""PATCH: JSON patch, merge patch, strategic merge patch and server-side apply (upstream handlers/patch.go).

Non-apply patches are applied to the current object inside the registry's guaranteed-update loop, so a
concurrent write makes the patch re-apply to the new state — unless the patch itself pins
``metadata.resourceVersion``, which then must match (409 otherwise). Apply merges the configuration with the
live object by field ownership and creates the object when it is missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import yaml
from aiohttp import web

from pybernetes.api import errors
from pybernetes.api.errors import BadRequest, NotFound, UnsupportedMediaType
from pybernetes.api.field import required
from pybernetes.api.meta import now_rfc3339
from pybernetes.api.patch import PatchError, jsonpatch, mergepatch, strategic
from pybernetes.api.resources import Resource
from pybernetes.apiserver.authn import UserInfo
from pybernetes.apiserver.handlers import PATCH_TYPES, media_type
from pybernetes.apiserver.options import WriteOptions
from pybernetes.apiserver.requestinfo import RequestInfo

if TYPE_CHECKING:
    from pybernetes.apiserver.handlers import ResourceHandler

Obj = dict[str, Any]


def parse_patch(body: bytes, ct: str) -> Any:
    try:
        if ct == "application/apply-patch+yaml":
            return yaml.safe_load(body.decode("utf-8")) if body.strip() else None
        return orjson.loads(body)
    except (orjson.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError) as e:
        raise BadRequest(f"error decoding patch: {str(e).splitlines()[0]}") from None


def patch_error(e: PatchError) -> errors.APIError:
    code = getattr(e, "code", 422) or 422
    reason = {400: "BadRequest", 409: "Conflict", 415: "UnsupportedMediaType", 422: "Invalid"}.get(code, "Invalid")
    return errors.APIError(str(e), code=code, reason=reason, details={} if code == 422 else None)


async def patch_object(handler: ResourceHandler, request: web.Request, res: Resource, info: RequestInfo,
                       user: UserInfo, *, subresource: str = "",
                       transform: Any = None) -> tuple[Obj, bool]:
    """Apply the request's patch to ``res/name`` (or its ``subresource``). ``transform`` optionally maps
    (patch function) for subresources such as scale that patch a derived object."""
    ct = media_type(request)
    if ct not in PATCH_TYPES:
        raise UnsupportedMediaType(ct, PATCH_TYPES)
    rest = handler.rest
    is_apply = ct == "application/apply-patch+yaml"
    opts: WriteOptions = handler.write_options(request, default_validation="Warn")
    if is_apply and not request.query.get("fieldManager"):
        raise errors.Invalid("PatchOptions", "meta.k8s.io", "", [required("fieldManager",
                                                                           "is required for apply patch")])
    body = await handler.read_body(request)
    patch = parse_patch(body, ct)
    ti = rest.typeinfo(res)
    if ct == "application/strategic-merge-patch+json" and res.custom:
        raise UnsupportedMediaType(ct, ("application/json-patch+json", "application/merge-patch+json",
                                        "application/apply-patch+yaml"))
    if is_apply:
        return await _apply(handler, res, info, user, patch, opts, subresource)
    pinned_rv = ""
    if isinstance(patch, dict):
        pinned_rv = (patch.get("metadata") or {}).get("resourceVersion", "") if isinstance(
            patch.get("metadata"), dict) else ""

    def try_update(old: Obj) -> Obj:
        if pinned_rv and pinned_rv != old["metadata"]["resourceVersion"]:
            raise errors.Conflict(res.plural, res.group, info.name, errors.OPTIMISTIC_LOCK)
        try:
            if ct == "application/json-patch+json":
                new = jsonpatch.apply(old, patch)
            elif ct == "application/merge-patch+json":
                new = mergepatch.apply(old, patch)
            else:
                new = strategic.apply(old, patch, ti)
        except PatchError as e:
            raise patch_error(e) from None
        if not isinstance(new, dict):
            raise BadRequest("the patched object must be a JSON object")
        if new.get("kind", res.kind) != res.kind or new.get("apiVersion", res.api_version) != res.api_version:
            raise BadRequest(f"the API version in the data ({new.get('apiVersion')}) does not match the expected "
                             f"API version ({res.api_version})")
        if not isinstance(new.get("metadata", {}), dict):
            raise BadRequest("metadata must be an object")
        handler.check_fields(new, ti, mode=opts.field_validation, kind=res.kind, version=res.version)
        if new.get("metadata", {}).get("name", info.name) != info.name:
            raise BadRequest(f"the name of the object ({new['metadata']['name']}) does not match the name on the "
                             f"URL ({info.name})")
        return new

    obj = await rest.guaranteed_update(res, info.namespace, info.name, try_update, opts=opts, user=user,
                                       subresource=subresource, precondition_rv=bool(pinned_rv))
    return obj, False


async def _apply(handler: ResourceHandler, res: Resource, info: RequestInfo, user: UserInfo, cfg: Any,
                 opts: WriteOptions, subresource: str) -> tuple[Obj, bool]:
    from pybernetes.api.apply import ApplyConflict, apply
    rest = handler.rest
    ti = rest.typeinfo(res)
    if not isinstance(cfg, dict):
        raise BadRequest("error decoding YAML: the apply configuration must be an object")
    handler.check_kind(cfg, res.kind, res.api_version, res)
    handler.check_fields(cfg, ti, mode=opts.field_validation, kind=res.kind, version=res.version)
    meta = cfg.get("metadata")
    if not isinstance(meta, dict) or not meta.get("name"):
        raise errors.Invalid(res.kind, res.group, info.name, [required("metadata.name", "name is required")])
    if meta["name"] != info.name:
        raise BadRequest(f"the name of the object ({meta['name']}) does not match the name on the URL "
                         f"({info.name})")

    def run_apply(live: Obj | None) -> Obj:
        try:
            return apply(live, cfg, manager=opts.field_manager, force=opts.force, ti=ti, now=now_rfc3339(),
                         api_version=res.api_version)
        except ApplyConflict as e:
            # Its causes already print each manager as upstream does (" using <version>" for Update managers only).
            raise errors.APIError(e.message, code=409, reason="Conflict", details=e.details) from None

    try:
        obj = await rest.guaranteed_update(res, info.namespace, info.name, run_apply, opts=opts, user=user,
                                           subresource=subresource, managed=False,
                                           precondition_rv=bool(meta.get("resourceVersion")))
        return obj, False
    except NotFound:
        if subresource:
            raise
    new = run_apply(None)
    new.get("metadata", {}).pop("resourceVersion", None)
    created = await rest.create(res, info.namespace, new, opts=opts, user=user, managed=False)
    return created, True
