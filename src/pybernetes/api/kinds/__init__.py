"""Per-kind strategies of the built-in kinds, keyed by (group, kind); the core group is "".

One line per kind: import its strategy class and add ``(group, kind): Strategy()`` below.
"""

from __future__ import annotations

from pybernetes.api.kinds.apiextensions import CustomResourceDefinitionStrategy
from pybernetes.api.kinds.apiregistration import APIServiceStrategy
from pybernetes.api.kinds.apps import ControllerRevisionStrategy
from pybernetes.api.kinds.autoscaling import HorizontalPodAutoscalerStrategy
from pybernetes.api.kinds.batch import JobStrategy
from pybernetes.api.kinds.config import ConfigMapStrategy, SecretStrategy, ServiceAccountStrategy
from pybernetes.api.kinds.coordination import LeaseStrategy
from pybernetes.api.kinds.cronjob import CronJobStrategy
from pybernetes.api.kinds.daemonset import DaemonSetStrategy
from pybernetes.api.kinds.deployment import DeploymentStrategy
from pybernetes.api.kinds.discovery import EndpointSliceStrategy
from pybernetes.api.kinds.endpoints import EndpointsStrategy
from pybernetes.api.kinds.event import EventStrategy
from pybernetes.api.kinds.events import EventsV1EventStrategy
from pybernetes.api.kinds.namespace import NamespaceStrategy
from pybernetes.api.kinds.networking import IngressClassStrategy, IngressStrategy, NetworkPolicyStrategy
from pybernetes.api.kinds.node import NodeStrategy
from pybernetes.api.kinds.pod import PodStrategy
from pybernetes.api.kinds.policy import PodDisruptionBudgetStrategy
from pybernetes.api.kinds.quota import LimitRangeStrategy, ResourceQuotaStrategy
from pybernetes.api.kinds.rbac import ClusterRoleBindingStrategy, ClusterRoleStrategy, RoleBindingStrategy, RoleStrategy
from pybernetes.api.kinds.replicaset import ReplicaSetStrategy
from pybernetes.api.kinds.replication import BindingStrategy, PodTemplateStrategy, ReplicationControllerStrategy
from pybernetes.api.kinds.scheduling import PriorityClassStrategy
from pybernetes.api.kinds.service import ServiceStrategy
from pybernetes.api.kinds.statefulset import StatefulSetStrategy
from pybernetes.api.kinds.storage import PersistentVolumeClaimStrategy, PersistentVolumeStrategy
from pybernetes.api.kinds.storage_k8s_io import (
    CSIDriverStrategy,
    CSINodeStrategy,
    StorageClassStrategy,
    VolumeAttachmentStrategy,
)
from pybernetes.api.strategy import Strategy

STRATEGIES: dict[tuple[str, str], Strategy] = {
    # core/v1
    ("", "Binding"): BindingStrategy(),
    ("", "ConfigMap"): ConfigMapStrategy(),
    ("", "Endpoints"): EndpointsStrategy(),
    ("", "Event"): EventStrategy(),
    ("", "LimitRange"): LimitRangeStrategy(),
    ("", "Namespace"): NamespaceStrategy(),
    ("", "Node"): NodeStrategy(),
    ("", "PersistentVolume"): PersistentVolumeStrategy(),
    ("", "PersistentVolumeClaim"): PersistentVolumeClaimStrategy(),
    ("", "Pod"): PodStrategy(),
    ("", "PodTemplate"): PodTemplateStrategy(),
    ("", "ReplicationController"): ReplicationControllerStrategy(),
    ("", "ResourceQuota"): ResourceQuotaStrategy(),
    ("", "Secret"): SecretStrategy(),
    ("", "Service"): ServiceStrategy(),
    ("", "ServiceAccount"): ServiceAccountStrategy(),
    # non-core groups
    ("apiextensions.k8s.io", "CustomResourceDefinition"): CustomResourceDefinitionStrategy(),
    ("apiregistration.k8s.io", "APIService"): APIServiceStrategy(),
    ("apps", "ControllerRevision"): ControllerRevisionStrategy(),
    ("apps", "DaemonSet"): DaemonSetStrategy(),
    ("apps", "Deployment"): DeploymentStrategy(),
    ("apps", "ReplicaSet"): ReplicaSetStrategy(),
    ("apps", "StatefulSet"): StatefulSetStrategy(),
    ("autoscaling", "HorizontalPodAutoscaler"): HorizontalPodAutoscalerStrategy(),
    ("batch", "CronJob"): CronJobStrategy(),
    ("batch", "Job"): JobStrategy(),
    ("coordination.k8s.io", "Lease"): LeaseStrategy(),
    ("discovery.k8s.io", "EndpointSlice"): EndpointSliceStrategy(),
    ("events.k8s.io", "Event"): EventsV1EventStrategy(),
    ("networking.k8s.io", "Ingress"): IngressStrategy(),
    ("networking.k8s.io", "IngressClass"): IngressClassStrategy(),
    ("networking.k8s.io", "NetworkPolicy"): NetworkPolicyStrategy(),
    ("policy", "PodDisruptionBudget"): PodDisruptionBudgetStrategy(),
    ("rbac.authorization.k8s.io", "ClusterRole"): ClusterRoleStrategy(),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): ClusterRoleBindingStrategy(),
    ("rbac.authorization.k8s.io", "Role"): RoleStrategy(),
    ("rbac.authorization.k8s.io", "RoleBinding"): RoleBindingStrategy(),
    ("scheduling.k8s.io", "PriorityClass"): PriorityClassStrategy(),
    ("storage.k8s.io", "CSIDriver"): CSIDriverStrategy(),
    ("storage.k8s.io", "CSINode"): CSINodeStrategy(),
    ("storage.k8s.io", "StorageClass"): StorageClassStrategy(),
    ("storage.k8s.io", "VolumeAttachment"): VolumeAttachmentStrategy(),
}
