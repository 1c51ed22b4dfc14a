"""Subresources served by the API server itself: status, scale, binding, finalize, ephemeralcontainers.

Streaming subresources (log, exec, attach, portforward, proxy) are proxied to kubelets by ``streaming``;
eviction and token live in their own modules.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from aiohttp import web

from pybernetes.api import errors
from pybernetes.api.errors import BadRequest, MethodNotAllowed
from pybernetes.api.resources import Resource
from pybernetes.api.typeinfo import of_kind
from pybernetes.apiserver.authn import UserInfo
from pybernetes.apiserver.negotiation import choose
from pybernetes.apiserver.requestinfo import RequestInfo
from pybernetes.apiserver.respond import object_response
from pybernetes.apiserver.sa_tokens import token_request

if TYPE_CHECKING:
    from pybernetes.apiserver.handlers import ResourceHandler

Obj = dict[str, Any]


def _out(request: web.Request) -> Any:
    return choose(request.headers.get("Accept"), allow_as=("Table", "PartialObjectMetadata"))


async def status(handler: ResourceHandler, request: web.Request, res: Resource, info: RequestInfo,
                 user: UserInfo) -> web.StreamResponse:
    """GET/PUT/PATCH ``…/status``: the object, written through the status strategy (spec stays as stored)."""
    out = _out(request)
    if info.verb == "get":
        return object_response(out, res, await handler.rest.get(res, info.namespace, info.name))
    if info.verb == "update":
        opts = handler.write_options(request)
        obj = await handler.decode_object(request, res, handler.rest.typeinfo(res), mode=opts.field_validation)
        meta = obj.setdefault("metadata", {})
        want_rv = meta.get("resourceVersion", "")

        def replace(old: Obj) -> Obj:
            if want_rv and want_rv != old["metadata"]["resourceVersion"]:
                raise errors.Conflict(res.plural, res.group, info.name, errors.OPTIMISTIC_LOCK)
            return copy.deepcopy(obj)

        result = await handler.rest.guaranteed_update(res, info.namespace, info.name, replace, opts=opts, user=user,
                                                      subresource="status", precondition_rv=bool(want_rv))
        return object_response(out, res, result)
    if info.verb == "patch":
        from pybernetes.apiserver.patching import patch_object
        result, _ = await patch_object(handler, request, res, info, user, subresource="status")
        return object_response(out, res, result)
    raise MethodNotAllowed(res.plural + "/status", res.group, info.verb)


# ------------------------------------------------------------------ scale
def _get_path(obj: Obj, path: str) -> Any:
    cur: Any = obj
    for p in path.lstrip(".").split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(p)
    return cur


def _set_path(obj: Obj, path: str, value: Any) -> None:
    parts = path.lstrip(".").split(".")
    cur = obj
    for p in parts[:-1]:
        cur = cur.setdefault(p, {})
    cur[parts[-1]] = value


def scale_paths(res: Resource) -> dict[str, str]:
    if res.custom:
        return res.scale_paths or {}
    return {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector"}


def to_scale(res: Resource, obj: Obj) -> Obj:
    """The autoscaling/v1 Scale view of an object."""
    from pybernetes.api.selectors import label_selector_from_dict
    paths = scale_paths(res)
    meta = obj["metadata"]
    scale_meta = {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                  if k in meta}
    spec_replicas = _get_path(obj, paths.get("specReplicasPath", ".spec.replicas"))
    status: Obj = {"replicas": _get_path(obj, paths.get("statusReplicasPath", ".status.replicas")) or 0}
    if res.custom:
        sel = _get_path(obj, paths["labelSelectorPath"]) if paths.get("labelSelectorPath") else None
        if isinstance(sel, str) and sel:
            status["selector"] = sel
    else:
        selector = (obj.get("spec") or {}).get("selector")
        if res.kind == "ReplicationController" and isinstance(selector, dict):
            sel = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        elif isinstance(selector, dict):
            sel = str(label_selector_from_dict(selector))
        else:
            sel = ""
        if sel:
            status["selector"] = sel
    spec: Obj = {}
    if spec_replicas is not None:
        spec["replicas"] = spec_replicas
    return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": scale_meta, "spec": spec, "status": status}


# The Scale's own Table (NAME, DESIRED, AVAILABLE, AGE: `kubectl get deploy x --subresource=scale`). Upstream's
# built-in scale storages convert with their kind's printers, which have a Scale handler; a custom resource's
# scale storage has no table convertor, so kubectl falls back to the JSON Scale.
_SCALE_TABLE = Resource(group="autoscaling", version="v1", kind="Scale", plural="scale", singular="scale",
                        namespaced=True)


def _scale_response(out: Any, res: Resource, scale_obj: Obj) -> web.Response:
    return object_response(out, None if res.custom else _SCALE_TABLE, scale_obj)


async def scale(handler: ResourceHandler, request: web.Request, res: Resource, info: RequestInfo,
                user: UserInfo) -> web.StreamResponse:
    out = _out(request)
    rest = handler.rest
    if info.verb == "get":
        return _scale_response(out, res, to_scale(res, await rest.get(res, info.namespace, info.name)))
    scale_ti = of_kind("autoscaling/v1", "Scale")
    assert scale_ti is not None
    opts = handler.write_options(request)
    paths = scale_paths(res)
    spec_path = paths.get("specReplicasPath", ".spec.replicas")
    if info.verb == "update":
        body = await handler.decode_object(request, res, scale_ti, mode=opts.field_validation, kind="Scale",
                                           api_version="autoscaling/v1")

        def desired(old_scale: Obj) -> Obj:
            return body
    elif info.verb == "patch":
        from pybernetes.api.patch import PatchError, jsonpatch, mergepatch, strategic
        from pybernetes.apiserver.handlers import media_type
        from pybernetes.apiserver.patching import parse_patch, patch_error
        ct = media_type(request)
        patch = parse_patch(await handler.read_body(request), ct)

        def desired(old_scale: Obj) -> Obj:
            try:
                if ct == "application/json-patch+json":
                    return jsonpatch.apply(old_scale, patch)
                if ct == "application/merge-patch+json":
                    return mergepatch.apply(old_scale, patch)
                if ct == "application/strategic-merge-patch+json":
                    return strategic.apply(old_scale, patch, scale_ti)
                if ct == "application/apply-patch+yaml":
                    merged = mergepatch.apply(old_scale, patch)
                    return merged
            except PatchError as e:
                raise patch_error(e) from None
            raise errors.UnsupportedMediaType(ct, ("application/json-patch+json", "application/merge-patch+json",
                                                   "application/strategic-merge-patch+json"))
    else:
        raise MethodNotAllowed(res.plural + "/scale", res.group, info.verb)

    def try_update(old: Obj) -> Obj:
        old_scale = to_scale(res, old)
        new_scale = desired(copy.deepcopy(old_scale))
        if not isinstance(new_scale, dict):
            raise BadRequest("the Scale body must be an object")
        want_rv = (new_scale.get("metadata") or {}).get("resourceVersion", "")
        if want_rv and want_rv != old["metadata"]["resourceVersion"]:
            raise errors.Conflict(res.plural, res.group, info.name, errors.OPTIMISTIC_LOCK)
        replicas = (new_scale.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.Invalid("Scale", "autoscaling", info.name, [
                _invalid("spec.replicas", replicas, "must be greater than or equal to 0")])
        new = copy.deepcopy(old)
        _set_path(new, spec_path, replicas)
        return new

    result = await rest.guaranteed_update(res, info.namespace, info.name, try_update, opts=opts, user=user,
                                          subresource="scale")
    return _scale_response(out, res, to_scale(res, result))


def _invalid(path: str, value: Any, detail: str) -> Any:
    from pybernetes.api.field import invalid
    return invalid(path, value, detail)


# ------------------------------------------------------------------ binding
async def binding(handler: ResourceHandler, request: web.Request, res: Resource, info: RequestInfo,
                  user: UserInfo) -> web.StreamResponse:
    """POST pods/NAME/binding (and the ``bindings`` collection): assign a pod to a node, once."""
    if info.verb != "create":
        raise MethodNotAllowed("pods/binding", "", info.verb)
    binding_ti = of_kind("v1", "Binding")
    assert binding_ti is not None
    opts = handler.write_options(request)
    body = await handler.decode_object(request, res, binding_ti, mode=opts.field_validation, kind="Binding",
                                       api_version="v1")
    name = info.name or (body.get("metadata") or {}).get("name", "")
    pods = handler.state.resources.get("", "v1", "pods")
    assert pods is not None
    await bind_pod(handler, pods, info.namespace, name, body, user, opts)
    st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
    return object_response(_out(request), None, st, status=201)


async def bind_pod(handler: ResourceHandler, pods: Resource, ns: str, name: str, body: Obj, user: UserInfo,
                   opts: Any) -> Obj:
    from pybernetes.api.kinds.pod import bind_pod as apply_binding
    target = body.get("target") or {}
    node = target.get("name", "")
    if not node:
        raise errors.Invalid("Binding", "", name, [_required("target.name")])

    def try_update(old: Obj) -> Obj:
        return apply_binding(old, body)

    # As upstream's BindingREST, which writes the pod through the storage directly: the binding is recorded in
    # spec.nodeName and the PodScheduled condition, not in the pod's managedFields.
    return await handler.rest.guaranteed_update(pods, ns, name, try_update, opts=opts, user=user,
                                                subresource="binding", managed=False)


def _required(path: str) -> Any:
    from pybernetes.api.field import required
    return required(path)


# ------------------------------------------------------------------ namespaces/finalize
async def finalize(handler: ResourceHandler, request: web.Request, res: Resource, info: RequestInfo,
                   user: UserInfo) -> web.StreamResponse:
    if info.verb != "update":
        raise MethodNotAllowed("namespaces/finalize", "", info.verb)
    opts = handler.write_options(request)
    obj = await handler.decode_object(request, res, handler.rest.typeinfo(res), mode=opts.field_validation)
    finalizers = (obj.get("spec") or {}).get("finalizers") or []

    def try_update(old: Obj) -> Obj:
        new = copy.deepcopy(old)
        new.setdefault("spec", {})["finalizers"] = list(finalizers)
        if not finalizers:
            new["spec"].pop("finalizers", None)
        return new

    result = await handler.rest.guaranteed_update(res, "", info.name, try_update, opts=opts, user=user,
                                                  subresource="finalize")
    return object_response(_out(request), res, result)


# ------------------------------------------------------------------ pods/ephemeralcontainers
async def ephemeral_containers(handler: ResourceHandler, request: web.Request, res: Resource, info: RequestInfo,
                               user: UserInfo) -> web.StreamResponse:
    out = _out(request)
    if info.verb == "get":
        return object_response(out, res, await handler.rest.get(res, info.namespace, info.name))
    if info.verb == "patch":
        from pybernetes.apiserver.patching import patch_object
        result, _ = await patch_object(handler, request, res, info, user, subresource="ephemeralcontainers")
        return object_response(out, res, result)
    if info.verb == "update":
        opts = handler.write_options(request)
        obj = await handler.decode_object(request, res, handler.rest.typeinfo(res), mode=opts.field_validation)
        eph = (obj.get("spec") or {}).get("ephemeralContainers") or []

        def try_update(old: Obj) -> Obj:
            new = copy.deepcopy(old)
            new.setdefault("spec", {})["ephemeralContainers"] = eph
            return new

        result = await handler.rest.guaranteed_update(res, info.namespace, info.name, try_update, opts=opts,
                                                      user=user, subresource="ephemeralcontainers")
        return object_response(out, res, result)
    raise MethodNotAllowed("pods/ephemeralcontainers", "", info.verb)


def install(handler: ResourceHandler) -> None:
    def bind(fn: Any) -> Any:
        async def run(request: web.Request, res: Resource, info: RequestInfo, user: UserInfo) -> Any:
            return await fn(handler, request, res, info, user)
        return run

    handler.subresources.update({
        "status": bind(status), "scale": bind(scale), "binding": bind(binding), "finalize": bind(finalize),
        "ephemeralcontainers": bind(ephemeral_containers), "token": bind(token_request),
    })
    from pybernetes.apiserver.eviction import eviction
    handler.subresources["eviction"] = bind(eviction)
    from pybernetes.apiserver import proxy
    proxy.install(handler)
