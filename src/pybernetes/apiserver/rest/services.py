"""Service ClusterIP and NodePort allocation, safe across several API servers.

Each allocated address is a key in the store, created with create-if-absent — so two API servers (on etcd) can
never hand out the same address — under ``/registry/networking.k8s.io/ipaddresses/<ip>`` in the shape of
upstream's IPAddress objects (the 1.33 allocator's design), and each node port under
``/registry/_allocations/nodeports/<port>``. Allocation picks a free value at random (upstream picks randomly too,
with a static band reserved at the bottom of the range for users asking for specific values).
"""

from __future__ import annotations

import ipaddress
import random
from typing import Any

import orjson

from pybernetes.api import errors
from pybernetes.api.field import invalid
from pybernetes.api.resources import Resource
from pybernetes.apiserver.resthooks import RESTHooks
from pybernetes.apiserver.state import ServerState
from pybernetes.storage import interface as st

Obj = dict[str, Any]
IP_PREFIX = "/registry/networking.k8s.io/ipaddresses/"
PORT_PREFIX = "/registry/_allocations/nodeports/"
TRIES = 64


def wants_cluster_ip(svc: Obj) -> bool:
    spec = svc.get("spec") or {}
    return spec.get("type", "ClusterIP") != "ExternalName" and spec.get("clusterIP") != "None"


def wants_node_ports(svc: Obj) -> bool:
    spec = svc.get("spec") or {}
    t = spec.get("type", "ClusterIP")
    if t == "NodePort":
        return True
    return t == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True) is not False


def _ip_value(svc: Obj, ip: str) -> bytes:
    meta = svc["metadata"]
    fam = "IPv6" if ":" in ip else "IPv4"
    return orjson.dumps({"apiVersion": "networking.k8s.io/v1", "kind": "IPAddress",
                         "metadata": {"name": ip, "labels": {"ipaddress.kubernetes.io/ip-family": fam,
                                                             "ipaddress.kubernetes.io/managed-by":
                                                                 "ipallocator.k8s.io"}},
                         "spec": {"parentRef": {"group": "", "resource": "services",
                                                "namespace": meta.get("namespace", ""), "name": meta["name"]}}})


