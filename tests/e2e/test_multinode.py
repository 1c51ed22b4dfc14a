"""A 3-node cluster on this machine (issue 5): the control plane in the root namespace (``--disable-agent``,
listening on and advertising the test bridge's address 10.99.0.1), three real node agents in test hosts
(``pybernetes.testing.hosts``: network namespaces pyb-h1..3 at 10.99.0.11..13), images from the project's test
registry relayed to the hosts. Then the textbook walkthrough, verbatim, with the real kubectl; NodePort traffic to
every node and to 127.0.0.1 on a node, spread over the replicas; cluster DNS from a pod; pod-to-pod traffic
between nodes (host-gw routes) and NetworkPolicy; and a stopped node going NotReady while its pods move.

Traffic goes only to loopback, to 10.99.0.1 (the test bridge) and into the namespaces the test and the cluster
made. Needs root and the Debian packages of ``tools/install-deps.sh``; outside CI a missing prerequisite skips,
in CI it fails. Timings of each phase are printed (``pytest -s``).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.harness import Server, start_server

from pybernetes.testing import images as ti
from pybernetes.testing.hosts import GATEWAY, AgentProcess, TestHosts

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
POD_CIDR = "10.97.0.0/16"          # not the default 10.42.0.0/16: a node on this machine may already use that
NODES = ("node1", "node2", "node3")

POD_YAML = """\
apiVersion: v1
kind: Pod
metadata:
  name: nginx
  labels:
    app: nginx
spec:
  containers:
  - name: nginx
    image: nginx:latest
    ports:
    - containerPort: 80
"""

SERVICE_YAML = """\
apiVersion: v1
kind: Service
metadata:
  name: nginx-service
spec:
  type: NodePort
  selector:
    app: nginx
  ports:
  - port: 80
    targetPort: 80
"""

DEPLOYMENT_YAML = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx-deployment
  labels:
    app: nginx
spec:
  replicas: 3
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx:latest
        ports:
        - containerPort: 80
"""


def require(ok: bool, what: str) -> None:
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide {what} (tools/install-deps.sh)")
        pytest.skip(f"needs {what}")


def require_prerequisites() -> None:
    require(os.geteuid() == 0, "root (network namespaces, containers, nftables)")
    for binary in ("crun", "ip", "nft", "nsenter", "unshare", "kubectl"):
        require(shutil.which(binary) is not None, f"the {binary} command")
    for path in (ti.BUSYBOX, ti.DOCKER_REGISTRY, ti.NGINX, "/usr/lib/cni/bridge", "/usr/lib/cni/host-local"):
        require(os.path.exists(path), path)


@dataclass
class Cluster:
    server: Server
    hosts: TestHosts
    agents: dict[str, AgentProcess]
    timings: dict[str, float] = field(default_factory=dict)

    def kubectl(self, *args: str, **kw: Any) -> str:
        return str(self.server.kubectl(*args, **kw).stdout)

    def json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json"))

    def logs(self) -> str:
        return "\n".join(f"--- {n}:\n{a.log(3000)}" for n, a in self.agents.items()) + \
            "\n--- server:\n" + "".join(self.server.log[-40:])

    def exec(self, pod: str, *cmd: str, timeout: float = 30) -> tuple[int, str]:
        p = self.server.kubectl("exec", pod, "--", *cmd, check=False, timeout=timeout)
        return p.returncode, p.stdout + p.stderr

    def http_from_host(self, host_index: int, url: str, timeout: float = 5) -> str:
        code = ("import urllib.request,sys\n"
                f"print(urllib.request.urlopen({url!r}, timeout={timeout}).read().decode())")
        p = self.hosts[host_index].run(sys.executable, "-c", code, timeout=timeout + 10)
        return p.stdout if p.returncode == 0 else f"failed: {p.stderr[-500:]}"


def http_get(url: str, timeout: float = 5) -> str:
    import urllib.request
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read().decode()


