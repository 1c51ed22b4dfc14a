"""InterPodAffinity: required affinity/anti-affinity of the pod, existing pods' anti-affinity, the first pod of a
self-affine group, namespace selectors, incremental add/remove, and preferred-term scoring."""

from __future__ import annotations

import pytest
from tests.unit.scheduler.builders import cache_with, node, pod, state_for

from pybernetes.scheduler.framework import SKIP, Code, StaticListers
from pybernetes.scheduler.plugins.inter_pod_affinity import InterPodAffinity
from pybernetes.scheduler.podinfo import PodInfo
from pybernetes.scheduler.runtime import Handle

HOST, ZONE = "kubernetes.io/hostname", "topology.kubernetes.io/zone"
AFF = "node(s) didn't match pod affinity rules"
ANTI = "node(s) didn't match pod anti-affinity rules"
EXISTING = "node(s) didn't satisfy existing pods anti-affinity rules"


def term(labels: dict, key: str = HOST, **extra) -> dict:
    return {"labelSelector": {"matchLabels": labels}, "topologyKey": key, **extra}


def affinity(*terms: dict, anti: bool = False) -> dict:
    kind = "podAntiAffinity" if anti else "podAffinity"
    return {kind: {"requiredDuringSchedulingIgnoredDuringExecution": list(terms)}}


def plugin(nodes, pods=(), namespaces=()) -> InterPodAffinity:
    return InterPodAffinity(Handle(snapshot=cache_with(nodes, list(pods)),
                                   listers=StaticListers(namespaces=namespaces)))


def verdicts(pl: InterPodAffinity, p: dict) -> dict[str, str | None]:
    state = state_for(p)
    _, st = pl.pre_filter(state, p)
    if st is SKIP:
        return {n.name: None for n in pl.handle.snapshot.node_list()}
    out = {}
    for n in pl.handle.snapshot.node_list():
        s = pl.filter(state, p, n)
        out[n.name] = None if s is None else s.reasons[0]
    return out


NODES = [node("n1", labels={ZONE: "z1"}), node("n2", labels={ZONE: "z1"}), node("n3", labels={ZONE: "z2"})]
SEC = {"service": "securityscan"}


@pytest.mark.parametrize(("incoming", "existing", "want"), [
    # affinity to a pod on n1, by hostname and by zone
    (pod(affinity=affinity(term(SEC))), [pod("e", node="n1", labels=SEC)], {"n1": None, "n2": AFF, "n3": AFF}),
    (pod(affinity=affinity(term(SEC, ZONE))), [pod("e", node="n1", labels=SEC)],
     {"n1": None, "n2": None, "n3": AFF}),
    # no pod matches, and the pod does not match its own terms
    (pod(affinity=affinity(term(SEC))), [], {"n1": AFF, "n2": AFF, "n3": AFF}),
    # the first pod of a group with affinity to itself may go anywhere with the topology key
    (pod(labels=SEC, affinity=affinity(term(SEC))), [], {"n1": None, "n2": None, "n3": None}),
    # pods in other namespaces do not count unless named
    (pod(affinity=affinity(term(SEC))), [pod("e", ns="other", node="n1", labels=SEC)],
     {"n1": AFF, "n2": AFF, "n3": AFF}),
    (pod(affinity=affinity(term(SEC, namespaces=["other"]))), [pod("e", ns="other", node="n1", labels=SEC)],
     {"n1": None, "n2": AFF, "n3": AFF}),
    # anti-affinity to pods in the same zone
    (pod(affinity=affinity(term(SEC, ZONE), anti=True)), [pod("e", node="n1", labels=SEC)],
     {"n1": ANTI, "n2": ANTI, "n3": None}),
    # an existing pod's anti-affinity keeps matching pods out of its domain
    (pod(labels=SEC), [pod("e", node="n2", affinity=affinity(term(SEC), anti=True))],
     {"n1": None, "n2": EXISTING, "n3": None}),
    (pod(labels={"other": "x"}), [pod("e", node="n2", affinity=affinity(term(SEC), anti=True))],
     {"n1": None, "n2": None, "n3": None}),
    # a node without the topology key fails required affinity
    (pod(affinity=affinity(term(SEC, "rack"))), [pod("e", node="n1", labels=SEC)],
     {"n1": AFF, "n2": AFF, "n3": AFF}),
])
def test_filter(incoming, existing, want):
    assert verdicts(plugin(NODES, existing), incoming) == want