class ServiceHooks(RESTHooks):
    def _cidr(self, state: ServerState) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(state.config.service_cidr, strict=False)

    async def _take_ip(self, state: ServerState, svc: Obj, ip: str, *, dry_run: bool) -> bool:
        if dry_run:
            return await state.store.get(IP_PREFIX + ip) is None
        try:
            await state.store.create(IP_PREFIX + ip, _ip_value(svc, ip))
            return True
        except st.KeyExists:
            return False

    async def _allocate_ip(self, state: ServerState, svc: Obj, *, dry_run: bool) -> None:
        spec = svc.setdefault("spec", {})
        cidr = self._cidr(state)
        want = spec.get("clusterIP") or ""
        if want:
            try:
                addr = ipaddress.ip_address(want)
            except ValueError:
                raise errors.Invalid("Service", "", svc["metadata"]["name"], [
                    invalid("spec.clusterIPs[0]", want, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")
                ]) from None
            if addr not in cidr or addr in (cidr.network_address, cidr.broadcast_address):
                raise errors.Invalid("Service", "", svc["metadata"]["name"], [
                    invalid("spec.clusterIPs", [want], f"failed to allocate IP {want}: provided IP ({want}) is not in "
                            f"the valid range. The range of valid IPs is {cidr}")])
            if not await self._take_ip(state, svc, want, dry_run=dry_run):
                raise errors.Invalid("Service", "", svc["metadata"]["name"], [
                    invalid("spec.clusterIPs", [want], f"failed to allocate IP {want}: provided IP is already "
                            "allocated")])
        else:
            size = cidr.num_addresses
            base = int(cidr.network_address)
            for _ in range(TRIES):
                # Skip the network address and .1 (the kubernetes Service), as upstream reserves the first.
                cand = str(ipaddress.ip_address(base + random.randrange(2, size - 1)))
                if await self._take_ip(state, svc, cand, dry_run=dry_run):
                    want = cand
                    break
            else:
                raise errors.APIError("Internal error occurred: failed to allocate a serviceIP: range is full",
                                      code=500, reason="InternalError")
        spec["clusterIP"] = want
        spec["clusterIPs"] = [want]

    async def _take_port(self, state: ServerState, svc: Obj, port: int, *, dry_run: bool) -> bool:
        key = f"{PORT_PREFIX}{port}"
        if dry_run:
            return await state.store.get(key) is None
        meta = svc["metadata"]
        try:
            await state.store.create(key, orjson.dumps({"namespace": meta.get("namespace", ""),
                                                        "name": meta["name"]}))
            return True
        except st.KeyExists:
            return False

    async def _allocate_ports(self, state: ServerState, svc: Obj, old: Obj | None, *, dry_run: bool) -> list[int]:
        lo, hi = state.config.node_port_range
        taken: list[int] = []
        held = set(node_ports(old)) if old else set()
        for i, port in enumerate((svc.get("spec") or {}).get("ports") or []):
            want = port.get("nodePort")
            if want:
                if want in held or want in taken:      # still ours, or shared by TCP and UDP entries
                    continue
                if not lo <= want <= hi:
                    raise errors.Invalid("Service", "", svc["metadata"]["name"], [
                        invalid(f"spec.ports[{i}].nodePort", want, f"provided port is not in the valid range. "
                                f"The range of valid ports is {lo}-{hi}")])
                if not await self._take_port(state, svc, want, dry_run=dry_run):
                    await self._release_ports(state, taken)
                    raise errors.Invalid("Service", "", svc["metadata"]["name"], [
                        invalid(f"spec.ports[{i}].nodePort", want, "provided port is already allocated")])
                taken.append(want)
            else:
                for _ in range(TRIES):
                    cand = random.randint(lo, hi)
                    if cand not in taken and cand not in held and await self._take_port(state, svc, cand,
                                                                                          dry_run=dry_run):
                        port["nodePort"] = cand
                        taken.append(cand)
                        break
                else:
                    await self._release_ports(state, taken)
                    raise errors.APIError("Internal error occurred: failed to allocate a nodePort: range is full",
                                          code=500, reason="InternalError")
        return taken

    async def _release_ports(self, state: ServerState, ports: list[int]) -> None:
        for p in ports:
            try:
                await state.store.delete(f"{PORT_PREFIX}{p}")
            except st.KeyNotFound:
                pass

    async def _release_ip(self, state: ServerState, ip: str | None) -> None:
        if ip and ip != "None":
            try:
                await state.store.delete(IP_PREFIX + ip)
            except st.KeyNotFound:
                pass

    async def before_create(self, state: ServerState, res: Resource, obj: Obj, *, dry_run: bool) -> None:
        allocated_ip = False
        try:
            if wants_cluster_ip(obj):
                await self._allocate_ip(state, obj, dry_run=dry_run)
                allocated_ip = True
            if wants_node_ports(obj):
                await self._allocate_ports(state, obj, None, dry_run=dry_run)
        except BaseException:
            if allocated_ip and not dry_run:
                await self._release_ip(state, obj["spec"].get("clusterIP"))
            raise

    async def create_failed(self, state: ServerState, res: Resource, obj: Obj) -> None:
        await self.after_delete(state, res, obj)

    async def before_update(self, state: ServerState, res: Resource, obj: Obj, old: Obj, *, dry_run: bool) -> None:
        spec, old_spec = obj.setdefault("spec", {}), old.get("spec") or {}
        # The IP follows the Service across updates unless the type change drops or adds it.
        if wants_cluster_ip(obj) and not spec.get("clusterIP") and old_spec.get("clusterIP") not in (None, "", "None"):
            spec["clusterIP"], spec["clusterIPs"] = old_spec["clusterIP"], list(old_spec.get("clusterIPs") or [])
        if wants_cluster_ip(obj) and not wants_cluster_ip(old):
            await self._allocate_ip(state, obj, dry_run=dry_run)
        if wants_node_ports(obj):
            # Keep the ports the old object held for the same port entries (kubectl apply omits nodePort).
            old_by = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                      for p in old_spec.get("ports") or [] if p.get("nodePort")}
            for p in spec.get("ports") or []:
                if not p.get("nodePort"):
                    keep = old_by.get((p.get("port"), p.get("protocol", "TCP")))
                    if keep:
                        p["nodePort"] = keep
            await self._allocate_ports(state, obj, old, dry_run=dry_run)
        else:
            for p in spec.get("ports") or []:
                p.pop("nodePort", None)

    async def update_failed(self, state: ServerState, res: Resource, obj: Obj, old: Obj) -> None:
        new_ports = set(node_ports(obj)) - set(node_ports(old))
        await self._release_ports(state, sorted(new_ports))
        if cluster_ip(obj) != cluster_ip(old):
            await self._release_ip(state, cluster_ip(obj))

    async def after_update(self, state: ServerState, res: Resource, obj: Obj, old: Obj) -> None:
        gone = set(node_ports(old)) - set(node_ports(obj))
        await self._release_ports(state, sorted(gone))
        if cluster_ip(old) and cluster_ip(old) != cluster_ip(obj):
            await self._release_ip(state, cluster_ip(old))

    async def after_delete(self, state: ServerState, res: Resource, obj: Obj) -> None:
        await self._release_ports(state, node_ports(obj))
        await self._release_ip(state, cluster_ip(obj))


def node_ports(svc: Obj | None) -> list[int]:
    if not svc:
        return []
    return [p["nodePort"] for p in (svc.get("spec") or {}).get("ports") or [] if p.get("nodePort")]


def cluster_ip(svc: Obj) -> str | None:
    ip = (svc.get("spec") or {}).get("clusterIP")
    return ip if ip and ip != "None" else None

