"""The proxy for real: ``python -m pybernetes.proxy`` against a real ``pybernetes server`` programs nftables on
this machine, and real connections from network-namespace "pods" (``proxylab``) and from the host follow the
Services and EndpointSlices created through the API.

Checked: ClusterIP balancing (from a pod and from the host), NodePorts on 127.0.0.1 and the node address,
endpoint removal taking effect within a second, ClientIP affinity, hairpin (a pod through its own Service,
masqueraded), rejection without endpoints, a UDP flow following its moved endpoint (stale conntrack cleared),
the ``kubernetes`` Service reaching the API server, LoadBalancer
ingress IPs, headless/ExternalName Services left alone, a restarted proxy converging (stale rules gone), and
NetworkPolicy: default deny blocks, an allow rule lets through, labels changing take effect.

The lab uses 10.99.17.0/24 for pods, 10.99.117.0/24 for Services (routed to the lab bridge) and NodePorts
29100-29199, its own nftables table, and removes everything by name. Needs root, iproute2 and nftables; outside
CI a missing prerequisite skips, in CI it fails.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.e2e import proxylab
from tests.e2e.proxylab import Lab, ProxyProcess
from tests.harness import Server, start_server

pytestmark = pytest.mark.e2e
SUBNET, SERVICE_CIDR = "10.99.17", "10.99.117.0/24"
NODE = "pybp-node"
Obj = dict[str, Any]


class Env:
    def __init__(self, lab: Lab, server: Server, proxy: ProxyProcess) -> None:
        self.lab, self.server, self.proxy = lab, server, proxy

    def apply(self, *objs: Obj) -> None:
        self.server.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                                   "items": list(objs)}))

    def get(self, *args: str) -> Any:
        return json.loads(self.server.kubectl("get", *args, "-o", "json").stdout)

    def delete(self, *args: str) -> None:
        self.server.kubectl("delete", *args, "--ignore-not-found")

    def cluster_ip(self, name: str) -> str:
        return str(self.get("service", name)["spec"]["clusterIP"])

    def node_port(self, name: str) -> int:
        return int(self.get("service", name)["spec"]["ports"][0]["nodePort"])

    def wait(self, check: Callable[[], Any], *, timeout: float = 15, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = check()
            if last:
                return last
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}: {last!r}\n--- proxy log:\n{self.proxy.tail()}")


def service(name: str, *, port: int = 80, type_: str = "ClusterIP", **spec: Any) -> Obj:
    ports = spec.pop("ports", [{"name": "http", "port": port, "targetPort": 8080, "protocol": "TCP"}])
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": type_, "ports": ports, **spec}}


def endpoint_slice(svc: str, *ips: str, name: str = "") -> Obj:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name or f"{svc}-lab", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": svc}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "nodeName": NODE, "conditions": {"ready": True}} for ip in ips]}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    proxylab.require_prerequisites()
    base = tmp_path_factory.mktemp("proxy")
    with proxylab.lab(base / "lab", subnet=SUBNET, service_cidr=SERVICE_CIDR) as lab:
        for name in ("a", "b", "c"):
            lab.add_pod(name)
        srv = start_server(base / "server", "--service-cidr", SERVICE_CIDR, "--service-node-port-range",
                           "29100-29199", "--disable-controller-manager", "--disable-scheduler",
                           "--bind-address", lab.gateway, "--advertise-address", lab.gateway,
                           "--tls-san", lab.gateway)
        proxy = ProxyProcess(kubeconfig=srv.kubeconfig, node=NODE, table=f"pybp{lab.tag}", log=base / "proxy.log")
        e = Env(lab, srv, proxy)
        try:
            e.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE},
                     "spec": {"podCIDR": lab.cidr, "podCIDRs": [lab.cidr]}})
            srv.kubectl("patch", "node", NODE, "--subresource=status", "--type=merge", "-p", json.dumps({
                "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                           "message": "lab", "lastHeartbeatTime": None,
                                           "lastTransitionTime": None}],
                           "addresses": [{"type": "InternalIP", "address": lab.gateway}]}}))
            proxy.start()
            yield e
        finally:
            proxy.stop()
            proxy.delete_table()
            srv.stop()


def ips_in(bodies: list[str]) -> Counter[str]:
    return Counter(b.split()[0] for b in bodies)


def test_clusterip_balances_from_a_pod_and_from_the_host(env: Env) -> None:
    env.apply(service("balance"), endpoint_slice("balance", env.lab.pods["a"].ip, env.lab.pods["b"].ip))
    ip = env.cluster_ip("balance")
    assert ip.startswith("10.99.117.")
    env.wait(lambda: env.lab.get_from_host(ip, 80).split()[0] in ("a", "b"), what="the ClusterIP to answer")
    from_pod = ips_in(env.lab.requests("c", ip, 80, 40))
    assert set(from_pod) == {"a", "b"} and sum(from_pod.values()) == 40, from_pod
    from_host = ips_in([env.lab.get_from_host(ip, 80) for _ in range(40)])
    assert set(from_host) == {"a", "b"}, from_host
    # the pod's own address reaches the endpoint (no masquerade inside the cluster CIDR)
    assert all(b.split()[1] == env.lab.pods["c"].ip for b in env.lab.requests("c", ip, 80, 5))


def test_nodeport_on_loopback_and_on_the_node_address(env: Env) -> None:
    env.apply(service("np", type_="NodePort"), endpoint_slice("np", env.lab.pods["a"].ip, env.lab.pods["b"].ip))
    port = env.node_port("np")
    assert 29100 <= port <= 29199
    env.wait(lambda: env.lab.get_from_host("127.0.0.1", port).split()[0] in ("a", "b"),
             what="the NodePort on 127.0.0.1")
    seen = ips_in([env.lab.get_from_host("127.0.0.1", port) for _ in range(30)])
    assert set(seen) == {"a", "b"}, seen
    from_pod = env.lab.requests("c", env.lab.gateway, port, 10)
    assert set(ips_in(from_pod)) <= {"a", "b"} and len(from_pod) == 10, from_pod
    # NodePort traffic is masqueraded: the endpoint sees the node, not the client
    assert all(b.split()[1] == env.lab.gateway for b in from_pod)


def test_endpoint_removal_stops_traffic_within_a_second(env: Env) -> None:
    a, b = env.lab.pods["a"].ip, env.lab.pods["b"].ip
    env.apply(service("shrink"), endpoint_slice("shrink", a, b))
    ip = env.cluster_ip("shrink")
    env.wait(lambda: set(ips_in([env.lab.get_from_host(ip, 80) for _ in range(20)])) == {"a", "b"},
             what="both endpoints")
    env.apply(endpoint_slice("shrink", a))
    start = time.monotonic()
    env.wait(lambda: "b" not in ips_in([env.lab.get_from_host(ip, 80, timeout=1) for _ in range(5)]),
             timeout=5, what="b to stop getting traffic")
    assert time.monotonic() - start < 1.0 + 0.5         # kubectl's apply returns before the watch event lands
    assert set(ips_in([env.lab.get_from_host(ip, 80) for _ in range(30)])) == {"a"}


def test_session_affinity_sticks(env: Env) -> None:
    env.apply(service("sticky", sessionAffinity="ClientIP",
                      sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}),
              endpoint_slice("sticky", env.lab.pods["a"].ip, env.lab.pods["b"].ip))
    ip = env.cluster_ip("sticky")
    env.wait(lambda: env.lab.get_from_host(ip, 80).split()[0] in ("a", "b"), what="the sticky Service")
    for client in ("c", "a"):
        seen = ips_in(env.lab.requests(client, ip, 80, 20))
        assert len(seen) == 1 and sum(seen.values()) == 20, (client, seen)


def test_hairpin_a_pod_reaches_itself_through_its_service(env: Env) -> None:
    a = env.lab.pods["a"]
    env.apply(service("self"), endpoint_slice("self", a.ip))
    ip = env.cluster_ip("self")
    env.wait(lambda: env.lab.get_from_host(ip, 80).startswith("a "), what="the Service")
    bodies = env.lab.requests("a", ip, 80, 5)
    assert all(body.split()[0] == "a" for body in bodies), bodies
    # masqueraded to the node, else the reply would go straight back inside the pod and be dropped
    assert all(body.split()[1] == env.lab.gateway for body in bodies), bodies


def test_no_endpoints_are_rejected_not_dropped(env: Env) -> None:
    env.apply(service("empty", type_="NodePort"))
    ip, port = env.cluster_ip("empty"), env.node_port("empty")
    env.wait(lambda: env.lab.get_from_host(ip, 80, timeout=1) == "REFUSED", what="a reject")
    start = time.monotonic()
    assert env.lab.requests("c", ip, 80, 1) == ["REFUSED"]
    assert env.lab.get_from_host("127.0.0.1", port) == "REFUSED"
    assert time.monotonic() - start < 1.5                 # a reset, not a timeout


def test_the_kubernetes_service_reaches_the_api_server(env: Env) -> None:
    kube_ip = env.cluster_ip("kubernetes")
    assert kube_ip == "10.99.117.1"
    script = ("import ssl, urllib.request; ctx = ssl.create_default_context(); ctx.check_hostname = False; "
              "ctx.verify_mode = ssl.CERT_NONE; "
              f"print(urllib.request.urlopen('https://{kube_ip}:443/version', context=ctx, timeout=3).read().decode())")

    def version() -> str:
        p = subprocess.run(["ip", "netns", "exec", env.lab.pods["c"].netns, "python3", "-c", script],
                           capture_output=True, text=True, timeout=20)
        return p.stdout
    out = env.wait(version, what="GET /version through the kubernetes Service")
    assert "gitVersion" in json.loads(out)


def test_load_balancer_gets_the_node_address_and_answers_there(env: Env) -> None:
    env.apply(service("lb", type_="LoadBalancer", port=8081), endpoint_slice("lb", env.lab.pods["b"].ip))
    ingress = env.wait(lambda: env.get("service", "lb")["status"].get("loadBalancer", {}).get("ingress"),
                       what="the LoadBalancer ingress")
    assert ingress == [{"ip": env.lab.gateway, "ipMode": "VIP"}]
    env.wait(lambda: env.lab.requests("c", env.lab.gateway, 8081, 1) == [f"b {env.lab.gateway}"],
             what="the LoadBalancer IP to answer")


def test_headless_and_external_name_services_get_no_rules(env: Env) -> None:
    env.apply(service("headless", clusterIP="None"), endpoint_slice("headless", env.lab.pods["a"].ip),
              {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext", "namespace": "default"},
               "spec": {"type": "ExternalName", "externalName": "example.invalid"}},
              service("marker"), endpoint_slice("marker", env.lab.pods["a"].ip))
    marker = env.cluster_ip("marker")
    env.wait(lambda: env.lab.get_from_host(marker, 80).startswith("a "), what="a later Service to be programmed")
    table = subprocess.run(["nft", "list", "table", "ip", env.proxy.table], capture_output=True, text=True).stdout
    assert "default/headless/" not in table and "default/ext/" not in table and "default/marker/" in table


def test_a_restarted_proxy_converges(env: Env) -> None:
    env.apply(service("stays"), endpoint_slice("stays", env.lab.pods["a"].ip),
              service("goes"), endpoint_slice("goes", env.lab.pods["b"].ip))
    stays, goes = env.cluster_ip("stays"), env.cluster_ip("goes")
    env.wait(lambda: env.lab.get_from_host(goes, 80).startswith("b "), what="goes")
    env.proxy.stop()
    assert env.lab.get_from_host(stays, 80).startswith("a ")          # rules outlive the proxy
    env.delete("service", "goes")
    env.apply(service("new"), endpoint_slice("new", env.lab.pods["b"].ip))
    subprocess.run(["nft", "add", "chain", "ip", env.proxy.table, "stale-junk"], check=True)
    env.proxy.start()
    new = env.cluster_ip("new")
    env.wait(lambda: env.lab.get_from_host(new, 80).startswith("b "), what="the new Service after the restart")
    assert env.lab.get_from_host(goes, 80, timeout=1) != f"b {env.lab.gateway}"
    table = subprocess.run(["nft", "list", "table", "ip", env.proxy.table], capture_output=True, text=True).stdout
    assert "stale-junk" not in table and "default/goes/" not in table
    assert env.lab.get_from_host(stays, 80).startswith("a ")


def test_a_udp_flow_follows_its_moved_endpoint(env: Env) -> None:
    """A client keeping its source port (as DNS resolvers do) is one conntrack flow: without clearing it, the
    flow would stick to the endpoint it was first sent to."""
    lab = env.lab
    udp = service("dns", port=53, ports=[{"name": "dns", "port": 53, "targetPort": 8080, "protocol": "UDP"}])
    sl = endpoint_slice("dns", lab.pods["a"].ip)
    sl["ports"] = [{"name": "dns", "port": 8080, "protocol": "UDP"}]
    env.apply(udp, sl)
    ip = env.cluster_ip("dns")
    env.wait(lambda: lab.udp("c", ip, 53, 1, sport=40100)[0].startswith("a "), what="the UDP Service")
    sl["endpoints"][0]["addresses"] = [lab.pods["b"].ip]
    env.apply(sl)
    start = time.monotonic()
    env.wait(lambda: lab.udp("c", ip, 53, 1, sport=40100)[0].startswith("b "), timeout=5,
             what="the flow to reach the new endpoint")
    assert time.monotonic() - start < 2


def pod_object(name: str, ip: str, **labels: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": labels},
            "spec": {"nodeName": NODE, "containers": [{"name": "c", "image": "busybox",
                                                       "ports": [{"name": "http", "containerPort": 8080}]}]}}


def set_pod_ip(env: Env, name: str, ip: str) -> None:
    env.server.kubectl("patch", "pod", name, "--subresource=status", "--type=merge", "-p", json.dumps(
        {"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}}))


def test_network_policy_default_deny_then_allow(env: Env) -> None:
    lab = env.lab
    for name in ("a", "b", "c"):
        env.apply(pod_object(f"pod-{name}", lab.pods[name].ip, app=name))
        set_pod_ip(env, f"pod-{name}", lab.pods[name].ip)
    env.apply(service("guarded"), endpoint_slice("guarded", lab.pods["a"].ip))
    svc = env.cluster_ip("guarded")
    env.wait(lambda: lab.requests("c", lab.pods["a"].ip, 8080, 1)[0].startswith("a "), what="open traffic")
    try:
        env.apply({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                   "metadata": {"name": "default-deny", "namespace": "default"},
                   "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})
        env.wait(lambda: lab.requests("c", lab.pods["a"].ip, 8080, 1, timeout=0.5) == ["TIMEOUT"],
                 what="default deny")
        assert lab.requests("c", svc, 80, 1, timeout=0.5) == ["TIMEOUT"]          # also through the Service
        assert lab.get_from_host(lab.pods["a"].ip, 8080).startswith("a ")         # the node may always reach it
        env.apply({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                   "metadata": {"name": "allow-c", "namespace": "default"},
                   "spec": {"podSelector": {"matchLabels": {"app": "a"}},
                            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "c"}}}],
                                         "ports": [{"port": "http"}]}]}})
        env.wait(lambda: lab.requests("c", lab.pods["a"].ip, 8080, 1)[0].startswith("a "), what="the allow rule")
        assert lab.requests("c", svc, 80, 1)[0].startswith("a ")
        assert lab.requests("b", lab.pods["a"].ip, 8080, 1, timeout=0.5) == ["TIMEOUT"]
        # b takes c's label: the rule follows the pod
        env.server.kubectl("label", "pod", "pod-b", "app=c", "--overwrite")
        env.wait(lambda: lab.requests("b", lab.pods["a"].ip, 8080, 1)[0].startswith("a "), what="b relabelled")
    finally:
        env.delete("networkpolicy", "default-deny", "allow-c")
    env.wait(lambda: lab.requests("b", lab.pods["c"].ip, 8080, 1)[0].startswith("c "), what="policies removed")


def test_egress_policy_blocks_the_source(env: Env) -> None:
    lab = env.lab
    env.apply(pod_object("pod-c", lab.pods["c"].ip, app="c"))
    set_pod_ip(env, "pod-c", lab.pods["c"].ip)
    try:
        env.apply({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                   "metadata": {"name": "c-egress", "namespace": "default"},
                   "spec": {"podSelector": {"matchLabels": {"app": "c"}}, "policyTypes": ["Egress"],
                            "egress": [{"to": [{"ipBlock": {"cidr": lab.cidr,
                                                            "except": [f"{lab.pods['b'].ip}/32"]}}]}]}})
        env.wait(lambda: lab.requests("c", lab.pods["b"].ip, 8080, 1, timeout=0.5) == ["TIMEOUT"],
                 what="egress to b blocked")
        assert lab.requests("c", lab.pods["a"].ip, 8080, 1)[0].startswith("a ")
    finally:
        env.delete("networkpolicy", "c-egress")


def test_proxy_log_has_no_failed_transactions(env: Env) -> None:
    assert "nftables transaction failed" not in env.proxy.log.read_text(errors="replace")