def test_codes_and_skip():
    pl = plugin(NODES, [pod("e", node="n1", labels=SEC)])
    p = pod(affinity=affinity(term(SEC)))
    state = state_for(p)
    pl.pre_filter(state, p)
    assert pl.filter(state, p, pl.handle.snapshot.get("n2")).code == Code.UNRESOLVABLE
    q = pod(affinity=affinity(term(SEC), anti=True))
    state = state_for(q)
    pl.pre_filter(state, q)
    assert pl.filter(state, q, pl.handle.snapshot.get("n1")).code == Code.UNSCHEDULABLE
    plain = pod()
    assert pl.pre_filter(state_for(plain), plain)[1] is SKIP


def test_namespace_selector():
    namespaces = [{"metadata": {"name": "team-a", "labels": {"team": "a"}}},
                  {"metadata": {"name": "team-b", "labels": {"team": "b"}}}]
    existing = [pod("e1", ns="team-a", node="n1", labels=SEC), pod("e2", ns="team-b", node="n3", labels=SEC)]
    p = pod(affinity=affinity(term(SEC, namespaceSelector={"matchLabels": {"team": "a"}})))
    assert verdicts(plugin(NODES, existing, namespaces), p) == {"n1": None, "n2": AFF, "n3": AFF}
    everywhere = pod(affinity=affinity(term(SEC, namespaceSelector={})))
    assert verdicts(plugin(NODES, existing, namespaces), everywhere) == {"n1": None, "n2": AFF, "n3": None}


def test_add_and_remove_pod_update_the_state():
    pl = plugin(NODES, [pod("e", node="n1", labels=SEC)])
    p = pod(affinity=affinity(term(SEC), anti=True))
    state = state_for(p)
    pl.pre_filter(state, p)
    n1, n2 = pl.handle.snapshot.get("n1"), pl.handle.snapshot.get("n2")
    victim = next(iter(n1.pods.values()))
    copy = state.clone()
    pl.remove_pod(copy, p, victim, n1)
    assert pl.filter(copy, p, n1) is None
    assert pl.filter(state, p, n1).reasons == (ANTI,)         # the original state is untouched
    pl.add_pod(copy, p, PodInfo(pod("x", node="n2", labels=SEC)), n2)
    assert pl.filter(copy, p, n2).reasons == (ANTI,)


def preferred(*weighted: tuple[int, dict], anti: bool = False) -> dict:
    kind = "podAntiAffinity" if anti else "podAffinity"
    return {kind: {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": w, "podAffinityTerm": t} for w, t in weighted]}}


def scores(pl: InterPodAffinity, p: dict) -> list[int] | None:
    nodes = pl.handle.snapshot.node_list()
    state = state_for(p)
    if pl.pre_score(state, p, nodes) is SKIP:
        return None
    out = [pl.score(state, p, n) for n in nodes]
    pl.normalize_score(state, p, out)
    return out


def test_score_preferred_affinity_and_anti_affinity():
    existing = [pod("e1", node="n1", labels=SEC), pod("e2", node="n3", labels={"app": "db"})]
    pl = plugin(NODES, existing)
    assert scores(pl, pod(affinity=preferred((5, term(SEC, ZONE))))) == [100, 100, 0]
    assert scores(pl, pod(affinity=preferred((5, term(SEC, ZONE)), (10, term({"app": "db"}, ZONE))))) == \
        [0, 0, 100]
    assert scores(pl, pod(affinity=preferred((5, term(SEC)), anti=True))) == [0, 100, 100]
    assert scores(pl, pod()) is None                     # nothing to score


def test_score_symmetry_with_existing_pods_terms():
    existing = [pod("e1", node="n1", affinity=affinity(term(SEC))),
                pod("e2", node="n3", affinity=preferred((3, term(SEC)), anti=True))]
    pl = plugin(NODES, existing)
    # e1's required affinity (hard weight 1) pulls a matching pod to n1; e2's preferred anti-affinity pushes it
    # away from n3
    assert scores(pl, pod(labels=SEC)) == [100, 75, 0]
    assert scores(InterPodAffinity(pl.handle, ignore_preferred_terms_of_existing_pods=True), pod(labels=SEC)) \
        is None
