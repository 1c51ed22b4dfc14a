"""What the scheduler reads from a pod, parsed once per pod version (upstream ``framework.PodInfo`` and
``resourcehelper.PodRequests``).

Requests are summed exactly: every quantity is converted to integer nano-units first, summed and maxed, then
rounded up once to milli-CPU or whole units, as upstream adds ``resource.Quantity`` values and converts at the
end. Init containers run one at a time, so the pod needs the larger of (sum of regular containers) and (each init
container plus the restartable "sidecar" init containers started before it); sidecars also add to the sum.
``spec.overhead`` is added on top. The "non-zero" variant counts a container without a CPU or memory request as
100m / 200Mi, so scoring does not pile best-effort pods onto one node.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pybernetes.api.quantity import parse_quantity
from pybernetes.api.selectors import NOTHING, LabelSelector, label_selector_from_dict

Obj = dict[str, Any]
CPU, MEMORY, EPHEMERAL, PODS = "cpu", "memory", "ephemeral-storage", "pods"
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
NANO = 10 ** 9
MILLI_NANO = 10 ** 6
EMPTY: dict[str, int] = {}
EMPTY_LABELS: dict[str, str] = {}


@lru_cache(maxsize=4096)
def _nano(q: str | int | float) -> int:
    return parse_quantity(q).scaled_value(-9)


def nano_value(q: Any) -> int:
    """A quantity in nano-units (exact for every valid quantity); invalid ones count as 0."""
    try:
        return _nano(q if isinstance(q, (str, int, float)) else str(q))
    except (ValueError, TypeError):
        return 0


def to_units(name: str, nano: int) -> int:
    """Nano-units to the scheduler's unit: milli-CPU for cpu, whole units otherwise; rounded up as upstream."""
    if name == CPU:
        return -(-nano // MILLI_NANO)
    return -(-nano // NANO)


def is_scalar_resource_name(name: str) -> bool:
    """Extended (``example.com/foo``), hugepages-*, attachable-volumes-* and prefixed native resources: the ones
    NodeResourcesFit checks besides cpu, memory, ephemeral-storage and pods (upstream IsScalarResourceName)."""
    if name.startswith(("hugepages-", "attachable-volumes-")):
        return True
    if "/" not in name:
        return False
    if "kubernetes.io/" in name:
        return True
    return not name.startswith("requests.")


def _add(acc: dict[str, int], reqs: Mapping[str, Any]) -> None:
    for k, v in reqs.items():
        acc[k] = acc.get(k, 0) + nano_value(v)


def _max_into(acc: dict[str, int], other: Mapping[str, int]) -> None:
    for k, v in other.items():
        acc[k] = max(acc.get(k, 0), v)


def _sum_into(acc: dict[str, int], other: Mapping[str, int]) -> None:
    for k, v in other.items():
        acc[k] = acc.get(k, 0) + v


def _container_requests(c: Obj, non_missing: bool) -> Mapping[str, Any]:
    reqs: Mapping[str, Any] = (c.get("resources") or {}).get("requests") or EMPTY
    if non_missing and (CPU not in reqs or MEMORY not in reqs):
        filled: dict[str, Any] = dict(reqs)
        filled.setdefault(CPU, f"{DEFAULT_MILLI_CPU_REQUEST}m")
        filled.setdefault(MEMORY, str(DEFAULT_MEMORY_REQUEST))
        return filled
    return reqs


def pod_requests_nano(pod: Obj, *, non_missing: bool = False, overhead: bool = True) -> dict[str, int]:
    """Upstream PodRequests in nano-units: regular containers summed, init containers maxed (with sidecars),
    plus overhead. ``non_missing`` fills absent cpu/memory container requests with the scoring defaults."""
    spec = pod.get("spec") or {}
    acc: dict[str, int] = {}
    for c in spec.get("containers") or ():
        _add(acc, _container_requests(c, non_missing))
    inits = spec.get("initContainers")
    if inits:
        sidecars: dict[str, int] = {}
        init_max: dict[str, int] = {}
        for c in inits:
            reqs: dict[str, int] = {}
            _add(reqs, _container_requests(c, non_missing))
            if c.get("restartPolicy") == "Always":
                _sum_into(acc, reqs)
                _sum_into(sidecars, reqs)
                reqs = dict(sidecars)
            else:
                _sum_into(reqs, sidecars)
            _max_into(init_max, reqs)
        _max_into(acc, init_max)
    if overhead and spec.get("overhead"):
        _add(acc, spec["overhead"])
    return acc


def pod_requests(pod: Obj, *, non_missing: bool = False) -> dict[str, int]:
    """Requests in scheduler units (milli-CPU, bytes, counts)."""
    return {k: to_units(k, v) for k, v in pod_requests_nano(pod, non_missing=non_missing).items()}


# ------------------------------------------------------------------------------------------------ affinity terms
@dataclass(frozen=True, slots=True)
class AffinityTerm:
    """A parsed PodAffinityTerm: pods in ``namespaces`` (or in namespaces whose labels match
    ``namespace_selector``) with labels matching ``selector``, counted per ``topology_key`` domain."""
    namespaces: frozenset[str]
    selector: LabelSelector
    topology_key: str
    namespace_selector: LabelSelector = NOTHING

    def matches(self, pod: PodInfo, ns_labels: Mapping[str, str] | None) -> bool:
        if pod.namespace in self.namespaces or (
                self.namespace_selector is not NOTHING and self.namespace_selector.matches(ns_labels or {})):
            return self.selector.matches(pod.labels)
        return False


@dataclass(frozen=True, slots=True)
class WeightedAffinityTerm:
    term: AffinityTerm
    weight: int


def _selector(d: Any) -> LabelSelector:
    try:
        return label_selector_from_dict(d)
    except ValueError:
        return NOTHING           # upstream ignores parse errors here (the API server validated the pod)


def new_affinity_term(namespace: str, term: Obj) -> AffinityTerm:
    namespaces = term.get("namespaces") or ()
    ns_selector = term.get("namespaceSelector")
    if not namespaces and ns_selector is None:
        nss = frozenset((namespace,))
    else:
        nss = frozenset(namespaces)
    return AffinityTerm(namespaces=nss, selector=_selector(term.get("labelSelector")),
                        topology_key=term.get("topologyKey") or "",
                        namespace_selector=NOTHING if ns_selector is None else _selector(ns_selector))


def _terms(namespace: str, block: Obj | None, key: str) -> tuple[AffinityTerm, ...]:
    if not block:
        return ()
    return tuple(new_affinity_term(namespace, t) for t in block.get(key) or ())


def _weighted(namespace: str, block: Obj | None) -> tuple[WeightedAffinityTerm, ...]:
    if not block:
        return ()
    return tuple(WeightedAffinityTerm(new_affinity_term(namespace, t.get("podAffinityTerm") or {}),
                                      int(t.get("weight") or 0))
                 for t in block.get("preferredDuringSchedulingIgnoredDuringExecution") or ())


def host_ports(pod: Obj) -> tuple[tuple[str, str, int], ...]:
    """(hostIP, protocol, hostPort) of every container port with a host port (sanitized as upstream)."""
    out = []
    for c in (pod.get("spec") or {}).get("containers") or ():
        for p in c.get("ports") or ():
            hp = p.get("hostPort") or 0
            if hp > 0:
                out.append((p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP", int(hp)))
    return tuple(out)


# ------------------------------------------------------------------------------------------------ PodInfo
class PodInfo:
    """A pod plus the facts every cycle needs, computed once: identity, priority, requests (exact and
    non-zero), host ports, and the pod's (anti-)affinity terms."""

    __slots__ = ("cpu", "eph", "has_affinity", "has_required_anti_affinity", "host_ports", "key", "labels", "mem",
                 "name", "namespace", "node_name", "nz_cpu", "nz_mem", "pod", "preferred_affinity",
                 "preferred_anti_affinity", "priority", "required_affinity", "required_anti_affinity", "scalar",
                 "uid")

    def __init__(self, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        self.pod = pod
        self.uid: str = meta.get("uid") or ""
        self.namespace: str = meta.get("namespace") or ""
        self.name: str = meta.get("name") or ""
        self.key = f"{self.namespace}/{self.name}"
        self.labels: dict[str, str] = meta.get("labels") or EMPTY_LABELS
        self.priority: int = int(spec.get("priority") or 0)
        self.node_name: str = spec.get("nodeName") or ""
        self._requests(pod, spec)
        self.host_ports = host_ports(pod)
        aff = spec.get("affinity")
        pa = aff.get("podAffinity") if aff else None
        paa = aff.get("podAntiAffinity") if aff else None
        ns = self.namespace
        key = "requiredDuringSchedulingIgnoredDuringExecution"
        self.required_affinity = _terms(ns, pa, key)
        self.required_anti_affinity = _terms(ns, paa, key)
        self.preferred_affinity = _weighted(ns, pa)
        self.preferred_anti_affinity = _weighted(ns, paa)
        self.has_affinity = pa is not None or paa is not None
        self.has_required_anti_affinity = bool(self.required_anti_affinity)

    def _requests(self, pod: Obj, spec: Obj) -> None:
        containers: Sequence[Obj] = spec.get("containers") or ()
        if (len(containers) == 1 and not spec.get("initContainers") and not spec.get("overhead")):
            # the common shape, without the general aggregation
            reqs = (containers[0].get("resources") or {}).get("requests") or EMPTY
            cpu = to_units(CPU, nano_value(reqs[CPU])) if CPU in reqs else 0
            mem = to_units(MEMORY, nano_value(reqs[MEMORY])) if MEMORY in reqs else 0
            self.cpu, self.mem = cpu, mem
            self.nz_cpu = cpu if CPU in reqs else DEFAULT_MILLI_CPU_REQUEST
            self.nz_mem = mem if MEMORY in reqs else DEFAULT_MEMORY_REQUEST
            self.eph = to_units(EPHEMERAL, nano_value(reqs[EPHEMERAL])) if EPHEMERAL in reqs else 0
            if len(reqs) > (CPU in reqs) + (MEMORY in reqs) + (EPHEMERAL in reqs):
                self.scalar = {k: to_units(k, nano_value(v)) for k, v in reqs.items()
                               if is_scalar_resource_name(k)} or EMPTY
            else:
                self.scalar = EMPTY
            return
        reqs_nano = pod_requests_nano(pod)
        self.cpu = to_units(CPU, reqs_nano.get(CPU, 0))
        self.mem = to_units(MEMORY, reqs_nano.get(MEMORY, 0))
        self.eph = to_units(EPHEMERAL, reqs_nano.get(EPHEMERAL, 0))
        self.scalar = {k: to_units(k, v) for k, v in reqs_nano.items() if is_scalar_resource_name(k)} or EMPTY
        nz = pod_requests_nano(pod, non_missing=True)
        self.nz_cpu = to_units(CPU, nz.get(CPU, 0))
        self.nz_mem = to_units(MEMORY, nz.get(MEMORY, 0))

    @property
    def deleting(self) -> bool:
        return bool((self.pod.get("metadata") or {}).get("deletionTimestamp"))

    def with_node(self, node_name: str) -> PodInfo:
        """A copy bound to ``node_name`` (for assuming): the pod dict and its spec are copied shallowly, the
        parsed facts are shared."""
        new = object.__new__(PodInfo)
        for s in PodInfo.__slots__:
            object.__setattr__(new, s, getattr(self, s))
        pod = dict(self.pod)
        pod["spec"] = dict(pod.get("spec") or {}, nodeName=node_name)
        new.pod = pod
        new.node_name = node_name
        return new

    def __repr__(self) -> str:
        return f"PodInfo({self.key}, node={self.node_name!r})"
