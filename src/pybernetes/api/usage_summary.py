"""The usage summary: what one node agent reports each collection period, and what the metrics API serves from.

Each agent process (one real node, or thousands of simulated ones) writes ONE summary per period with
``PUT /v1-pybernetes/metrics/<agent-id>``; the API server keeps it in the store, where every API server's watch
cache sees it, and computes ``metrics.k8s.io`` NodeMetrics and PodMetrics from the latest summaries. One write per
agent per period is what keeps 5,000 simulated nodes cheap: per-node or per-pod objects would cost thousands of
writes every 15 seconds.

The wire form is compact positional JSON (a 10,000-pod agent stays well under a megabyte)::

    {"kind": "UsageSummary", "apiVersion": "pybernetes.io/v1", "metadata": {"name": "<agent-id>"},
     "period": 15.0,                                   # seconds between collections
     "timestamp": "2026-01-01T00:00:15Z",              # when this collection's samples were taken
     "nodes": [["<node>", <window s>, <cpu nanocores>, <memory bytes>], ...],
     "pods": [["<namespace>", "<pod>", "<node>", <window s>, [["<container>", <cpu nanocores>, <memory bytes>],
              ...]], ...]}

CPU is a rate (nanocores) over ``window`` seconds, computed by the agent from the runtime's cumulative counter;
memory is the working set. The API server adds ``receivedAt`` (its own clock, seconds since the epoch) when it
stores a summary, so staleness is judged without trusting agents' clocks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from pybernetes.api.gotime import go_duration
from pybernetes.api.meta import format_rfc3339

API_VERSION = "pybernetes.io/v1"
KIND = "UsageSummary"
# Agent ids are path segments and store keys: DNS-subdomain-like, as node names are.
AGENT_ID = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ContainerUsage:
    name: str
    cpu_nanocores: int
    memory_bytes: int


@dataclass(frozen=True, slots=True)
class PodUsage:
    namespace: str
    name: str
    node: str
    window: float
    containers: tuple[ContainerUsage, ...]


@dataclass(frozen=True, slots=True)
class NodeUsage:
    name: str
    window: float
    cpu_nanocores: int
    memory_bytes: int


def encode(*, agent: str, period: float, timestamp: datetime, nodes: Iterable[NodeUsage],
           pods: Iterable[PodUsage]) -> Obj:
    """The summary an agent sends (see the module docstring)."""
    return {"kind": KIND, "apiVersion": API_VERSION, "metadata": {"name": agent}, "period": period,
            "timestamp": format_rfc3339(timestamp),
            "nodes": [[n.name, round(n.window, 3), n.cpu_nanocores, n.memory_bytes] for n in nodes],
            "pods": [[p.namespace, p.name, p.node, round(p.window, 3),
                      [[c.name, c.cpu_nanocores, c.memory_bytes] for c in p.containers]] for p in pods]}


# ---------------------------------------------------------------------------------------------------- checking
def _name(v: Any) -> bool:
    return type(v) is str and 0 < len(v) <= 253


def _count(v: Any) -> bool:
    return type(v) is int and v >= 0


def _seconds(v: Any) -> bool:
    return type(v) in (int, float) and 0 <= v < 1e9


def _check_node(n: Any) -> bool:
    return type(n) is list and len(n) == 4 and _name(n[0]) and _seconds(n[1]) and _count(n[2]) and _count(n[3])


def _check_pod(p: Any) -> bool:
    if type(p) is not list or len(p) != 5 or not (_name(p[0]) and _name(p[1]) and _name(p[2]) and _seconds(p[3])):
        return False
    cs = p[4]
    return type(cs) is list and all(type(c) is list and len(c) == 3 and _name(c[0]) and _count(c[1])
                                    and _count(c[2]) for c in cs)


def check(obj: Any, agent: str) -> str | None:
    """Why ``obj`` is not a summary for ``agent`` (a message for a 400), or None when it is one. Checked field by
    field once per write, so what the metrics API later renders needs no defensive code."""
    if type(obj) is not dict:
        return "the body must be a JSON object"
    if obj.get("kind") != KIND or obj.get("apiVersion") != API_VERSION:
        return f"expected kind {KIND!r} and apiVersion {API_VERSION!r}"
    name = (obj.get("metadata") or {}).get("name") if type(obj.get("metadata")) is dict else None
    if name != agent:
        return f"metadata.name must be the agent id in the path ({agent!r})"
    period = obj.get("period")
    if not isinstance(period, (int, float)) or isinstance(period, bool) or not 0 < period <= 3600:
        return "period must be a number of seconds in (0, 3600]"
    ts = obj.get("timestamp")
    if type(ts) is not str or len(ts) != 20 or not ts.endswith("Z"):
        return "timestamp must be an RFC 3339 time in UTC, to the second"
    nodes, pods = obj.get("nodes"), obj.get("pods")
    if type(nodes) is not list or not all(_check_node(n) for n in nodes):
        return "nodes must be a list of [name, window seconds, CPU nanocores, memory bytes]"
    if type(pods) is not list or not all(_check_pod(p) for p in pods):
        return ("pods must be a list of [namespace, name, node, window seconds, "
                "[[container, CPU nanocores, memory bytes], ...]]")
    return None


# ---------------------------------------------------------------------------------------------------- reading
class Sample(NamedTuple):
    """One node's or pod's usage as reported. Kept raw (and a tuple, the cheapest record to build): indexing a
    10,000-pod summary happens on the first read after every write, and only what a request returns is
    formatted."""

    node: str
    timestamp: str
    window: float                               # seconds
    usage: Sequence[Sequence[Any]]              # [container, CPU nanocores, memory bytes]…; a node's: one, ""

    def window_text(self) -> str:
        """``metav1.Duration`` JSON: Go's duration string (``"15.003s"``)."""
        return go_duration(round(self.window * 1e9))


