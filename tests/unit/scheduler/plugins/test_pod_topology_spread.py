"""PodTopologySpread: DoNotSchedule skew filtering (minDomains, node inclusion policies, matchLabelKeys,
terminating pods), ScheduleAnyway scoring, system default constraints from owning controllers and Services."""

from __future__ import annotations

import pytest
from tests.unit.scheduler.builders import cache_with, node, pod, state_for

from pybernetes.scheduler.framework import SKIP, Code, StaticListers
from pybernetes.scheduler.plugins.pod_topology_spread import (
    ERR_REASON_CONSTRAINTS_NOT_MATCH,
    ERR_REASON_NODE_LABEL_NOT_MATCH,
    CriticalPaths,
    PodTopologySpread,
    default_selector,
)
from pybernetes.scheduler.runtime import Handle

ZONE, HOST = "topology.kubernetes.io/zone", "kubernetes.io/hostname"
FOO = {"foo": ""}


def constraint(key: str, skew: int = 1, action: str = "DoNotSchedule", **extra) -> dict:
    return {"maxSkew": skew, "topologyKey": key, "whenUnsatisfiable": action,
            "labelSelector": {"matchExpressions": [{"key": "foo", "operator": "Exists"}]}, **extra}


def plugin(nodes, pods=(), listers: StaticListers | None = None) -> PodTopologySpread:
    return PodTopologySpread(Handle(snapshot=cache_with(nodes, list(pods)), listers=listers or StaticListers()))


def verdicts(pl: PodTopologySpread, p: dict) -> dict[str, str | None]:
    state = state_for(p)
    _, st = pl.pre_filter(state, p)
    assert st is None
    out = {}
    for n in pl.handle.snapshot.node_list():
        s = pl.filter(state, p, n)
        out[n.name] = None if s is None else s.reasons[0]
    return out


def zones(*spec: tuple[str, str]) -> list[dict]:
    return [node(name, labels={ZONE: z} if z else {}) for name, z in spec]


def pods_on(*names: str, labels: dict = FOO, **kw) -> list[dict]:
    return [pod(f"e{i}-{n}", node=n, labels=labels, **kw) for i, n in enumerate(names)]


SKEW = ERR_REASON_CONSTRAINTS_NOT_MATCH


@pytest.mark.parametrize(("incoming", "nodes", "existing", "want"), [
    # zone1 has 2 matching pods, zone2 none: only zone2 keeps skew ≤ 1
    (pod(labels=FOO, topologySpreadConstraints=[constraint(ZONE)]),
     zones(("a", "z1"), ("b", "z1"), ("c", "z2")), pods_on("a", "b"), {"a": SKEW, "b": SKEW, "c": None}),
    # maxSkew 2 tolerates it
    (pod(labels=FOO, topologySpreadConstraints=[constraint(ZONE, 3)]),
     zones(("a", "z1"), ("b", "z1"), ("c", "z2")), pods_on("a", "b"), {"a": None, "b": None, "c": None}),
    # the incoming pod not matching its own selector adds nothing
    (pod(topologySpreadConstraints=[constraint(ZONE, 2)]),
     zones(("a", "z1"), ("c", "z2")), pods_on("a", "a"), {"a": None, "c": None}),
    # a node without the key
    (pod(labels=FOO, topologySpreadConstraints=[constraint(ZONE)]),
     zones(("a", "z1"), ("x", "")), [], {"a": None, "x": ERR_REASON_NODE_LABEL_NOT_MATCH}),
    # minDomains 3 with only 2 domains: the global minimum counts as 0
    (pod(labels=FOO, topologySpreadConstraints=[constraint(ZONE, minDomains=3)]),
     zones(("a", "z1"), ("c", "z2")), pods_on("a", "c"), {"a": SKEW, "c": SKEW}),
    # terminating pods and pods of other namespaces do not count
    (pod(labels=FOO, topologySpreadConstraints=[constraint(ZONE)]),
     zones(("a", "z1"), ("c", "z2")), [*pods_on("a", "a", ns="other"),
                                       *[dict(p, metadata=dict(p["metadata"], deletionTimestamp="2026-01-01T00:00:00Z"))
                                         for p in pods_on("a", "a")]], {"a": None, "c": None}),
    # nodeAffinityPolicy Honor (default): nodes the pod cannot go to do not make a domain
    (pod(labels=FOO, nodeSelector={"disk": "ssd"}, topologySpreadConstraints=[constraint(ZONE)]),
     [node("a", labels={ZONE: "z1", "disk": "ssd"}), node("c", labels={ZONE: "z2"})], pods_on("a"),
     {"a": None, "c": None}),
    (pod(labels=FOO, nodeSelector={"disk": "ssd"}, topologySpreadConstraints=[constraint(ZONE,
                                                                                       nodeAffinityPolicy="Ignore")]),
     [node("a", labels={ZONE: "z1", "disk": "ssd"}), node("c", labels={ZONE: "z2"})], pods_on("a"),
     {"a": SKEW, "c": None}),
    # nodeTaintsPolicy Honor: a tainted node's domain is ignored
    (pod(labels=FOO, topologySpreadConstraints=[constraint(ZONE, nodeTaintsPolicy="Honor")]),
     [node("a", labels={ZONE: "z1"}), node("c", labels={ZONE: "z2"},
                                           taints=[{"key": "t", "effect": "NoSchedule"}])], pods_on("a"),
     {"a": None, "c": None}),
])
def test_filter(incoming, nodes, existing, want):
    assert verdicts(plugin(nodes, existing), incoming) == want


