"""pods/eviction: budget checks, status bookkeeping and the delete, through the real HTTP handler chain."""

from __future__ import annotations

import copy
import datetime
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from pybernetes.api import errors
from pybernetes.api.builtin import builtin_registry
from pybernetes.apiserver import eviction as ev
from pybernetes.apiserver import rest as rest_hooks
from pybernetes.apiserver.admission import AdmissionChain
from pybernetes.apiserver.app import make_app
from pybernetes.apiserver.authn import Authenticator
from pybernetes.apiserver.authz import AlwaysAllowAuthenticated
from pybernetes.apiserver.state import ServerConfig, ServerState
from pybernetes.storage.interface import open_store
from pybernetes.storage.watchcache import WatchCache

Obj = dict[str, Any]
TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def pod(name: str, *, ready: bool = True, phase: str = "Running", labels: dict | None = None) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels if labels is not None else {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], "nodeName": "n1"},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def pdb(name: str = "web", **status: Any) -> Obj:
    st = {"disruptionsAllowed": 1, "currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 3,
          "observedGeneration": 1, **status}
    return {"metadata": {"name": name, "namespace": "ns", "generation": 1},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "minAvailable": 2}, "status": st}


# ------------------------------------------------------------------ pure decisions
@pytest.mark.parametrize(("phase", "deleting", "want"), [
    ("Running", False, False), ("Pending", False, True), ("Succeeded", False, True), ("Failed", False, True),
    ("Running", True, True), ("Unknown", False, False),
])
def test_can_ignore_pdb(phase: str, deleting: bool, want: bool) -> None:
    p = pod("a", phase=phase)
    if deleting:
        p["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert ev.can_ignore_pdb(p) is want


@pytest.mark.parametrize(("selector", "labels", "want"), [
    ({"matchLabels": {"app": "web"}}, {"app": "web"}, True),
    ({"matchLabels": {"app": "web"}}, {"app": "db"}, False),
    ({}, {"app": "web"}, False),                                   # empty selector matches nothing here
    (None, {"app": "web"}, False),
    ({"matchExpressions": [{"key": "app", "operator": "Bogus"}]}, {"app": "web"}, False),
])
def test_matching_pdbs(selector: Any, labels: dict, want: bool) -> None:
    b = pdb()
    b["spec"]["selector"] = selector
    assert bool(ev.matching_pdbs([b], pod("a", labels=labels))) is want


@pytest.mark.parametrize(("ready", "policy", "current", "desired", "want"), [
    (True, None, 3, 2, False),
    (False, None, 3, 2, True),
    (False, None, 1, 2, False),
    (False, None, 0, 0, False),                   # desiredHealthy 0: the budget says nothing; spend it
    (False, "IfHealthyBudget", 2, 2, True),
    (False, "AlwaysAllow", 0, 2, True),
    (True, "AlwaysAllow", 0, 2, False),
])
def test_unhealthy_pod_is_free(ready: bool, policy: str | None, current: int, desired: int, want: bool) -> None:
    b = pdb(currentHealthy=current, desiredHealthy=desired)
    if policy:
        b["spec"]["unhealthyPodEvictionPolicy"] = policy
    assert ev.unhealthy_pod_is_free(b, pod("a", ready=ready)) is want


def test_check_and_decrement_spends_one_and_records_the_pod() -> None:
    out = ev.check_and_decrement(pdb(disruptionsAllowed=2), "a", now=NOW, dry_run=False)
    assert out["status"]["disruptionsAllowed"] == 1
    assert out["status"]["disruptedPods"] == {"a": "2026-01-01T00:00:00Z"}
    assert "conditions" not in out["status"]


def test_check_and_decrement_last_disruption_flips_the_condition() -> None:
    b = pdb(conditions=[{"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods",
                         "lastTransitionTime": "2025-01-01T00:00:00Z", "observedGeneration": 1, "message": ""}])
    out = ev.check_and_decrement(b, "a", now=NOW, dry_run=False)
    (cond,) = out["status"]["conditions"]
    assert cond["status"] == "False" and cond["reason"] == "InsufficientPods"
    assert cond["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert b["status"]["disruptionsAllowed"] == 1, "the input is not modified"


def test_check_and_decrement_dry_run_records_nothing() -> None:
    out = ev.check_and_decrement(pdb(), "a", now=NOW, dry_run=True)
    assert "disruptedPods" not in out["status"]


@pytest.mark.parametrize(("status", "code", "message"), [
    ({"disruptionsAllowed": 0, "currentHealthy": 2, "desiredHealthy": 2}, 429,
     "The disruption budget web needs 2 healthy pods and has 2 currently"),
    ({"observedGeneration": 0}, 429, "The disruption budget web is still being processed by the server."),
    ({"disruptionsAllowed": -1}, 403, None),
])
def test_check_and_decrement_refusals(status: Obj, code: int, message: str | None) -> None:
    with pytest.raises(errors.APIError) as ei:
        ev.check_and_decrement(pdb(**status), "a", now=NOW, dry_run=False)
    assert ei.value.code == code
    if message:
        assert ei.value.message == ev.VIOLATION
        assert ei.value.details["causes"] == [{"reason": "DisruptionBudget", "message": message}]


def test_too_many_disrupted_pods_is_forbidden() -> None:
    b = pdb(disruptedPods={f"p{i}": "2026-01-01T00:00:00Z" for i in range(ev.MAX_DISRUPTED_PODS + 1)})
    with pytest.raises(errors.APIError) as ei:
        ev.check_and_decrement(b, "a", now=NOW, dry_run=False)
    assert ei.value.code == 403
    assert "DisruptedPods map too big" in ei.value.message


# ------------------------------------------------------------------ through the API
class API:
    def __init__(self, client: TestClient, state: ServerState) -> None:
        self.client = client
        self.state = state

    async def req(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any, Any]:
        data = orjson.dumps(body) if body is not None else None
        headers = {**AUTH, "Content-Type": "application/json"}
        async with self.client.request(method, path, data=data, headers=headers, **kw) as r:
            raw = await r.read()
            return r.status, (orjson.loads(raw) if raw else None), r.headers

    async def create(self, path: str, obj: Obj) -> Obj:
        code, body, _ = await self.req("POST", path, obj)
        assert code == 201, body
        return body

    async def set_pdb_status(self, name: str, status: Obj) -> None:
        code, cur, _ = await self.req("GET", f"/apis/policy/v1/namespaces/ns/poddisruptionbudgets/{name}")
        assert code == 200
        cur["status"] = {**cur["status"], **status}
        code, body, _ = await self.req("PUT", f"/apis/policy/v1/namespaces/ns/poddisruptionbudgets/{name}/status",
                                       cur)
        assert code == 200, body

    async def evict(self, name: str, delete_options: Obj | None = None, *, version: str = "policy/v1",
                    url_name: str | None = None) -> tuple[int, Any, Any]:
        body: Obj = {"apiVersion": version, "kind": "Eviction", "metadata": {"name": name, "namespace": "ns"}}
        if delete_options is not None:
            body["deleteOptions"] = delete_options
        return await self.req("POST", f"/api/v1/namespaces/ns/pods/{url_name or name}/eviction", body)

    async def pod(self, name: str) -> Obj | None:
        code, body, _ = await self.req("GET", f"/api/v1/namespaces/ns/pods/{name}")
        return body if code == 200 else None

    async def pdb(self, name: str = "web") -> Obj:
        return (await self.req("GET", f"/apis/policy/v1/namespaces/ns/poddisruptionbudgets/{name}"))[1]


@pytest.fixture()
async def api(tmp_path: Any) -> AsyncIterator[API]:
    store = await open_store(f"sqlite://{tmp_path / 'state.db'}")
    cache = WatchCache(store)
    await cache.start()
    rest_hooks.install()
    state = ServerState(config=ServerConfig(), store=store, cache=cache, resources=builtin_registry(),
                        authorizer=AlwaysAllowAuthenticated(), admission=AdmissionChain())
    app, dispatcher = make_app(state, Authenticator(static_token=TOKEN))
    dispatcher.ready = True
    client = TestClient(TestServer(app))
    await client.start_server()
    a = API(client, state)
    await a.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}})
    try:
        yield a
    finally:
        await client.close()
        await cache.close()
        await store.close()


