"""`kubectl apply`, client-side (last-applied annotation + strategic merge patch) and `--server-side`."""

from __future__ import annotations

import json
import pathlib
import textwrap

import pytest

from tests.harness import Server

pytestmark = pytest.mark.integration

V = "1.32"
SAMPLE_VERSIONS = ["1.32", "1.27", "1.30", "1.33"]
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

DEPLOYMENT = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      labels: {app: web}
    spec:
      replicas: 2
      selector:
        matchLabels: {app: web}
      template:
        metadata:
          labels: {app: web}
        spec:
          containers:
          - name: web
            image: nginx:1.25
            env:
            - {name: MODE, value: blue}
            - {name: LEVEL, value: "3"}
          - name: sidecar
            image: busybox:1.36
            command: [sleep, "3600"]
    """)

# The same Deployment, edited: replicas changed, one env var and the sidecar removed, a label added.
DEPLOYMENT_CHANGED = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      labels: {app: web, tier: frontend}
    spec:
      replicas: 3
      selector:
        matchLabels: {app: web}
      template:
        metadata:
          labels: {app: web}
        spec:
          containers:
          - name: web
            image: nginx:1.26
            env:
            - {name: LEVEL, value: "4"}
    """)

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: \"1\"\n  b: \"2\"\n"


def get_json(server: Server, ns: str, *what: str, version: str = V, managed: bool = False) -> dict:
    extra = ["--show-managed-fields"] if managed else []
    return json.loads(server.kubectl("-n", ns, "get", *what, "-o", "json", *extra, version=version).stdout)


