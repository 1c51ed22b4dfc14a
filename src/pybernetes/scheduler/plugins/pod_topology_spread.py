"""PodTopologySpread: spread matching pods evenly across topology domains (upstream
``plugins/podtopologyspread``).

``whenUnsatisfiable: DoNotSchedule`` constraints filter: placing the pod on a node must keep
``pods in the node's domain + 1 − pods in the least loaded domain ≤ maxSkew`` (with fewer than ``minDomains``
domains the minimum counts as 0); a node without the topology key is UnschedulableAndUnresolvable.
``ScheduleAnyway`` constraints score: fewer matching pods in a node's domain is better, weighted by log(number of
domains + 2). Pods without constraints get the system defaults (hostname maxSkew 3, zone maxSkew 5, both
ScheduleAnyway) when a Service, ReplicationController, ReplicaSet or StatefulSet selects them. Only nodes passing
the pod's node affinity (``nodeAffinityPolicy: Honor``, the default) and, when asked, tolerating their taints
count. ``matchLabelKeys`` adds the pod's own values for those keys to the selector.

PreFilter keeps, per constraint, the two least loaded domains ("critical paths", as upstream) so Filter is O(1)
per node and preemption can add/remove pods incrementally.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pybernetes.api.selectors import (
    EQUALS,
    LabelSelector,
    label_selector_from_dict,
    new_requirement,
    selector_from_set,
)
from pybernetes.scheduler.framework import (
    MAX_NODE_SCORE,
    NODE,
    POD,
    SKIP,
    ActionType,
    ClusterEvent,
    CycleState,
    FilterPlugin,
    PreFilterResult,
    ScorePlugin,
    Status,
    as_error,
    unresolvable,
    unschedulable,
)
from pybernetes.scheduler.plugins.node_affinity import RequiredNodeAffinity, required_node_affinity
from pybernetes.scheduler.plugins.taint_toleration import find_untolerated_taint
from pybernetes.scheduler.podinfo import PodInfo

Obj = dict[str, Any]
NAME = "PodTopologySpread"
PRE_FILTER_KEY = "PreFilter" + NAME
PRE_SCORE_KEY = "PreScore" + NAME
HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
SYSTEM_DEFAULT_CONSTRAINTS: tuple[Obj, ...] = (
    {"topologyKey": HOSTNAME, "whenUnsatisfiable": "ScheduleAnyway", "maxSkew": 3},
    {"topologyKey": ZONE, "whenUnsatisfiable": "ScheduleAnyway", "maxSkew": 5},
)
_REJECT_LABEL = unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH, plugin=NAME)
_REJECT_SKEW = unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH, plugin=NAME)
_KINDS = {("v1", "ReplicationController"), ("apps/v1", "ReplicaSet"), ("apps/v1", "StatefulSet")}


@dataclass(frozen=True, slots=True)
class Constraint:
    max_skew: int
    topology_key: str
    selector: LabelSelector
    min_domains: int = 1
    node_affinity_policy: str = "Honor"
    node_taints_policy: str = "Ignore"

    def includes(self, tolerations: Sequence[Obj], node: Any, required: RequiredNodeAffinity) -> bool:
        """Whether ``node`` counts for this constraint (nodeAffinityPolicy / nodeTaintsPolicy)."""
        if self.node_affinity_policy == "Honor" and not required.matches(node):
            return False
        if self.node_taints_policy == "Honor" and node.no_schedule_taints \
                and find_untolerated_taint(node.no_schedule_taints, tolerations) is not None:
            return False
        return True


def parse_constraints(items: Iterable[Obj], pod_labels: Mapping[str, str], action: str) -> list[Constraint]:
    """The constraints with ``whenUnsatisfiable == action``; raises ValueError for a bad selector."""
    out = []
    for c in items:
        if (c.get("whenUnsatisfiable") or "DoNotSchedule") != action:
            continue
        selector = label_selector_from_dict(c.get("labelSelector"))
        keys = [k for k in c.get("matchLabelKeys") or () if k in pod_labels]
        if keys:
            selector = LabelSelector((*(new_requirement(k, EQUALS, (pod_labels[k],)) for k in keys),
                                      *selector.requirements))
        out.append(Constraint(int(c.get("maxSkew") or 1), c.get("topologyKey") or "", selector,
                              int(c["minDomains"]) if c.get("minDomains") is not None else 1,
                              c.get("nodeAffinityPolicy") or "Honor", c.get("nodeTaintsPolicy") or "Ignore"))
    return out


def count_pods_match_selector(pods: Iterable[PodInfo], selector: LabelSelector, namespace: str) -> int:
    """Matching pods in ``namespace``, not terminating. An empty selector counts nothing (as upstream)."""
    if selector.empty:
        return 0
    return sum(1 for p in pods if p.namespace == namespace and selector.matches(p.labels) and not p.deleting)


def node_has_keys(labels: Mapping[str, str], constraints: Sequence[Constraint]) -> bool:
    return all(c.topology_key in labels for c in constraints)


def default_selector(pod: Obj, listers: Any) -> LabelSelector:
    """Upstream helper.DefaultSelector: the selectors of the Services, ReplicationController, ReplicaSet or
    StatefulSet that select/own the pod, merged."""
    meta = pod.get("metadata") or {}
    ns, labels = meta.get("namespace") or "", meta.get("labels") or {}
    label_set: dict[str, str] = {}
    for svc in listers.services(ns):
        sel = (svc.get("spec") or {}).get("selector")
        if sel is not None and selector_from_set(sel).matches(labels):
            label_set.update(sel)
    selector = selector_from_set(label_set)
    owner = next((o for o in meta.get("ownerReferences") or () if o.get("controller")), None)
    if owner is None or (owner.get("apiVersion"), owner.get("kind")) not in _KINDS:
        return selector
    obj = listers.controller(owner["kind"], ns, owner.get("name", ""))
    if obj is None:
        return selector
    spec_sel = (obj.get("spec") or {}).get("selector")
    if owner["kind"] == "ReplicationController":
        label_set.update(spec_sel or {})
        return selector_from_set(label_set)
    try:
        other = label_selector_from_dict(spec_sel)
    except ValueError:
        return selector
    if other.matches_nothing:
        return selector
    return selector.add(*other.requirements)


class CriticalPaths:
    """The two domains with the fewest matching pods (upstream criticalPaths): [0] always holds the minimum."""

    __slots__ = ("nums", "values")

    def __init__(self) -> None:
        self.values = ["", ""]
        self.nums = [1 << 31, 1 << 31]

    def update(self, value: str, num: int) -> None:
        vals, nums = self.values, self.nums
        i = 0 if value == vals[0] else 1 if value == vals[1] else -1
        if i >= 0:
            nums[i] = num
            if nums[0] > nums[1]:
                vals.reverse()
                nums.reverse()
        elif num < nums[0]:
            vals[1], nums[1] = vals[0], nums[0]
            vals[0], nums[0] = value, num
        elif num < nums[1]:
            vals[1], nums[1] = value, num

    def clone(self) -> CriticalPaths:
        c = CriticalPaths()
        c.values, c.nums = list(self.values), list(self.nums)
        return c


class _FilterState:
    __slots__ = ("constraints", "paths", "required", "tolerations", "tp_counts")

    def __init__(self, constraints: list[Constraint], required: RequiredNodeAffinity,
                 tolerations: Sequence[Obj]) -> None:
        self.constraints = constraints
        self.required = required
        self.tolerations = tolerations
        self.tp_counts: list[dict[str, int]] = [{} for _ in constraints]
        self.paths: list[CriticalPaths] = [CriticalPaths() for _ in constraints]

    def clone(self) -> _FilterState:
        c = _FilterState(self.constraints, self.required, self.tolerations)
        c.tp_counts = [dict(d) for d in self.tp_counts]
        c.paths = [p.clone() for p in self.paths]
        return c

    def min_match_num(self, i: int, min_domains: int) -> int:
        if len(self.tp_counts[i]) < min_domains:
            return 0
        return self.paths[i].nums[0]


class PodTopologySpread:
    name: ClassVar[str] = NAME
    requeue_on = (ClusterEvent(POD, ActionType.ADD | ActionType.UPDATE_POD_LABEL | ActionType.DELETE),
                  ClusterEvent(NODE, ActionType.ADD | ActionType.DELETE | ActionType.UPDATE_NODE_LABEL
                               | ActionType.UPDATE_NODE_TAINT))

    def __init__(self, handle: Any = None, *, default_constraints: Sequence[Obj] = SYSTEM_DEFAULT_CONSTRAINTS,
                 system_defaulted: bool = True) -> None:
        self.handle = handle
        self.default_constraints = tuple(default_constraints)
        self.system_defaulted = system_defaulted

    def _constraints(self, pod: Obj, action: str) -> list[Constraint]:
        spec = pod.get("spec") or {}
        labels = (pod.get("metadata") or {}).get("labels") or {}
        if spec.get("topologySpreadConstraints"):
            return parse_constraints(spec["topologySpreadConstraints"], labels, action)
        constraints = parse_constraints(self.default_constraints, labels, action)
        if not constraints or self.handle is None:
            return []
        selector = default_selector(pod, self.handle.listers)
        if selector.empty:
            return []
        return [Constraint(c.max_skew, c.topology_key, selector, c.min_domains, c.node_affinity_policy,
                           c.node_taints_policy) for c in constraints]

    # ---------------------------------------------------------------------------------------------- filter
    def pre_filter(self, state: CycleState, pod: Obj) -> tuple[PreFilterResult | None, Status | None]:
        if not (pod.get("spec") or {}).get("topologySpreadConstraints") and not any(
                (c.get("whenUnsatisfiable") or "DoNotSchedule") == "DoNotSchedule" for c in self.default_constraints):
            return None, SKIP
        try:
            constraints = self._constraints(pod, "DoNotSchedule")
        except ValueError as e:
            return None, as_error(f"obtaining pod's hard topology spread constraints: {e}")
        if not constraints:
            return None, SKIP
        spec = pod.get("spec") or {}
        s = _FilterState(constraints, required_node_affinity(pod), spec.get("tolerations") or ())
        ns = (pod.get("metadata") or {}).get("namespace") or ""
        for node in self.handle.snapshot.node_list():
            labels = node.labels
            if not node_has_keys(labels, constraints):
                continue
            for i, c in enumerate(constraints):
                if not c.includes(s.tolerations, node, s.required):
                    continue
                v = labels[c.topology_key]
                d = s.tp_counts[i]
                d[v] = d.get(v, 0) + count_pods_match_selector(node.pods.values(), c.selector, ns)
        for i, d in enumerate(s.tp_counts):
            for v, n in d.items():
                s.paths[i].update(v, n)
        state.write(PRE_FILTER_KEY, s)
        return None, None

    def _update_with_pod(self, state: CycleState, pod: Obj, pi: PodInfo, node: Any, delta: int) -> None:
        s: _FilterState | None = state.get(PRE_FILTER_KEY)
        if s is None or pi.namespace != ((pod.get("metadata") or {}).get("namespace") or ""):
            return
        labels = node.labels
        if not node_has_keys(labels, s.constraints):
            return
        for i, c in enumerate(s.constraints):
            if not c.selector.matches(pi.labels) or not c.includes(s.tolerations, node, s.required):
                continue
            v = labels[c.topology_key]
            d = s.tp_counts[i]
            d[v] = d.get(v, 0) + delta
            s.paths[i].update(v, d[v])

    def add_pod(self, state: CycleState, pod: Obj, pi: PodInfo, node: Any) -> Status | None:
        self._update_with_pod(state, pod, pi, node, 1)
        return None

    def remove_pod(self, state: CycleState, pod: Obj, pi: PodInfo, node: Any) -> Status | None:
        self._update_with_pod(state, pod, pi, node, -1)
        return None

    def filter(self, state: CycleState, pod: Obj, node: Any) -> Status | None:
        s: _FilterState | None = state.get(PRE_FILTER_KEY)
        if s is None or not s.constraints:
            return None
        labels = node.labels
        pod_labels = (pod.get("metadata") or {}).get("labels") or {}
        for i, c in enumerate(s.constraints):
            tv = labels.get(c.topology_key)
            if tv is None:
                return _REJECT_LABEL
            self_match = 1 if c.selector.matches(pod_labels) else 0
            skew = s.tp_counts[i].get(tv, 0) + self_match - s.min_match_num(i, c.min_domains)
            if skew > c.max_skew:
                return _REJECT_SKEW
        return None

    # ---------------------------------------------------------------------------------------------- score
    def pre_score(self, state: CycleState, pod: Obj, nodes: Sequence[Any]) -> Status | None:
        all_nodes = self.handle.snapshot.node_list()
        if not all_nodes:
            return SKIP
        try:
            constraints = self._constraints(pod, "ScheduleAnyway")
        except ValueError as e:
            return as_error(f"obtaining pod's soft topology spread constraints: {e}")
        if not constraints:
            return SKIP
        spec = pod.get("spec") or {}
        require_all = bool(spec.get("topologySpreadConstraints")) or not self.system_defaulted
        ignored: set[str] = set()
        counts: list[dict[str, int]] = [{} for _ in constraints]
        used: list[set[str]] = [set() for _ in constraints]
        for node in nodes:
            labels = node.labels
            if require_all and not node_has_keys(labels, constraints):
                ignored.add(node.name)
                continue
            for i, c in enumerate(constraints):
                if c.topology_key == HOSTNAME:
                    continue
                v = labels.get(c.topology_key, "")
                counts[i].setdefault(v, 0)
                if c.topology_key in labels:
                    used[i].add(v)
        weights = []
        for i, c in enumerate(constraints):
            size = len(nodes) - len(ignored) if c.topology_key == HOSTNAME else len(counts[i])
            weights.append(math.log(size + 2))
        if any(used):
            required = required_node_affinity(pod)
            tolerations = spec.get("tolerations") or ()
            ns = (pod.get("metadata") or {}).get("namespace") or ""
            for node in all_nodes:
                labels = node.labels
                if require_all and not node_has_keys(labels, constraints):
                    continue
                for i, c in enumerate(constraints):
                    v = labels.get(c.topology_key, "")
                    if v not in used[i] or not c.includes(tolerations, node, required):
                        continue
                    counts[i][v] += count_pods_match_selector(node.pods.values(), c.selector, ns)
        state.write(PRE_SCORE_KEY, (constraints, counts, weights, ignored, [n.name for n in nodes]))
        return None

    def score(self, state: CycleState, pod: Obj, node: Any) -> int:
        constraints, counts, weights, ignored, _ = state.read(PRE_SCORE_KEY)
        if node.name in ignored:
            return 0
        ns = (pod.get("metadata") or {}).get("namespace") or ""
        labels = node.labels
        total = 0.0
        for i, c in enumerate(constraints):
            tv = labels.get(c.topology_key)
            if tv is None:
                continue
            if c.topology_key == HOSTNAME:
                cnt = count_pods_match_selector(node.pods.values(), c.selector, ns)
            else:
                cnt = counts[i].get(tv, 0)
            total += cnt * weights[i] + (c.max_skew - 1)
        return math.floor(total + 0.5)

    def normalize_score(self, state: CycleState, pod: Obj, scores: list[int]) -> None:
        _, _, _, ignored, names = state.read(PRE_SCORE_KEY)
        lo, hi = None, 0
        for name, s in zip(names, scores, strict=True):
            if name in ignored:
                continue
            lo = s if lo is None or s < lo else lo
            hi = max(hi, s)
        lo = lo or 0
        for i, (name, s) in enumerate(zip(names, scores, strict=True)):
            if name in ignored:
                scores[i] = 0
            elif hi == 0:
                scores[i] = MAX_NODE_SCORE
            else:
                scores[i] = MAX_NODE_SCORE * (hi + lo - s) // hi


def new(args: dict[str, Any], handle: Any) -> PodTopologySpread:
    defaulting = args.get("defaultingType") or "System"
    if defaulting == "List":
        return PodTopologySpread(handle, default_constraints=args.get("defaultConstraints") or (),
                                 system_defaulted=False)
    return PodTopologySpread(handle)


_: FilterPlugin = PodTopologySpread()
_s: ScorePlugin = PodTopologySpread()
