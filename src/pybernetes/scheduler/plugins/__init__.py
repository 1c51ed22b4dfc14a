"""In-tree plugins: the registry (plugin name → factory) and the default profile (upstream
``plugins/registry.go`` and ``apis/config/v1/default_plugins.go``).

The default profile lists plugins in upstream's multi-point order — which is also the order filters run in — with
upstream's score weights: TaintToleration 3, NodeAffinity 2, PodTopologySpread 2, InterPodAffinity 2,
NodeResourcesFit 1, NodeResourcesBalancedAllocation 1. Of the volume plugins only VolumeBinding is here
(VolumeRestrictions, NodeVolumeLimits and VolumeZone are not); ImageLocality is not implemented.
"""

from __future__ import annotations

from pybernetes.scheduler.framework import PluginFactory
from pybernetes.scheduler.plugins import (
    balanced_allocation,
    default_binder,
    default_preemption,
    inter_pod_affinity,
    node_affinity,
    node_name,
    node_ports,
    node_resources_fit,
    node_unschedulable,
    pod_topology_spread,
    scheduling_gates,
    taint_toleration,
    volume_binding,
)
from pybernetes.scheduler.runtime import PluginSpec, Profile

DEFAULT_SCHEDULER_NAME = "default-scheduler"

IN_TREE: dict[str, PluginFactory] = {
    scheduling_gates.NAME: scheduling_gates.new,
    node_unschedulable.NAME: node_unschedulable.new,
    node_name.NAME: node_name.new,
    taint_toleration.NAME: taint_toleration.new,
    node_affinity.NAME: node_affinity.new,
    node_ports.NAME: node_ports.new,
    node_resources_fit.NAME: node_resources_fit.new,
    pod_topology_spread.NAME: pod_topology_spread.new,
    inter_pod_affinity.NAME: inter_pod_affinity.new,
    default_preemption.NAME: default_preemption.new,
    balanced_allocation.NAME: balanced_allocation.new,
    default_binder.NAME: default_binder.new,
    volume_binding.NAME: volume_binding.new,
}

DEFAULT_PLUGINS: tuple[PluginSpec, ...] = (
    PluginSpec(scheduling_gates.NAME),
    PluginSpec(node_unschedulable.NAME),
    PluginSpec(node_name.NAME),
    PluginSpec(taint_toleration.NAME, weight=3),
    PluginSpec(node_affinity.NAME, weight=2),
    PluginSpec(node_ports.NAME),
    PluginSpec(node_resources_fit.NAME, weight=1),
    PluginSpec(volume_binding.NAME),
    PluginSpec(pod_topology_spread.NAME, weight=2),
    PluginSpec(inter_pod_affinity.NAME, weight=2),
    PluginSpec(default_preemption.NAME),
    PluginSpec(balanced_allocation.NAME, weight=1),
    PluginSpec(default_binder.NAME),
)


def default_profile(scheduler_name: str = DEFAULT_SCHEDULER_NAME, *, percentage_of_nodes_to_score: int = 0) -> Profile:
    return Profile(scheduler_name=scheduler_name, plugins=DEFAULT_PLUGINS,
                   percentage_of_nodes_to_score=percentage_of_nodes_to_score)
