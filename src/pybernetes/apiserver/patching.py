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
from pybernetes.api import patch as patch_pkg
from pybernetes.api.decode import check_object
from pybernetes.api.errors import BadRequest, NotFound
from pybernetes.api.field import invalid, required
from pybernetes.api.managedfields import reset_fields
from pybernetes.api.meta import now_rfc3339
from pybernetes.api.patch import APPLY_PATCH, STRATEGIC_MERGE_PATCH, PatchError, jsonpatch, mergepatch, strategic
from pybernetes.api.resources import Resource
from pybernetes.apiserver import warnings as warn
from pybernetes.apiserver.authn import UserInfo
from pybernetes.apiserver.options import WriteOptions
from pybernetes.apiserver.requestinfo import RequestInfo

if TYPE_CHECKING:
    from pybernetes.apiserver.handlers import ResourceHandler

Obj = dict[str, Any]


def parse_patch(body: bytes, ct: str) -> Any:
    """Decode a PATCH body: YAML (or JSON) for apply, JSON with upstream's 400 messages for the others."""
    if ct == APPLY_PATCH:
        try:
            return yaml.safe_load(body.decode("utf-8")) if body.strip() else None
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise BadRequest(f"error decoding YAML: {str(e).splitlines()[0]}") from None
    try:
        return patch_pkg.decode(body, patch_type=ct)
    except PatchError as e:
        raise patch_error(e) from None


def patch_error(e: PatchError) -> errors.APIError:
    """The Status for a patch that cannot be applied. Where upstream lets a plain Go error through (a 500 without a
    reason: a strategic-merge element missing its merge key, an unknown ``$patch`` directive, ...) the request,
    not the server, is at fault: we answer 400 BadRequest with the same message, so no client input yields a 5xx
    and clients do not retry it as a server failure."""
    if e.code >= 500:
        return BadRequest(e.message)
    return e.to_api_error()


def check_patched(new: Obj, ti: Any, *, mode: str, patch: Any, strategic: bool) -> None:
    """Type and strict-decoding checks of a patched object, failing as upstream's patchers do: a 422 on the field
    ``patch`` of a kind-less Invalid (kubectl: "The request is invalid: patch: Invalid value: ..."), whose value is
    Go's ``%v`` of the patch for strategic merge patches and the patched object's JSON for the others. Unknown
    fields only fail in Strict mode (Warn: warnings); a wrong type fails in every mode."""
    result = check_object(new, ti, mode=mode)
    if result.type_errors:
        raise _invalid_patch(new, patch, strategic, result.type_errors[0])
    if mode == "Ignore":
        return
    msgs = result.strict_errors()
    if msgs and mode == "Strict":
        raise _invalid_patch(new, patch, strategic, "strict decoding error: " + ", ".join(msgs))
    for m in msgs:
        warn.add(m)


def _invalid_patch(new: Obj, patch: Any, strategic: bool, detail: str) -> errors.APIError:
    value = patch_pkg.go_v(patch) if strategic else orjson.dumps(new).decode()
    return errors.Invalid("", "", "", [invalid("patch", value, detail)])


