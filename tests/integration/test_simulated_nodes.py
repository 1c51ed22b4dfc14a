"""Simulated nodes end to end: a real server, ``pybernetes agent --simulated 3`` as a separate process, and the
real kubectl and Python client looking at what the agent reports.

The server runs without a scheduler, so the test binds pods itself through ``pods/binding``, as a scheduler would.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.harness import Server, start_server

pytestmark = pytest.mark.integration

NODES = ("it-sim-0", "it-sim-1", "it-sim-2")
NS = "default"


@dataclass
class Cluster:
    server: Server
    agent: subprocess.Popen[bytes]
    agent_log: pathlib.Path
    api: client.ApiClient

    def kubectl(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return self.server.kubectl(*args, **kw)

    def log(self) -> str:
        return self.agent_log.read_text(errors="replace")[-4000:]


def wait_until(what: str, fn: Callable[[], Any], timeout: float = 30.0, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def start_agent(srv: Server, data_dir: pathlib.Path, log: pathlib.Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "pybernetes", "agent", "--server", srv.url, "--token", srv.token,
           "--data-dir", str(data_dir), "--simulated", str(len(NODES)), "--node-name-prefix", "it-sim-",
           "--node-capacity", "cpu=4,memory=16Gi,pods=50", "--node-labels", "pybernetes.io/test=simulated"]
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = pathlib.Path(tmp_path_factory.mktemp("simnodes"))
    srv = start_server(base / "server", "--disable-scheduler")
    log = base / "agent.log"
    agent = start_agent(srv, base / "agent", log)
    api = srv.client()
    c = Cluster(srv, agent, log, api)
    try:
        yield c
    finally:
        api.close()
        stop(agent)
        srv.stop()


def ready_nodes(c: Cluster) -> list[str]:
    out = c.kubectl("get", "nodes", "-o", "yaml", check=False)
    if out.returncode:
        return []
    names = []
    for n in yaml.safe_load(out.stdout)["items"]:
        conds = {x["type"]: x["status"] for x in n.get("status", {}).get("conditions", [])}
        if conds.get("Ready") == "True" and n["metadata"]["name"] in NODES:
            names.append(n["metadata"]["name"])
    return sorted(names) if len(names) == len(NODES) else []


def bind(c: Cluster, pod: str, node: str) -> None:
    """POST pods/{name}/binding as a scheduler does (the reply is a Status, so it is not deserialised)."""
    body = client.V1Binding(metadata=client.V1ObjectMeta(name=pod),
                            target=client.V1ObjectReference(api_version="v1", kind="Node", name=node))
    resp = client.CoreV1Api(c.api).create_namespaced_pod_binding(pod, NS, body, _preload_content=False)
    assert resp.status == 201


def create_pod(c: Cluster, name: str, node: str, *, containers: list[dict[str, Any]],
               restart: str = "Always") -> None:
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS},
                "spec": {"restartPolicy": restart, "containers": containers}}
    c.kubectl("create", "-f", "-", input=yaml.safe_dump(manifest))
    bind(c, name, node)


def pod_json(c: Cluster, name: str) -> dict[str, Any]:
    return yaml.safe_load(c.kubectl("get", "pod", name, "-o", "yaml").stdout)


def test_nodes_register_ready_with_full_node_info(cluster: Cluster) -> None:
    assert wait_until("3 Ready nodes", lambda: ready_nodes(cluster), timeout=60) == list(NODES), cluster.log()
    wide = cluster.kubectl("get", "nodes", "-o", "wide").stdout
    lines = {ln.split()[0]: ln for ln in wide.splitlines()[1:]}
    for n in NODES:
        assert " Ready " in lines[n] and "sim://" in lines[n] and "198.18." in lines[n], wide
        assert "v1.33." in lines[n]
    header = wide.splitlines()[0].split()
    assert header[:6] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP"]
    for version in ("1.27", "1.33"):
        out = cluster.kubectl("get", "nodes", "-o", "wide", version=version).stdout
        assert sum(" Ready " in ln and "sim://" in ln for ln in out.splitlines()) >= 3, out
    labels = cluster.kubectl("get", "nodes", "-l", "pybernetes.io/test=simulated", "-o", "name").stdout.split()
    assert sorted(labels) == [f"node/{n}" for n in NODES]


def test_python_client_lists_nodes(cluster: Cluster) -> None:
    wait_until("3 Ready nodes", lambda: ready_nodes(cluster), timeout=60)
    nodes = [n for n in client.CoreV1Api(cluster.api).list_node().items if n.metadata.name in NODES]
    assert len(nodes) == 3
    ips = set()
    for n in nodes:
        info = n.status.node_info
        assert info.kubelet_version.startswith("v1.33.") and info.operating_system == "linux"
        assert info.container_runtime_version.startswith("sim://") and info.machine_id and info.boot_id
        assert n.status.daemon_endpoints.kubelet_endpoint.port == 10250
        assert n.status.capacity["pods"] == "50" and n.status.allocatable["cpu"] == "4"
        addr = {a.type: a.address for a in n.status.addresses}
        assert addr["Hostname"] == n.metadata.name
        assert ipaddress.ip_address(addr["InternalIP"]) in ipaddress.ip_network("198.18.0.0/15")
        ips.add(addr["InternalIP"])
        assert n.metadata.labels["kubernetes.io/hostname"] == n.metadata.name
        assert [c.type for c in n.status.conditions] == ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
    assert len(ips) == 3


def test_bound_pod_runs_with_an_ip_and_is_ready_then_deletes(cluster: Cluster) -> None:
    wait_until("3 Ready nodes", lambda: ready_nodes(cluster), timeout=60)
    create_pod(cluster, "web", NODES[1], containers=[{"name": "nginx", "image": "nginx:1.19.1",
                                                      "ports": [{"containerPort": 80}]}])
    cluster.kubectl("wait", "--for=condition=Ready", "pod/web", "--timeout=30s", timeout=40)
    pod = client.CoreV1Api(cluster.api).read_namespaced_pod("web", NS)        # pydantic-validated
    st = pod.status
    assert st.phase == "Running" and st.pod_ip and st.host_ip.startswith("198.18.")
    node = client.CoreV1Api(cluster.api).read_node(NODES[1])
    cidr = node.spec.pod_cidr or ""
    net = ipaddress.ip_network(cidr) if cidr else ipaddress.ip_network("100.64.0.0/10")
    assert ipaddress.ip_address(st.pod_ip) in net
    cs = st.container_statuses[0]
    assert cs.ready and cs.started and cs.restart_count == 0 and cs.state.running.started_at
    assert cs.image == "docker.io/library/nginx:1.19.1"
    assert cs.image_id.startswith("docker.io/library/nginx@sha256:") and cs.container_id.startswith("sim://")
    assert [c.type for c in st.conditions] == ["PodReadyToStartContainers", "Initialized", "Ready",
                                               "ContainersReady", "PodScheduled"]
    assert all(c.status == "True" for c in st.conditions)
    wide = cluster.kubectl("get", "pod", "web", "-o", "wide").stdout.splitlines()[1].split()
    assert wide[1:3] == ["1/1", "Running"] and st.pod_ip in wide and NODES[1] in wide
    events = cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=web", "-o", "yaml").stdout
    evs = [(e["reason"], e["message"], e["source"].get("host")) for e in yaml.safe_load(events)["items"]]
    assert ("Started", "Started container nginx", NODES[1]) in evs, evs
    t0 = time.monotonic()
    cluster.kubectl("delete", "pod", "web", "--timeout=30s", timeout=40)
    assert time.monotonic() - t0 < 15
    assert cluster.kubectl("get", "pod", "web", check=False).returncode != 0


def test_crashing_and_completing_containers(cluster: Cluster) -> None:
    wait_until("3 Ready nodes", lambda: ready_nodes(cluster), timeout=60)
    create_pod(cluster, "crash", NODES[0], containers=[{"name": "c", "image": "busybox:1.36", "command": ["false"]}])
    create_pod(cluster, "done", NODES[2], restart="Never",
               containers=[{"name": "c", "image": "busybox:1.36", "command": ["sh", "-c", "sleep 1; exit 0"]}])

    def crash_status() -> str:
        line = cluster.kubectl("get", "pod", "crash", "--no-headers").stdout.split()
        return line[2] if line and line[2] == "CrashLoopBackOff" else ""

    wait_until("CrashLoopBackOff", crash_status, timeout=30)
    cs = pod_json(cluster, "crash")["status"]["containerStatuses"][0]
    assert cs["restartCount"] >= 1 and cs["lastState"]["terminated"]["exitCode"] == 1
    assert cs["state"]["waiting"]["message"].startswith("back-off 10s restarting failed container=c pod=crash_")
    wait_until("Succeeded", lambda: pod_json(cluster, "done")["status"].get("phase") == "Succeeded", timeout=30)
    assert cluster.kubectl("get", "pod", "done", "--no-headers").stdout.split()[2] == "Completed"
    cluster.kubectl("delete", "pod", "crash", "done", "--timeout=30s", timeout=40)


def lease_times(c: Cluster) -> dict[str, str]:
    out = yaml.safe_load(c.kubectl("get", "leases", "-n", "kube-node-lease", "-o", "yaml").stdout)
    return {item["metadata"]["name"]: item["spec"]["renewTime"] for item in out["items"]
            if item["metadata"]["name"] in NODES}


def test_leases_renew_then_go_stale_when_the_agent_dies(cluster: Cluster) -> None:
    wait_until("3 Ready nodes", lambda: ready_nodes(cluster), timeout=60)
    # each node's first heartbeat (within one 10 s period of registering) creates its Lease
    wait_until("3 leases", lambda: len(lease_times(cluster)) == 3, timeout=45)
    lease = yaml.safe_load(cluster.kubectl("get", "lease", NODES[0], "-n", "kube-node-lease", "-o", "yaml").stdout)
    assert lease["spec"]["holderIdentity"] == NODES[0] and lease["spec"]["leaseDurationSeconds"] == 40
    assert lease["metadata"]["ownerReferences"][0]["kind"] == "Node"
    first = lease_times(cluster)
    assert len(first) == 3
    renewed = wait_until("every lease renewed", lambda: (lambda now: all(now[n] > first[n] for n in NODES) and now)(
        lease_times(cluster)), timeout=45, every=1.0)      # 10 s renewals; generous for a loaded machine
    newest = max(datetime.datetime.fromisoformat(t.replace("Z", "+00:00")) for t in renewed.values())
    assert (datetime.datetime.now(datetime.UTC) - newest).total_seconds() < 30      # wall-clock renewTime
    assert stop(cluster.agent) == 0, cluster.log()
    stale = lease_times(cluster)
    time.sleep(12)                      # longer than the 10 s renew interval: nothing may move
    assert lease_times(cluster) == stale
