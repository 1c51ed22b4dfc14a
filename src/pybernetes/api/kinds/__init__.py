"""Per-kind strategies of the built-in kinds, keyed by (group, kind); the core group is "".

One line per kind: import its strategy class and add ``(group, kind): Strategy()`` below.
"""

from __future__ import annotations

from pybernetes.api.kinds.config import ConfigMapStrategy, SecretStrategy, ServiceAccountStrategy
from pybernetes.api.kinds.endpoints import EndpointsStrategy
from pybernetes.api.kinds.event import EventStrategy
from pybernetes.api.kinds.namespace import NamespaceStrategy
from pybernetes.api.kinds.node import NodeStrategy
from pybernetes.api.kinds.pod import PodStrategy
from pybernetes.api.kinds.quota import LimitRangeStrategy, ResourceQuotaStrategy
from pybernetes.api.kinds.replication import BindingStrategy, PodTemplateStrategy, ReplicationControllerStrategy
from pybernetes.api.kinds.service import ServiceStrategy
from pybernetes.api.kinds.storage import PersistentVolumeClaimStrategy, PersistentVolumeStrategy
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
}