_DECIMAL = (("E", 10**18), ("P", 10**15), ("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3))
_BINARY = (("Ei", 1 << 60), ("Pi", 1 << 50), ("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10))


def _decimal(n: int) -> str:
    """A whole, non-negative count in Go's canonical DecimalSI form (the largest exact 10³ⁿ suffix)."""
    for suffix, unit in _DECIMAL:
        if n >= unit and n % unit == 0:
            return f"{n // unit}{suffix}"
    return str(n)


def cpu_quantity(nanocores: int) -> str:
    """metrics-server's form: a DecimalSI quantity of nano-units, canonical (``"1234567n"``, ``"250m"``, ``"2"``);
    equal to ``str(Quantity.from_scaled(nanocores, -9))``, without building one per value."""
    if nanocores % 10**9 == 0:
        return _decimal(nanocores // 10**9)
    for suffix, unit in (("m", 10**6), ("u", 10**3)):
        if nanocores % unit == 0:
            return f"{nanocores // unit}{suffix}"
    return f"{nanocores}n"


def memory_quantity(n_bytes: int) -> str:
    """metrics-server's form: a BinarySI quantity of bytes (``"64Mi"``, ``"10124Ki"``, ``"424390528"``); below
    1Ki Go prints the DecimalSI form (``"1k"``). Equal to ``str(Quantity.from_int(n, BINARY_SI))``."""
    if n_bytes < 1024:
        return _decimal(n_bytes)
    for suffix, unit in _BINARY:
        if n_bytes % unit == 0:
            return f"{n_bytes // unit}{suffix}"
    return str(n_bytes)


def index(obj: Obj) -> tuple[dict[str, Sample], dict[tuple[str, str], Sample]]:
    """A checked summary as (node name → sample, (namespace, pod) → sample)."""
    ts = obj["timestamp"]
    nodes = {n[0]: Sample(n[0], ts, n[1], (("", n[2], n[3]),)) for n in obj["nodes"]}
    pods = {(p[0], p[1]): Sample(p[2], ts, p[3], p[4]) for p in obj["pods"]}
    return nodes, pods
