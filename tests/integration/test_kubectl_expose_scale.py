"""`kubectl expose` (a Service built from the object's selector) and `kubectl scale` (the /scale subresource)."""

from __future__ import annotations

import json
import re
import textwrap

import pytest

from tests.harness import Server

pytestmark = pytest.mark.integration

V = "1.32"

STATEFULSET = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: StatefulSet
    metadata:
      name: db
    spec:
      serviceName: db
      replicas: 1
      selector: {matchLabels: {app: db}}
      template:
        metadata: {labels: {app: db}}
        spec:
          containers: [{name: db, image: postgres}]
    """)

REPLICASET = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: ReplicaSet
    metadata:
      name: rs
    spec:
      replicas: 1
      selector: {matchLabels: {app: rs}}
      template:
        metadata: {labels: {app: rs}}
        spec:
          containers: [{name: c, image: nginx}]
    """)

RC = textwrap.dedent("""\
    apiVersion: v1
    kind: ReplicationController
    metadata:
      name: rc
    spec:
      replicas: 1
      selector: {app: rc}
      template:
        metadata: {labels: {app: rc}}
        spec:
          containers: [{name: c, image: nginx}]
    """)


def get_json(server: Server, ns: str, kind: str, name: str) -> dict:
    return json.loads(server.kubectl("-n", ns, "get", kind, name, "-o", "json", version=V).stdout)