def wait_for(check: Callable[[], Any], *, timeout: float = 90, what: str, cluster: Cluster | None = None,
             every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (AssertionError, OSError, ValueError) as e:
            last = e
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}: {last!r}\n" + (cluster.logs() if cluster else ""))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require_prerequisites()
    base = tmp_path_factory.mktemp("multinode")
    t0 = time.monotonic()
    registry: ti.LocalRegistry | None = None
    server: Server | None = None
    with TestHosts(len(NODES), workdir=base / "hosts") as hosts:
        try:
            registry = ti.start_registry(base / "registry")
            asyncio.run(ti.push_images(registry, ti.build_test_images()))
            hosts.expose(registry.port)                         # the hosts pull from 10.99.0.1:<port>
            registries = ti.write_registries_yaml(base / "registries.yaml", f"http://{GATEWAY}:{registry.port}")
            server = start_server(base / "server", "--bind-address", GATEWAY, "--advertise-address", GATEWAY,
                                  "--cluster-cidr", POD_CIDR, "--node-monitor-grace-period", "20s",
                                  "--node-eviction-timeout", "5s")
            agents = {name: hosts.start_agent(h, server_url=server.url, token=server.token, node_name=name,
                                              data_dir=base / name, registries_yaml=registries)
                      for name, h in zip(NODES, hosts, strict=True)}
            c = Cluster(server=server, hosts=hosts, agents=agents)
            c.timings["setup"] = time.monotonic() - t0
            yield c
            print("\nmulti-node timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in c.timings.items()))
        finally:
            try:
                hosts.destroy()                                 # agents, shims, containers, cgroups, namespaces
            finally:
                if server is not None:
                    server.stop()
                if registry is not None:
                    ti.stop_registry(registry)


def nodes_ready(c: Cluster) -> dict[str, Any]:
    nodes = {n["metadata"]["name"]: n for n in c.json("get", "nodes")["items"]}
    for name in NODES:
        assert name in nodes, sorted(nodes)
        conds = {x["type"]: x["status"] for x in nodes[name]["status"].get("conditions", ())}
        assert conds.get("Ready") == "True" and nodes[name]["spec"].get("podCIDR"), (name, conds)
    return nodes


def running_pods(c: Cluster, selector: str) -> list[dict[str, Any]]:
    pods = c.json("get", "pods", "-l", selector)["items"]
    return [p for p in pods if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
            and all(cs.get("ready") for cs in p["status"].get("containerStatuses", ()))]


def node_port(c: Cluster, service: str) -> int:
    return int(c.json("get", "service", service)["spec"]["ports"][0]["nodePort"])


def ensure_nginx(c: Cluster) -> None:
    """The walkthrough's imperative part, for tests run on their own."""
    if c.server.kubectl("get", "deployment", "nginx", check=False).returncode != 0:
        c.kubectl("create", "deployment", "nginx", "--image=nginx:1.19.1")
        c.kubectl("expose", "deployment", "nginx", "--port=80", "--type=NodePort")
        c.kubectl("scale", "deployment", "nginx", "--replicas=3")
    wait_for(lambda: len(running_pods(c, "app=nginx,pod-template-hash")) >= 3, what="nginx replicas", cluster=c)


@pytest.fixture(scope="module")
def client(cluster: Cluster) -> str:
    """A busybox pod on node1 to test from."""
    cluster.kubectl("create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client", "labels": {"role": "client"}},
        "spec": {"nodeName": "node1", "terminationGracePeriodSeconds": 1, "containers": [
            {"name": "sh", "image": "busybox:latest", "command": ["sleep", "100000"]}]}}))
    wait_for(lambda: running_pods(cluster, "role=client"), what="the client pod", cluster=cluster)
    return "client"