async def patch_object(handler: ResourceHandler, request: web.Request, res: Resource, info: RequestInfo,
                       user: UserInfo, *, subresource: str = "") -> tuple[Obj, bool]:
    """Apply the request's patch to ``res/name`` (through ``subresource``'s strategy when given)."""
    try:
        ct = patch_pkg.check_content_type(request.headers.get("Content-Type", ""), custom=res.custom)
    except PatchError as e:
        raise patch_error(e) from None
    rest = handler.rest
    opts: WriteOptions = handler.write_options(request, default_validation="Warn", kind="PatchOptions",
                                               apply=ct == APPLY_PATCH)
    if ct == APPLY_PATCH and not request.query.get("fieldManager"):
        raise errors.Invalid("PatchOptions", "meta.k8s.io", "", [required("fieldManager",
                                                                           "is required for apply patch")])
    body = await handler.read_body(request)
    patch = parse_patch(body, ct)
    ti = rest.typeinfo(res)
    if ct == APPLY_PATCH:
        return await _apply(handler, res, info, user, patch, opts, subresource)
    if opts.field_validation != "Ignore":
        module = {patch_pkg.JSON_PATCH: jsonpatch, patch_pkg.MERGE_PATCH: mergepatch}.get(ct, strategic)
        try:
            problems = module.strict_errors(patch)
        except PatchError as e:
            raise patch_error(e) from None
        if problems and opts.field_validation == "Strict":
            raise errors.APIError("strict decoding error: " + ", ".join(problems), code=422, reason="Invalid",
                                  details={})
        for p in problems:
            warn.add(p)
    pinned_rv = ""
    if isinstance(patch, dict) and isinstance(patch.get("metadata"), dict):
        pinned_rv = patch["metadata"].get("resourceVersion", "") or ""

    def try_update(old: Obj) -> Obj:
        if pinned_rv and pinned_rv != old["metadata"]["resourceVersion"]:
            raise errors.Conflict(res.plural, res.group, info.name, errors.OPTIMISTIC_LOCK)
        try:
            new = patch_pkg.apply(ct, old, patch, ti=ti)
        except PatchError as e:
            raise patch_error(e) from None
        if not isinstance(new, dict):
            raise BadRequest("the patched object must be a JSON object")
        if new.get("kind", res.kind) != res.kind or new.get("apiVersion", res.api_version) != res.api_version:
            raise BadRequest(f"the API version in the data ({new.get('apiVersion')}) does not match the expected "
                             f"API version ({res.api_version})")
        if not isinstance(new.get("metadata", {}), dict):
            raise BadRequest("metadata must be an object")
        check_patched(new, ti, mode=opts.field_validation, patch=patch, strategic=ct == STRATEGIC_MERGE_PATCH)
        if new.get("metadata", {}).get("name", info.name) != info.name:
            raise BadRequest(f"the name of the object ({new['metadata']['name']}) does not match the name on the "
                             f"URL ({info.name})")
        return new

    obj = await rest.guaranteed_update(res, info.namespace, info.name, try_update, opts=opts, user=user,
                                       subresource=subresource, precondition_rv=bool(pinned_rv))
    return obj, False


async def _apply(handler: ResourceHandler, res: Resource, info: RequestInfo, user: UserInfo, cfg: Any,
                 opts: WriteOptions, subresource: str) -> tuple[Obj, bool]:
    """Server-side apply; conflicts raise :class:`~pybernetes.api.apply.ApplyConflict`, itself the 409 Status."""
    from pybernetes.api.apply import apply
    rest = handler.rest
    ti = rest.typeinfo(res)
    if not isinstance(cfg, dict):
        raise BadRequest("error decoding YAML: the apply configuration must be an object")
    handler.check_kind(cfg, res.kind, res.api_version, res)
    handler.check_fields(cfg, ti, mode=opts.field_validation, kind=res.kind, version=res.version)
    meta = cfg.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if name and name != info.name:
        raise BadRequest(f"the name of the object ({name}) does not match the name on the URL ({info.name})")
    ignored = reset_fields(subresource=subresource, has_status_subresource=res.strategy.has_status_subresource)

    def run_apply(live: Obj | None) -> Obj:
        return apply(live, cfg, manager=opts.field_manager, force=opts.force, ti=ti, now=now_rfc3339(),
                     api_version=res.api_version, kind=res.kind, subresource=subresource, ignored=ignored)

    try:
        obj = await rest.guaranteed_update(res, info.namespace, info.name, run_apply, opts=opts, user=user,
                                           subresource=subresource, managed=False,
                                           precondition_rv=bool(isinstance(meta, dict) and
                                                                meta.get("resourceVersion")))
        return obj, False
    except NotFound:
        if subresource:
            raise
    if not name:
        raise BadRequest(f"the name of the object ({info.name} based on URL) was undeterminable: name must be "
                         "provided")
    new = run_apply(None)
    new.get("metadata", {}).pop("resourceVersion", None)
    created = await rest.create(res, info.namespace, new, opts=opts, user=user, managed=False)
    return created, True