async def make_pod(api: API, name: str, **kw: Any) -> Obj:
    p = pod(name, **kw)
    status = p.pop("status")
    created = await api.create("/api/v1/namespaces/ns/pods", p)
    created["status"] = {**created.get("status", {}), **status}
    code, body, _ = await api.req("PUT", f"/api/v1/namespaces/ns/pods/{name}/status", created)
    assert code == 200, body
    return body


async def make_pdb(api: API, name: str = "web", **status: Any) -> None:
    b = pdb(name)
    await api.create("/apis/policy/v1/namespaces/ns/poddisruptionbudgets",
                     {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                      "metadata": {"name": name}, "spec": b["spec"]})
    await api.set_pdb_status(name, {**b["status"], **status})


async def test_evict_without_pdb_deletes_gracefully_and_marks_disruption_target(api: API) -> None:
    await make_pod(api, "a")
    code, body, _ = await api.evict("a")
    assert (code, body) == (201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                  "code": 201})
    p = await api.pod("a")
    assert p is not None and p["metadata"]["deletionTimestamp"], "a pod on a node terminates gracefully"
    cond = next(c for c in p["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert (cond["status"], cond["reason"], cond["message"]) == ("True", "EvictionByEvictionAPI",
                                                                 "Eviction API: evicting")


async def test_evict_honours_delete_options(api: API) -> None:
    await make_pod(api, "a")
    code, _, _ = await api.evict("a", {"gracePeriodSeconds": 0})
    assert code == 201
    assert await api.pod("a") is None


async def test_evict_spends_the_budget_then_refuses(api: API) -> None:
    for n in ("a", "b", "c"):
        await make_pod(api, n)
    await make_pdb(api, disruptionsAllowed=1)
    code, _, _ = await api.evict("a")
    assert code == 201
    b = await api.pdb()
    assert b["status"]["disruptionsAllowed"] == 0
    assert set(b["status"]["disruptedPods"]) == {"a"}
    cond = next(c for c in b["status"]["conditions"] if c["type"] == "DisruptionAllowed")
    assert cond["status"] == "False"

    code, body, _ = await api.evict("b")
    assert code == 429
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "Cannot evict pod as it would violate the pod's disruption budget.",
                    "reason": "TooManyRequests",
                    "details": {"causes": [{"reason": "DisruptionBudget",
                                            "message": "The disruption budget web needs 2 healthy pods and has 3 "
                                                       "currently"}]},
                    "code": 429}
    assert (await api.pod("b"))["metadata"].get("deletionTimestamp") is None


