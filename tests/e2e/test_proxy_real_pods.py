"""Services and NetworkPolicy with real pods: a real node (``pybernetes agent``, which runs the proxy beside the
kubelet) against a real server with its controllers, workloads from the project's test images.

A Deployment of busybox ``httpd`` pods answering their hostname behind a NodePort Service: the NodePort on
127.0.0.1 spreads over the replicas, a client pod reaches the ClusterIP, a replica reaches itself through the
Service (hairpin), scaling up brings the new replica into rotation, the ``kubernetes`` Service answers from a
pod, and a default-deny NetworkPolicy blocks the client until an allow rule lets it through.

The API server listens on a lab bridge address (10.99.47.1) that pods reach through their node; Services use
10.99.147.0/24 and NodePorts 29200-29299. Teardown removes the pods' containers, the node's nftables table,
the lab bridge and the node's own CNI bridge (``--cni-bridge``). Needs root and the packages of
``tools/install-deps.sh``; outside CI a missing prerequisite skips, in CI it fails.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.e2e import ocihelpers as h
from tests.e2e import proxylab
from tests.e2e.proxylab import Lab
from tests.harness import Server, start_server

from pybernetes.proxy.main import TABLE_ENV
from pybernetes.testing import images as ti

pytestmark = pytest.mark.e2e
NODE = "e2e-proxy-node"
NS = "pxy"
SERVICE_CIDR = "10.99.147.0/24"
CLUSTER_CIDR, GATEWAY = "10.99.64.0/18", "10.99.64.1"       # the node's podCIDR is 10.99.64.0/24
BRIDGE = f"pybr{os.getpid() % 100000}"      # the node's own CNI bridge: never another cluster's pyb0, deleted after
Obj = dict[str, Any]


@dataclass
class Cluster:
    server: Server
    lab: Lab
    agent: subprocess.Popen[bytes]
    data: Path
    table: str

    def kubectl(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60) -> str:
        return self.server.kubectl(*args, input=input, check=check, timeout=timeout).stdout

    def apply(self, *objs: Obj) -> None:
        self.kubectl("apply", "-n", NS, "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                                      "items": list(objs)}))

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", "-n", NS, *args, "-o", "json"))

    def sh(self, pod: str, script: str, timeout: float = 60) -> str:
        p = self.server.kubectl("exec", "-n", NS, pod, "--", "sh", "-c", script, check=False, timeout=timeout)
        return p.stdout

    def log(self) -> str:
        return (self.data / "agent.log").read_text(errors="replace")[-5000:]

    def wait(self, check: Callable[[], Any], *, timeout: float = 120, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = check()
            except (AssertionError, subprocess.SubprocessError, json.JSONDecodeError) as e:
                last = e
            else:
                if last:
                    return last
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {what}: {last!r}\n--- agent log:\n{self.log()}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    h.require_node_prerequisites()
    proxylab.require_prerequisites()
    base = tmp_path_factory.mktemp("proxypods")
    reg_gen = h.registry_fixture(base)
    registry = next(reg_gen)
    data = base / "agent"
    data.mkdir()
    agent: subprocess.Popen[bytes] | None = None
    srv: Server | None = None
    table = f"pybr{os.getpid()}"                     # the agent's proxy table: ours alone, deleted by name
    with proxylab.lab(base / "lab", subnet="10.99.47", service_cidr=SERVICE_CIDR) as lab:
        try:
            srv = start_server(base / "server", "--bind-address", lab.gateway, "--advertise-address", lab.gateway,
                               "--tls-san", lab.gateway, "--service-cidr", SERVICE_CIDR, "--cluster-cidr",
                               CLUSTER_CIDR, "--cluster-dns", "10.99.147.10", "--service-node-port-range",
                               "29200-29299")
            log = open(data / "agent.log", "ab")
            agent = subprocess.Popen(
                [sys.executable, "-m", "pybernetes", "agent", "--server", srv.url, "--token", srv.token,
                 "--data-dir", str(data), "--node-name", NODE, "--node-ip", "127.0.0.1", "--kubelet-port",
                 str(ti.free_port()), "--registry-config", str(registry.registries_yaml), "--cluster-dns",
                 "10.99.147.10", "--cni-bridge", BRIDGE], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1", TABLE_ENV: table})
            log.close()
            c = Cluster(server=srv, lab=lab, agent=agent, data=data, table=table)
            c.wait(lambda: any(cond["type"] == "Ready" and cond["status"] == "True" for cond in json.loads(
                srv.kubectl("get", "node", NODE, "-o", "json").stdout)["status"].get("conditions", [])),
                what="the node to be Ready")
            c.kubectl("create", "namespace", NS)
            yield c
        finally:
            if agent is not None and agent.poll() is None:
                agent.send_signal(signal.SIGTERM)
                try:
                    agent.wait(30)
                except subprocess.TimeoutExpired:
                    agent.kill()
                    agent.wait(10)
            h.cleanup_root(data / "runtime")
            unmount_below(data)
            subprocess.run(["nft", "delete", "table", "ip", table], capture_output=True, check=False)
            if srv is not None:
                srv.stop()
            next(reg_gen, None)
            if os.path.exists(f"/sys/class/net/{BRIDGE}"):
                subprocess.run(["ip", "link", "delete", BRIDGE], check=False)


def unmount_below(root: Path) -> None:
    """The pods' volume mounts (tmpfs) the stopped agent left under its data directory, deepest first."""
    prefix = str(root.resolve()) + "/"
    with open("/proc/mounts") as f:
        mounts = [line.split()[1] for line in f if line.split()[1].startswith(prefix)]
    for m in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True, check=False)