def test_three_nodes_join_with_pod_routes_and_dns_endpoints(cluster: Cluster) -> None:
    t0 = time.monotonic()
    nodes = wait_for(lambda: nodes_ready(cluster), what="three Ready nodes", cluster=cluster)
    cluster.timings["nodes ready"] = time.monotonic() - t0
    addresses = {n: {a["type"]: a["address"] for a in nodes[n]["status"]["addresses"]}["InternalIP"] for n in NODES}
    assert addresses == {"node1": "10.99.0.11", "node2": "10.99.0.12", "node3": "10.99.0.13"}
    cidrs = {n: nodes[n]["spec"]["podCIDR"] for n in NODES}
    assert len(set(cidrs.values())) == 3 and all(c.startswith("10.97.") for c in cidrs.values())

    def routes() -> bool:
        for i, name in enumerate(NODES):
            out = cluster.hosts[i].run("ip", "-j", "route", "show", "proto", "66").stdout
            got = {r["dst"]: r["gateway"] for r in json.loads(out or "[]")}
            assert got == {cidrs[o]: addresses[o] for o in NODES if o != name}, (name, got)
        return True
    wait_for(routes, what="host-gw routes in every host", cluster=cluster)

    def dns_endpoints() -> dict[str, str]:
        slices = cluster.json("get", "endpointslices", "-n", "kube-system",
                              "-l", "kubernetes.io/service-name=kube-dns")["items"]
        got = {s["endpoints"][0]["nodeName"]: s["endpoints"][0]["addresses"][0] for s in slices
               if s["endpoints"][0]["conditions"]["ready"]}
        assert len(got) == 3, got
        return got
    got = wait_for(dns_endpoints, what="a DNS endpoint per node", cluster=cluster)
    assert got == {n: cidrs[n].rsplit(".", 1)[0] + ".1" for n in NODES}      # each node's pod gateway
    svc = cluster.json("get", "service", "kube-dns", "-n", "kube-system")
    assert svc["spec"]["clusterIP"] == "10.43.0.10" and svc["metadata"]["labels"]["k8s-app"] == "kube-dns"


