"""`kubectl create -f`: what a user sees when creating objects from manifests against pybernetes.

Every assertion is on what kubectl prints and on the object the server stored (read back with
`kubectl get -o json`), the way a user would check a real cluster.
"""

from __future__ import annotations

import json
import pathlib
import re
import textwrap

import pytest

from tests.harness import Server

pytestmark = pytest.mark.integration

V = "1.32"
SAMPLE_VERSIONS = ["1.32", "1.27", "1.30", "1.33"]

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
            ports:
            - containerPort: 80
    """)

CONFIGMAP = textwrap.dedent("""\
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: cfg
    data:
      a: "1"
    """)


def get_json(server: Server, ns: str, *what: str, version: str = V) -> dict:
    return json.loads(server.kubectl("-n", ns, "get", *what, "-o", "json", version=version).stdout)


def write(tmp_path: pathlib.Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("version", SAMPLE_VERSIONS)
def test_create_from_file_applies_server_defaults(server: Server, ns: str, tmp_path: pathlib.Path,
                                                  version: str) -> None:
    path = write(tmp_path, "app.yaml", DEPLOYMENT + "---\n" + CONFIGMAP)
    out = server.kubectl("-n", ns, "create", "-f", path, version=version)
    assert out.stdout == "deployment.apps/web created\nconfigmap/cfg created\n"

    dep = get_json(server, ns, "deployment", "web", version=version)
    meta = dep["metadata"]
    assert meta["namespace"] == ns and meta["generation"] == 1
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", meta["uid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"])
    assert int(meta["resourceVersion"]) > 0
    spec = dep["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    assert spec["revisionHistoryLimit"] == 10 and spec["progressDeadlineSeconds"] == 600
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Always" and pod["dnsPolicy"] == "ClusterFirst"
    assert pod["terminationGracePeriodSeconds"] == 30 and pod["schedulerName"] == "default-scheduler"
    container = pod["containers"][0]
    assert container["imagePullPolicy"] == "IfNotPresent"  # tagged image, not :latest
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert container["terminationMessagePath"] == "/dev/termination-log"

    cm = get_json(server, ns, "configmap", "cfg", version=version)
    assert cm["data"] == {"a": "1"}
    assert "generation" not in cm["metadata"]


def test_create_existing_object_is_already_exists(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "dep.yaml", DEPLOYMENT)
    server.kubectl("-n", ns, "create", "-f", path, version=V)
    p = server.kubectl("-n", ns, "create", "-f", path, version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == (f'Error from server (AlreadyExists): error when creating "{path}": '
                                'deployments.apps "web" already exists')


def test_create_from_stdin_with_generate_name(server: Server, ns: str) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: gen-\ndata:\n  k: v\n"
    names = set()
    for _ in range(2):
        out = server.kubectl("-n", ns, "create", "-f", "-", input=manifest, version=V).stdout
        m = re.fullmatch(r"configmap/(gen-[a-z0-9]{5}) created\n", out)
        assert m, out
        names.add(m.group(1))
    assert len(names) == 2
    listed = get_json(server, ns, "configmaps")["items"]
    assert {item["metadata"]["name"] for item in listed} >= names
    assert all(item["metadata"]["generateName"] == "gen-" for item in listed if item["metadata"]["name"] in names)


@pytest.mark.parametrize(("validate", "rc", "stderr"), [
    ("strict", 1, 'Error from server (BadRequest): error when creating "{path}": Deployment in version "v1" '
                  'cannot be handled as a Deployment: strict decoding error: unknown field "spec.foo"'),
    ("warn", 0, 'Warning: unknown field "spec.foo"'),
    ("false", 0, ""),
])
def test_create_unknown_field_follows_validate_flag(server: Server, ns: str, tmp_path: pathlib.Path,
                                                   validate: str, rc: int, stderr: str) -> None:
    path = write(tmp_path, "dep.yaml", DEPLOYMENT.replace("  replicas: 2\n", "  replicas: 2\n  foo: 1\n"))
    p = server.kubectl("-n", ns, "create", "-f", path, f"--validate={validate}", version=V, check=False)
    assert p.returncode == rc, p.stderr
    assert p.stderr.strip() == stderr.format(path=path)
    if rc == 0:
        assert p.stdout == "deployment.apps/web created\n"
        assert "foo" not in get_json(server, ns, "deployment", "web")["spec"]


def test_create_invalid_object_is_rejected_with_field_path(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "dep.yaml", DEPLOYMENT.replace("      labels: {app: web}\n    spec:\n      containers",
                                                          "      labels: {app: other}\n    spec:\n      containers"))
    p = server.kubectl("-n", ns, "create", "-f", path, version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == ('The Deployment "web" is invalid: spec.template.metadata.labels: Invalid value: '
                                'map[string]string{"app":"other"}: `selector` does not match template `labels`')
    assert server.kubectl("-n", ns, "get", "deployments", "-o", "name", version=V).stdout == ""


def test_create_invalid_name(server: Server, ns: str) -> None:
    p = server.kubectl("-n", ns, "create", "-f", "-", input=CONFIGMAP.replace("name: cfg", "name: Bad_Name"),
                       version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.startswith('The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
                               "a lowercase RFC 1123 subdomain must consist of")


def test_create_in_missing_namespace_is_not_found(server: Server, tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "cm.yaml", CONFIGMAP)
    p = server.kubectl("-n", "no-such-namespace", "create", "-f", path, version=V, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == (f'Error from server (NotFound): error when creating "{path}": '
                                'namespaces "no-such-namespace" not found')


def test_create_unknown_kind_is_reported_from_discovery(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "nope.yaml", "apiVersion: v1\nkind: Nope\nmetadata:\n  name: x\n")
    p = server.kubectl("-n", ns, "create", "-f", path, version=V, check=False)
    assert p.returncode == 1
    assert f'from "{path}": no matches for kind "Nope" in version "v1"' in p.stderr


def test_create_dry_run_server_stores_nothing(server: Server, ns: str, tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "cm.yaml", CONFIGMAP)
    out = server.kubectl("-n", ns, "create", "-f", path, "--dry-run=server", "-o", "json", version=V).stdout
    obj = json.loads(out)
    assert obj["metadata"]["name"] == "cfg" and obj["metadata"]["uid"]  # the server filled it in ...
    p = server.kubectl("-n", ns, "get", "configmap", "cfg", version=V, check=False)
    assert p.returncode == 1  # ... but did not store it
    assert p.stderr.strip() == 'Error from server (NotFound): configmaps "cfg" not found'
    out = server.kubectl("-n", ns, "create", "-f", path, "--dry-run=server", version=V).stdout
    assert out == "configmap/cfg created (server dry run)\n"


def test_create_output_yaml_shows_stored_object(server: Server, ns: str) -> None:
    import yaml

    out = server.kubectl("-n", ns, "create", "-f", "-", "-o", "yaml", input=CONFIGMAP, version=V).stdout
    obj = yaml.safe_load(out)
    stored = get_json(server, ns, "configmap", "cfg")
    assert obj["metadata"]["uid"] == stored["metadata"]["uid"]
    assert obj["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]


def test_create_cluster_scoped_object_ignores_namespace_flag(server: Server, ns: str) -> None:
    name = f"{ns}-reader"
    manifest = textwrap.dedent(f"""\
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata:
          name: {name}
        rules:
        - apiGroups: [""]
          resources: [pods]
          verbs: [get, list]
        """)
    out = server.kubectl("-n", ns, "create", "-f", "-", input=manifest, version=V).stdout
    assert out == f"clusterrole.rbac.authorization.k8s.io/{name} created\n"
    try:
        obj = json.loads(server.kubectl("get", "clusterrole", name, "-o", "json", version=V).stdout)
        assert "namespace" not in obj["metadata"]
        assert obj["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
    finally:
        server.kubectl("delete", "clusterrole", name, version=V)
