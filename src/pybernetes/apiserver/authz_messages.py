"""The wording of 403 Forbidden answers, as upstream's ``responsewriters.forbiddenMessage``."""

from __future__ import annotations

from pybernetes.apiserver.authz import Attributes


def forbidden_message(a: Attributes, reason: str) -> str:
    user = f'User "{a.user.name}"'
    if not a.resource_request:
        msg = f'{user} cannot {a.verb} path "{a.path}"'
    else:
        resource = a.resource + (f"/{a.subresource}" if a.subresource else "")
        where = f' in API group "{a.api_group}"'
        if a.namespace:
            scope = f' in the namespace "{a.namespace}"'
        else:
            scope = " at the cluster scope"
        # The object is named by its resource alone; the subresource appears only in "cannot … resource".
        if a.name:
            obj = f'{a.resource}.{a.api_group} "{a.name}"' if a.api_group else f'{a.resource} "{a.name}"'
        else:
            obj = f"{a.resource}.{a.api_group}" if a.api_group else a.resource
        msg = f'{obj} is forbidden: {user} cannot {a.verb} resource "{resource}"{where}{scope}'
    if reason:
        msg += f": {reason}"
    return msg
