"""Tables of core/v1 kinds (other than Pod and Event): columns and cells as upstream printers.go."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pybernetes.api.tables.core import PRINTERS, access_modes, endpoints_cell, service_external_ip

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
META = {"name": "x", "namespace": "default", "creationTimestamp": "2025-03-01T09:00:00Z"}   # 3h old


def obj(**fields: Any) -> dict[str, Any]:
    return {"metadata": dict(META), **fields}


def cells(kind: str, o: dict[str, Any]) -> list[Any]:
    return PRINTERS[("", kind)].cells(o, NOW)


def names(kind: str) -> list[tuple[str, int]]:
    return [(c["name"], c["priority"]) for c in PRINTERS[("", kind)].columns]


def svc(type_: str | None, **spec: Any) -> dict[str, Any]:
    s = {"clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.10"], **spec}
    if type_ is not None:
        s["type"] = type_
    return obj(spec=s)


@pytest.mark.parametrize(("service", "want"), [
    (svc("ClusterIP"), "<none>"),
    (svc("ClusterIP", externalIPs=["1.2.3.4", "5.6.7.8"]), "1.2.3.4,5.6.7.8"),
    (svc("NodePort"), "<none>"),
    (svc("LoadBalancer"), "<pending>"),
    ({**svc("LoadBalancer"), "status": {"loadBalancer": {"ingress": [{"ip": "192.168.1.20"}, {"hostname": "lb.example"},
                                                                     {"ip": "192.168.1.10"}]}}},
     "192.168.1.10,192.168.1.20,lb.example"),
    ({**svc("LoadBalancer", externalIPs=["9.9.9.9"]), "status": {"loadBalancer": {"ingress": [{"ip": "1.1.1.1"}]}}},
     "1.1.1.1,9.9.9.9"),
    (svc("LoadBalancer", externalIPs=["9.9.9.9"]), "9.9.9.9"),
    (svc("ExternalName", externalName="db.example.com"), "db.example.com"),
    (svc(None), "<unknown>"),
])
def test_service_external_ip(service: dict[str, Any], want: str) -> None:
    assert service_external_ip(service) == want


def test_service_row() -> None:
    s = svc("NodePort", ports=[{"port": 80, "nodePort": 30080, "protocol": "TCP"},
                               {"port": 53, "protocol": "UDP"}], selector={"app": "web", "tier": "a"})
    assert cells("Service", s) == ["x", "NodePort", "10.43.0.10", "<none>", "80:30080/TCP,53/UDP", "3h",
                                   "app=web,tier=a"]
    headless = obj(spec={"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"]})
    assert cells("Service", headless) == ["x", "ClusterIP", "None", "<none>", "<none>", "3h", "<none>"]
    assert cells("Service", obj(spec={"type": "ExternalName", "externalName": "a.b"}))[2] == "<none>"
    assert names("Service") == [("Name", 0), ("Type", 0), ("Cluster-IP", 0), ("External-IP", 0), ("Port(s)", 0),
                                ("Age", 0), ("Selector", 1)]


def subset(ips: list[str], ports: list[int]) -> dict[str, Any]:
    return {"addresses": [{"ip": ip} for ip in ips], "ports": [{"port": p, "protocol": "TCP"} for p in ports]}


@pytest.mark.parametrize(("subsets", "want"), [
    ([], "<none>"),
    ([subset(["10.42.0.5"], [80])], "10.42.0.5:80"),
    ([subset(["10.42.0.5", "10.42.0.6"], [80, 443])], "10.42.0.5:80,10.42.0.6:80,10.42.0.5:443 + 1 more..."),
    ([subset(["10.42.0.5", "10.42.0.6", "10.42.0.7", "10.42.0.8", "10.42.0.9", "10.42.1.1"], [80])],
     "10.42.0.5:80,10.42.0.6:80,10.42.0.7:80 + 3 more..."),
    ([subset(["fd00::5"], [8080])], "[fd00::5]:8080"),
    ([{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}]}], "10.0.0.1,10.0.0.2"),
    ([{"notReadyAddresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}], ""),
    ([subset(["10.0.0.1"], [80]), subset(["10.0.0.2", "10.0.0.3", "10.0.0.4"], [81])],
     "10.0.0.1:80,10.0.0.2:81,10.0.0.3:81 + 1 more..."),
])
def test_endpoints(subsets: list[dict[str, Any]], want: str) -> None:
    assert endpoints_cell({"subsets": subsets}) == want
    assert cells("Endpoints", obj(subsets=subsets)) == ["x", want, "3h"]


def node(**status: Any) -> dict[str, Any]:
    n = obj(status={"nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian GNU/Linux 12 (bookworm)",
                                 "kernelVersion": "6.1.0", "containerRuntimeVersion": "pybernetes://0.1.0"},
                    "addresses": [{"type": "InternalIP", "address": "10.0.0.4"}, {"type": "Hostname",
                                                                                  "address": "x"}],
                    **status})
    del n["metadata"]["namespace"]
    return n


@pytest.mark.parametrize(("o", "status", "roles"), [
    (node(conditions=[{"type": "Ready", "status": "True"}]), "Ready", "<none>"),
    (node(conditions=[{"type": "Ready", "status": "False"}]), "NotReady", "<none>"),
    (node(conditions=[{"type": "Ready", "status": "Unknown"}]), "NotReady", "<none>"),
    (node(conditions=[{"type": "MemoryPressure", "status": "False"}]), "Unknown", "<none>"),
    (node(), "Unknown", "<none>"),
    ({**node(conditions=[{"type": "Ready", "status": "True"}]), "spec": {"unschedulable": True}},
     "Ready,SchedulingDisabled", "<none>"),
])
def test_node_status(o: dict[str, Any], status: str, roles: str) -> None:
    assert cells("Node", o)[1:3] == [status, roles]


@pytest.mark.parametrize(("labels", "want"), [
    ({"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": "true"},
     "control-plane,master"),
    ({"kubernetes.io/role": "worker", "node-role.kubernetes.io/etcd": ""}, "etcd,worker"),
    ({"kubernetes.io/role": ""}, "<none>"),
    ({"node-role.kubernetes.io/": "x", "app": "y"}, "<none>"),
])
def test_node_roles(labels: dict[str, str], want: str) -> None:
    n = node()
    n["metadata"]["labels"] = labels
    assert cells("Node", n)[2] == want


def test_node_row() -> None:
    assert cells("Node", node(conditions=[{"type": "Ready", "status": "True"}])) == [
        "x", "Ready", "<none>", "3h", "v1.33.0", "10.0.0.4", "<none>", "Debian GNU/Linux 12 (bookworm)", "6.1.0",
        "pybernetes://0.1.0"]
    assert cells("Node", obj(status={}))[4:] == ["", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"]
    assert names("Node") == [("Name", 0), ("Status", 0), ("Roles", 0), ("Age", 0), ("Version", 0),
                             ("Internal-IP", 1), ("External-IP", 1), ("OS-Image", 1), ("Kernel-Version", 1),
                             ("Container-Runtime", 1)]


@pytest.mark.parametrize(("kind", "o", "want"), [
    ("Namespace", obj(status={"phase": "Active"}), ["x", "Active", "3h"]),
    ("Namespace", obj(status={"phase": "Terminating"}), ["x", "Terminating", "3h"]),
    ("Secret", obj(type="kubernetes.io/tls", data={"tls.crt": "", "tls.key": ""}), ["x", "kubernetes.io/tls", 2, "3h"]),
    ("Secret", obj(type="Opaque"), ["x", "Opaque", 0, "3h"]),
    ("ServiceAccount", obj(secrets=[{"name": "t"}]), ["x", 1, "3h"]),
    ("ServiceAccount", obj(), ["x", 0, "3h"]),
    ("ConfigMap", obj(data={"a": "1", "b": "2"}, binaryData={"c": "AA=="}), ["x", 3, "3h"]),
    ("PodTemplate", obj(template={"metadata": {"labels": {"b": "2", "a": "1"}},
                                  "spec": {"containers": [{"name": "web", "image": "nginx"},
                                                          {"name": "log", "image": "busybox"}]}}),
     ["x", "web,log", "nginx,busybox", "a=1,b=2"]),
    ("PodTemplate", obj(template={}), ["x", "", "", "<none>"]),
    ("ReplicationController", obj(spec={"replicas": 3, "selector": {"app": "web"},
                                        "template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}},
                                  status={"replicas": 3, "readyReplicas": 2}),
     ["x", 3, 3, 2, "3h", "web", "nginx", "app=web"]),
    ("ReplicationController", obj(spec={}), ["x", 0, 0, 0, "3h", "", "", "<none>"]),
])
def test_simple_kinds(kind: str, o: dict[str, Any], want: list[Any]) -> None:
    assert cells(kind, o) == want


@pytest.mark.parametrize(("modes", "want"), [
    (["ReadWriteOnce"], "RWO"),
    (["ReadWriteMany", "ReadOnlyMany", "ReadWriteOnce", "ReadWriteOnce"], "RWO,ROX,RWX"),
    (["ReadWriteOncePod"], "RWOP"),
    ([], ""),
    (None, ""),
])
def test_access_modes(modes: list[str] | None, want: str) -> None:
    assert access_modes(modes) == want


def test_persistent_volume() -> None:
    pv = obj(spec={"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"],
                   "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "local-path",
                   "claimRef": {"namespace": "default", "name": "data"}, "volumeMode": "Filesystem"},
             status={"phase": "Bound"})
    assert cells("PersistentVolume", pv) == ["x", "10Gi", "RWO", "Retain", "Bound", "default/data", "local-path",
                                             "<unset>", "", "3h", "Filesystem"]
    pv["metadata"]["deletionTimestamp"] = "2025-03-01T11:00:00Z"
    pv["metadata"]["annotations"] = {"volume.beta.kubernetes.io/storage-class": "old"}
    pv["spec"]["volumeAttributesClassName"] = "gold"
    pv["spec"]["capacity"]["storage"] = "1500Mi"
    pv["status"]["reason"] = "Why"
    assert cells("PersistentVolume", pv) == ["x", "1500Mi", "RWO", "Retain", "Terminating", "default/data", "old",
                                             "gold", "Why", "3h", "Filesystem"]
    assert cells("PersistentVolume", obj(spec={}))[1:] == ["0", "", "", "", "", "", "<unset>", "", "3h", "<unset>"]
    assert [c["name"] for c in PRINTERS[("", "PersistentVolume")].columns] == [
        "Name", "Capacity", "Access Modes", "Reclaim Policy", "Status", "Claim", "StorageClass",
        "VolumeAttributesClass", "Reason", "Age", "VolumeMode"]


def test_persistent_volume_claim() -> None:
    pending = obj(spec={"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                        "storageClassName": "local-path", "volumeMode": "Filesystem"}, status={"phase": "Pending"})
    assert cells("PersistentVolumeClaim", pending) == ["x", "Pending", "", "", "", "local-path", "<unset>", "3h",
                                                       "Filesystem"]
    bound = obj(spec={**pending["spec"], "volumeName": "pvc-123"},
                status={"phase": "Bound", "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
                        "capacity": {"storage": "2048Mi"}})
    assert cells("PersistentVolumeClaim", bound) == ["x", "Bound", "pvc-123", "2Gi", "RWO,ROX", "local-path",
                                                     "<unset>", "3h", "Filesystem"]
    no_class = obj(spec={}, status={})
    assert cells("PersistentVolumeClaim", no_class) == ["x", "", "", "", "", "", "<unset>", "3h", "<unset>"]


def test_resource_quota() -> None:
    q = obj(status={"hard": {"pods": "10", "requests.cpu": "2", "limits.memory": "2Gi", "limits.cpu": "4",
                             "requests.memory": "1024Mi"},
                    "used": {"pods": "3", "requests.cpu": "500m", "limits.cpu": "0", "requests.memory": "0.5Gi"}})
    assert cells("ResourceQuota", q) == [
        "x", "pods: 3/10, requests.cpu: 500m/2, requests.memory: 512Mi/1Gi", "limits.cpu: 0/4, limits.memory: 0/2Gi",
        "3h"]
    assert cells("ResourceQuota", obj()) == ["x", "", "", "3h"]


def test_limit_range_has_no_printer() -> None:
    assert ("", "LimitRange") not in PRINTERS