def test_match_label_keys_narrow_the_selector():
    c = constraint(ZONE, matchLabelKeys=["rev"])
    incoming = pod(labels={"foo": "", "rev": "2"}, topologySpreadConstraints=[c])
    existing = pods_on("a", "a", labels={"foo": "", "rev": "1"})        # another revision: not counted
    assert verdicts(plugin(zones(("a", "z1"), ("c", "z2")), existing), incoming) == {"a": None, "c": None}


def test_codes_and_skip():
    pl = plugin(zones(("a", "z1"), ("x", "")), pods_on("a", "a"))
    p = pod(labels=FOO, topologySpreadConstraints=[constraint(ZONE)])
    state = state_for(p)
    pl.pre_filter(state, p)
    assert pl.filter(state, p, pl.handle.snapshot.get("x")).code == Code.UNRESOLVABLE
    plain = pod()
    assert pl.pre_filter(state_for(plain), plain)[1] is SKIP


def test_add_remove_pod_moves_the_minimum():
    pl = plugin(zones(("a", "z1"), ("c", "z2")), pods_on("a"))
    p = pod(labels=FOO, topologySpreadConstraints=[constraint(ZONE)])
    state = state_for(p)
    pl.pre_filter(state, p)
    a = pl.handle.snapshot.get("a")
    assert pl.filter(state, p, a).reasons == (SKEW,)
    copy = state.clone()
    pl.remove_pod(copy, p, next(iter(a.pods.values())), a)
    assert pl.filter(copy, p, a) is None
    assert pl.filter(state, p, a) is not None


def test_critical_paths_keep_the_two_smallest():
    cp = CriticalPaths()
    for v, n in (("a", 3), ("b", 1), ("c", 2)):
        cp.update(v, n)
    assert (cp.values[0], cp.nums[0]) == ("b", 1)
    cp.update("b", 5)
    assert cp.nums[0] <= cp.nums[1] and cp.nums[0] in (2, 3)


def score_all(pl: PodTopologySpread, p: dict) -> list[int] | None:
    nodes = pl.handle.snapshot.node_list()
    state = state_for(p)
    if pl.pre_score(state, p, nodes) is SKIP:
        return None
    out = [pl.score(state, p, n) for n in nodes]
    pl.normalize_score(state, p, out)
    return out


def test_score_prefers_emptier_domains():
    nodes = [node("a"), node("b"), node("c")]
    pl = plugin(nodes, pods_on("a", "a", "b"))
    p = pod(labels=FOO, topologySpreadConstraints=[constraint(HOST, action="ScheduleAnyway")])
    # raw: 2·ln5, 1·ln5, 0 → 3, 2, 0; normalized 100·(max + min − s)/max
    assert score_all(pl, p) == [0, 33, 100]


def test_score_ignores_nodes_without_the_key():
    nodes = [node("a", labels={ZONE: "z1"}), node("b", labels={ZONE: "z2"}), node("x")]
    pl = plugin(nodes, pods_on("a"))
    p = pod(labels=FOO, topologySpreadConstraints=[constraint(ZONE, action="ScheduleAnyway")])
    assert score_all(pl, p) == [0, 100, 0]


def test_system_defaults_follow_the_owner_and_services():
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-1", "namespace": "default"},
          "spec": {"selector": {"matchLabels": {"app": "web"}}}}
    svc = {"metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": {"tier": "fe"}}}
    owner = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "controller": True, "uid": "x"}]

    def web(name: str, n: str = "") -> dict:
        p = pod(name, node=n, labels={"app": "web", "tier": "fe"})
        p["metadata"]["ownerReferences"] = owner
        return p

    listers = StaticListers(controllers=[rs], services=[svc])
    assert str(default_selector(web("p"), listers)) == "app=web,tier=fe"
    assert default_selector(pod(), listers).empty
    pl = plugin([node("a"), node("b")], [web("e1", "a"), web("e2", "a")], listers)
    # hostname (maxSkew 3): 2·ln4 + 2 → 5 and 0 + 2 → 2; the zone constraint adds nothing (no zone labels)
    assert score_all(pl, web("p")) == [40, 100]
    assert pl.pre_filter(state_for(web("p")), web("p"))[1] is SKIP      # defaults are ScheduleAnyway
    assert score_all(pl, pod()) is None                                 # no owner, no service
