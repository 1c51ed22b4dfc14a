"""The proxy's sync loop: informers mark what changed, one task turns it into nftables transactions.

Level-triggered (STYLE.md §3): handlers only record *which* Services (or the node facts, or the policy inputs)
changed; a sync re-reads them from the informer caches, computes their fragments with the pure functions of
``rules`` and ``netpol``, and writes the difference from what it last applied (``nft.plan``). Missed or
repeated events do not matter, and a burst of changes gathered during ``coalesce`` (or while a transaction
runs) becomes one transaction.

The first sync, and any sync after a failed transaction or a change that cannot be made in place, rewrites the
whole table in one atomic transaction (``nft.render_table``): whatever a previous proxy left, the table then
holds exactly the desired state. Nothing is written before the Service and EndpointSlice informers have
listed (a half-known state would briefly reject traffic to Services not yet seen). Every ``resync_period`` the
loop checks that the table is still there and rewrites it if someone removed it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pybernetes.client.clock import REAL, Clock
from pybernetes.client.informer import Informer, key_of
from pybernetes.client.informers import InformerFactory
from pybernetes.client.resources import ENDPOINTSLICES, NAMESPACES, NETWORKPOLICIES, NODES, PODS, SERVICES
from pybernetes.proxy import netpol, nft, rules
from pybernetes.proxy.runner import NftError, Runner

log = logging.getLogger(__name__)
Obj = dict[str, Any]
TABLE_COMMENT = "rules of the pybernetes proxy: Services and NetworkPolicies"
BASE, NP_BASE = "base", "np-base"


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    node_name: str
    table: str = "pybernetes"
    cluster_cidrs: tuple[str, ...] = ()        # the pods' CIDRs; empty: every Node's spec.podCIDRs
    network_policy: bool = True
    coalesce: float = 0.005                    # seconds to let a burst of changes gather into one transaction
    resync_period: float = 30.0                # how often to check the table is still there
    retry_min: float = 0.5                     # back-off after a failed transaction, doubling up to retry_max
    retry_max: float = 30.0


@dataclass
class SyncStats:
    """What the last syncs did, for logs, tests and the benchmark."""

    syncs: int = 0
    full_syncs: int = 0
    failures: int = 0
    last_duration: float = 0.0
    last_script_bytes: int = 0
    latencies: list[float] = field(default_factory=list)   # change seen → transaction committed, last 1,000


class Proxier:
    def __init__(self, *, config: ProxyConfig, runner: Runner, informers: InformerFactory,
                 on_synced: Callable[[Proxier], None] | None = None, clock: Clock = REAL) -> None:
        self.config = config
        self.runner = runner
        self.clock = clock
        self.on_synced = on_synced
        self.services = informers.informer(SERVICES)
        self.slices = informers.informer(ENDPOINTSLICES)
        self.nodes = informers.informer(NODES)
        self.slices.add_index("service", _slice_service)
        self.policies: Informer | None = None
        self.pods: Informer | None = None
        self.namespaces: Informer | None = None
        if config.network_policy:
            self.policies = informers.informer(NETWORKPOLICIES)
            self.pods = informers.informer(PODS)
            self.namespaces = informers.informer(NAMESPACES)
        self.stats = SyncStats()
        self.applied: dict[str, nft.Fragment] = {}
        self.udp_changed = False               # the last sync changed a UDP Service (stale conntrack flows)
        self.claims = nft.Claims()             # who owns each shared-map element
        self._contested: list[tuple[str, str]] = []
        self._dirty: set[str] = set()
        self._node_dirty = True
        self._np_dirty = True
        self._full = True
        self._first_change: float | None = None
        self._kick = asyncio.Event()
        self._pod_infos: dict[str, netpol.PodInfo] = {}
        self._cidrs: tuple[str, ...] = ()
        self._wire()

    # ------------------------------------------------------------------------------------------ event handlers
    def _wire(self) -> None:
        self.services.add_handler(lambda o: self._service(o), lambda _o, n: self._service(n),
                                  lambda o: self._service(o))
        self.slices.add_handler(lambda o: self._slice(o), self._slice_update, lambda o: self._slice(o))
        self.nodes.add_handler(lambda o: self._node(), lambda _o, _n: self._node(), lambda o: self._node())
        if self.policies is not None and self.pods is not None and self.namespaces is not None:
            self.policies.add_handler(lambda o: self._np(), lambda _o, _n: self._np(), lambda o: self._np())
            self.namespaces.add_handler(lambda o: self._np(), self._namespace_update, lambda o: self._np())
            self.pods.add_handler(self._pod, lambda _o, n: self._pod(n), self._pod_delete)

    def _mark(self) -> None:
        if self._first_change is None:
            self._first_change = time.monotonic()
        self._kick.set()

    def _service(self, svc: Obj) -> None:
        self._dirty.add(key_of(svc))
        self._mark()

    def _slice(self, sl: Obj) -> None:
        for key in _slice_service(sl):
            self._dirty.add(key)
        self._mark()

    def _slice_update(self, old: Obj, new: Obj) -> None:
        self._slice(old)
        self._slice(new)

    def _node(self) -> None:
        if self.config.cluster_cidrs:
            return
        cidrs = self._node_cidrs()
        if cidrs != self._cidrs:
            self._node_dirty = True
            self._mark()

    def _node_cidrs(self) -> tuple[str, ...]:
        if self.config.cluster_cidrs:
            return tuple(rules.merge_cidrs(self.config.cluster_cidrs))
        cidrs: list[str] = []
        for node in self.nodes.list():
            spec = node.get("spec") or {}
            cidrs.extend(spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else []))
        return tuple(rules.merge_cidrs(cidrs))

    def _np(self) -> None:
        self._np_dirty = True
        self._mark()

    def _namespace_update(self, old: Obj, new: Obj) -> None:
        if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
            self._np()

    def _pod(self, pod: Obj) -> None:
        key = key_of(pod)
        info = netpol.pod_info(pod)
        if self._pod_infos.get(key) == info:
            return
        if info is None:
            self._pod_infos.pop(key, None)
        else:
            self._pod_infos[key] = info
        self._np()

    def _pod_delete(self, pod: Obj) -> None:
        if self._pod_infos.pop(key_of(pod), None) is not None:
            self._np()

    # ------------------------------------------------------------------------------------------ computing
    def service_fragment(self, key: str) -> nft.Fragment | None:
        svc = self.services.get(key)
        if svc is None:
            return None
        frag = rules.service_fragment(svc, self.slices.by_index("service", key), node=self.config.node_name)
        return frag or None

    def base_fragment(self) -> nft.Fragment:
        self._cidrs = self._node_cidrs()
        return rules.base_fragment(cluster_cidrs=self._cidrs)

    def policy_fragments(self) -> dict[str, nft.Fragment]:
        if self.policies is None or self.namespaces is None:
            return {}
        namespaces = {n["metadata"]["name"]: dict(n["metadata"].get("labels") or {}) for n in self.namespaces.list()}
        frags = netpol.fragments(policies=self.policies.list(), pods=self._pod_infos.values(),
                                 namespaces=namespaces, node=self.config.node_name)
        frags[NP_BASE] = netpol.base_fragment()
        return frags

    def desired_raw(self) -> dict[str, nft.Fragment]:
        """Every fragment as computed from the caches (shared-map elements not yet given to one owner)."""
        out: dict[str, nft.Fragment] = {BASE: self.base_fragment()}
        for key in self.services.store:
            frag = self.service_fragment(key)
            if frag is not None:
                out[f"svc:{key}"] = frag
        out.update(self.policy_fragments())
        return out

    def desired(self, claims: nft.Claims | None = None) -> dict[str, nft.Fragment]:
        """Every fragment as it goes into the table (``claims`` records the element owners)."""
        claims = claims if claims is not None else nft.Claims()
        raw = self.desired_raw()
        for key, frag in raw.items():
            claims.update(key, frag)
        return {key: eff for key in raw if (eff := claims.effective(key)) is not None}

    # ------------------------------------------------------------------------------------------ syncing
    async def sync(self) -> bool:
        """One sync: write whatever changed since the last one (or everything). False when nft refused it; the
        next sync then rewrites the whole table."""
        dirty, self._dirty = self._dirty, set()
        node_dirty, np_dirty = self._node_dirty, self._np_dirty
        self._node_dirty = self._np_dirty = False
        first, self._first_change = self._first_change, None
        start = time.monotonic()
        new_applied: dict[str, nft.Fragment]
        if not self._full:
            new_applied, changes = self._changes(dirty, node_dirty=node_dirty, np_dirty=np_dirty)
            udp = any(_has_udp(old) or _has_udp(new) for old, new in changes)
            script: str | None = nft.plan(self.config.table, changes)
            self._full = script is None
        if self._full:
            self.claims = nft.Claims()
            new_applied = self.desired(self.claims)
            script = nft.render_table(self.config.table, new_applied.values(), comment=TABLE_COMMENT)
            udp = any(_has_udp(f) for f in new_applied.values())
        contested = self.claims.contested()
        if contested != self._contested:
            self._contested = contested
            if contested:
                log.warning("several objects want the same map keys; the first by name gets them",
                            extra={"table": self.config.table, "keys": [f"{m}[{k}]" for m, k in contested[:20]]})
        try:
            if script:
                await self.runner.apply(script)
        except NftError as e:
            self.stats.failures += 1
            self._full = True
            log.error("nftables transaction failed; the next sync rewrites the table",
                      extra={"table": self.config.table, "error": str(e)[:2000]})
            return False
        if self._full:
            self.stats.full_syncs += 1
        self._full = False
        self.applied = new_applied
        self.udp_changed = udp
        now = time.monotonic()
        self.stats.syncs += 1
        self.stats.last_duration = now - start
        self.stats.last_script_bytes = len(script or "")
        if first is not None and script:
            self.stats.latencies.append(now - first)
            del self.stats.latencies[:-1000]
        if script:
            log.debug("nftables synced", extra={"table": self.config.table, "bytes": len(script),
                                                "seconds": round(now - start, 4)})
        if self.on_synced is not None:
            self.on_synced(self)
        return True

    def _changes(self, dirty: set[str], *, node_dirty: bool, np_dirty: bool
                 ) -> tuple[dict[str, nft.Fragment], list[tuple[nft.Fragment | None, nft.Fragment | None]]]:
        applied = dict(self.applied)
        changes: list[tuple[nft.Fragment | None, nft.Fragment | None]] = []
        raw: dict[str, nft.Fragment | None] = {}
        if node_dirty:
            raw[BASE] = self.base_fragment()
        for key in dirty:
            raw[f"svc:{key}"] = self.service_fragment(key)
        if np_dirty:
            frags = self.policy_fragments()
            raw.update((k, None) for k in self.claims.raw if k.startswith(("np:", "npset:", NP_BASE))
                       and k not in frags)
            raw.update(frags)
        affected: set[str] = set()
        for key, frag in raw.items():
            if self.claims.raw.get(key) == frag:
                continue
            affected |= self.claims.update(key, frag)
            affected.add(key)

        def put(key: str, frag: nft.Fragment | None) -> None:
            old = applied.get(key)
            if old == frag:
                return
            changes.append((old, frag))
            if frag is None:
                applied.pop(key, None)
            else:
                applied[key] = frag

        for key in sorted(affected):
            put(key, self.claims.effective(key))
        return applied, changes

    async def table_exists(self) -> bool:
        try:
            await self.runner.list(f"chain {nft.FAMILY} {self.config.table} services")
            return True
        except NftError:
            return False

    async def _kicked(self, timeout: float) -> bool:
        """Wait for a change for at most ``timeout`` seconds (of the injected clock)."""
        if self._kick.is_set():
            return True
        waiter = asyncio.ensure_future(self._kick.wait())
        timer = asyncio.ensure_future(self.clock.sleep(timeout))
        try:
            await asyncio.wait((waiter, timer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            timer.cancel()
        return self._kick.is_set()

    async def run(self, synced: Callable[[], Awaitable[Any]]) -> None:
        """Sync until cancelled; ``synced`` is awaited first (the informers have listed)."""
        await synced()
        self._kick.set()
        backoff = self.config.retry_min
        while True:
            if not await self._kicked(self.config.resync_period):
                if not self._full and not await self.table_exists():
                    log.warning("the proxy's table is gone; rewriting it", extra={"table": self.config.table})
                    self._full = True
                    self._kick.set()
                continue
            if self.config.coalesce > 0:
                await self.clock.sleep(self.config.coalesce)
            self._kick.clear()
            try:
                ok = await self.sync()
            except Exception:                  # a bug must not stop the loop: rewrite everything, later
                log.exception("proxy sync failed", extra={"table": self.config.table})
                self.stats.failures += 1
                self._full = True
                ok = False
            if ok:
                backoff = self.config.retry_min
                continue
            await self.clock.sleep(backoff)
            backoff = min(backoff * 2, self.config.retry_max)
            self._kick.set()


def _has_udp(frag: nft.Fragment | None) -> bool:
    """The fragment captures UDP traffic (its map keys name the protocol: ``ip . udp . port``, ``udp . port``)."""
    return frag is not None and any(" udp " in f" {key} " for _m, key in frag.elements)


def _slice_service(sl: Obj) -> list[str]:
    meta = sl.get("metadata") or {}
    name = (meta.get("labels") or {}).get(rules.SERVICE_NAME_LABEL)
    return [f"{meta.get('namespace') or 'default'}/{name}"] if name else []
