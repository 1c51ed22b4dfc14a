"""Workloads end to end through the real kubectl: Deployments (create, scale, set image, rollout
status/history/undo/restart/pause/resume), ReplicaSets and ReplicationControllers healing themselves, the garbage
collector (background, foreground and orphan cascades) and namespace deletion. A real server runs the controller
manager and scheduler as children; ``pybernetes agent --simulated 3`` runs the pods."""

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
PREFIX = "wl-sim-"


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
    base = pathlib.Path(tmp_path_factory.mktemp("workloads"))
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
    raw = request.node.name.lower().removeprefix("test_")
    name = "wl-" + "".join(c if c.isalnum() else "-" for c in raw)[:50].strip("-")
    srv.create_namespace(name)         # with its default ServiceAccount and kube-root-ca.crt
    return name


def get_json(srv: Server, *args: str) -> Any:
    return json.loads(srv.kubectl(*args, "-o", "json", version=V).stdout)


def pods(srv: Server, ns: str, selector: str = "app=nginx") -> list[dict]:
    return [p for p in get_json(srv, "-n", ns, "get", "pods", "-l", selector)["items"]
            if not p["metadata"].get("deletionTimestamp")]


def running(srv: Server, ns: str, selector: str = "app=nginx") -> list[dict]:
    return [p for p in pods(srv, ns, selector) if p["status"].get("phase") == "Running"]


def replicasets(srv: Server, ns: str) -> list[dict]:
    return get_json(srv, "-n", ns, "get", "replicasets")["items"]


def images(objs: list[dict]) -> set[str]:
    spec = lambda o: o["spec"]["template"]["spec"] if "template" in o["spec"] else o["spec"]  # noqa: E731
    return {c["image"] for o in objs for c in spec(o)["containers"]}


def create_nginx(srv: Server, ns: str, replicas: int = 3) -> None:
    srv.kubectl("-n", ns, "create", "deployment", "nginx", "--image=nginx:1.19.1", version=V)
    srv.kubectl("-n", ns, "scale", "deployment", "nginx", f"--replicas={replicas}", version=V)
    wait_until(f"{replicas} running pods", lambda: len(running(srv, ns)) == replicas)
    srv.kubectl("-n", ns, "rollout", "status", "deployment/nginx", "--timeout=60s", version=V, timeout=90)


def test_create_scale_and_rollout_status(srv: Server, ns: str) -> None:
    create_nginx(srv, ns)
    live = running(srv, ns)
    assert len(live) == 3 and images(live) == {"nginx:1.19.1"}
    assert len({p["spec"]["nodeName"] for p in live}) >= 2                 # spread over the simulated nodes
    [rs] = replicasets(srv, ns)
    pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"nginx-{pod_hash}"
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert rs["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    assert all(p["metadata"]["name"].startswith(f"nginx-{pod_hash}-") for p in live)
    assert all(p["metadata"]["ownerReferences"][0] == {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs["metadata"]["name"], "uid": rs["metadata"]["uid"],
        "controller": True, "blockOwnerDeletion": True} for p in live)
    d = get_json(srv, "-n", ns, "get", "deployment", "nginx")
    st = d["status"]
    assert st["observedGeneration"] == d["metadata"]["generation"]
    assert (st["replicas"], st["updatedReplicas"], st["readyReplicas"], st["availableReplicas"]) == (3, 3, 3, 3)
    conds = {c["type"]: c for c in st["conditions"]}
    assert (conds["Available"]["status"], conds["Available"]["reason"]) == ("True", "MinimumReplicasAvailable")
    assert conds["Progressing"]["message"] == f'ReplicaSet "nginx-{pod_hash}" has successfully progressed.'
    srv.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod", "-l", "app=nginx", "--timeout=30s", version=V)
    out = srv.kubectl("-n", ns, "rollout", "status", "deployment/nginx", version="1.27").stdout
    assert out.strip() == 'deployment "nginx" successfully rolled out'
    events = srv.kubectl("-n", ns, "describe", "deployment", "nginx", version=V).stdout
    assert f"Scaled up replica set nginx-{pod_hash} from 0 to 1" in events
    assert f"Scaled up replica set nginx-{pod_hash} from 1 to 3" in events
    assert "deployment-controller" in events


def test_set_image_history_undo_restart(srv: Server, ns: str) -> None:
    create_nginx(srv, ns)
    srv.kubectl("-n", ns, "set", "image", "deployment/nginx", "nginx=nginx:1.20", version=V)
    out = srv.kubectl("-n", ns, "rollout", "status", "deployment/nginx", "--timeout=60s", version=V,
                      timeout=90).stdout
    assert 'deployment "nginx" successfully rolled out' in out
    wait_until("only new pods", lambda: images(running(srv, ns)) == {"nginx:1.20"} and len(pods(srv, ns)) == 3)
    history = srv.kubectl("-n", ns, "rollout", "history", "deployment/nginx", version=V).stdout.split()
    assert history[history.index("REVISION"):] == ["REVISION", "CHANGE-CAUSE", "1", "<none>", "2", "<none>"]
    rev1 = srv.kubectl("-n", ns, "rollout", "history", "deployment/nginx", "--revision=1", version=V).stdout
    assert "nginx:1.19.1" in rev1
    srv.kubectl("-n", ns, "rollout", "undo", "deployment/nginx", version=V)
    srv.kubectl("-n", ns, "rollout", "status", "deployment/nginx", "--timeout=60s", version=V, timeout=90)
    wait_until("the old image back", lambda: images(running(srv, ns)) == {"nginx:1.19.1"}
               and len(pods(srv, ns)) == 3)
    sets = replicasets(srv, ns)
    assert len(sets) == 2                                   # the first ReplicaSet came back: revision 3
    by_image = {next(iter(images([r]))): r for r in sets}
    ann = by_image["nginx:1.19.1"]["metadata"]["annotations"]
    assert (ann["deployment.kubernetes.io/revision"], ann["deployment.kubernetes.io/revision-history"]) == ("3", "1")
    assert by_image["nginx:1.20"]["spec"]["replicas"] == 0
    srv.kubectl("-n", ns, "rollout", "restart", "deployment/nginx", version=V)
    srv.kubectl("-n", ns, "rollout", "status", "deployment/nginx", "--timeout=60s", version=V, timeout=90)
    sets = replicasets(srv, ns)
    assert len(sets) == 3
    newest = max(sets, key=lambda r: int(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]))
    assert "kubectl.kubernetes.io/restartedAt" in newest["spec"]["template"]["metadata"]["annotations"]
    assert newest["spec"]["replicas"] == 3


