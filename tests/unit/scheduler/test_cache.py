"""The node cache: sums kept by add/remove, assume before bind, forget on failure, confirm from the informer."""

from __future__ import annotations

from tests.unit.scheduler.builders import node, pod

from pybernetes.scheduler.cache import Cache, NodeInfo
from pybernetes.scheduler.podinfo import PodInfo


def test_node_info_sums_follow_pods():
    ni = NodeInfo(node(cpu="2", mem="4Gi", pods="3"))
    assert (ni.alloc_cpu, ni.alloc_mem, ni.alloc_pods) == (2000, 4 * 2**30, 3)
    a = PodInfo(pod("a", cpu="500m", mem="1Gi", node="n1"))
    b = PodInfo(pod("b", node="n1"))                      # best effort: non-zero defaults only
    ni.add_pod(a)
    ni.add_pod(b)
    assert (ni.req_cpu, ni.req_mem) == (500, 2**30)
    assert (ni.nz_cpu, ni.nz_mem) == (600, 2**30 + 200 * 2**20)
    assert (ni.free_cpu, ni.free_pods) == (1500, 1)
    assert ni.remove_pod(a.uid) is a and ni.remove_pod(a.uid) is None
    assert (ni.req_cpu, ni.nz_cpu, ni.free_pods) == (0, 100, 2)


def test_node_info_ports_and_clone():
    ni = NodeInfo(node())
    p = PodInfo(pod("a", node="n1", containers=[{"name": "c", "ports": [{"containerPort": 1, "hostPort": 80}]}]))
    ni.add_pod(p)
    assert ni.port_conflict("0.0.0.0", "TCP", 80)
    assert ni.port_conflict("10.1.1.1", "TCP", 80)      # bound on every address
    assert not ni.port_conflict("0.0.0.0", "UDP", 80)
    copy = ni.clone()
    copy.remove_pod(p.uid)
    assert not copy.port_conflict("0.0.0.0", "TCP", 80)
    assert ni.port_conflict("0.0.0.0", "TCP", 80) and p.uid in ni.pods


def test_assume_forget_and_confirm():
    cache = Cache()
    cache.add_node(node("n1", cpu="1"))
    p = pod("a", cpu="600m")
    assumed = PodInfo(p).with_node("n1")
    assert cache.assume_pod(assumed)
    assert not cache.assume_pod(assumed)                  # already known
    assert cache.is_assumed(assumed.uid) and cache.get("n1").req_cpu == 600
    cache.forget_pod(assumed.uid)
    assert cache.get("n1").req_cpu == 0 and not cache.is_assumed(assumed.uid)

    cache.assume_pod(assumed)
    bound = dict(p, spec=dict(p["spec"], nodeName="n1"))
    cache.add_pod(PodInfo(bound))                         # the informer confirms the binding
    assert not cache.is_assumed(assumed.uid)
    assert cache.get("n1").req_cpu == 600 and len(cache.get("n1").pods) == 1
    cache.forget_pod(assumed.uid)                         # not assumed any more: no effect
    assert cache.get("n1").req_cpu == 600


def test_confirm_on_another_node_moves_the_pod():
    cache = Cache()
    cache.add_node(node("n1"))
    cache.add_node(node("n2"))
    p = pod("a", cpu="1")
    cache.assume_pod(PodInfo(p).with_node("n1"))
    cache.add_pod(PodInfo(dict(p, spec=dict(p["spec"], nodeName="n2"))))
    assert cache.get("n1").req_cpu == 0 and cache.get("n2").req_cpu == 1000


def test_pods_before_their_node_and_node_removal():
    cache = Cache()
    p = PodInfo(pod("a", cpu="1", node="late"))
    cache.add_pod(p)
    assert cache.node_list() == [] and cache.get("late") is None
    cache.add_node(node("late"))
    assert [n.name for n in cache.node_list()] == ["late"] and cache.get("late").req_cpu == 1000
    cache.remove_node("late")
    assert cache.node_list() == []                         # its pod keeps a node-less NodeInfo
    cache.remove_pod(p.uid)
    assert cache.dump() == {"nodes": 0, "pods": 0, "assumed": 0}


def test_counters_for_prefilter_skips():
    cache = Cache()
    cache.add_node(node("a", unschedulable=True))
    cache.add_node(node("b", taints=[{"key": "k", "effect": "NoSchedule"}]))
    cache.add_node(node("c", taints=[{"key": "k", "effect": "PreferNoSchedule"}]))
    assert (cache.unschedulable_nodes, cache.no_schedule_tainted_nodes, cache.prefer_no_schedule_tainted_nodes) \
        == (1, 1, 1)
    cache.update_node(node("a"))
    cache.remove_node("b")
    assert (cache.unschedulable_nodes, cache.no_schedule_tainted_nodes) == (0, 0)


def test_affinity_node_lists():
    cache = Cache()
    cache.add_node(node("n1"))
    cache.add_node(node("n2"))
    anti = pod("a", node="n1", affinity={"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {}, "topologyKey": "kubernetes.io/hostname"}]}})
    cache.add_pod(PodInfo(anti))
    assert [n.name for n in cache.have_pods_with_affinity()] == ["n1"]
    assert [n.name for n in cache.have_pods_with_required_anti_affinity()] == ["n1"]
    cache.remove_pod(anti["metadata"]["uid"])
    assert cache.have_pods_with_affinity() == [] and cache.have_pods_with_required_anti_affinity() == []


def test_resource_key_names_the_resource_state():
    a, b = NodeInfo(node("a")), NodeInfo(node("b"))
    assert a.resource_key == b.resource_key
    p = PodInfo(pod("x", cpu="1", node="a"))
    a.add_pod(p)
    assert a.resource_key != b.resource_key
    b.add_pod(PodInfo(pod("y", cpu="1", node="b")))
    assert a.resource_key == b.resource_key
    a.remove_pod(p.uid)
    assert a.resource_key == NodeInfo(node("c")).resource_key
