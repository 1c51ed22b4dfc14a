"""Kinds that are computed, never stored: access reviews, token reviews, self subject reviews, bindings.

``kubectl auth can-i`` POSTs a SelfSubjectAccessReview (protobuf since 1.32): the answer comes from the
authorizer in force, so it is always the truth about what the API server would do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from pybernetes.api import errors
from pybernetes.api.field import Path, invalid, required
from pybernetes.api.resources import Resource
from pybernetes.api.typeinfo import of_kind
from pybernetes.apiserver.authn import UserInfo
from pybernetes.apiserver.authz import Attributes
from pybernetes.apiserver.negotiation import choose
from pybernetes.apiserver.requestinfo import RequestInfo
from pybernetes.apiserver.respond import object_response

if TYPE_CHECKING:
    from pybernetes.apiserver.handlers import ResourceHandler

Obj = dict[str, Any]


async def _decode(handler: ResourceHandler, request: web.Request, res: Resource) -> Obj:
    ti = of_kind(res.api_version, res.kind)
    assert ti is not None
    opts = handler.write_options(request)
    obj = await handler.decode_object(request, res, ti, mode=opts.field_validation)
    obj.setdefault("metadata", {})
    obj.setdefault("spec", {})
    if not isinstance(obj["spec"], dict):
        raise errors.BadRequest("spec must be an object")
    return obj


def _attributes(user: UserInfo, spec: Obj, *, namespace: str | None = None) -> tuple[Attributes, list]:
    ra = spec.get("resourceAttributes")
    nra = spec.get("nonResourceAttributes")
    errs = []
    if ra and nra:
        errs.append(invalid("spec.resourceAttributes", ra, "cannot be specified in combination with "
                            "nonResourceAttributes"))
    if not ra and not nra:
        errs.append(required("spec.resourceAttributes", "exactly one of nonResourceAttributes or "
                             "resourceAttributes must be specified"))
    if ra:
        ns = ra.get("namespace", "") if namespace is None else namespace
        return Attributes(user=user, verb=ra.get("verb", ""), resource_request=True, namespace=ns,
                          api_group=ra.get("group", ""), api_version=ra.get("version", ""),
                          resource=ra.get("resource", ""), subresource=ra.get("subresource", ""),
                          name=ra.get("name", "")), errs
    nra = nra or {}
    return Attributes(user=user, verb=nra.get("verb", ""), resource_request=False, path=nra.get("path", "")), errs


async def _answer(handler: ResourceHandler, request: web.Request, res: Resource, obj: Obj,
                  attrs: Attributes) -> web.Response:
    d = await handler.state.authorizer.authorize(attrs)
    status: Obj = {"allowed": d.allowed}
    if d.denied:
        status["denied"] = True
    if d.reason:
        status["reason"] = d.reason
    obj["status"] = status
    obj["metadata"].setdefault("creationTimestamp", None)
    return object_response(choose(request.headers.get("Accept")), None, obj, status=201)


async def self_subject_access_review(handler: ResourceHandler, request: web.Request, res: Resource,
                                     info: RequestInfo, user: UserInfo) -> web.Response:
    obj = await _decode(handler, request, res)
    attrs, errs = _attributes(user, obj["spec"])
    if errs:
        raise errors.Invalid(res.kind, res.group, "", errs)
    return await _answer(handler, request, res, obj, attrs)


def _user_from_spec(spec: Obj) -> UserInfo:
    extra = {k: tuple(v) for k, v in (spec.get("extra") or {}).items()}
    return UserInfo(spec.get("user", ""), uid=spec.get("uid", ""), groups=tuple(spec.get("groups") or ()),
                    extra=extra)


async def subject_access_review(handler: ResourceHandler, request: web.Request, res: Resource, info: RequestInfo,
                                user: UserInfo) -> web.Response:
    obj = await _decode(handler, request, res)
    spec = obj["spec"]
    local = res.kind == "LocalSubjectAccessReview"
    subject = _user_from_spec(spec)
    attrs, errs = _attributes(subject, spec, namespace=info.namespace if local else None)
    if not subject.name and not subject.groups:
        errs.append(required(Path("spec", "user"), "at least one of user or group must be specified"))
    if local:
        ns = (spec.get("resourceAttributes") or {}).get("namespace", "")
        if ns and ns != info.namespace:
            errs.append(required("spec.resourceAttributes.namespace", "must match metadata.namespace"))
    if errs:
        raise errors.Invalid(res.kind, res.group, "", errs)
    return await _answer(handler, request, res, obj, attrs)


async def self_subject_rules_review(handler: ResourceHandler, request: web.Request, res: Resource,
                                    info: RequestInfo, user: UserInfo) -> web.Response:
    obj = await _decode(handler, request, res)
    ns = obj["spec"].get("namespace", "")
    rules = getattr(handler.state.authorizer, "rules_for", None)
    resource_rules, non_resource_rules, incomplete = ([], [], True)
    if rules is not None:
        resource_rules, non_resource_rules, incomplete = await rules(user, ns)
    elif "system:masters" in user.groups or not user.anonymous:
        resource_rules = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
        non_resource_rules = [{"verbs": ["*"], "nonResourceURLs": ["*"]}]
        incomplete = False
    obj["status"] = {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules,
                     "incomplete": incomplete}
    obj["metadata"].setdefault("creationTimestamp", None)
    return object_response(choose(request.headers.get("Accept")), None, obj, status=201)


async def token_review(handler: ResourceHandler, request: web.Request, res: Resource, info: RequestInfo,
                       user: UserInfo) -> web.Response:
    obj = await _decode(handler, request, res)
    token = obj["spec"].get("token", "")
    if not token:
        raise errors.Invalid(res.kind, res.group, "", [required("spec.token", "token must be specified")])
    authn = handler.state.extra["authenticator"]
    who = authn.authenticate_token(token)
    if who is None:
        obj["status"] = {"authenticated": False, "user": {}, "error": "invalid bearer token"}
    else:
        obj["status"] = {"authenticated": True, "user": who.to_dict(),
                         "audiences": obj["spec"].get("audiences") or []}
    obj["metadata"].setdefault("creationTimestamp", None)
    return object_response(choose(request.headers.get("Accept")), None, obj, status=201)


async def self_subject_review(handler: ResourceHandler, request: web.Request, res: Resource, info: RequestInfo,
                              user: UserInfo) -> web.Response:
    obj = await _decode(handler, request, res)
    obj.pop("spec", None)
    obj["status"] = {"userInfo": user.to_dict()}
    obj["metadata"].setdefault("creationTimestamp", None)
    return object_response(choose(request.headers.get("Accept")), None, obj, status=201)


async def bindings(handler: ResourceHandler, request: web.Request, res: Resource, info: RequestInfo,
                   user: UserInfo) -> web.Response:
    from pybernetes.apiserver.subresources import binding
    return await binding(handler, request, res, info, user)


def install(handler: ResourceHandler) -> None:
    def bind(fn: Any) -> Any:
        async def run(request: web.Request, res: Resource, info: RequestInfo, user: UserInfo) -> Any:
            return await fn(handler, request, res, info, user)
        return run

    handler.virtual.update({
        "selfsubjectaccessreviews.authorization.k8s.io": bind(self_subject_access_review),
        "subjectaccessreviews.authorization.k8s.io": bind(subject_access_review),
        "localsubjectaccessreviews.authorization.k8s.io": bind(subject_access_review),
        "selfsubjectrulesreviews.authorization.k8s.io": bind(self_subject_rules_review),
        "tokenreviews.authentication.k8s.io": bind(token_review),
        "selfsubjectreviews.authentication.k8s.io": bind(self_subject_review),
        "bindings": bind(bindings),
    })
