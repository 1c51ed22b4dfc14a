"""Node lifecycle end to end: ``kubectl cordon/uncordon/drain`` with a PodDisruptionBudget, and a node agent that
stops: its nodes go NotReady (Unknown), get tainted, and pods with a short toleration are evicted and recreated
on the nodes still alive by their ReplicaSet.

Two simulated agents (three nodes each) join one real server, so that losing one agent is half the zone (normal
eviction) rather than the whole cluster (upstream's disruption mode evicts nothing then). The server runs with the
default node-monitor grace period (40 s), so the last test takes about a minute.
"""

from __future__ import annotations

import json
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

from tests.harness import Server, start_server

pytestmark = pytest.mark.integration

V = "1.32"
AGENTS = ("nl-a-", "nl-b-")


def wait_until(what: str, fn: Callable[[], Any], timeout: float = 60.0, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


@dataclass
class Cluster:
    server: Server
    agents: dict[str, subprocess.Popen[bytes]]

    def kubectl(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return self.server.kubectl(*args, **kw)

    def json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json", version=V).stdout)

    def stop_agent(self, prefix: str) -> None:
        proc = self.agents[prefix]
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def ready_status(node: dict) -> str:
    return next((c["status"] for c in node["status"].get("conditions") or () if c["type"] == "Ready"), "")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = pathlib.Path(tmp_path_factory.mktemp("nodelifecycle"))
    server = start_server(base / "server")
    agents: dict[str, subprocess.Popen[bytes]] = {}
    logs = []
    try:
        for prefix in AGENTS:
            log = open(base / f"{prefix}agent.log", "wb")
            logs.append(log)
            agents[prefix] = subprocess.Popen(
                [sys.executable, "-m", "pybernetes", "agent", "--server", server.url, "--token", server.token,
                 "--data-dir", str(base / f"{prefix}agent"), "--simulated", "3", "--node-name-prefix", prefix],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        c = Cluster(server, agents)
        wait_until("6 Ready nodes", lambda: [ready_status(n) for n in c.json("get", "nodes")["items"]] == ["True"] * 6)
        yield c
    finally:
        for prefix in agents:
            Cluster(server, agents).stop_agent(prefix)
        for log in logs:
            log.close()
        server.stop()


@pytest.fixture()
def ns(cluster: Cluster, request: pytest.FixtureRequest) -> str:
    name = "t-" + request.node.name.lower().replace("_", "-")[:50].strip("-")
    cluster.server.create_namespace(name)      # with its default ServiceAccount and kube-root-ca.crt
    return name


def deployment(name: str, replicas: int, *, toleration_seconds: int | None = None) -> str:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx:1.25", "ports": [
        {"name": "http", "containerPort": 80}]}]}
    if toleration_seconds is not None:
        spec["tolerations"] = [{"key": k, "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": toleration_seconds}
                               for k in ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready")]
    return json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": {
        "replicas": replicas, "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}})


def live_pods(c: Cluster, ns: str, app: str) -> list[dict]:
    return [p for p in c.json("-n", ns, "get", "pods", "-l", f"app={app}")["items"]
            if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]


def taints(c: Cluster, node: str) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in c.json("get", "node", node)["spec"].get("taints") or ()}


def test_cordon_and_uncordon(cluster: Cluster) -> None:
    node = f"{AGENTS[1]}2"
    cluster.kubectl("cordon", node, version=V)
    assert cluster.json("get", "node", node)["spec"]["unschedulable"] is True
    wait_until("the unschedulable taint", lambda: ("node.kubernetes.io/unschedulable", "NoSchedule")
               in taints(cluster, node))
    assert "SchedulingDisabled" in cluster.kubectl("get", "node", node, version=V).stdout
    cluster.kubectl("uncordon", node, version=V)
    wait_until("the taint removed", lambda: taints(cluster, node) == set())
    assert "SchedulingDisabled" not in cluster.kubectl("get", "node", node, version=V).stdout


