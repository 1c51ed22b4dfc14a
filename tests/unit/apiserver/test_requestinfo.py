"""requestinfo.parse: URL path, method and query → RequestInfo, as upstream's ``RequestInfoFactory``."""

from __future__ import annotations

import pytest

from pybernetes.apiserver.requestinfo import parse

# (method, path, query, expected fields); name, subresource, rest, group and version must keep their defaults
# unless named.
CASES = [
    # core group, namespaced collection and item
    ("GET", "/api/v1/namespaces/ns/pods", {}, dict(verb="list", version="v1", namespace="ns", resource="pods")),
    ("POST", "/api/v1/namespaces/ns/pods", {}, dict(verb="create", namespace="ns", resource="pods")),
    ("GET", "/api/v1/namespaces/ns/pods/p", {}, dict(verb="get", namespace="ns", resource="pods", name="p")),
    ("HEAD", "/api/v1/namespaces/ns/pods/p", {}, dict(verb="get", name="p")),
    ("PUT", "/api/v1/namespaces/ns/pods/p", {}, dict(verb="update", name="p")),
    ("PATCH", "/api/v1/namespaces/ns/pods/p", {}, dict(verb="patch", name="p")),
    ("DELETE", "/api/v1/namespaces/ns/pods/p", {}, dict(verb="delete", name="p")),
    ("DELETE", "/api/v1/namespaces/ns/pods", {}, dict(verb="deletecollection", resource="pods")),
    # all namespaces, cluster-scoped
    ("GET", "/api/v1/pods", {}, dict(verb="list", namespace="", resource="pods")),
    ("GET", "/api/v1/nodes/n1", {}, dict(verb="get", resource="nodes", name="n1")),
    # named groups
    ("GET", "/apis/apps/v1/namespaces/ns/deployments/web", {},
     dict(verb="get", api_prefix="apis", group="apps", version="v1", namespace="ns", resource="deployments",
          name="web")),
    ("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles", {},
     dict(verb="list", group="rbac.authorization.k8s.io", resource="clusterroles")),
    # watch by query parameter: any value but "0"/"false" (any case) is true, as upstream decodes a bool
    ("GET", "/api/v1/namespaces/ns/pods", {"watch": "true"}, dict(verb="watch")),
    ("GET", "/api/v1/namespaces/ns/pods", {"watch": "1"}, dict(verb="watch")),
    ("GET", "/api/v1/namespaces/ns/pods", {"watch": "True"}, dict(verb="watch")),
    ("GET", "/api/v1/namespaces/ns/pods", {"watch": ""}, dict(verb="watch")),
    ("GET", "/api/v1/namespaces/ns/pods", {"watch": "f"}, dict(verb="watch")),
    ("GET", "/api/v1/namespaces/ns/pods", {"watch": "false"}, dict(verb="list")),
    ("GET", "/api/v1/namespaces/ns/pods", {"watch": "FALSE"}, dict(verb="list")),
    ("GET", "/api/v1/namespaces/ns/pods", {"watch": "0"}, dict(verb="list")),
    # legacy /watch/ prefix: always a watch, named or not
    ("GET", "/api/v1/watch/namespaces/ns/pods", {}, dict(verb="watch", namespace="ns", resource="pods")),
    ("GET", "/api/v1/watch/namespaces/ns/pods/p", {},
     dict(verb="watch", namespace="ns", resource="pods", name="p", parts=("pods", "p"))),
    ("GET", "/apis/apps/v1/watch/deployments", {}, dict(verb="watch", group="apps", resource="deployments")),
    ("GET", "/api/v1/watch/namespaces/ns", {}, dict(verb="watch", namespace="ns", resource="namespaces",
                                                      name="ns")),
    # the namespace object itself is "in" its namespace (RoleBindings there apply), status/finalize too
    ("GET", "/api/v1/namespaces", {}, dict(verb="list", namespace="", resource="namespaces")),
    ("POST", "/api/v1/namespaces", {}, dict(verb="create", namespace="", resource="namespaces")),
    ("GET", "/api/v1/namespaces/ns", {}, dict(verb="get", namespace="ns", resource="namespaces", name="ns",
                                              parts=("namespaces", "ns"))),
    ("DELETE", "/api/v1/namespaces/ns", {}, dict(verb="delete", namespace="ns", resource="namespaces", name="ns")),
    ("PUT", "/api/v1/namespaces/ns/status", {},
     dict(verb="update", namespace="ns", resource="namespaces", name="ns", subresource="status")),
    ("PUT", "/api/v1/namespaces/ns/finalize", {},
     dict(verb="update", namespace="ns", resource="namespaces", name="ns", subresource="finalize",
          parts=("namespaces", "ns", "finalize"))),
    # a resource whose name collides with a namespace subresource word is still a resource in the namespace
    ("GET", "/api/v1/namespaces/status/pods", {}, dict(verb="list", namespace="status", resource="pods")),
    # subresources, and the rest of the path after them (proxy, scale, exec, log)
    ("GET", "/apis/apps/v1/namespaces/ns/deployments/web/scale", {},
     dict(verb="get", group="apps", resource="deployments", name="web", subresource="scale")),
    ("PATCH", "/api/v1/namespaces/ns/pods/p/status", {}, dict(verb="patch", name="p", subresource="status")),
    ("POST", "/api/v1/namespaces/ns/pods/p/eviction", {}, dict(verb="create", name="p", subresource="eviction")),
    ("GET", "/api/v1/namespaces/ns/pods/p/exec", {"command": "ls"}, dict(verb="get", name="p", subresource="exec")),
    ("GET", "/api/v1/namespaces/ns/pods/p/log", {"watch": "true"}, dict(verb="get", name="p", subresource="log")),
    ("GET", "/api/v1/namespaces/ns/services/s:80/proxy/a/b/c", {},
     dict(verb="get", resource="services", name="s:80", subresource="proxy", rest="a/b/c",
          parts=("services", "s:80", "proxy", "a", "b", "c"))),
    ("POST", "/api/v1/namespaces/ns/serviceaccounts/default/token", {},
     dict(verb="create", resource="serviceaccounts", name="default", subresource="token")),
    ("GET", "/api/v1/nodes/n1/proxy/metrics", {}, dict(verb="get", resource="nodes", name="n1",
                                                        subresource="proxy", rest="metrics")),
    # a trailing or doubled slash does not add empty segments
    ("GET", "/api/v1/namespaces/ns/pods/", {}, dict(verb="list", resource="pods")),
    ("GET", "//api//v1//pods", {}, dict(verb="list", resource="pods")),
]