def test_textbook_walkthrough(cluster: Cluster, tmp_path: Path) -> None:
    t0 = time.monotonic()
    wait_for(lambda: nodes_ready(cluster), what="three Ready nodes", cluster=cluster)
    for name, text in (("pod.yaml", POD_YAML), ("service.yaml", SERVICE_YAML), ("deployment.yaml", DEPLOYMENT_YAML)):
        (tmp_path / name).write_text(text)
        cluster.kubectl("create", "-f", str(tmp_path / name))
    wait_for(lambda: len(running_pods(cluster, "app=nginx")) == 4, what="the pod and 3 replicas", cluster=cluster,
             timeout=120)
    pods = cluster.kubectl("get", "pods")
    assert pods.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert "nginx " in pods and pods.count("nginx-deployment-") == 3 and pods.count("Running") >= 4
    services = cluster.kubectl("get", "services")
    assert "nginx-service" in services and "NodePort" in services and "kubernetes" in services
    assert "3/3" in cluster.kubectl("get", "deployments")
    cluster.timings["YAML walkthrough"] = time.monotonic() - t0

    t1 = time.monotonic()
    cluster.kubectl("create", "deployment", "nginx", "--image=nginx:1.19.1")
    cluster.kubectl("expose", "deployment", "nginx", "--port=80", "--type=NodePort")
    out = cluster.kubectl("get", "service", "nginx")
    assert out.splitlines()[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert "NodePort" in out and "80:3" in out
    cluster.kubectl("scale", "deployment", "nginx", "--replicas=3")
    replicas = wait_for(lambda: (p := running_pods(cluster, "app=nginx,pod-template-hash")) and len(
        [x for x in p if x["metadata"]["name"].startswith("nginx-") and not
         x["metadata"]["name"].startswith("nginx-deployment-")]) == 3 and p, what="3 nginx replicas", cluster=cluster)
    mine = [p for p in replicas if not p["metadata"]["name"].startswith("nginx-deployment-")]
    assert len({p["spec"]["nodeName"] for p in mine}) >= 2, "the replicas were not spread over the nodes"
    cluster.timings["kubectl create/expose/scale"] = time.monotonic() - t1

    port = node_port(cluster, "nginx")
    t2 = time.monotonic()
    marker = uuid.uuid4().hex[:12]
    for addr in ("10.99.0.11", "10.99.0.12", "10.99.0.13"):
        page = wait_for(lambda a=addr: http_get(f"http://{a}:{port}/?first={marker}"),
                        what=f"nginx on {addr}:{port}", cluster=cluster)
        assert "Welcome to nginx!" in page
    cluster.timings["NodePort reachable"] = time.monotonic() - t2
    for i in range(30):
        assert "Welcome to nginx!" in http_get(f"http://10.99.0.1{i % 3 + 1}:{port}/?probe={marker}")
    assert "Welcome to nginx!" in cluster.http_from_host(1, f"http://127.0.0.1:{port}/?local={marker}")

    backends = running_pods(cluster, "app=nginx")       # expose copies the selector app=nginx: every nginx pod

    def served() -> dict[str, int]:
        counts = {p["metadata"]["name"]: cluster.kubectl("logs", p["metadata"]["name"]).count(f"probe={marker}")
                  for p in backends}
        assert sum(counts.values()) == 30, counts
        return counts
    counts = wait_for(served, what="the access logs", cluster=cluster, timeout=30)
    serving = {p["spec"]["nodeName"] for p in backends if counts[p["metadata"]["name"]]}
    assert sum(1 for n in counts.values() if n) >= 3 and len(serving) >= 2, \
        f"requests were not spread over the replicas: {counts}"


def test_cluster_dns_from_a_pod(cluster: Cluster, client: str) -> None:
    ensure_nginx(cluster)
    t0 = time.monotonic()
    ok = wait_for(lambda: (r := cluster.exec(client, "timeout", "5", "wget", "-qO-",
                                             "http://nginx.default.svc.cluster.local"))[0] == 0 and r[1],
                  what="wget http://nginx.default.svc.cluster.local from a pod", cluster=cluster)
    assert "Welcome to nginx!" in ok
    cluster.timings["DNS + Service from a pod"] = time.monotonic() - t0
    cluster_ip = cluster.json("get", "service", "nginx")["spec"]["clusterIP"]
    _, out = cluster.exec(client, "nslookup", "nginx")     # the search path (busybox also reports the misses)
    assert "Name:\tnginx.default.svc.cluster.local" in out and cluster_ip in out, out
    rc, out = cluster.exec(client, "nslookup", "nginx.default.svc.cluster.local", "10.43.0.10")
    assert rc == 0 and cluster_ip in out and "10.43.0.10" in out, out
    rc, out = cluster.exec(client, "nslookup", "no-such-service.default.svc.cluster.local")
    assert rc != 0 and "NXDOMAIN" in out, out
    rc, out = cluster.exec(client, "nslookup", "-type=srv", "_dns._udp.kube-dns.kube-system.svc.cluster.local")
    assert rc == 0 and "kube-dns.kube-system.svc.cluster.local" in out and "53" in out, out
    pod_ip = running_pods(cluster, "app=nginx,pod-template-hash")[0]["status"]["podIP"]
    rc, out = cluster.exec(client, "nslookup", pod_ip.replace(".", "-") + ".default.pod.cluster.local")
    assert rc == 0 and pod_ip in out, out
    rc, out = cluster.exec(client, "nslookup", cluster_ip)                 # PTR of a ClusterIP
    assert rc == 0 and "nginx.default.svc.cluster.local" in out, out
    t1 = time.monotonic()
    rc, out = cluster.exec(client, "nslookup", "www.example.invalid")     # forwarded: no upstream here, fast
    assert rc != 0 and time.monotonic() - t1 < 10, out
    rc, out = cluster.exec(client, "timeout", "5", "wget", "-qO-", "http://10.43.0.10:9153/metrics")
    assert rc == 0 and 'coredns_dns_requests_total{proto="udp"}' in out, out


def test_statefulset_pods_have_names(cluster: Cluster, client: str) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
         "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
         "spec": {"serviceName": "web", "replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                  "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                      "terminationGracePeriodSeconds": 1,
                      "containers": [{"name": "nginx", "image": "nginx:latest", "ports": [{"containerPort": 80}]}]}}}},
    ]}))
    pods = wait_for(lambda: (p := running_pods(cluster, "app=web")) and len(p) == 2 and p, what="web-0 and web-1",
                    cluster=cluster, timeout=120)
    ips = {p["metadata"]["name"]: p["status"]["podIP"] for p in pods}

    def resolves() -> bool:
        for name, ip in ips.items():
            _, out = cluster.exec(client, "nslookup", f"{name}.web.default.svc.cluster.local")
            assert ip in out, out
        return True
    wait_for(resolves, what="web-N.web.default.svc.cluster.local", cluster=cluster)
    _, out = cluster.exec(client, "nslookup", "web.default.svc.cluster.local")       # headless: every pod
    assert all(ip in out for ip in ips.values()), out
    rc, out = cluster.exec(client, "nslookup", "-type=srv", "_http._tcp.web.default.svc.cluster.local")
    assert rc == 0 and "web-0.web.default.svc.cluster.local" in out and "web-1.web" in out, out
    rc, page = cluster.exec(client, "timeout", "5", "wget", "-qO-", "http://web-1.web/")
    assert rc == 0 and "Welcome to nginx!" in page
    cluster.kubectl("delete", "statefulset", "web", "--wait=false")
    cluster.kubectl("delete", "service", "web")