def test_expose_deployment(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx", "--port=8080", version=V)
    out = server.kubectl("-n", ns, "expose", "deployment", "web", "--port=80", "--target-port=8080", version=V).stdout
    assert out == "service/web exposed\n"
    svc = get_json(server, ns, "service", "web")
    assert svc["metadata"]["labels"] == {"app": "web"}
    spec = svc["spec"]
    assert spec["selector"] == {"app": "web"} and spec["type"] == "ClusterIP"
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 8080}]
    assert spec["clusterIP"].startswith("10.43.") and spec["clusterIPs"] == [spec["clusterIP"]]
    assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["sessionAffinity"] == "None" and spec["internalTrafficPolicy"] == "Cluster"

    out = server.kubectl("-n", ns, "expose", "deployment", "web", "--name=web-np", "--type=NodePort", "--port=80",
                         "--protocol=UDP", version=V).stdout
    assert out == "service/web-np exposed\n"
    spec = get_json(server, ns, "service", "web-np")["spec"]
    [port] = spec["ports"]
    assert port["protocol"] == "UDP" and 30000 <= port["nodePort"] <= 32767
    assert spec["externalTrafficPolicy"] == "Cluster"

    p = server.kubectl("-n", ns, "expose", "deployment", "web", "--port=80", version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == 'Error from server (AlreadyExists): services "web" already exists'


def test_expose_pod_and_service(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "run", "p", "--image=nginx", "--labels=app=p,tier=x", version=V)
    server.kubectl("-n", ns, "expose", "pod", "p", "--port=80", "--target-port=9376", version=V)
    svc = get_json(server, ns, "service", "p")
    assert svc["spec"]["selector"] == {"app": "p", "tier": "x"}
    server.kubectl("-n", ns, "expose", "service", "p", "--name=p2", "--port=81", version=V)
    copy = get_json(server, ns, "service", "p2")
    assert copy["spec"]["selector"] == {"app": "p", "tier": "x"}
    assert copy["spec"]["ports"] == [{"port": 81, "protocol": "TCP", "targetPort": 81}]
    assert copy["spec"]["clusterIP"] != svc["spec"]["clusterIP"]


def test_expose_what_cannot_be_exposed(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "create", "configmap", "cfg", version=V)
    p = server.kubectl("-n", ns, "expose", "configmap", "cfg", "--port=80", version=V, check=False)
    assert p.returncode == 1 and p.stderr.strip() == "error: cannot expose a ConfigMap"
    p = server.kubectl("-n", ns, "expose", "deployment", "nope", "--port=80", version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == 'Error from server (NotFound): deployments.apps "nope" not found'


@pytest.mark.parametrize(("manifest", "kind", "name"), [
    (None, "deployment", "web"),
    (STATEFULSET, "statefulset", "db"),
    (REPLICASET, "replicaset", "rs"),
    (RC, "replicationcontroller", "rc"),
], ids=["deployment", "statefulset", "replicaset", "replicationcontroller"])
def test_scale_changes_replicas(server: Server, ns: str, manifest: str | None, kind: str, name: str) -> None:
    if manifest is None:
        server.kubectl("-n", ns, "create", "deployment", name, "--image=nginx", version=V)
    else:
        server.kubectl("-n", ns, "create", "-f", "-", input=manifest, version=V)
    before = get_json(server, ns, kind, name)
    out = server.kubectl("-n", ns, "scale", kind, name, "--replicas=4", version=V).stdout
    assert out.endswith(f"/{name} scaled\n")
    after = get_json(server, ns, kind, name)
    assert after["spec"]["replicas"] == 4
    # Scaling is not a template change: the generation still moves (the spec changed), the template does not.
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
    assert after["spec"]["template"] == before["spec"]["template"]
    out = server.kubectl("-n", ns, "scale", kind, name, "--replicas=0", version=V).stdout
    assert get_json(server, ns, kind, name)["spec"]["replicas"] == 0


def test_scale_reads_and_writes_the_scale_subresource(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx", "--replicas=2", version=V)
    scale = json.loads(server.kubectl("get", "--raw", f"/apis/apps/v1/namespaces/{ns}/deployments/web/scale",
                                      version=V).stdout)
    dep = get_json(server, ns, "deployment", "web")
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["metadata"]["name"] == "web" and scale["metadata"]["uid"] == dep["metadata"]["uid"]
    assert scale["spec"] == {"replicas": 2}
    assert scale["status"]["selector"] == "app=web"


def test_get_scale_and_status_subresources(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx", "--replicas=2", version=V)
    lines = server.kubectl("-n", ns, "get", "deployment", "web", "--subresource=scale", version=V).stdout.splitlines()
    assert lines[0].split() == ["NAME", "DESIRED", "AVAILABLE", "AGE"]  # the Scale's own columns
    assert re.fullmatch(r"web\s+2\s+\d+\s+\d+s", lines[1])
    lines = server.kubectl("-n", ns, "get", "deployment", "web", "--subresource=status", version=V).stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    out = server.kubectl("-n", ns, "get", "deployment", "web", "--subresource=scale", "-o",
                         "jsonpath={.kind} {.spec.replicas}", version=V).stdout
    assert out == "Scale 2"


def test_scale_preconditions_and_errors(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx", version=V)
    p = server.kubectl("-n", ns, "scale", "deployment", "web", "--replicas=3", "--current-replicas=2", version=V,
                       check=False)
    assert p.returncode == 1 and p.stderr.strip() == "error: Expected replicas to be 2, was 1"
    assert get_json(server, ns, "deployment", "web")["spec"]["replicas"] == 1
    server.kubectl("-n", ns, "scale", "deployment", "web", "--replicas=3", "--current-replicas=1", version=V)
    assert get_json(server, ns, "deployment", "web")["spec"]["replicas"] == 3

    rv = get_json(server, ns, "deployment", "web")["metadata"]["resourceVersion"]
    server.kubectl("-n", ns, "label", "deployment", "web", "bump=1", version=V)
    p = server.kubectl("-n", ns, "scale", "deployment", "web", "--replicas=5", f"--resource-version={rv}", version=V,
                       check=False)
    assert p.returncode == 1  # kubectl compares the Scale's resourceVersion (the Deployment's) itself
    assert re.fullmatch(rf"error: Expected resource version to be {rv}, was \d+", p.stderr.strip())
    assert get_json(server, ns, "deployment", "web")["spec"]["replicas"] == 3

    server.kubectl("-n", ns, "create", "configmap", "cfg", version=V)
    p = server.kubectl("-n", ns, "scale", "configmap", "cfg", "--replicas=2", version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == "Error from server (NotFound): the server could not find the requested resource"


def test_scale_several_by_selector(server: Server, ns: str) -> None:
    for name in ("a", "b", "c"):
        server.kubectl("-n", ns, "create", "deployment", name, "--image=nginx", version=V)
    server.kubectl("-n", ns, "label", "deployment", "a", "c", "tier=web", version=V)
    out = server.kubectl("-n", ns, "scale", "deployment", "-l", "tier=web", "--replicas=2", version=V).stdout
    assert out == "deployment.apps/a scaled\ndeployment.apps/c scaled\n"
    replicas = {n: get_json(server, ns, "deployment", n)["spec"]["replicas"] for n in ("a", "b", "c")}
    assert replicas == {"a": 2, "b": 1, "c": 2}
