"""The lease endpoint reconciler: each API server renews its address record; the ``kubernetes`` Endpoints and
EndpointSlice list the addresses renewed within TTL, are written only when that set changes, and are repaired when
someone edits them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from pybernetes.api.builtin import builtin_registry
from pybernetes.apiserver import endpoint_reconciler as er
from pybernetes.apiserver import rest as rest_hooks
from pybernetes.apiserver.admission import AdmissionChain
from pybernetes.apiserver.authz import AlwaysAllowAuthenticated
from pybernetes.apiserver.registry import GenericREST
from pybernetes.apiserver.state import ServerConfig, ServerState
from pybernetes.storage.watchcache import WatchCache

try:
    from tests.unit.storage.memstore import MemStore
except ModuleNotFoundError:  # pytest's default (prepend) import mode
    from memstore import MemStore  # type: ignore[no-redef]

Obj = dict[str, Any]
T0 = 1_800_000_000.0
EP_KEY = "/registry/core/endpoints/default/kubernetes"
SLICE_KEY = "/registry/discovery.k8s.io/endpointslices/default/kubernetes"


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


@pytest.mark.parametrize(("env", "want"), [
    ({}, (10.0, 30.0)),
    ({er.RENEW_ENV: "1", er.TTL_ENV: "3.5"}, (1.0, 3.5)),
    ({er.RENEW_ENV: "0", er.TTL_ENV: "-1"}, (10.0, 30.0)),
    ({er.RENEW_ENV: "soon", er.TTL_ENV: ""}, (10.0, 30.0)),
])
def test_timing_from_env(env: dict[str, str], want: tuple[float, float]) -> None:
    assert er.timing_from_env(env) == want


def test_module_constants_come_from_the_environment() -> None:
    assert (er.RENEW, er.TTL) == er.timing_from_env(os.environ)


def test_endpoints_and_slice_shapes() -> None:
    ep = er.endpoints(["10.0.0.1", "10.0.0.2"], 6443)
    assert ep == {"apiVersion": "v1", "kind": "Endpoints",
                  "metadata": {"name": "kubernetes", "namespace": "default",
                               "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                  "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
                               "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]}
    sl = er.endpoint_slice(["10.0.0.1"], 6443)
    assert sl["metadata"]["labels"] == {"kubernetes.io/service-name": "kubernetes"}
    assert (sl["addressType"], sl["endpoints"], sl["ports"]) == (
        "IPv4", [{"addresses": ["10.0.0.1"], "conditions": {"ready": True}}],
        [{"name": "https", "port": 6443, "protocol": "TCP"}])


async def test_renew_and_live_addresses() -> None:
    store, clock = MemStore(), Clock()
    await er.renew(store, "10.0.0.2", 6443, clock=clock)
    await er.renew(store, "10.0.0.1", 6443, clock=clock)
    await er.renew(store, "10.0.0.9", 7443, clock=clock)               # another port: another service
    assert await er.live_addresses(store, 6443, clock=clock) == ["10.0.0.1", "10.0.0.2"]
    clock.t += er.TTL / 2
    await er.renew(store, "10.0.0.1", 6443, clock=clock)               # an update of the same record
    assert await store.count(er.PREFIX) == 3
    clock.t += er.TTL / 2 + 1
    assert await er.live_addresses(store, 6443, clock=clock) == ["10.0.0.1"]
    await store.create(er.PREFIX + "junk", b"not json")
    assert await er.live_addresses(store, 6443, clock=clock) == ["10.0.0.1"]


@pytest.fixture
async def rest() -> AsyncIterator[GenericREST]:
    store = MemStore()
    cache = WatchCache(store)
    await cache.start()
    rest_hooks.install()
    state = ServerState(config=ServerConfig(), store=store, cache=cache, resources=builtin_registry(),  # type: ignore[arg-type]
                        authorizer=AlwaysAllowAuthenticated(), admission=AdmissionChain())
    yield GenericREST(state)
    await cache.close()


async def stored(rest: GenericREST, key: str) -> Obj:
    kv = await rest.state.store.get(key)
    assert kv is not None
    return orjson.loads(kv.value)


def ips_of(ep: Obj) -> list[str]:
    return [a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []]


def slice_ips(sl: Obj) -> list[str]:
    return [a for e in sl.get("endpoints") or [] for a in e["addresses"]]


async def test_two_servers_then_one(rest: GenericREST) -> None:
    clock = Clock()
    await er.reconcile_once(rest, "10.0.0.1", 6443, clock=clock)
    assert ips_of(await stored(rest, EP_KEY)) == ["10.0.0.1"]
    assert slice_ips(await stored(rest, SLICE_KEY)) == ["10.0.0.1"]
    await er.reconcile_once(rest, "10.0.0.2", 6443, clock=clock)
    assert ips_of(await stored(rest, EP_KEY)) == ["10.0.0.1", "10.0.0.2"]
    assert slice_ips(await stored(rest, SLICE_KEY)) == ["10.0.0.1", "10.0.0.2"]
    # server 1 stops renewing; server 2 keeps going and drops it once its record is older than TTL
    clock.t += er.TTL - 1
    await er.reconcile_once(rest, "10.0.0.2", 6443, clock=clock)
    assert ips_of(await stored(rest, EP_KEY)) == ["10.0.0.1", "10.0.0.2"]
    clock.t += 2
    await er.reconcile_once(rest, "10.0.0.2", 6443, clock=clock)
    assert ips_of(await stored(rest, EP_KEY)) == ["10.0.0.2"]
    assert slice_ips(await stored(rest, SLICE_KEY)) == ["10.0.0.2"]


async def test_unchanged_endpoints_are_not_rewritten(rest: GenericREST) -> None:
    clock = Clock()
    await er.reconcile_once(rest, "10.0.0.1", 6443, clock=clock)
    ep_rev = (await rest.state.store.get(EP_KEY)).mod_revision            # type: ignore[union-attr]
    sl_rev = (await rest.state.store.get(SLICE_KEY)).mod_revision         # type: ignore[union-attr]
    for _ in range(3):
        clock.t += er.RENEW
        await er.reconcile_once(rest, "10.0.0.1", 6443, clock=clock)
    assert (await rest.state.store.get(EP_KEY)).mod_revision == ep_rev    # type: ignore[union-attr]
    assert (await rest.state.store.get(SLICE_KEY)).mod_revision == sl_rev  # type: ignore[union-attr]


async def test_edited_endpoints_are_repaired_keeping_other_labels(rest: GenericREST) -> None:
    clock = Clock()
    await er.reconcile_once(rest, "10.0.0.1", 6443, clock=clock)
    res = rest.state.resources.get("", "v1", "endpoints")
    assert res is not None

    def vandalise(old: Obj) -> Obj:
        new = {**old, "subsets": [{"addresses": [{"ip": "10.9.9.9"}], "ports": [{"name": "https", "port": 1}]}]}
        new["metadata"] = {**old["metadata"], "labels": {"team": "x"}}
        return new

    await rest.guaranteed_update(res, "default", "kubernetes", vandalise, opts=er.OPTS, user=er.USER)
    await er.reconcile_once(rest, "10.0.0.1", 6443, clock=clock)
    ep = await stored(rest, EP_KEY)
    assert ips_of(ep) == ["10.0.0.1"] and ep["subsets"][0]["ports"][0]["port"] == 6443
    assert ep["metadata"]["labels"] == {"team": "x", "endpointslice.kubernetes.io/skip-mirror": "true"}


async def test_the_own_address_is_listed_even_when_the_store_lags(rest: GenericREST, monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    async def nothing_live(store: Any, port: int, *, clock: Any = None) -> list[str]:
        return []
    monkeypatch.setattr(er, "live_addresses", nothing_live)
    await er.reconcile_once(rest, "10.0.0.7", 6443, clock=Clock())
    assert ips_of(await stored(rest, EP_KEY)) == ["10.0.0.7"]


async def test_remove_on_graceful_shutdown(rest: GenericREST) -> None:
    clock = Clock()
    await er.reconcile_once(rest, "10.0.0.1", 6443, clock=clock)
    await er.reconcile_once(rest, "10.0.0.2", 6443, clock=clock)
    await er.remove(rest, "10.0.0.1", 6443, clock=clock)
    assert ips_of(await stored(rest, EP_KEY)) == ["10.0.0.2"]            # at once, not after TTL
    assert slice_ips(await stored(rest, SLICE_KEY)) == ["10.0.0.2"]
    assert await rest.state.store.get(er.PREFIX + "10.0.0.1") is None
    await er.remove(rest, "10.0.0.2", 6443, clock=clock)                 # the last one leaves them be
    assert ips_of(await stored(rest, EP_KEY)) == ["10.0.0.2"]
    await er.remove(rest, "10.0.0.2", 6443, clock=clock)                 # and twice is harmless