WEB = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
       "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                    "terminationGracePeriodSeconds": 1, "containers": [{
                        "name": "httpd", "image": "busybox:latest", "imagePullPolicy": "IfNotPresent",
                        "ports": [{"name": "http", "containerPort": 8080}],
                        "command": ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && "
                                                "exec httpd -f -p 8080 -h /www"],
                        "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}]}}}}
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"type": "NodePort", "selector": {"app": "web"},
                    "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}
CLIENT = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client", "labels": {"role": "client"}},
          "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
              "name": "c", "image": "busybox:latest", "imagePullPolicy": "IfNotPresent",
              "command": ["sleep", "100000"]}]}}


def ready_replicas(c: Cluster, n: int) -> list[str]:
    pods = c.get("pods", "-l", "app=web")["items"]
    names = [p["metadata"]["name"] for p in pods if any(
        cond["type"] == "Ready" and cond["status"] == "True" for cond in p["status"].get("conditions", []))]
    return names if len(names) == n else []


@pytest.fixture(scope="module")
def web(cluster: Cluster) -> Cluster:
    cluster.apply(WEB, SERVICE, CLIENT)
    cluster.wait(lambda: ready_replicas(cluster, 2), timeout=180, what="2 ready web replicas")
    cluster.wait(lambda: cluster.get("pod", "client")["status"].get("phase") == "Running", what="the client pod")
    return cluster


def answers(c: Cluster, pod: str, url: str, n: int) -> list[str]:
    out = c.sh(pod, f"for i in $(seq {n}); do timeout 3 wget -qO- {url} || echo FAILED; done")
    return [line.strip() for line in out.splitlines() if line.strip()]


def test_nodeport_on_loopback_spreads_over_the_replicas(web: Cluster) -> None:
    port = web.get("service", "web")["spec"]["ports"][0]["nodePort"]
    names = set(ready_replicas(web, 2))
    seen = web.wait(lambda: {web.lab.get_from_host("127.0.0.1", port) for _ in range(30)} == names and names,
                    what="both replicas behind 127.0.0.1 NodePort")
    assert seen


def test_a_pod_reaches_the_cluster_ip_and_a_replica_reaches_itself(web: Cluster) -> None:
    ip = web.get("service", "web")["spec"]["clusterIP"]
    names = set(ready_replicas(web, 2))
    got = web.wait(lambda: set(answers(web, "client", f"http://{ip}/", 20)) == names, what="the ClusterIP")
    assert got
    replica = sorted(names)[0]
    from_replica = answers(web, replica, f"http://{ip}/", 20)
    assert "FAILED" not in from_replica and replica in from_replica      # hairpin: itself among the answers


def test_scaling_up_brings_the_new_replica_into_rotation(web: Cluster) -> None:
    web.kubectl("scale", "-n", NS, "deployment/web", "--replicas=3")
    names = set(web.wait(lambda: ready_replicas(web, 3), timeout=180, what="3 ready replicas"))
    port = web.get("service", "web")["spec"]["ports"][0]["nodePort"]
    web.wait(lambda: {web.lab.get_from_host("127.0.0.1", port) for _ in range(40)} == names,
             what="the third replica behind the NodePort")


def pod_pid(c: Cluster, name: str) -> int:
    """A host pid of one of the pod's processes (found by the pod's cgroup): its network namespace is the
    pod's."""
    uid = c.get("pod", name)["metadata"]["uid"]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if uid in (entry / "cgroup").read_text():
                    return int(entry.name)
            except OSError:
                continue
    raise AssertionError(f"no process of pod {name}")


def test_the_kubernetes_service_reaches_the_api_server_with_the_pods_token(web: Cluster) -> None:
    assert web.sh("client", "echo | timeout 3 nc 10.99.147.1 443 && echo CONNECTED").strip() == "CONNECTED"
    # busybox's built-in TLS cannot talk to the API server (see the report), so the HTTPS call runs in the pod's
    # network namespace with the host's Python, using the pod's own ServiceAccount token
    pid = pod_pid(web, "client")
    token = web.sh("client", "cat /var/run/secrets/kubernetes.io/serviceaccount/token").strip()
    assert token.count(".") == 2
    script = textwrap.dedent(f"""
        import json, ssl, urllib.error, urllib.request
        token = {token!r}
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        req = urllib.request.Request("https://10.99.147.1/api/v1/namespaces/{NS}/pods",
                                     headers={{"Authorization": "Bearer " + token}})
        try:
            urllib.request.urlopen(req, context=ctx, timeout=5)
        except urllib.error.HTTPError as e:
            print(e.code, json.loads(e.read())["message"])
    """)
    out = subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", sys.executable, "-c", script],
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.startswith('403 pods is forbidden: User "system:serviceaccount:pxy:default"'), out


def test_default_deny_blocks_and_an_allow_rule_lets_through(web: Cluster) -> None:
    ip = web.get("service", "web")["spec"]["clusterIP"]
    deny = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "default-deny"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    allow = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "allow-client"},
             "spec": {"podSelector": {"matchLabels": {"app": "web"}},
                      "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}],
                                   "ports": [{"port": "http"}]}]}}
    try:
        web.apply(deny)
        web.wait(lambda: answers(web, "client", f"http://{ip}/", 3) == ["FAILED"] * 3, what="the deny")
        port = web.get("service", "web")["spec"]["ports"][0]["nodePort"]
        assert web.lab.get_from_host("127.0.0.1", port) in set(ready_replicas(web, 3))   # from the node: allowed
        web.apply(allow)
        web.wait(lambda: "FAILED" not in answers(web, "client", f"http://{ip}/", 5), what="the allow rule")
    finally:
        web.kubectl("delete", "-n", NS, "networkpolicy", "default-deny", "allow-client", "--ignore-not-found")
