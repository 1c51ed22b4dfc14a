"""What every handler of one API server shares: config, store, watch cache, resources, authorizer, admission."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pybernetes.api.resources import Registry
    from pybernetes.apiserver.admission import AdmissionChain
    from pybernetes.apiserver.authz import Authorizer
    from pybernetes.storage.interface import Store
    from pybernetes.storage.watchcache import WatchCache


@dataclass(slots=True)
class ServerConfig:
    service_cidr: str = "10.43.0.0/16"
    cluster_cidr: str = "10.42.0.0/16"
    node_port_range: tuple[int, int] = (30000, 32767)
    cluster_dns: str = "10.43.0.10"
    cluster_domain: str = "cluster.local"
    max_body_bytes: int = 3 * 1024 * 1024
    advertise_address: str = "127.0.0.1"
    port: int = 6443
    default_toleration_seconds: int = 300      # not-ready/unreachable tolerations added to every pod


@dataclass(slots=True)
class ServerState:
    config: ServerConfig
    store: Store
    cache: WatchCache
    resources: Registry
    authorizer: Authorizer
    admission: AdmissionChain
    extra: dict[str, Any] = field(default_factory=dict)
