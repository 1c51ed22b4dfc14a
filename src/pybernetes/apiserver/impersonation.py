"""Impersonation (``kubectl --as``/``--as-group``): the ``Impersonate-*`` headers replace the requester with
another identity, if the requester may ``impersonate`` it (upstream ``filters/impersonation.go``)."""

from __future__ import annotations

from collections.abc import Mapping

from pybernetes.api import errors
from pybernetes.apiserver.authn import UserInfo
from pybernetes.apiserver.authz import Attributes, Authorizer

SA_PREFIX = "system:serviceaccount:"


def requested(headers: Mapping[str, str]) -> bool:
    return any(k.lower().startswith("impersonate-") for k in headers)


async def impersonate(user: UserInfo, headers: object, authorizer: Authorizer) -> UserInfo:
    getall = getattr(headers, "getall", None)
    name = headers.get("Impersonate-User", "")  # type: ignore[attr-defined]
    groups = list(getall("Impersonate-Group", [])) if getall else []
    uid = headers.get("Impersonate-Uid", "")  # type: ignore[attr-defined]
    extra: dict[str, tuple[str, ...]] = {}
    for k in headers:  # type: ignore[attr-defined]
        if k.lower().startswith("impersonate-extra-"):
            key = k[len("impersonate-extra-"):].lower()
            extra[key] = tuple(getall(k, [])) if getall else (headers[k],)  # type: ignore[index]
    if not name:
        raise errors.APIError("requested impersonation but no user was specified", code=400, reason="BadRequest")
    checks: list[tuple[str, str, str, str]] = []    # (resource, group, namespace, name)
    if name.startswith(SA_PREFIX) and name.count(":") == 3:
        ns, sa = name[len(SA_PREFIX):].split(":")
        checks.append(("serviceaccounts", "", ns, sa))
    else:
        checks.append(("users", "", "", name))
    checks += [("groups", "", "", g) for g in groups]
    if uid:
        checks.append(("uids", "authentication.k8s.io", "", uid))
    for k, vals in extra.items():
        checks += [(f"userextras/{k}", "authentication.k8s.io", "", v) for v in vals]
    for resource, group, ns, obj_name in checks:
        d = await authorizer.authorize(Attributes(user=user, verb="impersonate", resource_request=True,
                                                  namespace=ns, api_group=group, resource=resource, name=obj_name))
        if not d.allowed:
            what = f'{resource} "{obj_name}"'
            raise errors.APIError(f'{what} is forbidden: User "{user.name}" cannot impersonate resource '
                                  f'"{resource}" in API group "{group}"' +
                                  (f' in the namespace "{ns}"' if ns else " at the cluster scope"),
                                  code=403, reason="Forbidden", details={"name": obj_name, "kind": resource})
    all_groups = list(groups)
    if name.startswith(SA_PREFIX):
        ns = name[len(SA_PREFIX):].split(":")[0]
        all_groups += ["system:serviceaccounts", f"system:serviceaccounts:{ns}"]
    if name != "system:anonymous" and "system:authenticated" not in all_groups:
        all_groups.append("system:authenticated")
    return UserInfo(name, uid=uid, groups=tuple(dict.fromkeys(all_groups)), extra=extra)
