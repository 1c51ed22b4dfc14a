"""metrics.k8s.io from agents' usage summaries, and the summary endpoint, through the real HTTP handler chain."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from pybernetes.api import usage_summary
from pybernetes.api.builtin import builtin_registry
from pybernetes.api.usage_summary import ContainerUsage, NodeUsage, PodUsage
from pybernetes.apiserver import metrics_api
from pybernetes.apiserver import rest as rest_hooks
from pybernetes.apiserver.admission import AdmissionChain
from pybernetes.apiserver.app import Dispatcher, make_app
from pybernetes.apiserver.authn import Authenticator, UserInfo
from pybernetes.apiserver.authz import AlwaysAllowAuthenticated
from pybernetes.apiserver.state import ServerConfig, ServerState
from pybernetes.storage.interface import open_store
from pybernetes.storage.watchcache import WatchCache

Obj = dict[str, Any]
TOKEN = "t0ken"
USERS = {TOKEN: None,
         "node-n1": UserInfo("system:node:n1", groups=("system:nodes", "system:authenticated")),
         "someone": UserInfo("alice", groups=("system:authenticated",))}
T0 = 1_767_225_600.0                    # 2026-01-01T00:00:00Z
PODS = "/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods"
NODES = "/apis/metrics.k8s.io/v1beta1/nodes"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


class API:
    def __init__(self, client: TestClient, dispatcher: Dispatcher) -> None:
        self.client = client
        self.dispatcher = dispatcher
        self.now = T0
        dispatcher.metrics.view.wall = lambda: self.now

    async def req(self, method: str, path: str, body: Any = None, *, token: str = TOKEN,
                  accept: str = "application/json", raw: bytes | None = None) -> tuple[int, Any]:
        data = raw if raw is not None else (None if body is None else orjson.dumps(body))
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": accept}
        async with self.client.request(method, path, data=data, headers=headers) as r:
            got = await r.read()
            return r.status, (orjson.loads(got) if got else None)

    async def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        code, got = await self.req(method, path, body, **kw)
        assert code in (200, 201), got
        return got

    async def sync(self) -> None:
        await self.dispatcher.state.cache.sync()


def summary(agent: str = "n1", *, pods: list[PodUsage] | None = None, nodes: list[NodeUsage] | None = None,
            period: float = 15.0) -> Obj:
    at = datetime.datetime.fromtimestamp(T0, datetime.UTC)
    return usage_summary.encode(agent=agent, period=period, timestamp=at,
                                nodes=nodes if nodes is not None else [NodeUsage("n1", 15.0, 123_000_000, 1 << 30)],
                                pods=pods if pods is not None else [
                                    PodUsage("ns", "web-1", "n1", 15.0, (ContainerUsage("web", 80_000_000, 64 << 20),
                                                                         ContainerUsage("log", 1_500_000, 5 << 20))),
                                    PodUsage("ns", "db-0", "n1", 14.5, (ContainerUsage("db", 250_000_000,
                                                                                       10_366_976),))])


def pod(name: str, labels: dict[str, str], node: str = "n1") -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], "nodeName": node}}


@pytest.fixture()
async def api(tmp_path: Any) -> AsyncIterator[API]:
    store = await open_store(f"sqlite://{tmp_path / 'state.db'}")
    cache = WatchCache(store)
    await cache.start()
    rest_hooks.install()
    state = ServerState(config=ServerConfig(), store=store, cache=cache, resources=builtin_registry(),
                        authorizer=AlwaysAllowAuthenticated(), admission=AdmissionChain())
    authn = Authenticator(static_token=TOKEN)
    authn.token_authenticators.append(USERS.get)
    app, dispatcher = make_app(state, authn)
    dispatcher.ready = True
    client = TestClient(TestServer(app))
    await client.start_server()
    a = API(client, dispatcher)
    await a.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}})
    for name, labels in (("n1", {"zone": "a"}), ("n2", {"zone": "b"})):
        await a.ok("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                             "metadata": {"name": name, "labels": labels}})
    await a.ok("POST", "/api/v1/namespaces/ns/pods", pod("web-1", {"app": "web"}))
    await a.ok("POST", "/api/v1/namespaces/ns/pods", pod("db-0", {"app": "db"}))
    try:
        yield a
    finally:
        await client.close()
        await cache.close()
        await store.close()


async def put(api: API, body: Obj, agent: str = "n1", **kw: Any) -> tuple[int, Any]:
    code, got = await api.req("PUT", f"/v1-pybernetes/metrics/{agent}", body, **kw)
    await api.sync()
    return code, got


# ------------------------------------------------------------------ discovery and OpenAPI
async def test_discovery_and_openapi_serve_the_read_only_kinds(api: API) -> None:
    groups = await api.ok("GET", "/apis")
    assert {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"} in \
        next(g for g in groups["groups"] if g["name"] == "metrics.k8s.io")["versions"]
    lst = await api.ok("GET", "/apis/metrics.k8s.io/v1beta1")
    got = {r["name"]: (r["kind"], r["namespaced"], r["verbs"]) for r in lst["resources"]}
    assert got == {"nodes": ("NodeMetrics", False, ["get", "list"]), "pods": ("PodMetrics", True, ["get", "list"])}
    doc = await api.ok("GET", "/openapi/v3/apis/metrics.k8s.io/v1beta1")
    assert "/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods/{name}" in doc["paths"]
    schemas = doc["components"]["schemas"]
    assert schemas["io.k8s.metrics.pkg.apis.metrics.v1beta1.PodMetrics"]["x-kubernetes-group-version-kind"] == [
        {"group": "metrics.k8s.io", "version": "v1beta1", "kind": "PodMetrics"}]


# ------------------------------------------------------------------ reading metrics
async def test_pod_metrics_list_and_get(api: API) -> None:
    assert (await put(api, summary()))[0] == 200
    lst = await api.ok("GET", PODS)
    assert (lst["kind"], lst["apiVersion"], lst["metadata"]) == ("PodMetricsList", "metrics.k8s.io/v1beta1", {})
    by_name = {i["metadata"]["name"]: i for i in lst["items"]}
    assert set(by_name) == {"web-1", "db-0"}
    web = by_name["web-1"]
    assert web["metadata"]["labels"] == {"app": "web"} and web["metadata"]["namespace"] == "ns"
    assert (web["timestamp"], web["window"]) == ("2026-01-01T00:00:00Z", "15s")
    assert web["containers"] == [{"name": "web", "usage": {"cpu": "80m", "memory": "64Mi"}},
                                 {"name": "log", "usage": {"cpu": "1500u", "memory": "5Mi"}}]
    assert by_name["db-0"]["window"] == "14.5s"
    assert by_name["db-0"]["containers"][0]["usage"] == {"cpu": "250m", "memory": "10124Ki"}
    one = await api.ok("GET", f"{PODS}/db-0")
    assert (one["kind"], one["apiVersion"]) == ("PodMetrics", "metrics.k8s.io/v1beta1")
    assert one["containers"] == by_name["db-0"]["containers"]
    every = await api.ok("GET", "/apis/metrics.k8s.io/v1beta1/pods")
    assert {i["metadata"]["name"] for i in every["items"]} == {"web-1", "db-0"}


@pytest.mark.parametrize(("query", "names"), [
    ("labelSelector=app%3Dweb", {"web-1"}),
    ("labelSelector=app%20in%20(web,db)", {"web-1", "db-0"}),
    ("labelSelector=app!%3Dweb", {"db-0"}),
    ("fieldSelector=metadata.name%3Ddb-0", {"db-0"}),
    ("fieldSelector=metadata.namespace%3Dother", set()),
])
async def test_pod_metrics_selectors(api: API, query: str, names: set[str]) -> None:
    await put(api, summary())
    lst = await api.ok("GET", f"{PODS}?{query}")
    assert {i["metadata"]["name"] for i in lst["items"]} == names


async def test_bad_selector_is_a_400(api: API) -> None:
    code, got = await api.req("GET", f"{PODS}?labelSelector=app%20in%20(")
    assert code == 400 and got["reason"] == "BadRequest"


async def test_node_metrics(api: API) -> None:
    await put(api, summary())
    lst = await api.ok("GET", NODES)
    assert lst["kind"] == "NodeMetricsList"
    (n1,) = lst["items"]                           # n2 has no summary: not listed
    assert n1["metadata"]["name"] == "n1" and n1["metadata"]["labels"] == {"zone": "a"}
    assert n1["usage"] == {"cpu": "123m", "memory": "1Gi"} and n1["window"] == "15s"
    assert (await api.ok("GET", f"{NODES}?labelSelector=zone%3Db"))["items"] == []
    assert (await api.ok("GET", f"{NODES}/n1"))["kind"] == "NodeMetrics"
    code, got = await api.req("GET", f"{NODES}/n2")
    assert (code, got["message"]) == (404, 'nodemetrics.metrics.k8s.io "n2" not found')
    code, got = await api.req("GET", f"{NODES}/n9")
    assert (code, got["message"]) == (404, 'nodes "n9" not found')


async def test_missing_metrics_and_missing_pods_are_404s(api: API) -> None:
    await put(api, summary(pods=[]))
    code, got = await api.req("GET", f"{PODS}/web-1")
    assert (code, got["reason"], got["message"]) == (404, "NotFound", 'podmetrics.metrics.k8s.io "ns/web-1" not found')
    code, got = await api.req("GET", f"{PODS}/nope")
    assert (code, got["message"]) == (404, 'pods "nope" not found')


async def test_pod_metrics_come_only_from_the_node_the_pod_is_bound_to(api: API) -> None:
    moved = [PodUsage("ns", "web-1", "n2", 15.0, (ContainerUsage("web", 1, 1),))]
    await put(api, summary(pods=moved))
    assert (await api.ok("GET", PODS))["items"] == []


async def test_stale_summaries_are_ignored(api: API) -> None:
    await put(api, summary(period=10.0))
    api.now = T0 + 20                                # two periods: still fresh
    assert len((await api.ok("GET", PODS))["items"]) == 2
    api.now = T0 + 21
    assert (await api.ok("GET", PODS))["items"] == []
    assert (await api.ok("GET", NODES))["items"] == []
    await put(api, summary(period=10.0))            # the agent is back
    assert len((await api.ok("GET", PODS))["items"]) == 2


async def test_a_newer_summary_replaces_the_agents_previous_one(api: API) -> None:
    await put(api, summary())
    await put(api, summary(pods=[PodUsage("ns", "web-1", "n1", 15.0, (ContainerUsage("web", 5_000_000, 1),))]))
    (only,) = (await api.ok("GET", PODS))["items"]
    assert only["metadata"]["name"] == "web-1" and only["containers"][0]["usage"]["cpu"] == "5m"
    # two agents: each contributes its own nodes and pods
    other = summary("n2", nodes=[NodeUsage("n2", 15.0, 1_000_000, 1)], pods=[])
    await put(api, other, agent="n2")
    assert {i["metadata"]["name"] for i in (await api.ok("GET", NODES))["items"]} == {"n1", "n2"}
    rc = api.dispatcher.state.cache.resource(metrics_api.STORAGE)
    for _ in range(10):
        await put(api, summary())
    assert len(rc.history) <= metrics_api.SUMMARY_HISTORY


async def test_tables(api: API) -> None:
    await put(api, summary())
    table = await api.ok("GET", PODS, accept=TABLE)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "cpu", "memory", "Window"]
    rows = {r["cells"][0]: r["cells"] for r in table["rows"]}
    assert rows["web-1"] == ["web-1", "81500u", "69Mi", "15s"]
    node = await api.ok("GET", f"{NODES}/n1", accept=TABLE)
    assert node["rows"][0]["cells"] == ["n1", "123m", "1Gi", "15s"]


@pytest.mark.parametrize(("method", "path"), [
    ("POST", PODS), ("DELETE", f"{PODS}/web-1"), ("GET", f"{PODS}?watch=true"), ("PATCH", f"{NODES}/n1"),
])
async def test_metrics_are_read_only(api: API, method: str, path: str) -> None:
    code, got = await api.req(method, path, {})
    assert (code, got["reason"]) == (405, "MethodNotAllowed")


# ------------------------------------------------------------------ the summary endpoint
async def test_summary_round_trip_and_delete(api: API) -> None:
    code, got = await put(api, summary())
    assert (code, got["status"]) == (200, "Success")
    stored = await api.ok("GET", "/v1-pybernetes/metrics/n1")
    assert stored["receivedAt"] == T0 and stored["pods"][0][1] == "web-1"
    await api.ok("DELETE", "/v1-pybernetes/metrics/n1")
    await api.sync()
    assert (await api.req("GET", "/v1-pybernetes/metrics/n1"))[0] == 404
    assert (await api.ok("GET", PODS))["items"] == []
    assert (await api.req("DELETE", "/v1-pybernetes/metrics/n1"))[0] == 404


@pytest.mark.parametrize(("body", "fragment"), [
    ({"kind": "Pod"}, "expected kind 'UsageSummary'"),
    ({**summary(), "metadata": {"name": "n2"}}, "metadata.name must be the agent id"),
    ({**summary(), "period": 0}, "period must be"),
    ({**summary(), "timestamp": "yesterday"}, "timestamp must be"),
    ({**summary(), "nodes": [["n1", 15, -1, 0]]}, "nodes must be"),
    ({**summary(), "pods": [["ns", "p", "n1", 15, [["c", 1.5, 0]]]]}, "pods must be"),
    ({**summary(), "pods": [["ns", "p", "n1", 15]]}, "pods must be"),
    ([], "must be a JSON object"),
])
async def test_bad_summaries_are_400s(api: API, body: Any, fragment: str) -> None:
    code, got = await put(api, body)
    assert (code, got["reason"]) == (400, "BadRequest")
    assert fragment in got["message"]


async def test_summary_that_is_not_json_is_a_400(api: API) -> None:
    code, got = await api.req("PUT", "/v1-pybernetes/metrics/n1", raw=b"{nope")
    assert (code, got["reason"]) == (400, "BadRequest")
    code, got = await api.req("PUT", "/v1-pybernetes/metrics/Bad_Id", summary())
    assert (code, got["reason"]) == (400, "BadRequest")
    code, got = await api.req("POST", "/v1-pybernetes/metrics/n1", summary())
    assert code == 405


@pytest.mark.parametrize(("token", "agent", "code"), [
    ("node-n1", "n1", 200),
    ("node-n1", "n2", 403),          # a node writes only its own summary
    ("someone", "n1", 403),
    ("bogus", "n1", 401),
])
async def test_who_may_write_summaries(api: API, token: str, agent: str, code: int) -> None:
    got_code, got = await put(api, summary(agent), agent=agent, token=token)
    assert got_code == code, got
    if code == 403:
        assert got["message"].startswith(f'User "{USERS[token].name}" cannot put path "/v1-pybernetes/metrics/')


@pytest.mark.parametrize("query", ["limit=abc", "fieldSelector=spec.nodeName%3Dn1", "fieldSelector=a",
                                   "labelSelector=a%3D%3D%3Db", "timeoutSeconds=x"])
async def test_bad_list_options_are_400s(api: API, query: str) -> None:
    await put(api, summary())
    for path in (PODS, NODES, "/apis/metrics.k8s.io/v1beta1/pods"):
        code, got = await api.req("GET", f"{path}?{query}")
        assert (code, got["kind"], got["reason"]) == (400, "Status", "BadRequest"), (path, got)


async def test_summary_bodies_over_the_limit_are_413s(api: API) -> None:
    big = summary(pods=[PodUsage("ns", f"p-{i:07d}", "n1", 15.0, (ContainerUsage("c" * 200, 1, 1),))
                        for i in range(15_000)])
    code, got = await put(api, big)
    assert (code, got["reason"]) == (413, "RequestEntityTooLarge")


async def test_other_resources_of_the_group_go_to_the_generic_handler(api: API) -> None:
    code, got = await api.req("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/ns/frobs")
    assert (code, got["reason"]) == (404, "NotFound")
    code, got = await api.req("GET", "/apis/metrics.k8s.io/v1alpha1/nodes")         # a version not served
    assert (code, got["reason"]) == (404, "NotFound")