def write(tmp_path: pathlib.Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def assert_changed_deployment(dep: dict) -> None:
    assert dep["metadata"]["labels"] == {"app": "web", "tier": "frontend"}
    assert dep["spec"]["replicas"] == 3
    containers = dep["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web"]
    assert containers[0]["image"] == "nginx:1.26"
    assert containers[0]["env"] == [{"name": "LEVEL", "value": "4"}]
    assert dep["metadata"]["generation"] == 2


@pytest.mark.parametrize("version", SAMPLE_VERSIONS)
def test_csa_create_unchanged_configure(server: Server, ns: str, tmp_path: pathlib.Path,
                                                      version: str) -> None:
    path = write(tmp_path, "dep.yaml", DEPLOYMENT)
    assert server.kubectl("-n", ns, "apply", "-f", path, version=version).stdout == "deployment.apps/web created\n"
    dep = get_json(server, ns, "deployment", "web", version=version)
    applied = json.loads(dep["metadata"]["annotations"][LAST_APPLIED])
    assert applied["spec"]["replicas"] == 2 and applied["metadata"] == {
        "annotations": {}, "labels": {"app": "web"}, "name": "web", "namespace": ns}
    assert len(dep["spec"]["template"]["spec"]["containers"]) == 2

    out = server.kubectl("-n", ns, "apply", "-f", path, version=version).stdout
    assert out == "deployment.apps/web unchanged\n"
    again = get_json(server, ns, "deployment", "web", version=version)
    assert again["metadata"]["generation"] == dep["metadata"]["generation"] and again["spec"] == dep["spec"]

    path = write(tmp_path, "dep.yaml", DEPLOYMENT_CHANGED)
    out = server.kubectl("-n", ns, "apply", "-f", path, version=version).stdout
    assert out == "deployment.apps/web configured\n"
    dep = get_json(server, ns, "deployment", "web", version=version)
    assert_changed_deployment(dep)  # removed fields were pruned through the last-applied annotation
    assert json.loads(dep["metadata"]["annotations"][LAST_APPLIED])["spec"]["replicas"] == 3


def test_client_side_apply_keeps_fields_set_by_others(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "cm.yaml", CONFIGMAP)
    server.kubectl("-n", ns, "apply", "-f", path, version=V)
    server.kubectl("-n", ns, "patch", "configmap", "cfg", "-p", '{"data":{"extra":"x"}}', version=V)
    server.kubectl("-n", ns, "label", "configmap", "cfg", "owner=someone", version=V)
    path = write(tmp_path, "cm.yaml", CONFIGMAP.replace('b: "2"', 'b: "20"'))
    assert server.kubectl("-n", ns, "apply", "-f", path, version=V).stdout == "configmap/cfg configured\n"
    cm = get_json(server, ns, "configmap", "cfg")
    assert cm["data"] == {"a": "1", "b": "20", "extra": "x"}
    assert cm["metadata"]["labels"] == {"owner": "someone"}


@pytest.mark.parametrize("version", SAMPLE_VERSIONS)
def test_ssa_create_reapply_changed(server: Server, ns: str, tmp_path: pathlib.Path,
                                                           version: str) -> None:
    path = write(tmp_path, "dep.yaml", DEPLOYMENT)
    out = server.kubectl("-n", ns, "apply", "--server-side", "-f", path, version=version).stdout
    assert out == "deployment.apps/web serverside-applied\n"
    dep = get_json(server, ns, "deployment", "web", version=version, managed=True)
    assert LAST_APPLIED not in dep["metadata"].get("annotations", {})
    # (a deployment controller, when one runs, adds its own entry for the status subresource)
    [entry] = [e for e in dep["metadata"]["managedFields"] if e["manager"] == "kubectl"]
    assert entry["operation"] == "Apply" and entry["fieldsType"] == "FieldsV1" and "subresource" not in entry
    fields = entry["fieldsV1"]
    assert "f:replicas" in fields["f:spec"]
    assert set(fields["f:spec"]["f:template"]["f:spec"]["f:containers"]) == {'k:{"name":"web"}',
                                                                              'k:{"name":"sidecar"}'}

    path = write(tmp_path, "dep.yaml", DEPLOYMENT_CHANGED)
    out = server.kubectl("-n", ns, "apply", "--server-side", "-f", path, version=version).stdout
    assert out == "deployment.apps/web serverside-applied\n"
    dep = get_json(server, ns, "deployment", "web", version=version)
    assert_changed_deployment(dep)  # fields the manager stopped applying are removed


def test_server_side_apply_conflict_and_force(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "cm.yaml", CONFIGMAP)
    server.kubectl("-n", ns, "apply", "--server-side", "--field-manager=other", "-f", path, version=V)
    path = write(tmp_path, "cm.yaml", CONFIGMAP.replace('b: "2"', 'b: "3"'))
    p = server.kubectl("-n", ns, "apply", "--server-side", "-f", path, version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.startswith('error: Apply failed with 1 conflict: conflict with "other": .data.b\n')
    assert get_json(server, ns, "configmap", "cfg")["data"] == {"a": "1", "b": "2"}

    out = server.kubectl("-n", ns, "apply", "--server-side", "--force-conflicts", "-f", path, version=V).stdout
    assert out == "configmap/cfg serverside-applied\n"
    cm = get_json(server, ns, "configmap", "cfg", managed=True)
    assert cm["data"] == {"a": "1", "b": "3"}
    owners = {e["manager"]: e["fieldsV1"] for e in cm["metadata"]["managedFields"]}
    assert owners["kubectl"] == {"f:data": {"f:a": {}, "f:b": {}}}
    assert owners["other"] == {"f:data": {"f:a": {}}}  # co-owns the unchanged value, lost the forced one


def test_server_side_apply_conflict_with_scale(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "dep.yaml", DEPLOYMENT)
    server.kubectl("-n", ns, "apply", "--server-side", "-f", path, version=V)
    server.kubectl("-n", ns, "scale", "deployment", "web", "--replicas=5", version=V)
    p = server.kubectl("-n", ns, "apply", "--server-side", "-f", path, version=V, check=False)
    assert p.returncode == 1
    # kubectl sends no fieldManager for scale: the server names the manager after the User-Agent's program name.
    assert p.stderr.startswith('error: Apply failed with 1 conflict: conflict with "kubectl.1.32" with subresource '
                               '"scale" using apps/v1: .spec.replicas\n')
    assert get_json(server, ns, "deployment", "web")["spec"]["replicas"] == 5


@pytest.mark.parametrize("server_side", [False, True])
def test_apply_dry_run_server_changes_nothing(server: Server, ns: str, tmp_path: pathlib.Path,
                                              server_side: bool) -> None:
    path = write(tmp_path, "cm.yaml", CONFIGMAP)
    mode = ["--server-side"] if server_side else []
    out = server.kubectl("-n", ns, "apply", *mode, "--dry-run=server", "-f", path, version=V).stdout
    assert out == ("configmap/cfg serverside-applied (server dry run)\n" if server_side
                   else "configmap/cfg created (server dry run)\n")
    # nothing but the namespace's own kube-root-ca.crt (every namespace has it, as in real Kubernetes)
    assert server.kubectl("-n", ns, "get", "configmaps", "-o", "name", version=V).stdout == \
        "configmap/kube-root-ca.crt\n"

    server.kubectl("-n", ns, "apply", *mode, "-f", path, version=V)
    before = get_json(server, ns, "configmap", "cfg")
    path = write(tmp_path, "cm.yaml", CONFIGMAP.replace('b: "2"', 'b: "3"'))
    out = server.kubectl("-n", ns, "apply", *mode, "--dry-run=server", "-f", path, "-o", "json", version=V).stdout
    assert json.loads(out)["data"]["b"] == "3"
    after = get_json(server, ns, "configmap", "cfg")
    assert after["data"]["b"] == "2"
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_apply_directory_of_mixed_kinds(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    service = textwrap.dedent("""\
        apiVersion: v1
        kind: Service
        metadata:
          name: web
        spec:
          selector: {app: web}
          ports:
          - port: 80
            targetPort: 8080
        """)
    write(tmp_path, "a-deployment.yaml", DEPLOYMENT)
    write(tmp_path, "b-service.yaml", service)
    write(tmp_path, "c-configmap.yaml", CONFIGMAP)
    out = server.kubectl("-n", ns, "apply", "-f", str(tmp_path), version=V).stdout
    assert out == "deployment.apps/web created\nservice/web created\nconfigmap/cfg created\n"
    svc = get_json(server, ns, "service", "web")
    assert svc["spec"]["type"] == "ClusterIP" and svc["spec"]["clusterIP"].startswith("10.43.")
    assert svc["spec"]["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 8080}]
    out = server.kubectl("-n", ns, "apply", "-f", str(tmp_path), version=V).stdout
    assert out == "deployment.apps/web unchanged\nservice/web unchanged\nconfigmap/cfg unchanged\n"
    # The allocated ClusterIP survives a re-apply of a manifest that does not mention it.
    assert get_json(server, ns, "service", "web")["spec"]["clusterIP"] == svc["spec"]["clusterIP"]


def test_client_side_then_server_side_apply(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "cm.yaml", CONFIGMAP)
    server.kubectl("-n", ns, "apply", "-f", path, version=V)
    path = write(tmp_path, "cm.yaml", CONFIGMAP.replace('b: "2"\n', ""))
    out = server.kubectl("-n", ns, "apply", "--server-side", "-f", path, version=V).stdout
    assert out == "configmap/cfg serverside-applied\n"
    cm = get_json(server, ns, "configmap", "cfg", managed=True)
    # kubectl migrated the client-side ownership to the server-side manager, so b was dropped; kubectl keeps
    # the last-applied annotation up to date under its own manager.
    assert cm["data"] == {"a": "1"}
    assert {e["manager"] for e in cm["metadata"]["managedFields"]} == {"kubectl", "kubectl-last-applied"}
    assert json.loads(cm["metadata"]["annotations"][LAST_APPLIED])["data"] == {"a": "1"}


def test_apply_invalid_change_is_rejected_and_nothing_changes(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "dep.yaml", DEPLOYMENT)
    server.kubectl("-n", ns, "apply", "-f", path, version=V)
    path = write(tmp_path, "dep.yaml", DEPLOYMENT.replace("replicas: 2", "replicas: -1"))
    p = server.kubectl("-n", ns, "apply", "-f", path, version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == ('The Deployment "web" is invalid: spec.replicas: Invalid value: -1: '
                                'must be greater than or equal to 0')
    assert get_json(server, ns, "deployment", "web")["spec"]["replicas"] == 2


def test_client_side_apply_list_merge_keys_and_retain_keys(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    """kubectl computes `$setElementOrder`, deletions by merge key and `$retainKeys` patches; the server applies
    them with upstream's merge keys (Service ports by port+protocol, strategy retaining only `type`)."""
    service = textwrap.dedent("""\
        apiVersion: v1
        kind: Service
        metadata: {name: s}
        spec:
          selector: {app: s}
          ports:
          - {name: http, port: 80, targetPort: 8080}
          - {name: https, port: 443, targetPort: 8443}
        """)
    path = write(tmp_path, "svc.yaml", service)
    server.kubectl("-n", ns, "apply", "-f", path, version=V)
    write(tmp_path, "svc.yaml", service.replace("  - {name: http, port: 80, targetPort: 8080}\n", "")
          .replace("8443}", "9443}\n  - {name: metrics, port: 9090}"))
    assert server.kubectl("-n", ns, "apply", "-f", path, version=V).stdout == "service/s configured\n"
    ports = get_json(server, ns, "service", "s")["spec"]["ports"]
    assert ports == [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 9443},
                     {"name": "metrics", "port": 9090, "protocol": "TCP", "targetPort": 9090}]

    rolling = DEPLOYMENT.replace("  replicas: 2\n", "  replicas: 2\n  strategy:\n    type: RollingUpdate\n"
                                 "    rollingUpdate: {maxSurge: 1}\n")
    path = write(tmp_path, "dep.yaml", rolling)
    server.kubectl("-n", ns, "apply", "-f", path, version=V)
    assert get_json(server, ns, "deployment", "web")["spec"]["strategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}}
    write(tmp_path, "dep.yaml", DEPLOYMENT.replace("  replicas: 2\n", "  replicas: 2\n  strategy:\n"
                                                   "    type: Recreate\n"))
    server.kubectl("-n", ns, "apply", "-f", path, version=V)
    assert get_json(server, ns, "deployment", "web")["spec"]["strategy"] == {"type": "Recreate"}