def test_drain_honours_the_disruption_budget(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=deployment("web", 3))
    pods = wait_until("3 web pods", lambda: (p := live_pods(cluster, ns, "web")) and len(p) == 3 and p)
    node = pods[0]["spec"]["nodeName"]
    cluster.kubectl("-n", ns, "create", "poddisruptionbudget", "web", "--selector=app=web", "--max-unavailable=0",
                    version=V)
    wait_until("the PDB status", lambda: cluster.json("-n", ns, "get", "pdb", "web").get("status", {}).get(
        "currentHealthy") == 3)
    blocked = cluster.kubectl("drain", node, "--pod-selector=app=web", "--timeout=8s", check=False, version=V)
    assert blocked.returncode != 0
    assert "Cannot evict pod as it would violate the pod's disruption budget." in blocked.stderr
    assert cluster.json("get", "node", node)["spec"]["unschedulable"] is True, "drain cordons first"
    assert len(live_pods(cluster, ns, "web")) == 3

    cluster.kubectl("-n", ns, "delete", "pdb", "web", version=V)
    cluster.kubectl("-n", ns, "create", "poddisruptionbudget", "web", "--selector=app=web", "--min-available=2",
                    version=V)
    wait_until("one disruption allowed", lambda: cluster.json("-n", ns, "get", "pdb", "web").get("status", {}).get(
        "disruptionsAllowed") == 1)
    done = cluster.kubectl("drain", node, "--pod-selector=app=web", "--timeout=90s", version=V, timeout=120)
    assert "drained" in done.stdout
    assert "evicted" in done.stdout
    moved = wait_until("3 web pods again, none on the drained node", lambda: (p := live_pods(cluster, ns, "web"))
                       and len(p) == 3 and all(x["spec"]["nodeName"] != node for x in p) and p)
    assert len(moved) == 3
    cluster.kubectl("uncordon", node, version=V)


def test_stopped_agent_nodes_go_unknown_and_pods_move(cluster: Cluster, ns: str) -> None:
    dead, alive = AGENTS
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=deployment("mover", 6, toleration_seconds=5))
    pods = wait_until("6 mover pods", lambda: (p := live_pods(cluster, ns, "mover")) and len(p) == 6 and p)
    doomed = {p["metadata"]["name"] for p in pods if p["spec"]["nodeName"].startswith(dead)}
    assert doomed, "the scheduler spread the pods over both agents' nodes"
    cluster.kubectl("-n", ns, "expose", "deployment", "mover", "--port=80", "--target-port=http", version=V)

    cluster.stop_agent(dead)
    dead_nodes = [f"{dead}{i}" for i in range(3)]

    def unknown() -> bool:
        nodes = {n["metadata"]["name"]: n for n in cluster.json("get", "nodes")["items"]}
        return all(ready_status(nodes[n]) == "Unknown" for n in dead_nodes)
    wait_until("the stopped agent's nodes Unknown", unknown, timeout=90)
    node = cluster.json("get", "node", dead_nodes[0])
    cond = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert (cond["reason"], cond["message"]) == ("NodeStatusUnknown", "Kubelet stopped posting node status.")
    assert "NotReady" in cluster.kubectl("get", "node", dead_nodes[0], version=V).stdout
    assert all(ready_status(n) == "True" for n in cluster.json("get", "nodes")["items"]
               if n["metadata"]["name"].startswith(alive))

    wait_until("unreachable taints", lambda: all({("node.kubernetes.io/unreachable", "NoSchedule"),
                                                  ("node.kubernetes.io/unreachable", "NoExecute")}
                                                 <= taints(cluster, n) for n in dead_nodes), timeout=60)

    def moved() -> bool:
        live = live_pods(cluster, ns, "mover")
        return len(live) == 6 and all(p["spec"]["nodeName"].startswith(alive) for p in live)
    wait_until("6 mover pods on the live nodes", moved, timeout=90)
    gone = cluster.json("-n", ns, "get", "pods", "-l", "app=mover")["items"]
    for p in gone:
        if p["metadata"]["name"] in doomed:
            assert p["metadata"].get("deletionTimestamp"), "evicted pods are terminating (their kubelet is gone)"
            conds = {c["type"]: c for c in p["status"].get("conditions") or ()}
            assert conds["Ready"]["status"] == "False"
            assert conds["DisruptionTarget"]["reason"] == "DeletionByTaintManager"
    events = cluster.json("-n", ns, "get", "events", "--field-selector", "reason=TaintManagerEviction")["items"]
    assert {e["involvedObject"]["name"] for e in events} >= doomed

    live_ips = {p["status"]["podIP"] for p in live_pods(cluster, ns, "mover")}

    def endpoint_ips() -> set[str]:
        ep = cluster.json("-n", ns, "get", "endpoints", "mover")
        return {a["ip"] for s in ep.get("subsets") or () for a in s.get("addresses") or ()}
    wait_until("the Service lists only the live pods", lambda: endpoint_ips() == live_ips)
