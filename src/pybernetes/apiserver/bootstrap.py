"""Objects every cluster starts with: the system namespaces, the ``kubernetes`` Service, the system
PriorityClasses and the default RBAC policy (the Service's Endpoints are kept by ``endpoint_reconciler``).
Created idempotently at every start: existing objects are left alone."""

from __future__ import annotations

import logging
from typing import Any

from pybernetes.api.errors import AlreadyExists, NotFound
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
