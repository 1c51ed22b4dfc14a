"""Every controller the controller manager can run, in start order. One line per controller."""

from __future__ import annotations

from pybernetes.controllers.base import Controller


def all_controllers() -> list[type[Controller]]:
    from pybernetes.controllers.clusterroleaggregation import ClusterRoleAggregationController
    from pybernetes.controllers.cronjob import CronJobController
    from pybernetes.controllers.daemonset import DaemonSetController
    from pybernetes.controllers.deployment import DeploymentController
    from pybernetes.controllers.disruption import DisruptionController
    from pybernetes.controllers.endpoints import EndpointsController
    from pybernetes.controllers.endpointslice import EndpointSliceController
    from pybernetes.controllers.garbagecollector import GarbageCollector
    from pybernetes.controllers.hpa import HorizontalPodAutoscalerController
    from pybernetes.controllers.job import JobController
    from pybernetes.controllers.namespace import NamespaceController
    from pybernetes.controllers.nodeipam import NodeIPAMController
    from pybernetes.controllers.nodelifecycle import NodeLifecycleController, TaintEvictionController
    from pybernetes.controllers.persistentvolume import PersistentVolumeController
    from pybernetes.controllers.podgc import PodGCController
    from pybernetes.controllers.replicaset import ReplicaSetController, ReplicationControllerController
    from pybernetes.controllers.rootcacert import RootCACertPublisher
    from pybernetes.controllers.serviceaccount import ServiceAccountController
    from pybernetes.controllers.statefulset import StatefulSetController
    from pybernetes.controllers.ttlafterfinished import TTLAfterFinishedController
    out: list[type[Controller]] = []
    # Each controller module is imported here by name; add one line per controller.
    out += [ReplicaSetController, ReplicationControllerController]
    out += [DeploymentController]
    out += [GarbageCollector, NamespaceController]
    out += [EndpointsController]
    out += [EndpointSliceController]
    out += [ServiceAccountController]
    out += [NodeLifecycleController, TaintEvictionController]
    out += [NodeIPAMController]
    out += [PersistentVolumeController]
    out += [DisruptionController]
    out += [ClusterRoleAggregationController]
    out += [StatefulSetController]
    out += [JobController, TTLAfterFinishedController]
    out += [CronJobController]
    out += [DaemonSetController]
    out += [PodGCController]
    out += [HorizontalPodAutoscalerController]
    out += [RootCACertPublisher]
    return out
