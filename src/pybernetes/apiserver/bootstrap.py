"""Objects every cluster starts with: the system namespaces, the ``kubernetes`` Service, the ``kube-dns`` Service,
the system PriorityClasses and the default RBAC policy (the ``kubernetes`` Endpoints are kept by
``endpoint_reconciler``; ``kube-dns`` has no selector: each real node publishes its own DNS server as an
EndpointSlice, see ``pybernetes.dns.publish``).
Created idempotently at every start: existing objects are left alone."""

from __future__ import annotations

import logging
from typing import Any

from pybernetes.api.errors import AlreadyExists, APIError, NotFound
from pybernetes.apiserver.authn import UserInfo
from pybernetes.apiserver.options import WriteOptions
from pybernetes.apiserver.registry import GenericREST

log = logging.getLogger(__name__)

SYSTEM_USER = UserInfo("system:apiserver", groups=("system:masters", "system:authenticated"))
NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


async def ensure(rest: GenericREST, group: str, version: str, plural: str, ns: str, obj: dict[str, Any]) -> None:
    res = rest.state.resources.get(group, version, plural)
    assert res is not None, plural
    try:
        await rest.get(res, ns, obj["metadata"]["name"])
        return
    except NotFound:
        pass
    try:
        await rest.create(res, ns, obj, opts=WriteOptions(field_manager="pybernetes-apiserver"), user=SYSTEM_USER)
    except AlreadyExists:
        pass


def kube_dns_service(cluster_ip: str) -> dict[str, Any]:
    """The cluster DNS Service at ``--cluster-dns`` (k3s/kubeadm's name, labels and ports)."""
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": "kube-system",
                         "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
                                    "kubernetes.io/name": "CoreDNS"}},
            "spec": {"type": "ClusterIP", "clusterIP": cluster_ip, "clusterIPs": [cluster_ip],
                     "sessionAffinity": "None",
                     "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                               {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                               {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}]}}


async def run(rest: GenericREST, *, service_ip: str, endpoint_port: int) -> None:
    for ns in NAMESPACES:
        await ensure(rest, "", "v1", "namespaces", "", {"apiVersion": "v1", "kind": "Namespace",
                                                         "metadata": {"name": ns}})
    await ensure(rest, "", "v1", "services", "default", {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": service_ip, "sessionAffinity": "None",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": endpoint_port}]}})
    try:
        await ensure(rest, "", "v1", "services", "kube-system", kube_dns_service(rest.state.config.cluster_dns))
    except APIError as e:           # e.g. a --cluster-dns outside the service CIDR: serve without cluster DNS
        log.error("cannot create the kube-dns Service", extra={"cluster_dns": rest.state.config.cluster_dns,
                                                               "error": str(e)})
    from pybernetes.apiserver.bootstrap_rbac import cluster_role_bindings, cluster_roles
    for role in cluster_roles():
        await ensure(rest, "rbac.authorization.k8s.io", "v1", "clusterroles", "", role)
    for binding in cluster_role_bindings():
        await ensure(rest, "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "", binding)
    for name, value in (("system-cluster-critical", 2000000000), ("system-node-critical", 2000001000)):
        await ensure(rest, "scheduling.k8s.io", "v1", "priorityclasses", "", {
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
            "value": value, "description": "Used for system critical pods that must not be moved from their "
            "current node." if name == "system-node-critical" else "Used for system critical pods that must run in "
            "the cluster, but can be moved to another node if necessary.", "preemptionPolicy": "PreemptLowerPriority"})