def test_pause_and_resume(srv: Server, ns: str) -> None:
    create_nginx(srv, ns, replicas=2)
    srv.kubectl("-n", ns, "rollout", "pause", "deployment/nginx", version=V)
    srv.kubectl("-n", ns, "set", "image", "deployment/nginx", "nginx=nginx:1.21", version=V)
    wait_until("the paused condition", lambda: any(
        c["reason"] == "DeploymentPaused" for c in get_json(srv, "-n", ns, "get", "deployment", "nginx")
        ["status"].get("conditions", [])))
    assert len(replicasets(srv, ns)) == 1                   # paused: no rollout
    srv.kubectl("-n", ns, "rollout", "resume", "deployment/nginx", version=V)
    srv.kubectl("-n", ns, "rollout", "status", "deployment/nginx", "--timeout=60s", version=V, timeout=90)
    wait_until("the new image", lambda: images(running(srv, ns)) == {"nginx:1.21"} and len(pods(srv, ns)) == 2)


def test_deleted_pod_is_replaced(srv: Server, ns: str) -> None:
    create_nginx(srv, ns)
    victim = running(srv, ns)[0]["metadata"]["name"]
    srv.kubectl("-n", ns, "delete", "pod", victim, version=V, timeout=90)
    wait_until("3 running pods again", lambda: len(running(srv, ns)) == 3
               and victim not in {p["metadata"]["name"] for p in running(srv, ns)})


