"""`kubectl patch` with strategic merge, JSON merge and JSON patches, on the main resource and subresources."""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.harness import Server

pytestmark = pytest.mark.integration

V = "1.32"

DEPLOYMENT = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
    spec:
      replicas: 1
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
            - {name: A, value: "1"}
            - {name: B, value: "2"}
          - name: log
            image: busybox:1.36
    """)


def deployment(server: Server, ns: str) -> dict:
    return json.loads(server.kubectl("-n", ns, "get", "deployment", "web", "-o", "json", version=V).stdout)


def containers(dep: dict) -> dict[str, dict]:
    return {c["name"]: c for c in dep["spec"]["template"]["spec"]["containers"]}


@pytest.fixture()
def web(server: Server, ns: str) -> dict:
    server.kubectl("-n", ns, "create", "-f", "-", input=DEPLOYMENT, version=V)
    return deployment(server, ns)


def test_strategic_merge_patch_merges_lists_by_key(server: Server, ns: str, web: dict) -> None:
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:1.26", "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]}]}}}}
    out = server.kubectl("-n", ns, "patch", "deployment", "web", "-p", json.dumps(patch), version=V).stdout
    assert out == "deployment.apps/web patched\n"
    dep = deployment(server, ns)
    c = containers(dep)
    assert set(c) == {"web", "log"}  # the other container is kept
    assert c["web"]["image"] == "nginx:1.26"
    assert c["web"]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "20"},
                               {"name": "C", "value": "3"}]
    assert dep["metadata"]["generation"] == web["metadata"]["generation"] + 1


def test_strategic_merge_patch_directives(server: Server, ns: str, web: dict) -> None:
    delete = {"spec": {"template": {"spec": {"containers": [{"name": "log", "$patch": "delete"}]}}}}
    server.kubectl("-n", ns, "patch", "deployment", "web", "-p", json.dumps(delete), version=V)
    assert list(containers(deployment(server, ns))) == ["web"]
    replace = {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "env": [{"name": "Z", "value": "26"}, {"$patch": "replace"}]}]}}}}
    server.kubectl("-n", ns, "patch", "deployment", "web", "-p", json.dumps(replace), version=V)
    assert containers(deployment(server, ns))["web"]["env"] == [{"name": "Z", "value": "26"}]
    server.kubectl("-n", ns, "patch", "deployment", "web", "-p",
                   '{"spec":{"template":{"metadata":{"labels":{"extra":null}}},"strategy":{"$retainKeys":["type"],'
                   '"type":"Recreate"}}}', version=V)
    assert deployment(server, ns)["spec"]["strategy"] == {"type": "Recreate"}


def test_merge_patch_replaces_lists(server: Server, ns: str, web: dict) -> None:
    patch = {"metadata": {"labels": {"team": "blue"}},
             "spec": {"template": {"spec": {"containers": [{"name": "only", "image": "nginx:1.27"}]}}}}
    out = server.kubectl("-n", ns, "patch", "deployment", "web", "--type=merge", "-p", json.dumps(patch),
                         version=V).stdout
    assert out == "deployment.apps/web patched\n"
    dep = deployment(server, ns)
    assert dep["metadata"]["labels"] == {"team": "blue"}
    c = containers(dep)
    assert list(c) == ["only"] and c["only"]["image"] == "nginx:1.27"
    assert c["only"]["imagePullPolicy"] == "IfNotPresent"  # defaults apply to the patched object
    server.kubectl("-n", ns, "patch", "deployment", "web", "--type=merge", "-p",
                   '{"metadata":{"labels":{"team":null}}}', version=V)
    assert "labels" not in deployment(server, ns)["metadata"]


def test_json_patch_operations(server: Server, ns: str, web: dict) -> None:
    ops = [
        {"op": "test", "path": "/spec/replicas", "value": 1},
        {"op": "replace", "path": "/spec/replicas", "value": 3},
        {"op": "add", "path": "/metadata/labels", "value": {"a": "b"}},
        {"op": "add", "path": "/spec/template/spec/containers/0/env/-", "value": {"name": "C", "value": "3"}},
        {"op": "remove", "path": "/spec/template/spec/containers/1"},
        {"op": "copy", "from": "/metadata/labels/a", "path": "/metadata/labels/c"},
        {"op": "move", "from": "/metadata/labels/a", "path": "/metadata/labels/moved"},
    ]
    out = server.kubectl("-n", ns, "patch", "deployment", "web", "--type=json", "-p", json.dumps(ops),
                         version=V).stdout
    assert out == "deployment.apps/web patched\n"
    dep = deployment(server, ns)
    assert dep["spec"]["replicas"] == 3
    assert dep["metadata"]["labels"] == {"c": "b", "moved": "b"}
    c = containers(dep)
    assert list(c) == ["web"] and [e["name"] for e in c["web"]["env"]] == ["A", "B", "C"]


@pytest.mark.parametrize("ops", [
    [{"op": "test", "path": "/spec/replicas", "value": 9}],
    [{"op": "remove", "path": "/spec/nothing"}],
    [{"op": "replace", "path": "/spec/template/spec/containers/5/image", "value": "x"}],
], ids=["failed-test", "missing-path", "bad-index"])
def test_json_patch_that_cannot_apply_is_invalid(server: Server, ns: str, web: dict, ops: list) -> None:
    p = server.kubectl("-n", ns, "patch", "deployment", "web", "--type=json", "-p", json.dumps(ops), version=V,
                       check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == "The request is invalid: the server rejected our request due to an error in our request"
    assert_unchanged(server, ns, web)


def assert_unchanged(server: Server, ns: str, before: dict) -> None:
    """Spec and generation as before (a deployment controller, if one runs, may still write status)."""
    after = deployment(server, ns)
    assert after["metadata"]["generation"] == before["metadata"]["generation"] and after["spec"] == before["spec"]


def test_patch_that_changes_nothing(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "create", "configmap", "cfg", "--from-literal=k=v", version=V)
    rv = server.kubectl("-n", ns, "get", "configmap", "cfg", "-o", "jsonpath={.metadata.resourceVersion}",
                        version=V).stdout
    for kind, body in (("strategic", '{"data":{"k":"v"}}'), ("merge", '{"data":{"k":"v"}}'),
                       ("json", '[{"op":"replace","path":"/data/k","value":"v"}]')):
        out = server.kubectl("-n", ns, "patch", "configmap", "cfg", f"--type={kind}", "-p", body, version=V).stdout
        assert out == "configmap/cfg patched (no change)\n"
    assert server.kubectl("-n", ns, "get", "configmap", "cfg", "-o", "jsonpath={.metadata.resourceVersion}",
                          version=V).stdout == rv  # nothing was written


def test_patch_producing_invalid_object(server: Server, ns: str, web: dict) -> None:
    p = server.kubectl("-n", ns, "patch", "deployment", "web", "-p",
                       '{"spec":{"selector":{"matchLabels":{"app":"other"}}}}', version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == (
        'The Deployment "web" is invalid: \n'
        '* spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: '
        "`selector` does not match template `labels`\n"
        '* spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"other"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable")
    p = server.kubectl("-n", ns, "patch", "deployment", "web", "--type=merge", "-p",
                       '{"spec":{"template":{"spec":{"containers":[]}}}}', version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == ('The Deployment "web" is invalid: spec.template.spec.containers: '
                                "Required value")
    assert_unchanged(server, ns, web)


def test_patch_unknown_field_warns(server: Server, ns: str, web: dict) -> None:
    p = server.kubectl("-n", ns, "patch", "deployment", "web", "--type=merge", "-p", '{"spec":{"foo":1}}', version=V)
    assert p.stderr.strip() == 'Warning: unknown field "spec.foo"'
    assert "foo" not in deployment(server, ns)["spec"]


def test_patch_scale_subresource(server: Server, ns: str, web: dict) -> None:
    out = server.kubectl("-n", ns, "patch", "deployment", "web", "--subresource=scale", "--type=merge", "-p",
                         '{"spec":{"replicas":4}}', version=V).stdout
    assert out == "scale.autoscaling/web patched\n"
    assert deployment(server, ns)["spec"]["replicas"] == 4


CRD = textwrap.dedent("""\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: gadgets.kubectl-patch.example.com
    spec:
      group: kubectl-patch.example.com
      scope: Namespaced
      names: {plural: gadgets, singular: gadget, kind: Gadget}
      versions:
      - name: v1
        served: true
        storage: true
        subresources: {status: {}}
        schema:
          openAPIV3Schema:
            type: object
            properties:
              spec:
                type: object
                properties:
                  size: {type: integer}
                  tags: {type: array, items: {type: string}}
              status:
                type: object
                properties:
                  phase: {type: string}
    """)


def test_patch_custom_resource_and_its_status(server: Server, ns: str) -> None:
    # No controller owns a custom resource: what the status subresource keeps is the server's doing alone.
    server.kubectl("apply", "-f", "-", input=CRD, version=V)
    server.kubectl("wait", "--for=condition=Established", "crd/gadgets.kubectl-patch.example.com", "--timeout=20s",
                   version=V)
    server.kubectl("-n", ns, "create", "-f", "-", version=V, input=(
        "apiVersion: kubectl-patch.example.com/v1\nkind: Gadget\nmetadata:\n  name: g\n"
        "spec:\n  size: 1\n  tags: [a, b]\n"))

    def gadget() -> dict:
        return json.loads(server.kubectl("-n", ns, "get", "gadget", "g", "-o", "json", version=V).stdout)

    out = server.kubectl("-n", ns, "patch", "gadget", "g", "--subresource=status", "--type=merge", "-p",
                         '{"status":{"phase":"Ready"},"spec":{"size":99}}', version=V).stdout
    assert out == "gadget.kubectl-patch.example.com/g patched\n"
    g = gadget()
    assert g["status"] == {"phase": "Ready"} and g["spec"]["size"] == 1  # status only
    server.kubectl("-n", ns, "patch", "gadget", "g", "--type=merge", "-p",
                   '{"spec":{"size":2,"tags":["c"]},"status":{"phase":"Lost"}}', version=V)
    g = gadget()
    assert g["spec"] == {"size": 2, "tags": ["c"]} and g["status"] == {"phase": "Ready"}  # spec only
    assert g["metadata"]["generation"] == 2
    server.kubectl("-n", ns, "patch", "gadget", "g", "--type=json", "-p",
                   '[{"op":"add","path":"/spec/tags/-","value":"d"}]', version=V)
    assert gadget()["spec"]["tags"] == ["c", "d"]
    # Custom resources have no strategic merge patch: their types carry no merge keys.
    p = server.kubectl("-n", ns, "patch", "gadget", "g", "--type=strategic", "-p", '{"spec":{"size":3}}', version=V,
                       check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == (
        "error: application/strategic-merge-patch+json is not supported by kubectl-patch.example.com/v1, "
        "Kind=Gadget: the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")


def test_patch_missing_object_and_dry_run(server: Server, ns: str, web: dict) -> None:
    p = server.kubectl("-n", ns, "patch", "deployment", "nope", "-p", '{"spec":{"replicas":2}}', version=V,
                       check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == 'Error from server (NotFound): deployments.apps "nope" not found'
    out = server.kubectl("-n", ns, "patch", "deployment", "web", "-p", '{"spec":{"replicas":5}}', "--dry-run=server",
                         "-o", "jsonpath={.spec.replicas}", version=V).stdout
    assert out == "5"
    assert deployment(server, ns)["spec"]["replicas"] == 1


def test_patch_service_ports_by_port_and_protocol(server: Server, ns: str) -> None:
    server.kubectl("-n", ns, "create", "service", "clusterip", "svc", "--tcp=80:8080", "--tcp=443:8443", version=V)
    patch = {"spec": {"ports": [{"port": 443, "protocol": "TCP", "targetPort": 9443}]}}
    server.kubectl("-n", ns, "patch", "service", "svc", "-p", json.dumps(patch), version=V)
    svc = json.loads(server.kubectl("-n", ns, "get", "service", "svc", "-o", "json", version=V).stdout)
    assert [(p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [(80, 8080), (443, 9443)]
