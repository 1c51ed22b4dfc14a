"""Endpoints and EndpointSlices follow ready pods, end to end: a real server (controller manager and scheduler as
its children), ``pybernetes agent --simulated 3`` running the pods, and the real kubectl."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.harness import Server, start_server

pytestmark = pytest.mark.integration

V = "1.32"
PREFIX = "ep-sim-"


def wait_until(what: str, fn: Callable[[], Any], timeout: float = 60.0, every: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = pathlib.Path(tmp_path_factory.mktemp("endpoints"))
    server = start_server(base / "server")
    log = open(base / "agent.log", "wb")
    agent = subprocess.Popen([sys.executable, "-m", "pybernetes", "agent", "--server", server.url, "--token",
                              server.token, "--data-dir", str(base / "agent"), "--simulated", "3",
                              "--node-name-prefix", PREFIX], stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_until("3 Ready nodes", lambda: server.kubectl(
            "get", "nodes", "-o", "jsonpath={.items[*].status.conditions[?(@.type=='Ready')].status}",
            check=False).stdout.split() == ["True"] * 3)
        yield server
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(15)
        except subprocess.TimeoutExpired:
            agent.kill()
        log.close()
        server.stop()


@pytest.fixture()
def ns(srv: Server, request: pytest.FixtureRequest) -> str:
    name = "t-" + request.node.name.lower().replace("_", "-")[:50].strip("-")
    srv.create_namespace(name)         # with its default ServiceAccount and kube-root-ca.crt
    return name


def get_json(srv: Server, *args: str) -> Any:
    return json.loads(srv.kubectl(*args, "-o", "json", version=V).stdout)


def running_pods(srv: Server, ns: str, selector: str) -> dict[str, str]:
    pods = get_json(srv, "-n", ns, "get", "pods", "-l", selector)["items"]
    return {p["metadata"]["name"]: p["status"].get("podIP", "") for p in pods
            if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")}


def endpoint_ips(srv: Server, ns: str, name: str) -> dict[int, set[str]]:
    ep = get_json(srv, "-n", ns, "get", "endpoints", name)
    out: dict[int, set[str]] = {}
    for s in ep.get("subsets") or ():
        for p in s.get("ports") or ():
            out.setdefault(p["port"], set()).update(a["ip"] for a in s.get("addresses") or ())
    return out


def slices_of(srv: Server, ns: str, svc: str) -> list[dict]:
    return get_json(srv, "-n", ns, "get", "endpointslices", "-l", f"kubernetes.io/service-name={svc}")["items"]


def deployment(name: str, *, labels: dict[str, str], port: int, replicas: int) -> str:
    return json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": {
        "replicas": replicas, "selector": {"matchLabels": {**labels, "deploy": name}},
        "template": {"metadata": {"labels": {**labels, "deploy": name}}, "spec": {"containers": [
            {"name": "app", "image": "nginx:1.25", "ports": [{"name": "http", "containerPort": port}]}]}}}})


def service(name: str, selector: dict[str, str], **spec: Any) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": {"team": "a"}},
                       "spec": {"selector": selector, "ports": [{"name": "web", "port": 80, "targetPort": "http"}],
                                **spec}})


def test_endpoints_follow_ready_pods_with_named_ports(srv: Server, ns: str) -> None:
    srv.kubectl("-n", ns, "apply", "-f", "-", input=deployment("web", labels={"app": "web"}, port=8080, replicas=2))
    srv.kubectl("-n", ns, "apply", "-f", "-", input=service("web", {"app": "web"}))
    pods = wait_until("2 running pods", lambda: (p := running_pods(srv, ns, "app=web")) and len(p) == 2 and p)
    want = {8080: set(pods.values())}
    wait_until("Endpoints listing the pods", lambda: endpoint_ips(srv, ns, "web") == want)

    ep = get_json(srv, "-n", ns, "get", "endpoints", "web")
    assert ep["metadata"]["labels"] == {"team": "a"}
    assert "endpoints.kubernetes.io/last-change-trigger-time" in ep["metadata"]["annotations"]
    (subset,) = ep["subsets"]
    assert subset["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
    for a in subset["addresses"]:
        assert a["nodeName"].startswith(PREFIX)
        assert a["targetRef"]["kind"] == "Pod" and a["targetRef"]["name"] in pods

    (sl,) = wait_until("one EndpointSlice with both pods", lambda: (s := slices_of(srv, ns, "web"))
                       and len(s) == 1 and len(s[0].get("endpoints") or ()) == 2 and s)
    assert sl["addressType"] == "IPv4"
    assert sl["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
    assert sl["metadata"]["labels"]["team"] == "a"
    assert sl["ports"] == [{"name": "web", "protocol": "TCP", "port": 8080}]
    assert all(e["conditions"] == {"ready": True, "serving": True, "terminating": False} for e in sl["endpoints"])
    assert {e["addresses"][0] for e in sl["endpoints"]} == set(pods.values())

    # kubectl shows them the way it shows a real cluster's
    out = srv.kubectl("-n", ns, "get", "endpoints", "web", version=V).stdout
    assert all(f"{ip}:8080" in out for ip in pods.values())

    srv.kubectl("-n", ns, "scale", "deployment", "web", "--replicas=4")
    pods = wait_until("4 running pods", lambda: (p := running_pods(srv, ns, "app=web")) and len(p) == 4 and p)
    wait_until("Endpoints with 4 pods", lambda: endpoint_ips(srv, ns, "web") == {8080: set(pods.values())})
    wait_until("EndpointSlice with 4 pods", lambda: {e["addresses"][0] for s in slices_of(srv, ns, "web")
                                                     for e in s.get("endpoints") or ()} == set(pods.values()))

    victim = sorted(pods)[0]
    srv.kubectl("-n", ns, "delete", "pod", victim, "--wait=false")
    wait_until("the deleted pod gone from the Endpoints",
               lambda: pods[victim] not in endpoint_ips(srv, ns, "web").get(8080, set()))


def test_named_port_resolved_per_pod(srv: Server, ns: str) -> None:
    srv.kubectl("-n", ns, "apply", "-f", "-", input=deployment("old", labels={"app": "mix"}, port=8080, replicas=1))
    srv.kubectl("-n", ns, "apply", "-f", "-", input=deployment("new", labels={"app": "mix"}, port=9090, replicas=1))
    srv.kubectl("-n", ns, "apply", "-f", "-", input=service("mix", {"app": "mix"}))
    old = wait_until("old pod", lambda: running_pods(srv, ns, "deploy=old"))
    new = wait_until("new pod", lambda: running_pods(srv, ns, "deploy=new"))
    wait_until("one subset per resolved port", lambda: endpoint_ips(srv, ns, "mix") == {
        8080: set(old.values()), 9090: set(new.values())})
    got = wait_until("one slice per port list", lambda: (s := slices_of(srv, ns, "mix")) and len(s) == 2 and s)
    assert sorted(s["ports"][0]["port"] for s in got) == [8080, 9090]


def test_headless_service_publishes_hostnames(srv: Server, ns: str) -> None:
    for i in range(2):
        srv.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"db-{i}", "labels": {"app": "db"}},
            "spec": {"hostname": f"db-{i}", "subdomain": "db", "containers": [{"name": "c", "image": "busybox"}]}}))
    srv.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
        "spec": {"clusterIP": "None", "selector": {"app": "db"}}}))
    pods = wait_until("2 db pods", lambda: (p := running_pods(srv, ns, "app=db")) and len(p) == 2 and p)

    def hostnames() -> dict[str, str]:
        ep = get_json(srv, "-n", ns, "get", "endpoints", "db")
        return {a.get("hostname", ""): a["ip"] for s in ep.get("subsets") or () for a in s.get("addresses") or ()}
    wait_until("hostnames in the Endpoints", lambda: hostnames() == {"db-0": pods["db-0"], "db-1": pods["db-1"]})
    ep = get_json(srv, "-n", ns, "get", "endpoints", "db")
    assert ep["metadata"]["labels"] == {"service.kubernetes.io/headless": ""}
    assert "ports" not in ep["subsets"][0]
    (sl,) = wait_until("slice", lambda: (s := slices_of(srv, ns, "db")) and s[0].get("endpoints") and s)
    assert {e.get("hostname") for e in sl["endpoints"]} == {"db-0", "db-1"}
    assert sl["metadata"]["labels"]["service.kubernetes.io/headless"] == ""


def test_selectorless_service_endpoints_are_left_alone(srv: Server, ns: str) -> None:
    srv.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "external"},
        "spec": {"ports": [{"port": 80}]}}))
    srv.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "external"},
        "subsets": [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"port": 80}]}]}))
    srv.kubectl("-n", ns, "label", "service", "external", "touched=yes")     # a Service event for the controllers
    time.sleep(2)
    ep = get_json(srv, "-n", ns, "get", "endpoints", "external")
    assert ep["subsets"] == [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"port": 80, "protocol": "TCP"}]}]
    assert slices_of(srv, ns, "external") == []