def test_pods_reach_each_other_across_nodes_and_network_policy_applies(cluster: Cluster, client: str) -> None:
    ensure_nginx(cluster)
    remote = next(p for p in running_pods(cluster, "app=nginx,pod-template-hash") if p["spec"]["nodeName"] != "node1")
    url = f"http://{remote['status']['podIP']}/"

    def fetch(u: str) -> tuple[int, str]:
        return cluster.exec(client, "timeout", "5", "wget", "-qO-", u)
    _, out = wait_for(lambda: (r := fetch(url))[0] == 0 and r, what=f"{url} from node1", cluster=cluster)
    assert "Welcome to nginx!" in out
    t0 = time.monotonic()
    cluster.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "default-deny"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}))
    wait_for(lambda: fetch(url)[0] != 0 and fetch("http://nginx.default.svc.cluster.local")[0] != 0,
             what="the default-deny policy to block", cluster=cluster)
    cluster.timings["deny applied"] = time.monotonic() - t0
    t1 = time.monotonic()
    cluster.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "allow-client"},
        "spec": {"podSelector": {"matchLabels": {"app": "nginx"}},
                 "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}],
                              "ports": [{"protocol": "TCP", "port": 80}]}]}}))
    _, out = wait_for(lambda: (r := fetch("http://nginx.default.svc.cluster.local"))[0] == 0 and r,
                      what="the allow rule to let the client through", cluster=cluster)
    assert "Welcome to nginx!" in out and fetch(url)[0] == 0
    cluster.timings["allow applied"] = time.monotonic() - t1
    cluster.kubectl("delete", "networkpolicy", "default-deny", "allow-client")


def test_a_stopped_node_goes_not_ready_and_its_pods_move(cluster: Cluster, client: str) -> None:
    ensure_nginx(cluster)
    replicas = running_pods(cluster, "app=nginx,pod-template-hash")
    victim = next(p["spec"]["nodeName"] for p in replicas if p["spec"]["nodeName"] != "node1")
    t0 = time.monotonic()
    assert cluster.agents[victim].stop(signal.SIGTERM) == 0, cluster.agents[victim].log()
    slices = cluster.json("get", "endpointslices", "-n", "kube-system")["items"]
    assert f"kube-dns-{victim}" not in {s["metadata"]["name"] for s in slices}, "a clean stop withdraws its DNS"

    def not_ready() -> bool:
        node = cluster.json("get", "node", victim)
        conds = {x["type"]: x["status"] for x in node["status"].get("conditions", ())}
        return conds.get("Ready") in ("False", "Unknown")
    wait_for(not_ready, what=f"{victim} to be NotReady", cluster=cluster, timeout=120, every=1)
    cluster.timings["NotReady after stop"] = time.monotonic() - t0

    def moved() -> bool:
        deployment = cluster.json("get", "deployment", "nginx")
        pods = [p for p in running_pods(cluster, "app=nginx,pod-template-hash")
                if not p["metadata"]["name"].startswith("nginx-deployment-")]
        on_others = [p for p in pods if p["spec"]["nodeName"] != victim]
        assert len(on_others) >= 3 and deployment["status"].get("availableReplicas", 0) >= 3, \
            [(p["metadata"]["name"], p["spec"]["nodeName"]) for p in pods]
        return True
    wait_for(moved, what="the nginx replicas to move off the stopped node", cluster=cluster, timeout=120, every=1)
    cluster.timings["pods moved after stop"] = time.monotonic() - t0
    ok = wait_for(lambda: (r := cluster.exec(client, "timeout", "5", "wget", "-qO-",
                                             "http://nginx.default.svc.cluster.local"))[0] == 0 and r[1],
                  what="the Service to work with one node down", cluster=cluster)
    assert "Welcome to nginx!" in ok