async def test_stale_pdb_asks_to_retry(api: API) -> None:
    await make_pod(api, "a")
    await make_pdb(api, observedGeneration=0)
    code, body, headers = await api.evict("a")
    assert code == 429
    assert body["details"]["retryAfterSeconds"] == 10
    assert headers["Retry-After"] == "10"


async def test_pending_pod_ignores_the_budget(api: API) -> None:
    await make_pod(api, "a", phase="Pending", ready=False)
    await make_pdb(api, disruptionsAllowed=0)
    code, _, _ = await api.evict("a")
    assert code == 201
    assert (await api.pdb())["status"]["disruptionsAllowed"] == 0


async def test_unready_pod_goes_free_when_the_budget_is_met(api: API) -> None:
    await make_pod(api, "a", ready=False)
    await make_pdb(api, disruptionsAllowed=0, currentHealthy=2, desiredHealthy=2)
    code, _, _ = await api.evict("a", {"gracePeriodSeconds": 0})
    assert code == 201
    assert await api.pod("a") is None
    assert "disruptedPods" not in (await api.pdb())["status"]


async def test_unready_pod_with_budget_unmet_is_refused(api: API) -> None:
    await make_pod(api, "a", ready=False)
    await make_pdb(api, disruptionsAllowed=0, currentHealthy=1, desiredHealthy=2)
    code, _, _ = await api.evict("a")
    assert code == 429


