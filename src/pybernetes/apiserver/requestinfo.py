"""Turn a URL path and method into a Kubernetes request description (upstream ``request.RequestInfoFactory``).

Resource paths:
    /api/v1[/namespaces/{ns}]/{resource}[/{name}[/{subresource}[/{rest...}]]]
    /apis/{group}/{version}[/namespaces/{ns}]/{resource}[/{name}[/{subresource}...]]
    /api/v1/watch/...  and /apis/{g}/{v}/watch/... (legacy watch prefix)
``/api/v1/namespaces/{name}`` is the namespace itself, ``/api/v1/namespaces/{name}/status|finalize`` its
subresources. Everything else under /api and /apis is discovery.
"""

from __future__ import annotations

from dataclasses import dataclass

VERB_BY_METHOD = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch",
                  "DELETE": "delete"}


@dataclass(slots=True)
class RequestInfo:
    is_resource: bool
    path: str
    verb: str = ""
    api_prefix: str = ""
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: tuple[str, ...] = ()
    rest: str = ""                 # path after the subresource (pods/proxy/…)


def parse(method: str, path: str, query: dict[str, str] | None = None) -> RequestInfo:
    info = RequestInfo(is_resource=False, path=path, verb=method.lower())
    segs = [s for s in path.split("/") if s]
    if not segs or segs[0] not in ("api", "apis"):
        return info
    info.api_prefix = segs[0]
    segs = segs[1:]
    if info.api_prefix == "api":
        if not segs:
            return info
        info.version, segs = segs[0], segs[1:]
    else:
        if len(segs) < 2:
            if segs:
                info.group = segs[0]
            return info
        info.group, info.version, segs = segs[0], segs[1], segs[2:]
    if not segs:
        return info
    info.is_resource = True
    verb = VERB_BY_METHOD.get(method.upper(), method.lower())
    watch_prefix = False
    if segs[0] == "watch":
        watch_prefix = True
        segs = segs[1:]
        verb = "watch"
    if segs and segs[0] == "namespaces" and len(segs) > 1:
        # As upstream, a request on the namespace itself (or its status/finalize) is "in" that namespace, so a
        # RoleBinding there can grant get/update on it.
        info.namespace = segs[1]
        if len(segs) > 2 and segs[2] not in ("status", "finalize"):
            segs = segs[2:]
    info.parts = tuple(segs)
    info.resource = segs[0] if segs else ""
    if len(segs) > 1:
        info.name = segs[1]
    if len(segs) > 2:
        info.subresource = segs[2]
    if len(segs) > 3:
        info.rest = "/".join(segs[3:])
    _finish(info, verb, watch_prefix, query, bool(info.name))
    return info


def _finish(info: RequestInfo, verb: str, watch_prefix: bool, query: dict[str, str] | None, named: bool) -> None:
    q = query or {}
    if not watch_prefix:
        if verb == "get" and not named:
            verb = "watch" if _watch_param(q) else "list"
        elif verb == "get" and named and not info.subresource and _watch_param(q):
            verb = "watch"
        elif verb == "delete" and not named:
            verb = "deletecollection"
    info.verb = verb


def _watch_param(q: dict[str, str]) -> bool:
    """``watch`` as upstream decodes a query bool (``Convert_Slice_string_To_bool``): present and not "0" or
    "false" (any case) is true — even empty or "f" — so kubernetes_asyncio's ``watch=True`` starts a watch."""
    v = q.get("watch")
    return v is not None and v.lower() not in ("0", "false")
