"""The scheduler against a real server, driven with the real kubectl: binding, events, FailedScheduling messages
and the PodScheduled condition, node selection (selectors, taints, cordon, anti-affinity), requeueing when a
node appears, and preemption with PriorityClasses.

The server runs without an agent; tests create Node objects themselves (a Node with allocatable and a Ready
condition is all the scheduler needs) and delete them afterwards, so each test sees only its own nodes. With no
kubelet, a gracefully deleted pod that was bound to a node stays Terminating: the preemption test force-deletes
the victim, as the kubelet would once it stopped the containers.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.harness import Server, start_server

pytestmark = pytest.mark.integration
TIMEOUT = 30.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(pathlib.Path(tmp_path_factory.mktemp("sched")))
    yield srv
    srv.stop()


@pytest.fixture()
def ns(server: Server, request: pytest.FixtureRequest) -> Iterator[str]:
    slug = "".join(c if c.isalnum() else "-" for c in request.node.name.lower().removeprefix("test_"))
    name = f"s-{slug[:30].strip('-')}-{hashlib.sha1(request.node.name.encode()).hexdigest()[:5]}"
    server.create_namespace(name)      # with its default ServiceAccount and kube-root-ca.crt
    yield name
    server.kubectl("-n", name, "delete", "pods", "--all", "--grace-period=0", "--force", "--wait=false",
                   check=False)
    server.kubectl("delete", "nodes", "-l", f"test-ns={name}", "--wait=false", check=False)


def wait_for(fn: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def make_node(server: Server, ns: str, name: str, *, cpu: str = "2", labels: dict[str, str] | None = None,
              taints: list[dict[str, str]] | None = None) -> str:
    node = {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "test-ns": ns, **(labels or {})}},
            "spec": {"taints": taints} if taints else {},
            "status": {"capacity": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
                       "allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}}
    server.kubectl("create", "-f", "-", input=json.dumps(node))
    return name


def make_pod(server: Server, ns: str, name: str, *, cpu: str = "100m", **spec: Any) -> None:
    container = {"name": "c", "image": "busybox", "resources": {"requests": {"cpu": cpu}}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": spec.pop("labels", {})},
           "spec": {"containers": [container], **spec}}
    server.kubectl("-n", ns, "create", "-f", "-", input=json.dumps(pod))


def get(server: Server, ns: str, kind: str, name: str) -> dict[str, Any]:
    return json.loads(server.kubectl("-n", ns, "get", kind, name, "-o", "json").stdout)


def maybe_get(server: Server, ns: str, kind: str, name: str) -> dict[str, Any] | None:
    p = server.kubectl("-n", ns, "get", kind, name, "-o", "json", check=False)
    return json.loads(p.stdout) if p.returncode == 0 else None


def node_of(server: Server, ns: str, pod: str) -> str:
    obj = maybe_get(server, ns, "pod", pod)
    return obj["spec"].get("nodeName", "") if obj else ""


def events(server: Server, ns: str, pod: str, reason: str) -> list[str]:
    out = json.loads(server.kubectl("-n", ns, "get", "events", "--field-selector",
                                    f"involvedObject.name={pod},reason={reason}", "-o", "json").stdout)
    return [e["message"] for e in out["items"]]


def scheduled_condition(server: Server, ns: str, pod: str) -> dict[str, Any] | None:
    conds = get(server, ns, "pod", pod).get("status", {}).get("conditions") or []
    return next((c for c in conds if c["type"] == "PodScheduled"), None)


def test_pod_is_bound_and_the_event_recorded(server: Server, ns: str) -> None:
    make_node(server, ns, f"{ns}-a")
    make_node(server, ns, f"{ns}-b")
    server.kubectl("-n", ns, "run", "web", "--image=nginx")
    node = wait_for(lambda: node_of(server, ns, "web"), "web to be bound")
    assert node in (f"{ns}-a", f"{ns}-b")
    assert wait_for(lambda: events(server, ns, "web", "Scheduled"), "the Scheduled event") == [
        f"Successfully assigned {ns}/web to {node}"]
    cond = wait_for(lambda: scheduled_condition(server, ns, "web"), "PodScheduled")
    assert cond["status"] == "True"
    wide = server.kubectl("-n", ns, "get", "pod", "web", "-o", "wide").stdout
    assert node in wide


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_insufficient_cpu_then_a_bigger_node(server: Server, ns: str, version: str) -> None:
    for i in range(3):
        make_node(server, ns, f"{ns}-{i}", cpu="1")
    make_pod(server, ns, "big", cpu="2")
    msg = ("0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption "
           "victims found for incoming pod.")
    assert msg in wait_for(lambda: events(server, ns, "big", "FailedScheduling"), "FailedScheduling")
    cond = scheduled_condition(server, ns, "big")
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", msg)
    described = server.kubectl("-n", ns, "describe", "pod", "big", version=version).stdout
    assert "FailedScheduling" in described and "0/3 nodes are available: 3 Insufficient cpu." in described
    # a node that fits moves the pod out of the unschedulable queue at once
    make_node(server, ns, f"{ns}-large", cpu="4")
    assert wait_for(lambda: node_of(server, ns, "big"), "big to be bound") == f"{ns}-large"


def test_selectors_taints_and_cordon(server: Server, ns: str) -> None:
    make_node(server, ns, f"{ns}-ssd", labels={"disk": "ssd"})
    make_node(server, ns, f"{ns}-gpu", labels={"disk": "ssd"},
              taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
    make_node(server, ns, f"{ns}-hdd", labels={"disk": "hdd"})
    server.kubectl("cordon", f"{ns}-hdd")
    make_pod(server, ns, "wants-ssd", nodeSelector={"disk": "ssd"})
    assert wait_for(lambda: node_of(server, ns, "wants-ssd"), "wants-ssd") == f"{ns}-ssd"
    make_pod(server, ns, "tolerant", nodeSelector={"disk": "ssd"}, cpu="1900m",
             tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}])
    assert wait_for(lambda: node_of(server, ns, "tolerant"), "tolerant") == f"{ns}-gpu"
    make_pod(server, ns, "nowhere", nodeSelector={"disk": "nvme"})
    msg = ("0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had "
           "untolerated taint {dedicated: gpu}, 1 node(s) were unschedulable. preemption: 0/3 nodes are "
           "available: 3 Preemption is not helpful for scheduling.")
    assert wait_for(lambda: events(server, ns, "nowhere", "FailedScheduling"), "nowhere's event") == [msg]
    server.kubectl("uncordon", f"{ns}-hdd")
    make_pod(server, ns, "anywhere", cpu="1900m")
    assert wait_for(lambda: node_of(server, ns, "anywhere"), "anywhere") == f"{ns}-hdd"


def test_required_anti_affinity(server: Server, ns: str) -> None:
    make_node(server, ns, f"{ns}-a")
    make_node(server, ns, f"{ns}-b")
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "solo"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    for i in range(3):
        make_pod(server, ns, f"solo-{i}", labels={"app": "solo"}, affinity=anti)
    nodes = {wait_for(lambda i=i: node_of(server, ns, f"solo-{i}"), f"solo-{i}") for i in range(2)}
    assert nodes == {f"{ns}-a", f"{ns}-b"}
    msg = ("0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules. preemption: 0/2 nodes are "
           "available: 2 No preemption victims found for incoming pod.")
    assert wait_for(lambda: events(server, ns, "solo-2", "FailedScheduling"), "solo-2's event") == [msg]
    server.kubectl("-n", ns, "delete", "pod", "solo-0", "--grace-period=0", "--force")
    assert wait_for(lambda: node_of(server, ns, "solo-2"), "solo-2 after solo-0 left")


def test_other_schedulers_pods_are_left_alone(server: Server, ns: str) -> None:
    make_node(server, ns, f"{ns}-a")
    make_pod(server, ns, "theirs", schedulerName="my-scheduler")
    make_pod(server, ns, "ours")
    wait_for(lambda: node_of(server, ns, "ours"), "ours")
    assert node_of(server, ns, "theirs") == "" and events(server, ns, "theirs", "FailedScheduling") == []


def test_preemption_with_priority_classes(server: Server, ns: str) -> None:
    for name, value in ((f"{ns}-low", 100), (f"{ns}-high", 1000)):
        server.kubectl("create", "priorityclass", name, f"--value={value}")
    try:
        make_node(server, ns, f"{ns}-n")
        make_pod(server, ns, "low-1", cpu="1", priorityClassName=f"{ns}-low")
        make_pod(server, ns, "low-2", cpu="1", priorityClassName=f"{ns}-low")
        for p in ("low-1", "low-2"):
            wait_for(lambda p=p: node_of(server, ns, p), p)
        make_pod(server, ns, "high", cpu="1", priorityClassName=f"{ns}-high")
        assert get(server, ns, "pod", "high")["spec"]["priority"] == 1000
        status = wait_for(lambda: get(server, ns, "pod", "high")["status"].get("nominatedNodeName") and
                          get(server, ns, "pod", "high")["status"], "the nomination")
        assert status["nominatedNodeName"] == f"{ns}-n"
        assert "0/1 nodes are available: 1 Insufficient cpu." in events(server, ns, "high", "FailedScheduling")

        def victims() -> list[dict[str, Any]]:
            pods = [get(server, ns, "pod", p) for p in ("low-1", "low-2")]
            return [p for p in pods if p["metadata"].get("deletionTimestamp")]

        (victim,) = wait_for(victims, "a victim being deleted")
        name = victim["metadata"]["name"]
        cond = next(c for c in victim["status"]["conditions"] if c["type"] == "DisruptionTarget")
        assert (cond["status"], cond["reason"]) == ("True", "PreemptionByScheduler")
        uid = get(server, ns, "pod", "high")["metadata"]["uid"]
        assert wait_for(lambda: events(server, ns, name, "Preempted"), "the Preempted event") == [
            f"Preempted by pod {uid} on node {ns}-n"]
        server.kubectl("-n", ns, "delete", "pod", name, "--grace-period=0", "--force")    # what the kubelet does
        assert wait_for(lambda: node_of(server, ns, "high"), "high to be bound") == f"{ns}-n"
        nominated = server.kubectl("-n", ns, "get", "pods", "-o", "wide").stdout
        assert "high" in nominated
    finally:
        server.kubectl("delete", "priorityclass", f"{ns}-low", f"{ns}-high", check=False)


def test_leader_election_lease(server: Server, ns: str) -> None:
    lease = json.loads(server.kubectl("-n", "kube-system", "get", "lease", "kube-scheduler", "-o", "json").stdout)
    assert lease["spec"]["holderIdentity"] and lease["spec"]["leaseDurationSeconds"] == 15


STATEFULSET = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 2
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: c, image: busybox, resources: {requests: {cpu: 100m}}, volumeMounts: [{name: data, mountPath: /d}]}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
"""


