"""Node objects as the kubelet fills them."""

from __future__ import annotations

import pytest

from pybernetes.kubelet import nodestatus as ns
from pybernetes.kubelet.runtime.interface import ImageRef

HOST = ns.HostInfo(kernel_version="6.1.0", os_image="Debian GNU/Linux 12 (bookworm)", operating_system="linux",
                   architecture="amd64", boot_id="boot", container_runtime_version="sim://1.0.0",
                   kubelet_version="v1.33.4+pybernetes.0.1.0")


def test_identity_is_stable_and_unique() -> None:
    a, b = ns.simulated_identity("n-0", "198.18.0.1", HOST), ns.simulated_identity("n-1", "198.18.0.2", HOST)
    assert a == ns.simulated_identity("n-0", "198.18.0.1", HOST)
    assert len(a.machine_id) == 32 and len(a.system_uuid) == 36
    assert len({a.machine_id, b.machine_id}) == 2 and len({a.boot_id, b.boot_id}) == 2


def test_node_info_has_every_field_the_python_client_requires() -> None:
    info = ns.node_info(ns.simulated_identity("n", "198.18.0.1", HOST), HOST)
    assert set(info) == {"machineID", "systemUUID", "bootID", "kernelVersion", "osImage", "containerRuntimeVersion",
                         "kubeletVersion", "kubeProxyVersion", "operatingSystem", "architecture"}
    assert info["kubeProxyVersion"] == "" and info["kubeletVersion"].startswith("v1.33.")
    from kubernetes.client.models import V1NodeSystemInfo
    V1NodeSystemInfo.model_validate(info)


@pytest.mark.parametrize(("capacity", "cap", "alloc"), [
    ({"cpu": "8", "memory": "32Gi", "pods": "110"},
     {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"},
     {"cpu": "8", "memory": "32668Mi", "pods": "110", "ephemeral-storage": "90Gi"}),
    ({"memory": "50Mi", "ephemeral-storage": "1000"}, {"memory": "50Mi"}, {"memory": "0", "ephemeral-storage": "900"}),
])
def test_allocatable_subtracts_default_eviction_thresholds(capacity: dict, cap: dict, alloc: dict) -> None:
    c, a = ns.resources(capacity)
    assert {k: c[k] for k in cap} == cap
    assert {k: a[k] for k in alloc} == alloc
    assert c["hugepages-2Mi"] == a["hugepages-2Mi"] == "0"


def test_conditions_order_reasons_and_transition_times() -> None:
    first = ns.conditions(None, "T1")
    assert [c["type"] for c in first] == ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
    ready = first[-1]
    assert (ready["status"], ready["reason"], ready["message"]) == \
        ("True", "KubeletReady", "kubelet is posting ready status")
    assert first[0]["reason"] == "KubeletHasSufficientMemory"
    assert first[1]["message"] == "kubelet has no disk pressure"
    assert first[2]["message"] == "kubelet has sufficient PID available"
    later = ns.conditions(first, "T2")
    assert all(c["lastTransitionTime"] == "T1" and c["lastHeartbeatTime"] == "T2" for c in later)
    unknown = [dict(c, status="Unknown") if c["type"] == "Ready" else c for c in later]
    healed = ns.conditions(unknown, "T3")
    assert healed[-1]["lastTransitionTime"] == "T3" and healed[0]["lastTransitionTime"] == "T1"
    assert ns.transitions(unknown, healed) == ["Ready"]
    assert ns.transitions(None, first) == ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]


def test_status_changed_ignores_heartbeats_only() -> None:
    ident = ns.simulated_identity("n", "198.18.0.1", HOST)
    c, a = ns.resources({})
    s1 = ns.node_status(ident, HOST, capacity=c, allocatable=a, conds=ns.conditions(None, "T1"), image_list=[])
    s2 = ns.node_status(ident, HOST, capacity=c, allocatable=a, conds=ns.conditions(s1["conditions"], "T2"),
                        image_list=[])
    assert not ns.status_changed(s1, s2)
    s3 = ns.node_status(ident, HOST, capacity=c, allocatable=a, conds=s2["conditions"],
                        image_list=ns.images([ImageRef("docker.io/library/nginx:1", "docker.io/library/nginx@x", 9)]))
    assert ns.status_changed(s2, s3) and ns.status_changed(None, s1)


def test_full_node_validates_with_the_python_client() -> None:
    from kubernetes.client.models import V1Node
    ident = ns.simulated_identity("sim-0", "198.18.0.1", HOST)
    c, a = ns.resources({})
    status = ns.node_status(ident, HOST, capacity=c, allocatable=a, conds=ns.conditions(None, "2026-01-01T00:00:00Z"),
                            image_list=ns.images([ImageRef("docker.io/library/a:1", "docker.io/library/a@d", 5),
                                                  ImageRef("docker.io/library/b:1", "docker.io/library/b@d", 7)]))
    node = ns.initial_node(ident, HOST, labels={"zone": "a"}, status=status)
    assert node["metadata"]["labels"] == {
        "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": "sim-0", "kubernetes.io/os": "linux", "zone": "a"}
    assert status["addresses"] == [{"type": "InternalIP", "address": "198.18.0.1"},
                                   {"type": "Hostname", "address": "sim-0"}]
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert [i["sizeBytes"] for i in status["images"]] == [7, 5]
    node["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    V1Node.model_validate(node)