def test_replication_controller_keeps_its_replicas(srv: Server, ns: str) -> None:
    rc = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "web"},
          "spec": {"replicas": 2, "selector": {"app": "web"}, "template": {
              "metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    srv.kubectl("-n", ns, "create", "-f", "-", input=json.dumps(rc), version=V)
    wait_until("2 running pods", lambda: len(running(srv, ns, "app=web")) == 2)
    srv.kubectl("-n", ns, "scale", "rc", "web", "--replicas=3", version=V)
    wait_until("3 running pods", lambda: len(running(srv, ns, "app=web")) == 3)
    wait_until("the rc status", lambda: get_json(srv, "-n", ns, "get", "rc", "web")["status"].get("readyReplicas")
               == 3)
    srv.kubectl("-n", ns, "scale", "rc", "web", "--replicas=1", version=V)
    wait_until("1 pod", lambda: len(pods(srv, ns, "app=web")) == 1)


def test_deleting_a_deployment_collects_its_replica_sets_and_pods(srv: Server, ns: str) -> None:
    create_nginx(srv, ns, replicas=2)
    srv.kubectl("-n", ns, "delete", "deployment", "nginx", version=V, timeout=90)
    wait_until("no replica sets", lambda: not replicasets(srv, ns))
    wait_until("no pods", lambda: not get_json(srv, "-n", ns, "get", "pods")["items"], timeout=90)


def test_cascade_foreground_deletes_dependents_before_the_owner(srv: Server, ns: str) -> None:
    create_nginx(srv, ns, replicas=2)
    srv.kubectl("-n", ns, "delete", "deployment", "nginx", "--cascade=foreground", version=V, timeout=120)
    # kubectl waited for the Deployment to be gone; in the foreground it goes last.
    assert not replicasets(srv, ns)
    assert not get_json(srv, "-n", ns, "get", "pods")["items"]


def test_cascade_orphan_keeps_dependents(srv: Server, ns: str) -> None:
    create_nginx(srv, ns, replicas=2)
    [rs] = replicasets(srv, ns)
    srv.kubectl("-n", ns, "delete", "deployment", "nginx", "--cascade=orphan", version=V, timeout=90)
    wait_until("the orphaned replica set", lambda: [r for r in replicasets(srv, ns)
                                                    if not r["metadata"].get("ownerReferences")])
    [left] = replicasets(srv, ns)
    assert left["metadata"]["uid"] == rs["metadata"]["uid"]
    live = running(srv, ns)
    assert len(live) == 2 and all(p["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"] for p in live)
    time.sleep(2)
    assert len(running(srv, ns)) == 2                        # nothing collects them later either


def test_deleting_a_namespace_removes_its_contents_then_the_namespace(srv: Server) -> None:
    name = "wl-ns-delete"
    srv.kubectl("create", "namespace", name)
    create_nginx(srv, name, replicas=2)
    srv.kubectl("-n", name, "create", "configmap", "cfg", "--from-literal=a=b", version=V)
    srv.kubectl("delete", "namespace", name, version=V, timeout=120)
    assert srv.kubectl("get", "namespace", name, check=False, version=V).returncode != 0
    for kind in ("deployments", "replicasets", "pods", "configmaps"):
        items = get_json(srv, "get", kind, "-A")["items"]
        assert not [o for o in items if o["metadata"]["namespace"] == name], kind


def test_custom_resources_own_and_are_collected(srv: Server, ns: str) -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.gc.example.com"},
           "spec": {"group": "gc.example.com", "scope": "Namespaced",
                    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                        "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}
    srv.kubectl("apply", "-f", "-", input=json.dumps(crd), version=V)
    srv.kubectl("wait", "--for=condition=Established", "crd/widgets.gc.example.com", "--timeout=30s", version=V)
    wait_until("widgets served", lambda: srv.kubectl("-n", ns, "get", "widgets", check=False,
                                                     version=V).returncode == 0)
    owner = json.loads(srv.kubectl("-n", ns, "create", "-f", "-", "-o", "json", version=V, input=json.dumps(
        {"apiVersion": "gc.example.com/v1", "kind": "Widget", "metadata": {"name": "owner"}})).stdout)
    ref = {"apiVersion": "gc.example.com/v1", "kind": "Widget", "name": "owner", "uid": owner["metadata"]["uid"]}
    srv.kubectl("-n", ns, "create", "-f", "-", version=V, input=json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owned", "ownerReferences": [ref]}}))
    srv.kubectl("-n", ns, "create", "-f", "-", version=V, input=json.dumps(
        {"apiVersion": "gc.example.com/v1", "kind": "Widget", "metadata": {"name": "child",
                                                                        "ownerReferences": [ref]}}))
    srv.kubectl("-n", ns, "delete", "widget", "owner", version=V)
    wait_until("the owned ConfigMap collected", lambda: srv.kubectl("-n", ns, "get", "configmap", "owned",
                                                                    check=False, version=V).returncode != 0)
    wait_until("the owned Widget collected", lambda: srv.kubectl("-n", ns, "get", "widget", "child",
                                                                 check=False, version=V).returncode != 0)
    srv.kubectl("delete", "crd", "widgets.gc.example.com", version=V, timeout=90)


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_rollout_with_other_kubectl_versions(srv: Server, ns: str, version: str) -> None:
    srv.kubectl("-n", ns, "create", "deployment", "nginx", "--image=nginx:1.19.1", "--replicas=2", version=version)
    srv.kubectl("-n", ns, "rollout", "status", "deployment/nginx", "--timeout=60s", version=version, timeout=90)
    srv.kubectl("-n", ns, "set", "image", "deployment/nginx", "nginx=nginx:1.20", version=version)
    srv.kubectl("-n", ns, "rollout", "status", "deployment/nginx", "--timeout=60s", version=version, timeout=90)
    srv.kubectl("-n", ns, "rollout", "undo", "deployment/nginx", version=version)
    out = srv.kubectl("-n", ns, "rollout", "status", "deployment/nginx", "--timeout=60s", version=version,
                      timeout=90).stdout
    assert 'deployment "nginx" successfully rolled out' in out
    wait_until("the first image back", lambda: images(running(srv, ns)) == {"nginx:1.19.1"}
               and len(pods(srv, ns)) == 2)
    history = srv.kubectl("-n", ns, "rollout", "history", "deployment/nginx", version=version).stdout.split()
    assert history[history.index("REVISION"):] == ["REVISION", "CHANGE-CAUSE", "2", "<none>", "3", "<none>"]
