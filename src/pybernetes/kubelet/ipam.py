"""Pod IPs from a node's podCIDR, handed out as CNI's host-local IPAM plugin does.

The network address, the gateway (the first host address, which the bridge takes) and the IPv4 broadcast address
are never given to a pod. Allocation is round-robin: the search starts after the last address handed out, so an
address freed by a deleted pod is not reused at once (clients and conntrack entries may still point at it).
Owners are pod UIDs; asking again for the same owner returns the same address.

Simulated nodes whose Node has no ``spec.podCIDR`` yet (the node IPAM controller has not run) take IPs from a
per-node fallback range (:func:`fallback_pod_cidr`, inside 100.64.0.0/10), which the caller logs.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

FALLBACK_SUPERNET = ipaddress.ip_network("100.64.0.0/10")
FALLBACK_PREFIX = 24


class PoolExhausted(Exception):
    pass


def fallback_pod_cidr(index: int) -> str:
    """The ``index``-th /24 of 100.64.0.0/10 (16,384 of them): a podCIDR for a node that has none yet."""
    count = 1 << (FALLBACK_PREFIX - FALLBACK_SUPERNET.prefixlen)
    base = int(FALLBACK_SUPERNET.network_address) + (index % count) * (1 << (32 - FALLBACK_PREFIX))
    return f"{ipaddress.IPv4Address(base)}/{FALLBACK_PREFIX}"


@dataclass(slots=True)
class IPAllocator:
    cidr: str
    _net: ipaddress.IPv4Network | ipaddress.IPv6Network = field(init=False, repr=False)
    _first: int = field(init=False, repr=False)
    _last: int = field(init=False, repr=False)
    _cursor: int = field(init=False, repr=False)
    _by_owner: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    _used: set[int] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        self._net = ipaddress.ip_network(self.cidr, strict=False)
        lo, size = int(self._net.network_address), self._net.num_addresses
        if size < 4:
            raise ValueError(f"pod CIDR {self.cidr} is too small")
        self._first = lo + 2                                    # skip the network address and the gateway
        self._last = lo + size - (2 if self._net.version == 4 else 1)   # IPv4: skip broadcast
        self._cursor = self._first - 1

    @property
    def capacity(self) -> int:
        return self._last - self._first + 1

    @property
    def gateway(self) -> str:
        return str(ipaddress.ip_address(self._first - 1))

    def __len__(self) -> int:
        return len(self._used)

    def __contains__(self, ip: str) -> bool:
        try:
            return ipaddress.ip_address(ip) in self._net
        except ValueError:
            return False

    def ip_of(self, owner: str) -> str | None:
        n = self._by_owner.get(owner)
        return None if n is None else str(ipaddress.ip_address(n))

    def allocate(self, owner: str, *, hint: str = "") -> str:
        """An address for ``owner``: its current one, else ``hint`` if free and in range, else the next free one
        after the last handed out. Raises :class:`PoolExhausted` when every address is taken."""
        n = self._by_owner.get(owner)
        if n is not None:
            return str(ipaddress.ip_address(n))
        if hint:
            try:
                h = int(ipaddress.ip_address(hint))
            except ValueError:
                h = -1
            if self._first <= h <= self._last and h not in self._used:
                return self._take(owner, h)
        span = self._last - self._first + 1
        if len(self._used) >= span:
            raise PoolExhausted(f"no IP addresses available in range set: {self.cidr}")
        candidate = self._cursor
        for _ in range(span):
            candidate = candidate + 1 if candidate < self._last else self._first
            if candidate not in self._used:
                self._cursor = candidate
                return self._take(owner, candidate)
        raise PoolExhausted(f"no IP addresses available in range set: {self.cidr}")   # pragma: no cover

    def _take(self, owner: str, n: int) -> str:
        self._used.add(n)
        self._by_owner[owner] = n
        return str(ipaddress.ip_address(n))

    def release(self, owner: str) -> None:
        n = self._by_owner.pop(owner, None)
        if n is not None:
            self._used.discard(n)