@pytest.mark.parametrize(("method", "path", "query", "want"), CASES)
def test_resource_requests(method: str, path: str, query: dict[str, str], want: dict[str, object]) -> None:
    info = parse(method, path, query)
    assert info.is_resource
    assert info.path == path
    expected = {"api_prefix": "apis" if path.lstrip("/").startswith("apis") else "api", "group": "",
                "version": "v1", "subresource": "", "name": "", "rest": ""}
    expected.update(want)
    got = {k: getattr(info, k) for k in expected}
    assert got == expected


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/"), ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/version"), ("GET", "/openapi/v3"),
    ("GET", "/api"), ("GET", "/api/v1"), ("GET", "/apis"), ("GET", "/apis/apps"), ("GET", "/apis/apps/v1"),
    ("GET", "/openid/v1/jwks"), ("POST", "/logs/x"), ("GET", "/metrics"),
])
def test_non_resource_requests(method: str, path: str) -> None:
    info = parse(method, path)
    assert not info.is_resource
    assert info.path == path
    assert info.verb == method.lower()          # the HTTP method, lower case, as upstream
    assert (info.resource, info.name, info.namespace) == ("", "", "")


def test_discovery_paths_keep_prefix_group_and_version() -> None:
    assert (parse("GET", "/api/v1").api_prefix, parse("GET", "/api/v1").version) == ("api", "v1")
    info = parse("GET", "/apis/apps/v1")
    assert (info.api_prefix, info.group, info.version) == ("apis", "apps", "v1")
    assert parse("GET", "/apis/apps").group == "apps"


def test_query_is_optional() -> None:
    assert parse("GET", "/api/v1/pods").verb == "list"
    assert parse("GET", "/api/v1/pods", None).verb == "list"


def test_named_get_with_watch_parameter_is_a_watch_of_that_object() -> None:
    # Deliberate: pybernetes serves ?watch on a named URL as a watch of that one object (upstream routes it to
    # a plain get); subresources are never turned into watches.
    assert parse("GET", "/api/v1/namespaces/ns/pods/p", {"watch": "1"}).verb == "watch"
    assert parse("GET", "/api/v1/namespaces/ns/pods/p", {"watch": "false"}).verb == "get"
    assert parse("GET", "/api/v1/namespaces/ns/pods/p/status", {"watch": "1"}).verb == "get"


def test_watch_prefix_is_not_a_resource_name() -> None:
    info = parse("GET", "/api/v1/watch/pods", {"watch": "false"})
    assert (info.verb, info.resource, info.name) == ("watch", "pods", "")