def test_statefulset_pod_returns_to_its_volumes_node(server: Server, ns: str) -> None:
    make_node(server, ns, f"{ns}-a")
    make_node(server, ns, f"{ns}-b")
    server.kubectl("-n", ns, "apply", "-f", "-", input=STATEFULSET)
    first = {p: wait_for(lambda p=p: node_of(server, ns, p), f"{p} to be bound", 60) for p in ("web-0", "web-1")}

    def claim_bound() -> dict[str, Any] | None:
        pvc = maybe_get(server, ns, "pvc", "data-web-0")
        return pvc if pvc and pvc.get("status", {}).get("phase") == "Bound" else None

    pvc = wait_for(claim_bound, "data-web-0 to be bound", 60)
    assert pvc["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == first["web-0"]
    pv = json.loads(server.kubectl("get", "pv", pvc["spec"]["volumeName"], "-o", "json").stdout)
    terms = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == [first["web-0"]]
    # the replacement pod must go back to the node that has its volume, although a busy node scores worse
    make_pod(server, ns, "filler", cpu="1500m", nodeName=first["web-0"])
    uid = get(server, ns, "pod", "web-0")["metadata"]["uid"]
    server.kubectl("-n", ns, "delete", "pod", "web-0", "--grace-period=0", "--force")
    wait_for(lambda: (maybe_get(server, ns, "pod", "web-0") or {"metadata": {"uid": uid}})["metadata"]["uid"] != uid,
             "a new web-0", 60)
    assert wait_for(lambda: node_of(server, ns, "web-0"), "the new web-0 to be bound", 60) == first["web-0"]
