"""Addresses of the resources components use (group, version, plural, namespaced)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ResourceRef:
    group: str
    version: str
    plural: str
    namespaced: bool
    kind: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base


PODS = ResourceRef("", "v1", "pods", True, "Pod")
NODES = ResourceRef("", "v1", "nodes", False, "Node")
NAMESPACES = ResourceRef("", "v1", "namespaces", False, "Namespace")
SERVICES = ResourceRef("", "v1", "services", True, "Service")
ENDPOINTS = ResourceRef("", "v1", "endpoints", True, "Endpoints")
EVENTS = ResourceRef("", "v1", "events", True, "Event")
CONFIGMAPS = ResourceRef("", "v1", "configmaps", True, "ConfigMap")
SECRETS = ResourceRef("", "v1", "secrets", True, "Secret")
SERVICEACCOUNTS = ResourceRef("", "v1", "serviceaccounts", True, "ServiceAccount")
PVS = ResourceRef("", "v1", "persistentvolumes", False, "PersistentVolume")
PVCS = ResourceRef("", "v1", "persistentvolumeclaims", True, "PersistentVolumeClaim")
RCS = ResourceRef("", "v1", "replicationcontrollers", True, "ReplicationController")
RESOURCEQUOTAS = ResourceRef("", "v1", "resourcequotas", True, "ResourceQuota")
LIMITRANGES = ResourceRef("", "v1", "limitranges", True, "LimitRange")
DEPLOYMENTS = ResourceRef("apps", "v1", "deployments", True, "Deployment")
REPLICASETS = ResourceRef("apps", "v1", "replicasets", True, "ReplicaSet")
STATEFULSETS = ResourceRef("apps", "v1", "statefulsets", True, "StatefulSet")
DAEMONSETS = ResourceRef("apps", "v1", "daemonsets", True, "DaemonSet")
CONTROLLERREVISIONS = ResourceRef("apps", "v1", "controllerrevisions", True, "ControllerRevision")
JOBS = ResourceRef("batch", "v1", "jobs", True, "Job")
CRONJOBS = ResourceRef("batch", "v1", "cronjobs", True, "CronJob")
LEASES = ResourceRef("coordination.k8s.io", "v1", "leases", True, "Lease")
ENDPOINTSLICES = ResourceRef("discovery.k8s.io", "v1", "endpointslices", True, "EndpointSlice")
PDBS = ResourceRef("policy", "v1", "poddisruptionbudgets", True, "PodDisruptionBudget")
HPAS = ResourceRef("autoscaling", "v2", "horizontalpodautoscalers", True, "HorizontalPodAutoscaler")
STORAGECLASSES = ResourceRef("storage.k8s.io", "v1", "storageclasses", False, "StorageClass")
PRIORITYCLASSES = ResourceRef("scheduling.k8s.io", "v1", "priorityclasses", False, "PriorityClass")
CLUSTERROLES = ResourceRef("rbac.authorization.k8s.io", "v1", "clusterroles", False, "ClusterRole")
NETWORKPOLICIES = ResourceRef("networking.k8s.io", "v1", "networkpolicies", True, "NetworkPolicy")