async def test_two_pdbs_is_an_error(api: API) -> None:
    await make_pod(api, "a")
    await make_pdb(api, "one")
    await make_pdb(api, "two")
    code, body, _ = await api.evict("a")
    assert code == 500
    assert body["message"] == ev.MULTIPLE_PDBS
    assert await api.pod("a") is not None


async def test_dry_run_changes_nothing(api: API) -> None:
    await make_pod(api, "a")
    await make_pdb(api)
    code, _, _ = await api.req("POST", "/api/v1/namespaces/ns/pods/a/eviction?dryRun=All",
                               {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "a"}})
    assert code == 201
    assert (await api.pdb())["status"]["disruptionsAllowed"] == 1
    p = await api.pod("a")
    assert p is not None and not p["metadata"].get("deletionTimestamp")


async def test_v1beta1_body_is_accepted(api: API) -> None:
    await make_pod(api, "a")
    code, _, _ = await api.evict("a", {"gracePeriodSeconds": 0}, version="policy/v1beta1")
    assert code == 201
    assert await api.pod("a") is None


@pytest.mark.parametrize(("url_name", "code"), [("other", 400)])
async def test_name_mismatch(api: API, url_name: str, code: int) -> None:
    await make_pod(api, "other")
    c, body, _ = await api.evict("a", url_name=url_name)
    assert c == code
    assert body["message"] == "name in URL does not match name in Eviction object"


async def test_missing_pod_is_not_found(api: API) -> None:
    code, body, _ = await api.evict("ghost")
    assert code == 404
    assert body["message"] == 'pods "ghost" not found'


async def test_uid_precondition_is_honoured(api: API) -> None:
    await make_pod(api, "a")
    code, body, _ = await api.evict("a", {"preconditions": {"uid": "not-the-uid"}})
    assert code == 409
    assert "Precondition failed: UID in precondition: not-the-uid" in body["message"]


async def test_concurrent_evictions_spend_the_last_disruption_once(api: API) -> None:
    import asyncio
    for n in ("a", "b", "c"):
        await make_pod(api, n)
    await make_pdb(api, disruptionsAllowed=1)
    results = await asyncio.gather(api.evict("a"), api.evict("b"), api.evict("c"))
    codes = sorted(r[0] for r in results)
    assert codes == [201, 429, 429]
    assert (await api.pdb())["status"]["disruptionsAllowed"] == 0


async def test_get_on_eviction_is_not_allowed(api: API) -> None:
    await make_pod(api, "a")
    code, _, _ = await api.req("GET", "/api/v1/namespaces/ns/pods/a/eviction")
    assert code == 405


def test_check_and_decrement_does_not_mutate_its_input() -> None:
    """check_and_decrement never mutates the object it is given (it may be a cache's)."""
    b = pdb()
    before = copy.deepcopy(b)
    ev.check_and_decrement(b, "x", now=NOW, dry_run=False)
    assert b == before


async def test_protobuf_eviction_as_kubectl_sends_it(api: API) -> None:
    from pybernetes.api import protobuf
    await make_pod(api, "a")
    body = protobuf.encode({"apiVersion": "policy/v1", "kind": "Eviction",
                            "metadata": {"name": "a", "namespace": "ns"}, "deleteOptions": {"gracePeriodSeconds": 0}})
    headers = {**AUTH, "Content-Type": "application/vnd.kubernetes.protobuf"}
    async with api.client.post("/api/v1/namespaces/ns/pods/a/eviction", data=body, headers=headers) as r:
        assert r.status == 201, await r.text()
    assert await api.pod("a") is None
