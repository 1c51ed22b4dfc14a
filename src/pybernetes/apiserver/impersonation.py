"""Impersonation (``kubectl --as``/``--as-group``/``--as-uid``): the ``Impersonate-*`` headers replace the
requester with another identity, if the requester may ``impersonate`` each part of it (upstream
``endpoints/filters/impersonation.go``): ``users`` or ``serviceaccounts`` (core group), ``groups``, ``uids`` and
``userextras/<key>`` (authentication.k8s.io). One refused part is a 403 naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote

from pybernetes.api import errors
from pybernetes.apiserver.authn import UserInfo
from pybernetes.apiserver.authz import Attributes, Authorizer

SA_PREFIX = "system:serviceaccount:"
AUTHN_GROUP = "authentication.k8s.io"
EXTRA_PREFIX = "impersonate-extra-"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"


def requested(headers: Mapping[str, str]) -> bool:
    """Whether any ``Impersonate-*`` header is present (any case); runs on every request, so most headers are
    ruled out by their first letter."""
    return any(k[:1] in "iI" and k[:12].lower() == "impersonate-" for k in headers)


def _split_sa(name: str) -> tuple[str, str] | None:
    """Upstream ``serviceaccount.SplitUsername``: ``system:serviceaccount:<ns>:<name>``, both parts non-empty."""
    if not name.startswith(SA_PREFIX):
        return None
    parts = name[len(SA_PREFIX):].split(":")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


async def impersonate(user: UserInfo, headers: object, authorizer: Authorizer) -> UserInfo:
    getall = getattr(headers, "getall", None)
    name = headers.get("Impersonate-User", "")  # type: ignore[attr-defined]
    groups = list(getall("Impersonate-Group", [])) if getall else []
    if not getall and headers.get("Impersonate-Group"):  # type: ignore[attr-defined]
        groups = [headers["Impersonate-Group"]]  # type: ignore[index]
    uid = headers.get("Impersonate-Uid", "")  # type: ignore[attr-defined]
    extra: dict[str, tuple[str, ...]] = {}
    for k in dict.fromkeys(headers):  # type: ignore[call-overload]
        if k.lower().startswith(EXTRA_PREFIX):
            key = unquote(k[len(EXTRA_PREFIX):].lower())          # keys are percent-encoded on the wire
            extra[key] = tuple(getall(k, [])) if getall else (headers[k],)  # type: ignore[index]
    if not name:
        raise errors.APIError("requested impersonation but no user was specified", code=400, reason="BadRequest")
    # (resource, subresource, group, namespace, name), in upstream's order: user, groups, extras, uid
    checks: list[tuple[str, str, str, str, str]] = []
    sa = _split_sa(name)
    if sa is not None:
        checks.append(("serviceaccounts", "", "", sa[0], sa[1]))
    else:
        checks.append(("users", "", "", "", name))
    checks += [("groups", "", "", "", g) for g in groups]
    for k, vals in extra.items():
        checks += [("userextras", k, AUTHN_GROUP, "", v) for v in vals]
    if uid:
        checks.append(("uids", "", AUTHN_GROUP, "", uid))
    for resource, sub, group, ns, obj_name in checks:
        attrs = Attributes(user=user, verb="impersonate", resource_request=True, namespace=ns, api_group=group,
                           api_version="v1", resource=resource, subresource=sub, name=obj_name)
        d = await authorizer.authorize(attrs)
        if not d.allowed:
            raise _forbidden(attrs, d.reason)
    all_groups = list(groups)
    if sa is not None and not groups:
        all_groups = ["system:serviceaccounts", f"system:serviceaccounts:{sa[0]}"]
    if name != ANONYMOUS:
        if AUTHENTICATED not in all_groups and UNAUTHENTICATED not in all_groups:
            all_groups.append(AUTHENTICATED)
    elif UNAUTHENTICATED not in all_groups:
        all_groups.append(UNAUTHENTICATED)
    return UserInfo(name, uid=uid, groups=tuple(dict.fromkeys(all_groups)), extra=extra)


def _forbidden(a: Attributes, reason: str) -> errors.APIError:
    """Upstream ``responsewriters.ForbiddenStatusError``: the object is named by group/resource without the
    subresource (``userextras.authentication.k8s.io "v"``); the sentence names resource/subresource."""
    resource = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    scope = f' in the namespace "{a.namespace}"' if a.namespace else " at the cluster scope"
    msg = f'User "{a.user.name}" cannot impersonate resource "{resource}" in API group "{a.api_group}"{scope}'
    if reason:
        msg += f": {reason}"
    qualified = f"{a.resource}.{a.api_group}" if a.api_group else a.resource
    details = {"name": a.name, "kind": a.resource}
    if a.api_group:
        details = {"name": a.name, "group": a.api_group, "kind": a.resource}
    return errors.APIError(f'{qualified} "{a.name}" is forbidden: {msg}', code=403, reason="Forbidden",
                           details=details)
