"""The agent's configuration, parsed from ``pybernetes agent`` flags (pure; errors are ``ConfigError`` with a
message fit for the command line)."""

from __future__ import annotations

import ipaddress
import pathlib
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field

from pybernetes.api.quantity import parse_quantity

SIM_NODE_NETWORK = ipaddress.ip_network("198.18.0.0/15")     # RFC 2544 benchmarking range: never a real host
MAX_SIMULATED = SIM_NODE_NETWORK.num_addresses - 2
_LABEL_KEY = re.compile(r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                        r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?")
_NODE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class AgentConfig:
    server: str
    token: str
    data_dir: pathlib.Path
    node_names: tuple[str, ...]
    simulated: bool = True
    capacity: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    node_events: bool = True                 # NodeReady & co. (off for big simulations: 5 events per node)
    node_ip: str = ""                        # a real node's InternalIP (--node-ip; default: the default route's)


def parse_capacity(text: str) -> dict[str, str]:
    """``cpu=8,memory=32Gi,pods=110`` → {"cpu": "8", ...}; every value must be a quantity."""
    out: dict[str, str] = {}
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise ConfigError(f"--node-capacity: {item!r} is not name=quantity")
        try:
            q = parse_quantity(value)
        except ValueError as e:
            raise ConfigError(f"--node-capacity: {name}: {e}") from None
        if q.sign() < 0:
            raise ConfigError(f"--node-capacity: {name} must not be negative")
        out[name] = value
    return out


def parse_labels(text: str) -> dict[str, str]:
    """``k=v,k2=v2`` → labels, each checked as a Kubernetes label key and value."""
    out: dict[str, str] = {}
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not _LABEL_KEY.fullmatch(key) or len(key.rpartition("/")[2]) > 63:
            raise ConfigError(f"--node-labels: invalid label key in {item!r}")
        if not _LABEL_VALUE.fullmatch(value) or len(value) > 63:
            raise ConfigError(f"--node-labels: invalid label value in {item!r}")
        out[key] = value
    return out


def default_prefix() -> str:
    host = re.sub(r"[^a-z0-9-]+", "-", socket.gethostname().lower()).strip("-") or "node"
    return f"{host}-sim-"


def simulated_names(count: int, *, prefix: str = "", node_name: str = "") -> tuple[str, ...]:
    """``<prefix>0`` … ``<prefix>N-1``; one simulated node may instead be named by ``--node-name``."""
    if count <= 0:
        raise ConfigError("--simulated must be at least 1")
    if count > MAX_SIMULATED:
        raise ConfigError(f"--simulated: at most {MAX_SIMULATED} nodes fit in {SIM_NODE_NETWORK}")
    names = (node_name,) if count == 1 and node_name else tuple(f"{prefix or default_prefix()}{i}"
                                                                   for i in range(count))
    for n in names:
        if len(n) > 253 or not _NODE_NAME.fullmatch(n):
            raise ConfigError(f"invalid node name {n!r}: must be a lowercase RFC 1123 subdomain")
    return names


def sim_node_ips(taken: Iterable[str], count: int) -> list[str]:
    """``count`` addresses of 198.18.0.0/15 not in ``taken``, lowest first."""
    used = {ip for ip in taken}
    out: list[str] = []
    for host in SIM_NODE_NETWORK.hosts():
        s = str(host)
        if s not in used:
            out.append(s)
            if len(out) == count:
                break
    if len(out) < count:
        raise ConfigError(f"not enough free addresses in {SIM_NODE_NETWORK}")
    return out
