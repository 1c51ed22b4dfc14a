"""Pod features of a real node through the real kubectl: environment (ConfigMap and Secret keys, envFrom with a
prefix, the downward API, resource limits, Service link variables), volumes (configMap with a subPath, secret
with a mode, downwardAPI, emptyDir on disk and in memory, hostPath), probes (startup exec, readiness httpGet,
liveness tcpSocket to the pod IP; failing readiness and liveness), lifecycle hooks (postStart, preStop on
delete) and the events kubectl shows for them.

Needs root and the Debian packages of ``tools/install-deps.sh`` (outside CI a missing prerequisite skips, in CI
it fails).
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.test_real_node import NODE, Node, ready, running_node, wait_for

from pybernetes.client.rest import ClientConfig

pytestmark = pytest.mark.e2e
NS = "features"
# No ServiceAccount token volume: it needs the kube-root-ca.crt ConfigMap, whose publisher is not started yet.
BASE_SPEC = {"nodeName": NODE, "terminationGracePeriodSeconds": 5, "automountServiceAccountToken": False}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with running_node(tmp_path_factory.mktemp("featurenode")) as n:
        wait_for(lambda: ready(n), what="the node to be Ready", node=n)
        n.server.kubectl("create", "namespace", NS)
        yield n


def apply(node: Node, *objs: dict[str, Any]) -> None:
    for obj in objs:
        node.server.kubectl("apply", "-n", NS, "-f", "-", input=json.dumps(obj))


def status(node: Node, name: str) -> dict[str, Any]:
    return node.kubectl_json("get", "pod", name, "-n", NS).get("status") or {}


def events(node: Node, name: str) -> list[tuple[str, str]]:
    items = node.kubectl_json("get", "events", "-n", NS, "--field-selector", f"involvedObject.name={name}")["items"]
    return [(e.get("reason", ""), e.get("message", "")) for e in items]


def sh(node: Node, pod: str, script: str) -> str:
    return node.server.kubectl("exec", pod, "-n", NS, "--", "sh", "-c", script).stdout


def test_env_volumes_probes_and_hooks(node: Node, tmp_path: Path) -> None:
    host = tmp_path / "host"
    apply(node,
          {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app-config"},
           "data": {"greeting": "hello", "index.html": "<h1>v1</h1>\n", "dotted.key-1": "relaxed"}},
          {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app-secret"},
           "stringData": {"password": "s3cret"}},
          {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "backend"},
           "spec": {"ports": [{"name": "http", "port": 8080}], "selector": {"app": "nothing"}}})
    script = ("mkdir -p /www && cp /etc/cfg/index.html /www/ && env > /data/env && "
              "exec httpd -f -p 8080 -h /www")
    apply(node, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
                 "spec": {**BASE_SPEC, "containers": [{
                     "name": "app", "image": "busybox:latest", "command": ["sh", "-c", script],
                     "ports": [{"name": "http", "containerPort": 8080}],
                     "resources": {"limits": {"memory": "64Mi"}},
                     "envFrom": [{"prefix": "CFG_", "configMapRef": {"name": "app-config"}}],
                     "env": [
                         {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "app-config",
                                                                                "key": "greeting"}}},
                         {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "app-secret",
                                                                             "key": "password"}}},
                         {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                         {"name": "MEM_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory",
                                                                              "divisor": "1Mi"}}},
                         {"name": "MESSAGE", "value": "$(GREETING) from $(POD_IP)"}],
                     "volumeMounts": [
                         {"name": "cfg", "mountPath": "/etc/cfg"},
                         {"name": "cfg", "mountPath": "/etc/greeting", "subPath": "greeting"},
                         {"name": "secret", "mountPath": "/etc/secret"},
                         {"name": "info", "mountPath": "/etc/info"},
                         {"name": "data", "mountPath": "/data"},
                         {"name": "mem", "mountPath": "/mem"},
                         {"name": "host", "mountPath": "/host"}],
                     "startupProbe": {"exec": {"command": ["test", "-f", "/www/index.html"]}, "periodSeconds": 1},
                     "readinessProbe": {"httpGet": {"path": "/index.html", "port": "http"}, "periodSeconds": 1},
                     "livenessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 2},
                     "lifecycle": {
                         "postStart": {"exec": {"command": ["sh", "-c", "echo started > /host/poststart"]}},
                         "preStop": {"exec": {"command": ["sh", "-c", "echo stopping > /host/prestop"]}}}}],
                     "volumes": [
                         {"name": "cfg", "configMap": {"name": "app-config"}},
                         {"name": "secret", "secret": {"secretName": "app-secret", "defaultMode": 0o400}},
                         {"name": "info", "downwardAPI": {"items": [
                             {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
                         {"name": "data", "emptyDir": {}},
                         {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "8Mi"}},
                         {"name": "host", "hostPath": {"path": str(host), "type": "DirectoryOrCreate"}}]}})

    def ready_pod() -> dict[str, Any]:
        st = status(node, "web")
        assert st.get("phase") == "Running", st
        (cs,) = st["containerStatuses"]
        assert cs["ready"] and cs["started"], cs
        return st

    st = wait_for(ready_pod, timeout=120, what="the pod to be ready", node=node)
    ip = st["podIP"]
    env = dict(line.split("=", 1) for line in sh(node, "web", "cat /data/env").splitlines() if "=" in line)
    # busybox sh does not pass on variables whose names are not shell identifiers: ask env itself
    env.update(line.split("=", 1) for line in node.server.kubectl("exec", "web", "-n", NS, "--", "env"
                                                                  ).stdout.splitlines() if "=" in line)
    assert env["GREETING"] == "hello" and env["PASSWORD"] == "s3cret" and env["POD_IP"] == ip
    assert env["MEM_MI"] == "64" and env["MESSAGE"] == f"hello from {ip}"
    assert env["CFG_greeting"] == "hello" and env["CFG_dotted.key-1"] == "relaxed"     # relaxed env var names
    assert env["BACKEND_SERVICE_PORT"] == "8080" and env["BACKEND_SERVICE_PORT_HTTP"] == "8080"
    assert env["BACKEND_PORT_8080_TCP"] == f"tcp://{env['BACKEND_SERVICE_HOST']}:8080"
    assert "KUBERNETES_SERVICE_HOST" in env and env["KUBERNETES_SERVICE_PORT"] == "443"
    assert sh(node, "web", "cat /etc/greeting") == "hello"
    assert sh(node, "web", "stat -L -c %a /etc/secret/password; cat /etc/secret/password") == "400\ns3cret"
    assert sh(node, "web", "cat /etc/info/labels") == 'app="web"'
    assert "tmpfs" in sh(node, "web", "grep ' /mem ' /proc/mounts")
    assert sh(node, "web", "touch /etc/cfg/x 2>&1 || echo read-only").strip().endswith("read-only")
    assert (host / "poststart").read_text() == "started\n"
    node.server.kubectl("delete", "pod", "web", "-n", NS, "--wait=true", timeout=120)
    assert (host / "prestop").read_text() == "stopping\n"


def test_failing_probes(node: Node) -> None:
    apply(node, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sick"},
                 "spec": {**BASE_SPEC, "containers": [{
                     "name": "app", "image": "busybox:latest", "command": ["sleep", "100000"],
                     "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1},
                     "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1,
                                       "failureThreshold": 2}}]}})

    def restarted() -> dict[str, Any]:
        (cs,) = status(node, "sick").get("containerStatuses") or [{}]
        assert cs.get("restartCount", 0) >= 1, cs
        return cs

    cs = wait_for(restarted, timeout=120, what="a restart after the liveness probe failed", node=node)
    assert not cs["ready"]
    evs = events(node, "sick")
    assert ("Killing", "Container app failed liveness probe, will be restarted") in evs
    assert any(r == "Unhealthy" and m.startswith("Liveness probe failed: Get \"http://") and
               m.endswith((":8080: connect: connection refused", "(Client.Timeout exceeded while awaiting headers)"))
               for r, m in evs), evs
    assert any(r == "Unhealthy" and m.startswith("Readiness probe failed: cat: can't open '/tmp/ready'")
               for r, m in evs), evs
    out = node.server.kubectl("get", "pod", "sick", "-n", NS).stdout.split("\n")[1].split()
    assert out[1] == "0/1"
    node.server.kubectl("delete", "pod", "sick", "-n", NS, "--wait=true", timeout=120)


def test_bound_service_account_token(node: Node) -> None:
    """A projected serviceAccountToken comes from the TokenRequest API, bound to the pod: the API server accepts
    it as the pod's ServiceAccount, and stops accepting it once the pod is deleted. Beside it, the cluster CA that
    the root CA publisher keeps in kube-root-ca.crt (a test's own copy of that ConfigMap would be put back)."""
    apply(node, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "identity"},
                 "spec": {**BASE_SPEC, "containers": [{
                     "name": "app", "image": "busybox:latest", "command": ["sleep", "100000"],
                     "volumeMounts": [{"name": "token", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                                       "readOnly": True}]}],
                     "volumes": [{"name": "token", "projected": {"sources": [
                         {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
                         {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                         {"downwardAPI": {"items": [{"path": "namespace",
                                                     "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}}]}})

    def running() -> dict[str, Any]:
        st = status(node, "identity")
        assert st.get("phase") == "Running", st
        return st

    wait_for(running, timeout=120, what="the pod to run", node=node)
    d = "/var/run/secrets/kubernetes.io/serviceaccount"
    ca_pem = ClientConfig.from_kubeconfig(node.server.kubeconfig).ca_pem
    assert ca_pem is not None
    assert sh(node, "identity", f"cat {d}/namespace {d}/ca.crt") == f"{NS}{ca_pem.decode()}"
    token = sh(node, "identity", f"cat {d}/token")
    assert token.count(".") == 2

    tls = ssl.create_default_context(cadata=ca_pem.decode())       # the server's CA only: no client certificate

    def whoami() -> str:
        """SelfSubjectReview with only the bearer token (kubectl would prefer the admin's client certificate)."""
        req = urllib.request.Request(f"{node.server.url}/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                     method="POST", headers={"Authorization": f"Bearer {token}",
                                                             "Content-Type": "application/json"},
                                     data=json.dumps({"apiVersion": "authentication.k8s.io/v1",
                                                      "kind": "SelfSubjectReview"}).encode())
        try:
            with urllib.request.urlopen(req, context=tls, timeout=10) as resp:
                return str(json.load(resp)["status"]["userInfo"]["username"])
        except urllib.error.HTTPError as e:
            assert e.code == 401, e
            return ""

    assert whoami() == f"system:serviceaccount:{NS}:default"
    node.server.kubectl("delete", "pod", "identity", "-n", NS, "--wait=true", timeout=120)
    wait_for(lambda: whoami() == "", timeout=90, what="the token to be refused once its pod is gone", node=node)
