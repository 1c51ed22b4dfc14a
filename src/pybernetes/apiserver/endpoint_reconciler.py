"""Keeps the ``kubernetes`` Service's Endpoints and EndpointSlice listing every live API server.

Upstream's "lease" endpoint reconciler: each API server renews a small record of its address in the store
(``/registry/_masterleases/leases/<ip>``) every ``RENEW`` seconds and rewrites the Endpoints to the addresses
whose records are fresh, so with several API servers on etcd the in-cluster ``kubernetes`` Service reaches all of
them and a stopped server drops out within ``TTL`` seconds.

``RENEW`` and ``TTL`` (10 s and 30 s, upstream's defaults) can be set for a server process with the environment
variables ``PYBERNETES_APISERVER_LEASE_RENEW_SECONDS`` and ``PYBERNETES_APISERVER_LEASE_TTL_SECONDS``, read once at
import: tests of several API servers use a few seconds to watch a stopped one drop out quickly.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from pybernetes.api.errors import AlreadyExists, NotFound
from pybernetes.apiserver.authn import UserInfo
from pybernetes.apiserver.options import WriteOptions
from pybernetes.apiserver.registry import GenericREST
from pybernetes.storage import interface as st

log = logging.getLogger(__name__)
PREFIX = "/registry/_masterleases/leases/"
RENEW_ENV = "PYBERNETES_APISERVER_LEASE_RENEW_SECONDS"
TTL_ENV = "PYBERNETES_APISERVER_LEASE_TTL_SECONDS"


def timing_from_env(env: Mapping[str, str]) -> tuple[float, float]:
    """(renew, ttl) seconds: the environment's if they are positive numbers, else 10 and 30."""
    def seconds(name: str, default: float) -> float:
        try:
            v = float(env.get(name, default))
        except ValueError:
            return default
        return v if v > 0 else default
    return seconds(RENEW_ENV, 10.0), seconds(TTL_ENV, 30.0)


RENEW, TTL = timing_from_env(os.environ)
USER = UserInfo("system:apiserver", groups=("system:masters", "system:authenticated"))
OPTS = WriteOptions(field_manager="kube-apiserver")
Obj = dict[str, Any]


async def renew(store: st.Store, ip: str, port: int, *, clock: Callable[[], float] = time.time) -> None:
    value = orjson.dumps({"ip": ip, "port": port, "renewTime": clock()})
    key = PREFIX + ip
    kv = await store.get(key)
    if kv is None:
        try:
            await store.create(key, value)
        except st.KeyExists:
            pass
    else:
        try:
            await store.update(key, value, expect_mod_revision=kv.mod_revision)
        except (st.RevisionMismatch, st.KeyNotFound):
            pass


async def live_addresses(store: st.Store, port: int, *, clock: Callable[[], float] = time.time) -> list[str]:
    """Addresses whose record was renewed within ``TTL`` (read at call time) for this port, sorted."""
    _, kvs = await store.list(PREFIX)
    now = clock()
    out = []
    for kv in kvs:
        try:
            rec = orjson.loads(kv.value)
        except orjson.JSONDecodeError:
            continue
        if now - rec.get("renewTime", 0) <= TTL and rec.get("port") == port and rec.get("ip"):
            out.append(rec["ip"])
    return sorted(out)


def endpoints(ips: list[str], port: int) -> Obj:
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": ip} for ip in ips],
                         "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]}


def endpoint_slice(ips: list[str], port: int) -> Obj:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": "kubernetes"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}


async def _put(rest: GenericREST, group: str, version: str, plural: str, desired: Obj, fields: tuple[str, ...]) -> None:
    res = rest.state.resources.get(group, version, plural)
    assert res is not None
    try:
        cur = await rest.get(res, "default", "kubernetes")
    except NotFound:
        try:
            await rest.create(res, "default", copy.deepcopy(desired), opts=OPTS, user=USER)
        except AlreadyExists:
            pass
        return
    if all(cur.get(f) == desired.get(f) for f in fields):
        return

    def update(old: Obj) -> Obj:
        new = copy.deepcopy(old)
        for f in fields:
            new[f] = copy.deepcopy(desired[f])
        new["metadata"].setdefault("labels", {}).update(desired["metadata"]["labels"])
        return new

    await rest.guaranteed_update(res, "default", "kubernetes", update, opts=OPTS, user=USER)


async def reconcile_once(rest: GenericREST, ip: str, port: int, *, clock: Callable[[], float] = time.time) -> None:
    await renew(rest.state.store, ip, port, clock=clock)
    ips = await live_addresses(rest.state.store, port, clock=clock) or [ip]
    await _put(rest, "", "v1", "endpoints", endpoints(ips, port), ("subsets",))
    await _put(rest, "discovery.k8s.io", "v1", "endpointslices", endpoint_slice(ips, port),
               ("addressType", "endpoints", "ports"))


async def run(rest: GenericREST, ip: str, port: int) -> None:
    while True:
        try:
            await reconcile_once(rest, ip, port)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("endpoint reconcile failed")
        await asyncio.sleep(RENEW)


async def remove(rest: GenericREST, ip: str, port: int, *, clock: Callable[[], float] = time.time) -> None:
    """On graceful shutdown (upstream's ``RemoveEndpoints``): drop our record and rewrite the Endpoints without us
    at once instead of after TTL. The last server leaves them as they are, as upstream refuses to erase them."""
    try:
        await rest.state.store.delete(PREFIX + ip)
    except st.KeyNotFound:
        pass
    ips = [a for a in await live_addresses(rest.state.store, port, clock=clock) if a != ip]
    if not ips:
        return
    await _put(rest, "", "v1", "endpoints", endpoints(ips, port), ("subsets",))
    await _put(rest, "discovery.k8s.io", "v1", "endpointslices", endpoint_slice(ips, port),
               ("addressType", "endpoints", "ports"))
